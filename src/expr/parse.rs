//! Parser for the condition language (winnow): text to an AST whose nodes carry byte spans,
//! so type errors can point at the exact characters in the YAML file.

use std::ops::Range;

use winnow::ascii::multispace0;

use crate::model::Duration;
use winnow::combinator::{alt, cut_err, delimited, eof, not, opt, preceded, separated, terminated};
use winnow::error::{AddContext, ContextError, ErrMode, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location, Stream};
use winnow::token::{any, literal, one_of, take_while};

type Input<'a> = LocatingSlice<&'a str>;
type PResult<T> = ModalResult<T>;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub ast: Ast,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Num(f64),
    Str(String),
    Bool(bool),
    /// A duration literal such as `90d`, in seconds.
    Duration(i64),
    List(Vec<Node>),
    /// `name` or `scope.name`
    Path(Vec<String>),
    Call(String, Vec<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    In {
        value: Box<Node>,
        list: Box<Node>,
        negated: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

/// The longest condition accepted, in bytes.
pub const MAX_LEN: usize = 4096;
/// The deepest nesting of brackets and parentheses accepted.
pub const MAX_BRACKETS: usize = 32;
/// The deepest expression tree accepted (a chain of 100 `or`s is 100 deep). Parsing, type
/// checking and evaluation all recurse over the tree, so this bounds their stack use.
pub const MAX_DEPTH: usize = 100;

/// Refuse conditions too long or too deeply nested before parsing them, so no input can
/// exhaust the stack of the parser (as rustc and CEL bound their expressions).
fn check_bounds(src: &str) -> Result<(), ParseError> {
    if src.len() > MAX_LEN {
        return Err(ParseError {
            offset: MAX_LEN,
            message: format!("this condition is {} bytes long; at most {MAX_LEN} are allowed", src.len()),
        });
    }
    let (mut depth, mut quote) = (0usize, None);
    let mut escaped = false;
    // A run of prefix operators (`not not -x`) recurses once per operator while parsing.
    let (mut run, mut after_value) = (0usize, false);
    let bytes = src.as_bytes();
    let mut word_end = 0;
    for (i, c) in src.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
                after_value = true;
            }
            continue;
        }
        if i < word_end || c.is_whitespace() {
            continue;
        }
        let mut prefix = false;
        match c {
            '"' | '\'' => {
                quote = Some(c);
                run = 0;
            }
            '(' | '[' => {
                depth += 1;
                if depth > MAX_BRACKETS {
                    return Err(ParseError {
                        offset: i,
                        message: format!("brackets nest more than {MAX_BRACKETS} levels deep here"),
                    });
                }
                after_value = false;
            }
            ')' | ']' => {
                depth = depth.saturating_sub(1);
                after_value = true;
            }
            '!' if bytes.get(i + 1) != Some(&b'=') => prefix = true,
            '-' if !after_value => prefix = true,
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                let end = src[i..]
                    .find(|x: char| !(x.is_ascii_alphanumeric() || x == '_' || x == '.'))
                    .map_or(src.len(), |k| i + k);
                word_end = end;
                match &src[i..end] {
                    "not" if !after_value => prefix = true,
                    "and" | "or" | "not" | "in" => after_value = false,
                    _ => {
                        after_value = true;
                        run = 0;
                    }
                }
            }
            _ => after_value = false,
        }
        if prefix {
            run += 1;
            after_value = false;
            if run > MAX_DEPTH {
                return Err(ParseError {
                    offset: i,
                    message: format!("more than {MAX_DEPTH} `not`/`!`/`-` in a row here"),
                });
            }
        }
    }
    Ok(())
}

/// The depth of a parsed tree, without recursion; the first node past `MAX_DEPTH` is returned.
fn too_deep(root: &Node) -> Option<&Node> {
    let mut stack = vec![(root, 1usize)];
    while let Some((n, d)) = stack.pop() {
        if d > MAX_DEPTH {
            return Some(n);
        }
        match &n.ast {
            Ast::List(items) | Ast::Call(_, items) => stack.extend(items.iter().map(|c| (c, d + 1))),
            Ast::Not(x) | Ast::Neg(x) => stack.push((x, d + 1)),
            Ast::Binary(_, l, r) => stack.extend([(&**l, d + 1), (&**r, d + 1)]),
            Ast::In { value, list, .. } => stack.extend([(&**value, d + 1), (&**list, d + 1)]),
            Ast::Num(_) | Ast::Str(_) | Ast::Bool(_) | Ast::Duration(_) | Ast::Path(_) => {}
        }
    }
    None
}

