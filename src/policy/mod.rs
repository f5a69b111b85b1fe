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
    /// The declared channels (the defaults plus kairos.yaml's), for the preference column.
    pub channels: Vec<String>,
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
            channels: crate::model::DEFAULT_CHANNELS.iter().map(|(c, _)| (*c).to_owned()).collect(),
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
    /// A do-not-contact column is configured, and the customer has no profile to read it
    /// from: nothing is sent (an unknown do-not-contact is never read as "may contact").
    pub no_profile: bool,
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
    /// Profile cells that could not be read (reported as data warnings, never guessed at).
    pub problems: Vec<String>,
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
            do_not_contact: false,
            no_profile: false,
            tz: default_tz,
            preferred: Vec::new(),
            caps: policy.caps.clone(),
            initial: Vec::new(),
            events: Vec::new(),
            planned: Vec::new(),
            problems: Vec::new(),
        };
        let col = |c: &Option<String>| c.as_deref().map_or_else(String::new, |c| format!("column `{c}`: "));
        if let Some(cell) = cells.do_not_contact {
            c.do_not_contact = truth(cell).unwrap_or_else(|| {
                // Unreadable: the safe reading is the one that sends nothing.
                c.problems.push(format!(
                    "{}do-not-contact value `{}` is neither yes nor no (yes/y/true/1/x or no/n/false/0/empty); read as do not contact",
                    col(&policy.do_not_contact),
                    cut(cell)
                ));
                true
            });
        }
        if let Some(z) = cells.timezone {
            if let Err(e) = c.set_timezone(z, default_tz) {
                c.problems.push(format!("{}{e}; using {default_tz}", col(&policy.timezone_column)));
            }
        }
        if let Some(cell) = cells.preferred {
            let problems = c.set_preferred(policy, cell);
            c.problems.extend(problems.into_iter().map(|e| format!("{}{e}", col(&policy.preferred_column))));
        }
        if let Some(cell) = cells.max_per_week {
            if let Err(e) = c.set_weekly_max(policy, cell) {
                c.problems.push(format!("{}{e}; no personal cap applies", col(&policy.max_per_week_column)));
            }
        }
        for (channel, cc) in &policy.consent {
            let ok = match cc.column.as_ref().and_then(|_| consent_cell(channel)) {
                Some(cell) if !cell.trim().is_empty() => truth(cell).unwrap_or_else(|| {
                    c.problems.push(format!(
                        "{}{channel} consent value `{}` is neither yes nor no (yes/y/true/1/x or no/n/false/0); read as no consent",
                        col(&cc.column),
                        cut(cell)
                    ));
                    false
                }),
                _ => cc.default_in,
            };
            c.initial.push((channel.as_str(), ok));
        }
        c
    }

    /// The customer's time zone from a profile cell (empty: `default_tz`). An unreadable
    /// name changes nothing and says why.
    pub fn set_timezone(&mut self, cell: &str, default_tz: Tz) -> Result<(), String> {
        let z = cell.trim();
        if z.is_empty() {
            self.tz = default_tz;
            return Ok(());
        }
        match z.parse::<Tz>() {
            Ok(tz) => {
                self.tz = tz;
                Ok(())
            }
            Err(_) => Err(format!("time zone `{}` is not an IANA name (such as Europe/London)", cut(z))),
        }
    }

    /// The customer's preferred channels from a profile cell, most preferred first. A name
    /// that is no declared channel would silently never match: it is left out, and each is
    /// returned as a problem.
    pub fn set_preferred(&mut self, policy: &Policy, cell: &'a str) -> Vec<String> {
        let known = &policy.channels;
        let mut problems = Vec::new();
        self.preferred = cell.split([';', ',', ' ', '|']).map(str::trim).filter(|s| !s.is_empty()).collect();
        for name in self.preferred.iter().filter(|n| !known.iter().any(|k| k == *n)) {
            let hint = crate::diag::did_you_mean(name, known.iter().map(String::as_str))
                .map_or_else(|| format!("the channels are {}", known.join(", ")), |x| format!("did you mean `{x}`?"));
            problems.push(format!("preferred channel `{}` is not a declared channel ({hint}); ignored", cut(name)));
        }
        self.preferred.retain(|n| known.iter().any(|k| k == n));
        problems
    }

    /// The customer's own weekly maximum from a profile cell (empty: none), after the
    /// policy's caps. An unreadable one changes nothing and says why.
    pub fn set_weekly_max(&mut self, policy: &Policy, cell: &str) -> Result<(), String> {
        let n = match cell.trim() {
            "" => None,
            // 0 is the customer's "no messages": every one is dropped by that cap.
            v => Some(
                v.parse::<u32>()
                    .map_err(|_| format!("weekly maximum `{}` is not a whole number of 0 or more", cut(cell)))?,
            ),
        };
        self.caps.truncate(policy.caps.len());
        self.caps.extend(n.map(|max| Cap { max, per: WEEK, channel: None }));
        Ok(())
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
    let mut order: smallvec::SmallVec<[usize; 4]> = (0..chans.len()).collect();
    if !contact.preferred.is_empty() {
        order.sort_by_key(|&i| contact.preferred.iter().position(|p| *p == chans[i]).unwrap_or(usize::MAX));
    }
    let mut suppressed = if req.holdout {
        Some(Suppression::Holdout)
    } else if let Some(q) = req.quiet_while_live {
        Some(Suppression::Quiet(q.to_owned()))
    } else if contact.do_not_contact {
        Some(Suppression::DoNotContact)
    } else if contact.no_profile {
        Some(Suppression::NoProfile)
    } else {
        // No deferral makes room under a cap of 0.
        contact.caps.iter().find(|c| c.max == 0).map(|zero| Suppression::Dropped(vec![DeferReason::Cap(zero.clone())]))
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
            if later - at > policy.max_defer && !(policy.on_cap == OnCap::Drop && later != in_window) {
                reasons.push(DeferReason::MaxDefer(policy.max_defer));
            }
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
    truth(s) == Some(true)
}

/// A yes/no cell: yes, y, true, t, 1, x; or no, n, false, f, 0, empty. None: neither.
pub fn truth(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "x" | "t" => Some(true),
        "no" | "n" | "false" | "0" | "f" | "" => Some(false),
        _ => None,
    }
}

