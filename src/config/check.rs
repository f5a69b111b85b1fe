//! From kairos.yaml and command-line overrides to a checked `Config`: every bad value is
//! reported at its location, all at once, before any data is read.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use chrono::{NaiveTime, Timelike};
use chrono_tz::Tz;
use serde_saphyr::Spanned;

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{Duration, FieldType, RfmCuts, TableKind};
use crate::policy::{Cap, ChannelConsent, ConsentDefault, Policy, Tiers, Window};
use crate::yaml::{self, Typed};

use super::raw::{RawConfig, RawPolicy, RawTiers};
use super::{Channel, ColumnRef, Config, Overrides};

/// Locates problems in one config file.
struct At<'a> {
    path: &'a Path,
    src: &'a Arc<str>,
}

impl At<'_> {
    /// An error underlining a node's text (a collection: its first character).
    fn node<T>(&self, s: &Spanned<T>, msg: impl Into<String>) -> Diagnostic {
        let span = yaml::first_line(self.src, yaml::span(self.src, s));
        Diagnostic::error(self.path, msg).at(self.src, span)
    }
    /// An error at the key `key` of node `s` (a mapping's entry): the key is written just
    /// before it. At the node if the key cannot be found.
    fn key<T>(&self, s: &Spanned<T>, key: &str, msg: impl Into<String>) -> Diagnostic {
        match yaml::key_before(self.src, yaml::span(self.src, s).start, key) {
            Some(r) => Diagnostic::error(self.path, msg).at(self.src, r),
            None => self.node(s, msg),
        }
    }
    fn text(&self, s: &Spanned<String>, msg: impl Into<String>) -> Diagnostic {
        self.node(s, msg)
    }
    fn typed<T>(&self, s: &Spanned<Typed<T>>, msg: impl Into<String>) -> Diagnostic {
        self.node(s, msg)
    }
    /// For problems with a whole mapping rather than one value: at its start.
    fn map(&self, at: &Range<usize>, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.path, msg).at(self.src, at.clone())
    }
    /// A closed-set value, or its error at its location.
    fn closed<T: Copy>(&self, s: &Spanned<Typed<T>>, what: &str, diags: &mut Diagnostics) -> Option<T> {
        match &s.value.value {
            Ok(v) => Some(*v),
            Err(e) => {
                let msg = if what.is_empty() { e.message.clone() } else { format!("{what}: {}", e.message) };
                diags.push(self.typed(s, msg).with_hint(e.hint.clone()));
                None
            }
        }
    }
    /// A duration that must be longer than zero (a window, a cap period, a deferral limit).
    fn period(&self, s: &Spanned<Typed<Duration>>, what: &str, diags: &mut Diagnostics) -> Option<i64> {
        let d = self.closed(s, what, diags)?;
        if d.secs() == 0 {
            diags.push(
                self.typed(s, format!("{what}: a duration of zero is not allowed here")).with_hint("e.g. 1d, 7d, 36h"),
            );
            return None;
        }
        Some(d.secs())
    }
}