pub fn parse(src: &str) -> Result<Node, ParseError> {
    check_bounds(src)?;
    let node = parse_unbounded(src)?;
    if let Some(n) = too_deep(&node) {
        return Err(ParseError {
            offset: n.span.start,
            message: format!(
                "this condition nests more than {MAX_DEPTH} levels deep (a long chain of operators counts one level per operator); split it or use `in [...]`"
            ),
        });
    }
    Ok(node)
}

fn parse_unbounded(src: &str) -> Result<Node, ParseError> {
    let input = LocatingSlice::new(src);
    delimited(multispace0, expr, (multispace0, eof.context(expected("an operator or the end of the condition"))))
        .parse(input)
        .map_err(|e| {
            let ctx = e.inner();
            let mut wanted: Vec<String> = ctx
                .context()
                .filter_map(|c| match c {
                    StrContext::Expected(v) => Some(v.to_string()),
                    _ => None,
                })
                .collect();
            wanted.dedup();
            let offset = e.offset();
            let found = src[offset..].chars().next().map_or_else(|| "the end".to_owned(), |c| format!("`{c}`"));
            let message = if wanted.iter().any(|w| w == EQ_HINT) {
                format!("use {EQ_HINT}")
            } else if wanted.is_empty() {
                format!("cannot read the condition here (found {found})")
            } else {
                format!("expected {}, found {found}", wanted.join(" or "))
            };
            ParseError { offset, message }
        })
}

const EQ_HINT: &str = "`==` to compare (a single `=` is not an operator)";

fn expected(what: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(what))
}

fn ws(i: &mut Input<'_>) -> PResult<()> {
    multispace0.void().parse_next(i)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn keyword<'a>(kw: &'static str) -> impl Parser<Input<'a>, &'a str, ErrMode<ContextError>> {
    terminated(literal(kw), not(one_of(is_ident_char)))
}

fn node(ast: Ast, start: usize, i: &Input<'_>) -> Node {
    Node { ast, span: start..i.previous_token_end() }
}

fn binary(op: BinOp, l: Node, r: Node) -> Node {
    let span = l.span.start..r.span.end;
    Node { ast: Ast::Binary(op, Box::new(l), Box::new(r)), span }
}

fn expr(i: &mut Input<'_>) -> PResult<Node> {
    let mut lhs = and_expr(i)?;
    loop {
        let cp = i.checkpoint();
        ws(i)?;
        if opt(alt((keyword("or"), literal("||")))).parse_next(i)?.is_some() {
            ws(i)?;
            let rhs = cut_err(and_expr).parse_next(i)?;
            lhs = binary(BinOp::Or, lhs, rhs);
        } else {
            i.reset(&cp);
            return Ok(lhs);
        }
    }
}

fn and_expr(i: &mut Input<'_>) -> PResult<Node> {
    let mut lhs = not_expr(i)?;
    loop {
        let cp = i.checkpoint();
        ws(i)?;
        if opt(alt((keyword("and"), literal("&&")))).parse_next(i)?.is_some() {
            ws(i)?;
            let rhs = cut_err(not_expr).parse_next(i)?;
            lhs = binary(BinOp::And, lhs, rhs);
        } else {
            i.reset(&cp);
            return Ok(lhs);
        }
    }
}

fn not_expr(i: &mut Input<'_>) -> PResult<Node> {
    let start = i.current_token_start();
    if opt(alt((keyword("not"), terminated(literal("!"), not(literal("=")))))).parse_next(i)?.is_some() {
        ws(i)?;
        let inner = cut_err(not_expr).parse_next(i)?;
        return Ok(node(Ast::Not(Box::new(inner)), start, i));
    }
    comparison(i)
}

