//! What replaying one customer produces: dialogue instances, messages (planned or suppressed,
//! with the policy's decision as values), data warnings, and counts for the summary.

use std::collections::BTreeMap;

use crate::policy::{Note, Suppression, SuppressionKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Past (before the as-of day). Only the ledger knows whether it was sent: without one a
    /// replay can only say it was planned.
    Planned,
    Due,
    Scheduled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Due => "due",
            Status::Scheduled => "scheduled",
        }
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
        Status::Planned
    }
}

/// A row of the inputs that caused something: a purchase line or an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRef {
    /// A row of the transactions table.
    Purchase(usize),
    /// A row of the events table.
    Other(usize),
    /// A row of the catalogue (what an announcement is about).
    Item(usize),
}

/// One planned message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Index into the customer's instances.
    pub instance: usize,
    pub step: usize,
    /// Which visit of the step in its instance (1 = the first time it was entered).
    pub visit: u32,
    pub attempt: usize,
    pub send_at: i64,
    /// Which variant (0 = default, else a tier's) and which of its channels was chosen.
    pub variant: usize,
    pub channel: usize,
    /// Why it will not go out, when it will not.
    pub suppressed: Option<Suppression>,
    /// What the policy changed: a fallback channel, a deferral.
    pub note: Option<Note>,
    /// Evaluation order, the last tie-breaker.
    pub seq: u32,
    /// The event its template sees as `event`: the answer that entered the step, else the
    /// event that started the dialogue.
    pub event: Option<EventRef>,
}

impl Message {
    /// The `policy_note` column: the suppression reason, else what the policy changed.
    pub fn policy_note(&self) -> String {
        match (&self.suppressed, &self.note) {
            (Some(s), _) => s.to_string(),
            (None, Some(n)) => n.to_string(),
            (None, None) => String::new(),
        }
    }
}

/// One run of a dialogue for a customer.
#[derive(Debug, Clone)]
pub struct Instance {
    pub dialogue: usize,
    /// 1-based run number of this dialogue for this customer.
    pub number: u32,
    /// The trigger's kind, or `follow_on:DIALOGUE`.
    pub trigger: std::borrow::Cow<'static, str>,
    pub triggered_at: i64,
    pub reason: String,
    pub outcome: Option<String>,
    pub ended_at: Option<i64>,
    /// The outcome is what happens after as-of if nothing else does (a projection).
    pub projected: bool,
    /// Steps entered, with when.
    pub path: Vec<(usize, i64)>,
    /// Per entry of `path`: the event that entered the step (an answer), if one did.
    pub entered_by: Vec<Option<EventRef>>,
    /// The event that started this run (none for an absence or a follow-on without one).
    pub event: Option<EventRef>,
    /// In the dialogue's holdout group: its messages are suppressed.
    pub held_out: bool,
    /// A goal was reached (before as-of): `Some(prompted)`, prompted when a message of the
    /// instance had gone out by then.
    pub goal: Option<bool>,
    /// An announcement's catalogue row as `item_id`, `type`, timestamp (seconds), joined by
    /// U+001F: what its messages' ids are derived from instead of `number`.
    pub item: Option<Box<str>>,
}

impl Instance {
    /// The 128-bit id of this run's message at `step` (`visit`, `attempt`).
    pub fn message_hash(&self, customer: &str, dialogue: &str, step: &str, visit: u32, attempt: u32) -> u128 {
        match &self.item {
            Some(item) => crate::ids::message_hash_item(customer, dialogue, item, step, visit, attempt),
            None => crate::ids::message_hash(customer, dialogue, self.number, step, visit, attempt),
        }
    }
}

/// A problem with one row of an input (the events or the customers file), found while
/// replaying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub table: crate::model::TableKind,
    pub line: u32,
    pub message: String,
}

#[derive(Debug, Default, Clone)]
pub struct CustomerResult {
    pub person: usize,
    pub instances: Vec<Instance>,
    pub messages: Vec<Message>,
    pub warnings: Vec<Warning>,
    /// Facts remembered, in time order: (when, index into the plan's facts, value).
    pub facts: Vec<(i64, usize, Box<str>)>,
    /// Profile fields changed by `profile_update` events: (when, customers column, value).
    pub profile_updates: Vec<(i64, usize, Box<str>)>,
}

impl CustomerResult {
    /// The facts as they stood at `t` (the latest value of each, up to and including `t`).
    pub fn facts_at(&self, t: i64) -> Vec<(usize, &str)> {
        let mut out: Vec<(usize, &str)> = Vec::new();
        for (at, i, v) in self.facts.iter().filter(|(at, _, _)| *at <= t) {
            let _ = at;
            match out.iter_mut().find(|(k, _)| k == i) {
                Some(slot) => slot.1 = v,
                None => out.push((*i, v)),
            }
        }
        out
    }

