//! Type-checking an AST against the columns a condition can see, producing the IR that
//! `eval` runs. Every name is resolved to a column index here, once.

use std::ops::Range;

use crate::diag::did_you_mean;
pub use crate::model::{ColType, Measure, RfmCuts, TableKind};

use super::parse::{Ast, BinOp, Node};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Num,
    Str,
    Bool,
    Duration,
    List,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Num => "a number",
            Ty::Str => "text",
            Ty::Bool => "true/false",
            Ty::Duration => "a duration",
            Ty::List => "a list",
        }
    }
}

/// The columns of one table as a condition sees them. When the file is not at hand (`check`
/// without inputs) the schema is open: unknown names are accepted as text and reported.
#[derive(Debug, Clone)]
pub struct Schema {
    pub table: TableKind,
    pub fields: Vec<(String, ColType)>,
    pub open: bool,
    /// Names accepted only because the schema is open.
    pub assumed: Vec<String>,
    /// False when the run has no such file at all (`--transactions` left out): a name in it
    /// is an error saying so.
    pub given: bool,
}

impl Schema {
    pub fn new(table: TableKind, fields: Vec<(String, ColType)>, open: bool) -> Self {
        Self { table, fields, open, assumed: Vec::new(), given: true }
    }

    /// The schema of a file the run was not given: no columns, and errors that say so.
    pub fn not_given(table: TableKind) -> Self {
        Self { given: false, ..Self::new(table, Vec::new(), false) }
    }

    /// For a file not given: the error (message, hint) for a column `name` in it.
    pub fn not_given_error(&self, name: &str) -> Option<(String, String)> {
        (!self.given).then(|| {
            let table = self.table.name();
            (
                format!("`{name}` is a column of the {table}, but no {table} file was given"),
                format!("pass --{table} FILE, or leave {table} columns out of this dialogue"),
            )
        })
    }

    /// The closed schema of a loaded table: exactly its columns.
    pub fn of_table(t: &crate::input::Table) -> Self {
        Self::new(t.kind, t.names.iter().cloned().zip(t.types.iter().copied()).collect(), false)
    }
    /// Known not to have column `name` (a schema of a file that was read).
    pub fn lacks(&self, name: &str) -> bool {
        !self.open && !self.fields.iter().any(|(n, _)| n == name)
    }

    /// `spend` of a transactions file without `amount` would silently be 0: an error.
    pub fn measure_problem(&self, measure: Measure) -> Option<String> {
        (measure == Measure::Spend && self.table == TableKind::Transactions && self.given && self.lacks("amount"))
            .then(|| "spend sums the `amount` column, which the transactions file does not have".to_owned())
    }

    fn resolve(&mut self, name: &str) -> Option<(usize, ColType)> {
        if let Some(i) = self.fields.iter().position(|(n, _)| n == name) {
            return Some((i, self.fields[i].1));
        }
        if self.open {
            self.fields.push((name.to_owned(), ColType::Str));
            self.assumed.push(name.to_owned());
            return Some((self.fields.len() - 1, ColType::Str));
        }
        None
    }
}

/// Which row a field reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `event.x`: the event being handled.
    Event,
    /// a bare `x`: the row a filter is testing.
    Row,
    /// `customer.x`: the profile.
    Customer,
    /// `item.x`: the catalogue row an announcement is about (read from the context's event).
    Item,
}