fn comparison(i: &mut Input<'_>) -> PResult<Node> {
    let lhs = additive(i)?;
    let cp = i.checkpoint();
    ws(i)?;
    let op = opt(alt((
        literal("==").value(BinOp::Eq),
        literal("!=").value(BinOp::Ne),
        literal("<=").value(BinOp::Le),
        literal(">=").value(BinOp::Ge),
        literal("<").value(BinOp::Lt),
        literal(">").value(BinOp::Gt),
    )))
    .parse_next(i)?;
    if let Some(op) = op {
        ws(i)?;
        let rhs = cut_err(additive.context(expected("a value to compare with"))).parse_next(i)?;
        return Ok(binary(op, lhs, rhs));
    }
    let at_op = i.checkpoint();
    if opt(terminated(literal("="), not(literal("=")))).parse_next(i)?.is_some() {
        // A lone `=` is the most common slip; say so instead of a generic error.
        i.reset(&at_op);
        return Err(ErrMode::Cut(ContextError::new().add_context(i, &at_op, expected(EQ_HINT))));
    }
    let negated = opt(terminated(keyword("not"), multispace0)).parse_next(i)?.is_some();
    if opt(keyword("in")).parse_next(i)?.is_some() {
        ws(i)?;
        let list = cut_err(additive.context(expected("a list such as [\"a\", \"b\"]"))).parse_next(i)?;
        let span = lhs.span.start..list.span.end;
        return Ok(Node { ast: Ast::In { value: Box::new(lhs), list: Box::new(list), negated }, span });
    }
    if negated {
        return Err(ErrMode::Cut(ContextError::new().add_context(i, &cp, expected("`in` after `not`"))));
    }
    i.reset(&cp);
    Ok(lhs)
}

fn additive(i: &mut Input<'_>) -> PResult<Node> {
    let mut lhs = multiplicative(i)?;
    loop {
        let cp = i.checkpoint();
        ws(i)?;
        let op = opt(alt((literal("+").value(BinOp::Add), literal("-").value(BinOp::Sub)))).parse_next(i)?;
        match op {
            Some(op) => {
                ws(i)?;
                let rhs = cut_err(multiplicative.context(expected("a value"))).parse_next(i)?;
                lhs = binary(op, lhs, rhs);
            }
            None => {
                i.reset(&cp);
                return Ok(lhs);
            }
        }
    }
}

fn multiplicative(i: &mut Input<'_>) -> PResult<Node> {
    let mut lhs = unary(i)?;
    loop {
        let cp = i.checkpoint();
        ws(i)?;
        let op =
            opt(alt((literal("*").value(BinOp::Mul), literal("/").value(BinOp::Div), literal("%").value(BinOp::Rem))))
                .parse_next(i)?;
        match op {
            Some(op) => {
                ws(i)?;
                let rhs = cut_err(unary.context(expected("a value"))).parse_next(i)?;
                lhs = binary(op, lhs, rhs);
            }
            None => {
                i.reset(&cp);
                return Ok(lhs);
            }
        }
    }
}

fn unary(i: &mut Input<'_>) -> PResult<Node> {
    let start = i.current_token_start();
    if opt(literal("-")).parse_next(i)?.is_some() {
        ws(i)?;
        let inner = cut_err(unary).parse_next(i)?;
        return Ok(node(Ast::Neg(Box::new(inner)), start, i));
    }
    primary(i)
}

fn primary(i: &mut Input<'_>) -> PResult<Node> {
    alt((number, string, list, paren, name))
        .context(expected("a value (number, \"text\", field, function call or `(`)"))
        .parse_next(i)
}

fn paren(i: &mut Input<'_>) -> PResult<Node> {
    let start = i.current_token_start();
    let inner = preceded(
        (literal("("), multispace0),
        cut_err(terminated(expr, (multispace0, literal(")").context(expected("`)`"))))),
    )
    .parse_next(i)?;
    Ok(Node { ast: inner.ast, span: start..i.previous_token_end() })
}

fn list(i: &mut Input<'_>) -> PResult<Node> {
    let start = i.current_token_start();
    literal("[").parse_next(i)?;
    let items: Vec<Node> = cut_err(terminated(
        delimited(ws, separated(0.., delimited(ws, expr, ws), literal(",")), ws),
        (opt(literal(",")), ws, literal("]").context(expected("`,` or `]`"))),
    ))
    .parse_next(i)?;
    Ok(node(Ast::List(items), start, i))
}