impl Config {
    /// Read `path` (if any), apply overrides, and collect every problem.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, Diagnostics> {
        let mut diags = Diagnostics::default();
        let mut cfg = Config::default();
        if let Some(path) = path {
            cfg.path = Some(path.to_path_buf());
            match std::fs::read_to_string(path) {
                Err(e) => {
                    diags.push(Diagnostic::error(path, format!("cannot read config: {e}")));
                    return Err(diags);
                }
                Ok(src) => {
                    let src: Arc<str> = src.into();
                    match yaml::parse::<RawConfig>(path, &src) {
                        Err(ds) => ds.into_iter().for_each(|d| diags.push(d)),
                        Ok(raw) => {
                            if let Some(l) = &raw.ledger {
                                let dir = path.parent().unwrap_or(Path::new(""));
                                cfg.ledger = Some(dir.join(l));
                            }
                            if let Some(t) = &raw.content.templates {
                                let dir = path.parent().unwrap_or(Path::new(""));
                                cfg.templates_dir = Some(dir.join(t));
                            }
                            cfg.apply_raw(raw, &At { path, src: &src }, &mut diags)
                        }
                    }
                }
            }
        }
        let cli = Path::new("<command line>");
        if let Some(tz) = &overrides.timezone {
            match tz.parse::<Tz>() {
                Ok(t) => cfg.tz = t,
                Err(_) => diags.push(
                    Diagnostic::error(cli, format!("--timezone: unknown time zone {}", crate::input::ticked(tz)))
                        .with_hint(zone_hint(tz)),
                ),
            }
        }
        if let Some(f) = &overrides.date_format {
            if let Err(m) = check_date_format(f) {
                diags.push(Diagnostic::error(cli, format!("--date-format: {m}")));
            }
            cfg.date_format = Some(f.clone());
        }
        for (table, column, header) in &overrides.columns {
            match TableKind::from_name(table) {
                Some(kind) => {
                    cfg.columns[kind.slot()].insert(column.clone(), header.clone());
                    cfg.column_refs.push(ColumnRef {
                        table: kind,
                        column: column.clone(),
                        what: format!("--column {table}.{column}={header}"),
                        header: Some(header.clone()),
                        at: Diagnostic::error(cli, ""),
                        required: true,
                    });
                }
                None => diags.push(
                    Diagnostic::error(cli, format!("--column: unknown table `{table}`"))
                        .with_hint("expected `transactions.COLUMN=HEADER`, `customers.…`, `events.…` or `catalog.…`"),
                ),
            }
        }
        // Two columns read from one header would silently be the same data.
        for kind in TableKind::ALL {
            let mut by_header: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
            for (col, header) in &cfg.columns[kind.slot()] {
                by_header.entry(header.as_str()).or_default().push(col.as_str());
            }
            for (header, mut cols) in by_header.into_iter().filter(|(_, c)| c.len() > 1) {
                cols.sort();
                let message = format!(
                    "columns.{}: `{}` and `{}` both read the header `{header}`; each column needs its own",
                    kind.name(),
                    cols[0],
                    cols[1]
                );
                let located = cfg
                    .column_refs
                    .iter()
                    .rev()
                    .find(|r| r.table == kind && r.column == cols[1] && r.header.as_deref() == Some(header));
                diags.push(match located {
                    Some(r) => r.at.clone().with_message(message),
                    None => Diagnostic::error(cli, message),
                });
            }
        }
        diags.sort();
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(cfg)
        }
    }

    fn apply_raw(&mut self, raw: RawConfig, at: &At<'_>, diags: &mut Diagnostics) {
        if let Some(tz) = &raw.timezone {
            match tz.value.parse::<Tz>() {
                Ok(t) => self.tz = t,
                Err(_) => diags.push(
                    at.text(tz, format!("unknown time zone {}", crate::input::ticked(&tz.value)))
                        .with_hint(zone_hint(&tz.value)),
                ),
            }
        }
        if let Some(f) = &raw.date_format {
            if let Err(m) = check_date_format(&f.value) {
                diags.push(at.text(f, m));
            }
            self.date_format = Some(f.value.clone());
        }
        for (kind, map) in raw.columns.tables() {
            for (col, header) in map {
                self.columns[kind.slot()].insert(col.clone(), header.value.clone());
                // The mapped header must exist: the column is then known by its canonical name.
                self.column_refs.push(ColumnRef {
                    table: kind,
                    column: col.clone(),
                    what: format!("columns.{}.{col}", kind.name()),
                    header: Some(header.value.clone()),
                    at: at.text(header, ""),
                    required: true,
                });
            }
        }
        for (kind, map) in raw.fields.tables() {
            for (col, ty) in map {
                // A type for a column the file does not have is likely a misspelt name.
                self.column_refs.push(ColumnRef {
                    table: kind,
                    column: col.clone(),
                    what: format!("fields.{}.{col}", kind.name()),
                    header: None,
                    at: at.typed(ty, ""),
                    required: false,
                });
                let numeric = &mut self.numeric[kind.slot()];
                match at.closed(ty, "", diags) {
                    Some(FieldType::Number) if !numeric.contains(col) => numeric.push(col.clone()),
                    Some(FieldType::Text) => numeric.retain(|c| c != col),
                    _ => {}
                }
            }
        }
        for (name, ch) in raw.channels {
            if let Some(c) = &ch.contact {
                self.column_refs.push(customer_ref(at, c, format!("channels.{name}.contact")));
            }
            self.channels.insert(name, Channel { contact: ch.contact.map(|c| c.value) });
        }
        if let Some(t) = raw.response_type {
            if t.value.trim().is_empty() {
                diags.push(
                    at.node(&t, "response_type is empty: no event would be an answer")
                        .with_hint("leave it out for the default `response`, or name the event type of answers"),
                );
            } else {
                self.response_type = t.value;
            }
        }
        let channels = self.channel_names();
        let (policy, refs) = check_policy(raw.policy, raw.tiers, &channels, &self.response_type, at, diags);
        self.policy = policy;
        self.column_refs.extend(refs);
        self.templates = raw.templates;
        if let Some(from) = raw.content.from {
            // Checked here, so `check` finds it, not only a run writing mail.
            match from.value.parse::<crate::output::mail::Sender>() {
                Ok(_) => self.mail_from = Some(from.value),
                Err(e) => diags.push(at.node(&from, format!("content.from: {e}"))),
            }
        }
        if let Some(n) = raw.content.sms_max_segments {
            if n.value == 0 {
                diags.push(at.node(&n, "content.sms_max_segments must be at least 1"));
            }
            self.sms_max_segments = n.value.max(1);
        }
        if let Some(spanned) = raw.rfm {
            let pos = yaml::first_line(at.src, yaml::span(at.src, &spanned));
            let r = spanned.value;
            let mut cuts = RfmCuts::default();
            for (name, given, slot) in [
                ("recency_days", r.recency_days, &mut cuts.recency_days),
                ("frequency", r.frequency, &mut cuts.frequency),
                ("monetary", r.monetary, &mut cuts.monetary),
            ] {
                if let Some(v) = given {
                    if v.iter().any(|x| !x.is_finite()) {
                        diags.push(at.map(&pos, format!("rfm.{name}: the four cut points must be numbers, not {v:?}")));
                    } else if v.windows(2).any(|w| w[0] > w[1]) {
                        diags.push(
                            at.map(&pos, format!("rfm.{name}: the four cut points must be ascending, not {v:?}")),
                        );
                    }
                    *slot = v;
                }
            }
            self.rfm = cuts;
        }
    }
}

