//! From YAML to a compiled plan in stages: parse every file, then check every dialogue and
//! collect every problem (not just the first), then hand back the compiled plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::expr::compile::{Measure, Schema, Scopes};
use crate::expr::{self, parse, Ir};
use crate::input::TableKind;
use crate::yaml;

use super::plan::*;
use super::raw::*;

/// The columns conditions may use, per table.
#[derive(Debug, Clone)]
pub struct Schemas {
    pub tx: Schema,
    pub events: Schema,
    pub customers: Schema,
}

impl Schemas {
    /// Standard columns only, open to any other name (for `check` without input files).
    pub fn open(numeric: impl Fn(TableKind) -> Vec<String>) -> Self {
        let mk = |kind: TableKind, std: &[&str]| {
            let num = numeric(kind);
            let fields = std
                .iter()
                .map(|n| {
                    let ty = if num.iter().any(|x| x == n) {
                        crate::input::ColType::Num
                    } else {
                        crate::input::ColType::Str
                    };
                    ((*n).to_owned(), ty)
                })
                .collect();
            Schema::new(kind, fields, true)
        };
        Self {
            tx: mk(TableKind::Transactions, &["order_id", "product", "category", "quantity", "amount", "channel"]),
            events: mk(TableKind::Events, &["type", "dialogue", "step", "message_id", "answer", "channel"]),
            customers: mk(TableKind::Customers, &[]),
        }
    }
}

struct Source {
    path: PathBuf,
    text: String,
    raw: RawDialogue,
    id: String,
}

/// The dialogue files in `path` (a folder, read in name order, or one file).
pub fn dialogue_files(path: &Path) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| Box::new(Diagnostic::error(path, 0, 0, format!("cannot read the dialogues folder: {e}"))))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Box::new(Diagnostic::error(path, 0, 0, "no dialogue files (*.yaml) in this folder")));
    }
    Ok(files)
}

/// Load, check and compile every dialogue. Returns the plan (possibly partial) and every
/// diagnostic; the plan is only usable when there are no errors.
/// What the project config tells the checker.
#[derive(Debug, Default, Clone)]
pub struct Known {
    /// Tier names (empty: tiers are not configured; any name is accepted).
    pub tiers: Vec<String>,
    /// Template keys the mail tool has (None: not declared; not checked).
    pub templates: Option<Vec<String>>,
    pub rfm: crate::expr::compile::RfmCuts,
}

pub fn load(path: &Path, schemas: &Schemas, known: &Known) -> (Plan, Diagnostics) {
    let tiers = known.tiers.as_slice();
    let mut diags = Diagnostics::default();
    let files = match dialogue_files(path) {
        Ok(f) => f,
        Err(d) => {
            diags.push(*d);
            return (Plan::default(), diags);
        }
    };
    let mut sources = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(&file, 0, 0, format!("cannot read: {e}")));
                continue;
            }
        };
        match yaml::parse::<RawDialogue>(&file, &text) {
            Err(d) => diags.push(*d),
            Ok(raw) => {
                let id =
                    raw.id.as_ref().map(|s| s.value.clone()).unwrap_or_else(|| {
                        file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
                    });
                sources.push(Source { path: file, text, raw, id });
            }
        }
    }
    sources.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.path.cmp(&b.path)));
    // Duplicate ids: report every later definition against the first.
    let mut first: BTreeMap<String, PathBuf> = BTreeMap::new();
    sources.retain(|s| {
        if let Some(prev) = first.get(&s.id) {
            let f = FileCtx { path: &s.path, src: &s.text };
            let d = match &s.raw.id {
                Some(id) => f.at(id, format!("duplicate dialogue id `{}`", s.id)),
                None => {
                    Diagnostic::error(&s.path, 1, 1, format!("duplicate dialogue id `{}` (from the file name)", s.id))
                }
            };
            diags.push(d.with_hint(format!("`{}` is already defined in {}", s.id, prev.display())));
            false
        } else {
            first.insert(s.id.clone(), s.path.clone());
            true
        }
    });
    let ids: Vec<String> = sources.iter().map(|s| s.id.clone()).collect();
    let mut dialogues = Vec::new();
    for s in &sources {
        let f = FileCtx { path: &s.path, src: &s.text };
        let mut c = Checker {
            f,
            ids: &ids,
            tiers,
            templates: known.templates.as_deref(),
            rfm: known.rfm.clone(),
            schemas: schemas.clone(),
            diags: &mut diags,
        };
        dialogues.push(c.dialogue(&s.id, &s.raw));
    }
    // Dialogues that nothing can start.
    for (i, d) in dialogues.iter().enumerate() {
        if d.trigger_kind == "follow_on" && !dialogues.iter().any(|o| starts(o, i)) {
            diags.push(
                Diagnostic::warning(
                    &d.file,
                    1,
                    1,
                    format!("dialogue `{}` has no trigger and no other dialogue starts it, so it can never run", d.id),
                )
                .with_hint("add a `trigger:` or start it from another dialogue with `start:`"),
            );
        }
    }
    let mut order: Vec<usize> = (0..dialogues.len()).collect();
    order.sort_by(|&a, &b| {
        dialogues[b].priority.cmp(&dialogues[a].priority).then_with(|| dialogues[a].id.cmp(&dialogues[b].id))
    });
    diags.sort();
    (Plan { dialogues, order }, diags)
}

