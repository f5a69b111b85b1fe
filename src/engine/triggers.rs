//! Trigger detection, pure: a trigger, the purchase or event being handled and the history up
//! to it go in; whether the trigger fired (and the reason, with the values seen) comes out.
//! The per-dialogue memory a trigger needs (Nth-order counts) is passed in and updated.

use crate::dialogue::plan::{Absence, Cond, Trigger};
use crate::expr::eval::{eval, eval_bool};
use crate::expr::{Ctx, History, Val};
use crate::input::table::format_num;
use crate::input::Table;
use crate::model::{format_duration, Closed, DAY};

/// What a trigger remembers between purchases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub nth_count: u32,
    pub nth_last_order: u32,
}

/// The purchase line being handled and what is known at that moment.
pub struct Purchase<'a> {
    pub tx: &'a Table,
    pub row: usize,
    pub at: i64,
    /// History including this row.
    pub hist: &'a History<'a>,
    /// History up to (not including) this row, for crossings.
    pub before: &'a History<'a>,
    pub customer: Option<(&'a Table, usize)>,
    /// The ordinal of this row's order for the customer (1-based).
    pub order_no: u32,
    /// This row is the first line of its order.
    pub starts_order: bool,
    /// The row's category, and whether the customer has never bought it before.
    pub category: &'a str,
    pub new_category: bool,
    /// The column a frequent-buyer trigger counts, resolved once.
    pub frequent_col: Option<usize>,
    pub order_id_col: Option<usize>,
    /// A short description of the row (product, category, order).
    pub describe: &'a dyn Fn() -> String,
}

/// What a purchase does to a trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Detection {
    Quiet,
    Fired(String),
    /// An absence trigger: (re)arm its timer at this time (None: not enough history yet).
    Arm(Option<i64>),
}

fn holds(cond: &Option<Cond>, p: &Purchase<'_>) -> bool {
    match cond {
        None => true,
        Some(c) => {
            let ctx = Ctx {
                now: p.at,
                event: Some((p.tx, p.row)),
                row: Some((p.tx, p.row)),
                customer: p.customer,
                hist: p.hist,
            };
            eval_bool(&c.ir, &ctx)
        }
    }
}

fn num(v: &Val<'_>) -> f64 {
    match v {
        Val::Num(x) => *x,
        _ => f64::NAN,
    }
}

/// Does `trigger` fire on this purchase line?
pub fn on_purchase(trigger: &Trigger, memory: &mut Memory, p: &Purchase<'_>) -> Detection {
    let tx = p.tx;
    let r = p.row;
    let fired = |reason: Option<String>| reason.map_or(Detection::Quiet, Detection::Fired);
    match trigger {
        Trigger::Purchase { cond } => fired(holds(cond, p).then(|| (p.describe)())),
        Trigger::NewCategory { categories, include_first_order, cond } => {
            let cat = p.category;
            let ok = p.new_category
                && (categories.is_empty() || categories.iter().any(|c| c == cat))
                && (*include_first_order || p.order_no > 1)
                && holds(cond, p);
            fired(ok.then(|| format!("first purchase in category `{cat}` ({})", (p.describe)())))
        }
        Trigger::Frequent { values, count, within, cond, .. } => {
            let Some(c) = p.frequent_col.filter(|&c| !tx.str_at(c, r).is_empty()) else { return Detection::Quiet };
            let value = tx.str_at(c, r);
            if !(values.is_empty() || values.iter().any(|v| v == value)) {
                return Detection::Quiet;
            }
            let from = within.map_or(i64::MIN, |w| p.at - w);
            let n = (p.hist.rows.start..=r)
                .rev()
                .take_while(|&k| tx.ts[k] > from)
                .filter(|&k| tx.same_text(c, k, r))
                .count();
            fired((n == *count as usize && holds(cond, p)).then(|| {
                let w = within.map(|w| format!(" within {}", format_duration(w))).unwrap_or_default();
                format!("{n} purchases of {} `{value}`{w}", tx.names[c])
            }))
        }
        Trigger::Crossing { measure, value, level, cap, target } => {
            let ctx = Ctx { now: p.at, event: Some((tx, r)), row: None, customer: p.customer, hist: p.hist };
            let after = num(&eval(value, &ctx));
            let ctx_b = Ctx { hist: p.before, ..ctx };
            let before = num(&eval(value, &ctx_b));
            let crossed = before < *level && after >= *level && cap.is_none_or(|c| after < c);
            fired(crossed.then(|| {
                let m = measure.name();
                if cap.is_some() {
                    format!(
                        "{m} reached {} ({} away from {})",
                        format_num(after),
                        format_num(target - after),
                        format_num(*target)
                    )
                } else {
                    format!(
                        "{m} reached {} (threshold {}, was {})",
                        format_num(after),
                        format_num(*level),
                        format_num(before)
                    )
                }
            }))
        }
        Trigger::NthOrder { n, cond } => {
            if !holds(cond, p) || memory.nth_last_order == p.order_no {
                return Detection::Quiet;
            }
            memory.nth_last_order = p.order_no;
            memory.nth_count += 1;
            if !n.contains(&memory.nth_count) {
                return Detection::Quiet;
            }
            let order = p.order_id_col.map(|c| tx.text_at(c, r)).filter(|o| !o.is_empty());
            Detection::Fired(format!(
                "order #{}{}",
                memory.nth_count,
                order.map(|o| format!(" ({o})")).unwrap_or_default()
            ))
        }
        Trigger::Absence(a) if p.starts_order => Detection::Arm(absence_due(*a, p.at, p.hist)),
        Trigger::Absence(_) | Trigger::Event { .. } => Detection::Quiet,
    }
}

/// When an absence trigger armed by an order at `t` fires if no purchase comes first.
pub fn absence_due(a: Absence, t: i64, hist: &History<'_>) -> Option<i64> {
    match a {
        Absence::Fixed { after } => Some(t + after),
        Absence::Usual { factor, min_orders, at_least } => {
            if (hist.order_ts.len() as u32) < min_orders {
                None
            } else {
                let median = hist.median_gap_days() * DAY as f64;
                Some(t + ((median * factor).round() as i64).max(at_least).max(1))
            }
        }
    }
}

/// The reason an absence timer gives when it fires.
pub fn absence_reason(trigger: Option<&Trigger>, since: i64, due: i64, hist: &History<'_>) -> String {
    let date = &crate::input::time::format_utc(since)[..10];
    let days = (due - since) / DAY;
    match trigger {
        Some(Trigger::Absence(Absence::Usual { factor, .. })) => {
            let median = hist.median_gap_days();
            format!(
                "no purchase for {days} days since {date} (usual gap {} days, x{})",
                format_num((median * 10.0).round() / 10.0),
                format_num(*factor)
            )
        }
        _ => format!("no purchase for {days} days since {date}"),
    }
}

/// Does an event trigger fire on this event row?
pub fn on_event(trigger: &Trigger, kind: &str, ctx: &Ctx<'_>) -> Option<String> {
    let Trigger::Event { kind: want, cond } = trigger else { return None };
    if want != kind {
        return None;
    }
    let ok = cond.as_ref().is_none_or(|c| eval_bool(&c.ir, ctx));
    ok.then(|| format!("event `{kind}` on {}", &crate::input::time::format_utc(ctx.now)[..10]))
}
