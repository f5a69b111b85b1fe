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
    /// Steps entered, with when (most runs enter one or two: kept inline, not allocated).
    pub path: smallvec::SmallVec<[(usize, i64); 2]>,
    /// Per entry of `path`: the event that entered the step (an answer), if one did.
    pub entered_by: smallvec::SmallVec<[Option<EventRef>; 2]>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// `Sent` but its day: one row of day counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SentRow {
    dialogue: usize,
    scheduled: bool,
    step: usize,
    attempt: usize,
    variant: usize,
    channel: usize,
}

impl Sent {
    fn row(&self) -> SentRow {
        let Sent { dialogue, day: _, scheduled, step, attempt, variant, channel } = *self;
        SentRow { dialogue, scheduled, step, attempt, variant, channel }
    }
}

impl SentRow {
    fn on(&self, day: i64) -> Sent {
        let SentRow { dialogue, scheduled, step, attempt, variant, channel } = *self;
        Sent { dialogue, day, scheduled, step, attempt, variant, channel }
    }
}

/// Days a row counts densely (a vector from its first day) before further days are kept
/// sparse: about eleven years, 32 KiB a row, whatever the timestamps in the input.
const DENSE_DAYS: usize = 4096;

/// One row's counts by day: a dense run of days, and any days far from it.
#[derive(Debug, Default, Clone)]
struct DayCounts {
    first: i64,
    dense: Vec<u64>,
    far: BTreeMap<i64, u64>,
}

impl DayCounts {
    /// The count of `day`, made room for if it fits the dense run.
    fn slot(&mut self, day: i64) -> &mut u64 {
        if self.dense.is_empty() {
            self.first = day;
            self.dense.push(0);
        }
        let len = self.dense.len() as i64;
        let (lo, hi) = (self.first.min(day), (self.first + len - 1).max(day));
        if hi.checked_sub(lo).is_none_or(|span| span >= DENSE_DAYS as i64) {
            return self.far.entry(day).or_default();
        }
        if day < self.first {
            // Room before the run: what is needed, or half the run again (within the cap),
            // so a run growing backwards a day at a time is not shifted every time.
            let need = (self.first - day) as usize;
            let room = DENSE_DAYS - self.dense.len();
            let add = need.max(self.dense.len() / 2).min(room);
            self.dense.splice(0..0, std::iter::repeat_n(0, add));
            self.first -= add as i64;
        } else if day >= self.first + len {
            self.dense.resize((day - self.first + 1) as usize, 0);
        }
        &mut self.dense[(day - self.first) as usize]
    }

    fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        let dense = self.dense.iter().enumerate().map(|(i, &n)| (self.first + i as i64, n));
        dense.chain(self.far.iter().map(|(&d, &n)| (d, n))).filter(|&(_, n)| n > 0)
    }
}

/// Messages that go out by `Sent` key. Every message adds to it: a row per key but its day
/// (a handful per plan) holding a vector of days, rather than a map of every (key, day).
#[derive(Debug, Default, Clone)]
pub struct SentCounts {
    rows: rustc_hash::FxHashMap<SentRow, usize>,
    days: Vec<(SentRow, DayCounts)>,
}

impl SentCounts {
    fn slot(&mut self, k: &Sent) -> &mut u64 {
        let row = k.row();
        let days = &mut self.days;
        let i = *self.rows.entry(row).or_insert_with(|| {
            days.push((row, DayCounts::default()));
            days.len() - 1
        });
        self.days[i].1.slot(k.day)
    }

    /// Count `n` more messages of `k`.
    pub fn add(&mut self, k: &Sent, n: u64) {
        *self.slot(k) += n;
    }

    /// Count one message of `k` fewer (one withdrawn), if any was counted.
    pub fn remove_one(&mut self, k: &Sent) {
        let n = self.slot(k);
        *n = n.saturating_sub(1);
    }

