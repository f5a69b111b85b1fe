//! Timestamps: ISO 8601 dates and date-times (with or without offset) or a custom strftime
//! format, resolved to UTC seconds. Naive values are read in the configured time zone.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// The earliest instant accepted in an input, 1000-01-01T00:00:00Z: year-0 and negative years
/// are typos, and every accepted instant prints as `YYYY-MM-DDTHH:MM:SSZ`.
pub const MIN_TS: i64 = -30_610_224_000;
/// The latest instant accepted, 9999-12-31T23:59:59Z.
pub const MAX_TS: i64 = 253_402_300_799;

/// Parses timestamps of one column; remembers the last value because exports repeat the same
/// timestamp on every line of an order.
pub struct TimeParser {
    format: Option<Format>,
    tz: Tz,
    last: Option<(Vec<u8>, i64)>,
}

enum Format {
    Date(String),
    DateTime(String),
    WithOffset(String),
}

impl TimeParser {
    pub fn new(format: Option<&str>, tz: Tz) -> Self {
        let format = format.map(|f| {
            if f.contains("%z") || f.contains("%:z") || f.contains("%#z") {
                Format::WithOffset(f.to_owned())
            } else if ["%H", "%I", "%M", "%S", "%T", "%R", "%s"].iter().any(|t| f.contains(t)) {
                Format::DateTime(f.to_owned())
            } else {
                Format::Date(f.to_owned())
            }
        });
        Self { format, tz, last: None }
    }

    pub fn parse(&mut self, raw: &str) -> Option<i64> {
        if let Some((prev, ts)) = &self.last {
            if prev.as_slice() == raw.as_bytes() {
                return Some(*ts);
            }
        }
        let ts = self.parse_uncached(raw).filter(|t| (MIN_TS..=MAX_TS).contains(t))?;
        match &mut self.last {
            Some((prev, t)) => {
                prev.clear();
                prev.extend_from_slice(raw.as_bytes());
                *t = ts;
            }
            None => self.last = Some((raw.as_bytes().to_vec(), ts)),
        }
        Some(ts)
    }

    fn parse_uncached(&self, raw: &str) -> Option<i64> {
        match &self.format {
            Some(Format::Date(f)) => {
                NaiveDate::parse_from_str(raw, f).ok().map(|d| self.local(d.and_time(NaiveTime::MIN)))
            }
            Some(Format::DateTime(f)) => NaiveDateTime::parse_from_str(raw, f).ok().map(|d| self.local(d)),
            Some(Format::WithOffset(f)) => DateTime::parse_from_str(raw, f).ok().map(|d| d.timestamp()),
            None => parse_iso(raw, self.tz),
        }
    }

    fn local(&self, naive: NaiveDateTime) -> i64 {
        local_to_utc(naive, self.tz)
    }
}

/// A naive local time in `tz` as UTC seconds. In a DST gap the wall clock does not exist; we
/// take the instant one hour later, which is what the clock showed.
pub fn local_to_utc(naive: NaiveDateTime, tz: Tz) -> i64 {
    match tz.from_local_datetime(&naive).earliest() {
        Some(t) => t.timestamp(),
        None => tz
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| naive.and_utc().timestamp(), |t| t.timestamp()),
    }
}

/// `2025-03-01`, `2025-03-01T10:00:00Z`, `2025-03-01T10:00:00+02:00`, `2025-03-01 10:00:00`,
/// `2025-03-01T10:00` (fractional seconds allowed).
pub fn parse_iso(raw: &str, tz: Tz) -> Option<i64> {
    if raw.len() == 10 {
        return NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok().map(|d| local_to_utc(d.and_time(NaiveTime::MIN), tz));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.timestamp());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(t) = DateTime::parse_from_str(raw, f) {
            return Some(t.timestamp());
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, f) {
            return Some(local_to_utc(t, tz));
        }
    }
    None
}

/// UTC seconds as `2025-03-01T10:00:00Z`: the one format kairos writes.
pub fn format_utc(ts: i64) -> String {
    String::from_utf8_lossy(&utc_bytes(ts)).into_owned()
}