    /// The profile column `col` as updated by `t`, if an update changed it by then.
    pub fn profile_at(&self, col: usize, t: i64) -> Option<&str> {
        self.profile_updates.iter().rev().find(|(at, c, _)| *c == col && *at <= t).map(|(_, _, v)| &**v)
    }
}

/// How a step was left other than by its own plain exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepExit {
    /// The step's `on:` branch with this index.
    Branch(usize),
    Timeout,
}

/// Where a branch was taken: a step's branch or timeout, or a dialogue goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BranchAt {
    Step(usize, StepExit),
    Goal(usize),
}

/// Messages that go out, counted by dialogue, local day and channel (for volumes over time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sent {
    pub dialogue: usize,
    /// Local calendar day of the send time (days since the epoch, `time::local_day`).
    pub day: i64,
    /// After as-of: a projection (status `scheduled`).
    pub scheduled: bool,
    pub step: usize,
    pub attempt: usize,
    pub variant: usize,
    pub channel: usize,
}

/// What happened to the instances of one dialogue in one group (held out or treated).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    pub entered: u64,
    /// Ended by as-of (not live, not a projected end): their outcome is known.
    pub concluded: u64,
    /// Of the concluded: reached a goal.
    pub goal: u64,
    /// Of those: before any message of theirs had gone out.
    pub goal_unprompted: u64,
}

impl Reach {
    fn add(&mut self, o: Reach) {
        self.entered += o.entered;
        self.concluded += o.concluded;
        self.goal += o.goal;
        self.goal_unprompted += o.goal_unprompted;
    }
}

/// Counts for the summary and the report, merged across workers.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub customers: u64,
    pub transactions: u64,
    pub events: u64,
    pub entered: BTreeMap<usize, u64>,
    /// (dialogue, step, attempt)
    pub messages: BTreeMap<(usize, usize, usize), u64>,
    pub branches: BTreeMap<(usize, BranchAt), u64>,
    pub outcomes: BTreeMap<(usize, String), u64>,
    pub suppressed: BTreeMap<(usize, SuppressionKind), u64>,
    pub unmatched_responses: u64,
    /// Messages moved later by a send window or cap, per dialogue.
    pub deferred: BTreeMap<usize, u64>,
    /// Messages that go out by day and channel (the same messages as `messages`). Hashed,
    /// not ordered: every message adds to it, and its readers only sum it.
    pub sent: rustc_hash::FxHashMap<Sent, u64>,
    /// (dialogue, held out) → instances entered, concluded, reaching a goal.
    pub reach: BTreeMap<(usize, bool), Reach>,
    /// (dialogue, held out, outcome) → instances that ended so by as-of.
    pub group_outcomes: BTreeMap<(usize, bool, String), u64>,
}

impl Stats {
    pub fn merge(&mut self, o: Stats) {
        self.customers += o.customers;
        self.transactions += o.transactions;
        self.events += o.events;
        self.unmatched_responses += o.unmatched_responses;
        fn add<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
            for (k, v) in from {
                *into.entry(k).or_default() += v;
            }
        }
        add(&mut self.entered, o.entered);
        add(&mut self.messages, o.messages);
        add(&mut self.branches, o.branches);
        add(&mut self.outcomes, o.outcomes);
        add(&mut self.suppressed, o.suppressed);
        add(&mut self.deferred, o.deferred);
        for (k, v) in o.sent {
            *self.sent.entry(k).or_default() += v;
        }
        add(&mut self.group_outcomes, o.group_outcomes);
        for (k, r) in o.reach {
            self.reach.entry(k).or_default().add(r);
        }
    }

    pub fn outcome(&mut self, d: usize, outcome: &str) {
        // Look up before inserting: the key is only allocated the first time it is seen.
        match self.outcomes.iter_mut().find(|((k, s), _)| *k == d && s == outcome) {
            Some((_, n)) => *n += 1,
            None => {
                self.outcomes.insert((d, outcome.to_owned()), 1);
            }
        }
    }

    /// An instance ended by as-of with `outcome`: counted in its group.
    pub fn concluded(&mut self, d: usize, inst: &Instance, outcome: &str) {
        let r = self.reach.entry((d, inst.held_out)).or_default();
        r.concluded += 1;
        if let Some(prompted) = inst.goal {
            r.goal += 1;
            r.goal_unprompted += u64::from(!prompted);
        }
        match self.group_outcomes.iter_mut().find(|((k, h, s), _)| *k == d && *h == inst.held_out && s == outcome) {
            Some((_, n)) => *n += 1,
            None => {
                self.group_outcomes.insert((d, inst.held_out, outcome.to_owned()), 1);
            }
        }
    }

    pub fn suppression(&mut self, d: usize, why: &Suppression) {
        *self.suppressed.entry((d, why.kind())).or_default() += 1;
    }
}
