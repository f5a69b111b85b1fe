//! The engine: replays one customer's events in time order through the compiled dialogues, as
//! a keyed event-time process (Flink's `KeyedProcessFunction`): one loop merges the customer's
//! sorted purchases and events with their due timers (`timers`), hands each element to the
//! triggers (`triggers`), the live conversations (`conversation`, answers routed by
//! `responses`) and the contact policy (`crate::policy`), and records instances, messages and
//! counts (`result`), optionally an explanation (`trace`). Pure and deterministic: same
//! timeline, same result.

pub mod catalog;
pub mod conversation;
pub mod history;
pub mod responses;
pub mod result;
pub mod timers;
pub mod trace;
pub mod triggers;

use crate::dialogue::plan::{Branch, Dialogue, Matcher, Reentry, Trigger};
use crate::dialogue::Plan;
use crate::expr::eval::eval_bool;
use crate::expr::{Ctx, History};
use crate::input::{CustomerRows, Data, Table};
use crate::policy::{Contact, Decision, Note, Policy, ProfileCells, Request, Suppression, Tiers};

use conversation::{Effect, Live, Phase};
use history::{Cols, Scratch};
use responses::Target;
use timers::{TimerKind, Timers};
use trace::{Skip, Trace};

/// The event type that changes a profile field from its instant on: its `column` names a
/// customers column, `value` the new text.
pub const PROFILE_UPDATE: &str = "profile_update";
pub use result::{
    status, BranchAt, CustomerResult, EventRef, Instance, Message, Reach, Sent, Stats, Status, StepExit, Warning,
};

/// Settings of one evaluation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Policy,
    pub tz: chrono_tz::Tz,
    pub as_of: i64,
    /// How far past `as_of` live conversations are projected ("scheduled" messages).
    pub horizon: i64,
    pub response_type: String,
    /// The sent ledger's messages by id, for answers that quote one.
    pub ledger: Option<std::sync::Arc<responses::LedgerIds>>,
}

/// Profile columns the policy reads, resolved once.
#[derive(Debug, Clone, Default)]
struct PolicyCols {
    tier: Option<usize>,
    dnc: Option<usize>,
    timezone: Option<usize>,
    preferred: Option<usize>,
    max_per_week: Option<usize>,
    /// (channel, customer column holding its consent)
    consent: Vec<(String, Option<usize>)>,
}

/// Every opt-out and opt-in event names a declared channel, or none (all channels): one that
/// names another (`Email`, a typo) would match no message, and the customer who opted out
/// would still be contacted. An error naming the row, before any replay.
pub fn check_consent_events(data: &Data, policy: &Policy) -> Result<(), crate::input::InputError> {
    let Some(evt) = data.events.as_ref() else { return Ok(()) };
    let (Some(type_col), Some(channel_col)) = (evt.col("type"), evt.col("channel")) else { return Ok(()) };
    let mut first: Option<(u32, usize)> = None;
    for r in 0..evt.len() {
        let kind = evt.str_at(type_col, r);
        if kind != policy.opt_out_event && kind != policy.opt_in_event {
            continue;
        }
        let channel = evt.str_at(channel_col, r);
        if channel.is_empty() || policy.channels.iter().any(|c| c == channel) {
            continue;
        }
        if first.is_none_or(|(line, _)| evt.line[r] < line) {
            first = Some((evt.line[r], r));
        }
    }
    let Some((line, r)) = first else { return Ok(()) };
    let (kind, channel) = (evt.str_at(type_col, r), evt.str_at(channel_col, r));
    let known = policy.channels.iter().map(String::as_str);
    let hint = crate::diag::did_you_mean(channel, known).map_or_else(
        || format!("the declared channels are {}", policy.channels.join(", ")),
        |x| format!("did you mean `{x}`?"),
    );
    Err(crate::input::InputError::Csv {
        path: evt.path.clone(),
        line: u64::from(line),
        message: format!(
            "column `channel`: {kind} names channel {}, which is not a declared channel ({hint}); leave it empty for every channel",
            crate::input::quoted(channel)
        ),
    })
}

/// A plan and data ready to be replayed customer by customer (shared by all workers).
pub struct Evaluator<'a> {
    pub data: &'a Data,
    pub plan: &'a Plan,
    pub settings: Settings,
    cols: Cols,
    pcols: PolicyCols,
    /// The catalogue, ordered and indexed for the announcements.
    pub catalog: catalog::Catalog,
    /// Per dialogue: is some dialogue quiet while it is live?
    quieting: Vec<bool>,
}

impl<'a> Evaluator<'a> {
    pub fn new(data: &'a Data, plan: &'a Plan, settings: Settings) -> Self {
        let tx = &data.tx;
        let ev = data.events.as_ref();
        let ecol = |n: &str| ev.and_then(|e| e.col(n));
        let ccol = |n: &str| data.customers.as_ref().and_then(|c| c.col(n));
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
            ev_channel: ecol("channel"),
            ev_update_column: ecol("column"),
            ev_update_value: ecol("value"),
            frequent_of: plan
                .dialogues
                .iter()
                .map(|d| match &d.trigger {
                    Some(Trigger::Frequent { of, .. }) => tx.col(of),
                    _ => None,
                })
                .collect(),
        };
        let p = &settings.policy;
        let pcols = PolicyCols {
            tier: match &p.tiers {
                Some(Tiers::Column(c)) => ccol(c),
                _ => None,
            },
            dnc: p.do_not_contact.as_deref().and_then(ccol),
            timezone: p.timezone_column.as_deref().and_then(ccol),
            preferred: p.preferred_column.as_deref().and_then(ccol),
            max_per_week: p.max_per_week_column.as_deref().and_then(ccol),
            consent: p.consent.iter().map(|(ch, c)| (ch.clone(), c.column.as_deref().and_then(ccol))).collect(),
        };
        let catalog = catalog::Catalog::build(data, plan, &cols);
        let quieting =
            (0..plan.dialogues.len()).map(|d| plan.dialogues.iter().any(|q| q.quiet_while.contains(&d))).collect();
        Self { data, plan, settings, cols, pcols, catalog, quieting }
    }

    /// Replay one customer. `trace` collects an explanation when given.
    pub fn run_customer(
        &self,
        person_idx: usize,
        scratch: &mut Scratch,
        stats: &mut Stats,
        trace: trace::Sink<'_>,
    ) -> CustomerResult {
        let person = &self.data.people[person_idx];
        let profile = match (&self.data.customers, person.profile) {
            (Some(t), Some(r)) => Some((t, r)),
            _ => None,
        };
        let cell = |col: Option<usize>| match (profile, col) {
            (Some((t, r)), Some(c)) => Some(t.str_at(c, r)),
            _ => None,
        };
        let pc = &self.pcols;
        let cells = ProfileCells {
            do_not_contact: cell(pc.dnc),
            timezone: cell(pc.timezone),
            preferred: cell(pc.preferred),
            max_per_week: cell(pc.max_per_week),
        };
        let mut contact = Contact::new(&self.settings.policy, self.settings.tz, cells, |ch| {
            cell(pc.consent.iter().find(|(c, _)| c == ch).and_then(|(_, col)| *col))
        });
        contact.no_profile = pc.dnc.is_some() && profile.is_none();
        let mut spare = std::mem::take(&mut scratch.spare);
        let mut out = std::mem::take(&mut spare.result);
        out.person = person_idx;
        if let (Some((t, r)), false) = (profile, contact.problems.is_empty()) {
            for message in &contact.problems {
                out.warnings.push(Warning {
                    table: crate::model::TableKind::Customers,
                    line: t.line[r],
                    message: message.clone(),
                });
            }
        }
        scratch.prepare(&self.data.tx, person.tx.clone(), &self.cols);
        let n = self.plan.dialogues.len();
        let cursors = catalog::Cursor::start(&self.catalog, self.plan, trace.is_some());
        spare.states.clear();
        spare.states.resize(n, DialogueState::default());
        spare.timers.reset(n);
        spare.sent.clear();
        spare.fired.clear();
        spare.facts.clear();
        spare.facts.resize(self.plan.facts.len(), None);
        spare.profile.clear();
        spare.held.clear();
        let mut run = Run {
            ev: self,
            person,
            profile,
            s: scratch,
            states: spare.states,
            timers: spare.timers,
            out,
            stats,
            trace,
            tx_end: person.tx.start,
            ev_end: person.events.start,
            projecting: false,
            sent: spare.sent,
            seq: 0,
            seen_categories: Seen::default(),
            contact,
            fx_pool: Vec::new(),
            fired: spare.fired,
            mem: crate::expr::eval::Memory { facts: spare.facts, profile: spare.profile },
            follow_depth: 0,
            cursors,
            held: spare.held,
        };
        run.rekey(i64::MIN);
        run.replay();
        let Run { s, states, timers, sent, fired, mem, out, held, .. } = run;
        let crate::expr::eval::Memory { facts, profile } = mem;
        s.spare = Spare { states, timers, sent, fired, facts, profile, held, result: CustomerResult::default() };
        out
    }
}

