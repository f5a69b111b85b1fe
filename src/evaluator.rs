//! The evaluator: replays one customer's events in time order through the compiled dialogues.
//! Triggers start dialogue instances; instances send messages, wait on timers in virtual time,
//! branch on answers and end at goals. Pure and deterministic: same timeline, same result.

use std::collections::BTreeMap;

use crate::dialogue::plan::{Absence, After, Branch, Exit, Matcher, Reentry, Trigger};
use crate::dialogue::Plan;
use crate::expr::eval::{eval, eval_bool, nan0};
use crate::expr::{Ctx, History};
use crate::input::time::format_utc;
use crate::input::{CustomerRows, Data, Table};
use crate::policy::{OnCap, Tiers};

/// Settings of one evaluation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: crate::policy::Policy,
    pub tz: chrono_tz::Tz,
    pub as_of: i64,
    /// How far past `as_of` live conversations are projected ("scheduled" messages).
    pub horizon: i64,
    pub response_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Sent,
    Due,
    Scheduled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::Due => "due",
            Status::Scheduled => "scheduled",
        }
    }
}

/// One planned message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Index into the customer's instances.
    pub instance: usize,
    pub step: usize,
    pub attempt: usize,
    pub send_at: i64,
    /// Which variant (0 = default, else a tier's) and which of its channels was chosen.
    pub variant: usize,
    pub channel: usize,
    /// Why it will not go out, when it will not.
    pub suppressed: Option<String>,
    /// What the policy changed: a fallback channel, a deferral.
    pub note: Option<String>,
    /// Evaluation order, the last tie-breaker.
    pub seq: u32,
}

/// One run of a dialogue for a customer.
#[derive(Debug, Clone)]
pub struct Instance {
    pub dialogue: usize,
    /// 1-based run number of this dialogue for this customer.
    pub number: u32,
    pub trigger: String,
    pub triggered_at: i64,
    pub reason: String,
    pub outcome: Option<String>,
    pub ended_at: Option<i64>,
    /// The outcome is what happens after as-of if nothing else does (a projection).
    pub projected: bool,
    /// Steps entered, with when.
    pub path: Vec<(usize, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: u32,
    pub message: String,
}

/// One line of an explanation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TraceLine {
    pub at: String,
    pub kind: &'static str,
    pub text: String,
}

#[derive(Debug, Default, Clone)]
pub struct CustomerResult {
    pub person: usize,
    pub instances: Vec<Instance>,
    pub messages: Vec<Message>,
    pub warnings: Vec<Warning>,
}

pub const GOALS: usize = usize::MAX;
pub const TIMEOUT: usize = usize::MAX;

fn bump(map: &mut BTreeMap<(usize, String), u64>, d: usize, key: &str) {
    // Look up before inserting: the key is only allocated the first time it is seen.
    match map.iter_mut().find(|((k, s), _)| *k == d && s == key) {
        Some((_, n)) => *n += 1,
        None => {
            map.insert((d, key.to_owned()), 1);
        }
    }
}

/// Counts for the stderr summary, merged across workers.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub customers: u64,
    pub transactions: u64,
    pub events: u64,
    pub entered: BTreeMap<usize, u64>,
    pub messages: BTreeMap<(usize, usize, usize), u64>,
    /// (dialogue, step or GOALS, branch index or TIMEOUT)
    pub branches: BTreeMap<(usize, usize, usize), u64>,
    pub outcomes: BTreeMap<(usize, String), u64>,
    pub suppressed: BTreeMap<(usize, String), u64>,
    pub unmatched_responses: u64,
    pub deferred: u64,
}

impl Stats {
    pub fn merge(&mut self, o: Stats) {
        self.customers += o.customers;
        self.transactions += o.transactions;
        self.events += o.events;
        self.unmatched_responses += o.unmatched_responses;
        self.deferred += o.deferred;
        for (k, v) in o.entered {
            *self.entered.entry(k).or_default() += v;
        }
        for (k, v) in o.messages {
            *self.messages.entry(k).or_default() += v;
        }
        for (k, v) in o.branches {
            *self.branches.entry(k).or_default() += v;
        }
        for (k, v) in o.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        for (k, v) in o.suppressed {
            *self.suppressed.entry(k).or_default() += v;
        }
    }
}

/// Columns the evaluator reads directly, resolved once.
struct Cols {
    amount: Option<usize>,
    quantity: Option<usize>,
    order_id: Option<usize>,
    category: Option<usize>,
    product: Option<usize>,
    ev_type: Option<usize>,
    ev_dialogue: Option<usize>,
    ev_step: Option<usize>,
    ev_message: Option<usize>,
    ev_answer: Option<usize>,
    /// Per dialogue: the column a frequent-buyer trigger counts.
    frequent_of: Vec<Option<usize>>,
    ev_channel: Option<usize>,
    tier: Option<usize>,
    dnc: Option<usize>,
    timezone: Option<usize>,
    preferred: Option<usize>,
    max_per_week: Option<usize>,
    /// (channel, customer column holding its consent)
    consent: Vec<(String, Option<usize>)>,
}

impl Cols {
    fn consent_col(&self, channel: &str) -> Option<usize> {
        self.consent.iter().find(|(c, _)| c == channel).and_then(|(_, col)| *col)
    }
}

pub struct Evaluator<'a> {
    pub data: &'a Data,
    pub plan: &'a Plan,
    pub settings: Settings,
    cols: Cols,
}

/// Buffers reused from customer to customer by one worker.
#[derive(Default)]
pub struct Scratch {
    cum_amount: Vec<f64>,
    cum_units: Vec<f64>,
    cum_orders: Vec<u32>,
    order_start: Vec<bool>,
    order_ts: Vec<i64>,
    sorted_gaps: Vec<i64>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting to send `ladder[attempt]`.
    Sending,
    /// All messages out; waiting for the step's wait/timeout.
    After,
}

