//! Evaluating compiled conditions against one moment of one customer's timeline.

use std::borrow::Cow;
use std::ops::Range;

use crate::input::Table;
use crate::model::{from_micros, to_micros};

use super::compile::{Fact, Func, Ir, Measure, RfmCuts, Scope};
use super::parse::BinOp;

#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Num(f64),
    Str(Cow<'a, str>),
    Bool(bool),
}

impl Val<'_> {
    pub fn truthy(&self) -> bool {
        matches!(self, Val::Bool(true))
    }
    fn num(&self) -> f64 {
        match self {
            Val::Num(v) => *v,
            _ => f64::NAN,
        }
    }
    pub fn render(&self) -> String {
        match self {
            Val::Num(v) if v.is_nan() => "(none)".to_owned(),
            Val::Num(v) => crate::input::table::format_num(*v),
            Val::Str(s) => format!("{s:?}"),
            Val::Bool(b) => b.to_string(),
        }
    }
}

/// A customer's purchase history up to the current moment, with prefix sums for fast windows.
pub struct History<'a> {
    pub tx: &'a Table,
    /// Rows of the customer processed so far.
    pub rows: Range<usize>,
    /// Prefix sums of spend and units over the customer's rows, built on first use.
    pub sums: &'a Sums,
    pub cum_orders: &'a [u32],
    /// Per row (from the customer's first): does it start a new order?
    pub order_start: &'a [bool],
    pub first_row: usize,
    pub events: Option<&'a Table>,
    pub ev_rows: Range<usize>,
    pub ev_type_col: Option<usize>,
    /// The median of the gaps in seconds between consecutive orders so far.
    pub gaps: &'a GapMedian,
    /// Timestamps of the customer's orders so far.
    pub order_ts: &'a [i64],
    /// The `amount` and `quantity` columns of `tx`, resolved once by the evaluator.
    pub amount_col: Option<usize>,
    pub quantity_col: Option<usize>,
    /// Prefix sums of filtered history functions, built on first use for this customer.
    pub filters: &'a FilterCache,
    /// The customer's rows (all of them, processed or not), for building those sums.
    pub all_rows: Range<usize>,
    /// Per column asked: where each value recurs among the customer's rows.
    pub same: &'a SameValues,
}

/// Per customer and column: for each row, its value's id and how many earlier rows hold it,
/// and for each value the rows that hold it (in time order). Built on first use, so
/// `frequent_buyer` counts a value's purchases in a window in O(log n), not by a scan of it.
#[derive(Debug, Default)]
pub struct SameValues(std::cell::RefCell<Vec<(usize, SameIndex)>>);

#[derive(Debug, Default)]
struct SameIndex {
    value_of: Vec<u32>,
    rank: Vec<u32>,
    rows: Vec<Vec<u32>>,
}

/// Up to this many rows a customer's repeats are counted by a scan (`same_value_count`).
const SCAN_ROWS: usize = 64;

impl SameValues {
    pub fn clear(&mut self) {
        self.0.get_mut().clear();
    }
}

/// Per customer: prefix sums of `amount` and of units (`quantity`, 1 where it is missing) over
/// all their rows, indexed from their first row (a leading 0), exact in micro-units
/// (`crate::model::to_micros`). Built the first time a spend or units measure asks: a run
/// whose dialogues never ask (or not for this customer) never reads the two columns.
#[derive(Debug, Default)]
pub struct Sums(std::cell::RefCell<SumsInner>);

/// Both empty until built (built, each holds at least its leading 0).
#[derive(Debug, Default)]
struct SumsInner {
    amount: Vec<i128>,
    units: Vec<i128>,
}

impl Sums {
    /// Forget the last customer's sums (their room is kept).
    pub fn clear(&mut self) {
        let s = self.0.get_mut();
        s.amount.clear();
        s.units.clear();
    }
}

impl SumsInner {
    fn build(&mut self, h: &History<'_>) {
        self.amount.push(0);
        self.units.push(0);
        let (mut amount, mut units) = (0i128, 0i128);
        for r in h.all_rows.clone() {
            amount += to_micros(h.amount_col.map_or(0.0, |a| nan0(h.tx.num_at(a, r))));
            units += to_micros(unit_count(h, r));
            self.amount.push(amount);
            self.units.push(units);
        }
    }
}