/// What names mean where a condition is written.
pub struct Scopes<'s> {
    pub event: Option<&'s mut Schema>,
    pub row: Option<&'s mut Schema>,
    pub customer: &'s mut Schema,
    /// The catalogue's columns, where a catalogue row is at hand (an announcement).
    pub item: Option<&'s mut Schema>,
    pub transactions: &'s mut Schema,
    /// Why there is no event here (e.g. "an absence trigger fires on a timer").
    pub no_event_reason: &'static str,
    pub rfm: RfmCuts,
    /// The names of the facts dialogues remember (sorted), for `fact.NAME`.
    pub remembered: &'s [String],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Lower,
    Upper,
    Contains,
    StartsWith,
    EndsWith,
    Number,
    Abs,
    Round,
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    DaysSinceLastPurchase,
    DaysSinceFirstPurchase,
    MedianGapDays,
    /// RFM scores 1-5 (5 best) and the combined R*100 + F*10 + M.
    Recency,
    Frequency,
    Monetary,
    Rfm,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ir {
    Num(f64),
    Str(Box<str>),
    Bool(bool),
    Field {
        scope: Scope,
        col: usize,
        ty: ColType,
    },
    Hist {
        measure: Measure,
        window: Option<i64>,
        filter: Option<Box<Ir>>,
    },
    Events {
        kind: Box<str>,
        window: Option<i64>,
    },
    Fact(Fact),
    /// `fact.NAME`: a fact a dialogue remembered, by index into the plan's fact names.
    Remembered(usize),
    Rfm(Fact, Box<RfmCuts>),
    Call(Func, Vec<Ir>),
    Not(Box<Ir>),
    Neg(Box<Ir>),
    And(Box<Ir>, Box<Ir>),
    Or(Box<Ir>, Box<Ir>),
    Cmp(BinOp, Box<Ir>, Box<Ir>),
    Arith(BinOp, Box<Ir>, Box<Ir>),
    InNum(Box<Ir>, Vec<f64>, bool),
    InStr(Box<Ir>, Vec<Box<str>>, bool),
    /// `x in y` with `y` text: `x` is one of `y`'s `|`-separated items (trimmed), e.g.
    /// `customer.favourite_author in item.authors`.
    InText(Box<Ir>, Box<Ir>, bool),
}

impl Ir {
    /// Does any node of this expression (itself included, filters of history functions too)
    /// satisfy `pred`? Iterative: conditions can be deep.
    pub fn any(&self, mut pred: impl FnMut(&Ir) -> bool) -> bool {
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            if pred(n) {
                return true;
            }
            match n {
                Ir::Call(_, args) => stack.extend(args),
                Ir::Not(x) | Ir::Neg(x) => stack.push(x),
                Ir::And(a, b) | Ir::Or(a, b) | Ir::Cmp(_, a, b) | Ir::Arith(_, a, b) | Ir::InText(a, b, _) => {
                    stack.extend([&**a, &**b])
                }
                Ir::InNum(v, _, _) | Ir::InStr(v, _, _) => stack.push(v),
                Ir::Hist { filter: Some(f), .. } => stack.push(f),
                Ir::Num(_)
                | Ir::Str(_)
                | Ir::Bool(_)
                | Ir::Field { .. }
                | Ir::Hist { filter: None, .. }
                | Ir::Events { .. }
                | Ir::Fact(_)
                | Ir::Remembered(_)
                | Ir::Rfm(..) => {}
            }
        }
        false
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub span: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

fn err(span: &Range<usize>, message: impl Into<String>) -> CompileError {
    CompileError { span: span.clone(), message: message.into(), hint: None }
}

const FUNCTIONS: &[&str] = &[
    "purchases",
    "orders",
    "spend",
    "units",
    "events",
    "days_since_last_purchase",
    "days_since_first_purchase",
    "median_gap_days",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "rfm",
    "lower",
    "upper",
    "contains",
    "starts_with",
    "ends_with",
    "number",
    "abs",
    "round",
    "min",
    "max",
];

/// Compile a condition that must be true/false.
pub fn compile(node: &Node, scopes: &mut Scopes<'_>) -> Result<Ir, CompileError> {
    let (ir, ty) = Compiler { scopes }.expr(node)?;
    if ty != Ty::Bool {
        return Err(CompileError {
            span: node.span.clone(),
            message: format!("a condition must be true or false, but this is {}", ty.name()),
            hint: Some("compare it with something, e.g. `spend(365d) > 500`".to_owned()),
        });
    }
    Ok(ir)
}

/// Compile an expression of any type (a value to remember, not a condition).
pub fn compile_value(node: &Node, scopes: &mut Scopes<'_>) -> Result<Ir, CompileError> {
    Ok(Compiler { scopes }.expr(node)?.0)
}

struct Compiler<'a, 's> {
    scopes: &'a mut Scopes<'s>,
}

impl Compiler<'_, '_> {
    fn expr(&mut self, n: &Node) -> Result<(Ir, Ty), CompileError> {
        Ok(match &n.ast {
            Ast::Num(v) => (Ir::Num(*v), Ty::Num),
            Ast::Str(s) => (Ir::Str(s.as_str().into()), Ty::Str),
            Ast::Bool(b) => (Ir::Bool(*b), Ty::Bool),
            Ast::Duration(_) => {
                return Err(err(&n.span, "a duration is only allowed as the window of a history function").with_hint(
                    "write e.g. `spend(90d)`; to compare a number of days use a plain number: `days_since_last_purchase() > 90`",
                ))
            }
            Ast::List(_) => {
                return Err(err(&n.span, "a list is only allowed after `in`").with_hint("e.g. `category in [\"baby\", \"toys\"]`"))
            }
            Ast::Path(path) => self.path(n, path)?,
            Ast::Call(name, args) => self.call(n, name, args)?,
            Ast::Not(x) => (Ir::Not(Box::new(self.typed(x, Ty::Bool, "`not`")?)), Ty::Bool),
            Ast::Neg(x) => (Ir::Neg(Box::new(self.typed(x, Ty::Num, "`-`")?)), Ty::Num),
            Ast::Binary(op, l, r) => self.binary(*op, l, r)?,
            Ast::In { value, list, negated } => self.in_list(value, list, *negated)?,
        })
    }

