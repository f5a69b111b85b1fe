//! What a message's template sees of the inputs: a row's fields as template values, and the
//! customer's purchase history up to the moment the message is sent.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Range;

use minijinja::value::Value;

use crate::expr::eval::nan0;
use crate::input::Table;
use crate::model::{from_micros, to_micros, DAY};
use crate::template::fast::{number_value, Val};
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
            Some(col) => number_value(col[row]),
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

/// A cell as the fast path sees it: numbers as numbers (a missing number is missing), text
/// as text (empty text counts as missing in a record).
pub fn cell(t: &Table, col: usize, row: usize) -> Val<'_> {
    match t.num_col(col) {
        Some(c) if c[row].is_nan() => Val::Undef,
        Some(c) => Val::number(c[row]),
        None => Val::Str(Cow::Borrowed(t.str_at(col, row))),
    }
}

/// `history.*`: what a customer's purchases up to an instant say.
#[derive(Debug, Clone)]
pub struct History<'t> {
    orders: u64,
    lines: usize,
    spend: i128,
    spend_year: i128,
    /// Of the purchases' last row, when there is one.
    last: Option<Last<'t>>,
    tz: chrono_tz::Tz,
}

#[derive(Debug, Clone)]
struct Last<'t> {
    first_at: i64,
    last_at: i64,
    days_since: i64,
    product: Option<&'t str>,
    category: Option<&'t str>,
    favourite: Option<&'t str>,
}

/// `history.*`: the customer's purchase rows `rows` (in time order) up to `at`.
pub fn history(tx: &Table, rows: Range<usize>, at: i64, tz: chrono_tz::Tz) -> Vec<(&'static str, Value)> {
    history_of(tx, rows, at, tz).vars()
}

/// The customer's purchase rows `rows` (in time order) up to `at`, summed up.
pub fn history_of(tx: &Table, rows: Range<usize>, at: i64, tz: chrono_tz::Tz) -> History<'_> {
    let upto = rows.start + tx.ts[rows.clone()].partition_point(|&t| t <= at);
    let rows = rows.start..upto;
    let col = |n: &str| tx.col(n);
    let (amount, product, category, order) = (col("amount"), col("product"), col("category"), col("order_id"));
    let year_ago = at.saturating_sub(365 * DAY);
    let (mut spend, mut spend_year, mut orders) = (0i128, 0i128, 0u64);
    let mut by_category: Vec<(&str, u64)> = Vec::new();
    for r in rows.clone() {
        let a = amount.map_or(0, |c| to_micros(nan0(tx.num_at(c, r))));
        spend += a;
        if tx.ts[r] > year_ago {
            spend_year += a;
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
    let last = (!rows.is_empty()).then(|| {
        let (first, last) = (rows.start, rows.end - 1);
        Last {
            first_at: tx.ts[first],
            last_at: tx.ts[last],
            days_since: (at - tx.ts[last]).max(0) / DAY,
            product: product.map(|c| tx.str_at(c, last)),
            category: category.map(|c| tx.str_at(c, last)),
            // Most lines; a tie goes to the name first in order, so it never depends on row order.
            favourite: by_category.iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0))).map(|(c, _)| *c),
        }
    });
    History { orders, lines: rows.len(), spend, spend_year, last, tz }
}

impl<'t> History<'t> {
    /// The fields as template values, in `HISTORY_FIELDS` order (those there are).
    pub fn vars(&self) -> Vec<(&'static str, Value)> {
        let mut out: Vec<(&'static str, Value)> = vec![
            ("orders", Value::from(self.orders)),
            ("lines", Value::from(self.lines)),
            ("spend", number_value(from_micros(self.spend))),
            ("spend_365d", number_value(from_micros(self.spend_year))),
        ];
        let Some(l) = &self.last else { return out };
        out.push(("first_purchase_at", local_time(l.first_at, Some(self.tz))));
        out.push(("last_purchase_at", local_time(l.last_at, Some(self.tz))));
        out.push(("days_since_last_purchase", Value::from(l.days_since)));
        if let Some(p) = l.product {
            out.push(("last_product", Value::from(p)));
        }
        if let Some(c) = l.category {
            out.push(("last_category", Value::from(c)));
        }
        if let Some(c) = l.favourite {
            out.push(("favourite_category", Value::from(c)));
        }
        out
    }

    /// Field `name` for the fast path (the same values as `vars`).
    pub fn get(&self, name: &str) -> Val<'t> {
        let l = self.last.as_ref();
        let time = |t: i64| Val::time(t, self.tz);
        let text = |s: Option<&'t str>| s.map_or(Val::Undef, |s| Val::Str(Cow::Borrowed(s)));
        match name {
            "orders" => Val::U64(self.orders),
            "lines" => Val::U64(self.lines as u64),
            "spend" => Val::number(from_micros(self.spend)),
            "spend_365d" => Val::number(from_micros(self.spend_year)),
            "first_purchase_at" => l.map_or(Val::Undef, |l| time(l.first_at)),
            "last_purchase_at" => l.map_or(Val::Undef, |l| time(l.last_at)),
            "days_since_last_purchase" => l.map_or(Val::Undef, |l| Val::I64(l.days_since)),
            "last_product" => text(l.and_then(|l| l.product)),
            "last_category" => text(l.and_then(|l| l.category)),
            "favourite_category" => text(l.and_then(|l| l.favourite)),
            _ => Val::Undef,
        }
    }
}