/// One worker's replay buffers, kept from customer to customer (emptied, their room kept),
/// with the last result handed back (`Scratch::recycle`).
#[derive(Default)]
pub(crate) struct Spare {
    states: Vec<DialogueState>,
    timers: Timers,
    sent: Vec<(usize, usize, u32, usize)>,
    fired: Vec<(usize, triggers::Detection, triggers::Memory)>,
    facts: Vec<Option<Box<str>>>,
    profile: Vec<(usize, Box<str>)>,
    held: Vec<usize>,
    result: CustomerResult,
}

/// What the engine keeps per dialogue for one customer.
#[derive(Debug, Clone, Default)]
struct DialogueState {
    live: Option<Live>,
    runs: u32,
    last_end: Option<i64>,
    /// When the pending absence timer was armed.
    absence_since: i64,
    memory: triggers::Memory,
}

/// The element being handled.
#[derive(Debug, Clone, Copy)]
enum Ev {
    Purchase(usize),
    Other(usize),
    /// A catalogue row (an announcement).
    Item(usize),
}

impl From<Ev> for EventRef {
    fn from(e: Ev) -> EventRef {
        match e {
            Ev::Purchase(r) => EventRef::Purchase(r),
            Ev::Other(r) => EventRef::Other(r),
            Ev::Item(r) => EventRef::Item(r),
        }
    }
}

/// What the replay loop handles next: the customer's own purchase or event, or the next row
/// of a catalogue cursor (an announcement's).
enum Next {
    Purchase(usize),
    Other(usize),
    /// An index into the cursors.
    Item(usize),
}