/// A customer-file column named at `s`; it must exist.
fn customer_ref(at: &At<'_>, s: &Spanned<String>, what: String) -> ColumnRef {
    ColumnRef {
        table: TableKind::Customers,
        column: s.value.clone(),
        what,
        header: None,
        at: at.text(s, ""),
        required: true,
    }
}

/// A channel name the policy uses must be a declared channel.
fn known_channel(name: &str, where_: Diagnostic, what: &str, channels: &[String], diags: &mut Diagnostics) {
    if channels.iter().any(|c| c == name) {
        return;
    }
    let hint = crate::diag::did_you_mean(name, channels.iter().map(String::as_str))
        .map(|x| format!("did you mean `{x}`?"))
        .unwrap_or_else(|| format!("the channels are {}; declare others under `channels:`", channels.join(", ")));
    diags.push(where_.with_message(format!("{what}: unknown channel `{name}`")).with_hint(hint));
}

/// Check the raw policy; report every problem at its location. Also returns the customer
/// columns it names, to be checked against the customers file.
fn check_policy(
    raw: RawPolicy,
    tiers: Option<Spanned<RawTiers>>,
    channels: &[String],
    response_type: &str,
    at: &At<'_>,
    diags: &mut Diagnostics,
) -> (Policy, Vec<ColumnRef>) {
    let mut p = Policy { channels: channels.to_vec(), ..Policy::default() };
    let mut refs = Vec::new();
    for c in raw.caps {
        if let Some(per) = at.period(&c.per, "per", diags) {
            if c.max.value == 0 {
                diags.push(at.node(
                    &c.max,
                    "a cap of 0 messages would suppress everything; remove the channel's consent instead",
                ));
            }
            if let Some(ch) = &c.channel {
                known_channel(&ch.value, at.text(ch, ""), "caps", channels, diags);
            }
            p.caps.push(Cap { max: c.max.value, per, channel: c.channel.map(|c| c.value) });
        }
    }
    if let Some(o) = &raw.on_cap {
        if let Some(v) = at.closed(o, "on_cap", diags) {
            p.on_cap = v;
        }
    }
    if let Some(m) = &raw.max_defer {
        if let Some(d) = at.period(m, "max_defer", diags) {
            p.max_defer = d;
        }
    }
    for (channel, spanned) in raw.send_windows {
        known_channel(&channel, at.key(&spanned, &channel, ""), "send_windows", channels, diags);
        let w_pos = yaml::first_line(at.src, yaml::span(at.src, &spanned));
        let w = spanned.value;
        let mut days = [true; 7];
        if let Some(list) = &w.days {
            if list.value.is_empty() {
                diags.push(
                    at.node(list, format!("send window for `{channel}`: `days: []` never opens"))
                        .with_hint("leave `days` out to allow every day"),
                );
            }
            days = [false; 7];
            for d in &list.value {
                if let Some(day) = at.closed(d, "", diags) {
                    days[day.0 as usize] = true;
                }
            }
        }
        let time = |s: &Spanned<String>, diags: &mut Diagnostics| match NaiveTime::parse_from_str(&s.value, "%H:%M") {
            Ok(t) => Some(t.num_seconds_from_midnight()),
            Err(_) => {
                diags.push(
                    at.text(s, format!("`{}` is not a time of day", s.value))
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
                diags.push(
                    at.map(&w_pos, format!("send window for `{channel}`: give `at: HH:MM`, or `from:` and `to:`")),
                );
                (None, None)
            }
        };
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                diags.push(at.map(&w_pos, format!("send window for `{channel}` ends before it starts")));
            }
            p.windows.insert(channel, Window { days, from, to });
        }
    }
    let mut column = |s: Option<Spanned<String>>, what: &str| {
        s.map(|s| {
            refs.push(customer_ref(at, &s, what.to_owned()));
            s.value
        })
    };
    p.timezone_column = column(raw.timezone_column, "policy.timezone_column");
    p.do_not_contact = column(raw.consent.do_not_contact, "policy.consent.do_not_contact");
    p.preferred_column = column(raw.preferences.channels_column, "policy.preferences.channels_column");
    p.max_per_week_column = column(raw.preferences.max_per_week_column, "policy.preferences.max_per_week_column");
    for (channel, spanned) in raw.consent.channels {
        known_channel(&channel, at.key(&spanned, &channel, ""), "consent", channels, diags);
        let c = spanned.value;
        let default = c.default.as_ref().and_then(|d| at.closed(d, "consent default", diags));
        let default_in = default.is_none_or(|d| d == ConsentDefault::In);
        let col = column(c.column, &format!("policy.consent.channels.{channel}.column"));
        p.consent.insert(channel, ChannelConsent { default_in, column: col });
    }
    // The consent events: a name nothing matches, or one event meaning two things, would
    // lose opt-outs without a word.
    let opt_in = consent_event("opt_in_event", raw.consent.opt_in_event, at, diags);
    let opt_out = consent_event("opt_out_event", raw.consent.opt_out_event, at, diags);
    if let Some(e) = &opt_in {
        p.opt_in_event.clone_from(&e.value);
    }
    if let Some(e) = &opt_out {
        p.opt_out_event.clone_from(&e.value);
    }
    let clash = [("opt_in_event", &opt_in), ("opt_out_event", &opt_out)].into_iter().find_map(|(key, e)| {
        let e = e.as_ref()?;
        let what = if p.opt_in_event == p.opt_out_event {
            "both opt_in_event and opt_out_event"
        } else if e.value == response_type {
            "response_type too"
        } else {
            return None;
        };
        Some(at.node(e, format!("{key} `{}` is the event type of {what}: one event cannot mean both", e.value)))
    });
    if let Some(d) = clash {
        diags.push(d.with_hint("give each of opt_in_event, opt_out_event and response_type its own event type"));
    }
    if let Some(spanned) = tiers {
        let t_pos = yaml::first_line(at.src, yaml::span(at.src, &spanned));
        let t = spanned.value;
        p.tiers = match (t.column, t.measure) {
            (Some(c), None) if t.levels.is_empty() => {
                if let Some(w) = &t.within {
                    // A window says how much history a computed tier counts; a column has none.
                    diags.push(
                        at.typed(w, "tiers: `within` goes with `measure:`; a tier read from `column:` takes no window"),
                    );
                }
                refs.push(customer_ref(at, &c, "tiers.column".to_owned()));
                Some(Tiers::Column(c.value))
            }
            (None, Some(m)) => {
                let measure = at.closed(&m, "", diags);
                // Spend tiers with no amount would put everyone in the lowest tier, silently.
                if measure == Some(crate::model::Measure::Spend) {
                    refs.push(ColumnRef {
                        table: TableKind::Transactions,
                        column: "amount".to_owned(),
                        what: "tiers.measure `spend` sums column `amount`".to_owned(),
                        header: None,
                        at: at.typed(&m, ""),
                        required: true,
                    });
                }
                let within = t.within.as_ref().and_then(|w| at.period(w, "within", diags));
                if t.levels.is_empty() {
                    diags.push(at.typed(&m, "computed tiers need `levels`, e.g. {gold: 1000, silver: 300, bronze: 0}"));
                }
                for (name, min) in &t.levels {
                    if !min.value.is_finite() {
                        diags.push(at.node(min, format!("tiers: level `{name}` needs a number, not {}", min.value)));
                    }
                }
                let mut levels: Vec<(String, f64)> = t.levels.into_iter().map(|(k, v)| (k, v.value)).collect();
                levels.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                measure.map(|measure| Tiers::Computed { measure, within, levels })
            }
            _ => {
                diags.push(at.map(&t_pos, "tiers: give either `column:` or `measure:` with `levels:`"));
                None
            }
        };
    }
    (p, refs)
}