    fn typed(&mut self, n: &Node, want: Ty, what: &str) -> Result<Ir, CompileError> {
        let (ir, ty) = self.expr(n)?;
        if ty != want {
            return Err(err(&n.span, format!("{what} needs {}, but this is {}", want.name(), ty.name())));
        }
        Ok(ir)
    }

    fn binary(&mut self, op: BinOp, l: &Node, r: &Node) -> Result<(Ir, Ty), CompileError> {
        match op {
            BinOp::And | BinOp::Or => {
                let what = format!("`{}`", op.symbol());
                let a = Box::new(self.typed(l, Ty::Bool, &what)?);
                let b = Box::new(self.typed(r, Ty::Bool, &what)?);
                Ok((if op == BinOp::And { Ir::And(a, b) } else { Ir::Or(a, b) }, Ty::Bool))
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let what = format!("`{}`", op.symbol());
                let a = self.typed(l, Ty::Num, &what)?;
                let b = self.typed(r, Ty::Num, &what)?;
                Ok((Ir::Arith(op, Box::new(a), Box::new(b)), Ty::Num))
            }
            _ => {
                let (a, ta) = self.expr(l)?;
                let (b, tb) = self.expr(r)?;
                let ordered = !matches!(op, BinOp::Eq | BinOp::Ne);
                let ok = ta == tb && matches!(ta, Ty::Num | Ty::Str | Ty::Bool) && !(ordered && ta == Ty::Bool);
                if !ok {
                    let mut e = err(
                        &(l.span.start..r.span.end),
                        format!("cannot compare {} with {} using `{}`", ta.name(), tb.name(), op.symbol()),
                    );
                    if (ta, tb) == (Ty::Str, Ty::Num) || (ta, tb) == (Ty::Num, Ty::Str) {
                        e.hint = Some(
                            "declare the column as a number under `fields:` in kairos.yaml, or convert it with `number(x)`"
                                .to_owned(),
                        );
                    }
                    return Err(e);
                }
                Ok((Ir::Cmp(op, Box::new(a), Box::new(b)), Ty::Bool))
            }
        }
    }

    fn in_list(&mut self, value: &Node, list: &Node, negated: bool) -> Result<(Ir, Ty), CompileError> {
        let (v, ty) = self.expr(value)?;
        let Ast::List(items) = &list.ast else {
            // Text holding a list (`"a|b"`): a column of several values.
            let (hay, hty) = self.expr(list)?;
            if ty == Ty::Str && hty == Ty::Str {
                return Ok((Ir::InText(Box::new(v), Box::new(hay), negated), Ty::Bool));
            }
            return Err(err(
                &list.span,
                "`in` needs a list such as [\"a\", \"b\"], or text holding `|`-separated items",
            )
            .with_hint("`x in item.authors` tests whether text x is one of the column's `a|b|c` items"));
        };
        match ty {
            Ty::Str => {
                let mut out = Vec::new();
                for it in items {
                    match &it.ast {
                        Ast::Str(s) => out.push(s.as_str().into()),
                        _ => {
                            return Err(err(
                                &it.span,
                                "this list holds text, so every item must be a \"quoted\" string",
                            ))
                        }
                    }
                }
                Ok((Ir::InStr(Box::new(v), out, negated), Ty::Bool))
            }
            Ty::Num => {
                let mut out = Vec::new();
                for it in items {
                    match &it.ast {
                        Ast::Num(x) => out.push(*x),
                        Ast::Neg(inner) if matches!(inner.ast, Ast::Num(_)) => {
                            if let Ast::Num(x) = inner.ast {
                                out.push(-x);
                            }
                        }
                        _ => return Err(err(&it.span, "this list holds numbers, so every item must be a number")),
                    }
                }
                Ok((Ir::InNum(Box::new(v), out, negated), Ty::Bool))
            }
            other => Err(err(&value.span, format!("`in` works on text or numbers, not {}", other.name()))),
        }
    }