/// Per customer: for each history filter that reads only the past purchase and the profile
/// (not the current event), prefix sums over the customer's rows, so `spend(3650d, category
/// == "wine")` costs O(log n) per evaluation instead of a scan of the window.
#[derive(Debug, Default)]
/// Keyed by (the filter's address, 0 for none; the column summed for a column measure; for a
/// filter that reads the current event, the values it reads of it).
pub struct FilterCache(std::cell::RefCell<Vec<(SumsKey, Option<FilterSums>)>>, std::cell::RefCell<Vec<(usize, Reads)>>);

/// What a filter reads of the moment, worked out once per filter (by its address).
#[derive(Debug)]
enum Reads {
    /// Only the past row and the profile: summed once.
    Nothing,
    /// The current event only through these fields: summed per value of them.
    Fields(Vec<(Scope, usize)>),
    /// History, facts or scores as well: scanned.
    Other,
}

type SumsKey = (usize, Option<usize>, Option<Box<[u8]>>);

/// How many sets of sums are kept per filter that reads the current event (one per distinct
/// value of the event fields it reads): as many as fit `EVENT_ROWS` rows of sums (40 bytes a
/// row: 160 MB), at least 8; past them, the window is scanned, as for any value.
const EVENT_ROWS: usize = 4_000_000;
const EVENT_KEYS_MIN: usize = 8;

impl FilterCache {
    pub fn clear(&mut self) {
        self.0.get_mut().clear();
        self.1.get_mut().clear();
    }
}

/// Cumulative totals over the rows matching one filter, indexed from the customer's first row.
#[derive(Debug)]
pub struct FilterSums {
    lines: Vec<u32>,
    /// Rows that are the first matching row of their order.
    orders: Vec<u32>,
    /// `amount`, or for a column measure that column.
    spend: Vec<i128>,
    units: Vec<i128>,
}

/// The current event's fields a filter reads, if they are all it reads of the moment (no
/// history, facts or scores): its result for a row depends only on their values, so sums built
/// for one event serve every event with the same values (`category == event.category`).
fn event_fields(ir: &Ir) -> Option<Vec<(Scope, usize)>> {
    let mut fields = Vec::new();
    let other = ir.any(|n| match n {
        Ir::Field { scope: scope @ (Scope::Event | Scope::Item), col, .. } => {
            if !fields.contains(&(*scope, *col)) {
                fields.push((*scope, *col));
            }
            false
        }
        Ir::Hist { .. } | Ir::Events { .. } | Ir::Fact(_) | Ir::Rfm(..) | Ir::Remembered(_) => true,
        _ => false,
    });
    (!other).then_some(fields)
}

/// The values of `fields` in the current event, as a cache key (text as it is, numbers by
/// their bits; each ended by a byte UTF-8 never holds).
fn event_key(ctx: &Ctx<'_>, fields: &[(Scope, usize)]) -> Option<Box<[u8]>> {
    let (t, r) = ctx.event?;
    // Which table the event is a row of (a follow-on started by a purchase reads a
    // transaction as its event); a column it lacks is read as `eval` reads it, by a scan.
    let mut key = vec![t.kind as u8];
    for &(_, col) in fields {
        if col >= t.cols.len() {
            return None;
        }
        match t.num_col(col) {
            Some(v) => key.extend(v[r].to_bits().to_le_bytes()),
            None => key.extend(t.str_at(col, r).as_bytes()),
        }
        key.push(0xff);
    }
    Some(key.into())
}

/// Does the filter read the current event (or a remembered fact, which changes as the replay
/// goes)? Then it cannot be summed ahead of time.
fn reads_event(ir: &Ir) -> bool {
    ir.any(|n| {
        matches!(
            n,
            Ir::Field { scope: Scope::Event | Scope::Item, .. }
                | Ir::Hist { .. }
                | Ir::Events { .. }
                | Ir::Fact(_)
                | Ir::Rfm(..)
                | Ir::Remembered(_)
        )
    })
}

