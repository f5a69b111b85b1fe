//! Explain tracing as typed events: the engine records what it saw and decided, the `explain`
//! report renders them. Recording costs nothing unless a sink is given.

use crate::policy::{Note, Suppression};

/// Why a triggered dialogue did not start.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    AlreadyLive,
    RanOnce,
    /// Re-entry is allowed from this instant (after this long).
    ReentryNotBefore(i64, i64),
    /// Quiet while this dialogue is live.
    Quiet(usize),
    /// The dialogue's `when:` is false.
    WhenFalse,
    /// Follow-ons (`start:`) started each other this many times at one instant: a loop that
    /// would never end, stopped here.
    FollowOnLoop(u32),
}

/// One thing that happened in a customer's replay.
#[derive(Debug, Clone, PartialEq)]
pub enum Trace {
    /// A fact remembered (`remember:`).
    Remembered {
        name: String,
        value: String,
    },
    /// A profile field changed by a `profile_update` event.
    ProfileUpdate {
        column: String,
        value: String,
    },
    /// A purchase line (transactions row).
    Purchase(usize),
    /// An event (events row).
    Event(usize),
    /// A catalogue row offered to an announcement dialogue, and whether it matched.
    Item {
        dialogue: usize,
        row: usize,
        matched: bool,
        /// Why it did or did not match: the keys compared, the condition that was false.
        why: String,
    },
    Triggered {
        dialogue: usize,
        reason: String,
    },
    AbsenceFired {
        dialogue: usize,
        reason: String,
    },
    NotStarted {
        dialogue: usize,
        why: Skip,
    },
    Started {
        dialogue: usize,
        number: u32,
    },
    Message {
        dialogue: usize,
        number: u32,
        step: usize,
        attempt: usize,
        variant: usize,
        channel: usize,
        tier: Option<String>,
        suppressed: Option<Suppression>,
        note: Option<Note>,
    },
    /// A message not sent because its `when:` was false when it was due.
    Skipped {
        dialogue: usize,
        number: u32,
        step: usize,
        attempt: usize,
    },
    /// A branch or goal taken (`step` None: a goal).
    Branch {
        dialogue: usize,
        number: u32,
        step: Option<usize>,
        label: String,
    },
    TimedOut {
        dialogue: usize,
        number: u32,
        step: usize,
    },
    Ended {
        dialogue: usize,
        number: u32,
        outcome: String,
    },
    /// A response that reached a dialogue but matched no open question.
    Unmatched,
}

/// Where trace events go.
pub type Sink<'t> = Option<&'t mut Vec<(i64, Trace)>>;