fn number(i: &mut Input<'_>) -> PResult<Node> {
    let start = i.current_token_start();
    let at_start = i.checkpoint();
    let digits = || take_while(1.., |c: char| c.is_ascii_digit());
    // An exponent (`1e3`, `2.5E-2`) as data files may write numbers.
    let exponent = (one_of(['e', 'E']), opt(one_of(['+', '-'])), digits());
    let (text, exp) = (digits(), opt(('.', digits())), opt(exponent))
        .with_taken()
        .map(|((_, _, e), t)| (t, e.is_some()))
        .parse_next(i)?;
    let unit = opt(terminated(one_of(['d', 'w', 'h', 'y']), not(one_of(is_ident_char)))).parse_next(i)?;
    if exp && unit.is_some() {
        return Err(ErrMode::Cut(ContextError::new().add_context(
            i,
            &i.checkpoint(),
            expected("a duration written without an exponent, such as 30d"),
        )));
    }
    let ast = match unit {
        None => {
            not(one_of(is_ident_char))
                .context(expected("a number, or a duration such as 30d, 12w, 24h, 1y"))
                .parse_next(i)?;
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ast::Num(v),
                _ => {
                    i.reset(&at_start);
                    return Err(ErrMode::Cut(ContextError::new().add_context(
                        i,
                        &at_start,
                        expected("a number a double holds (1e400 does not)"),
                    )));
                }
            }
        }
        // The one duration grammar (crate::model::Duration), so `90d` means the same here as
        // in YAML and on the command line.
        Some(u) => match Duration::from_parts(text, u.encode_utf8(&mut [0; 4])) {
            Some(d) => Ast::Duration(d.secs()),
            None => {
                return Err(ErrMode::Cut(ContextError::new().add_context(
                    i,
                    &i.checkpoint(),
                    expected("a duration of at most 1000 years"),
                )))
            }
        },
    };
    Ok(node(ast, start, i))
}

fn string(i: &mut Input<'_>) -> PResult<Node> {
    let start = i.current_token_start();
    let quote = one_of(['"', '\'']).parse_next(i)?;
    let mut out = String::new();
    loop {
        let c = cut_err(any.context(expected("a closing quote"))).parse_next(i)?;
        match c {
            c if c == quote => break,
            '\\' => {
                let e = cut_err(any.context(expected("an escaped character"))).parse_next(i)?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
            }
            c => out.push(c),
        }
    }
    Ok(node(Ast::Str(out), start, i))
}

fn ident<'a>(i: &mut Input<'a>) -> PResult<&'a str> {
    (one_of(|c: char| c.is_ascii_alphabetic() || c == '_'), take_while(0.., is_ident_char)).take().parse_next(i)
}