    /// Every key with a count above zero, in no particular order (readers sum them).
    pub fn iter(&self) -> impl Iterator<Item = (Sent, u64)> + '_ {
        self.days.iter().flat_map(|(r, d)| d.iter().map(move |(day, n)| (r.on(day), n)))
    }

    pub fn merge(&mut self, o: SentCounts) {
        for (k, n) in o.iter() {
            self.add(&k, n);
        }
    }
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
    /// How instances ended by as-of, per dialogue and group.
    pub outcomes: Outcomes,
    pub suppressed: BTreeMap<(usize, SuppressionKind), u64>,
    pub unmatched_responses: u64,
    /// Messages moved later by a send window or cap, per dialogue.
    pub deferred: BTreeMap<usize, u64>,
    /// Messages that go out by day and channel (the same messages as `messages`).
    pub sent: SentCounts,
    /// (dialogue, held out) → instances entered, concluded, reaching a goal.
    pub reach: BTreeMap<(usize, bool), Reach>,
}

/// How instances ended by as-of: per dialogue, each outcome with its count among the treated
/// and among the held out. A dialogue has a handful of outcomes, and one is counted per
/// ended instance (millions in a run): a scan of the dialogue's few names, not a map keyed by
/// (dialogue, string) whose every lookup compares strings down the tree.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcomes {
    /// Per dialogue: (outcome, [treated, held out]), in the order first seen.
    by_dialogue: Vec<Vec<(String, [u64; 2])>>,
}

impl Outcomes {
    /// `n` more instances of dialogue `d` ended with `outcome`, in the group `held_out`.
    pub fn add(&mut self, d: usize, held_out: bool, outcome: &str, n: u64) {
        self.counts(d, outcome)[usize::from(held_out)] += n;
    }

    /// Dialogue `d`'s [treated, held out] counts of `outcome`, made on first sight.
    fn counts(&mut self, d: usize, outcome: &str) -> &mut [u64; 2] {
        if self.by_dialogue.len() <= d {
            self.by_dialogue.resize_with(d + 1, Vec::new);
        }
        let list = &mut self.by_dialogue[d];
        let i = match list.iter().position(|(o, _)| o == outcome) {
            Some(i) => i,
            None => {
                list.push((outcome.to_owned(), [0; 2]));
                list.len() - 1
            }
        };
        &mut list[i].1
    }