/// A cell as shown in a warning: at most 40 characters.
fn cut(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::time::parse_iso;
    use crate::model::HOUR;

    fn t(s: &str) -> i64 {
        parse_iso(s, Tz::UTC).unwrap()
    }

    fn chans(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn contact(policy: &Policy) -> Contact<'_> {
        Contact::new(policy, Tz::UTC, ProfileCells::default(), |_| None)
    }

    fn req(at: i64, channels: &[String]) -> Request<'_> {
        Request { at, channels, holdout: false, quiet_while_live: None }
    }

    fn consent(default_in: bool, column: Option<&str>) -> ChannelConsent {
        ChannelConsent { default_in, column: column.map(str::to_owned) }
    }

    /// Email: every day 09:00-17:00.
    fn office_hours() -> Window {
        Window { days: [true; 7], from: 9 * HOUR as u32, to: 17 * HOUR as u32 }
    }

    fn day_cap() -> Cap {
        Cap { max: 1, per: DAY, channel: None }
    }

    #[test]
    fn a_plain_message_goes_out_at_once_and_is_recorded_for_caps() {
        let p = Policy::default();
        let mut c = contact(&p);
        let ch = chans(&["email", "sms"]);
        let at = t("2025-01-06T11:00:00Z");
        assert_eq!(decide(&p, &mut c, req(at, &ch)), Decision::Send { at, channel: 0, note: None });
        assert_eq!(c.planned, [(at, "email")]);
    }

    #[test]
    fn holdout_then_quiet_then_do_not_contact_suppress_in_that_order() {
        let p = Policy::default();
        let ch = chans(&["email"]);
        let at = t("2025-01-06T11:00:00Z");
        let mut c =
            Contact::new(&p, Tz::UTC, ProfileCells { do_not_contact: Some("yes"), ..Default::default() }, |_| None);
        assert!(c.do_not_contact);
        let all = Request { at, channels: &ch, holdout: true, quiet_while_live: Some("support") };
        assert_eq!(decide(&p, &mut c, all), Decision::Suppress { channel: 0, why: Suppression::Holdout });
        let quiet = Request { holdout: false, ..all };
        assert_eq!(
            decide(&p, &mut c, quiet),
            Decision::Suppress { channel: 0, why: Suppression::Quiet("support".into()) }
        );
        assert_eq!(decide(&p, &mut c, req(at, &ch)), Decision::Suppress { channel: 0, why: Suppression::DoNotContact });
        assert!(c.planned.is_empty(), "suppressed messages take no room under caps");
    }

    #[test]
    fn do_not_contact_reads_truthy_cells() {
        let p = Policy::default();
        for (cell, dnc) in
            [("yes", true), ("TRUE", true), (" x ", true), ("1", true), ("no", false), ("", false), ("0", false)]
        {
            let c =
                Contact::new(&p, Tz::UTC, ProfileCells { do_not_contact: Some(cell), ..Default::default() }, |_| None);
            assert_eq!(c.do_not_contact, dnc, "{cell:?}");
            assert!(c.problems.is_empty());
        }
        // Neither yes nor no: never guessed to allow contact, and reported.
        let c =
            Contact::new(&p, Tz::UTC, ProfileCells { do_not_contact: Some("maybe"), ..Default::default() }, |_| None);
        assert!(c.do_not_contact);
        assert!(c.problems[0].contains("`maybe` is neither yes nor no"), "{:?}", c.problems);
        assert!(!contact(&p).do_not_contact, "no column, no profile: contact allowed");
    }

    fn consent_policy() -> Policy {
        let mut p = Policy::default();
        p.consent.insert("email".into(), consent(true, Some("email_ok")));
        p.consent.insert("sms".into(), consent(true, Some("sms_ok")));
        p.consent.insert("letter".into(), consent(false, None));
        p
    }

    #[test]
    fn consent_comes_from_the_profile_cell_else_the_default() {
        let p = consent_policy();
        let cells = |ch: &str| match ch {
            "email" => Some("no"),
            "sms" => Some("  "),
            "letter" => Some("yes"),
            _ => None,
        };
        let c = Contact::new(&p, Tz::UTC, ProfileCells::default(), cells);
        // letter has no consent column: its cell is never read.
        assert_eq!(c.initial, [("email", false), ("letter", false), ("sms", true)]);
        assert!(!c.consents("email"));
        assert!(c.consents("sms"), "a blank cell falls back to the default");
        assert!(c.consents("phone"), "a channel without consent settings is open");
    }

    #[test]
    fn without_consent_on_the_first_channel_the_next_is_used_with_a_note() {
        let p = consent_policy();
        let mut c = Contact::new(&p, Tz::UTC, ProfileCells::default(), |ch| (ch == "email").then_some("no"));
        let ch = chans(&["email", "sms"]);
        let at = t("2025-01-06T11:00:00Z");
        let d = decide(&p, &mut c, req(at, &ch));
        assert_eq!(d, Decision::Send { at, channel: 1, note: Some(Note::Fallback("email".into())) });
        let Decision::Send { note: Some(n), .. } = d else { unreachable!() };
        assert_eq!(n.to_string(), "fallback: no consent for email");
        assert_eq!(c.planned, [(at, "sms")]);
    }

    #[test]
    fn without_any_consent_the_message_is_suppressed_naming_every_channel() {
        let p = consent_policy();
        let mut c = Contact::new(&p, Tz::UTC, ProfileCells::default(), |_| Some("no"));
        let ch = chans(&["email", "sms"]);
        let d = decide(&p, &mut c, req(t("2025-01-06T11:00:00Z"), &ch));
        assert_eq!(d, Decision::Suppress { channel: 0, why: Suppression::NoConsent(ch.clone()) });
        let Decision::Suppress { why, .. } = d else { unreachable!() };
        assert_eq!(why.to_string(), "no consent for email, sms");
        assert_eq!(why.kind(), SuppressionKind::NoConsent);
    }

    #[test]
    fn preferred_channels_reorder_the_steps_channels() {
        let p = consent_policy();
        let ch = chans(&["email", "sms", "letter"]);
        let at = t("2025-01-06T11:00:00Z");
        let cells = ProfileCells { preferred: Some("sms; email"), ..Default::default() };
        let mut c = Contact::new(&p, Tz::UTC, cells, |_| None);
        assert_eq!(c.preferred, ["sms", "email"]);
        assert_eq!(decide(&p, &mut c, req(at, &ch)), Decision::Send { at, channel: 1, note: None });
        // The preferred channel without consent: the next in the customer's order, with a note.
        let mut c = Contact::new(&p, Tz::UTC, cells, |ch| (ch == "sms").then_some("no"));
        assert_eq!(
            decide(&p, &mut c, req(at, &ch)),
            Decision::Send { at, channel: 0, note: Some(Note::Fallback("sms".into())) }
        );
        let c = Contact::new(&p, Tz::UTC, ProfileCells { preferred: Some("sms|email , letter"), ..cells }, |_| None);
        assert_eq!(c.preferred, ["sms", "email", "letter"]);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        // A name that is no channel is said and left out, never silently kept.
        let c = Contact::new(&p, Tz::UTC, ProfileCells { preferred: Some("emial; sms"), ..cells }, |_| None);
        assert_eq!(c.preferred, ["sms"]);
        assert_eq!(c.problems.len(), 1);
        assert!(
            c.problems[0].contains("preferred channel `emial` is not a declared channel (did you mean `email`?)"),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn a_send_window_defers_with_a_note() {
        let mut p = Policy::default();
        p.windows.insert("email".into(), office_hours());
        let mut c = contact(&p);
        let ch = chans(&["email"]);
        let at = t("2025-01-06T20:00:00Z");
        let d = decide(&p, &mut c, req(at, &ch));
        let next = t("2025-01-07T09:00:00Z");
        assert_eq!(
            d,
            Decision::Send {
                at: next,
                channel: 0,
                note: Some(Note::Deferred { fallback: None, from: at, by: vec![DeferReason::Window] })
            }
        );
        let Decision::Send { note: Some(n), .. } = d else { unreachable!() };
        assert!(n.is_deferral());
        assert_eq!(n.to_string(), "deferred from 2025-01-06T20:00:00Z by send window");
        assert_eq!(c.planned, [(next, "email")], "the deferred time is what caps see");
    }

    #[test]
    fn a_cap_defers_to_the_first_instant_with_room() {
        let p = Policy { caps: vec![day_cap()], ..Policy::default() };
        let mut c = contact(&p);
        let ch = chans(&["email"]);
        let first = t("2025-01-06T11:00:00Z");
        assert_eq!(decide(&p, &mut c, req(first, &ch)), Decision::Send { at: first, channel: 0, note: None });
        let second = t("2025-01-06T12:00:00Z");
        let d = decide(&p, &mut c, req(second, &ch));
        let Decision::Send { at, note: Some(n), .. } = d else { panic!("{d:?}") };
        assert_eq!(at, t("2025-01-07T11:00:00Z"));
        assert_eq!(n.to_string(), "deferred from 2025-01-06T12:00:00Z by cap 1 per 1d");
    }

    #[test]
    fn window_and_cap_together_name_both_reasons() {
        let mut p = Policy { caps: vec![day_cap()], ..Policy::default() };
        p.windows.insert("email".into(), office_hours());
        let mut c = contact(&p);
        let ch = chans(&["email"]);
        let first = t("2025-01-07T09:00:00Z");
        assert_eq!(decide(&p, &mut c, req(first, &ch)), Decision::Send { at: first, channel: 0, note: None });
        let d = decide(&p, &mut c, req(t("2025-01-06T20:00:00Z"), &ch));
        let Decision::Send { at, note: Some(n), .. } = d else { panic!("{d:?}") };
        assert_eq!(at, t("2025-01-08T09:00:00Z"));
        assert_eq!(n.to_string(), "deferred from 2025-01-06T20:00:00Z by send window, cap 1 per 1d");
    }

    #[test]
    fn on_cap_drop_drops_what_a_cap_would_defer_but_not_what_a_window_would() {
        let mut p = Policy { caps: vec![day_cap()], on_cap: OnCap::Drop, ..Policy::default() };
        p.windows.insert("email".into(), office_hours());
        let mut c = contact(&p);
        let ch = chans(&["email"]);
        let evening = t("2025-01-06T20:00:00Z");
        let d = decide(&p, &mut c, req(evening, &ch));
        assert!(matches!(d, Decision::Send { at, .. } if at == t("2025-01-07T09:00:00Z")), "{d:?}");
        let d = decide(&p, &mut c, req(t("2025-01-07T10:00:00Z"), &ch));
        assert_eq!(d, Decision::Suppress { channel: 0, why: Suppression::Dropped(vec![DeferReason::Cap(day_cap())]) });
        let Decision::Suppress { why, .. } = d else { unreachable!() };
        assert_eq!(why.to_string(), "dropped: cap 1 per 1d");
        assert_eq!(why.kind(), SuppressionKind::Dropped);
        assert_eq!(c.planned.len(), 1, "a dropped message is not planned");
    }

    #[test]
    fn a_deferral_longer_than_max_defer_is_dropped() {
        let mut p = Policy { max_defer: DAY, ..Policy::default() };
        // Mondays only.
        p.windows.insert(
            "email".into(),
            Window { days: [true, false, false, false, false, false, false], ..office_hours() },
        );
        let mut c = contact(&p);
        let ch = chans(&["email"]);
        let tuesday = t("2025-01-07T10:00:00Z");
        let d = decide(&p, &mut c, req(tuesday, &ch));
        assert_eq!(
            d,
            Decision::Suppress {
                channel: 0,
                why: Suppression::Dropped(vec![DeferReason::Window, DeferReason::MaxDefer(DAY)])
            }
        );
        let Decision::Suppress { why, .. } = d else { unreachable!() };
        assert_eq!(why.to_string(), "dropped: send window, it would wait past max_defer 1d");
        // The default (14 days) lets it wait for Monday.
        let p = Policy { max_defer: 14 * DAY, ..p.clone() };
        let mut c = contact(&p);
        let d = decide(&p, &mut c, req(tuesday, &ch));
        assert!(matches!(d, Decision::Send { at, .. } if at == t("2025-01-13T09:00:00Z")), "{d:?}");
    }

    #[test]
    fn a_customers_own_weekly_maximum_is_one_more_cap() {
        let p = Policy { caps: vec![Cap { max: 5, per: DAY, channel: None }], ..Policy::default() };
        let cells = ProfileCells { max_per_week: Some(" 2 "), ..Default::default() };
        let mut c = Contact::new(&p, Tz::UTC, cells, |_| None);
        assert_eq!(c.caps, [Cap { max: 5, per: DAY, channel: None }, Cap { max: 2, per: WEEK, channel: None }]);
        let ch = chans(&["email"]);
        let at = t("2025-01-06T11:00:00Z");
        assert!(matches!(decide(&p, &mut c, req(at, &ch)), Decision::Send { note: None, .. }));
        assert!(matches!(decide(&p, &mut c, req(at + HOUR, &ch)), Decision::Send { note: None, .. }));
        let d = decide(&p, &mut c, req(at + 2 * HOUR, &ch));
        let Decision::Send { at: when, note: Some(n), .. } = d else { panic!("{d:?}") };
        assert_eq!(when, at + WEEK);
        assert_eq!(n.to_string(), "deferred from 2025-01-06T13:00:00Z by cap 2 per 7d");
        for bad in ["two", "", "-1"] {
            let c = Contact::new(&p, Tz::UTC, ProfileCells { max_per_week: Some(bad), ..Default::default() }, |_| None);
            assert_eq!(c.caps.len(), 1, "{bad:?} adds no cap");
        }
        // A maximum of 0 is the customer's "none": every message is dropped, none deferred.
        let mut c = Contact::new(&p, Tz::UTC, ProfileCells { max_per_week: Some("0"), ..Default::default() }, |_| None);
        let d = decide(&p, &mut c, req(at, &ch));
        let Decision::Suppress { why, .. } = d else { panic!("{d:?}") };
        assert_eq!(why.to_string(), "dropped: cap 0 per 7d");
    }

    #[test]
    fn opt_in_and_opt_out_events_apply_in_order_over_the_profile() {
        let p = consent_policy();
        let mut c = Contact::new(&p, Tz::UTC, ProfileCells::default(), |_| None);
        assert!(c.consents("email") && c.consents("sms"));
        c.events.push(("email", false));
        assert!(!c.consents("email") && c.consents("sms"), "a channel's opt-out leaves the others");
        c.events.push(("", false));
        assert!(!c.consents("sms") && !c.consents("phone"), "an empty channel means all channels");
        c.events.push(("sms", true));
        assert!(c.consents("sms") && !c.consents("email"));
        c.events.push(("", true));
        assert!(c.consents("email") && c.consents("letter"), "an opt-in overrides a default of out");
        c.events.push(("email", false));
        let ch = chans(&["email"]);
        let d = decide(&p, &mut c, req(t("2025-01-06T11:00:00Z"), &ch));
        assert_eq!(d, Decision::Suppress { channel: 0, why: Suppression::NoConsent(ch.clone()) });
    }

    /// What a `profile_update` calls: each setter replaces what the profile said, an empty
    /// cell clears it, and an unreadable one changes nothing and says why.
    #[test]
    fn profile_setters_replace_clear_or_refuse() {
        let p = Policy { caps: vec![day_cap()], ..Policy::default() };
        let ny: Tz = "America/New_York".parse().unwrap();
        let mut c = contact(&p);
        assert_eq!(c.set_timezone("America/New_York", Tz::UTC), Ok(()));
        assert_eq!(c.tz, ny);
        assert!(c.set_timezone("Mars/Olympus", Tz::UTC).unwrap_err().contains("`Mars/Olympus` is not an IANA name"));
        assert_eq!(c.tz, ny, "an unreadable zone keeps the last one");
        assert_eq!(c.set_timezone(" ", Tz::UTC), Ok(()));
        assert_eq!(c.tz, Tz::UTC, "empty: the default");

        assert_eq!(c.set_weekly_max(&p, "2"), Ok(()));
        assert_eq!(c.set_weekly_max(&p, "3"), Ok(()));
        assert_eq!(c.caps, [day_cap(), Cap { max: 3, per: WEEK, channel: None }], "replaced, not added");
        assert!(c.set_weekly_max(&p, "-1").is_err());
        assert_eq!(c.caps.len(), 2, "an unreadable maximum keeps the last one");
        assert_eq!(c.set_weekly_max(&p, ""), Ok(()));
        assert_eq!(c.caps, [day_cap()], "empty: no personal cap, the policy's stay");

        assert!(c.set_preferred(&p, "sms;email").is_empty());
        assert_eq!(c.preferred, ["sms", "email"]);
        let problems = c.set_preferred(&p, "emial");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("did you mean `email`?"), "{problems:?}");
        assert!(c.preferred.is_empty(), "an unknown name is left out");
    }

    #[test]
    fn the_customers_time_zone_comes_from_the_profile_or_the_default() {
        let p = Policy::default();
        let ny: Tz = "America/New_York".parse().unwrap();
        let c = Contact::new(
            &p,
            Tz::UTC,
            ProfileCells { timezone: Some(" America/New_York "), ..Default::default() },
            |_| None,
        );
        assert_eq!(c.tz, ny);
        let c = Contact::new(&p, ny, ProfileCells { timezone: Some("Mars/Olympus"), ..Default::default() }, |_| None);
        assert_eq!(c.tz, ny);
        // A send window applies in the customer's zone: 20:00 UTC is 15:00 in New York, inside 9-17.
        let mut p = Policy::default();
        p.windows.insert("email".into(), office_hours());
        let mut c = Contact::new(&p, ny, ProfileCells::default(), |_| None);
        let at = t("2025-01-06T20:00:00Z");
        assert_eq!(decide(&p, &mut c, req(at, &chans(&["email"]))), Decision::Send { at, channel: 0, note: None });
    }

    #[test]
    fn unplan_forgets_one_planned_message() {
        let p = Policy::default();
        let mut c = contact(&p);
        c.planned = vec![(10, "email"), (10, "email"), (20, "sms")];
        c.unplan(10, "email");
        assert_eq!(c.planned, [(10, "email"), (20, "sms")]);
        c.unplan(20, "email");
        assert_eq!(c.planned.len(), 2, "nothing planned at that time on that channel");
    }

    #[test]
    fn suppression_texts_are_the_output_format() {
        let cap = Cap { max: 2, per: WEEK, channel: Some("sms".into()) };
        let cases = [
            (Suppression::Holdout, "holdout"),
            (Suppression::Quiet("support".into()), "blocked: quiet while `support` is live"),
            (Suppression::DoNotContact, "do not contact"),
            (Suppression::NoConsent(chans(&["email"])), "no consent for email"),
            (Suppression::NoConsentAtSendTime("email".into()), "no consent for email at send time"),
            (Suppression::NoProfile, "not in the customers file, so do-not-contact is unknown"),
            (
                Suppression::Overtaken("answered".into()),
                "overtaken: the conversation ended (`answered`) before its send time",
            ),
            (
                Suppression::Dropped(vec![DeferReason::Window, DeferReason::Cap(cap)]),
                "dropped: send window, cap 2 sms per 7d",
            ),
        ];
        for (s, text) in cases {
            assert_eq!(s.to_string(), text);
        }
        assert_eq!(Suppression::NoConsentAtSendTime("email".into()).kind(), SuppressionKind::NoConsent);
    }

    #[test]
    fn suppression_kinds_read_and_sort_as_their_labels() {
        let kinds = [
            SuppressionKind::Quiet("support".into()),
            SuppressionKind::DoNotContact,
            SuppressionKind::Dropped,
            SuppressionKind::Holdout,
            SuppressionKind::NoConsent,
            SuppressionKind::NoProfile,
            SuppressionKind::Overtaken,
        ];
        let labels: Vec<String> = kinds.iter().map(ToString::to_string).collect();
        assert_eq!(
            labels,
            [
                "blocked: quiet while `support` is live",
                "do not contact",
                "dropped by cap or send window",
                "holdout",
                "no consent",
                "not in the customers file",
                "overtaken: the conversation ended before its send time"
            ]
        );
        let mut by_kind = kinds.to_vec();
        by_kind.reverse();
        by_kind.sort();
        let mut by_label = labels.clone();
        by_label.sort();
        assert_eq!(by_kind.iter().map(ToString::to_string).collect::<Vec<_>>(), by_label);
    }

    #[test]
    fn note_texts_are_the_output_format() {
        let from = t("2025-01-06T20:00:00Z");
        assert_eq!(Note::Fallback("email".into()).to_string(), "fallback: no consent for email");
        let n = Note::Deferred {
            fallback: Some("email".into()),
            from,
            by: vec![DeferReason::Window, DeferReason::Cap(day_cap())],
        };
        assert_eq!(
            n.to_string(),
            "fallback: no consent for email; deferred from 2025-01-06T20:00:00Z by send window, cap 1 per 1d"
        );
        assert!(n.is_deferral());
        assert!(!Note::Fallback("email".into()).is_deferral());
    }

    #[test]
    fn computed_tiers_pick_the_highest_level_reached() {
        let levels = vec![("gold".to_owned(), 1000.0), ("silver".to_owned(), 200.0), ("base".to_owned(), 0.0)];
        assert_eq!(Tiers::level(&levels, 1500.0), Some("gold"));
        assert_eq!(Tiers::level(&levels, 200.0), Some("silver"));
        assert_eq!(Tiers::level(&levels, 10.0), Some("base"));
        assert_eq!(Tiers::level(&levels, -5.0), None);
        let p = Policy {
            tiers: Some(Tiers::Computed { measure: Measure::Spend, within: None, levels }),
            ..Policy::default()
        };
        assert_eq!(p.tier_names(), ["gold", "silver", "base"]);
        assert!(Policy { tiers: Some(Tiers::Column("tier".into())), ..Policy::default() }.tier_names().is_empty());
    }
}
