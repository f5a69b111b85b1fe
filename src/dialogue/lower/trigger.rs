//! Lowering triggers: what starts a dialogue.

use serde_saphyr::Spanned;

use crate::diag::did_you_mean;
use crate::expr::Ir;
use crate::model::{ColType, DAY, YEAR};

use super::super::plan::*;
use super::super::raw::*;
use super::{Checker, EventKind};

impl Checker<'_, '_> {
    pub(super) fn trigger(&mut self, t: &Spanned<RawTrigger>) -> (Option<Trigger>, EventKind) {
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
                        Some((_, ColType::Str)) => {}
                        Some(_) => {
                            let e = self.f.at(
                                s,
                                format!("`of: {}` must name a text column such as product or category", s.value),
                            );
                            self.err(e);
                        }
                        None if self.schemas.tx.open => {}
                        None if !self.schemas.tx.given => {
                            if let Some((message, hint)) = self.schemas.tx.not_given_error(&s.value) {
                                let e = self.f.at(s, message).with_hint(hint);
                                self.err(e);
                            }
                        }
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
                    None if is_vip => Some(Some(YEAR)),
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
                let mut m = self.measure(&th.measure);
                if !(th.reaches.value.is_finite() && th.reaches.value > 0.0) {
                    let e = self.f.at_any(
                        &th.reaches,
                        format!("`reaches` must be a number above 0 (a measure starts at 0), not {}", th.reaches.value),
                    );
                    self.err(e);
                    m = None;
                }
                let within = th.within.as_ref().map(|w| self.duration(w, "within"));
                let filter = self.filter(&th.cond);
                let trig = match (m, within, filter) {
                    (Some(measure), w, Some(filter)) if w.is_none_or(|w| w.is_some()) => {
                        let window = w.flatten();
                        Some(Trigger::Crossing {
                            measure: th.measure.value.clone(),
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
                if !o.target.value.is_finite() || !away.is_finite() || away <= 0.0 || away >= o.target.value {
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
                        measure: o.measure.value.clone(),
                        value: Ir::Hist { measure, window: w.flatten(), filter: filter.map(Box::new) },
                        // As decimals: 100 - 64.1 is 35.9 (a spend of 35.90 is one away).
                        level: crate::expr::decimal::sub(o.target.value, away),
                        cap: Some(o.target.value),
                        target: o.target.value,
                    }),
                    _ => None,
                };
                (trig, p)
            }
            RawTrigger::NthOrder(n) => {
                let mut ns = Vec::new();
                let items = n.n.value.items();
                for (v, at) in &items {
                    match u32::try_from(*v) {
                        Ok(x) if x > 0 => ns.push(x),
                        _ => {
                            let msg = format!("order numbers start at 1; {v} is not one");
                            let e = match at {
                                Some(at) => self.f.at_any(at, msg),
                                None => self.f.at_any(&n.n, msg),
                            };
                            self.err(e);
                        }
                    }
                }
                if matches!(n.n.value, crate::dialogue::raw::OneOrMany::Bad) {
                    let at = self.f.start(&n.n);
                    let text = self.f.src[at.clone()].trim().to_owned();
                    let mut e =
                        self.f.at_span(at, format!("`{text}` is not a whole number or a list of whole numbers"));
                    e.hint = Some("e.g. `4` or `[1, 2, 3, 4]`".to_owned());
                    self.err(e);
                } else if items.is_empty() {
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
                        self.positive_duration(after, "after").map(|after| Trigger::Absence(Absence::Fixed { after }))
                    }
                    (None, Some(g)) => {
                        if g.value.is_nan() || g.value <= 0.0 || g.value > MAX_USUAL_GAP {
                            let e = self.f.at_any(
                                g,
                                format!(
                                    "`usual_gap` is a multiple of the customer's median gap, e.g. 2.0 (above 0, at most {MAX_USUAL_GAP})"
                                ),
                            );
                            self.err(e);
                        }
                        let min_orders = match &a.min_orders {
                            Some(m) => self.positive_count(m, "min_orders").map(|n| n.max(2)),
                            None => Some(3),
                        };
                        let at_least = match &a.at_least {
                            Some(s) => self.duration(s, "at_least"),
                            None => Some(7 * DAY),
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
                if ev.kind.value.trim().is_empty() {
                    let e = self
                        .f
                        .at(&ev.kind, "the event type is empty")
                        .with_hint("name an event type of the events file");
                    self.err(e);
                } else if ev.kind.value == "purchase" {
                    let e = self
                        .f
                        .at(&ev.kind, "purchases come from the transactions file")
                        .with_hint("use the `purchase:` trigger");
                    self.err(e);
                }
                self.event_types.push((ev.kind.value.clone(), self.f.at(&ev.kind, "")));
                (opt_cond(self, &ev.cond, o).map(|cond| Trigger::Event { kind: ev.kind.value.clone(), cond }), o)
            }
            RawTrigger::Announcement(a) => {
                let k = EventKind::Item;
                let cat = &self.schemas.catalog;
                if !cat.open && cat.fields.is_empty() {
                    let e = self
                        .f
                        .at_any(t, "an announcement needs the catalogue feed, and none is given")
                        .with_hint("pass `--catalog FILE` (item_id, timestamp, type and the items' attributes)");
                    self.err(e);
                    return (None, k);
                }
                let kinds = a.kind.value.to_vec();
                if kinds.is_empty() || kinds.iter().any(String::is_empty) {
                    let e = self.f.at_any(&a.kind, "an announcement needs a catalogue row type, e.g. `type: arrival`");
                    self.err(e);
                }
                let matcher = opt_cond(self, &a.matcher, k);
                let cond = opt_cond(self, &a.cond, k);
                let when = opt_cond(self, &a.when, k);
                let (Some(matcher), Some(cond), Some(when)) = (matcher, cond, when) else { return (None, k) };
                let cond = match (cond, when) {
                    (Some(a), Some(b)) => Some(crate::dialogue::plan::Cond {
                        src: format!("({}) and ({})", a.src, b.src),
                        ir: Ir::And(Box::new(a.ir), Box::new(b.ir)),
                    }),
                    (a, b) => a.or(b),
                };
                let index = matcher.as_ref().and_then(|m| crate::dialogue::announce::plan(&m.ir));
                if index.is_none() {
                    let (what, at) = match &a.matcher {
                        Some(m) => (format!("`match: {}` has no indexed shape", m.value), self.f.start(m)),
                        None => ("there is no `match:`".to_owned(), self.f.start(&a.kind)),
                    };
                    let note = self
                        .f
                        .at_span(at, format!("this announcement tests every `{}` row of the catalogue for every customer: {what}", kinds.join("`/`")))
                        .with_hint("an equality such as `item.author == customer.favourite_author` (or `customer.x in item.list`) is answered from an index; add one with `and` to make it fast")
                        .with_severity(crate::diag::Severity::Warning);
                    self.err(note);
                }
                (Some(Trigger::Announcement { kinds, matcher, cond, index }), k)
            }
        }
    }
}

/// The largest `usual_gap`: a thousand times a customer's usual gap is past any history.
pub const MAX_USUAL_GAP: f64 = 1000.0;
