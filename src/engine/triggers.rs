//! Trigger detection, pure: a trigger, the purchase or event being handled and the history up
//! to it go in; whether the trigger fired (and the reason, with the values seen) comes out.
//! The per-dialogue memory a trigger needs (Nth-order counts) is passed in and updated.

use crate::dialogue::plan::{Absence, Cond, Trigger};
use crate::expr::eval::{eval, eval_bool};
use crate::expr::{Ctx, History, Val};
use crate::input::table::format_num;
use crate::input::Table;
use crate::model::{format_duration, DAY};

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
    /// Remembered facts and profile updates so far.
    pub mem: &'a crate::expr::eval::Memory,
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
    /// Appends `purchase of product …` (the row, as reasons name it).
    pub describe: &'a dyn Fn(&mut String),
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
                mem: p.mem,
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
        Trigger::Purchase { cond } => fired(holds(cond, p).then(|| {
            let mut reason = String::with_capacity(96);
            (p.describe)(&mut reason);
            reason
        })),
        Trigger::NewCategory { categories, include_first_order, cond } => {
            let cat = p.category;
            let ok = p.new_category
                && (categories.is_empty() || categories.iter().any(|c| c == cat))
                && (*include_first_order || p.order_no > 1)
                && holds(cond, p);
            fired(ok.then(|| {
                let mut reason = String::with_capacity(cat.len() + 128);
                reason.push_str("first purchase in category `");
                reason.push_str(cat);
                reason.push_str("` (");
                (p.describe)(&mut reason);
                reason.push(')');
                reason
            }))
        }
        Trigger::Frequent { values, count, within, cond, .. } => {
            let Some(c) = p.frequent_col.filter(|&c| !tx.str_at(c, r).is_empty()) else { return Detection::Quiet };
            let value = tx.str_at(c, r);
            if !(values.is_empty() || values.iter().any(|v| v == value)) {
                return Detection::Quiet;
            }
            let from = within.map_or(i64::MIN, |w| p.at - w);
            let n = p.hist.same_value_count(c, r, from);
            fired((n == *count as usize && holds(cond, p)).then(|| {
                let w = within.map(|w| format!(" within {}", format_duration(w))).unwrap_or_default();
                format!("{n} purchases of {} `{value}`{w}", tx.names[c])
            }))
        }
        Trigger::Crossing { measure, value, level, cap, target } => {
            let ctx =
                Ctx { now: p.at, event: Some((tx, r)), row: None, customer: p.customer, hist: p.hist, mem: p.mem };
            let after = num(&eval(value, &ctx));
            let ctx_b = Ctx { hist: p.before, ..ctx };
            let before = num(&eval(value, &ctx_b));
            let crossed = before < *level && after >= *level && cap.is_none_or(|c| after < c);
            fired(crossed.then(|| {
                let m = measure;
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
            let mut reason = format!("order #{}", memory.nth_count);
            if let Some(o) = order {
                reason.push_str(" (");
                reason.push_str(&o);
                reason.push(')');
            }
            Detection::Fired(reason)
        }
        Trigger::Absence(a) if p.starts_order => Detection::Arm(absence_due(*a, p.at, p.hist)),
        Trigger::Absence(_) | Trigger::Event { .. } | Trigger::Announcement { .. } => Detection::Quiet,
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
                // (Bounded: a gap past the longest duration would overflow the clock.)
                let gap = (median * factor).round().min(crate::model::MAX_DURATION as f64) as i64;
                Some(t.saturating_add(gap.max(at_least).max(1)))
            }
        }
    }
}