/// One customer's replay in progress.
struct Run<'e, 'a> {
    ev: &'e Evaluator<'a>,
    person: &'a CustomerRows,
    profile: Option<(&'a Table, usize)>,
    s: &'e mut Scratch,
    states: Vec<DialogueState>,
    timers: Timers,
    out: CustomerResult,
    stats: &'e mut Stats,
    trace: trace::Sink<'e>,
    /// Transaction rows processed so far end here.
    tx_end: usize,
    ev_end: usize,
    projecting: bool,
    /// Messages handed to the policy so far (instance, step, visit, attempt), for quoted ids.
    sent: Vec<(usize, usize, u32, usize)>,
    seq: u32,
    /// Categories bought so far.
    seen_categories: Seen<'a>,
    contact: Contact<'a>,
    /// Empty effect buffers for reuse (nested starts need more than one).
    fx_pool: Vec<Vec<Effect<'a>>>,
    /// What a purchase set off, per dialogue (kept empty between purchases, for reuse).
    fired: Vec<(usize, triggers::Detection, triggers::Memory)>,
    /// Remembered facts and profile updates so far.
    mem: crate::expr::eval::Memory,
    /// Follow-ons started one inside the other (a run ending at once and starting the next):
    /// bounded, so dialogues that `start:` each other without a wait cannot recurse forever.
    follow_depth: u32,
    /// Announcements: the catalogue rows still to come for this customer, per dialogue.
    cursors: Vec<catalog::Cursor>,
    /// The messages planned not to go out before now (held by a send window or a cap, or due
    /// at this very instant), by index into `out.messages`: what an opt-out, an ending or a
    /// quiet_while start can still reach. Pruned as time passes.
    held: Vec<usize>,
}

/// Do two answers match, case aside? In every script: `été` answers `Été`. (ASCII first: most
/// answers are, and need no lowercased copies.)
fn same_answer(got: &str, want: &str) -> bool {
    got.eq_ignore_ascii_case(want)
        || (!(got.is_ascii() && want.is_ascii())
            && got.chars().flat_map(char::to_lowercase).eq(want.chars().flat_map(char::to_lowercase)))
}

/// The most follow-ons one ending may set off at one instant, one inside the other: a chain
/// through every dialogue twice, and some. Past it the dialogues are starting each other in a
/// loop that no wait breaks (`Skip::FollowOnLoop`).
fn follow_limit(plan: &Plan) -> u32 {
    2 * plan.dialogues.len() as u32 + 16
}

impl<'e, 'a> Run<'e, 'a> {
    fn data(&self) -> &'a Data {
        self.ev.data
    }
    fn plan(&self) -> &'a Plan {
        self.ev.plan
    }

    fn note(&mut self, at: i64, t: impl FnOnce() -> Trace) {
        if let Some(sink) = self.trace.as_deref_mut() {
            sink.push((at, t()));
        }
    }

    fn history(&self) -> History<'_> {
        self.history_to(self.tx_end)
    }

    fn history_to(&self, tx_end: usize) -> History<'_> {
        let p = self.person;
        self.s.view(self.data(), &self.ev.cols, p.tx.start, p.tx.start..tx_end, p.events.start..self.ev_end)
    }

    fn event_ref(&self, e: Option<Ev>) -> Option<(&'a Table, usize)> {
        let data = self.data();
        match e {
            Some(Ev::Purchase(r)) => Some((&data.tx, r)),
            Some(Ev::Other(r)) => data.events.as_ref().map(|t| (t, r)),
            Some(Ev::Item(r)) => data.catalog.as_deref().map(|t| (t, r)),
            None => None,
        }
    }

    /// The loop: purchases and events in time order, each preceded by the timers due before it.
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
            let own = match (next_tx, next_ev) {
                (Some(a), Some(b)) if b <= a => Some((b, Next::Other(j))),
                (Some(a), _) => Some((a, Next::Purchase(i))),
                (None, Some(b)) => Some((b, Next::Other(j))),
                (None, None) => None,
            };
            // Catalogue rows come after the customer's own events at the same instant: an
            // arrival is matched against everything the customer did and said by then.
            let item = self.next_item();
            let (t, e) = match (own, item) {
                (Some((a, _)), Some((b, c))) if b < a => (b, Next::Item(c)),
                (Some(x), _) => x,
                (None, Some((b, c))) => (b, Next::Item(c)),
                (None, None) => break,
            };
            if t > as_of {
                break;
            }
            self.fire_timers(t, false);
            match e {
                Next::Item(c) => self.on_item(c, t),
                Next::Purchase(r) => {
                    i += 1;
                    self.tx_end = r + 1;
                    self.stats.transactions += 1;
                    self.on_purchase(r, t);
                }
                Next::Other(r) => {
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
        // Not past the last instant the calendar of the inputs and the output holds
        // (9999-12-31T23:59:59Z): a wait that ends later never ends.
        let end = as_of.saturating_add(self.ev.settings.horizon).min(crate::input::time::MAX_TS);
        self.fire_timers(end, true);
    }

    /// The earliest catalogue row still to come for this customer: its time and cursor (ties:
    /// the dialogue first in trigger order).
    fn next_item(&self) -> Option<(i64, usize)> {
        let cat = &self.ev.catalog;
        let t = self.data().catalog.as_ref()?;
        let mut best: Option<(i64, usize)> = None;
        for (c, cur) in self.cursors.iter().enumerate() {
            if let Some(rank) = cur.peek(cat) {
                let ts = t.ts[cat.order[rank as usize] as usize];
                if best.is_none_or(|(b, _)| ts < b) {
                    best = Some((ts, c));
                }
            }
        }
        best
    }

    /// Find each indexed announcement's rows for the customer's key as it is at `now`
    /// (at the start, and after a profile update or a remembered fact).
    fn rekey(&mut self, now: i64) {
        if self.cursors.is_empty() {
            return;
        }
        let Some(t) = self.data().catalog.as_ref() else { return };
        let plan = self.plan();
        let cat = &self.ev.catalog;
        for c in 0..self.cursors.len() {
            if self.cursors[c].list.is_none() {
                continue;
            }
            let Some(Trigger::Announcement { index: Some(p), .. }) = &plan.dialogues[self.cursors[c].dialogue].trigger
            else {
                continue;
            };
            let keys = {
                let h = self.history();
                catalog::customer_keys(p, now, self.profile, &h, &self.mem)
            };
            self.cursors[c].rekey(cat, t, keys, now);
        }
    }

    /// A catalogue row reaches an announcement dialogue: test what the index did not, and
    /// start the dialogue for it.
    fn on_item(&mut self, c: usize, t: i64) {
        let cat = &self.ev.catalog;
        let Some(table) = self.data().catalog.as_ref() else { return };
        let Some(rank) = self.cursors[c].peek(cat) else { return };
        self.cursors[c].advance(rank);
        let scanning = self.cursors[c].list.is_none();
        let d = self.cursors[c].dialogue;
        let row = cat.order[rank as usize] as usize;
        let Some(Trigger::Announcement { matcher, cond, index, .. }) = &self.plan().dialogues[d].trigger else {
            return;
        };
        let (matched, why) = {
            let h = self.history();
            let ctx =
                Ctx { now: t, event: Some((table, row)), row: None, customer: self.profile, hist: &h, mem: &self.mem };
            // An indexed match is the keys meeting (the lookup found this row, or, scanning
            // for an explanation, they are compared here) and the residual; else the whole match.
            let m = match index {
                Some(p) => {
                    (!scanning || catalog::keys_meet(p, &ctx))
                        && p.residual.as_ref().is_none_or(|ir| eval_bool(ir, &ctx))
                }
                None => matcher.as_ref().is_none_or(|m| eval_bool(&m.ir, &ctx)),
            };
            let w = cond.as_ref().is_none_or(|w| eval_bool(&w.ir, &ctx));
            let why = if self.trace.is_none() {
                String::new()
            } else {
                catalog::why(index.as_ref(), matcher.as_ref(), cond.as_ref(), (m, w), &ctx)
            };
            (m && w, why)
        };
        self.note(t, || Trace::Item { dialogue: d, row, matched, why });
        if !matched {
            return;
        }
        let id = table.customer_id(row);
        let kind = cat.kind(table, row);
        let reason = match matcher {
            Some(m) => format!("{kind} of item `{id}` matching {}", m.src),
            None => format!("{kind} of item `{id}`"),
        };
        self.note(t, || Trace::Triggered { dialogue: d, reason: reason.clone() });
        self.try_start(d, t, Some(Ev::Item(row)), reason, None);
    }

    /// Fire every timer due before `t` (or at `t` when `inclusive`), earliest first.
    fn fire_timers(&mut self, t: i64, inclusive: bool) {
        while let Some((due, kind, d)) = self.timers.next_due(&self.plan().order, t, inclusive, self.projecting) {
            match kind {
                TimerKind::Conversation => self.on_conversation_timer(d, due),
                TimerKind::Absence => self.on_absence_timer(d, due),
            }
        }
    }

    fn on_conversation_timer(&mut self, d: usize, due: i64) {
        let dialogue = &self.plan().dialogues[d];
        let Some(mut live) = self.states[d].live else {
            self.timers.set_conversation(d, None);
            return;
        };
        let mut fx = self.fx_pool.pop().unwrap_or_default();
        let mut timer = self.timers.conversation(d);
        let alive = live
            .on_timer(dialogue, due, &mut timer, &mut fx, &mut |c, at, pending| self.holds_pending(d, c, at, pending));
        self.timers.set_conversation(d, timer);
        self.states[d].live = alive.then_some(live);
        self.carry(d, live.rec, fx, None);
    }

    fn on_absence_timer(&mut self, d: usize, due: i64) {
        self.timers.set_absence(d, None);
        let since = self.states[d].absence_since;
        let reason = triggers::absence_reason(self.plan().dialogues[d].trigger.as_ref(), since, due, &self.history());
        self.note(due, || Trace::AbsenceFired { dialogue: d, reason: reason.clone() });
        self.try_start(d, due, None, reason, None);
    }

    /// Carry out what a conversation did, and go on with it while it pauses for a message
    /// that goes out at once. One deferred (quiet hours, a send window, a cap) goes on when
    /// its timer, set for when it goes out, fires: what follows counts from the real send.
    /// `cause` is the purchase or event that set the conversation moving (None: a timer).
    fn carry(&mut self, d: usize, rec: usize, fx: Vec<Effect<'a>>, cause: Option<Ev>) {
        // The messages planned before what this event or timer does.
        let before = self.out.messages.len();
        let mut fx = fx;
        loop {
            let sent = self.apply(d, rec, fx, cause, before);
            let Some((due, send_at)) = sent else { return };
            let Some(mut live) = self.states[d].live.filter(|l| l.rec == rec && l.phase == Phase::Out) else {
                return;
            };
            if send_at > due {
                self.timers.set_conversation(d, Some(send_at));
                return;
            }
            let dialogue = &self.plan().dialogues[d];
            let mut next = self.fx_pool.pop().unwrap_or_default();
            let mut timer = self.timers.conversation(d);
            let alive = live.sent(dialogue, due, &mut timer, &mut next, &mut |c, at, pending| {
                self.holds_pending(d, c, at, pending)
            });
            self.timers.set_conversation(d, timer);
            self.states[d].live = alive.then_some(live);
            fx = next;
        }
    }

    /// Carry out what a conversation did, in order. A follow-on it starts counts from `cause`,
    /// so the rest of a starting order is not its answer; an ending caused by the customer
    /// overtakes the messages held for later that were planned before `before`.
    /// Returns when the message of a trailing `Send` was due and goes out.
    fn apply(
        &mut self,
        d: usize,
        rec: usize,
        mut fx: Vec<Effect<'a>>,
        cause: Option<Ev>,
        before: usize,
    ) -> Option<(i64, i64)> {
        let dialogue = &self.plan().dialogues[d];
        let mut sent = None;
        for e in fx.drain(..) {
            match e {
                Effect::Entered { step, at } => {
                    self.remember(&dialogue.steps[step].remember, None, at);
                    let inst = &mut self.out.instances[rec];
                    inst.path.push((step, at));
                    // The first step is entered by what started the run; later ones by an answer.
                    let by = if inst.path.len() == 1 { None } else { cause.map(EventRef::from) };
                    inst.entered_by.push(by);
                }
                Effect::Send { step, attempt, at } => {
                    sent = Some((at, self.send(d, rec, step, attempt, at)));
                }
                Effect::Chose { step, choice, at } => {
                    let number = self.out.instances[rec].number;
                    let label = format!("next if {}", dialogue.steps[step].choices[choice].0.src);
                    self.note(at, || Trace::Branch { dialogue: d, number, step: Some(step), label });
                }
                Effect::TimedOut { step, at } => {
                    if !self.projecting {
                        *self.stats.branches.entry((d, BranchAt::Step(step, StepExit::Timeout))).or_default() += 1;
                    }
                    let number = self.out.instances[rec].number;
                    self.note(at, || Trace::TimedOut { dialogue: d, number, step });
                }
                Effect::Ended { outcome, start, at } => {
                    // Ended by what the customer did: what waits to go out no longer should.
                    if cause.is_some() {
                        self.overtake(rec, before, || Suppression::Overtaken(outcome.to_owned()), at);
                    }
                    self.end(d, rec, outcome, at);
                    if let Some(next) = start {
                        let limit = follow_limit(self.plan());
                        if self.follow_depth >= limit {
                            self.note(at, || Trace::NotStarted { dialogue: next, why: Skip::FollowOnLoop(limit) });
                            continue;
                        }
                        let from = format!("{}:{outcome}", dialogue.id);
                        let reason = format!("follows `{}` ending {outcome}", dialogue.id);
                        self.follow_depth += 1;
                        self.try_start(next, at, cause, reason, Some(from));
                        self.follow_depth -= 1;
                    }
                }
            }
        }
        // Effect buffers are reused: a replay makes millions of these calls.
        self.fx_pool.push(fx);
        sent
    }

    fn on_purchase(&mut self, r: usize, t: i64) {
        let data = self.data();
        let tx = &data.tx;
        let rel = r - self.person.tx.start;
        let starts_order = self.s.starts_order(rel);
        if starts_order {
            self.s.record_order(t);
        }
        self.note(t, || Trace::Purchase(r));
        self.route(Ev::Purchase(r), t);
        let plan = self.plan();
        let category: &'a str = self.ev.cols.category.map_or("", |c| tx.str_at(c, r));
        let is_new_category = !category.is_empty() && !self.seen_categories.contains(category);
        // Detection only reads the history, so every dialogue is asked first with one view of
        // it; starting dialogues (which changes the engine's state) follows, in priority order.
        // (A buffer kept across purchases: nearly every purchase arms an absence timer.)
        let mut fired = std::mem::take(&mut self.fired);
        {
            let hist = self.history();
            let before = self.history_to(r);
            let describe = |out: &mut String| self.describe_row(r, out);
            for &d in &plan.order {
                let Some(trigger) = &plan.dialogues[d].trigger else { continue };
                if matches!(trigger, Trigger::Event { .. }) {
                    continue;
                }
                let p = triggers::Purchase {
                    tx,
                    row: r,
                    at: t,
                    hist: &hist,
                    before: &before,
                    customer: self.profile,
                    mem: &self.mem,
                    order_no: self.s.order_no(rel),
                    starts_order,
                    category,
                    new_category: is_new_category,
                    frequent_col: self.ev.cols.frequent_of[d],
                    order_id_col: self.ev.cols.order_id,
                    describe: &describe,
                };
                let mut memory = self.states[d].memory;
                let det = triggers::on_purchase(trigger, &mut memory, &p);
                if det != triggers::Detection::Quiet || memory != self.states[d].memory {
                    fired.push((d, det, memory));
                }
            }
        }
        for (d, detection, memory) in fired.drain(..) {
            self.states[d].memory = memory;
            match detection {
                triggers::Detection::Quiet => {}
                triggers::Detection::Arm(due) => {
                    // A purchase cancels any pending absence timer and arms the next one.
                    self.timers.set_absence(d, due);
                    self.states[d].absence_since = t;
                }
                triggers::Detection::Fired(reason) => {
                    self.note(t, || Trace::Triggered { dialogue: d, reason: reason.clone() });
                    self.try_start(d, t, Some(Ev::Purchase(r)), reason, None);
                }
            }
        }
        self.fired = fired;
        if is_new_category {
            self.seen_categories.insert(category);
        }
    }

    /// `purchase of product `P1`, category `c`, order `O1``, built in one buffer: it is the
    /// reason of every purchase trigger that fires.
    fn describe_row(&self, r: usize, out: &mut String) {
        let tx = &self.data().tx;
        let c = &self.ev.cols;
        out.push_str("purchase");
        let mut first = true;
        for (col, what) in [(c.product, "product"), (c.category, "category"), (c.order_id, "order")] {
            if let Some(p) = col {
                let v = tx.str_at(p, r);
                if !v.is_empty() {
                    out.push_str(if first { " of " } else { ", " });
                    first = false;
                    out.push_str(what);
                    out.push_str(" `");
                    out.push_str(v);
                    out.push('`');
                }
            }
        }
    }

    fn on_event(&mut self, r: usize, t: i64) {
        let data = self.data();
        let Some(evt) = data.events.as_ref() else { return };
        let kind: &'a str = self.ev.cols.ev_type.map_or("", |c| evt.str_at(c, r));
        self.note(t, || Trace::Event(r));
        let policy = &self.ev.settings.policy;
        if kind == policy.opt_out_event || kind == policy.opt_in_event {
            let channel: &'a str = self.ev.cols.ev_channel.map_or("", |c| evt.str_at(c, r));
            self.contact.events.push((channel, kind == policy.opt_in_event));
            if kind == policy.opt_out_event {
                self.withdraw(channel, t);
            }
        }
        if kind == PROFILE_UPDATE {
            self.profile_update(r, t);
        }
        self.route(Ev::Other(r), t);
        let plan = self.plan();
        for &d in &plan.order {
            let Some(trigger) = &plan.dialogues[d].trigger else { continue };
            let fired = {
                let h = self.history();
                let ctx = Ctx {
                    now: t,
                    event: Some((evt, r)),
                    row: Some((evt, r)),
                    customer: self.profile,
                    hist: &h,
                    mem: &self.mem,
                };
                triggers::on_event(trigger, kind, &ctx)
            };
            if let Some(reason) = fired {
                self.note(t, || Trace::Triggered { dialogue: d, reason: reason.clone() });
                self.try_start(d, t, Some(Ev::Other(r)), reason, None);
            }
        }
    }

    /// An opt-out reaches messages already planned for later (deferred ones): consent must
    /// hold when a message goes out. One that another of its channels can carry goes on that
    /// one (as the policy decides now); the others are suppressed.
    fn withdraw(&mut self, channel: &str, t: i64) {
        if !channel.is_empty() {
            self.reroute(channel, t);
        }
        self.suppress_planned(self.out.messages.len(), t, |_, _, ch| {
            (channel.is_empty() || channel == ch).then(|| Suppression::NoConsentAtSendTime(ch.to_owned()))
        });
    }

    /// The held messages on `channel`, whose consent was just withdrawn at `now`, that list
    /// another channel the customer consents to: decided again at `now` on their channels.
    /// Each keeps its due time and deferral reasons and says which channel it fell back from.
    fn reroute(&mut self, channel: &str, now: i64) {
        let plan = self.plan();
        for i in 0..self.held.len() {
            let k = self.held[i];
            let m = &self.out.messages[k];
            if m.suppressed.is_some() || m.send_at < now {
                continue;
            }
            let dialogue = self.out.instances[m.instance].dialogue;
            let d = &plan.dialogues[dialogue];
            let chans = &d.steps[m.step].ladder[m.attempt].variants[m.variant].channels;
            let old: &'a str = chans[m.channel].as_str();
            if old != channel || !chans.iter().any(|c| c != channel && self.contact.consents(c)) {
                continue;
            }
            let quiet = self.quiet_now(d);
            self.contact.unplan(m.send_at, old);
            self.stats.sent.remove_one(&sent_key(&self.ev.settings, dialogue, m));
            let was_deferred = m.note.as_ref().is_some_and(|n| n.is_deferral());
            let (from, mut by) = match &m.note {
                Some(Note::Deferred { from, by, .. }) => (*from, by.clone()),
                _ => (m.send_at, Vec::new()),
            };
            let req = Request { at: now, channels: chans, holdout: false, quiet_while_live: quiet };
            let decision = crate::policy::decide(&self.ev.settings.policy, &mut self.contact, req);
            // The deferral allowed counts from when the message was due, not from the opt-out.
            let policy = &self.ev.settings.policy;
            let decision = match decision {
                Decision::Send { at, channel: c, .. } if at - from > policy.max_defer => {
                    self.contact.unplan(at, chans[c].as_str());
                    by.push(crate::policy::DeferReason::MaxDefer(policy.max_defer));
                    Decision::Suppress { channel: c, why: Suppression::Dropped(by.clone()) }
                }
                d => d,
            };
            let m = &mut self.out.messages[k];
            match decision {
                Decision::Send { at, channel: c, note } => {
                    if let Some(Note::Deferred { by: more, .. }) = note {
                        for r in more {
                            if !by.contains(&r) {
                                by.push(r);
                            }
                        }
                    }
                    m.channel = c;
                    m.send_at = at;
                    m.note = Some(if at > from {
                        Note::Deferred { fallback: Some(old.to_owned()), from, by }
                    } else {
                        Note::Fallback(old.to_owned())
                    });
                    self.stats.sent.add(&sent_key(&self.ev.settings, dialogue, m), 1);
                    let deferred = m.note.as_ref().is_some_and(|n| n.is_deferral());
                    if deferred != was_deferred {
                        let n = self.stats.deferred.entry(dialogue).or_default();
                        *n = if deferred { *n + 1 } else { n.saturating_sub(1) };
                    }
                    // A conversation waiting for it to go out now waits for the new send.
                    self.resume_at(dialogue, k, at);
                }
                Decision::Suppress { channel: c, why } => {
                    m.channel = c;
                    self.suppress_held(k, dialogue, why, now);
                }
            }
        }
    }

    /// Suppress the held messages (`held`) planned before index `before`, not yet gone out
    /// by `now` and not yet suppressed, for which `why` (given the message, its dialogue and
    /// its channel) says so, uncounting them. Those gone out by `now` leave `held`.
    fn suppress_planned(
        &mut self,
        before: usize,
        now: i64,
        why: impl Fn(&Message, usize, &str) -> Option<Suppression>,
    ) {
        if self.held.is_empty() {
            return;
        }
        let plan = self.plan();
        let mut held = std::mem::take(&mut self.held);
        held.retain(|&k| {
            let m = &self.out.messages[k];
            m.send_at >= now && m.suppressed.is_none()
        });
        for &k in &held {
            if k >= before {
                continue;
            }
            let m = &self.out.messages[k];
            let dialogue = self.out.instances[m.instance].dialogue;
            let d = &plan.dialogues[dialogue];
            let ch = d.steps[m.step].ladder[m.attempt].variants[m.variant].channels[m.channel].as_str();
            if let Some(why) = why(m, dialogue, ch) {
                self.contact.unplan(m.send_at, ch);
                self.stats.sent.remove_one(&sent_key(&self.ev.settings, dialogue, m));
                self.suppress_held(k, dialogue, why, now);
            }
        }
        held.retain(|&k| self.out.messages[k].suppressed.is_none());
        self.held = held;
    }

    /// Held message `k` (of `dialogue`, already out of the caps and the per-day counts) does
    /// not go out: it is uncounted, and a conversation waiting for it goes on at `now` (what
    /// follows a suppressed message counts from when it was due, and that has passed).
    fn suppress_held(&mut self, k: usize, dialogue: usize, why: Suppression, now: i64) {
        let m = &mut self.out.messages[k];
        self.stats.suppression(dialogue, &why);
        if m.note.as_ref().is_some_and(|n| n.is_deferral()) {
            if let Some(n) = self.stats.deferred.get_mut(&dialogue) {
                *n = n.saturating_sub(1);
            }
        }
        m.suppressed = Some(why);
        *self.stats.messages.entry((dialogue, m.step, m.attempt)).or_default() -= 1;
        self.resume_at(dialogue, k, now);
    }

    /// The conversation paused for held message `k`, if any, goes on at `at` (it goes out
    /// then, or was suppressed).
    fn resume_at(&mut self, dialogue: usize, k: usize, at: i64) {
        let m = &self.out.messages[k];
        if self.states[dialogue]
            .live
            .is_some_and(|l| l.rec == m.instance && l.phase == Phase::Out && (l.step, l.attempt) == (m.step, m.attempt))
        {
            self.timers.set_conversation(dialogue, Some(at));
        }
    }

    /// The dialogue `d` is quiet while, live now: a message of `d` is not sent.
    fn quiet_now(&self, d: &Dialogue) -> Option<&'a str> {
        let plan = self.plan();
        d.quiet_while.iter().find(|&&q| self.states[q].live.is_some()).map(|&q| plan.dialogues[q].id.as_str())
    }

    /// The customer ended conversation `rec` at `t` (an answer, a goal) or moved it on (a
    /// branch): its messages held for later (by a send window or a cap) and not gone out by
    /// then are not sent. Only those
    /// planned before this event (`before`): what the ending itself sends (a thank-you) goes.
    /// (`why`: how it ended or moved on, built only for a message it reaches.)
    fn overtake(&mut self, rec: usize, before: usize, why: impl Fn() -> Suppression, t: i64) {
        self.suppress_planned(before, t, |m, _, _| (m.instance == rec && m.send_at > t).then(&why));
    }

    /// Dialogue `d` started at `t`: the messages held for later of the dialogues quiet while
    /// it is live are not sent, as they would not be if due now.
    fn quieten(&mut self, d: usize, t: i64) {
        let plan = self.plan();
        // (Only while it is live: a dialogue that ends as it starts quietens nothing.)
        if !self.ev.quieting[d] || self.states[d].live.is_none() {
            return;
        }
        let id = plan.dialogues[d].id.as_str();
        self.suppress_planned(self.out.messages.len(), t, |m, dialogue, _| {
            (m.send_at > t && plan.dialogues[dialogue].quiet_while.contains(&d))
                .then(|| Suppression::Quiet(id.to_owned()))
        });
    }

    /// Which visit of its current step a live instance is in (as its messages count them).
    fn current_visit(&self, live: &Live) -> u32 {
        let path = &self.out.instances[live.rec].path;
        path.iter().filter(|(s, _)| *s == live.step).count().max(1) as u32
    }

    /// Offer the element to every live instance: goals first, then the current step's branches.
    fn route(&mut self, e: Ev, t: i64) {
        let data = self.data();
        let is_response = match e {
            Ev::Other(r) => {
                let kind = self.ev.cols.ev_type.map_or("", |c| data.events.as_ref().map_or("", |ev| ev.str_at(c, r)));
                kind == self.ev.settings.response_type
            }
            Ev::Purchase(_) | Ev::Item(_) => false,
        };
        let target = match e {
            Ev::Other(r) if is_response => self.response_target(r),
            _ => None,
        };
        let mut answered = false;
        let plan = self.plan();
        for &d in &plan.order {
            let Some(mut live) = self.states[d].live else { continue };
            let addressed = match target {
                Some(Target::Dialogue { dialogue, step, visit }) => {
                    dialogue == d
                        && step.is_none_or(|s| s == live.step)
                        && visit.is_none_or(|v| v == self.current_visit(&live))
                }
                _ => false,
            };
            let dialogue = &plan.dialogues[d];
            let step = &dialogue.steps[live.step];
            let taken = dialogue
                .goals
                .iter()
                .enumerate()
                .find(|(_, b)| self.branch_matches(b, e, t, addressed, live.started_by_order))
                .map(|(k, b)| (b, BranchAt::Goal(k)))
                .or_else(|| {
                    // The step's question still waits to go out: nothing can answer it yet.
                    // (Its `delay:` still runs, or its first message is held.)
                    let asked = !(live.attempt == 0 && live.phase != Phase::After);
                    step.on
                        .iter()
                        .enumerate()
                        .filter(|(_, b)| asked || !matches!(b.matcher, Matcher::Answer(_)))
                        .find(|(_, b)| self.branch_matches(b, e, t, addressed, live.started_by_order))
                        .map(|(k, b)| (b, BranchAt::Step(live.step, StepExit::Branch(k))))
                });
            let Some((b, at)) = taken else { continue };
            self.remember(&b.remember, Some(e), t);
            if addressed && matches!(b.matcher, Matcher::Answer(_)) {
                answered = true;
            }
            *self.stats.branches.entry((d, at)).or_default() += 1;
            if matches!(at, BranchAt::Goal(_)) && self.out.instances[live.rec].goal.is_none() {
                let prompted = self
                    .out
                    .messages
                    .iter()
                    .any(|m| m.instance == live.rec && m.suppressed.is_none() && m.send_at <= t);
                self.out.instances[live.rec].goal = Some(prompted);
            }
            let number = self.out.instances[live.rec].number;
            let at_step = match at {
                BranchAt::Goal(_) => None,
                BranchAt::Step(s, _) => Some(s),
            };
            // A branch taken because its `when:` held says so.
            let label = || match &b.when {
                Some(w) => format!("{} (when {})", b.label, w.src),
                None => b.label.clone(),
            };
            self.note(t, || Trace::Branch { dialogue: d, number, step: at_step, label: label() });
            // What the customer did moves the conversation on: the message it waits to go out
            // (a reminder, the question itself) no longer should. (An ending says so itself.)
            if matches!(b.exit, crate::dialogue::plan::Exit::Goto(_)) {
                self.overtake(live.rec, self.out.messages.len(), || Suppression::MovedOn(b.label.clone()), t);
            }
            let mut fx = self.fx_pool.pop().unwrap_or_default();
            let mut timer = self.timers.conversation(d);
            let alive = live.take(dialogue, &b.exit, t, &mut timer, &mut fx, &mut |c, at, pending| {
                self.holds_pending(d, c, at, pending)
            });
            self.timers.set_conversation(d, timer);
            self.states[d].live = alive.then_some(live);
            self.carry(d, live.rec, fx, Some(e));
        }
        if is_response && !answered && target.is_some() {
            self.stats.unmatched_responses += 1;
            self.note(t, || Trace::Unmatched);
        }
    }

    /// Which live instance a response addresses, if any, warning about unknown names.
    fn response_target(&mut self, r: usize) -> Option<Target> {
        let evt = self.data().events.as_ref()?;
        let states = &self.states;
        let is_live = |rec: usize| states.iter().any(|s| s.live.is_some_and(|l| l.rec == rec));
        let known = responses::Known {
            customer: &self.person.id,
            instances: &self.out.instances,
            sent: &self.sent,
            is_live: &is_live,
            ledger: self.ev.settings.ledger.as_deref(),
        };
        match responses::target(self.plan(), evt, r, &self.ev.cols, &known) {
            Ok(t) => Some(t),
            Err(w) => {
                self.out.warnings.push(w);
                None
            }
        }
    }

    fn branch_matches(&self, b: &Branch, e: Ev, t: i64, addressed: bool, own_order: Option<u32>) -> bool {
        let data = self.data();
        let row = match (&b.matcher, e) {
            (Matcher::Purchase, Ev::Purchase(r)) => {
                if own_order.is_some_and(|o| o == self.s.order_no(r - self.person.tx.start)) {
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
                if !addressed || !same_answer(got, want) {
                    return false;
                }
                (evt, r)
            }
            _ => return false,
        };
        if b.cond.is_none() && b.when.is_none() {
            return true;
        }
        let h = self.history();
        let holds = b.cond.as_ref().is_none_or(|c| {
            let ctx =
                Ctx { now: t, event: Some(row), row: Some(row), customer: self.profile, hist: &h, mem: &self.mem };
            eval_bool(&c.ir, &ctx)
        });
        holds && b.when.as_ref().is_none_or(|w| self.holds_now(w, t, &h))
    }

    /// A `next:` choice of dialogue `d` at `t`, with the facts that the steps entered in
    /// `pending` (effects not carried out yet) remember on entry, as if they were.
    fn holds_pending(&self, d: usize, w: &crate::dialogue::plan::Cond, t: i64, pending: &[Effect<'_>]) -> bool {
        let steps = &self.plan().dialogues[d].steps;
        let h = self.history();
        let mut entered = pending.iter().filter_map(|e| match e {
            Effect::Entered { step, .. } if !steps[*step].remember.is_empty() => Some(&steps[*step].remember),
            _ => None,
        });
        let Some(first) = entered.next() else { return self.holds_now(w, t, &h) };
        let mut mem = self.mem.clone();
        for list in std::iter::once(first).chain(entered) {
            for (i, c) in list {
                let ctx = Ctx { now: t, event: None, row: None, customer: self.profile, hist: &h, mem: &mem };
                let text = fact_text(crate::expr::eval::eval(&c.ir, &ctx));
                if !text.is_empty() {
                    mem.facts[*i] = Some(text.into());
                }
            }
        }
        let ctx = Ctx { now: t, event: None, row: None, customer: self.profile, hist: &h, mem: &mem };
        eval_bool(&w.ir, &ctx)
    }

    /// A `when:` over the customer and history at `t` (no event).
    fn holds_now(&self, w: &crate::dialogue::plan::Cond, t: i64, h: &History<'_>) -> bool {
        let ctx = Ctx { now: t, event: None, row: None, customer: self.profile, hist: h, mem: &self.mem };
        eval_bool(&w.ir, &ctx)
    }

    /// Why dialogue `d` may not start at `t`, if it may not.
    fn blocked(&self, dialogue: &Dialogue, st: &DialogueState, t: i64) -> Option<Skip> {
        // One only waiting for its last message to go out has done its part: for re-entry it
        // ended as it handed that message over.
        let mut last_end = st.last_end;
        if let Some(live) = st.live {
            if !live.finishing(dialogue) {
                return Some(Skip::AlreadyLive);
            }
            last_end = Some(live.handed);
        }
        match (dialogue.reentry, last_end) {
            (Reentry::Never, _) if st.runs > 0 => Some(Skip::RanOnce),
            (Reentry::After(w), Some(end)) if t < end + w => Some(Skip::ReentryNotBefore(end + w, w)),
            _ => dialogue.quiet_while.iter().find(|&&q| self.states[q].live.is_some()).map(|&q| Skip::Quiet(q)),
        }
    }

    fn try_start(&mut self, d: usize, t: i64, e: Option<Ev>, reason: String, follow_from: Option<String>) {
        let plan = self.plan();
        let dialogue = &plan.dialogues[d];
        if let Some(why) = self.blocked(dialogue, &self.states[d], t) {
            self.note(t, || Trace::NotStarted { dialogue: d, why });
            return;
        }
        if let Some(w) = &dialogue.when {
            let h = self.history();
            let ctx =
                Ctx { now: t, event: self.event_ref(e), row: None, customer: self.profile, hist: &h, mem: &self.mem };
            if !eval_bool(&w.ir, &ctx) {
                self.note(t, || Trace::NotStarted { dialogue: d, why: Skip::WhenFalse });
                return;
            }
        }
        // A finishing instance gives way: it ends now, as its last message would have it (its
        // outcome, any follow-on), and that message still goes out when held for.
        if let Some(mut live) = self.states[d].live {
            let mut fx = self.fx_pool.pop().unwrap_or_default();
            let mut timer = None;
            let alive = live
                .sent(dialogue, t, &mut timer, &mut fx, &mut |c, at, pending| self.holds_pending(d, c, at, pending));
            debug_assert!(!alive, "only a finishing instance gives way");
            self.timers.set_conversation(d, None);
            self.states[d].live = alive.then_some(live);
            self.carry(d, live.rec, fx, None);
            // For re-entry it ended as it handed its message over.
            if self.states[d].live.is_none() {
                self.states[d].last_end = Some(live.handed);
            }
            // Its follow-on may have started this very dialogue.
            if let Some(why) = self.blocked(dialogue, &self.states[d], t) {
                self.note(t, || Trace::NotStarted { dialogue: d, why });
                return;
            }
        }
        let st = &mut self.states[d];
        st.runs += 1;
        let number = st.runs;
        let rec = self.out.instances.len();
        let held_out =
            dialogue.holdout > 0.0 && crate::ids::unit_interval(&self.person.id, &dialogue.id) < dialogue.holdout;
        let trigger = match &follow_from {
            Some(from) => format!("follow_on:{from}").into(),
            None => dialogue.trigger_kind.into(),
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
            path: smallvec::SmallVec::new(),
            entered_by: smallvec::SmallVec::new(),
            event: e.map(EventRef::from),
            held_out,
            goal: None,
            item: match (e, &self.data().catalog) {
                (Some(Ev::Item(r)), Some(t)) => Some(self.ev.catalog.item_key(t, r)),
                _ => None,
            },
        });
        *self.stats.entered.entry(d).or_default() += 1;
        self.stats.reach.entry((d, held_out)).or_default().entered += 1;
        let started_by_order = match e {
            Some(Ev::Purchase(r)) => Some(self.s.order_no(r - self.person.tx.start)),
            _ => None,
        };
        self.note(t, || Trace::Started { dialogue: d, number });
        let mut fx = self.fx_pool.pop().unwrap_or_default();
        let mut timer = self.timers.conversation(d);
        let live = Live::start(dialogue, rec, started_by_order, t, &mut timer, &mut fx, &mut |c, at, pending| {
            self.holds_pending(d, c, at, pending)
        });
        self.timers.set_conversation(d, timer);
        self.states[d].live = live;
        // What the dialogues quiet while it held for later gives up its room under the caps
        // before its own messages are decided. One with a single message before its end is
        // live only until that goes out: it quietens them after, if still live (one that ends
        // as it starts quietens nothing, and what was planned first keeps its room).
        let finishing = live.is_some_and(|l| l.finishing(dialogue));
        if !finishing {
            self.quieten(d, t);
        }
        self.carry(d, rec, fx, e);
        if finishing {
            self.quieten(d, t);
        }
    }

    /// The customer's value tier now, if tiers are configured.
    fn tier(&self, now: i64) -> Option<std::borrow::Cow<'e, str>> {
        use std::borrow::Cow;
        match &self.ev.settings.policy.tiers {
            Some(Tiers::Column(_)) => match (self.profile, self.ev.pcols.tier) {
                // A profile update since the history began wins: a backtest sees the tier then.
                (Some((t, r)), Some(c)) => match self.mem.profile_field(c) {
                    Some(updated) => Some(Cow::Owned(updated.to_owned())),
                    None => Some(Cow::Borrowed(t.str_at(c, r))),
                }
                .filter(|s| !s.is_empty()),
                _ => None,
            },
            Some(Tiers::Computed { measure, within, levels }) => {
                let v = self.history().measure(*measure, now, *within);
                Tiers::level(levels, v).map(Cow::Borrowed)
            }
            None => None,
        }
    }

    /// Remember facts (a branch taken, a step entered) at `t`, reading the event `e`.
    fn remember(&mut self, list: &'a [(usize, crate::dialogue::plan::Cond)], e: Option<Ev>, t: i64) {
        if list.is_empty() {
            return;
        }
        let mut set: Vec<(usize, String)> = Vec::with_capacity(list.len());
        {
            let h = self.history();
            let ctx =
                Ctx { now: t, event: self.event_ref(e), row: None, customer: self.profile, hist: &h, mem: &self.mem };
            for (i, c) in list {
                set.push((*i, fact_text(crate::expr::eval::eval(&c.ir, &ctx))));
            }
        }
        for (i, text) in set {
            // An answer without the value (an empty cell) does not erase what was said before.
            if text.is_empty() {
                continue;
            }
            let name = &self.plan().facts[i];
            self.note(t, || Trace::Remembered { name: name.clone(), value: text.clone() });
            self.out.facts.push((t, i, text.clone().into()));
            self.mem.facts[i] = Some(text.into());
        }
        self.rekey(t);
    }

    /// A `profile_update` event: customers column `column` holds `value` from now on.
    fn profile_update(&mut self, r: usize, t: i64) {
        let data = self.data();
        let (Some(evt), Some(cust)) = (data.events.as_ref(), data.customers.as_ref()) else { return };
        let column = self.ev.cols.ev_update_column.map_or("", |c| evt.str_at(c, r));
        let value = self.ev.cols.ev_update_value.map_or("", |c| evt.str_at(c, r));
        let warn = |message: String| Warning { table: crate::model::TableKind::Events, line: evt.line[r], message };
        match cust.col(column) {
            Some(c) => {
                if cust.num_col(c).is_some() && !value.trim().is_empty() && value.trim().parse::<f64>().is_err() {
                    self.out.warnings.push(warn(format!(
                        "profile_update: column `{column}` holds numbers, but the value is {value:?}; update ignored"
                    )));
                    return;
                }
                self.note(t, || Trace::ProfileUpdate { column: column.to_owned(), value: value.to_owned() });
                self.out.profile_updates.push((t, c, value.into()));
                self.mem.set_profile(c, value);
                self.s.forget_filters();
                self.rekey(t);
                // The contact policy reads some profile columns: from now on, it reads the update.
                let (pc, policy) = (&self.ev.pcols, &self.ev.settings.policy);
                let problem = if pc.timezone == Some(c) {
                    self.contact
                        .set_timezone(value, self.ev.settings.tz)
                        .err()
                        .map(|e| format!("{e}; the contact policy keeps the zone it had"))
                } else if pc.preferred == Some(c) {
                    let problems = self.contact.set_preferred(policy, value);
                    (!problems.is_empty()).then(|| problems.join("; "))
                } else if pc.max_per_week == Some(c) {
                    self.contact
                        .set_weekly_max(policy, value)
                        .err()
                        .map(|e| format!("{e}; the contact policy keeps the maximum it had"))
                } else if pc.dnc == Some(c) || pc.consent.iter().any(|(_, col)| *col == Some(c)) {
                    // Never a silent change of who may be contacted: that goes by opt-in/opt-out.
                    Some(format!(
                        "column `{column}` holds consent or do-not-contact, which change only by `{}`/`{}` events; the policy keeps reading the customers file",
                        policy.opt_in_event, policy.opt_out_event
                    ))
                } else {
                    None
                };
                if let Some(p) = problem {
                    self.out.warnings.push(warn(format!("profile_update: {p}")));
                }
            }
            None if column == crate::model::TableKind::Customers.key() => {
                self.out.warnings.push(warn(format!(
                    "profile_update: `{column}` is the key of the customers file and cannot change; update ignored"
                )));
            }
            None => {
                let hint = crate::diag::did_you_mean(column, cust.names.iter().map(String::as_str))
                    .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
                self.out.warnings.push(warn(format!(
                    "profile_update: the customers file has no column {column:?}{hint}; update ignored"
                )));
            }
        }
    }

    /// Pass a message through the contact policy and record it, planned or suppressed.
    /// Returns when it goes out: `at` if on time, suppressed or skipped (its `when:` false).
    fn send(&mut self, d: usize, rec: usize, step: usize, attempt: usize, at: i64) -> i64 {
        let plan = self.plan();
        let dialogue = &plan.dialogues[d];
        let msg = &dialogue.steps[step].ladder[attempt];
        if let Some(w) = &msg.when {
            let holds = {
                let h = self.history();
                self.holds_now(w, at, &h)
            };
            if !holds {
                let number = self.out.instances[rec].number;
                self.note(at, || Trace::Skipped { dialogue: d, number, step, attempt });
                return at;
            }
        }
        let tier = self.tier(at);
        let variant =
            tier.as_deref().and_then(|t| msg.variants.iter().position(|v| v.tier.as_deref() == Some(t))).unwrap_or(0);
        let v = &msg.variants[variant];
        let holdout = self.out.instances[rec].held_out;
        let quiet = self.quiet_now(dialogue);
        let req = Request { at, channels: &v.channels, holdout, quiet_while_live: quiet };
        let decision = crate::policy::decide(&self.ev.settings.policy, &mut self.contact, req);
        let (send_at, channel, suppressed, note) = match decision {
            Decision::Send { at: send_at, channel, note } => (send_at, channel, None, note),
            Decision::Suppress { channel, why } => (at, channel, Some(why), None),
        };
        let number = self.out.instances[rec].number;
        self.note(at, || Trace::Message {
            dialogue: d,
            number,
            step,
            attempt,
            variant,
            channel,
            tier: tier.map(|t| t.into_owned()),
            suppressed: suppressed.clone(),
            note: note.clone(),
        });
        match &suppressed {
            None => {
                *self.stats.messages.entry((d, step, attempt)).or_default() += 1;
                if note.as_ref().is_some_and(|n| n.is_deferral()) {
                    *self.stats.deferred.entry(d).or_default() += 1;
                }
            }
            Some(why) => self.stats.suppression(d, why),
        }
        let inst = &self.out.instances[rec];
        let visit = inst.path.iter().filter(|(s, _)| *s == step).count().max(1) as u32;
        let event = inst
            .path
            .iter()
            .rposition(|(s, _)| *s == step)
            .and_then(|i| inst.entered_by.get(i).copied().flatten())
            .or(inst.event);
        self.sent.push((rec, step, visit, attempt));
        let m = Message {
            instance: rec,
            step,
            visit,
            attempt,
            send_at,
            variant,
            channel,
            suppressed,
            note,
            seq: self.seq,
            event,
        };
        if m.suppressed.is_none() {
            self.stats.sent.add(&sent_key(&self.ev.settings, d, &m), 1);
        }
        // What comes after it counts from when it goes out; after one suppressed, from when due.
        let goes_out = if m.suppressed.is_none() { m.send_at.max(at) } else { at };
        if m.suppressed.is_none() {
            self.held.push(self.out.messages.len());
        }
        self.out.messages.push(m);
        self.seq += 1;
        goes_out
    }

    fn end(&mut self, d: usize, rec: usize, outcome: &str, t: i64) {
        let inst = &mut self.out.instances[rec];
        inst.outcome = Some(outcome.to_owned());
        inst.ended_at = Some(t);
        inst.projected = self.projecting;
        let number = inst.number;
        let st = &mut self.states[d];
        st.live = None;
        st.last_end = Some(t);
        if !self.projecting {
            self.stats.concluded(d, &self.out.instances[rec], outcome);
        }
        self.note(t, || Trace::Ended { dialogue: d, number, outcome: outcome.to_owned() });
    }
}