    /// Dialogue `d`'s outcomes by name (sorted): each with [treated, held out].
    pub fn of(&self, d: usize) -> Vec<(&str, [u64; 2])> {
        let mut v: Vec<(&str, [u64; 2])> =
            self.by_dialogue.get(d).map_or(&[][..], Vec::as_slice).iter().map(|(o, n)| (o.as_str(), *n)).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Instances of dialogue `d` that ended, whatever the outcome and group.
    pub fn ended(&self, d: usize) -> u64 {
        self.by_dialogue.get(d).map_or(0, |l| l.iter().map(|(_, [t, h])| t + h).sum())
    }

    /// Instances of every dialogue that ended.
    pub fn total(&self) -> u64 {
        (0..self.by_dialogue.len()).map(|d| self.ended(d)).sum()
    }

    pub fn merge(&mut self, o: Outcomes) {
        for (d, list) in o.by_dialogue.into_iter().enumerate() {
            for (outcome, [t, h]) in list {
                let c = self.counts(d, &outcome);
                c[0] += t;
                c[1] += h;
            }
        }
    }
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
        self.outcomes.merge(o.outcomes);
        add(&mut self.suppressed, o.suppressed);
        add(&mut self.deferred, o.deferred);
        self.sent.merge(o.sent);
        for (k, r) in o.reach {
            self.reach.entry(k).or_default().add(r);
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
        self.outcomes.add(d, inst.held_out, outcome, 1);
    }

    pub fn suppression(&mut self, d: usize, why: &Suppression) {
        *self.suppressed.entry((d, why.kind())).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts by dialogue, outcome and group add up as a map of every key would, merges in
    /// either order give the same counts, and names come back sorted whatever order they were
    /// first seen in.
    #[test]
    fn outcomes_count_by_dialogue_name_and_group() {
        let mut model: BTreeMap<(usize, String, bool), u64> = BTreeMap::new();
        let mut parts = [Outcomes::default(), Outcomes::default()];
        let names = ["lapsed", "bought", "aborted_loop", "agreed", "b", "bought2"];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (d, o, h) = ((x % 4) as usize, names[(x >> 8) as usize % names.len()], (x >> 16) & 1 == 1);
            parts[(x >> 20) as usize % 2].add(d, h, o, 1);
            *model.entry((d, o.to_owned(), h)).or_default() += 1;
        }
        let [a, b] = parts;
        let (mut ab, mut ba) = (a.clone(), b.clone());
        ab.merge(b);
        ba.merge(a);
        for o in [&ab, &ba] {
            for d in 0..5 {
                let want: Vec<(String, [u64; 2])> = names
                    .iter()
                    .map(|n| {
                        let c = |h: bool| model.get(&(d, (*n).to_owned(), h)).copied().unwrap_or(0);
                        ((*n).to_owned(), [c(false), c(true)])
                    })
                    .filter(|(_, [t, h])| t + h > 0)
                    .collect::<BTreeMap<_, _>>()
                    .into_iter()
                    .collect();
                let got: Vec<(String, [u64; 2])> = o.of(d).into_iter().map(|(n, c)| (n.to_owned(), c)).collect();
                assert_eq!(got, want, "dialogue {d}");
                assert_eq!(o.ended(d), want.iter().map(|(_, [t, h])| t + h).sum::<u64>());
            }
            assert!(o.of(9).is_empty());
            assert_eq!(o.total(), 5_000);
        }
    }

    fn key(dialogue: usize, day: i64, channel: usize) -> Sent {
        Sent { dialogue, day, scheduled: day > 20_000, step: 0, attempt: 0, variant: 0, channel }
    }

    /// Adds, withdrawals and merges give the same counts as a map of every key, for days
    /// that grow the dense run forwards and backwards and days far from it.
    #[test]
    fn sent_counts_are_a_map_of_keys() {
        let mut model: BTreeMap<Sent, u64> = BTreeMap::new();
        // Two workers' counts, merged at the end as `Stats::merge` does.
        let mut parts = [SentCounts::default(), SentCounts::default()];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..20_000i64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let day = match x % 10 {
                // Mostly near each other, drifting backwards; now and then centuries away.
                0 => -400_000 + (x % 800_000) as i64,
                _ => 19_000 + (x >> 8) as i64 % 3_000 - i / 10,
            };
            let k = key((x >> 20) as usize % 3, day, (x >> 24) as usize % 2);
            let part = &mut parts[(x >> 30) as usize % 2];
            part.add(&k, 1);
            *model.entry(k).or_default() += 1;
            if x.is_multiple_of(7) {
                // The engine withdraws a message in the worker that counted it.
                part.remove_one(&k);
                *model.get_mut(&k).unwrap() -= 1;
            }
        }
        model.retain(|_, n| *n > 0);
        let [mut a, b] = parts;
        a.merge(b);
        let got: BTreeMap<Sent, u64> = a.iter().collect();
        assert_eq!(got.len(), a.iter().count(), "every key once");
        assert_eq!(got, model);
        assert!(a.days.iter().all(|(_, d)| d.dense.len() <= DENSE_DAYS), "the dense run is capped");
        assert!(a.days.iter().any(|(_, d)| !d.far.is_empty()), "far days were kept sparse");
    }

    #[test]
    fn a_withdrawn_message_is_no_longer_counted_and_zeros_are_not_listed() {
        let mut s = SentCounts::default();
        s.add(&key(0, 100, 0), 1);
        s.add(&key(0, 102, 0), 2);
        s.remove_one(&key(0, 100, 0));
        s.remove_one(&key(1, 5, 0));
        let got: Vec<(Sent, u64)> = s.iter().collect();
        assert_eq!(got, vec![(key(0, 102, 0), 2)]);
    }
}