/// The reason an absence timer gives when it fires.
pub fn absence_reason(trigger: Option<&Trigger>, since: i64, due: i64, hist: &History<'_>) -> String {
    // Built piece by piece (one per absence firing, a million in a run), not by `format!`.
    let stamp = crate::input::time::utc_bytes(since);
    let date = std::str::from_utf8(&stamp[..10]).unwrap_or("0000-00-00");
    let mut reason = String::with_capacity(80);
    reason.push_str("no purchase for ");
    reason.push_str(itoa::Buffer::new().format((due - since) / DAY));
    reason.push_str(" days since ");
    reason.push_str(date);
    if let Some(Trigger::Absence(Absence::Usual { factor, .. })) = trigger {
        let median = hist.median_gap_days();
        reason.push_str(" (usual gap ");
        reason.push_str(&format_num((median * 10.0).round() / 10.0));
        reason.push_str(" days, x");
        reason.push_str(&format_num(*factor));
        reason.push(')');
    }
    reason
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::history::{Cols, Scratch};
    use crate::engine::tests::{load_data, plan_for, ts};
    use crate::input::time::format_utc;
    use crate::input::Data;

    fn cols(data: &Data) -> Cols {
        let tx = &data.tx;
        let ev = |n: &str| data.events.as_ref().and_then(|e| e.col(n));
        Cols {
            amount: tx.col("amount"),
            quantity: tx.col("quantity"),
            order_id: tx.col("order_id"),
            category: tx.col("category"),
            product: tx.col("product"),
            ev_type: ev("type"),
            ..Cols::default()
        }
    }

    /// The compiled trigger of a one-step dialogue, checked against the data's columns.
    fn trigger(data: &Data, yaml: &str) -> Trigger {
        let d = format!("trigger:\n  {yaml}\nsteps:\n  - id: s\n    send: {{channel: email, template: t}}\n");
        plan_for(data, &[("d", &d)]).dialogues[0].trigger.clone().unwrap()
    }

    fn day(t: i64) -> String {
        format_utc(t)[..10].to_owned()
    }

    /// Hand the single customer's purchase lines to `on_purchase` in order, as the engine does,
    /// with one memory. One line per detection that is not quiet: `date product: reason` or
    /// `date product: arm date`.
    fn feed(data: &Data, t: &Trigger) -> (Vec<String>, Memory) {
        let tx = &data.tx;
        let c = cols(data);
        let rows = data.people[0].tx.clone();
        let mut s = Scratch::default();
        s.prepare(tx, rows.clone(), &c);
        let mut seen: Vec<&str> = Vec::new();
        let mut memory = Memory::default();
        let mut out = Vec::new();
        for r in rows.clone() {
            let rel = r - rows.start;
            let starts_order = s.starts_order(rel);
            if starts_order {
                s.record_order(tx.ts[r]);
            }
            let category = tx.str_at(c.category.unwrap(), r);
            let product = tx.str_at(c.product.unwrap(), r);
            let det = {
                let hist = s.view(data, &c, rows.start, rows.start..r + 1, 0..0);
                let before = s.view(data, &c, rows.start, rows.start..r, 0..0);
                let describe = |out: &mut String| out.push_str(&format!("row {r}"));
                let p = Purchase {
                    tx,
                    row: r,
                    at: tx.ts[r],
                    hist: &hist,
                    before: &before,
                    customer: None,
                    mem: crate::expr::eval::NO_MEMORY,
                    order_no: s.order_no(rel),
                    starts_order,
                    category,
                    new_category: !category.is_empty() && !seen.contains(&category),
                    frequent_col: match t {
                        Trigger::Frequent { of, .. } => tx.col(of),
                        _ => None,
                    },
                    order_id_col: c.order_id,
                    describe: &describe,
                };
                on_purchase(t, &mut memory, &p)
            };
            if !seen.contains(&category) {
                seen.push(category);
            }
            let at = day(tx.ts[r]);
            match det {
                Detection::Quiet => {}
                Detection::Fired(reason) => out.push(format!("{at} {product}: {reason}")),
                Detection::Arm(due) => out.push(format!("{at} {product}: arm {}", due.map_or("none".to_owned(), day))),
            }
        }
        (out, memory)
    }

    fn fired(tx: &[&str], yaml: &str) -> Vec<String> {
        let data = load_data(tx, &[], None);
        let t = trigger(&data, yaml);
        feed(&data, &t).0
    }

    #[test]
    fn purchase_fires_on_every_line_passing_where() {
        let tx = [
            "C1,2025-01-01,o1,p1,books,50,web",
            "C1,2025-01-02,o2,p2,books,150,store",
            "C1,2025-01-03,o3,p3,books,150,web",
        ];
        assert_eq!(fired(&tx, "purchase: {where: amount >= 100 and channel == \"web\"}"), ["2025-01-03 p3: row 2"]);
        assert_eq!(fired(&tx, "purchase: {}").len(), 3);
    }

    const CATEGORIES: [&str; 5] = [
        "C1,2025-01-01,o1,p1,books,10",
        "C1,2025-01-01,o1,p2,garden,10",
        "C1,2025-01-05,o2,p3,books,10",
        "C1,2025-01-05,o2,p4,toys,10",
        "C1,2025-01-09,o3,p5,toys,10",
    ];

    #[test]
    fn new_category_skips_the_first_order_unless_asked() {
        assert_eq!(
            fired(&CATEGORIES, "new_category: {}"),
            ["2025-01-05 p4: first purchase in category `toys` (row 3)"]
        );
        assert_eq!(
            fired(&CATEGORIES, "new_category: {include_first_order: true}"),
            [
                "2025-01-01 p1: first purchase in category `books` (row 0)",
                "2025-01-01 p2: first purchase in category `garden` (row 1)",
                "2025-01-05 p4: first purchase in category `toys` (row 3)",
            ]
        );
        // `garden` is new only in the first order.
        assert!(fired(&CATEGORIES, "new_category: {categories: [garden]}").is_empty());
        assert_eq!(
            fired(&CATEGORIES, "new_category: {categories: [garden], include_first_order: true}"),
            ["2025-01-01 p2: first purchase in category `garden` (row 1)"]
        );
    }

    #[test]
    fn life_change_counts_the_first_order() {
        assert_eq!(
            fired(&CATEGORIES, "life_change: {categories: [garden, toys]}"),
            [
                "2025-01-01 p2: first purchase in category `garden` (row 1)",
                "2025-01-05 p4: first purchase in category `toys` (row 3)",
            ]
        );
    }

    #[test]
    fn frequent_buyer_fires_when_the_count_within_the_window_is_reached() {
        let tx = [
            "C1,2025-01-01,o1,k1,coffee,10",
            "C1,2025-01-10,o2,k2,coffee,10",
            "C1,2025-01-15,o3,t1,tea,10",
            "C1,2025-02-20,o4,k3,coffee,10",
            "C1,2025-02-25,o5,k4,coffee,10",
            "C1,2025-03-01,o6,t2,tea,10",
            "C1,2025-03-02,o7,k5,coffee,10",
            "C1,2025-03-03,o8,k6,coffee,10",
        ];
        // 02-20 starts a new count (01-10 is 41 days back); 03-02 is the third within 30 days;
        // 03-03 (the fourth) does not fire again.
        assert_eq!(
            fired(&tx, "frequent_buyer: {of: category, count: 3, within: 30d}"),
            ["2025-03-02 k5: 3 purchases of category `coffee` within 30d"]
        );
        // Without a window the third coffee ever fires.
        assert_eq!(
            fired(&tx, "frequent_buyer: {of: category, count: 3}"),
            ["2025-02-20 k3: 3 purchases of category `coffee`"]
        );
        assert!(fired(&tx, "frequent_buyer: {of: category, values: [tea], count: 3}").is_empty());
        assert_eq!(fired(&tx, "frequent_buyer: {of: category, values: [tea], count: 2}").len(), 1);
    }

    #[test]
    fn a_purchase_exactly_within_ago_is_outside_the_window() {
        let tx = ["C1,2025-01-01,o1,k1,coffee,10", "C1,2025-01-15,o2,k2,coffee,10", "C1,2025-01-31,o3,k3,coffee,10"];
        assert!(fired(&tx, "frequent_buyer: {of: category, count: 3, within: 30d}").is_empty());
        assert_eq!(fired(&tx, "frequent_buyer: {of: category, count: 3, within: 31d}").len(), 1);
    }

    #[test]
    fn vip_counts_a_product_within_a_year_by_default() {
        let tx = [
            "C1,2025-01-01,o1,P1,wine,10",
            "C1,2025-01-02,o2,P2,wine,10",
            "C1,2026-01-02,o3,P1,wine,10",
            "C1,2026-02-01,o4,P1,wine,10",
        ];
        assert_eq!(
            fired(&tx, "vip: {of: product, values: [P1], count: 2}"),
            ["2026-02-01 P1: 2 purchases of product `P1` within 365d"]
        );
    }

    #[test]
    fn threshold_fires_on_the_crossing_only() {
        let tx = [
            "C1,2025-01-01,o1,p1,books,60",
            "C1,2025-01-02,o2,p2,books,30",
            "C1,2025-01-03,o3,p3,books,20",
            "C1,2025-01-04,o4,p4,books,50",
        ];
        assert_eq!(
            fired(&tx, "threshold: {measure: spend, reaches: 100}"),
            ["2025-01-03 p3: spend reached 110 (threshold 100, was 90)"]
        );
        assert_eq!(
            fired(&tx, "threshold: {measure: spend, reaches: 90}"),
            ["2025-01-02 p2: spend reached 90 (threshold 90, was 60)"],
            "reaching the level exactly is a crossing"
        );
        assert!(fired(&tx, "threshold: {measure: spend, reaches: 1000}").is_empty(), "never reached");
        assert!(fired(&tx, "threshold: {measure: spend, reaches: 50}").len() == 1, "the first purchase crosses from 0");
    }

    #[test]
    fn a_windowed_threshold_can_fall_back_and_cross_again() {
        let tx = [
            "C1,2025-01-01,o1,p1,books,60",
            "C1,2025-01-10,o2,p2,books,50",
            "C1,2025-02-20,o3,p3,books,40",
            "C1,2025-02-25,o4,p4,books,70",
        ];
        assert_eq!(
            fired(&tx, "threshold: {measure: spend, reaches: 100, within: 30d}"),
            [
                "2025-01-10 p2: spend reached 110 (threshold 100, was 60)",
                "2025-02-25 p4: spend reached 110 (threshold 100, was 40)",
            ]
        );
        let orders = fired(&tx, "threshold: {measure: orders, reaches: 2, where: amount >= 50}");
        assert_eq!(orders, ["2025-01-10 p2: orders reached 2 (threshold 2, was 1)"]);
    }

    #[test]
    fn one_away_fires_one_short_and_not_past_the_target() {
        let tx = [
            "C1,2025-01-01,o1,p1,books,10",
            "C1,2025-01-02,o2,p2,books,10",
            "C1,2025-01-02,o2,p3,books,10",
            "C1,2025-01-03,o3,p4,books,10",
        ];
        assert_eq!(
            fired(&tx, "one_away: {measure: orders, target: 3}"),
            ["2025-01-02 p2: orders reached 2 (1 away from 3)"]
        );
        // A jump straight past the target is not "one away".
        let jump = ["C1,2025-01-01,o1,p1,books,50", "C1,2025-01-02,o2,p2,books,60"];
        assert!(fired(&jump, "one_away: {measure: spend, target: 100, away: 20}").is_empty());
        let near = ["C1,2025-01-01,o1,p1,books,50", "C1,2025-01-02,o2,p2,books,40"];
        assert_eq!(
            fired(&near, "one_away: {measure: spend, target: 100, away: 20}"),
            ["2025-01-02 p2: spend reached 90 (10 away from 100)"]
        );
    }

    #[test]
    fn nth_order_counts_matching_orders_once_per_order() {
        let tx = [
            "C1,2025-01-01,o1,p1,books,10,web",
            "C1,2025-01-02,o2,p2,books,10,store",
            "C1,2025-01-03,o3,p3,books,10,web",
            "C1,2025-01-03,o3,p4,books,10,web",
            "C1,2025-01-04,o4,p5,books,10,web",
        ];
        let data = load_data(&tx, &[], None);
        let t = trigger(&data, "nth_order: {n: [2], where: channel == \"web\"}");
        let (out, memory) = feed(&data, &t);
        assert_eq!(out, ["2025-01-03 p3: order #2 (o3)"]);
        assert_eq!(memory, Memory { nth_count: 3, nth_last_order: 4 });
        assert_eq!(
            fired(&tx, "nth_order: {n: [1, 3]}"),
            ["2025-01-01 p1: order #1 (o1)", "2025-01-03 p3: order #3 (o3)"]
        );
        assert_eq!(fired(&tx, "nth_order: {n: 5}"), Vec::<String>::new(), "four orders, no fifth");
    }

    #[test]
    fn fixed_absence_arms_on_each_order_start() {
        let tx = ["C1,2025-01-01,o1,p1,books,10", "C1,2025-01-01,o1,p2,books,10", "C1,2025-02-10,o2,p3,books,10"];
        assert_eq!(
            fired(&tx, "absence: {after: 30d}"),
            ["2025-01-01 p1: arm 2025-01-31", "2025-02-10 p3: arm 2025-03-12"],
            "the second line of an order re-arms nothing"
        );
    }

    #[test]
    fn usual_absence_waits_for_enough_orders_and_scales_the_median_gap() {
        let tx = ["C1,2025-01-01,o1,p1,books,10", "C1,2025-01-11,o2,p2,books,10", "C1,2025-01-31,o3,p3,books,10"];
        // Gaps 10 and 20 days: median 15, twice that is 30 days.
        assert_eq!(
            fired(&tx, "absence: {usual_gap: 2.0, min_orders: 3}"),
            ["2025-01-01 p1: arm none", "2025-01-11 p2: arm none", "2025-01-31 p3: arm 2025-03-02"]
        );
        // Daily orders: 2 x 1 day is below at_least (7 days by default).
        let daily = ["C1,2025-01-01,o1,p1,books,10", "C1,2025-01-02,o2,p2,books,10", "C1,2025-01-03,o3,p3,books,10"];
        assert_eq!(fired(&daily, "absence: {usual_gap: 2.0}").last().unwrap(), "2025-01-03 p3: arm 2025-01-10");
        assert_eq!(
            fired(&daily, "absence: {usual_gap: 2.0, at_least: 1d}").last().unwrap(),
            "2025-01-03 p3: arm 2025-01-05"
        );
    }

    #[test]
    fn absence_reasons_name_the_days_and_the_usual_gap() {
        let tx = ["C1,2025-01-01,o1,p1,books,10", "C1,2025-01-11,o2,p2,books,10", "C1,2025-01-31,o3,p3,books,10"];
        let data = load_data(&tx, &[], None);
        let c = cols(&data);
        let rows = data.people[0].tx.clone();
        let mut s = Scratch::default();
        s.prepare(&data.tx, rows.clone(), &c);
        for r in rows.clone() {
            s.record_order(data.tx.ts[r]);
        }
        let hist = s.view(&data, &c, rows.start, rows.clone(), 0..0);
        let (since, due) = (ts("2025-01-31"), ts("2025-03-02"));
        let usual = trigger(&data, "absence: {usual_gap: 2.0}");
        assert_eq!(
            absence_reason(Some(&usual), since, due, &hist),
            "no purchase for 30 days since 2025-01-31 (usual gap 15 days, x2)"
        );
        let fixed = trigger(&data, "absence: {after: 30d}");
        assert_eq!(absence_reason(Some(&fixed), since, due, &hist), "no purchase for 30 days since 2025-01-31");
        assert_eq!(absence_due(Absence::Fixed { after: 30 * DAY }, since, &hist), Some(due));
        let Trigger::Absence(a) = usual else { panic!("{usual:?}") };
        assert_eq!(absence_due(a, since, &hist), Some(due));
    }

    #[test]
    fn event_triggers_match_type_and_where() {
        let data = load_data(
            &["C1,2025-01-01,o1,p1,books,10"],
            &["C1,2025-01-02,complaint,,,,,low", "C1,2025-01-03,complaint,,,,,high", "C1,2025-01-04,visit,,,,,high"],
            None,
        );
        let c = cols(&data);
        let t = trigger(&data, "event: {type: complaint, where: severity == \"high\"}");
        let ev = data.events.as_ref().unwrap();
        let mut s = Scratch::default();
        s.prepare(&data.tx, data.people[0].tx.clone(), &c);
        let mut out = Vec::new();
        for r in data.people[0].events.clone() {
            let hist = s.view(&data, &c, 0, 0..1, 0..r + 1);
            let ctx = Ctx {
                now: ev.ts[r],
                event: Some((ev, r)),
                row: Some((ev, r)),
                customer: None,
                hist: &hist,
                mem: crate::expr::eval::NO_MEMORY,
            };
            let kind = ev.str_at(c.ev_type.unwrap(), r);
            out.push(on_event(&t, kind, &ctx));
        }
        assert_eq!(out, [None, Some("event `complaint` on 2025-01-03".to_owned()), None]);
        // Purchase triggers ignore events; event triggers ignore purchases.
        let p = trigger(&data, "purchase: {}");
        let hist = s.view(&data, &c, 0, 0..1, 0..1);
        let ctx = Ctx {
            now: ev.ts[0],
            event: Some((ev, 0)),
            row: Some((ev, 0)),
            customer: None,
            hist: &hist,
            mem: crate::expr::eval::NO_MEMORY,
        };
        assert_eq!(on_event(&p, "complaint", &ctx), None);
        assert!(feed(&data, &t).0.is_empty());
        let a = trigger(&data, "address_change: {}");
        assert_eq!(on_event(&a, "address_change", &ctx), Some("event `address_change` on 2025-01-02".to_owned()));
    }
}