/// A set of texts: a list while small (most customers buy in a few categories), hashed past
/// that (a catch-all customer with thousands of categories was quadratic).
#[derive(Default)]
struct Seen<'a> {
    few: Vec<&'a str>,
    many: rustc_hash::FxHashSet<&'a str>,
}

impl<'a> Seen<'a> {
    const FEW: usize = 32;

    fn contains(&self, s: &str) -> bool {
        if self.many.is_empty() {
            self.few.contains(&s)
        } else {
            self.many.contains(s)
        }
    }

    fn insert(&mut self, s: &'a str) {
        if !self.many.is_empty() {
            self.many.insert(s);
        } else if self.few.len() < Self::FEW {
            if !self.few.contains(&s) {
                self.few.push(s);
            }
        } else {
            self.many.extend(self.few.drain(..));
            self.many.insert(s);
        }
    }
}

/// A remembered value as text (empty: nothing to remember).
fn fact_text(v: crate::expr::Val<'_>) -> String {
    match v {
        crate::expr::Val::Num(x) if x.is_nan() => String::new(),
        crate::expr::Val::Num(x) => crate::input::table::format_num(x),
        crate::expr::Val::Str(s) => s.into_owned(),
        crate::expr::Val::Bool(b) => b.to_string(),
    }
}

/// Where a message that goes out is counted in `Stats::sent`.
fn sent_key(s: &Settings, dialogue: usize, m: &Message) -> result::Sent {
    result::Sent {
        dialogue,
        day: crate::input::time::local_day(m.send_at, s.tz),
        scheduled: m.send_at > s.as_of,
        step: m.step,
        attempt: m.attempt,
        variant: m.variant,
        channel: m.channel,
    }
}

#[cfg(test)]
mod tests;