#[derive(Debug, Clone, Copy)]
struct Live {
    rec: usize,
    step: usize,
    attempt: usize,
    phase: Phase,
    due: Option<i64>,
    /// The order whose purchase started this instance (its ordinal for the customer): the
    /// other lines of that order are not "the next purchase".
    started_by_order: Option<u32>,
}

#[derive(Debug, Clone, Default)]
struct DialogueState {
    live: Option<Live>,
    runs: u32,
    last_end: Option<i64>,
    absence_due: Option<i64>,
    absence_since: i64,
    nth_count: u32,
    nth_last_order: u32,
}

/// The current event.
#[derive(Debug, Clone, Copy)]
enum Ev {
    Purchase(usize),
    Other(usize),
}

struct Run<'e, 'a> {
    ev: &'e Evaluator<'a>,
    person: &'a CustomerRows,
    profile: Option<(&'a Table, usize)>,
    s: &'e mut Scratch,
    states: Vec<DialogueState>,
    out: CustomerResult,
    stats: &'e mut Stats,
    trace: Option<&'e mut Vec<TraceLine>>,
    /// Transaction rows processed so far end here.
    tx_end: usize,
    ev_end: usize,
    projecting: bool,
    /// Message ids sent so far, for responses that quote one.
    sent: Vec<(usize, usize, usize)>,
    seq: u32,
    /// Categories bought so far.
    seen_categories: Vec<&'a str>,
    /// Opt-in/opt-out events so far: (channel or "" for all, consents).
    consent_events: Vec<(&'a str, bool)>,
    do_not_contact: bool,
    tz: chrono_tz::Tz,
    preferred: Vec<&'a str>,
    caps: Vec<crate::policy::Cap>,
    /// Planned (not suppressed) messages: when and on which channel, for caps.
    sent_log: Vec<(i64, &'a str)>,
}

impl<'a> Evaluator<'a> {
    pub fn new(data: &'a Data, plan: &'a Plan, settings: Settings) -> Self {
        let tx = &data.tx;
        let ev = data.events.as_ref();
        let ecol = |n: &str| ev.and_then(|e| e.col(n));
        let ccol = |n: &str| data.customers.as_ref().and_then(|c| c.col(n));
        let frequent_of = plan
            .dialogues
            .iter()
            .map(|d| match &d.trigger {
                Some(Trigger::Frequent { of, .. }) => tx.col(of),
                _ => None,
            })
            .collect();
        let cols = Cols {
            amount: tx.col("amount"),
            quantity: tx.col("quantity"),
            order_id: tx.col("order_id"),
            category: tx.col("category"),
            product: tx.col("product"),
            ev_type: ecol("type"),
            ev_dialogue: ecol("dialogue"),
            ev_step: ecol("step"),
            ev_message: ecol("message_id"),
            ev_answer: ecol("answer"),
            frequent_of,
            ev_channel: ecol("channel"),
            tier: match &settings.policy.tiers {
                Some(crate::policy::Tiers::Column(c)) => ccol(c),
                _ => None,
            },
            dnc: settings.policy.do_not_contact.as_deref().and_then(ccol),
            timezone: settings.policy.timezone_column.as_deref().and_then(ccol),
            preferred: settings.policy.preferred_column.as_deref().and_then(ccol),
            max_per_week: settings.policy.max_per_week_column.as_deref().and_then(ccol),
            consent: settings
                .policy
                .consent
                .iter()
                .map(|(ch, c)| (ch.clone(), c.column.as_deref().and_then(ccol)))
                .collect(),
        };
        Self { data, plan, settings, cols }
    }

    /// Replay one customer. `trace` collects an explanation when given.
    pub fn run_customer(
        &self,
        person_idx: usize,
        scratch: &mut Scratch,
        stats: &mut Stats,
        trace: Option<&mut Vec<TraceLine>>,
    ) -> CustomerResult {
        let person = &self.data.people[person_idx];
        let profile = match (&self.data.customers, person.profile) {
            (Some(t), Some(r)) => Some((t, r)),
            _ => None,
        };
        let mut run = Run {
            ev: self,
            person,
            profile,
            s: scratch,
            states: vec![DialogueState::default(); self.plan.dialogues.len()],
            out: CustomerResult { person: person_idx, ..Default::default() },
            stats,
            trace,
            tx_end: person.tx.start,
            ev_end: person.events.start,
            projecting: false,
            sent: Vec::new(),
            seq: 0,
            seen_categories: Vec::new(),
            consent_events: Vec::new(),
            do_not_contact: false,
            tz: self.settings.tz,
            preferred: Vec::new(),
            caps: self.settings.policy.caps.clone(),
            sent_log: Vec::new(),
        };
        run.profile_policy();
        run.prepare();
        run.replay();
        run.out
    }
}

impl<'e, 'a> Run<'e, 'a> {
    fn data(&self) -> &'a Data {
        self.ev.data
    }
    fn plan(&self) -> &'a Plan {
        self.ev.plan
    }

    fn note(&mut self, at: i64, kind: &'static str, text: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_deref_mut() {
            t.push(TraceLine { at: format_utc(at), kind, text: text() });
        }
    }

    /// What the profile says about contact: do-not-contact, time zone, preferences, own cap.
    fn profile_policy(&mut self) {
        let c = &self.ev.cols;
        self.do_not_contact = self.profile_cell(c.dnc).is_some_and(crate::policy::truthy);
        if let Some(cell) = self.profile_cell(c.timezone) {
            self.tz = crate::policy::zone(cell, self.ev.settings.tz);
        }
        if let Some(cell) = self.profile_cell(c.preferred) {
            self.preferred = cell.split([';', ',', ' ', '|']).map(str::trim).filter(|s| !s.is_empty()).collect();
        }
        if let Some(n) = self.profile_cell(c.max_per_week).and_then(|s| s.trim().parse::<u32>().ok()) {
            if n > 0 {
                self.caps.push(crate::policy::Cap { max: n, per: 7 * 86_400, channel: None });
            }
        }
    }

