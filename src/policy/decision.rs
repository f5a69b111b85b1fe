//! What the policy decided about one message, as values: the output renders them as text,
//! the summary counts them by kind; nothing parses them back.

use std::fmt;

use super::Cap;
use crate::model::format_duration;

/// The outcome of `decide`.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Goes out at `at` on the request's channel number `channel`.
    Send { at: i64, channel: usize, note: Option<Note> },
    /// Does not go out; `channel` is the one it would have used.
    Suppress { channel: usize, why: Suppression },
}

/// Why a message does not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suppression {
    Holdout,
    /// Quiet while this dialogue is live.
    Quiet(String),
    DoNotContact,
    /// None of these channels has consent.
    NoConsent(Vec<String>),
    /// Consent was withdrawn before the (deferred) send time.
    NoConsentAtSendTime(String),
    /// Deferral past `max_defer`, or a cap with `on_cap: drop`.
    Dropped(Vec<DeferReason>),
    /// A do-not-contact column is configured and the customer has no row in the customers
    /// file: whether they may be contacted is unknown.
    NoProfile,
    /// Held for later (a send window, a cap), it had not gone out when the customer ended
    /// the conversation (an answer, a goal: the outcome).
    Overtaken(String),
    /// Held for later, it had not gone out when the customer moved the conversation on to
    /// another step (the branch taken: `answer yes`, `event visit`).
    MovedOn(String),
}

/// Suppressions grouped for counting; ordered as their labels sort.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SuppressionKind {
    Quiet(String),
    DoNotContact,
    Dropped,
    Holdout,
    NoConsent,
    NoProfile,
    Overtaken,
}

impl Suppression {
    pub fn kind(&self) -> SuppressionKind {
        match self {
            Suppression::Holdout => SuppressionKind::Holdout,
            Suppression::Quiet(d) => SuppressionKind::Quiet(d.clone()),
            Suppression::DoNotContact => SuppressionKind::DoNotContact,
            Suppression::NoConsent(_) | Suppression::NoConsentAtSendTime(_) => SuppressionKind::NoConsent,
            Suppression::Dropped(_) => SuppressionKind::Dropped,
            Suppression::NoProfile => SuppressionKind::NoProfile,
            Suppression::Overtaken(_) | Suppression::MovedOn(_) => SuppressionKind::Overtaken,
        }
    }
}

impl fmt::Display for SuppressionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuppressionKind::Quiet(d) => write!(f, "blocked: quiet while `{d}` is live"),
            SuppressionKind::DoNotContact => f.write_str("do not contact"),
            SuppressionKind::Dropped => f.write_str("dropped by cap or send window"),
            SuppressionKind::Holdout => f.write_str("holdout"),
            SuppressionKind::NoConsent => f.write_str("no consent"),
            SuppressionKind::NoProfile => f.write_str("not in the customers file"),
            SuppressionKind::Overtaken => f.write_str("overtaken: the conversation ended before its send time"),
        }
    }
}

impl fmt::Display for Suppression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Suppression::Holdout => f.write_str("holdout"),
            Suppression::Quiet(d) => write!(f, "blocked: quiet while `{d}` is live"),
            Suppression::DoNotContact => f.write_str("do not contact"),
            Suppression::NoConsent(chans) => write!(f, "no consent for {}", chans.join(", ")),
            Suppression::NoConsentAtSendTime(ch) => write!(f, "no consent for {ch} at send time"),
            Suppression::Dropped(reasons) => write!(f, "dropped: {}", Reasons(reasons)),
            Suppression::NoProfile => f.write_str("not in the customers file, so do-not-contact is unknown"),
            Suppression::Overtaken(outcome) => {
                write!(f, "overtaken: the conversation ended (`{outcome}`) before its send time")
            }
            Suppression::MovedOn(branch) => {
                write!(f, "overtaken: the conversation moved on ({branch}) before its send time")
            }
        }
    }
}

/// Why a message was moved later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeferReason {
    Window,
    Cap(Cap),
    /// The deferral the others ask for is longer than `max_defer` (seconds): why it is dropped.
    MaxDefer(i64),
}

impl fmt::Display for DeferReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeferReason::Window => f.write_str("send window"),
            DeferReason::Cap(c) => match &c.channel {
                Some(ch) => write!(f, "cap {} {ch} per {}", c.max, format_duration(c.per)),
                None => write!(f, "cap {} per {}", c.max, format_duration(c.per)),
            },
            DeferReason::MaxDefer(d) => write!(f, "it would wait past max_defer {}", format_duration(*d)),
        }
    }
}

struct Reasons<'a>(&'a [DeferReason]);

impl fmt::Display for Reasons<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// What the policy changed about a message that goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Sent on a fallback channel: the preferred one has no consent.
    Fallback(String),
    /// Moved later, perhaps also on a fallback channel.
    Deferred { fallback: Option<String>, from: i64, by: Vec<DeferReason> },
}

impl Note {
    pub fn is_deferral(&self) -> bool {
        matches!(self, Note::Deferred { .. })
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Fallback(ch) => write!(f, "fallback: no consent for {ch}"),
            Note::Deferred { fallback, from, by } => {
                if let Some(ch) = fallback {
                    write!(f, "fallback: no consent for {ch}; ")?;
                }
                write!(f, "deferred from {} by {}", crate::input::time::format_utc(*from), Reasons(by))
            }
        }
    }
}
