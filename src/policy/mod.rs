//! Contact policy between the dialogues and the output: value tiers, consent and preferences,
//! contact caps, send windows and holdouts. Every message a dialogue wants to send passes
//! `decide` and comes out `Send` (perhaps on another channel or later) or `Suppress` with a
//! typed reason. No knowledge of dialogues, tables or output: plain values in, a decision out.

mod caps;
mod decision;
mod window;

use std::collections::BTreeMap;

use chrono_tz::Tz;

pub use caps::cap_room;
pub use decision::{Decision, DeferReason, Note, Suppression, SuppressionKind};

use crate::model::{Closed, Measure, DAY, WEEK};

#[derive(Debug, Clone)]
pub enum Tiers {
    Column(String),
    Computed { measure: Measure, within: Option<i64>, levels: Vec<(String, f64)> },
}

impl Tiers {
    /// The tier of a computed measure value: the highest level whose minimum it reaches.
    pub fn level(levels: &[(String, f64)], value: f64) -> Option<&str> {
        levels.iter().find(|(_, min)| value >= *min).map(|(name, _)| name.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cap {
    pub max: u32,
    pub per: i64,
    pub channel: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCap {
    Defer,
    Drop,
}

impl Closed for OnCap {
    const WHAT: &'static str = "on_cap value";
    const NAMES: &'static [(&'static str, Self)] = &[("defer", OnCap::Defer), ("drop", OnCap::Drop)];
}

/// A channel's consent when the customer file says nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentDefault {
    In,
    Out,
}

impl Closed for ConsentDefault {
    const WHAT: &'static str = "consent default";
    const NAMES: &'static [(&'static str, Self)] = &[("in", ConsentDefault::In), ("out", ConsentDefault::Out)];
}

#[derive(Debug, Clone)]
pub struct Window {
    pub days: [bool; 7],
    /// Seconds after local midnight.
    pub from: u32,
    pub to: u32,
}

#[derive(Debug, Clone)]
pub struct ChannelConsent {
    pub default_in: bool,
    pub column: Option<String>,
}

/// The checked policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub tiers: Option<Tiers>,
    pub caps: Vec<Cap>,
    pub on_cap: OnCap,
    pub max_defer: i64,
    pub windows: BTreeMap<String, Window>,
    pub timezone_column: Option<String>,
    pub do_not_contact: Option<String>,
    pub consent: BTreeMap<String, ChannelConsent>,
    pub opt_in_event: String,
    pub opt_out_event: String,
    pub preferred_column: Option<String>,
    pub max_per_week_column: Option<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            tiers: None,
            caps: Vec::new(),
            on_cap: OnCap::Defer,
            max_defer: 14 * DAY,
            windows: BTreeMap::new(),
            timezone_column: None,
            do_not_contact: None,
            consent: BTreeMap::new(),
            opt_in_event: "opt_in".to_owned(),
            opt_out_event: "opt_out".to_owned(),
            preferred_column: None,
            max_per_week_column: None,
        }
    }
}