    /// Prefix sums and order boundaries over the customer's purchases.
    fn prepare(&mut self) {
        let tx = &self.data().tx;
        let c = &self.ev.cols;
        let s = &mut *self.s;
        let rows = self.person.tx.clone();
        s.cum_amount.clear();
        s.cum_units.clear();
        s.cum_orders.clear();
        s.order_start.clear();
        s.order_ts.clear();
        s.sorted_gaps.clear();
        s.cum_amount.push(0.0);
        s.cum_units.push(0.0);
        s.cum_orders.push(0);
        for r in rows.clone() {
            let amount = c.amount.map_or(0.0, |a| nan0(tx.num_at(a, r)));
            let units = c.quantity.map_or(1.0, |q| {
                let v = tx.num_at(q, r);
                if v.is_nan() {
                    1.0
                } else {
                    v
                }
            });
            // An order is its order_id; without one, its timestamp.
            let new_order = r == rows.start
                || match c.order_id {
                    Some(o) if !tx.str_at(o, r).is_empty() => !tx.same_text(o, r, r - 1),
                    _ => tx.ts[r] != tx.ts[r - 1],
                };
            s.cum_amount.push(s.cum_amount.last().copied().unwrap_or(0.0) + amount);
            s.cum_units.push(s.cum_units.last().copied().unwrap_or(0.0) + units);
            s.cum_orders.push(s.cum_orders.last().copied().unwrap_or(0) + u32::from(new_order));
            s.order_start.push(new_order);
        }
    }

