//! Contact policy between the dialogues and the output: value tiers, consent and preferences,
//! contact caps, send windows and holdouts. Every message a dialogue wants to send passes
//! here and comes out planned (perhaps on another channel or later) or suppressed with a reason.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Datelike, NaiveTime, Timelike};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::dialogue::plan::parse_duration;
use crate::expr::compile::Measure;
use crate::yaml;

/// `policy:`, `tiers:` and friends in kairos.yaml, as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Contact caps across all dialogues, e.g. `{max: 1, per: 1d}`; add `channel:` for one channel.
    #[serde(default)]
    pub caps: Vec<RawCap>,
    /// What happens to a message over a cap: `defer` (default: sent when the cap allows) or `drop`.
    #[schemars(with = "Option<String>")]
    pub on_cap: Option<Spanned<String>>,
    /// A message deferred longer than this is dropped instead (default 14d).
    #[schemars(with = "Option<String>")]
    pub max_defer: Option<Spanned<String>>,
    /// Per channel: when messages may go out, in the customer's time zone.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawWindow>")]
    pub send_windows: BTreeMap<String, Spanned<RawWindow>>,
    /// Customer-file column with the customer's IANA time zone.
    pub timezone_column: Option<String>,
    #[serde(default)]
    pub consent: RawConsent,
    #[serde(default)]
    pub preferences: RawPreferences,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCap {
    pub max: u32,
    #[schemars(with = "String")]
    pub per: Spanned<String>,
    pub channel: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    /// Days allowed (mon..sun); default every day.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub days: Vec<Spanned<String>>,
    /// Exact local time to send at, e.g. "09:00".
    #[schemars(with = "Option<String>")]
    pub at: Option<Spanned<String>>,
    /// Start of the allowed local time range, e.g. "09:00".
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// End of the allowed local time range, e.g. "18:00".
    #[schemars(with = "Option<String>")]
    pub to: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConsent {
    /// Customer column: a true value (yes/true/1/y/x) means never contact.
    pub do_not_contact: Option<String>,
    /// Per channel: `default: in|out` and an optional customer column holding the initial consent.
    #[serde(default)]
    pub channels: BTreeMap<String, RawChannelConsent>,
    /// Event types that grant and withdraw consent; their `channel` column names the channel
    /// (empty: every channel). Defaults: opt_in, opt_out.
    pub opt_in_event: Option<String>,
    pub opt_out_event: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChannelConsent {
    #[schemars(with = "Option<String>")]
    pub default: Option<Spanned<String>>,
    pub column: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPreferences {
    /// Customer column listing preferred channels, e.g. "sms;email" (separated by ; , or space).
    pub channels_column: Option<String>,
    /// Customer column with the customer's own maximum number of messages per week.
    pub max_per_week_column: Option<String>,
}

/// `tiers:` in kairos.yaml: from a customer column, or computed from history.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTiers {
    /// Take the tier from this customer column.
    pub column: Option<String>,
    /// Or compute it: spend, orders, purchases or units ...
    #[schemars(with = "Option<String>")]
    pub measure: Option<Spanned<String>>,
    /// ... over this window (default: all history) ...
    #[schemars(with = "Option<String>")]
    pub within: Option<Spanned<String>>,
    /// ... with these minimums, e.g. {gold: 1000, silver: 300, bronze: 0}.
    #[serde(default)]
    pub levels: BTreeMap<String, f64>,
}

#[derive(Debug, Clone)]
pub enum Tiers {
    Column(String),
    Computed { measure: Measure, within: Option<i64>, levels: Vec<(String, f64)> },
}

#[derive(Debug, Clone)]
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
            max_defer: 14 * 86_400,
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

    /// Check the raw policy; report every problem at its location.
    pub fn check(
        raw: RawPolicy,
        tiers: Option<Spanned<RawTiers>>,
        path: &Path,
        src: &str,
        diags: &mut Diagnostics,
    ) -> Policy {
        let mut p = Policy::default();
        let at = |s: &Spanned<String>, msg: String| {
            let (l, c) = yaml::pos(s);
            Diagnostic::error(path, l, c, msg).with_width(s.value.chars().count()).with_source(src)
        };
        // For problems with a whole mapping rather than one value.
        let at_map = |pos: (usize, usize), msg: String| Diagnostic::error(path, pos.0, pos.1, msg).with_source(src);
        let dur = |s: &Spanned<String>, what: &str, diags: &mut Diagnostics| match parse_duration(&s.value) {
            Some(d) if d > 0 => Some(d),
            _ => {
                diags.push(at(s, format!("{what}: `{}` is not a duration", s.value)).with_hint("e.g. 1d, 7d, 36h"));
                None
            }
        };
        for c in raw.caps {
            if let Some(per) = dur(&c.per, "per", diags) {
                if c.max == 0 {
                    diags.push(at(
                        &c.per,
                        "a cap of 0 messages would suppress everything; remove the channel's consent instead"
                            .to_owned(),
                    ));
                }
                p.caps.push(Cap { max: c.max, per, channel: c.channel });
            }
        }
        if let Some(o) = &raw.on_cap {
            match o.value.as_str() {
                "defer" => p.on_cap = OnCap::Defer,
                "drop" => p.on_cap = OnCap::Drop,
                other => diags.push(at(o, format!("on_cap: `{other}` is not `defer` or `drop`"))),
            }
        }
        if let Some(m) = &raw.max_defer {
            if let Some(d) = dur(m, "max_defer", diags) {
                p.max_defer = d;
            }
        }
        for (channel, spanned) in raw.send_windows {
            let w_pos = yaml::pos(&spanned);
            let w = spanned.value;
            let mut days = [true; 7];
            if !w.days.is_empty() {
                days = [false; 7];
                for d in &w.days {
                    match weekday(&d.value) {
                        Some(i) => days[i] = true,
                        None => diags.push(
                            at(d, format!("unknown day `{}`", d.value))
                                .with_hint("days are mon, tue, wed, thu, fri, sat, sun"),
                        ),
                    }
                }
            }
            let time = |s: &Spanned<String>, diags: &mut Diagnostics| match NaiveTime::parse_from_str(&s.value, "%H:%M")
            {
                Ok(t) => Some(t.num_seconds_from_midnight()),
                Err(_) => {
                    diags.push(
                        at(s, format!("`{}` is not a time of day", s.value))
                            .with_hint("write 24-hour HH:MM, e.g. \"09:00\""),
                    );
                    None
                }
            };
            let (from, to) = match (&w.at, &w.from, &w.to) {
                (Some(a), None, None) => {
                    let t = time(a, diags);
                    (t, t)
                }
                (None, Some(f), Some(t)) => (time(f, diags), time(t, diags)),
                _ => {
                    diags.push(at_map(
                        w_pos,
                        format!("send window for `{channel}`: give `at: HH:MM`, or `from:` and `to:`"),
                    ));
                    (None, None)
                }
            };
            if let (Some(from), Some(to)) = (from, to) {
                if to < from {
                    diags.push(at_map(w_pos, format!("send window for `{channel}` ends before it starts")));
                }
                p.windows.insert(channel, Window { days, from, to });
            }
        }
        p.timezone_column = raw.timezone_column;
        p.do_not_contact = raw.consent.do_not_contact;
        for (channel, c) in raw.consent.channels {
            let default_in = match &c.default {
                None => true,
                Some(d) if d.value == "in" => true,
                Some(d) if d.value == "out" => false,
                Some(d) => {
                    diags.push(at(d, format!("consent default `{}` is not `in` or `out`", d.value)));
                    true
                }
            };
            p.consent.insert(channel, ChannelConsent { default_in, column: c.column });
        }
        if let Some(e) = raw.consent.opt_in_event {
            p.opt_in_event = e;
        }
        if let Some(e) = raw.consent.opt_out_event {
            p.opt_out_event = e;
        }
        p.preferred_column = raw.preferences.channels_column;
        p.max_per_week_column = raw.preferences.max_per_week_column;
        if let Some(spanned) = tiers {
            let t_pos = yaml::pos(&spanned);
            let t = spanned.value;
            p.tiers = match (t.column, t.measure) {
                (Some(c), None) if t.levels.is_empty() => Some(Tiers::Column(c)),
                (None, Some(m)) => {
                    let measure = match m.value.as_str() {
                        "spend" => Some(Measure::Spend),
                        "orders" => Some(Measure::Orders),
                        "purchases" => Some(Measure::Purchases),
                        "units" => Some(Measure::Units),
                        other => {
                            let hint = did_you_mean(other, ["spend", "orders", "purchases", "units"]).map_or_else(
                                || "a measure is one of: spend, orders, purchases, units".to_owned(),
                                |s| format!("did you mean `{s}`?"),
                            );
                            diags.push(at(&m, format!("unknown measure `{other}`")).with_hint(hint));
                            None
                        }
                    };
                    let within = t.within.as_ref().and_then(|w| dur(w, "within", diags));
                    if t.levels.is_empty() {
                        diags.push(at(
                            &m,
                            "computed tiers need `levels`, e.g. {gold: 1000, silver: 300, bronze: 0}".to_owned(),
                        ));
                    }
                    let mut levels: Vec<(String, f64)> = t.levels.into_iter().collect();
                    levels.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    measure.map(|measure| Tiers::Computed { measure, within, levels })
                }
                _ => {
                    diags.push(at_map(t_pos, "tiers: give either `column:` or `measure:` with `levels:`".to_owned()));
                    None
                }
            };
        }
        p
    }

    /// The next instant at or after `t` inside the channel's send window, in `tz`.
    pub fn next_in_window(&self, channel: &str, t: i64, tz: Tz) -> i64 {
        let Some(w) = self.windows.get(channel) else { return t };
        if !w.days.iter().any(|d| *d) {
            return t;
        }
        let Some(utc) = DateTime::from_timestamp(t, 0) else { return t };
        let local = utc.with_timezone(&tz);
        let mut day = local.date_naive();
        let secs = local.num_seconds_from_midnight();
        for k in 0..8 {
            let wd = day.weekday().num_days_from_monday() as usize;
            if w.days[wd] {
                let start = if k == 0 && secs > w.from {
                    if secs <= w.to {
                        return t;
                    }
                    None
                } else {
                    Some(w.from)
                };
                if let Some(start) = start {
                    let naive =
                        day.and_time(NaiveTime::from_num_seconds_from_midnight_opt(start, 0).unwrap_or(NaiveTime::MIN));
                    let at = crate::input::time::local_to_utc(naive, tz);
                    return at.max(t);
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => return t,
            }
        }
        t
    }
}

fn weekday(s: &str) -> Option<usize> {
    let s = s.to_ascii_lowercase();
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().position(|d| s.starts_with(d))
}

/// A truthy cell: yes, true, 1, y, x.
pub fn truthy(s: &str) -> bool {
    matches!(s.trim().to_ascii_lowercase().as_str(), "yes" | "y" | "true" | "1" | "x" | "t")
}

/// A time zone from a customer cell, falling back to the default.
pub fn zone(cell: &str, default: Tz) -> Tz {
    cell.trim().parse().unwrap_or(default)
}

/// When a message over its caps may go out: `t` itself if no cap bites, else the earliest
/// later instant at which every cap has room. `sent` holds (time, channel) of planned
/// messages, including ones already planned for later (deferred): adding a message must not
/// overfill any window, before or after it.
pub fn cap_room(caps: &[Cap], sent: &[(i64, &str)], channel: &str, t: i64) -> (i64, Option<String>) {
    let fits = |cap: &Cap, w: i64| {
        let times: Vec<i64> =
            sent.iter().filter(|(_, ch)| cap.channel.as_deref().is_none_or(|c| c == *ch)).map(|(at, _)| *at).collect();
        // Every window (x - per, x] that holds w ends at w or at a later message before w + per.
        std::iter::once(w)
            .chain(times.iter().copied().filter(|&x| x >= w && x < w + cap.per))
            .all(|x| times.iter().filter(|&&y| y > x - cap.per && y <= x).count() < cap.max as usize)
    };
    let relevant: Vec<&Cap> = caps.iter().filter(|c| c.channel.as_deref().is_none_or(|ch| ch == channel)).collect();
    let label = |cap: &Cap| match &cap.channel {
        Some(c) => format!("cap {} {c} per {}", cap.max, crate::dialogue::plan::format_duration(cap.per)),
        None => format!("cap {} per {}", cap.max, crate::dialogue::plan::format_duration(cap.per)),
    };
    let bitten = relevant.iter().find(|c| !fits(c, t)).map(|c| label(c));
    if bitten.is_none() {
        return (t, None);
    }
    // Room can only open when a planned message leaves a window.
    let mut candidates: Vec<i64> =
        relevant.iter().flat_map(|c| sent.iter().map(move |(at, _)| at + c.per)).filter(|&x| x > t).collect();
    candidates.sort_unstable();
    candidates.dedup();
    for w in candidates {
        if relevant.iter().all(|c| fits(c, w)) {
            return (w, bitten);
        }
    }
    // Unreachable in practice: after the last message plus the longest window all caps are free.
    let last = sent.iter().map(|(at, _)| *at).max().unwrap_or(t);
    (last + relevant.iter().map(|c| c.per).max().unwrap_or(0), bitten)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> Vec<Cap> {
        vec![Cap { max: 1, per: 86_400, channel: None }, Cap { max: 2, per: 7 * 86_400, channel: None }]
    }

    #[test]
    fn caps_defer_to_the_first_instant_with_room() {
        let sent = [(0, "email")];
        assert_eq!(cap_room(&caps(), &sent, "email", 100).0, 86_400);
        let sent = [(0, "email"), (86_400, "email")];
        assert_eq!(cap_room(&caps(), &sent, "email", 86_400 + 5).0, 7 * 86_400);
        assert_eq!(cap_room(&caps(), &[], "email", 5), (5, None));
        // A message already planned for later also counts: day 3 is full, so day 2.5 must wait.
        let sent = [(3 * 86_400, "email")];
        assert_eq!(cap_room(&caps(), &sent, "email", 2 * 86_400 + 50_000).0, 4 * 86_400);
    }

    #[test]
    fn windows_move_to_the_next_allowed_time() {
        let mut p = Policy::default();
        p.windows.insert(
            "phone".into(),
            Window { days: [true, true, true, true, true, false, false], from: 9 * 3600, to: 18 * 3600 },
        );
        p.windows.insert("email".into(), Window { days: [true; 7], from: 9 * 3600, to: 9 * 3600 });
        let utc = Tz::UTC;
        // 2025-01-04 is a Saturday.
        let sat_noon = crate::input::time::parse_iso("2025-01-04T12:00:00Z", utc).unwrap();
        let mon_9 = crate::input::time::parse_iso("2025-01-06T09:00:00Z", utc).unwrap();
        assert_eq!(p.next_in_window("phone", sat_noon, utc), mon_9);
        let tue_10 = crate::input::time::parse_iso("2025-01-07T10:00:00Z", utc).unwrap();
        assert_eq!(p.next_in_window("phone", tue_10, utc), tue_10);
        let wed_9 = crate::input::time::parse_iso("2025-01-08T09:00:00Z", utc).unwrap();
        assert_eq!(p.next_in_window("email", tue_10, utc), wed_9);
        let ny: Tz = "America/New_York".parse().unwrap();
        let tue_10_ny = crate::input::time::parse_iso("2025-01-07T15:00:00Z", utc).unwrap();
        assert_eq!(
            p.next_in_window("email", tue_10_ny, ny),
            crate::input::time::parse_iso("2025-01-08T14:00:00Z", utc).unwrap()
        );
        assert_eq!(p.next_in_window("sms", tue_10, utc), tue_10);
    }
}