impl History<'_> {
    /// How many of the customer's rows up to `r` (itself included) hold row `r`'s value of
    /// column `c` (text as it is) and are later than `from`.
    pub fn same_value_count(&self, c: usize, r: usize, from: i64) -> usize {
        // A customer of a few rows (nearly all) is scanned: building the index would cost
        // more than it saves.
        if self.all_rows.len() <= SCAN_ROWS {
            return (self.all_rows.start..=r)
                .rev()
                .take_while(|&k| self.tx.ts[k] > from)
                .filter(|&k| self.tx.same_text(c, k, r))
                .count();
        }
        let mut cache = self.same.0.borrow_mut();
        let pos = match cache.iter().position(|(col, _)| *col == c) {
            Some(p) => p,
            None => {
                let mut ids: rustc_hash::FxHashMap<&str, u32> = rustc_hash::FxHashMap::default();
                let mut ix = SameIndex::default();
                for (rel, row) in self.all_rows.clone().enumerate() {
                    let next = ids.len() as u32;
                    let v = *ids.entry(self.tx.str_at(c, row)).or_insert(next);
                    if v == next {
                        ix.rows.push(Vec::new());
                    }
                    ix.value_of.push(v);
                    ix.rank.push(ix.rows[v as usize].len() as u32);
                    ix.rows[v as usize].push(rel as u32);
                }
                cache.push((c, ix));
                cache.len() - 1
            }
        };
        let ix = &cache[pos].1;
        let rel = r - self.all_rows.start;
        let rows = &ix.rows[ix.value_of[rel] as usize];
        let upto = &rows[..=ix.rank[rel] as usize];
        // Rows are in time order: those at or before `from` come first.
        let out = upto.partition_point(|&k| self.tx.ts[self.all_rows.start + k as usize] <= from);
        upto.len() - out
    }

    fn window_start(&self, now: i64, window: Option<i64>) -> usize {
        match window {
            None => self.rows.start,
            Some(w) => {
                let ts = &self.tx.ts[self.rows.clone()];
                self.rows.start + ts.partition_point(|&t| t <= now - w)
            }
        }
    }

    /// Number of lines / orders / spend / units in the window ending now.
    pub fn measure(&self, m: Measure, now: i64, window: Option<i64>) -> f64 {
        let lo = self.window_start(now, window) - self.first_row;
        let hi = self.rows.end - self.first_row;
        match m {
            Measure::Purchases => (hi - lo) as f64,
            Measure::Orders => {
                // A window can start inside an order; count that order once.
                let partial = usize::from(lo < hi && !self.order_start[lo]);
                f64::from(self.cum_orders[hi] - self.cum_orders[lo]) + partial as f64
            }
            Measure::Spend | Measure::Units => {
                let mut s = self.sums.0.borrow_mut();
                if s.amount.is_empty() {
                    s.build(self);
                }
                let v = if m == Measure::Spend { &s.amount } else { &s.units };
                from_micros(v[hi] - v[lo])
            }
            Measure::Column(c) => {
                // Prefix sums of the column over all the customer's rows, built on first use.
                let key = (0, Some(c), None);
                let mut cache = self.filters.0.borrow_mut();
                let pos = match cache.iter().position(|(k, _)| *k == key) {
                    Some(p) => p,
                    None => {
                        cache.push((key, Some(build_sums(self, None, Some(c)))));
                        cache.len() - 1
                    }
                };
                cache[pos].1.as_ref().map_or(0.0, |s| from_micros(s.spend[hi] - s.spend[lo]))
            }
        }
    }

    pub fn median_gap_days(&self) -> f64 {
        self.gaps.median().map_or(f64::NAN, |secs| secs / 86_400.0)
    }
}

/// The median of a customer's gaps between orders so far, kept as orders come: the lower
/// half in a max-heap, the upper half in a min-heap (the lower holds the odd one out).
/// O(log n) an order; a sorted `Vec` with an insert was O(n), so a customer with 300,000
/// orders (a "guest" catch-all id) took seconds, and time grew with the square of orders.
#[derive(Default, Debug)]
pub struct GapMedian {
    low: std::collections::BinaryHeap<i64>,
    high: std::collections::BinaryHeap<std::cmp::Reverse<i64>>,
}