    fn history(&self) -> History<'_> {
        let data = self.data();
        History {
            tx: &data.tx,
            rows: self.person.tx.start..self.tx_end,
            cum_amount: &self.s.cum_amount,
            cum_units: &self.s.cum_units,
            cum_orders: &self.s.cum_orders,
            order_start: &self.s.order_start,
            first_row: self.person.tx.start,
            events: data.events.as_ref(),
            ev_rows: self.person.events.start..self.ev_end,
            ev_type_col: self.ev.cols.ev_type,
            sorted_gaps: &self.s.sorted_gaps,
            order_ts: &self.s.order_ts,
            amount_col: self.ev.cols.amount,
            quantity_col: self.ev.cols.quantity,
        }
    }

    fn event_ref(&self, e: Option<Ev>) -> Option<(&'a Table, usize)> {
        let data = self.data();
        match e {
            Some(Ev::Purchase(r)) => Some((&data.tx, r)),
            Some(Ev::Other(r)) => data.events.as_ref().map(|t| (t, r)),
            None => None,
        }
    }

    fn replay(&mut self) {
        let data = self.data();
        let as_of = self.ev.settings.as_of;
        let tx_rows = self.person.tx.clone();
        let ev_rows = self.person.events.clone();
        let (mut i, mut j) = (tx_rows.start, ev_rows.start);
        loop {
            // Non-purchase events go first at the same instant: an opt-out or a complaint
            // logged at the moment of an order is known when the order is handled.
            let next_tx = (i < tx_rows.end).then(|| data.tx.ts[i]);
            let next_ev = (j < ev_rows.end).then(|| data.events.as_ref().map_or(i64::MAX, |e| e.ts[j]));
            let (t, e) = match (next_tx, next_ev) {
                (Some(a), Some(b)) if b <= a => (b, Ev::Other(j)),
                (Some(a), _) => (a, Ev::Purchase(i)),
                (None, Some(b)) => (b, Ev::Other(j)),
                (None, None) => break,
            };
            if t > as_of {
                break;
            }
            self.fire_timers(t, false);
            match e {
                Ev::Purchase(r) => {
                    i += 1;
                    self.tx_end = r + 1;
                    self.stats.transactions += 1;
                    self.on_purchase(r, t);
                }
                Ev::Other(r) => {
                    j += 1;
                    self.ev_end = r + 1;
                    self.stats.events += 1;
                    self.on_event(r, t);
                }
            }
        }
        self.fire_timers(as_of, true);
        // Project live conversations forward as if nothing else happens.
        self.projecting = true;
        self.fire_timers(as_of.saturating_add(self.ev.settings.horizon), true);
    }

    /// Fire every timer due before `t` (or at `t` when `inclusive`), earliest first.
    fn fire_timers(&mut self, t: i64, inclusive: bool) {
        loop {
            // Conversations in progress go before new absence triggers at the same instant;
            // among equals, dialogue priority order.
            let mut best: Option<(i64, u8, usize, usize)> = None;
            for (rank, &d) in self.plan().order.iter().enumerate() {
                let st = &self.states[d];
                if let Some(due) = st.live.and_then(|l| l.due) {
                    let key = (due, 0u8, rank, d);
                    if best.is_none_or(|b| key < b) {
                        best = Some(key);
                    }
                }
                if !self.projecting {
                    if let Some(due) = st.absence_due {
                        let key = (due, 1u8, rank, d);
                        if best.is_none_or(|b| key < b) {
                            best = Some(key);
                        }
                    }
                }
            }
            let Some((due, kind, _, d)) = best else { return };
            if due > t || (due == t && !inclusive) {
                return;
            }
            if kind == 0 {
                self.instance_timer_depth(d, due, 0);
            } else {
                self.absence_fired(d, due);
            }
        }
    }

    fn absence_fired(&mut self, d: usize, due: i64) {
        let st = &mut self.states[d];
        st.absence_due = None;
        let since = st.absence_since;
        let reason = match &self.plan().dialogues[d].trigger {
            Some(Trigger::Absence(Absence::Usual { factor, .. })) => {
                let median = self.history().median_gap_days();
                format!(
                    "no purchase for {} days since {} (usual gap {} days, x{})",
                    (due - since) / 86_400,
                    &format_utc(since)[..10],
                    crate::input::table::format_num((median * 10.0).round() / 10.0),
                    crate::input::table::format_num(*factor)
                )
            }
            _ => format!("no purchase for {} days since {}", (due - since) / 86_400, &format_utc(since)[..10]),
        };
        let plan = self.plan();
        self.note(due, "trigger", || format!("{}: absence timer fired: {reason}", plan.dialogues[d].id));
        self.try_start(d, due, None, reason, None);
    }

    fn on_purchase(&mut self, r: usize, t: i64) {
        let data = self.data();
        let tx = &data.tx;
        let rel = r - self.person.tx.start;
        let starts_order = self.s.order_start[rel];
        if starts_order {
            if let Some(&last) = self.s.order_ts.last() {
                let gap = t - last;
                let pos = self.s.sorted_gaps.partition_point(|&g| g < gap);
                self.s.sorted_gaps.insert(pos, gap);
            }
            self.s.order_ts.push(t);
        }
        self.note(t, "purchase", || {
            let mut parts = Vec::new();
            for (i, name) in tx.names.iter().enumerate() {
                let v = tx.text_at(i, r);
                if !v.is_empty() {
                    parts.push(format!("{name}={v}"));
                }
            }
            parts.join(" ")
        });
        self.route(Ev::Purchase(r), t);
        let plan = self.plan();
        let order_no = self.s.cum_orders[rel + 1];
        let category: &'a str = self.ev.cols.category.map_or("", |c| tx.str_at(c, r));
        let is_new_category = !category.is_empty() && !self.seen_categories.contains(&category);
        for &d in &plan.order {
            let Some(trigger) = &plan.dialogues[d].trigger else { continue };
            let cond_ok = |run: &Self, cond: &Option<crate::dialogue::plan::Cond>| match cond {
                None => true,
                Some(c) => {
                    let h = run.history();
                    let ctx = Ctx { now: t, event: Some((tx, r)), row: Some((tx, r)), customer: run.profile, hist: &h };
                    eval_bool(&c.ir, &ctx)
                }
            };
            let fired: Option<String> = match trigger {
                Trigger::Purchase { cond } => cond_ok(self, cond).then(|| self.describe_row(r)),
                Trigger::NewCategory { categories, include_first_order, cond } => {
                    let cat = category;
                    let ok = is_new_category
                        && (categories.is_empty() || categories.iter().any(|c| c == cat))
                        && (*include_first_order || order_no > 1)
                        && cond_ok(self, cond);
                    ok.then(|| format!("first purchase in category `{cat}` ({})", self.describe_row(r)))
                }
                Trigger::Frequent { values, count, within, cond, .. } => {
                    let col = self.ev.cols.frequent_of[d];
                    match col {
                        Some(c) if !tx.str_at(c, r).is_empty() => {
                            let value = tx.str_at(c, r);
                            let wanted = values.is_empty() || values.iter().any(|v| v == value);
                            let from = within.map_or(i64::MIN, |w| t - w);
                            let n = if wanted {
                                (self.person.tx.start..=r)
                                    .rev()
                                    .take_while(|&k| tx.ts[k] > from)
                                    .filter(|&k| tx.same_text(c, k, r))
                                    .count()
                            } else {
                                0
                            };
                            (wanted && n == *count as usize && cond_ok(self, cond)).then(|| {
                                let of = &tx.names[c];
                                let w = within
                                    .map(|w| format!(" within {}", crate::dialogue::plan::format_duration(w)))
                                    .unwrap_or_default();
                                format!("{} purchases of {of} `{value}`{w}", n)
                            })
                        }
                        _ => None,
                    }
                }
                Trigger::Crossing { measure, value, level, cap, target } => {
                    let h = self.history();
                    let ctx = Ctx { now: t, event: Some((tx, r)), row: None, customer: self.profile, hist: &h };
                    let after = num(&eval(value, &ctx));
                    let before_h = History { rows: h.rows.start..r, ..self.history() };
                    let ctx_b =
                        Ctx { now: t, event: Some((tx, r)), row: None, customer: self.profile, hist: &before_h };
                    let before = num(&eval(value, &ctx_b));
                    let crossed = before < *level && after >= *level && cap.is_none_or(|c| after < c);
                    crossed.then(|| {
                        let m = format!("{measure:?}").to_lowercase();
                        let f = crate::input::table::format_num;
                        if cap.is_some() {
                            format!("{m} reached {} ({} away from {})", f(after), f(target - after), f(*target))
                        } else {
                            format!("{m} reached {} (threshold {}, was {})", f(after), f(*level), f(before))
                        }
                    })
                }
                Trigger::NthOrder { n, cond } => {
                    let mut hit = None;
                    if cond_ok(self, cond) {
                        let st = &mut self.states[d];
                        if st.nth_last_order != order_no {
                            st.nth_last_order = order_no;
                            st.nth_count += 1;
                            if n.contains(&st.nth_count) {
                                hit = Some(st.nth_count);
                            }
                        }
                    }
                    hit.map(|k| {
                        let order = self.ev.cols.order_id.map(|c| tx.text_at(c, r)).filter(|o| !o.is_empty());
                        format!("order #{k}{}", order.map(|o| format!(" ({o})")).unwrap_or_default())
                    })
                }
                Trigger::Absence(a) => {
                    if starts_order {
                        self.arm_absence(d, *a, t);
                    }
                    None
                }
                Trigger::Event { .. } => None,
            };
            if let Some(reason) = fired {
                self.note(t, "trigger", || {
                    format!("{}: {} fired: {reason}", plan.dialogues[d].id, plan.dialogues[d].trigger_kind)
                });
                self.try_start(d, t, Some(Ev::Purchase(r)), reason, None);
            }
        }
        if is_new_category {
            self.seen_categories.push(category);
        }
    }

    fn arm_absence(&mut self, d: usize, a: Absence, t: i64) {
        let due = match a {
            Absence::Fixed { after } => Some(t + after),
            Absence::Usual { factor, min_orders, at_least } => {
                if (self.s.order_ts.len() as u32) < min_orders {
                    None
                } else {
                    let median = self.history().median_gap_days() * 86_400.0;
                    Some(t + ((median * factor).round() as i64).max(at_least).max(1))
                }
            }
        };
        // A purchase cancels any pending absence timer and arms the next one.
        let st = &mut self.states[d];
        st.absence_due = due;
        st.absence_since = t;
    }

    fn describe_row(&self, r: usize) -> String {
        let tx = &self.data().tx;
        let c = &self.ev.cols;
        let mut parts = Vec::new();
        if let Some(p) = c.product {
            let v = tx.str_at(p, r);
            if !v.is_empty() {
                parts.push(format!("product `{v}`"));
            }
        }
        if let Some(p) = c.category {
            let v = tx.str_at(p, r);
            if !v.is_empty() {
                parts.push(format!("category `{v}`"));
            }
        }
        if let Some(p) = c.order_id {
            let v = tx.str_at(p, r);
            if !v.is_empty() {
                parts.push(format!("order `{v}`"));
            }
        }
        if parts.is_empty() {
            "purchase".to_owned()
        } else {
            format!("purchase of {}", parts.join(", "))
        }
    }

    fn on_event(&mut self, r: usize, t: i64) {
        let data = self.data();
        let Some(evt) = data.events.as_ref() else { return };
        let kind = self.ev.cols.ev_type.map_or("", |c| evt.str_at(c, r));
        self.note(t, "event", || {
            let mut parts = Vec::new();
            for (i, name) in evt.names.iter().enumerate() {
                let v = evt.text_at(i, r);
                if !v.is_empty() && name != "type" {
                    parts.push(format!("{name}={v}"));
                }
            }
            format!("{kind} {}", parts.join(" ")).trim_end().to_owned()
        });
        let policy = &self.ev.settings.policy;
        if kind == policy.opt_out_event || kind == policy.opt_in_event {
            let channel: &'a str = self.ev.cols.ev_channel.map_or("", |c| evt.str_at(c, r));
            self.consent_events.push((channel, kind == policy.opt_in_event));
            if kind == policy.opt_out_event {
                self.withdraw(channel, t);
            }
        }
        self.route(Ev::Other(r), t);
        let plan = self.plan();
        for &d in &plan.order {
            let Some(Trigger::Event { kind: want, cond }) = &plan.dialogues[d].trigger else { continue };
            if want != kind {
                continue;
            }
            let ok = match cond {
                None => true,
                Some(c) => {
                    let h = self.history();
                    let ctx =
                        Ctx { now: t, event: Some((evt, r)), row: Some((evt, r)), customer: self.profile, hist: &h };
                    eval_bool(&c.ir, &ctx)
                }
            };
            if ok {
                let reason = format!("event `{kind}` on {}", &format_utc(t)[..10]);
                self.note(t, "trigger", || {
                    format!("{}: {} fired: {reason}", plan.dialogues[d].id, plan.dialogues[d].trigger_kind)
                });
                self.try_start(d, t, Some(Ev::Other(r)), reason, None);
            }
        }
    }

    /// Which live instance a response addresses, if any, warning about unknown names.
    fn response_target(&mut self, r: usize) -> Option<(usize, Option<usize>)> {
        let data = self.data();
        let evt = data.events.as_ref()?;
        let c = &self.ev.cols;
        let get = |col: Option<usize>| col.map_or("", |c| evt.str_at(c, r));
        let line = evt.line[r];
        let (msg, dlg, step) = (get(c.ev_message), get(c.ev_dialogue), get(c.ev_step));
        if !msg.is_empty() {
            // Ids are derived on demand: most customers never quote one.
            let plan = self.plan();
            let found = self.sent.iter().find(|&&(rec, step, attempt)| {
                let inst = &self.out.instances[rec];
                let d = &plan.dialogues[inst.dialogue];
                crate::ids::message_id(&self.person.id, &d.id, inst.number, &d.steps[step].id, attempt as u32) == msg
            });
            match found.copied() {
                Some((rec, step, _)) => {
                    let d = self.out.instances[rec].dialogue;
                    // A quoted message addresses its own run only, not a later run of the
                    // same dialogue.
                    let live_here = self.states[d].live.is_some_and(|l| l.rec == rec);
                    return Some(if live_here { (d, Some(step)) } else { (usize::MAX, None) });
                }
                None => {
                    self.out
                        .warnings
                        .push(Warning { line, message: format!("response quotes unknown message_id `{msg}`") });
                    return None;
                }
            }
        }
        if dlg.is_empty() {
            self.out.warnings.push(Warning {
                line,
                message: "response names no dialogue or message_id; it cannot be matched".to_owned(),
            });
            return None;
        }
        let Some(d) = self.plan().find(dlg) else {
            self.out.warnings.push(Warning { line, message: format!("response names unknown dialogue `{dlg}`") });
            return None;
        };
        let step_idx = if step.is_empty() {
            None
        } else {
            match self.plan().dialogues[d].steps.iter().position(|s| s.id == step) {
                Some(s) => Some(s),
                None => {
                    self.out.warnings.push(Warning {
                        line,
                        message: format!("response names unknown step `{step}` of dialogue `{dlg}`"),
                    });
                    return None;
                }
            }
        };
        Some((d, step_idx))
    }

    /// Offer the event to every live instance: goals first, then the current step's branches.
    fn route(&mut self, e: Ev, t: i64) {
        let data = self.data();
        let is_response = match e {
            Ev::Other(r) => {
                let kind = self.ev.cols.ev_type.map_or("", |c| data.events.as_ref().map_or("", |ev| ev.str_at(c, r)));
                kind == self.ev.settings.response_type
            }
            Ev::Purchase(_) => false,
        };
        let target = match e {
            Ev::Other(r) if is_response => self.response_target(r),
            _ => None,
        };
        let mut answered = false;
        let plan = self.plan();
        for &d in &plan.order {
            let Some(live) = self.states[d].live else { continue };
            let addressed = target.is_some_and(|(td, ts)| td == d && ts.is_none_or(|s| s == live.step));
            let dialogue = &plan.dialogues[d];
            let step = &dialogue.steps[live.step];
            let mut taken: Option<(&Branch, usize, usize)> = None;
            for (k, b) in dialogue.goals.iter().enumerate() {
                if self.branch_matches(b, e, t, addressed, live.started_by_order) {
                    taken = Some((b, GOALS, k));
                    break;
                }
            }
            if taken.is_none() {
                for (k, b) in step.on.iter().enumerate() {
                    if self.branch_matches(b, e, t, addressed, live.started_by_order) {
                        taken = Some((b, live.step, k));
                        break;
                    }
                }
            }
            if addressed && taken.is_some_and(|(b, _, _)| matches!(b.matcher, Matcher::Answer(_))) {
                answered = true;
            }
            if let Some((b, at_step, k)) = taken {
                *self.stats.branches.entry((d, at_step, k)).or_default() += 1;
                let number = self.out.instances[live.rec].number;
                let where_ = if at_step == GOALS { "goal" } else { step.id.as_str() };
                self.note(t, "branch", || format!("{}#{number}: {} at {where_}", dialogue.id, b.label));
                self.take_exit(d, &b.exit, t, 0);
            }
        }
        if is_response && !answered {
            self.stats.unmatched_responses += u64::from(target.is_some());
            if target.is_some() {
                self.note(t, "response", || "the response matched no open question of a live dialogue".to_owned());
            }
        }
    }

    fn branch_matches(&self, b: &Branch, e: Ev, t: i64, addressed: bool, own_order: Option<u32>) -> bool {
        let data = self.data();
        let row = match (&b.matcher, e) {
            (Matcher::Purchase, Ev::Purchase(r)) => {
                if own_order.is_some_and(|o| o == self.s.cum_orders[r - self.person.tx.start + 1]) {
                    return false;
                }
                (&data.tx, r)
            }
            (Matcher::Event(kind), Ev::Other(r)) => {
                let Some(evt) = data.events.as_ref() else { return false };
                if self.ev.cols.ev_type.map_or("", |c| evt.str_at(c, r)) != kind {
                    return false;
                }
                (evt, r)
            }
            (Matcher::Answer(want), Ev::Other(r)) => {
                let Some(evt) = data.events.as_ref() else { return false };
                let got = self.ev.cols.ev_answer.map_or("", |c| evt.str_at(c, r));
                if !addressed || !got.eq_ignore_ascii_case(want) {
                    return false;
                }
                (evt, r)
            }
            _ => return false,
        };
        match &b.cond {
            None => true,
            Some(c) => {
                let h = self.history();
                let ctx = Ctx { now: t, event: Some(row), row: Some(row), customer: self.profile, hist: &h };
                eval_bool(&c.ir, &ctx)
            }
        }
    }

    fn try_start(&mut self, d: usize, t: i64, e: Option<Ev>, reason: String, follow_from: Option<String>) {
        let plan = self.plan();
        let dialogue = &plan.dialogues[d];
        let st = &self.states[d];
        let blocked = if st.live.is_some() {
            Some("already live".to_owned())
        } else {
            match (dialogue.reentry, st.last_end) {
                (Reentry::Never, _) if st.runs > 0 => Some("already ran once (reentry: never)".to_owned()),
                (Reentry::After(w), Some(end)) if t < end + w => Some(format!(
                    "re-entry not before {} (reentry: {})",
                    &format_utc(end + w)[..10],
                    crate::dialogue::plan::format_duration(w)
                )),
                _ => dialogue
                    .quiet_while
                    .iter()
                    .find(|&&q| self.states[q].live.is_some())
                    .map(|&q| format!("quiet while `{}` is live", plan.dialogues[q].id)),
            }
        };
        if let Some(why) = blocked {
            self.note(t, "skip", || format!("{}: not started: {why}", dialogue.id));
            return;
        }
        if let Some(w) = &dialogue.when {
            let h = self.history();
            let ctx = Ctx { now: t, event: self.event_ref(e), row: None, customer: self.profile, hist: &h };
            if !eval_bool(&w.ir, &ctx) {
                self.note(t, "skip", || format!("{}: not started: `when: {}` is false", dialogue.id, w.src));
                return;
            }
        }
        let st = &mut self.states[d];
        st.runs += 1;
        let number = st.runs;
        let rec = self.out.instances.len();
        let trigger = match &follow_from {
            Some(from) => format!("follow_on:{from}"),
            None => dialogue.trigger_kind.to_owned(),
        };
        self.out.instances.push(Instance {
            dialogue: d,
            number,
            trigger,
            triggered_at: t,
            reason,
            outcome: None,
            ended_at: None,
            projected: false,
            path: Vec::new(),
        });
        *self.stats.entered.entry(d).or_default() += 1;
        let started_by_order = match e {
            Some(Ev::Purchase(r)) => Some(self.s.cum_orders[r - self.person.tx.start + 1]),
            _ => None,
        };
        self.states[d].live =
            Some(Live { rec, step: 0, attempt: 0, phase: Phase::Sending, due: None, started_by_order });
        self.note(t, "start", || format!("{}#{number} started", dialogue.id));
        self.enter_step(d, 0, t, 0);
    }

    fn enter_step(&mut self, d: usize, step: usize, t: i64, depth: usize) {
        let plan = self.plan();
        let Some(mut live) = self.states[d].live else { return };
        live.step = step;
        live.attempt = 0;
        self.out.instances[live.rec].path.push((step, t));
        let s = &plan.dialogues[d].steps[step];
        if let Some(first) = s.ladder.first() {
            live.phase = Phase::Sending;
            live.due = Some(t + first.offset);
            self.states[d].live = Some(live);
            if first.offset == 0 {
                // Send now rather than through the timer queue, so same-instant ordering is
                // the dialogue's own.
                self.instance_timer_depth(d, t, depth);
            }
        } else {
            self.states[d].live = Some(live);
            self.after_ladder(d, t, depth);
        }
    }

    fn after_ladder(&mut self, d: usize, t: i64, depth: usize) {
        let plan = self.plan();
        let Some(mut live) = self.states[d].live else { return };
        let s = &plan.dialogues[d].steps[live.step];
        live.phase = Phase::After;
        match &s.after {
            After::Now(exit) => {
                live.due = None;
                self.states[d].live = Some(live);
                self.take_exit(d, exit, t, depth + 1);
            }
            After::Wait(w, _) | After::Timeout(w, _) => {
                live.due = Some(t + w);
                self.states[d].live = Some(live);
            }
            After::Forever => {
                live.due = None;
                self.states[d].live = Some(live);
            }
        }
    }

    fn instance_timer_depth(&mut self, d: usize, due: i64, depth: usize) {
        let plan = self.plan();
        let Some(mut live) = self.states[d].live else { return };
        let dialogue = &plan.dialogues[d];
        let step = &dialogue.steps[live.step];
        match live.phase {
            Phase::Sending => {
                self.send(d, live, due);
                live.attempt += 1;
                if let Some(next) = step.ladder.get(live.attempt) {
                    live.due = Some(due + next.offset);
                    self.states[d].live = Some(live);
                } else {
                    self.states[d].live = Some(live);
                    self.after_ladder(d, due, depth);
                }
            }
            Phase::After => {
                live.due = None;
                self.states[d].live = Some(live);
                match &step.after {
                    After::Wait(_, exit) => self.take_exit(d, exit, due, depth + 1),
                    After::Timeout(_, exit) => {
                        if !self.projecting {
                            *self.stats.branches.entry((d, live.step, TIMEOUT)).or_default() += 1;
                        }
                        let number = self.out.instances[live.rec].number;
                        self.note(due, "timeout", || {
                            format!("{}#{number}: no answer at step {}", dialogue.id, step.id)
                        });
                        self.take_exit(d, exit, due, depth + 1);
                    }
                    After::Now(_) | After::Forever => {}
                }
            }
        }
    }

    /// The customer's value tier now, if tiers are configured.
    fn tier(&self, now: i64) -> Option<&'e str> {
        let policy = &self.ev.settings.policy;
        match &policy.tiers {
            Some(Tiers::Column(_)) => self.profile_cell(self.ev.cols.tier).filter(|s| !s.is_empty()),
            Some(Tiers::Computed { measure, within, levels }) => {
                let v = self.history().measure(*measure, now, *within);
                levels.iter().find(|(_, min)| v >= *min).map(|(name, _)| name.as_str())
            }
            None => None,
        }
    }

    fn profile_cell(&self, col: Option<usize>) -> Option<&'a str> {
        match (self.profile, col) {
            (Some((t, r)), Some(c)) => Some(t.str_at(c, r)),
            _ => None,
        }
    }

    /// Does the customer consent to `channel` now? Profile first, then opt-in/out events in order.
    fn consents(&self, channel: &str) -> bool {
        let policy = &self.ev.settings.policy;
        let mut ok = match policy.consent.get(channel) {
            Some(c) => match c.column.as_ref().and_then(|_| self.profile_cell(self.ev.cols.consent_col(channel))) {
                Some(cell) if !cell.trim().is_empty() => crate::policy::truthy(cell),
                _ => c.default_in,
            },
            None => true,
        };
        for &(ch, value) in &self.consent_events {
            if ch.is_empty() || ch == channel {
                ok = value;
            }
        }
        ok
    }

    /// An opt-out reaches messages already planned for later (deferred ones): they are
    /// suppressed, since consent must hold when a message goes out.
    fn withdraw(&mut self, channel: &str, t: i64) {
        let plan = self.plan();
        for m in &mut self.out.messages {
            if m.suppressed.is_some() || m.send_at < t {
                continue;
            }
            let inst = &self.out.instances[m.instance];
            let d = &plan.dialogues[inst.dialogue];
            let ch = d.steps[m.step].ladder[m.attempt].variants[m.variant].channels[m.channel].as_str();
            if channel.is_empty() || channel == ch {
                m.suppressed = Some(format!("no consent for {ch} at send time"));
                if let Some(pos) = self.sent_log.iter().position(|&(at, c)| at == m.send_at && c == ch) {
                    self.sent_log.remove(pos);
                }
                *self.stats.messages.entry((inst.dialogue, m.step, m.attempt)).or_default() -= 1;
                bump(&mut self.stats.suppressed, inst.dialogue, "no consent");
            }
        }
    }

    /// Pass a message through the contact policy and record it, planned or suppressed.
    fn send(&mut self, d: usize, live: Live, at: i64) {
        let plan = self.plan();
        let policy = &self.ev.settings.policy;
        let dialogue = &plan.dialogues[d];
        let msg = &dialogue.steps[live.step].ladder[live.attempt];
        let tier = self.tier(at);
        let variant = tier.and_then(|t| msg.variants.iter().position(|v| v.tier.as_deref() == Some(t))).unwrap_or(0);
        let v = &msg.variants[variant];
        // The customer's preferred channels first, the step's order otherwise.
        let mut order: Vec<usize> = (0..v.channels.len()).collect();
        if !self.preferred.is_empty() {
            order.sort_by_key(|&i| self.preferred.iter().position(|p| *p == v.channels[i]).unwrap_or(usize::MAX));
        }
        let mut suppressed = None;
        let mut note = None;
        if dialogue.holdout > 0.0 && crate::ids::unit_interval(&self.person.id, &dialogue.id) < dialogue.holdout {
            suppressed = Some("holdout".to_owned());
        } else if let Some(&q) = dialogue.quiet_while.iter().find(|&&q| self.states[q].live.is_some()) {
            suppressed = Some(format!("blocked: quiet while `{}` is live", plan.dialogues[q].id));
        } else if self.do_not_contact {
            suppressed = Some("do not contact".to_owned());
        }
        let chosen = order.iter().copied().find(|&i| self.consents(&v.channels[i]));
        let channel = match chosen {
            Some(c) => {
                if suppressed.is_none() && c != order[0] {
                    note = Some(format!("fallback: no consent for {}", v.channels[order[0]]));
                }
                c
            }
            None => {
                if suppressed.is_none() {
                    suppressed = Some(format!("no consent for {}", v.channels.join(", ")));
                }
                order[0]
            }
        };
        let ch: &'a str = &v.channels[channel];
        let mut send_at = at;
        if suppressed.is_none() {
            let in_window = policy.next_in_window(ch, at, self.tz);
            let mut later = in_window;
            let mut bitten = None;
            // A cap may push the message out of its window and the window back into a full
            // cap; a few rounds settle it.
            for _ in 0..32 {
                let (room, b) = crate::policy::cap_room(&self.caps, &self.sent_log, ch, later);
                bitten = bitten.or(b);
                let next = policy.next_in_window(ch, room, self.tz);
                if next == later {
                    break;
                }
                later = next;
            }
            let room = later;
            let mut reasons = Vec::new();
            if in_window != at {
                reasons.push("send window".to_owned());
            }
            if let Some(b) = bitten {
                reasons.push(b);
            }
            if later != at {
                if later - at > policy.max_defer || (policy.on_cap == OnCap::Drop && room != in_window) {
                    suppressed = Some(format!("dropped: {}", reasons.join(", ")));
                } else {
                    send_at = later;
                    let prefix = note.take().map(|n| format!("{n}; ")).unwrap_or_default();
                    note = Some(format!("{prefix}deferred from {} by {}", format_utc(at), reasons.join(", ")));
                }
            }
        }
        let number = self.out.instances[live.rec].number;
        self.note(at, if suppressed.is_some() { "suppressed" } else { "message" }, || {
            format!(
                "{}#{} step {} attempt {}: {} `{}`{}{}{}",
                dialogue.id,
                number,
                dialogue.steps[live.step].id,
                live.attempt,
                ch,
                v.template,
                tier.map(|t| format!(" (tier {t})")).unwrap_or_default(),
                suppressed.as_ref().map(|s| format!(" — suppressed: {s}")).unwrap_or_default(),
                note.as_ref().map(|s| format!(" — {s}")).unwrap_or_default(),
            )
        });
        match &suppressed {
            None => {
                *self.stats.messages.entry((d, live.step, live.attempt)).or_default() += 1;
                self.sent_log.push((send_at, ch));
                if note.as_deref().is_some_and(|n| n.contains("deferred")) {
                    self.stats.deferred += 1;
                }
            }
            Some(why) => {
                // Group consent and cap reasons; keep which dialogue blocked.
                let key = if why.starts_with("no consent") {
                    "no consent"
                } else if why.starts_with("dropped") {
                    "dropped by cap or send window"
                } else {
                    why
                };
                bump(&mut self.stats.suppressed, d, key);
            }
        }
        self.sent.push((live.rec, live.step, live.attempt));
        self.out.messages.push(Message {
            instance: live.rec,
            step: live.step,
            attempt: live.attempt,
            send_at,
            variant,
            channel,
            suppressed,
            note,
            seq: self.seq,
        });
        self.seq += 1;
    }

    fn take_exit(&mut self, d: usize, exit: &Exit, t: i64, depth: usize) {
        let plan = self.plan();
        let dialogue = &plan.dialogues[d];
        let Some(live) = self.states[d].live else { return };
        if depth > 4 * dialogue.steps.len() + 16 {
            // Steps that lead to each other without any wait would loop forever at one instant.
            self.end(d, live, "aborted_loop", t);
            return;
        }
        match exit {
            Exit::Goto(s) => self.enter_step(d, *s, t, depth),
            Exit::End { outcome, start } => {
                self.end(d, live, outcome, t);
                if let Some(next) = start {
                    let from = format!("{}:{outcome}", dialogue.id);
                    let reason = format!("follows `{}` ending {outcome}", dialogue.id);
                    self.try_start(*next, t, None, reason, Some(from));
                }
            }
        }
    }

    fn end(&mut self, d: usize, live: Live, outcome: &str, t: i64) {
        let inst = &mut self.out.instances[live.rec];
        inst.outcome = Some(outcome.to_owned());
        inst.ended_at = Some(t);
        inst.projected = self.projecting;
        let number = inst.number;
        let st = &mut self.states[d];
        st.live = None;
        st.last_end = Some(t);
        if !self.projecting {
            bump(&mut self.stats.outcomes, d, outcome);
        }
        let plan = self.plan();
        self.note(t, "end", || format!("{}#{number} ended: {outcome}", plan.dialogues[d].id));
    }
}

fn num(v: &crate::expr::Val<'_>) -> f64 {
    match v {
        crate::expr::Val::Num(x) => *x,
        _ => f64::NAN,
    }
}

/// The status of a message sent at `send_at`, seen from `as_of`.
pub fn status(send_at: i64, as_of: i64, tz: chrono_tz::Tz) -> Status {
    use crate::input::time::local_day;
    if send_at > as_of {
        Status::Scheduled
    } else if local_day(send_at, tz) == local_day(as_of, tz) {
        Status::Due
    } else {
        Status::Sent
    }
}