fn name(i: &mut Input<'_>) -> PResult<Node> {
    let start = i.current_token_start();
    let first = ident(i)?;
    match first {
        "true" => return Ok(node(Ast::Bool(true), start, i)),
        "false" => return Ok(node(Ast::Bool(false), start, i)),
        _ => {}
    }
    let cp = i.checkpoint();
    ws(i)?;
    if opt(literal("(")).parse_next(i)?.is_some() {
        let args: Vec<Node> = cut_err(terminated(
            delimited(ws, separated(0.., delimited(ws, expr, ws), literal(",")), ws),
            literal(")").context(expected("`,` or `)`")),
        ))
        .parse_next(i)?;
        return Ok(node(Ast::Call(first.to_owned(), args), start, i));
    }
    i.reset(&cp);
    let mut path = vec![first.to_owned()];
    while opt(literal(".")).parse_next(i)?.is_some() {
        let part = cut_err(ident.context(expected("a field name after `.`"))).parse_next(i)?;
        path.push(part.to_owned());
    }
    Ok(node(Ast::Path(path), start, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(n: &Node) -> String {
        match &n.ast {
            Ast::Num(v) => format!("{v}"),
            Ast::Str(s) => format!("{s:?}"),
            Ast::Bool(b) => b.to_string(),
            Ast::Duration(s) => format!("{s}s"),
            Ast::List(v) => format!("[{}]", v.iter().map(show).collect::<Vec<_>>().join(",")),
            Ast::Path(p) => p.join("."),
            Ast::Call(f, a) => format!("{f}({})", a.iter().map(show).collect::<Vec<_>>().join(",")),
            Ast::Not(x) => format!("!{}", show(x)),
            Ast::Neg(x) => format!("-{}", show(x)),
            Ast::Binary(op, l, r) => format!("({} {} {})", show(l), op.symbol(), show(r)),
            Ast::In { value, list, negated } => {
                format!("({} {}in {})", show(value), if *negated { "not " } else { "" }, show(list))
            }
        }
    }

    #[test]
    fn precedence_and_forms() {
        let n = parse("spend(365d) >= 2000 and not customer.tier in [\"gold\", 'silver'] || x == 1 + 2 * 3").unwrap();
        assert_eq!(
            show(&n),
            "(((spend(31536000s) >= 2000) and !(customer.tier in [\"gold\",\"silver\"])) or (x == (1 + (2 * 3))))"
        );
        assert_eq!(show(&parse("a not in [1]").unwrap()), "(a not in [1])");
        assert_eq!(show(&parse("-(1.5)").unwrap()), "-1.5");
        assert_eq!(show(&parse("!a && !b").unwrap()), "(!a and !b)");
        // Numbers with an exponent, as data files write them.
        assert_eq!(
            show(&parse("amount > 1e3 or x < 2.5E-2 or y == 1e+2").unwrap()),
            "(((amount > 1000) or (x < 0.025)) or (y == 100))"
        );
    }

    #[test]
    fn spans_cover_the_source() {
        let src = "event.amount > 100";
        let n = parse(src).unwrap();
        let Ast::Binary(_, l, _) = &n.ast else { panic!() };
        assert_eq!(&src[l.span.clone()], "event.amount");
        assert_eq!(n.span, 0..src.len());
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("amount = 3").unwrap_err();
        assert_eq!(e.offset, 7);
        assert_eq!(e.message, "use `==` to compare (a single `=` is not an operator)");
        assert!(e.message.contains("`==`"), "{}", e.message);
        let e = parse("amount > ").unwrap_err();
        assert_eq!(e.offset, 9);
        let e = parse("(a > 1").unwrap_err();
        assert!(e.message.contains("`)`"), "{}", e.message);
        let e = parse("a > 1 b").unwrap_err();
        assert_eq!(e.offset, 6);
        assert!(parse("\"open").is_err());
        assert!(parse("12x").is_err());
        assert!(parse("1e").is_err());
        assert!(parse("1e3x").is_err());
        let e = parse("x > 1e400").unwrap_err();
        assert!(e.message.contains("1e400 does not"), "{}", e.message);
        let e = parse("1e3d").unwrap_err();
        assert!(e.message.contains("a duration written without an exponent"), "{}", e.message);
    }
}

#[cfg(test)]
mod bounds {
    use super::*;

    #[test]
    fn deep_and_long_conditions_are_refused_not_overflowed() {
        // Each of these aborted the process before bounds existed.
        let nested = format!("{}a{}", "(".repeat(600), ")".repeat(600));
        let e = parse(&nested).unwrap_err();
        assert_eq!(e.offset, MAX_BRACKETS);
        assert!(e.message.contains("nest more than 32"), "{}", e.message);
        let chain = vec!["a"; 1000].join(" + ") + " > 1";
        let e = parse(&chain).unwrap_err();
        assert!(e.message.contains("more than 100 levels"), "{}", e.message);
        let long = "a == 1 or ".repeat(500) + "a == 1";
        assert!(parse(&long).unwrap_err().message.contains("at most 4096"));
        let nots = format!("{}a", "!".repeat(4000));
        assert!(parse(&nots).is_err());
        // Quoted brackets do not count.
        assert!(parse(&format!("a == \"{}\"", "(".repeat(100))).is_ok());
        // A chain within the bound parses.
        assert!(parse(&(vec!["a == 1"; 90].join(" or "))).is_ok());
    }
}
