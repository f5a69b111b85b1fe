//! History bookkeeping for one customer: order boundaries computed once over their purchases
//! (prefix sums of spend and units when a measure first asks), order times and gaps kept as the
//! replay advances, and the `History` view that conditions and triggers read at each moment.

use std::ops::Range;

use crate::expr::eval::FilterCache;
use crate::expr::eval::Sums;
use crate::expr::History;
use crate::input::{Data, Table};

/// Columns the engine reads directly, resolved once per run.
#[derive(Debug, Clone, Default)]
pub struct Cols {
    pub amount: Option<usize>,
    pub quantity: Option<usize>,
    pub order_id: Option<usize>,
    pub category: Option<usize>,
    pub product: Option<usize>,
    pub ev_type: Option<usize>,
    pub ev_dialogue: Option<usize>,
    pub ev_step: Option<usize>,
    pub ev_message: Option<usize>,
    pub ev_answer: Option<usize>,
    pub ev_channel: Option<usize>,
    /// `profile_update` events: the customers column and its new value.
    pub ev_update_column: Option<usize>,
    pub ev_update_value: Option<usize>,
    /// Per dialogue: the column a frequent-buyer trigger counts.
    pub frequent_of: Vec<Option<usize>>,
}

/// Does row `r` of a customer whose rows start at `first` begin an order? An order is its
/// `order_id`; without one, its timestamp.
pub fn starts_new_order(tx: &Table, order_id: Option<usize>, first: usize, r: usize) -> bool {
    r == first
        || match order_id {
            Some(o) if !tx.is_empty_at(o, r) => !tx.same_text(o, r, r - 1),
            _ => tx.ts[r] != tx.ts[r - 1],
        }
}

/// Buffers reused from customer to customer by one worker.
#[derive(Default)]
pub struct Scratch {
    sums: Sums,
    cum_orders: Vec<u32>,
    order_start: Vec<bool>,
    order_ts: Vec<i64>,
    gaps: crate::expr::eval::GapMedian,
    filters: FilterCache,
    same: crate::expr::eval::SameValues,
    all_rows: Range<usize>,
    /// The last customer's replay buffers, emptied, for the next one.
    pub(super) spare: super::Spare,
}

impl Scratch {
    /// Hand back a customer's result once it has been written: its buffers, emptied, serve
    /// the next customer (a run makes a million of them).
    pub fn recycle(&mut self, r: super::CustomerResult) {
        // Every field named: one added later is a compile error here, not a value carried
        // over to the next customer.
        let super::CustomerResult {
            person: _,
            mut instances,
            mut messages,
            mut warnings,
            mut facts,
            mut profile_updates,
        } = r;
        instances.clear();
        messages.clear();
        warnings.clear();
        facts.clear();
        profile_updates.clear();
        self.spare.result = super::CustomerResult { person: 0, instances, messages, warnings, facts, profile_updates };
    }

    /// Order boundaries over one customer's purchase rows (prefix sums of spend and units
    /// come when a measure first asks: `Sums`).
    pub fn prepare(&mut self, tx: &Table, rows: Range<usize>, c: &Cols) {
        let s = self;
        s.sums.clear();
        s.cum_orders.clear();
        s.order_start.clear();
        s.order_ts.clear();
        s.gaps.clear();
        s.filters.clear();
        s.same.clear();
        s.all_rows = rows.clone();
        s.cum_orders.push(0);
        for r in rows.clone() {
            let new_order = starts_new_order(tx, c.order_id, rows.start, r);
            s.cum_orders.push(s.cum_orders.last().copied().unwrap_or(0) + u32::from(new_order));
            s.order_start.push(new_order);
        }
    }

    /// Drop the filtered prefix sums: what they were summed with (the profile) changed.
    pub fn forget_filters(&mut self) {
        self.filters.clear();
    }

    /// Does the purchase `rel` rows into the customer's history start an order?
    pub fn starts_order(&self, rel: usize) -> bool {
        self.order_start[rel]
    }

    /// The ordinal (1-based) of the order of the row `rel` rows into the customer's history.
    pub fn order_no(&self, rel: usize) -> u32 {
        self.cum_orders[rel + 1]
    }

    /// Record an order starting at `t`: its time and the gap it closes.
    pub fn record_order(&mut self, t: i64) {
        if let Some(&last) = self.order_ts.last() {
            self.gaps.push(t - last);
        }
        self.order_ts.push(t);
    }

    /// The history view: purchases in `tx_rows`, events in `ev_rows`.
    pub fn view<'a>(
        &'a self,
        data: &'a Data,
        c: &Cols,
        first_row: usize,
        tx_rows: Range<usize>,
        ev_rows: Range<usize>,
    ) -> History<'a> {
        History {
            tx: &data.tx,
            rows: tx_rows,
            sums: &self.sums,
            cum_orders: &self.cum_orders,
            order_start: &self.order_start,
            first_row,
            events: data.events.as_ref(),
            ev_rows,
            ev_type_col: c.ev_type,
            gaps: &self.gaps,
            order_ts: &self.order_ts,
            amount_col: c.amount,
            quantity_col: c.quantity,
            filters: &self.filters,
            all_rows: self.all_rows.clone(),
            same: &self.same,
        }
    }
}