impl GapMedian {
    pub fn clear(&mut self) {
        self.low.clear();
        self.high.clear();
    }

    pub fn push(&mut self, gap: i64) {
        match self.low.peek() {
            Some(&top) if gap > top => self.high.push(std::cmp::Reverse(gap)),
            _ => self.low.push(gap),
        }
        if self.low.len() > self.high.len() + 1 {
            if let Some(g) = self.low.pop() {
                self.high.push(std::cmp::Reverse(g));
            }
        } else if self.high.len() > self.low.len() {
            if let Some(std::cmp::Reverse(g)) = self.high.pop() {
                self.low.push(g);
            }
        }
    }

    /// The median gap in seconds (the mean of the middle two for an even count); None
    /// before a second order.
    pub fn median(&self) -> Option<f64> {
        let &lo = self.low.peek()?;
        Some(if self.low.len() > self.high.len() {
            lo as f64
        } else {
            let hi = self.high.peek().map_or(lo, |r| r.0);
            (lo + hi) as f64 / 2.0
        })
    }
}

pub struct Ctx<'a> {
    pub now: i64,
    pub event: Option<(&'a Table, usize)>,
    pub row: Option<(&'a Table, usize)>,
    pub customer: Option<(&'a Table, usize)>,
    pub hist: &'a History<'a>,
    /// What the customer said and changed so far: remembered facts, updated profile fields.
    pub mem: &'a Memory,
}

/// What a customer's replay has learnt so far.
#[derive(Debug, Default, Clone)]
pub struct Memory {
    /// Remembered facts, by index into the plan's fact names; None until remembered.
    pub facts: Vec<Option<Box<str>>>,
    /// Profile fields changed by `profile_update` events: (customers column, new text).
    pub profile: Vec<(usize, Box<str>)>,
}

/// A memory that holds nothing (no facts, no profile updates).
pub const NO_MEMORY: &Memory = &Memory { facts: Vec::new(), profile: Vec::new() };

impl Memory {
    /// The updated text of profile column `col`, if an update changed it.
    pub fn profile_field(&self, col: usize) -> Option<&str> {
        self.profile.iter().rev().find(|(c, _)| *c == col).map(|(_, v)| &**v)
    }

    pub fn set_profile(&mut self, col: usize, value: &str) {
        match self.profile.iter_mut().find(|(c, _)| *c == col) {
            Some((_, v)) => *v = value.into(),
            None => self.profile.push((col, value.into())),
        }
    }
}

pub fn eval_bool(ir: &Ir, ctx: &Ctx<'_>) -> bool {
    eval(ir, ctx).truthy()
}

pub fn eval<'a>(ir: &'a Ir, ctx: &Ctx<'a>) -> Val<'a> {
    match ir {
        Ir::Num(v) => Val::Num(*v),
        Ir::Str(s) => Val::Str(Cow::Borrowed(s)),
        Ir::Bool(b) => Val::Bool(*b),
        Ir::Field { scope, col, ty } => {
            let at = match scope {
                // An announcement's catalogue row is its event.
                Scope::Event | Scope::Item => ctx.event,
                Scope::Row => ctx.row,
                Scope::Customer => ctx.customer,
            };
            if *scope == Scope::Customer {
                if let Some(v) = ctx.mem.profile_field(*col) {
                    return match ty {
                        crate::input::ColType::Num => Val::Num(v.trim().parse().unwrap_or(f64::NAN)),
                        crate::input::ColType::Str => Val::Str(Cow::Borrowed(v)),
                    };
                }
            }
            match (at, ty) {
                (Some((t, r)), crate::input::ColType::Num) => Val::Num(t.num_at(*col, r)),
                (Some((t, r)), crate::input::ColType::Str) if *col < t.cols.len() => {
                    Val::Str(Cow::Borrowed(t.str_at(*col, r)))
                }
                (_, crate::input::ColType::Num) => Val::Num(f64::NAN),
                _ => Val::Str(Cow::Borrowed("")),
            }
        }
        Ir::Hist { measure, window, filter: None } => Val::Num(ctx.hist.measure(*measure, ctx.now, *window)),
        Ir::Hist { measure, window, filter: Some(f) } => Val::Num(filtered(ctx, *measure, *window, f)),
        Ir::Events { kind, window } => {
            let h = ctx.hist;
            let (Some(t), Some(col)) = (h.events, h.ev_type_col) else {
                return Val::Num(0.0);
            };
            let from = window.map_or(i64::MIN, |w| ctx.now - w);
            let n = h.ev_rows.clone().filter(|&r| t.ts[r] > from && t.str_at(col, r) == kind.as_ref()).count();
            Val::Num(n as f64)
        }
        Ir::Remembered(i) => Val::Str(Cow::Borrowed(ctx.mem.facts.get(*i).and_then(|v| v.as_deref()).unwrap_or(""))),
        Ir::Fact(f) => {
            let h = ctx.hist;
            let day = 86_400.0;
            Val::Num(match f {
                Fact::DaysSinceLastPurchase => {
                    // The latest order before the current one: at a purchase, "since last" means
                    // the gap this purchase closes.
                    let prior = h.order_ts.iter().rev().find(|&&t| t < ctx.now);
                    prior.map_or(f64::NAN, |&t| ((ctx.now - t) as f64 / day).floor())
                }
                Fact::DaysSinceFirstPurchase => {
                    h.order_ts.first().map_or(f64::NAN, |&t| ((ctx.now - t) as f64 / day).floor())
                }
                Fact::MedianGapDays => h.median_gap_days(),
                _ => f64::NAN,
            })
        }
        Ir::Rfm(f, cuts) => Val::Num(rfm(*f, cuts, ctx)),
        Ir::Call(func, args) => call(*func, args, ctx),
        Ir::Not(x) => Val::Bool(!eval_bool(x, ctx)),
        Ir::Neg(x) => Val::Num(-eval(x, ctx).num()),
        Ir::And(a, b) => Val::Bool(eval_bool(a, ctx) && eval_bool(b, ctx)),
        Ir::Or(a, b) => Val::Bool(eval_bool(a, ctx) || eval_bool(b, ctx)),
        Ir::Cmp(op @ (BinOp::Eq | BinOp::Ne), a, b) => {
            // Equality alone: `==` looks at lengths before bytes (`category == "travel"` on
            // every purchase of a run), where an ordering compares bytes first. Values of
            // different kinds, or NaN, are unequal (the ordering below has no order for them).
            let eq = match (eval(a, ctx), eval(b, ctx)) {
                (Val::Num(x), Val::Num(y)) => x == y,
                (Val::Str(x), Val::Str(y)) => x == y,
                (Val::Bool(x), Val::Bool(y)) => x == y,
                _ => false,
            };
            Val::Bool(eq == (*op == BinOp::Eq))
        }
        Ir::Cmp(op, a, b) => {
            let (a, b) = (eval(a, ctx), eval(b, ctx));
            let ord = match (&a, &b) {
                (Val::Num(x), Val::Num(y)) => x.partial_cmp(y),
                (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
                (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
                _ => None,
            };
            // (`==` and `!=` are the arm above.)
            Val::Bool(match (op, ord) {
                (_, None) => false,
                (BinOp::Lt, Some(o)) => o.is_lt(),
                (BinOp::Le, Some(o)) => o.is_le(),
                (BinOp::Gt, Some(o)) => o.is_gt(),
                (BinOp::Ge, Some(o)) => o.is_ge(),
                _ => false,
            })
        }
        Ir::Arith(op, a, b) => {
            let (a, b) = (eval(a, ctx).num(), eval(b, ctx).num());
            // As decimals: `item.old_price - item.price` of 19.99 and 9.99 is 10, not 9.99…98.
            use super::decimal;
            Val::Num(match op {
                BinOp::Add => decimal::add(a, b),
                BinOp::Sub => decimal::sub(a, b),
                BinOp::Mul => decimal::mul(a, b),
                BinOp::Div if b == 0.0 => f64::NAN,
                BinOp::Div => decimal::div(a, b),
                BinOp::Rem if b == 0.0 => f64::NAN,
                BinOp::Rem => decimal::rem(a, b),
                _ => f64::NAN,
            })
        }
        Ir::InNum(v, list, negated) => {
            let v = eval(v, ctx).num();
            Val::Bool(list.contains(&v) != *negated)
        }
        Ir::InText(v, hay, negated) => {
            let (v, hay) = (eval(v, ctx), eval(hay, ctx));
            let hit = match (&v, &hay) {
                (Val::Str(v), Val::Str(h)) => list_items(h).any(|x| x == v.as_ref()),
                _ => false,
            };
            Val::Bool(hit != *negated)
        }
        Ir::InStr(v, list, negated) => {
            let v = eval(v, ctx);
            let hit = match &v {
                Val::Str(s) => list.iter().any(|x| x.as_ref() == s.as_ref()),
                _ => false,
            };
            Val::Bool(hit != *negated)
        }
    }
}

/// The items of text holding a list: `|`-separated, trimmed, empty ones skipped.
pub fn list_items(text: &str) -> impl Iterator<Item = &str> {
    text.split('|').map(str::trim).filter(|s| !s.is_empty())
}

/// A score from 1 to 5: one more for each cut point passed (for recency, each one undercut).
fn score(v: f64, cuts: &[f64; 4], lower_is_better: bool) -> f64 {
    if v.is_nan() {
        return 1.0;
    }
    let passed = if lower_is_better {
        cuts.iter().filter(|&&c| v <= c).count()
    } else {
        cuts.iter().filter(|&&c| v >= c).count()
    };
    1.0 + passed as f64
}

fn rfm(f: Fact, cuts: &RfmCuts, ctx: &Ctx<'_>) -> f64 {
    let h = ctx.hist;
    let year = Some(365 * 86_400);
    let r = || {
        let last = h.order_ts.last().copied();
        score(last.map_or(f64::NAN, |t| ((ctx.now - t) as f64 / 86_400.0).floor()), &cuts.recency_days, true)
    };
    let fr = || score(h.measure(Measure::Orders, ctx.now, year), &cuts.frequency, false);
    let m = || score(h.measure(Measure::Spend, ctx.now, year), &cuts.monetary, false);
    match f {
        Fact::Recency => r(),
        Fact::Frequency => fr(),
        Fact::Monetary => m(),
        _ => r() * 100.0 + fr() * 10.0 + m(),
    }
}

fn filtered(ctx: &Ctx<'_>, m: Measure, window: Option<i64>, f: &Ir) -> f64 {
    let h = ctx.hist;
    let column = match m {
        Measure::Column(c) => Some(c),
        _ => None,
    };
    let addr = f as *const Ir as usize;
    let key = {
        let mut reads = h.filters.1.borrow_mut();
        let pos = match reads.iter().position(|(a, _)| *a == addr) {
            Some(p) => p,
            None => {
                let r =
                    if !reads_event(f) { Reads::Nothing } else { event_fields(f).map_or(Reads::Other, Reads::Fields) };
                reads.push((addr, r));
                reads.len() - 1
            }
        };
        match &reads[pos].1 {
            Reads::Nothing => Ok(None),
            // A filter that reads the event is summed per value of what it reads of it.
            Reads::Fields(fields) => event_key(ctx, fields).map(Some).ok_or(()),
            Reads::Other => Err(()),
        }
    };
    // (Scanned with no borrow held: the filter may ask history functions in turn.)
    let Ok(key) = key else { return scanned(ctx, m, window, f) };
    let Some(event_key) = key else {
        // Sums read the profile as it is now; a profile update drops them (the engine's
        // `Scratch::forget_filters`), so they are rebuilt with the new value.
        let key = (addr, column, None);
        let mut cache = h.filters.0.borrow_mut();
        let pos = match cache.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                cache.push((key, Some(build_sums(h, Some((ctx, f)), column))));
                cache.len() - 1
            }
        };
        if let Some(sums) = &cache[pos].1 {
            return summed(h, sums, ctx.now, m, window);
        }
        drop(cache);
        return scanned(ctx, m, window, f);
    };
    // Per event value: the first time a value comes it is scanned (an event value seen once,
    // such as an order id, is never worth summing over all the rows); the second time, its
    // sums are built, as long as they fit.
    let key = (addr, column, Some(event_key));
    let mut cache = h.filters.0.borrow_mut();
    match cache.iter().position(|(k, _)| *k == key) {
        Some(p) => {
            if cache[p].1.is_none() {
                cache[p].1 = Some(build_sums(h, Some((ctx, f)), column));
            }
            match &cache[p].1 {
                Some(sums) => summed(h, sums, ctx.now, m, window),
                None => {
                    drop(cache);
                    scanned(ctx, m, window, f)
                }
            }
        }
        None => {
            let most = (EVENT_ROWS / (h.all_rows.len() + 1)).max(EVENT_KEYS_MIN);
            if cache.iter().filter(|(k, _)| k.0 == addr && k.1 == column).count() < most {
                cache.push((key, None));
            }
            drop(cache);
            scanned(ctx, m, window, f)
        }
    }
}

fn unit_count(h: &History<'_>, r: usize) -> f64 {
    h.quantity_col.map_or(1.0, |c| {
        let q = h.tx.num_at(c, r);
        if q.is_nan() {
            1.0
        } else {
            q
        }
    })
}

/// Prefix sums over the customer's rows that pass `filter` (all rows without one); `spend`
/// sums `value_col` if given, else `amount`.
fn build_sums(h: &History<'_>, filter: Option<(&Ctx<'_>, &Ir)>, value_col: Option<usize>) -> FilterSums {
    let value_col = value_col.or(h.amount_col);
    let rows = h.all_rows.clone();
    let n = rows.len();
    let mut s = FilterSums {
        lines: Vec::with_capacity(n + 1),
        orders: Vec::with_capacity(n + 1),
        spend: Vec::with_capacity(n + 1),
        units: Vec::with_capacity(n + 1),
    };
    let (mut lines, mut orders, mut spend, mut units) = (0u32, 0u32, 0i128, 0i128);
    s.lines.push(0);
    s.orders.push(0);
    s.spend.push(0);
    s.units.push(0);
    let mut last_order = None;
    for r in rows {
        let passes = filter.is_none_or(|(ctx, f)| {
            // (The event is read only by a filter summed per value of what it reads of it.)
            let rc = Ctx {
                now: ctx.now,
                event: ctx.event,
                row: Some((h.tx, r)),
                customer: ctx.customer,
                hist: h,
                mem: ctx.mem,
            };
            eval_bool(f, &rc)
        });
        if passes {
            lines += 1;
            let order = order_index(h, r);
            if last_order != Some(order) {
                orders += 1;
                last_order = Some(order);
            }
            spend += to_micros(value_col.map_or(0.0, |c| h.tx.num_at(c, r)));
            units += to_micros(unit_count(h, r));
        }
        s.lines.push(lines);
        s.orders.push(orders);
        s.spend.push(spend);
        s.units.push(units);
    }
    s
}

fn summed(h: &History<'_>, s: &FilterSums, now: i64, m: Measure, window: Option<i64>) -> f64 {
    let lo = h.window_start(now, window) - h.first_row;
    let hi = h.rows.end - h.first_row;
    match m {
        Measure::Purchases => f64::from(s.lines[hi] - s.lines[lo]),
        Measure::Spend | Measure::Column(_) => from_micros(s.spend[hi] - s.spend[lo]),
        Measure::Units => from_micros(s.units[hi] - s.units[lo]),
        Measure::Orders => {
            let mut n = f64::from(s.orders[hi] - s.orders[lo]);
            // A window that starts inside an order whose first match lies before the window
            // still counts that order once if it matches inside the window.
            if lo < hi && !h.order_start[lo] {
                let matched = |k: usize| s.lines[k + 1] > s.lines[k];
                let order = h.cum_orders[lo + 1];
                let before = (0..lo).rev().take_while(|&k| h.cum_orders[k + 1] == order).any(matched);
                let inside = (lo..hi).take_while(|&k| h.cum_orders[k + 1] == order).any(matched);
                if before && inside {
                    n += 1.0;
                }
            }
            n
        }
    }
}

/// A filter that reads the current event is evaluated row by row over the window.
fn scanned(ctx: &Ctx<'_>, m: Measure, window: Option<i64>, f: &Ir) -> f64 {
    let h = ctx.hist;
    let lo = h.window_start(ctx.now, window);
    // Counted in micro-units, exactly, like the prefix sums.
    let mut total: i128 = 0;
    let mut last_order: Option<usize> = None;
    for r in lo..h.rows.end {
        let rc =
            Ctx { now: ctx.now, event: ctx.event, row: Some((h.tx, r)), customer: ctx.customer, hist: h, mem: ctx.mem };
        if !eval_bool(f, &rc) {
            continue;
        }
        let add = match m {
            Measure::Purchases => 1.0,
            Measure::Orders => {
                // Rows of one order are adjacent; count an order at its first matching row.
                let order = order_index(h, r);
                let new = last_order != Some(order);
                last_order = Some(order);
                if new {
                    1.0
                } else {
                    0.0
                }
            }
            Measure::Spend => h.amount_col.map_or(0.0, |c| nan0(h.tx.num_at(c, r))),
            Measure::Units => unit_count(h, r),
            Measure::Column(c) => nan0(h.tx.num_at(c, r)),
        };
        total += to_micros(add);
    }
    from_micros(total)
}

fn order_index(h: &History<'_>, r: usize) -> usize {
    let rel = r - h.first_row;
    h.cum_orders[rel + 1] as usize
}

pub fn nan0(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// `f(a, b)`, or missing (NaN) when either is.
fn missing_or(a: f64, b: f64, f: fn(f64, f64) -> f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        f(a, b)
    }
}

fn call<'a>(func: Func, args: &'a [Ir], ctx: &Ctx<'a>) -> Val<'a> {
    let s = |i: usize| match eval(&args[i], ctx) {
        Val::Str(s) => s,
        _ => Cow::Borrowed(""),
    };
    let n = |i: usize| eval(&args[i], ctx).num();
    match func {
        Func::Lower => Val::Str(Cow::Owned(s(0).to_lowercase())),
        Func::Upper => Val::Str(Cow::Owned(s(0).to_uppercase())),
        Func::Contains => Val::Bool(s(0).contains(s(1).as_ref())),
        Func::StartsWith => Val::Bool(s(0).starts_with(s(1).as_ref())),
        Func::EndsWith => Val::Bool(s(0).ends_with(s(1).as_ref())),
        Func::Number => match eval(&args[0], ctx) {
            Val::Num(v) => Val::Num(v),
            // Text that is not a finite number ("inf", "NaN", "x") is missing, as in a column.
            Val::Str(t) => Val::Num(t.trim().parse().ok().filter(|v: &f64| v.is_finite()).unwrap_or(f64::NAN)),
            Val::Bool(b) => Val::Num(f64::from(u8::from(b))),
        },
        Func::Abs => Val::Num(n(0).abs()),
        Func::Round => Val::Num(n(0).round()),
        // A missing argument makes the result missing (`f64::min` would return the other).
        Func::Min => Val::Num(missing_or(n(0), n(1), f64::min)),
        Func::Max => Val::Num(missing_or(n(0), n(1), f64::max)),
    }
}

#[cfg(test)]
mod gap_tests {
    use super::GapMedian;

    #[test]
    fn the_gap_median_is_the_median_of_the_sorted_gaps() {
        let mut m = GapMedian::default();
        assert_eq!(m.median(), None);
        let mut seen = Vec::new();
        let mut x: u64 = 7;
        for n in 0..2000 {
            // Runs of equal gaps, rising and falling stretches, and noise.
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let gap = match n / 250 % 4 {
                0 => 86_400,
                1 => n,
                2 => 10_000 - n,
                _ => (x >> 40) as i64 % 1000,
            };
            m.push(gap);
            seen.push(gap);
            let mut sorted = seen.clone();
            sorted.sort_unstable();
            let mid = sorted.len() / 2;
            let want =
                if sorted.len() % 2 == 1 { sorted[mid] as f64 } else { (sorted[mid - 1] + sorted[mid]) as f64 / 2.0 };
            assert_eq!(m.median(), Some(want), "after {} gaps", n + 1);
        }
        m.clear();
        assert_eq!(m.median(), None);
    }
}