impl Policy {
    pub fn tier_names(&self) -> Vec<String> {
        match &self.tiers {
            Some(Tiers::Computed { levels, .. }) => levels.iter().map(|(n, _)| n.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// The next instant at or after `t` inside the channel's send window, in `tz`.
    pub fn next_in_window(&self, channel: &str, t: i64, tz: Tz) -> i64 {
        self.windows.get(channel).map_or(t, |w| w.next(t, tz))
    }
}

/// What the policy knows about one customer while their history is replayed: profile
/// settings, consent changes so far and the messages already planned (for caps).
#[derive(Debug, Clone)]
pub struct Contact<'a> {
    pub do_not_contact: bool,
    pub tz: Tz,
    /// Preferred channels, most preferred first.
    pub preferred: Vec<&'a str>,
    /// The policy's caps plus the customer's own weekly maximum.
    pub caps: Vec<Cap>,
    /// Consent per configured channel from the profile (before any event).
    pub initial: Vec<(&'a str, bool)>,
    /// Opt-in/opt-out events so far: (channel, or "" for all, consents).
    pub events: Vec<(&'a str, bool)>,
    /// Planned (not suppressed) messages: when and on which channel.
    pub planned: Vec<(i64, &'a str)>,
}

/// The profile cells the policy reads, already looked up (None: no column or no profile).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProfileCells<'a> {
    pub do_not_contact: Option<&'a str>,
    pub timezone: Option<&'a str>,
    pub preferred: Option<&'a str>,
    pub max_per_week: Option<&'a str>,
}

impl<'a> Contact<'a> {
    /// A customer's contact state from their profile cells; `consent_cell(channel)` gives the
    /// profile's consent cell for a configured channel.
    pub fn new(
        policy: &'a Policy,
        default_tz: Tz,
        cells: ProfileCells<'a>,
        consent_cell: impl Fn(&str) -> Option<&'a str>,
    ) -> Self {
        let mut c = Contact {
            do_not_contact: cells.do_not_contact.is_some_and(truthy),
            tz: cells.timezone.map_or(default_tz, |z| zone(z, default_tz)),
            preferred: Vec::new(),
            caps: policy.caps.clone(),
            initial: Vec::new(),
            events: Vec::new(),
            planned: Vec::new(),
        };
        if let Some(cell) = cells.preferred {
            c.preferred = cell.split([';', ',', ' ', '|']).map(str::trim).filter(|s| !s.is_empty()).collect();
        }
        if let Some(n) = cells.max_per_week.and_then(|s| s.trim().parse::<u32>().ok()) {
            if n > 0 {
                c.caps.push(Cap { max: n, per: WEEK, channel: None });
            }
        }
        for (channel, cc) in &policy.consent {
            let ok = match cc.column.as_ref().and_then(|_| consent_cell(channel)) {
                Some(cell) if !cell.trim().is_empty() => truthy(cell),
                _ => cc.default_in,
            };
            c.initial.push((channel.as_str(), ok));
        }
        c
    }

    /// Does the customer consent to `channel` now? Profile first, then opt-in/out events in order.
    pub fn consents(&self, channel: &str) -> bool {
        let mut ok = self.initial.iter().find(|(c, _)| *c == channel).is_none_or(|(_, v)| *v);
        for &(ch, value) in &self.events {
            if ch.is_empty() || ch == channel {
                ok = value;
            }
        }
        ok
    }

    /// Forget a planned message (it was suppressed after the fact).
    pub fn unplan(&mut self, at: i64, channel: &str) {
        if let Some(pos) = self.planned.iter().position(|&(t, c)| t == at && c == channel) {
            self.planned.remove(pos);
        }
    }
}

/// One message a dialogue wants to send.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub at: i64,
    /// The message's channels in the dialogue's order of preference.
    pub channels: &'a [String],
    /// Held out of this dialogue (no message goes out, outcomes still count).
    pub holdout: bool,
    /// A dialogue this one is quiet while, if one is live (its id).
    pub quiet_while_live: Option<&'a str>,
}

/// Decide whether, when and on which channel a message goes out; a planned message is
/// recorded in `contact` so later caps see it.
pub fn decide<'a>(policy: &Policy, contact: &mut Contact<'a>, req: Request<'a>) -> Decision {
    let at = req.at;
    let chans = req.channels;
    // The customer's preferred channels first, the step's order otherwise.
    let mut order: Vec<usize> = (0..chans.len()).collect();
    if !contact.preferred.is_empty() {
        order.sort_by_key(|&i| contact.preferred.iter().position(|p| *p == chans[i]).unwrap_or(usize::MAX));
    }
    let mut suppressed = if req.holdout {
        Some(Suppression::Holdout)
    } else if let Some(q) = req.quiet_while_live {
        Some(Suppression::Quiet(q.to_owned()))
    } else if contact.do_not_contact {
        Some(Suppression::DoNotContact)
    } else {
        None
    };
    let mut fallback = None;
    let channel = match order.iter().copied().find(|&i| contact.consents(&chans[i])) {
        Some(c) => {
            if suppressed.is_none() && c != order[0] {
                fallback = Some(chans[order[0]].clone());
            }
            c
        }
        None => {
            if suppressed.is_none() {
                suppressed = Some(Suppression::NoConsent(chans.to_vec()));
            }
            order[0]
        }
    };
    if let Some(why) = suppressed {
        return Decision::Suppress { channel, why };
    }
    let ch: &'a str = &chans[channel];
    let in_window = policy.next_in_window(ch, at, contact.tz);
    let mut later = in_window;
    let mut bitten = None;
    // A cap may push the message out of its window and the window back into a full cap; a few
    // rounds settle it.
    for _ in 0..32 {
        let (room, b) = cap_room(&contact.caps, &contact.planned, ch, later);
        bitten = bitten.or(b);
        let next = policy.next_in_window(ch, room, contact.tz);
        if next == later {
            break;
        }
        later = next;
    }
    let mut reasons = Vec::new();
    if in_window != at {
        reasons.push(DeferReason::Window);
    }
    if let Some(b) = bitten {
        reasons.push(b);
    }
    let mut send_at = at;
    let mut note = fallback.clone().map(Note::Fallback);
    if later != at {
        if later - at > policy.max_defer || (policy.on_cap == OnCap::Drop && later != in_window) {
            return Decision::Suppress { channel, why: Suppression::Dropped(reasons) };
        }
        send_at = later;
        note = Some(Note::Deferred { fallback, from: at, by: reasons });
    }
    contact.planned.push((send_at, ch));
    Decision::Send { at: send_at, channel, note }
}

/// A truthy cell: yes, true, 1, y, x.
pub fn truthy(s: &str) -> bool {
    matches!(s.trim().to_ascii_lowercase().as_str(), "yes" | "y" | "true" | "1" | "x" | "t")
}

/// A time zone from a customer cell, falling back to the default.
pub fn zone(cell: &str, default: Tz) -> Tz {
    cell.trim().parse().unwrap_or(default)
}
