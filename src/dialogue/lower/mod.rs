//! Lowering checked YAML to the compiled plan: names resolved to indices, conditions compiled
//! against the input columns, every problem reported at its exact place. Triggers are in
//! `trigger`, steps and branches in `step`.

mod step;
mod trigger;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde_saphyr::Spanned;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics, Severity};
use crate::expr::compile::Scopes;
use crate::expr::{self, parse, Ir};
use crate::model::{Duration, Measure, RfmCuts};
use crate::yaml;

use super::load::Schemas;
use super::plan::*;
use super::raw::*;

pub(super) struct FileCtx<'a> {
    pub(super) path: &'a Path,
    pub(super) src: &'a Arc<str>,
}

impl FileCtx<'_> {
    /// An error at a byte range of the file.
    pub(super) fn at_span(&self, span: Range<usize>, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.path, msg).at(self.src, span)
    }
    /// An error underlining a scalar's text (its first line).
    pub(super) fn at(&self, s: &S, msg: impl Into<String>) -> Diagnostic {
        self.at_any(s, msg)
    }
    /// An error at the mapping key `key` written before node `s` (a key in a map whose
    /// values alone have spans); at the node if it cannot be found.
    pub(super) fn at_key<T>(&self, s: &Spanned<T>, key: &str, msg: impl Into<String>) -> Diagnostic {
        match yaml::key_before(self.src, yaml::span(self.src, s).start, key) {
            Some(r) => self.at_span(r, msg),
            None => self.at_any(s, msg),
        }
    }
    /// An error at any node: a scalar's text, or the first character of a collection.
    pub(super) fn at_any<T>(&self, s: &Spanned<T>, msg: impl Into<String>) -> Diagnostic {
        self.at_span(self.start(s), msg)
    }
    /// Where a node is, for problems with the node as a whole: its first line (for a
    /// collection, its first character).
    pub(super) fn start<T>(&self, s: &Spanned<T>) -> Range<usize> {
        yaml::first_line(self.src, yaml::span(self.src, s))
    }
    /// The file bytes of the bytes `range` of a scalar's value, exact through quotes, escapes
    /// and folded lines; the whole scalar if its text cannot be followed.
    pub(super) fn inside(&self, s: &S, range: Range<usize>) -> Range<usize> {
        let node = yaml::loc_span(self.src, &s.defined);
        yaml::scalar_range(self.src, node.start, &s.value, range).unwrap_or_else(|| yaml::first_line(self.src, node))
    }
}

/// What the event in a condition is, for each context.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum EventKind {
    Purchase,
    Other,
    /// A catalogue row (an announcement): `item.*`, no `event.*`.
    Item,
    None,
}

pub(super) struct Checker<'a, 'd> {
    pub(super) f: FileCtx<'a>,
    pub(super) ids: &'a [String],
    /// Tier names from the config (empty: tiers are not configured, any name is accepted).
    pub(super) tiers: &'a [String],
    pub(super) templates: Option<&'a [String]>,
    pub(super) channels: &'a [String],
    pub(super) tiers_configured: bool,
    pub(super) rfm: RfmCuts,
    pub(super) schemas: Schemas,
    /// Every fact any dialogue remembers (sorted), for `fact.NAME`.
    pub(super) facts: &'a [String],
    pub(super) diags: &'d mut Diagnostics,
    /// The event types named so far in this dialogue, where (`Dialogue::event_types`).
    pub(super) event_types: Vec<(String, Diagnostic)>,
}

impl Checker<'_, '_> {
    pub(super) fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub(super) fn duration(&mut self, s: &S, what: &str) -> Option<i64> {
        match s.value.parse::<Duration>() {
            Ok(d) => Some(d.secs()),
            Err(m) => {
                let e = self.f.at(s, format!("{what}: {m}")).with_hint("write a number and a unit: 36h, 90d, 12w, 1y");
                self.err(e);
                None
            }
        }
    }

    /// A duration that must be longer than zero (an absence, a timeout): zero would fire at
    /// the very instant it is armed.
    pub(super) fn positive_duration(&mut self, s: &S, what: &str) -> Option<i64> {
        let d = self.duration(s, what)?;
        if d <= 0 {
            let e = self
                .f
                .at(s, format!("{what}: `{}` is no time at all; it would fire at the instant it starts", s.value))
                .with_hint("give a duration longer than zero, e.g. 30d");
            self.err(e);
            return None;
        }
        Some(d)
    }