    fn path(&mut self, n: &Node, path: &[String]) -> Result<(Ir, Ty), CompileError> {
        let (scope, name) = match path {
            [name] => (Scope::Row, name.as_str()),
            [scope, name] if scope == "event" => (Scope::Event, name.as_str()),
            [scope, name] if scope == "customer" => (Scope::Customer, name.as_str()),
            [scope, name] if scope == "item" => (Scope::Item, name.as_str()),
            [scope, name] if scope == "fact" => {
                return match self.scopes.remembered.binary_search(name) {
                    Ok(i) => Ok((Ir::Remembered(i), Ty::Str)),
                    Err(_) => {
                        let hint = did_you_mean(name, self.scopes.remembered.iter().map(String::as_str)).map_or_else(
                            || "facts are set with `remember:` on a step or an answer branch".to_owned(),
                            |s| format!("did you mean `fact.{s}`?"),
                        );
                        Err(err(&n.span, format!("no dialogue remembers `{name}`")).with_hint(hint))
                    }
                };
            }
            [scope, ..] => {
                return Err(err(&n.span, format!("unknown name `{}`", path.join("."))).with_hint(format!(
                    "fields are written `event.NAME`, `customer.NAME`, `item.NAME` or `fact.NAME`, not `{scope}.…`"
                )))
            }
            [] => return Err(err(&n.span, "empty name")),
        };
        let schema: &mut Schema = match scope {
            Scope::Customer => self.scopes.customer,
            Scope::Event => match self.scopes.event.as_deref_mut() {
                Some(s) => s,
                None => {
                    return Err(err(
                        &n.span,
                        format!("`event.{name}` has no event to read here: {}", self.scopes.no_event_reason),
                    )
                    .with_hint("use history functions such as `spend(365d)` or `customer.FIELD` instead"))
                }
            },
            Scope::Item => match self.scopes.item.as_deref_mut() {
                Some(s) => s,
                None => {
                    return Err(err(&n.span, format!("`item.{name}` has no catalogue row to read here"))
                        .with_hint("`item.*` is known in a dialogue started by an `announcement:` trigger"))
                }
            },
            Scope::Row => match self.scopes.row.as_deref_mut() {
                Some(s) => s,
                None => {
                    let hint = if FUNCTIONS.contains(&name) {
                        format!("`{name}` is a function: write `{name}()`")
                    } else {
                        format!("write `event.{name}` or `customer.{name}`")
                    };
                    return Err(err(&n.span, format!("unknown name `{name}`")).with_hint(hint));
                }
            },
        };
        match schema.resolve(name) {
            Some((col, ty)) => {
                let t = if ty == ColType::Num { Ty::Num } else { Ty::Str };
                Ok((Ir::Field { scope, col, ty }, t))
            }
            None => {
                if let Some((message, hint)) = schema.not_given_error(name) {
                    return Err(err(&n.span, message).with_hint(hint));
                }
                let table = schema.table.name();
                let hint = did_you_mean(name, schema.fields.iter().map(|(f, _)| f.as_str()))
                    .map(|s| format!("did you mean `{s}`?"))
                    .or_else(|| {
                        let list: Vec<&str> = schema.fields.iter().map(|(f, _)| f.as_str()).collect();
                        Some(format!(
                            "the {table} columns are: {}",
                            if list.is_empty() { "(none)".to_owned() } else { list.join(", ") }
                        ))
                    });
                Err(CompileError {
                    span: n.span.clone(),
                    message: format!("unknown field `{name}` in the {table} data"),
                    hint,
                })
            }
        }
    }