/// `format_utc` into a stack buffer: the output hot path formats millions of these.
pub fn utc_bytes(ts: i64) -> [u8; 20] {
    use chrono::{Datelike, Timelike};
    let mut out = *b"0000-00-00T00:00:00Z";
    let Some(t) = DateTime::from_timestamp(ts, 0) else { return out };
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return out;
    }
    let put = |out: &mut [u8; 20], at: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut out, 0, year as u32, 4);
    put(&mut out, 5, t.month(), 2);
    put(&mut out, 8, t.day(), 2);
    put(&mut out, 11, t.hour(), 2);
    put(&mut out, 14, t.minute(), 2);
    put(&mut out, 17, t.second(), 2);
    out
}

/// The calendar day of a UTC instant in `tz`, as days since the epoch (for sent/due/scheduled).
pub fn local_day(ts: i64, tz: Tz) -> i64 {
    let Some(utc) = DateTime::from_timestamp(ts, 0) else {
        return ts.div_euclid(crate::model::DAY);
    };
    let local = utc.with_timezone(&tz).date_naive();
    local.signed_duration_since(NaiveDate::default()).num_days()
}

/// The first instant of the local day (in `tz`) holding `t`.
pub fn day_start(t: i64, tz: Tz) -> i64 {
    let Some(utc) = DateTime::from_timestamp(t, 0) else { return t };
    let day = utc.with_timezone(&tz).date_naive().and_time(NaiveTime::MIN);
    local_to_utc(day, tz)
}

/// The local calendar date (in `tz`) of an instant, `YYYY-MM-DD`.
pub fn local_date(t: i64, tz: Tz) -> String {
    DateTime::from_timestamp(t, 0).map_or_else(String::new, |u| u.with_timezone(&tz).date_naive().to_string())
}

/// `--as-of`: a date means the end of that day in `tz`; a date-time means that instant.
pub fn parse_as_of(raw: &str, tz: Tz) -> Option<i64> {
    if raw.len() == 10 {
        let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
        let end = d.succ_opt()?.and_time(NaiveTime::MIN);
        return Some(local_to_utc(end, tz) - 1);
    }
    parse_iso(raw, tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms() {
        let utc = Tz::UTC;
        assert_eq!(parse_iso("1970-01-02", utc), Some(86_400));
        assert_eq!(parse_iso("1970-01-01T01:00:00Z", utc), Some(3600));
        assert_eq!(parse_iso("1970-01-01T03:00:00+02:00", utc), Some(3600));
        assert_eq!(parse_iso("1970-01-01 01:00:00", utc), Some(3600));
        assert_eq!(parse_iso("1970-01-01T01:00", utc), Some(3600));
        assert_eq!(parse_iso("1970-13-01", utc), None);
        assert_eq!(parse_iso("yesterday", utc), None);
    }

    #[test]
    fn naive_times_use_the_zone() {
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(parse_iso("2025-01-01", ny), parse_iso("2025-01-01T05:00:00Z", Tz::UTC));
    }

    #[test]
    fn custom_formats() {
        let mut p = TimeParser::new(Some("%Y%m%d"), Tz::UTC);
        assert_eq!(p.parse("19700102"), Some(86_400));
        assert_eq!(p.parse("19700102"), Some(86_400));
        assert_eq!(p.parse("1970-01-02"), None);
        let mut p = TimeParser::new(Some("%d/%m/%Y %H:%M"), Tz::UTC);
        assert_eq!(p.parse("02/01/1970 00:01"), Some(86_460));
    }

    #[test]
    fn years_outside_1000_to_9999_are_rejected() {
        let mut p = TimeParser::new(None, Tz::UTC);
        assert_eq!(p.parse("1000-01-01"), Some(MIN_TS));
        assert_eq!(p.parse("9999-12-31T23:59:59Z"), Some(MAX_TS));
        assert_eq!(p.parse("0000-01-01"), None);
        let mut p = TimeParser::new(Some("%Y-%m-%d"), Tz::UTC);
        assert_eq!(p.parse("-0001-01-01"), None);
        assert_eq!(format_utc(MIN_TS), "1000-01-01T00:00:00Z");
    }

    #[test]
    fn as_of_date_is_end_of_day() {
        assert_eq!(parse_as_of("1970-01-01", Tz::UTC), Some(86_399));
        assert_eq!(format_utc(86_399), "1970-01-01T23:59:59Z");
        assert_eq!(&utc_bytes(1_740_000_000), format_utc(1_740_000_000).as_bytes());
        assert_eq!(local_day(86_399, Tz::UTC), 0);
    }
}