    pub(super) fn positive_count(&mut self, v: &Spanned<i64>, what: &str) -> Option<u32> {
        match u32::try_from(v.value) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                let e = self.f.at_any(v, format!("{what} must be a whole number of at least 1, not {}", v.value));
                self.err(e);
                None
            }
        }
    }

    pub(super) fn dialogue_ref(&mut self, s: &S) -> Option<usize> {
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
    pub(super) fn cond(&mut self, s: &S, event: EventKind, row: EventKind) -> Option<Cond> {
        self.expression(s, event, row, true, "an absence trigger fires on a timer, not on an event")
    }

    /// A `when:` of a message, rung or branch: over the customer and history at that moment,
    /// with no event to read.
    pub(super) fn moment(&mut self, s: &S) -> Option<Cond> {
        self.expression(
            s,
            EventKind::None,
            EventKind::None,
            true,
            "a `when:` here is over the customer and history at that moment; use `where:` for the event",
        )
    }

    /// A value to remember: an expression of any type (`no_event`: why `event.*` cannot be
    /// read, where there is no event).
    pub(super) fn value(&mut self, s: &S, event: EventKind, no_event: &'static str) -> Option<Cond> {
        self.expression(s, event, EventKind::None, false, no_event)
    }

    fn expression(
        &mut self,
        s: &S,
        event: EventKind,
        row: EventKind,
        condition: bool,
        no_event_reason: &'static str,
    ) -> Option<Cond> {
        let node = match parse::parse(&s.value) {
            Ok(n) => n,
            Err(pe) => {
                // One character at the offset (none at the end of the text).
                let end = s.value.get(pe.offset..).and_then(|r| r.chars().next()).map_or(0, char::len_utf8);
                let span = self.f.inside(s, pe.offset..pe.offset + end);
                let e = self.f.at_span(span, format!("invalid condition: {}", pe.message));
                self.err(e);
                return None;
            }
        };
        let pick = |k: EventKind, sc: &Schemas| match k {
            EventKind::Purchase => Some(sc.tx.clone()),
            EventKind::Other => Some(sc.events.clone()),
            EventKind::Item | EventKind::None => None,
        };
        let mut ev = pick(event, &self.schemas);
        let mut rw = pick(row, &self.schemas);
        let mut cu = self.schemas.customers.clone();
        let mut tx = self.schemas.tx.clone();
        let mut it = (event == EventKind::Item).then(|| self.schemas.catalog.clone());
        let mut scopes = Scopes {
            event: ev.as_mut(),
            row: rw.as_mut(),
            customer: &mut cu,
            item: it.as_mut(),
            transactions: &mut tx,
            no_event_reason: if event == EventKind::Item {
                "an announcement is about a catalogue row: write `item.NAME`"
            } else {
                no_event_reason
            },
            rfm: self.rfm.clone(),
            remembered: self.facts,
        };
        let compiled =
            if condition { expr::compile(&node, &mut scopes) } else { expr::compile_value(&node, &mut scopes) };
        match compiled {
            Ok(ir) => {
                // `events("complaint")` names an event type as a trigger does: checked against
                // the events file like one.
                let mut named = Vec::new();
                events_called(&node, &mut named);
                for (kind, span) in named {
                    let at = self.f.inside(s, span);
                    let d = self.f.at_span(at, String::new());
                    self.event_types.push((kind, d));
                }
                Some(Cond { src: s.value.clone(), ir })
            }
            Err(ce) => {
                let span = self.f.inside(s, ce.span.clone());
                let e = self.f.at_span(span, ce.message).with_hint_opt(ce.hint);
                self.err(e);
                None
            }
        }
    }

    /// A history filter (`where:` of threshold-like triggers) over each past purchase.
    pub(super) fn filter(&mut self, s: &Option<S>) -> Option<Option<Ir>> {
        match s {
            None => Some(None),
            Some(s) => self.cond(s, EventKind::Purchase, EventKind::Purchase).map(|c| Some(c.ir)),
        }
    }

    /// A measure: a built-in (`spend`...) or a numeric transactions column.
    pub(super) fn measure(&mut self, s: &S) -> Option<Measure> {
        match expr::compile::measure_by_name(&mut self.schemas.tx, &s.value) {
            Ok(m) => {
                if let Some(problem) = self.schemas.tx.measure_problem(m) {
                    let d = self.f.at(s, problem).with_hint("map the amount column with `columns:` in kairos.yaml");
                    self.err(d);
                    return None;
                }
                Some(m)
            }
            Err((message, hint)) => {
                let d = self.f.at(s, message).with_hint_opt(hint);
                self.err(d);
                None
            }
        }
    }

    pub(super) fn dialogue(&mut self, id: &str, raw: &RawDialogue) -> Dialogue {
        let valid = |id: &str| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        match &raw.id {
            Some(s) if !valid(&s.value) => {
                let e = self.f.at(s, format!("dialogue id `{}` may only use letters, digits, `_` and `-`", s.value));
                self.err(e);
            }
            Some(_) => {}
            // The id is the file's name: held to the same rule (it names the dialogue in plans,
            // message ids and `start:`).
            None if !valid(id) => {
                let e = self
                    .f
                    .at_span(
                        0..0,
                        format!("dialogue id `{id}` (from the file name) may only use letters, digits, `_` and `-`"),
                    )
                    .with_hint("rename the file, or give the dialogue an `id:`");
                self.err(e);
            }
            None => {}
        }
        let (trigger, ev_kind, trigger_kind) = match &raw.trigger {
            Some(t) => {
                let (trig, k) = self.trigger(t);
                (trig, k, t.value.kind())
            }
            None => (None, EventKind::None, "follow_on"),
        };
        let when = raw.when.as_ref().and_then(|w| {
            let no_event = if trigger_kind == "follow_on" {
                "a follow-on dialogue starts when another ends, with no event to read"
            } else {
                "an absence trigger fires on a timer, not on an event"
            };
            self.expression(w, ev_kind, EventKind::None, true, no_event)
        });
        let reentry = match &raw.reentry {
            // Each catalogue row is news of its own: an announcement runs once per row.
            None if matches!(trigger, Some(Trigger::Announcement { .. })) => Reentry::Always,
            None => Reentry::Never,
            Some(s) if s.value == "never" => Reentry::Never,
            Some(s) if s.value == "always" => Reentry::Always,
            Some(s) => match s.value.parse::<Duration>() {
                Ok(d) => Reentry::After(d.secs()),
                Err(_) => {
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
            } else if let Ok(i) = self.ids.binary_search(&q.value) {
                quiet_while.push(i);
            } else {
                // A library dialogue tried alone: the dialogues it is quiet for are not loaded.
                let hint = did_you_mean(&q.value, self.ids.iter().map(String::as_str))
                    .map(|x| format!("did you mean `{x}`?"))
                    .unwrap_or_else(|| "load it with another -d to honour it".to_owned());
                let w = self
                    .f
                    .at(
                        q,
                        format!(
                            "quiet_while names `{}`, which is not among the loaded dialogues; it is ignored",
                            q.value
                        ),
                    )
                    .with_hint(hint)
                    .with_severity(crate::diag::Severity::Warning);
                self.err(w);
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
            if let Some(cycle) = super::analyze::instant_cycle(&steps) {
                let names: Vec<&str> = cycle.iter().map(|&i| steps[i].id.as_str()).collect();
                let e = self
                    .f
                    .at(&raw.steps.value[cycle[0]].value.id, format!("steps {} loop without any wait", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" → ")))
                    .with_hint("a customer would be sent messages without end at one instant: add a `wait:`, a `delay:` or a `timeout:` to one of them");
                self.err(e);
            }
        }
        Dialogue {
            id: id.to_owned(),
            file: self.f.path.to_path_buf(),
            source: Arc::clone(self.f.src),
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
            event_types: std::mem::take(&mut self.event_types),
        }
    }

    /// Warn about template keys the config does not declare.
    pub(super) fn template(&mut self, t: &S) {
        if t.value.trim().is_empty() {
            let d = self.f.at(t, "the template key is empty").with_hint("name a template, e.g. `template: welcome`");
            self.err(d);
            return;
        }
        let Some(known) = self.templates else { return };
        if known.contains(&t.value) {
            return;
        }
        let hint = did_you_mean(&t.value, known.iter().map(String::as_str))
            .map_or_else(|| "add it under `templates:` in kairos.yaml".to_owned(), |x| format!("did you mean `{x}`?"));
        let d = self.f.at(t, format!("template `{}` is not defined", t.value)).with_hint(hint);
        self.err(d.with_severity(Severity::Warning));
    }

    pub(super) fn unreachable_steps(&mut self, raw: &RawDialogue, steps: &[Step]) {
        let seen = super::analyze::reachable(steps);
        for (i, s) in raw.steps.value.iter().enumerate() {
            if !seen[i] {
                let d = self
                    .f
                    .at(&s.value.id, format!("step `{}` is never reached: no step leads to it", s.value.id.value));
                self.err(d.with_severity(Severity::Warning));
            }
        }
    }
}

/// The event types an expression's `events("TYPE", ...)` calls name, with their spans.
fn events_called(n: &parse::Node, out: &mut Vec<(String, std::ops::Range<usize>)>) {
    use parse::Ast;
    match &n.ast {
        Ast::Call(f, args) => {
            if let (true, Some(Ast::Str(kind))) = (f == "events", args.first().map(|a| &a.ast)) {
                out.push((kind.clone(), args[0].span.clone()));
            }
            for a in args {
                events_called(a, out);
            }
        }
        Ast::List(items) => items.iter().for_each(|x| events_called(x, out)),
        Ast::Not(x) | Ast::Neg(x) => events_called(x, out),
        Ast::Binary(_, l, r) => {
            events_called(l, out);
            events_called(r, out);
        }
        Ast::In { value, list, .. } => {
            events_called(value, out);
            events_called(list, out);
        }
        Ast::Num(_) | Ast::Str(_) | Ast::Bool(_) | Ast::Duration(_) | Ast::Path(_) => {}
    }
}