    fn call(&mut self, n: &Node, name: &str, args: &[Node]) -> Result<(Ir, Ty), CompileError> {
        let arity = |lo: usize, hi: usize| -> Result<(), CompileError> {
            if args.len() < lo || args.len() > hi {
                let want = if lo == hi { format!("{lo}") } else { format!("{lo} to {hi}") };
                return Err(err(&n.span, format!("`{name}` takes {want} argument(s), got {}", args.len())));
            }
            Ok(())
        };
        let mut measure = match name {
            "purchases" => Some(Measure::Purchases),
            "orders" => Some(Measure::Orders),
            "spend" => Some(Measure::Spend),
            "units" => Some(Measure::Units),
            _ => None,
        };
        let mut args = args;
        if name == "sum" {
            // `sum(COLUMN, window?, filter?)`: a numeric transactions column, summed like spend.
            let first = args.first().ok_or_else(|| {
                err(&n.span, "`sum` takes a transactions column first, e.g. `sum(tier_credits, 365d)`")
            })?;
            let Ast::Path(p) = &first.ast else {
                return Err(err(
                    &first.span,
                    "the first argument of `sum` is a numeric transactions column, e.g. `sum(tier_credits, 365d)`",
                ));
            };
            let col = match p.as_slice() {
                [c] => c.as_str(),
                _ => {
                    return Err(err(&first.span, "name the transactions column alone, e.g. `sum(tier_credits)`"));
                }
            };
            let m = column_measure(self.scopes.transactions, col).map_err(|(message, hint)| CompileError {
                span: first.span.clone(),
                message,
                hint,
            })?;
            measure = Some(m);
            args = &args[1..];
            if args.len() > 2 {
                return Err(err(&n.span, format!("`sum` takes 1 to 3 argument(s), got {}", args.len() + 1)));
            }
        }
        if let Some(measure) = measure {
            if name != "sum" {
                arity(0, 2)?;
            }
            // (An empty schema is a filter's: history functions inside one are refused below.)
            if !self.scopes.transactions.fields.is_empty() {
                if let Some(m) = self.scopes.transactions.measure_problem(measure) {
                    return Err(err(&n.span, m));
                }
            }
            let mut window = None;
            let mut filter = None;
            for a in args {
                if let Ast::Duration(s) = a.ast {
                    if window.is_some() || filter.is_some() {
                        return Err(err(
                            &a.span,
                            "the window comes first and only once: e.g. `spend(90d, category == \"wine\")`",
                        ));
                    }
                    window = Some(s);
                } else {
                    if filter.is_some() {
                        return Err(err(&a.span, "only one filter is allowed; combine conditions with `and`"));
                    }
                    filter = Some(Box::new(self.filter(a)?));
                }
            }
            return Ok((Ir::Hist { measure, window, filter }, Ty::Num));
        }
        let fact = match name {
            "days_since_last_purchase" => Some(Fact::DaysSinceLastPurchase),
            "days_since_first_purchase" => Some(Fact::DaysSinceFirstPurchase),
            "median_gap_days" => Some(Fact::MedianGapDays),
            "rfm_recency" => Some(Fact::Recency),
            "rfm_frequency" => Some(Fact::Frequency),
            "rfm_monetary" => Some(Fact::Monetary),
            "rfm" => Some(Fact::Rfm),
            _ => None,
        };
        if let Some(f) = fact {
            arity(0, 0)?;
            if matches!(f, Fact::Recency | Fact::Frequency | Fact::Monetary | Fact::Rfm) {
                return Ok((Ir::Rfm(f, Box::new(self.scopes.rfm.clone())), Ty::Num));
            }
            return Ok((Ir::Fact(f), Ty::Num));
        }
        if name == "events" {
            arity(1, 2)?;
            let Ast::Str(kind) = &args[0].ast else {
                return Err(err(
                    &args[0].span,
                    "the first argument of `events` is an event type in quotes, e.g. events(\"complaint\", 90d)",
                ));
            };
            let window = match args.get(1).map(|a| (&a.ast, &a.span)) {
                None => None,
                Some((Ast::Duration(s), _)) => Some(*s),
                Some((_, span)) => return Err(err(span, "the second argument of `events` is a window such as 90d")),
            };
            return Ok((Ir::Events { kind: kind.as_str().into(), window }, Ty::Num));
        }
        let (func, params, ret): (Func, &[Ty], Ty) = match name {
            "lower" => (Func::Lower, &[Ty::Str], Ty::Str),
            "upper" => (Func::Upper, &[Ty::Str], Ty::Str),
            "contains" => (Func::Contains, &[Ty::Str, Ty::Str], Ty::Bool),
            "starts_with" => (Func::StartsWith, &[Ty::Str, Ty::Str], Ty::Bool),
            "ends_with" => (Func::EndsWith, &[Ty::Str, Ty::Str], Ty::Bool),
            "abs" => (Func::Abs, &[Ty::Num], Ty::Num),
            "round" => (Func::Round, &[Ty::Num], Ty::Num),
            "min" => (Func::Min, &[Ty::Num, Ty::Num], Ty::Num),
            "max" => (Func::Max, &[Ty::Num, Ty::Num], Ty::Num),
            "number" => {
                arity(1, 1)?;
                let (ir, _) = self.expr(&args[0])?;
                return Ok((Ir::Call(Func::Number, vec![ir]), Ty::Num));
            }
            _ => {
                let hint = did_you_mean(name, FUNCTIONS.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("the functions are: {}", FUNCTIONS.join(", ")));
                return Err(err(&n.span, format!("unknown function `{name}`")).with_hint(hint));
            }
        };
        arity(params.len(), params.len())?;
        let mut out = Vec::new();
        for (a, want) in args.iter().zip(params) {
            out.push(self.typed(a, *want, &format!("`{name}`"))?);
        }
        Ok((Ir::Call(func, out), ret))
    }