fn starts(d: &Dialogue, target: usize) -> bool {
    let hit = |e: &Exit| matches!(e, Exit::End { start: Some(t), .. } if *t == target);
    d.goals.iter().any(|b| hit(&b.exit))
        || d.steps.iter().any(|s| {
            s.on.iter().any(|b| hit(&b.exit))
                || match &s.after {
                    After::Now(e) | After::Wait(_, e) | After::Timeout(_, e) => hit(e),
                    After::Forever => false,
                }
        })
}

struct FileCtx<'a> {
    path: &'a Path,
    src: &'a str,
}

impl FileCtx<'_> {
    fn at_pos(&self, (line, col): (usize, usize), width: usize, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.path, line, col, msg).with_width(width).with_source(self.src)
    }
    fn at(&self, s: &S, msg: impl Into<String>) -> Diagnostic {
        self.at_pos(yaml::pos(s), s.value.chars().count(), msg)
    }
    fn at_any<T>(&self, s: &Spanned<T>, msg: impl Into<String>) -> Diagnostic {
        self.at_pos(yaml::pos(s), 1, msg)
    }
    /// The position of byte `offset` inside a scalar's text, allowing for an opening quote.
    fn inside(&self, s: &S, offset: usize) -> (usize, usize) {
        let (line, col) = yaml::pos(s);
        if s.value.contains('\n') || line == 0 {
            return (line, col);
        }
        let quoted = self
            .src
            .lines()
            .nth(line - 1)
            .and_then(|l| l.chars().nth(col.saturating_sub(1)))
            .is_some_and(|c| c == '"' || c == '\'');
        let chars = s.value[..offset.min(s.value.len())].chars().count();
        (line, col + usize::from(quoted) + chars)
    }
}

/// What the event in a condition is, for each context.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Purchase,
    Other,
    None,
}

struct Checker<'a, 'd> {
    f: FileCtx<'a>,
    ids: &'a [String],
    /// Tier names from the config (empty: tiers are not configured, any name is accepted).
    tiers: &'a [String],
    templates: Option<&'a [String]>,
    rfm: crate::expr::compile::RfmCuts,
    schemas: Schemas,
    diags: &'d mut Diagnostics,
}

