//! What a message's template sees of the inputs: a row's fields as template values, and the
//! customer's purchase history up to the moment the message is sent.

use std::collections::BTreeSet;
use std::ops::Range;

use minijinja::value::Value;

use crate::expr::eval::nan0;
use crate::input::Table;
use crate::model::{from_micros, to_micros, DAY};
use crate::template::render::local_time;

/// The fields of row `row` of `t` that `needed` names (all of them when `needed` is None):
/// numbers as numbers, text as text, empty cells left out.
pub fn fields<'t>(t: &'t Table, row: usize, needed: Option<&BTreeSet<String>>) -> Vec<(&'t str, Value)> {
    let mut out = Vec::new();
    for (c, name) in t.names.iter().enumerate() {
        if needed.is_some_and(|n| !n.contains(name)) {
            continue;
        }
        let v = match t.num_col(c) {
            Some(col) if col[row].is_nan() => continue,
            Some(col) => Value::from(col[row]),
            None => {
                let s = t.str_at(c, row);
                if s.is_empty() {
                    continue;
                }
                Value::from(s)
            }
        };
        out.push((name.as_str(), v));
    }
    out
}

/// `history.*`: the customer's purchase rows `rows` (in time order) up to `at`.
pub fn history(tx: &Table, rows: Range<usize>, at: i64, tz: chrono_tz::Tz) -> Vec<(&'static str, Value)> {
    let upto = rows.start + tx.ts[rows.clone()].partition_point(|&t| t <= at);
    let rows = rows.start..upto;
    let col = |n: &str| tx.col(n);
    let (amount, product, category, order) = (col("amount"), col("product"), col("category"), col("order_id"));
    let year_ago = at.saturating_sub(365 * DAY);
    let (mut spend, mut spend_year, mut orders) = (0i64, 0i64, 0u64);
    let mut by_category: Vec<(&str, u64)> = Vec::new();
    for r in rows.clone() {
        let a = amount.map_or(0, |c| to_micros(nan0(tx.num_at(c, r))));
        spend = spend.saturating_add(a);
        if tx.ts[r] > year_ago {
            spend_year = spend_year.saturating_add(a);
        }
        orders += u64::from(crate::engine::history::starts_new_order(tx, order, rows.start, r));
        if let Some(c) = category {
            let cat = tx.str_at(c, r);
            if !cat.is_empty() {
                match by_category.iter_mut().find(|(k, _)| *k == cat) {
                    Some((_, n)) => *n += 1,
                    None => by_category.push((cat, 1)),
                }
            }
        }
    }
    let mut out: Vec<(&'static str, Value)> = vec![
        ("orders", Value::from(orders)),
        ("lines", Value::from(rows.len())),
        ("spend", Value::from(from_micros(spend))),
        ("spend_365d", Value::from(from_micros(spend_year))),
    ];
    if rows.is_empty() {
        return out;
    }
    let (first, last) = (rows.start, rows.end - 1);
    out.push(("first_purchase_at", local_time(tx.ts[first], Some(tz))));
    out.push(("last_purchase_at", local_time(tx.ts[last], Some(tz))));
    out.push(("days_since_last_purchase", Value::from((at - tx.ts[last]).max(0) / DAY)));
    if let Some(c) = product {
        out.push(("last_product", Value::from(tx.str_at(c, last))));
    }
    if let Some(c) = category {
        out.push(("last_category", Value::from(tx.str_at(c, last))));
    }
    // Most lines; a tie goes to the name first in order, so it never depends on row order.
    if let Some((cat, _)) = by_category.iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0))) {
        out.push(("favourite_category", Value::from(*cat)));
    }
    out
}