    /// A history filter: bare names are columns of each past purchase.
    fn filter(&mut self, a: &Node) -> Result<Ir, CompileError> {
        // History functions inside a filter make no sense; give them nothing to resolve.
        let mut nested = Schema::new(TableKind::Transactions, Vec::new(), false);
        let mut inner = Scopes {
            event: self.scopes.event.as_deref_mut(),
            row: Some(&mut *self.scopes.transactions),
            customer: &mut *self.scopes.customer,
            item: self.scopes.item.as_deref_mut(),
            transactions: &mut nested,
            no_event_reason: self.scopes.no_event_reason,
            rfm: self.scopes.rfm.clone(),
            remembered: self.scopes.remembered,
        };
        let ir = {
            let mut c = Compiler { scopes: &mut inner };
            let (ir, ty) = c.expr(a)?;
            if ty != Ty::Bool {
                return Err(err(&a.span, format!("a history filter must be true or false, but this is {}", ty.name()))
                    .with_hint("e.g. `spend(365d, category == \"wine\")`"));
            }
            ir
        };
        Ok(ir)
    }
}

/// A measure by name: `spend`, `orders`, `purchases`, `units`, or the name of a numeric
/// transactions column (summed exactly, like spend). The error is a message and a hint.
pub fn measure_by_name(tx: &mut Schema, name: &str) -> Result<Measure, (String, Option<String>)> {
    use crate::model::Closed;
    let builtin = match Measure::parse(name) {
        Ok(m) => return Ok(m),
        Err(e) => e,
    };
    let known = tx.fields.iter().any(|(f, _)| f == name);
    // Without the input files, an unknown name is taken for a column, unless it is close to
    // a built-in (`spnd`).
    let typo = did_you_mean(name, Measure::NAMES.iter().map(|(n, _)| *n)).is_some();
    match known || ((tx.open || !tx.given) && !typo) {
        true => column_measure(tx, name),
        false => {
            let numeric: Vec<&str> =
                tx.fields.iter().filter(|(_, t)| *t == ColType::Num).map(|(f, _)| f.as_str()).collect();
            let names = Measure::NAMES.iter().map(|(n, _)| *n).chain(numeric.iter().copied());
            let hint = match did_you_mean(name, names) {
                Some(x) => format!("did you mean `{x}`?"),
                None => format!(
                    "a measure is one of: {}, or a numeric column of the transactions{}",
                    Measure::list(),
                    if numeric.is_empty() { String::new() } else { format!(" ({})", numeric.join(", ")) }
                ),
            };
            Err((builtin.message, Some(hint)))
        }
    }
}

/// A numeric transactions column as a measure. With an open schema (no input files at hand),
/// an unknown name is assumed to be a numeric column.
pub fn column_measure(tx: &mut Schema, name: &str) -> Result<Measure, (String, Option<String>)> {
    match tx.fields.iter().position(|(f, _)| f == name) {
        Some(i) if tx.fields[i].1 == ColType::Num => Ok(Measure::Column(i)),
        Some(_) => Err((
            format!("column `{name}` of the transactions holds text, not numbers, so it cannot be summed"),
            Some(format!("declare it a number in kairos.yaml: `fields: {{transactions: {{{name}: number}}}}`")),
        )),
        None if tx.open => {
            tx.fields.push((name.to_owned(), ColType::Num));
            tx.assumed.push(name.to_owned());
            Ok(Measure::Column(tx.fields.len() - 1))
        }
        None => {
            if let Some((message, hint)) = tx.not_given_error(name) {
                return Err((message, Some(hint)));
            }
            let numeric: Vec<&str> =
                tx.fields.iter().filter(|(_, t)| *t == ColType::Num).map(|(f, _)| f.as_str()).collect();
            let hint = did_you_mean(name, tx.fields.iter().map(|(f, _)| f.as_str()))
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "the numeric transactions columns are: {}",
                        if numeric.is_empty() { "(none)".to_owned() } else { numeric.join(", ") }
                    )
                });
            Err((format!("unknown column `{name}` in the transactions data"), Some(hint)))
        }
    }
}