impl Checker<'_, '_> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn duration(&mut self, s: &S, what: &str) -> Option<i64> {
        let d = parse_duration(&s.value);
        if d.is_none() {
            let e = self
                .f
                .at(s, format!("{what}: `{}` is not a duration", s.value))
                .with_hint("write a number and a unit: 36h, 90d, 12w, 1y");
            self.err(e);
        }
        d
    }

    fn positive_count(&mut self, v: &Spanned<i64>, what: &str) -> Option<u32> {
        match u32::try_from(v.value) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                let e = self.f.at_any(v, format!("{what} must be a whole number of at least 1, not {}", v.value));
                self.err(e);
                None
            }
        }
    }

    fn dialogue_ref(&mut self, s: &S) -> Option<usize> {
        match self.ids.binary_search(&s.value) {
            Ok(i) => Some(i),
            Err(_) => {
                let hint = did_you_mean(&s.value, self.ids.iter().map(String::as_str))
                    .map(|x| format!("did you mean `{x}`?"))
                    .unwrap_or_else(|| format!("the dialogues are: {}", self.ids.join(", ")));
                let e = self.f.at(s, format!("unknown dialogue `{}`", s.value)).with_hint(hint);
                self.err(e);
                None
            }
        }
    }

    /// Compile a condition in the given context, reporting problems at their exact column.
    fn cond(&mut self, s: &S, event: EventKind, row: EventKind) -> Option<Cond> {
        let node = match parse::parse(&s.value) {
            Ok(n) => n,
            Err(pe) => {
                let pos = self.f.inside(s, pe.offset);
                let e = self.f.at_pos(pos, 1, format!("invalid condition: {}", pe.message));
                self.err(e);
                return None;
            }
        };
        let pick = |k: EventKind, sc: &Schemas| match k {
            EventKind::Purchase => Some(sc.tx.clone()),
            EventKind::Other => Some(sc.events.clone()),
            EventKind::None => None,
        };
        let mut ev = pick(event, &self.schemas);
        let mut rw = pick(row, &self.schemas);
        let mut cu = self.schemas.customers.clone();
        let mut tx = self.schemas.tx.clone();
        let mut scopes = Scopes {
            event: ev.as_mut(),
            row: rw.as_mut(),
            customer: &mut cu,
            transactions: &mut tx,
            no_event_reason: "an absence trigger fires on a timer, not on an event",
            rfm: self.rfm.clone(),
        };
        match expr::compile(&node, &mut scopes) {
            Ok(ir) => Some(Cond { src: s.value.clone(), ir }),
            Err(ce) => {
                let pos = self.f.inside(s, ce.span.start);
                let width = s.value.get(ce.span.clone()).map_or(1, |t| t.chars().count());
                let e = self.f.at_pos(pos, width, ce.message).with_hint_opt(ce.hint);
                self.err(e);
                None
            }
        }
    }

    /// A history filter (`where:` of threshold-like triggers) over each past purchase.
    fn filter(&mut self, s: &Option<S>) -> Option<Option<Ir>> {
        match s {
            None => Some(None),
            Some(s) => self.cond(s, EventKind::Purchase, EventKind::Purchase).map(|c| Some(c.ir)),
        }
    }

    fn measure(&mut self, s: &S) -> Option<Measure> {
        let m = match s.value.as_str() {
            "spend" => Measure::Spend,
            "orders" => Measure::Orders,
            "purchases" => Measure::Purchases,
            "units" => Measure::Units,
            other => {
                let hint = did_you_mean(other, ["spend", "orders", "purchases", "units"])
                    .map(|x| format!("did you mean `{x}`?"))
                    .unwrap_or_else(|| "a measure is one of: spend, orders, purchases, units".to_owned());
                let e = self.f.at(s, format!("unknown measure `{other}`")).with_hint(hint);
                self.err(e);
                return None;
            }
        };
        Some(m)
    }

    fn trigger(&mut self, t: &Spanned<RawTrigger>) -> (Option<Trigger>, EventKind) {
        let opt_cond = |c: &mut Self, s: &Option<S>, k: EventKind| match s {
            None => Some(None),
            Some(s) => c.cond(s, k, k).map(Some),
        };
        let p = EventKind::Purchase;
        match &t.value {
            RawTrigger::Purchase(w) => (opt_cond(self, &w.cond, p).map(|cond| Trigger::Purchase { cond }), p),
            RawTrigger::NewCategory(n) => {
                let cond = opt_cond(self, &n.cond, p);
                (
                    cond.map(|cond| Trigger::NewCategory {
                        categories: n.categories.iter().map(|s| s.value.clone()).collect(),
                        include_first_order: n.include_first_order,
                        cond,
                    }),
                    p,
                )
            }
            RawTrigger::LifeChange(l) => {
                if l.categories.value.is_empty() {
                    let e = self
                        .f
                        .at_any(&l.categories, "a life_change trigger needs at least one category")
                        .with_hint("e.g. `categories: [baby, home_improvement]`");
                    self.err(e);
                }
                let cond = opt_cond(self, &l.cond, p);
                (
                    cond.map(|cond| Trigger::NewCategory {
                        categories: l.categories.value.iter().map(|s| s.value.clone()).collect(),
                        include_first_order: true,
                        cond,
                    }),
                    p,
                )
            }
            RawTrigger::FrequentBuyer(fr) | RawTrigger::Vip(fr) => {
                let is_vip = matches!(t.value, RawTrigger::Vip(_));
                let of = fr.of.as_ref().map_or("product", |s| s.value.as_str()).to_owned();
                if let Some(s) = &fr.of {
                    match self.schemas.tx.fields.iter().find(|(n, _)| *n == s.value) {
                        Some((_, crate::input::ColType::Str)) => {}
                        Some(_) => {
                            let e = self.f.at(
                                s,
                                format!("`of: {}` must name a text column such as product or category", s.value),
                            );
                            self.err(e);
                        }
                        None if self.schemas.tx.open => {}
                        None => {
                            let names: Vec<&str> = self.schemas.tx.fields.iter().map(|(n, _)| n.as_str()).collect();
                            let hint = did_you_mean(&s.value, names.iter().copied())
                                .map(|x| format!("did you mean `{x}`?"))
                                .unwrap_or_else(|| format!("the transactions columns are: {}", names.join(", ")));
                            let e = self
                                .f
                                .at(s, format!("unknown column `{}` in the transactions data", s.value))
                                .with_hint(hint);
                            self.err(e);
                        }
                    }
                }
                let count = self.positive_count(&fr.count, "count");
                let within = match &fr.within {
                    Some(w) => self.duration(w, "within").map(Some),
                    None if is_vip => Some(Some(365 * 86_400)),
                    None => Some(None),
                };
                let cond = opt_cond(self, &fr.cond, p);
                let trig = match (count, within, cond) {
                    (Some(count), Some(within), Some(cond)) => Some(Trigger::Frequent {
                        of,
                        values: fr.values.iter().map(|s| s.value.clone()).collect(),
                        count,
                        within,
                        cond,
                    }),
                    _ => None,
                };
                (trig, p)
            }
            RawTrigger::Threshold(th) => {
                let m = self.measure(&th.measure);
                let within = th.within.as_ref().map(|w| self.duration(w, "within"));
                let filter = self.filter(&th.cond);
                let trig = match (m, within, filter) {
                    (Some(measure), w, Some(filter)) if w.is_none_or(|w| w.is_some()) => {
                        let window = w.flatten();
                        Some(Trigger::Crossing {
                            measure,
                            value: Ir::Hist { measure, window, filter: filter.map(Box::new) },
                            level: th.reaches.value,
                            cap: None,
                            target: th.reaches.value,
                        })
                    }
                    _ => None,
                };
                (trig, p)
            }
            RawTrigger::OneAway(o) => {
                let m = self.measure(&o.measure);
                let away = o.away.as_ref().map_or(1.0, |a| a.value);
                if away <= 0.0 || away >= o.target.value {
                    let e = match &o.away {
                        Some(a) => self.f.at_any(
                            a,
                            format!("`away` must be more than 0 and less than the target ({})", o.target.value),
                        ),
                        None => self.f.at_any(&o.target, "the target must be more than 1 (the default `away`)"),
                    };
                    self.err(e);
                }
                let within = o.within.as_ref().map(|w| self.duration(w, "within"));
                let filter = self.filter(&o.cond);
                let trig = match (m, within, filter) {
                    (Some(measure), w, Some(filter)) if w.is_none_or(|w| w.is_some()) => Some(Trigger::Crossing {
                        measure,
                        value: Ir::Hist { measure, window: w.flatten(), filter: filter.map(Box::new) },
                        level: o.target.value - away,
                        cap: Some(o.target.value),
                        target: o.target.value,
                    }),
                    _ => None,
                };
                (trig, p)
            }
            RawTrigger::NthOrder(n) => {
                let mut ns = Vec::new();
                for v in n.n.value.as_slice() {
                    match u32::try_from(*v) {
                        Ok(x) if x > 0 => ns.push(x),
                        _ => {
                            let e = self.f.at_any(&n.n, format!("order numbers start at 1; {v} is not one"));
                            self.err(e);
                        }
                    }
                }
                if n.n.value.as_slice().is_empty() {
                    let e = self.f.at_any(&n.n, "`n` needs at least one order number, e.g. `n: [1, 2, 3, 4]`");
                    self.err(e);
                }
                ns.sort_unstable();
                ns.dedup();
                let cond = opt_cond(self, &n.cond, p);
                (cond.map(|cond| Trigger::NthOrder { n: ns, cond }), p)
            }
            RawTrigger::Absence(a) => {
                let trig = match (&a.after, &a.usual_gap) {
                    (Some(after), None) => {
                        if let Some(m) = &a.min_orders {
                            let e = self.f.at_any(m, "`min_orders` only applies with `usual_gap`");
                            self.err(e);
                        }
                        self.duration(after, "after").map(|after| Trigger::Absence(Absence::Fixed { after }))
                    }
                    (None, Some(g)) => {
                        if g.value.is_nan() || g.value <= 0.0 {
                            let e =
                                self.f.at_any(g, "`usual_gap` is a multiple of the customer's median gap, e.g. 2.0");
                            self.err(e);
                        }
                        let min_orders = match &a.min_orders {
                            Some(m) => self.positive_count(m, "min_orders").map(|n| n.max(2)),
                            None => Some(3),
                        };
                        let at_least = match &a.at_least {
                            Some(s) => self.duration(s, "at_least"),
                            None => Some(7 * 86_400),
                        };
                        match (min_orders, at_least) {
                            (Some(min_orders), Some(at_least)) => {
                                Some(Trigger::Absence(Absence::Usual { factor: g.value, min_orders, at_least }))
                            }
                            _ => None,
                        }
                    }
                    _ => {
                        let e = self.f.at_any(
                            t,
                            "an absence trigger needs exactly one of `after` (e.g. 90d) or `usual_gap` (e.g. 2.0)",
                        );
                        self.err(e);
                        None
                    }
                };
                (trig, EventKind::None)
            }
            RawTrigger::AddressChange(w) => {
                let o = EventKind::Other;
                (opt_cond(self, &w.cond, o).map(|cond| Trigger::Event { kind: "address_change".to_owned(), cond }), o)
            }
            RawTrigger::Event(ev) => {
                let o = EventKind::Other;
                if ev.kind.value == "purchase" {
                    let e = self
                        .f
                        .at(&ev.kind, "purchases come from the transactions file")
                        .with_hint("use the `purchase:` trigger");
                    self.err(e);
                }
                (opt_cond(self, &ev.cond, o).map(|cond| Trigger::Event { kind: ev.kind.value.clone(), cond }), o)
            }
        }
    }

    fn exit(
        &mut self,
        goto: &Option<S>,
        end: &Option<S>,
        start: &Option<S>,
        steps: &[String],
        at: (usize, usize),
        default: Option<Exit>,
    ) -> Option<Exit> {
        let start_idx = match start {
            Some(s) => self.dialogue_ref(s).map(Some),
            None => Some(None),
        };
        match (goto, end) {
            (Some(g), None) => {
                if let Some(s) = start {
                    let e = self.f.at(s, "`start:` goes with `end:` (a follow-on starts when this dialogue ends)");
                    self.err(e);
                }
                self.step_ref(g, steps).map(Exit::Goto)
            }
            (None, Some(e)) => start_idx.map(|start| Exit::End { outcome: e.value.clone(), start }),
            (Some(g), Some(_)) => {
                let e = self.f.at(g, "use either `goto:` or `end:`, not both");
                self.err(e);
                None
            }
            (None, None) => match default {
                Some(Exit::End { outcome, .. }) if start.is_some() => {
                    start_idx.map(|start| Exit::End { outcome, start })
                }
                Some(d) => Some(d),
                None => {
                    let e = self.f.at_pos(at, 1, "this needs `goto: STEP` or `end: OUTCOME`");
                    self.err(e);
                    None
                }
            },
        }
    }

    fn step_ref(&mut self, s: &S, steps: &[String]) -> Option<usize> {
        match steps.iter().position(|x| *x == s.value) {
            Some(i) => Some(i),
            None => {
                let hint = did_you_mean(&s.value, steps.iter().map(String::as_str))
                    .map(|x| format!("did you mean `{x}`?"))
                    .unwrap_or_else(|| format!("the steps are: {}", steps.join(", ")));
                let e = self.f.at(s, format!("unknown step `{}`", s.value)).with_hint(hint);
                self.err(e);
                None
            }
        }
    }

    fn branch(&mut self, b: &Spanned<RawBranch>, steps: &[String], goal: bool) -> Option<Branch> {
        let r = &b.value;
        let at = yaml::pos(b);
        let (matcher, kind, label) = match (&r.event, &r.answer) {
            (Some(e), None) if e.value == "purchase" => (Matcher::Purchase, EventKind::Purchase, "purchase".to_owned()),
            (Some(e), None) => (Matcher::Event(e.value.clone()), EventKind::Other, format!("event {}", e.value)),
            (None, Some(a)) => (Matcher::Answer(a.value.clone()), EventKind::Other, format!("answer {}", a.value)),
            _ => {
                let e = self.f.at_pos(
                    at,
                    1,
                    "say what this waits for: `event: TYPE` (e.g. purchase, complaint) or `answer: VALUE`, not both",
                );
                self.err(e);
                return None;
            }
        };
        let cond = match &r.cond {
            Some(s) => Some(self.cond(s, kind, kind)?),
            None => None,
        };
        let exit = if goal {
            if let Some(g) = &r.goto {
                let e = self.f.at(g, "a goal ends the dialogue: use `outcome:`, not `goto:`");
                self.err(e);
                return None;
            }
            let outcome = r.outcome.as_ref().or(r.end.as_ref());
            let Some(outcome) = outcome else {
                let e = self.f.at_pos(at, 1, "a goal needs an `outcome:` (e.g. saved, converted, declined)");
                self.err(e);
                return None;
            };
            let start = match &r.start {
                Some(s) => Some(self.dialogue_ref(s)?),
                None => None,
            };
            Exit::End { outcome: outcome.value.clone(), start }
        } else {
            if let Some(o) = &r.outcome {
                let e = self.f.at(o, "in a step branch, end the dialogue with `end: OUTCOME`");
                self.err(e);
                return None;
            }
            self.exit(&r.goto, &r.end, &r.start, steps, at, None)?
        };
        Some(Branch { matcher, cond, exit, label })
    }

    fn dialogue(&mut self, id: &str, raw: &RawDialogue) -> Dialogue {
        if let Some(s) = &raw.id {
            if s.value.is_empty() || !s.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                let e = self.f.at(s, format!("dialogue id `{}` may only use letters, digits, `_` and `-`", s.value));
                self.err(e);
            }
        }
        let (trigger, ev_kind, trigger_kind) = match &raw.trigger {
            Some(t) => {
                let (trig, k) = self.trigger(t);
                (trig, k, t.value.kind())
            }
            None => (None, EventKind::None, "follow_on"),
        };
        let when = raw.when.as_ref().and_then(|w| self.cond(w, ev_kind, EventKind::None));
        let reentry = match &raw.reentry {
            None => Reentry::Never,
            Some(s) if s.value == "never" => Reentry::Never,
            Some(s) if s.value == "always" => Reentry::Always,
            Some(s) => match parse_duration(&s.value) {
                Some(d) => Reentry::After(d),
                None => {
                    let e = self
                        .f
                        .at(s, format!("reentry: `{}` is not `never`, `always` or a duration", s.value))
                        .with_hint(
                            "e.g. `reentry: 180d` lets a customer start again 180 days after the last run ended",
                        );
                    self.err(e);
                    Reentry::Never
                }
            },
        };
        let mut quiet_while = Vec::new();
        for q in &raw.quiet_while {
            if q.value == id {
                let e =
                    self.f.at(q, "a dialogue cannot be quiet while itself is live (it already runs once at a time)");
                self.err(e);
            } else if let Some(i) = self.dialogue_ref(q) {
                quiet_while.push(i);
            }
        }
        let step_ids: Vec<String> = raw.steps.value.iter().map(|s| s.value.id.value.clone()).collect();
        if raw.steps.value.is_empty() {
            let e = self.f.at_any(&raw.steps, "a dialogue needs at least one step");
            self.err(e);
        }
        for (i, s) in raw.steps.value.iter().enumerate() {
            if step_ids[..i].contains(&s.value.id.value) {
                let e = self.f.at(&s.value.id, format!("duplicate step id `{}`", s.value.id.value));
                self.err(e);
            }
        }
        let goals: Vec<Branch> = raw.goals.iter().filter_map(|g| self.branch(g, &step_ids, true)).collect();
        let holdout = match &raw.holdout {
            Some(h) if !(0.0..1.0).contains(&h.value) => {
                let e = self
                    .f
                    .at_any(h, format!("holdout is a share of customers from 0 to below 1, not {}", h.value))
                    .with_hint("e.g. `holdout: 0.1` holds back 10%");
                self.err(e);
                0.0
            }
            Some(h) => h.value,
            None => 0.0,
        };
        let mut steps = Vec::new();
        for (i, s) in raw.steps.value.iter().enumerate() {
            if let Some(step) = self.step(i, s, &step_ids) {
                steps.push(step);
            }
        }
        if steps.len() == raw.steps.value.len() {
            self.unreachable_steps(raw, &steps);
        }
        Dialogue {
            id: id.to_owned(),
            file: self.f.path.to_path_buf(),
            description: raw.description.clone().unwrap_or_default(),
            priority: raw.priority.as_ref().map_or(0, |p| p.value),
            trigger_kind,
            trigger,
            when,
            reentry,
            quiet_while,
            goals,
            steps,
            holdout,
        }
    }

    /// Warn about template keys the config does not declare.
    fn template(&mut self, t: &S) {
        let Some(known) = self.templates else { return };
        if known.contains(&t.value) {
            return;
        }
        let hint = did_you_mean(&t.value, known.iter().map(String::as_str))
            .map_or_else(|| "add it under `templates:` in kairos.yaml".to_owned(), |x| format!("did you mean `{x}`?"));
        let (l, c) = yaml::pos(t);
        let d = Diagnostic::warning(self.f.path, l, c, format!("template `{}` is not defined", t.value))
            .with_width(t.value.chars().count())
            .with_hint(hint)
            .with_source(self.f.src);
        self.err(d);
    }

    fn channels(&mut self, c: &Spanned<OneOrManyStr>) -> Option<Vec<String>> {
        let v = c.value.to_vec();
        if v.is_empty() || v.iter().any(String::is_empty) {
            let e =
                self.f.at_any(c, "a message needs a channel (e.g. email) or a list of channels in order of preference");
            self.err(e);
            return None;
        }
        Some(v)
    }

    fn variants(
        &mut self,
        channel: &Spanned<OneOrManyStr>,
        template: &S,
        by_tier: &BTreeMap<String, RawVariant>,
    ) -> Option<Vec<Variant>> {
        self.template(template);
        for v in by_tier.values() {
            self.template(&v.template);
        }
        let mut out = vec![Variant { tier: None, channels: self.channels(channel)?, template: template.value.clone() }];
        for (tier, v) in by_tier {
            if !self.tiers.is_empty() && !self.tiers.contains(tier) {
                let hint = did_you_mean(tier, self.tiers.iter().map(String::as_str))
                    .map(|x| format!("did you mean `{x}`?"))
                    .unwrap_or_else(|| format!("the tiers in kairos.yaml are: {}", self.tiers.join(", ")));
                let e = self.f.at(&v.template, format!("unknown tier `{tier}`")).with_hint(hint);
                self.err(e);
                return None;
            }
            out.push(Variant {
                tier: Some(tier.clone()),
                channels: self.channels(&v.channel)?,
                template: v.template.value.clone(),
            });
        }
        Some(out)
    }

    fn step(&mut self, i: usize, s: &Spanned<RawStep>, step_ids: &[String]) -> Option<Step> {
        let r = &s.value;
        let at = yaml::pos(s);
        let mut ok = true;
        let mut ladder = Vec::new();
        if let Some(send) = &r.send {
            let offset = match &send.delay {
                Some(d) => self.duration(d, "delay"),
                None => Some(0),
            };
            ok &= offset.is_some();
            let variants = self.variants(&send.channel, &send.template, &send.by_tier);
            ok &= variants.is_some();
            ladder.push(Msg { variants: variants.unwrap_or_default(), offset: offset.unwrap_or(0) });
        }
        if !r.escalate.is_empty() && r.send.is_none() {
            let e = self.f.at(&r.id, "`escalate:` follows up the step's own message, so the step needs a `send:`");
            self.err(e);
            ok = false;
        }
        for esc in &r.escalate {
            let after = self.duration(&esc.after, "after");
            ok &= after.is_some();
            let variants = self.variants(&esc.channel, &esc.template, &esc.by_tier);
            ok &= variants.is_some();
            ladder.push(Msg { variants: variants.unwrap_or_default(), offset: after.unwrap_or(0) });
        }
        let on: Vec<Branch> = r.on.iter().filter_map(|b| self.branch(b, step_ids, false)).collect();
        ok &= on.len() == r.on.len();
        // Where the step goes when it is done: `next`/`end`, or the following step, or the end.
        let implicit = if i + 1 < step_ids.len() {
            Exit::Goto(i + 1)
        } else {
            Exit::End { outcome: "completed".to_owned(), start: None }
        };
        let own = if r.next.is_some() || r.end.is_some() || r.start.is_some() {
            self.exit(&r.next, &r.end, &r.start, step_ids, at, Some(implicit.clone()))
        } else {
            Some(implicit)
        };
        let after = match (&r.wait, &r.timeout) {
            (Some(_), Some(t)) => {
                let e =
                    self.f.at_any(t, "a step either waits (`wait:`) or awaits an answer with a `timeout:`, not both");
                self.err(e);
                None
            }
            (Some(w), None) => {
                if !r.on.is_empty() {
                    let e =
                        self.f.at(w, "a step with `on:` branches waits for them: use `timeout:` instead of `wait:`");
                    self.err(e);
                }
                match (self.duration(w, "wait"), own) {
                    (Some(d), Some(x)) => Some(After::Wait(d, x)),
                    _ => None,
                }
            }
            (None, Some(t)) => {
                if r.next.is_some() || r.end.is_some() {
                    let e = self.f.at_any(
                        t,
                        "with a `timeout:`, say where the timeout goes inside it (`goto:`/`end:`), not on the step",
                    );
                    self.err(e);
                }
                let d = self.duration(&t.value.after, "timeout after");
                let tx = self.exit(&t.value.goto, &t.value.end, &t.value.start, step_ids, yaml::pos(t), None);
                match (d, tx) {
                    (Some(d), Some(x)) => Some(After::Timeout(d, x)),
                    _ => None,
                }
            }
            (None, None) if !r.on.is_empty() => {
                if r.next.is_some() || r.end.is_some() {
                    let e = self.f.at(&r.id, "this step waits for its `on:` branches; to leave when none comes, add `timeout: {after: 30d, goto: STEP}`");
                    self.err(e);
                    None
                } else {
                    Some(After::Forever)
                }
            }
            (None, None) => own.map(After::Now),
        };
        if !ok || after.is_none() {
            return None;
        }
        Some(Step { id: r.id.value.clone(), ladder, on, after: after? })
    }

    fn unreachable_steps(&mut self, raw: &RawDialogue, steps: &[Step]) {
        let mut seen = vec![false; steps.len()];
        let mut todo = vec![0usize];
        while let Some(i) = todo.pop() {
            if i >= steps.len() || seen[i] {
                continue;
            }
            seen[i] = true;
            let s = &steps[i];
            let mut exits: Vec<&Exit> = s.on.iter().map(|b| &b.exit).collect();
            match &s.after {
                After::Now(e) | After::Wait(_, e) | After::Timeout(_, e) => exits.push(e),
                After::Forever => {}
            }
            for e in exits {
                if let Exit::Goto(t) = e {
                    todo.push(*t);
                }
            }
        }
        for (i, s) in raw.steps.value.iter().enumerate() {
            if !seen[i] {
                let d = Diagnostic::warning(
                    self.f.path,
                    0,
                    0,
                    format!("step `{}` is never reached: no step leads to it", s.value.id.value),
                );
                let (l, c) = yaml::pos(&s.value.id);
                let d =
                    Diagnostic { line: l, col: c, width: s.value.id.value.len().max(1), ..d }.with_source(self.f.src);
                self.err(d);
            }
        }
    }
}
