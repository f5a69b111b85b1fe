//! Lowering steps: ladders of messages, branches, waits, timeouts and exits.

use std::collections::BTreeMap;
use std::ops::Range;

use serde_saphyr::Spanned;

use crate::diag::did_you_mean;

use super::super::plan::*;
use super::super::raw::*;
use super::{Checker, EventKind};

impl Checker<'_, '_> {
    pub(super) fn exit(
        &mut self,
        goto: &Option<S>,
        end: &Option<S>,
        start: &Option<S>,
        steps: &[String],
        at: Range<usize>,
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
                    let e = self.f.at_span(at, "this needs `goto: STEP` or `end: OUTCOME`");
                    self.err(e);
                    None
                }
            },
        }
    }

    pub(super) fn step_ref(&mut self, s: &S, steps: &[String]) -> Option<usize> {
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

    pub(super) fn branch(&mut self, b: &Spanned<RawBranch>, steps: &[String], goal: bool) -> Option<Branch> {
        let r = &b.value;
        let at = self.f.start(b);
        let (matcher, kind, label) = match (&r.event, &r.answer) {
            (Some(e), None) if e.value == "purchase" => (Matcher::Purchase, EventKind::Purchase, "purchase".to_owned()),
            (Some(e), None) => {
                self.event_types.push((e.value.clone(), self.f.at(e, "")));
                (Matcher::Event(e.value.clone()), EventKind::Other, format!("event {}", e.value))
            }
            (None, Some(a)) => (Matcher::Answer(a.value.clone()), EventKind::Other, format!("answer {}", a.value)),
            _ => {
                let e = self.f.at_span(
                    at.clone(),
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
        let when = match &r.when {
            Some(s) => Some(self.moment(s)?),
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
                let e = self.f.at_span(at, "a goal needs an `outcome:` (e.g. saved, converted, declined)");
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
        let remember = self.remember(&r.remember, kind, false)?;
        Some(Branch { matcher, cond, when, exit, label, remember })
    }

    pub(super) fn channels(&mut self, c: &Spanned<OneOrManyStr>) -> Option<Vec<String>> {
        let v = c.value.to_vec();
        if v.is_empty() || v.iter().any(String::is_empty) {
            let e =
                self.f.at_any(c, "a message needs a channel (e.g. email) or a list of channels in order of preference");
            self.err(e);
            return None;
        }
        let mut ok = true;
        for ch in &v {
            if !self.channels.contains(ch) {
                // Underline the name itself inside `channel: [sms, emial]`.
                // A collection's span may be only its first token: look to the end of its line.
                let start = crate::yaml::span(self.f.src, c).start;
                let end = self.f.src[start..].find('\n').map_or(self.f.src.len(), |i| start + i);
                let node = start..end;
                let text = &self.f.src[node.clone()];
                let span = text.find(ch.as_str()).map_or(start..start + 1, |i| start + i..start + i + ch.len());
                let hint = did_you_mean(ch, self.channels.iter().map(String::as_str))
                    .map(|x| format!("did you mean `{x}`?"))
                    .unwrap_or_else(|| {
                        format!(
                            "the channels are {}; declare others under `channels:` in kairos.yaml",
                            self.channels.join(", ")
                        )
                    });
                let e = self.f.at_span(span, format!("unknown channel `{ch}`")).with_hint(hint);
                self.err(e);
                ok = false;
            }
        }
        ok.then_some(v)
    }

    pub(super) fn variants(
        &mut self,
        channel: &Spanned<OneOrManyStr>,
        template: &S,
        by_tier: &BTreeMap<String, RawVariant>,
    ) -> Option<Vec<Variant>> {
        self.template(template);
        for v in by_tier.values() {
            self.template(&v.template);
        }
        let mut out = vec![Variant {
            tier: None,
            channels: self.channels(channel)?,
            template: template.value.clone(),
            template_at: self.f.start(template),
        }];
        for (tier, v) in by_tier {
            if !self.tiers_configured {
                let w = self
                    .f
                    .at(
                        &v.template,
                        format!("by_tier `{tier}`: no tiers are configured, so this variant never applies"),
                    )
                    .with_hint("add `tiers:` to kairos.yaml (from a customer column or computed from history)")
                    .with_severity(crate::diag::Severity::Warning);
                self.err(w);
            }
            if !self.tiers.is_empty() && !self.tiers.contains(tier) {
                let hint = did_you_mean(tier, self.tiers.iter().map(String::as_str))
                    .map(|x| format!("did you mean `{x}`?"))
                    .unwrap_or_else(|| format!("the tiers in kairos.yaml are: {}", self.tiers.join(", ")));
                let e = self.f.at_key(&v.template, tier, format!("unknown tier `{tier}`")).with_hint(hint);
                self.err(e);
                return None;
            }
            out.push(Variant {
                tier: Some(tier.clone()),
                channels: self.channels(&v.channel)?,
                template: v.template.value.clone(),
                template_at: self.f.start(&v.template),
            });
        }
        Some(out)
    }

    /// `remember:` facts: each name a plain identifier, each value an expression.
    pub(super) fn remember(
        &mut self,
        m: &std::collections::BTreeMap<String, S>,
        event: EventKind,
        step_level: bool,
    ) -> Option<Vec<(usize, crate::dialogue::plan::Cond)>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (name, value) in m {
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                let e =
                    self.f.at_key(value, name, format!("fact name `{name}`: use lower-case letters, digits and `_`"));
                self.err(e);
                ok = false;
                continue;
            }
            let Ok(idx) = self.facts.binary_search(name) else { continue };
            let no_event = if step_level {
                "a step's `remember:` is read when the step is entered, with no event: remember event fields in a branch's `remember:`"
            } else {
                "an absence trigger fires on a timer, not on an event"
            };
            match self.value(value, event, no_event) {
                Some(c) => out.push((idx, c)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn step(&mut self, i: usize, s: &Spanned<RawStep>, step_ids: &[String]) -> Option<Step> {
        let r = &s.value;
        let at = self.f.start(s);
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
            let when = send.when.as_ref().map(|w| self.moment(w));
            ok &= !matches!(when, Some(None));
            ladder.push(Msg {
                variants: variants.unwrap_or_default(),
                offset: offset.unwrap_or(0),
                when: when.flatten(),
            });
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
            let when = esc.when.as_ref().map(|w| self.moment(w));
            ok &= !matches!(when, Some(None));
            ladder.push(Msg {
                variants: variants.unwrap_or_default(),
                offset: after.unwrap_or(0),
                when: when.flatten(),
            });
        }
        let on: Vec<Branch> = r.on.iter().filter_map(|b| self.branch(b, step_ids, false)).collect();
        ok &= on.len() == r.on.len();
        // Where the step goes when it is done: `next`/`end`, or the following step, or the end.
        let implicit = if i + 1 < step_ids.len() {
            Exit::Goto(i + 1)
        } else {
            Exit::End { outcome: "completed".to_owned(), start: None }
        };
        let mut choices = Vec::new();
        let own = match r.next.as_ref().map(|n| (n, &n.value)) {
            Some((n, RawNext::Choices(list))) => {
                let at_next = self.f.start(n);
                if let Some(s) = r.end.as_ref().or(r.start.as_ref()) {
                    let e = self.f.at(s, "with choices under `next:`, say in each where it goes (`goto:`/`end:`)");
                    self.err(e);
                    ok = false;
                }
                if list.is_empty() {
                    let e = self.f.at_span(at_next.clone(), "`next:` needs a step id or at least one choice");
                    self.err(e);
                    ok = false;
                }
                let mut default = None;
                for (k, c) in list.iter().enumerate() {
                    let exit = self.exit(&c.goto, &c.end, &c.start, step_ids, at_next.clone(), None);
                    match &c.when {
                        Some(w) => match (self.moment(w), exit) {
                            (Some(cond), Some(x)) => choices.push((cond, x)),
                            _ => ok = false,
                        },
                        None if k + 1 < list.len() => {
                            let at = c.goto.as_ref().or(c.end.as_ref()).map_or(at_next.clone(), |s| self.f.start(s));
                            let e = self.f.at_span(
                                at,
                                "a choice without `when:` is always taken, so the ones after it never are: put it last",
                            );
                            self.err(e);
                            ok = false;
                        }
                        None => match exit {
                            Some(x) => default = Some(x),
                            None => ok = false,
                        },
                    }
                }
                Some(default.unwrap_or(implicit))
            }
            Some((n, RawNext::Step(id))) => {
                let id = Spanned { value: id.clone(), referenced: n.referenced, defined: n.defined };
                self.exit(&Some(id), &r.end, &r.start, step_ids, at, Some(implicit.clone()))
            }
            None if r.end.is_some() || r.start.is_some() => {
                self.exit(&None, &r.end, &r.start, step_ids, at, Some(implicit.clone()))
            }
            None => Some(implicit),
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
                let d = self.positive_duration(&t.value.after, "timeout after");
                let tx = self.exit(&t.value.goto, &t.value.end, &t.value.start, step_ids, self.f.start(t), None);
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
        let remember = self.remember(&r.remember, EventKind::None, true);
        if !ok || after.is_none() {
            return None;
        }
        if !choices.is_empty() && !matches!(after, Some(After::Now(_) | After::Wait(..))) {
            // Unreachable: `next:` with a timeout or branches is reported above.
            return None;
        }
        Some(Step { id: r.id.value.clone(), ladder, on, after: after?, choices, remember: remember? })
    }
}