impl CompileError {
    fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    fn schemas() -> (Schema, Schema, Schema) {
        let tx = Schema::new(
            TableKind::Transactions,
            vec![("category".into(), ColType::Str), ("amount".into(), ColType::Num)],
            false,
        );
        let cu = Schema::new(TableKind::Customers, vec![("tier".into(), ColType::Str)], false);
        let ev = tx.clone();
        (tx, cu, ev)
    }

    fn try_compile(src: &str) -> Result<Ir, CompileError> {
        let (mut tx, mut cu, mut ev) = schemas();
        let mut scopes = Scopes {
            event: Some(&mut ev),
            row: None,
            customer: &mut cu,
            item: None,
            transactions: &mut tx,
            no_event_reason: "",
            rfm: RfmCuts::default(),
            remembered: &[],
        };
        compile(&parse(src).unwrap(), &mut scopes)
    }

    #[test]
    fn any_reaches_every_nested_node() {
        let ir =
            try_compile("not (event.category in lower(customer.tier)) and spend(365d, category == customer.tier) > 1")
                .unwrap();
        let fields = |scope| {
            let mut n = 0;
            ir.any(|x| {
                n += usize::from(matches!(x, Ir::Field { scope: s, .. } if *s == scope));
                false
            });
            n
        };
        // Inside `not`, `in` over text, a call, and a history function's filter.
        assert_eq!(fields(Scope::Event), 1);
        assert_eq!(fields(Scope::Customer), 2);
        assert_eq!(fields(Scope::Row), 1);
        assert!(ir.any(|x| matches!(x, Ir::Hist { .. })));
        assert!(!ir.any(|x| matches!(x, Ir::Remembered(_))));
    }

    #[test]
    fn accepts_well_typed() {
        try_compile("spend(365d, category == \"wine\") > 100 and customer.tier in [\"gold\"]").unwrap();
        try_compile("event.amount * 2 >= min(3, abs(-4)) or lower(event.category) == \"baby\"").unwrap();
        try_compile("events(\"complaint\", 30d) == 0").unwrap();
        try_compile("rfm() >= 444 and rfm_recency() == 5").unwrap();
    }

    #[test]
    fn rejects_with_spans_and_hints() {
        let e = try_compile("customer.teir == \"gold\"").unwrap_err();
        assert_eq!(e.span, 0..13);
        assert_eq!(e.hint.as_deref(), Some("did you mean `tier`?"));
        let e = try_compile("event.category > 3").unwrap_err();
        assert!(e.message.contains("cannot compare text with a number"), "{}", e.message);
        let e = try_compile("spend(365d)").unwrap_err();
        assert!(e.message.contains("true or false"), "{}", e.message);
        let e = try_compile("spnd() > 1").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `spend`?"));
        let e = try_compile("category == \"x\"").unwrap_err();
        assert!(e.hint.unwrap().contains("event.category"));
        let e = try_compile("days_since_last_purchase() > 90d").unwrap_err();
        assert!(e.message.contains("duration"));
    }
}