/// A consent event type as written (`key`), if it names one; an empty one is an error.
fn consent_event(key: &str, e: Option<super::raw::S>, at: &At<'_>, diags: &mut Diagnostics) -> Option<super::raw::S> {
    let e = e?;
    if e.value.trim().is_empty() {
        diags.push(
            at.node(&e, format!("{key} is empty: no event would change consent"))
                .with_hint("leave it out for the default, or name the event type"),
        );
        return None;
    }
    Some(e)
}

/// What to write instead of an unknown time zone: the IANA name it is closest to, if any.
fn zone_hint(tz: &str) -> String {
    match crate::diag::did_you_mean(tz, chrono_tz::TZ_VARIANTS.iter().map(|z| z.name())) {
        Some(z) => format!("did you mean `{z}`?"),
        None => "use an IANA name such as `Europe/London` or `America/New_York`".to_owned(),
    }
}

fn check_date_format(f: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
        return Err(format!(
            "{} is not a valid strftime format (e.g. `%Y%m%d` or `%d/%m/%Y %H:%M`)",
            crate::input::ticked(f)
        ));
    }
    if !crate::input::time::TimeParser::reads_back(f) {
        return Err(format!(
            "{} cannot read a timestamp back: it needs the year, month and day (e.g. `%Y%m%d` or `%d/%m/%Y %H:%M`)",
            crate::input::ticked(f)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_file_merge() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(&p, "timezone: Europe/Paris\ncolumns:\n  transactions:\n    customer_id: CustNo\nfields:\n  customers:\n    ltv: number\n").unwrap();
        let o = Overrides { date_format: Some("%Y%m%d".into()), ..Default::default() };
        let c = Config::load(Some(&p), &o).unwrap();
        assert_eq!(c.tz, chrono_tz::Europe::Paris);
        assert_eq!(c.columns(TableKind::Transactions).get("customer_id").unwrap(), "CustNo");
        assert_eq!(c.numeric(TableKind::Customers), &["ltv".to_owned()]);
        assert_eq!(c.date_format.as_deref(), Some("%Y%m%d"));
    }

    /// The consent and contact keys are never switched off by mistake: a key with no value,
    /// an empty event type, or one event type for two meanings are errors at the key.
    #[test]
    fn consent_keys_without_a_value_or_with_one_event_for_two_meanings_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        let load = |text: &str| {
            std::fs::write(&p, text).unwrap();
            Config::load(Some(&p), &Overrides::default())
        };
        for (text, message, line) in [
            ("policy:\n  consent:\n    do_not_contact:\n", "no value", 3),
            ("policy:\n  timezone_column:\n", "no value", 2),
            ("policy:\n  consent:\n    opt_out_event:\n", "no value", 3),
            ("policy:\n  consent:\n    opt_out_event: \"\"\n", "opt_out_event is empty: no event would change consent", 3),
            (
                "policy:\n  consent:\n    opt_in_event: opt_out\n",
                "opt_in_event `opt_out` is the event type of both opt_in_event and opt_out_event: one event cannot mean both",
                3,
            ),
            (
                "response_type: reply\npolicy:\n  consent:\n    opt_in_event: reply\n",
                "opt_in_event `reply` is the event type of response_type too: one event cannot mean both",
                4,
            ),
        ] {
            let d = load(text).unwrap_err();
            assert_eq!(d.error_count(), 1, "{text:?}: {:?}", d.0);
            assert!(d.0[0].message.contains(message), "{text:?}: {}", d.0[0].message);
            assert_eq!(d.0[0].line_col().map(|(l, _)| l), Some(line), "{text:?}");
        }
        let c = load("policy:\n  consent:\n    do_not_contact: dnc\n    opt_out_event: unsubscribe\n").unwrap();
        assert_eq!((c.policy.opt_out_event.as_str(), c.policy.opt_in_event.as_str()), ("unsubscribe", "opt_in"));
    }

    #[test]
    fn the_mail_sender_is_checked_where_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(&p, "content:\n  from: \"a,b@example.com\"\n").unwrap();
        let d = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        assert_eq!(d.error_count(), 1, "{:?}", d.0);
        assert!(
            d.0[0].message.starts_with("content.from: \"a,b@example.com\" is not an email address"),
            "{}",
            d.0[0].message
        );
        assert_eq!(d.0[0].line_col().map(|(l, _)| l), Some(2));
        std::fs::write(&p, "content:\n  from: \"Kairos <hello@example.com>\"\n").unwrap();
        let c = Config::load(Some(&p), &Overrides::default()).unwrap();
        assert_eq!(c.mail_from.as_deref(), Some("Kairos <hello@example.com>"));
    }

    #[test]
    fn an_unknown_time_zone_gets_its_nearest_name_and_a_pasted_one_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(&p, "timezone: Europe/Pariss\n").unwrap();
        let d = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        assert_eq!(d.0[0].message, "unknown time zone `Europe/Pariss`");
        assert_eq!(d.0[0].hint.as_deref(), Some("did you mean `Europe/Paris`?"));
        std::fs::write(&p, format!("timezone: {}\n", "x".repeat(3_000_000))).unwrap();
        let d = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        assert_eq!(d.0[0].message, format!("unknown time zone `{}…` (3000000 characters)", "x".repeat(79)));
        assert_eq!(crate::diag::did_you_mean(&"x".repeat(201), ["x"]), None, "no suggestion for a paragraph");
    }

    #[test]
    fn a_tier_column_takes_no_window() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(&p, "tiers:\n  column: tier\n  within: banana\n").unwrap();
        let d = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        assert_eq!(d.error_count(), 1, "{:?}", d.0);
        assert!(d.0[0].message.contains("`within` goes with `measure:`"), "{}", d.0[0].message);
        assert_eq!(d.0[0].line_col().map(|(l, _)| l), Some(3));
    }

    #[test]
    fn two_columns_mapped_to_one_header_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(&p, "columns:\n  transactions:\n    customer_id: CustNo\n    order_id: CustNo\n").unwrap();
        let d = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        assert_eq!(d.error_count(), 1);
        assert_eq!(
            d.0[0].message,
            "columns.transactions: `customer_id` and `order_id` both read the header `CustNo`; each column needs its own"
        );
        assert_eq!(d.0[0].line_col(), Some((4, 15)), "at the second mapping");
        // A flag mapping the same column again replaces the file's, which is fine.
        let o = Overrides {
            columns: vec![("transactions".into(), "customer_id".into(), "Kunde".into())],
            ..Default::default()
        };
        std::fs::write(&p, "columns:\n  transactions:\n    customer_id: CustNo\n").unwrap();
        let c = Config::load(Some(&p), &o).unwrap();
        assert_eq!(c.columns(TableKind::Transactions).get("customer_id").unwrap(), "Kunde");
        // A flag mapping another column onto a used header is not.
        let o = Overrides {
            columns: vec![("transactions".into(), "order_id".into(), "CustNo".into())],
            ..Default::default()
        };
        let d = Config::load(Some(&p), &o).unwrap_err();
        assert!(d.0[0].message.contains("both read the header `CustNo`"), "{}", d.0[0]);
    }

    #[test]
    fn bad_values_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(&p, "timezone: Mars/Olympus\nfields:\n  customers:\n    ltv: numbr\n").unwrap();
        let d = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        assert_eq!(d.error_count(), 2);
        assert_eq!(d.0[0].line_col(), Some((1, 11)));
        assert!(d.0[1].to_string().contains("did you mean `number`?"), "{}", d.0[1]);
    }

    #[test]
    fn a_cap_of_zero_is_an_error_at_its_max() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(&p, "policy:\n  caps:\n    - {max: 0, per: 1d}\n").unwrap();
        let d = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        assert_eq!(d.error_count(), 1);
        assert_eq!(d.0[0].line_col(), Some((3, 13)), "{}", d.0[0]);
        assert!(d.0[0].to_string().contains("a cap of 0 messages would suppress everything"), "{}", d.0[0]);
    }

    #[test]
    fn policy_shape_problems_point_at_their_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kairos.yaml");
        std::fs::write(
            &p,
            "rfm:\n  frequency: [8, 4, 2, 1]\ntiers:\n  column: tier\n  measure: spend\npolicy:\n  send_windows:\n    phone: {from: \"18:00\", to: \"09:00\"}\n    email: {from: \"09:00\"}\n",
        )
        .unwrap();
        let d = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        let got: Vec<(usize, String)> = d.0.iter().map(|x| (x.line().unwrap_or(0), x.message.clone())).collect();
        assert_eq!(
            got,
            [
                (2, "rfm.frequency: the four cut points must be ascending, not [8.0, 4.0, 2.0, 1.0]".to_owned()),
                (4, "tiers: give either `column:` or `measure:` with `levels:`".to_owned()),
                (8, "send window for `phone` ends before it starts".to_owned()),
                (9, "send window for `email`: give `at: HH:MM`, or `from:` and `to:`".to_owned()),
            ]
        );
    }
}
