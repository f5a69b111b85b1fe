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

    /// Does a timestamp written in `format` read back as the instant it was written from? A
    /// format without a date in it (`%H:%M`) reads nothing, and would fail on every row.
    pub fn reads_back(format: &str) -> bool {
        let parser = Self::new(Some(format), chrono_tz::UTC);
        // An instant whose fields all differ (day 21 is no month, 13:45:56 no hour of the
        // day twice), so a format that mixes them up does not read it back either.
        // (Read back to the same text: a format without seconds reads 13:45.)
        let write =
            |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|d| d.fixed_offset().format(format).to_string());
        let Some(text) = write(1_742_564_756) else { return false };
        parser.parse_uncached(&text).and_then(write).is_some_and(|back| back == text)
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
        if self.format.is_none() {
            if let Some(t) = parse_iso_fast(raw.as_bytes(), self.tz) {
                return Some(t);
            }
        }
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

/// A naive local time in `tz` as UTC seconds. In a gap (a clock moved forward) the wall
/// clock does not exist; it is read with the offset in force just before the gap, which is
/// the instant a clock not yet moved showed (02:30 in a one-hour spring gap is 03:30 of the new
/// time; a day a zone skipped, as Samoa skipped 2011-12-30, is the day after).
pub fn local_to_utc(naive: NaiveDateTime, tz: Tz) -> i64 {
    use chrono::Offset;
    if let Some(t) = tz.from_local_datetime(&naive).earliest() {
        return t.timestamp();
    }
    // No zone has skipped more than a day and a half at once.
    for hours in 1..=48 {
        if let Some(before) = tz.from_local_datetime(&(naive - chrono::Duration::hours(hours))).earliest() {
            return naive.and_utc().timestamp() - i64::from(before.offset().fix().local_minus_utc());
        }
    }
    naive.and_utc().timestamp()
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

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
const fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `n` ASCII digits as a number.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

/// The common layouts read straight from the bytes: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`, and
/// (in UTC) `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SS`. `None` for anything else, which
/// `parse_iso` then reads with chrono; for what it accepts the result is chrono's.
fn parse_iso_fast(b: &[u8], tz: Tz) -> Option<i64> {
    let utc = tz == Tz::UTC;
    match b.len() {
        10 => {}
        19 if utc && (b[10] == b'T' || b[10] == b' ') => {}
        20 if b[10] == b'T' && b[19] == b'Z' => {}
        _ => return None,
    }
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (i64::from(digits(&b[0..4])?), digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if b.len() == 10 {
        if !utc {
            return None;
        }
        return Some(days * 86_400);
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, s) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    // A leap second (`:60`) is left to chrono.
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(days * 86_400 + i64::from(h * 3600 + mi * 60 + s))
}

/// UTC seconds as `2025-03-01T10:00:00Z`: the one format kairos writes.
pub fn format_utc(ts: i64) -> String {
    String::from_utf8_lossy(&utc_bytes(ts)).into_owned()
}

/// `format_utc` into a stack buffer: the output hot path formats millions of these. Years
/// outside 0..=9999 come out as `0000-00-00T00:00:00Z`.
pub fn utc_bytes(ts: i64) -> [u8; 20] {
    /// "00", "01", … "99".
    const PAIRS: [[u8; 2]; 100] = {
        let mut t = [[0u8; 2]; 100];
        let mut i = 0;
        while i < 100 {
            t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
            i += 1;
        }
        t
    };
    let mut out = *b"0000-00-00T00:00:00Z";
    let (days, secs) = (ts.div_euclid(86_400), ts.rem_euclid(86_400) as u32);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return out;
    }
    let year = year as u32;
    for (at, v) in [
        (0, year / 100),
        (2, year % 100),
        (5, month),
        (8, day),
        (11, secs / 3600),
        (14, secs / 60 % 60),
        (17, secs % 60),
    ] {
        out[at..at + 2].copy_from_slice(&PAIRS[v as usize]);
    }
    out
}

/// The calendar day of a UTC instant in `tz`, as days since the epoch (for sent/due/scheduled).
pub fn local_day(ts: i64, tz: Tz) -> i64 {
    if tz == Tz::UTC {
        return ts.div_euclid(crate::model::DAY);
    }
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
/// Only instants the inputs may hold (`MIN_TS..=MAX_TS`): a year-0 `--as-of` is a typo too.
pub fn parse_as_of(raw: &str, tz: Tz) -> Option<i64> {
    let t = if raw.len() == 10 {
        let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
        let end = d.succ_opt()?.and_time(NaiveTime::MIN);
        local_to_utc(end, tz) - 1
    } else {
        parse_iso(raw, tz)?
    };
    (MIN_TS..=MAX_TS).contains(&t).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_in_a_gap_is_read_with_the_offset_before_it() {
        let at = |s: &str, tz: Tz| local_to_utc(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap(), tz);
        let utc = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        // A one-hour spring gap: 02:30 Paris is 03:30 CEST.
        assert_eq!(at("2025-03-30 02:30", chrono_tz::Europe::Paris), utc("2025-03-30T01:30:00Z"));
        assert_eq!(at("2025-03-30 01:30", chrono_tz::Europe::Paris), utc("2025-03-30T00:30:00Z"));
        // Samoa skipped 2011-12-30 (−10:00 to +14:00): 05:00 that day is 05:00 of the 31st.
        assert_eq!(at("2011-12-30 05:00", chrono_tz::Pacific::Apia), utc("2011-12-30T15:00:00Z"));
        assert_eq!(at("2011-12-31 05:00", chrono_tz::Pacific::Apia), utc("2011-12-30T15:00:00Z"));
        assert_eq!(at("2011-12-29 23:00", chrono_tz::Pacific::Apia), utc("2011-12-30T09:00:00Z"));
        // The end of the day before the gap: one second before the next day's start.
        assert_eq!(parse_as_of("2011-12-29", chrono_tz::Pacific::Apia), Some(utc("2011-12-30T09:59:59Z")));
    }

    #[test]
    fn a_date_format_must_read_its_own_timestamps_back() {
        for ok in ["%Y%m%d", "%d/%m/%Y %H:%M", "%d/%m/%y", "%m/%d/%Y %I:%M %p", "%s", "%Y-%m-%dT%H:%M:%S%z", "%F %T"] {
            assert!(TimeParser::reads_back(ok), "{ok}");
        }
        for bad in ["%H:%M", "%Y-%m", "%H:%M %d/%m", "%d/%m"] {
            assert!(!TimeParser::reads_back(bad), "{bad}");
        }
    }

    /// The UTC shortcut gives chrono's day for every instant, out-of-range ones included.
    #[test]
    fn local_day_in_utc_is_chronos_day() {
        let chrono_day = |ts: i64| match DateTime::from_timestamp(ts, 0) {
            Some(utc) => utc.date_naive().signed_duration_since(NaiveDate::default()).num_days(),
            None => ts.div_euclid(crate::model::DAY),
        };
        let days = [-1_000_000_i64, -719_528, -1, 0, 1, 20_000, 2_932_896, 10_000_000];
        let within = [-86_401_i64, -86_400, -1, 0, 1, 86_399];
        let extremes = [i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX];
        for ts in days.iter().flat_map(|d| within.iter().map(move |s| d * 86_400 + s)).chain(extremes) {
            assert_eq!(local_day(ts, Tz::UTC), chrono_day(ts), "{ts}");
        }
    }

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
    fn as_of_outside_the_input_range_is_rejected() {
        assert_eq!(parse_as_of("0000-01-01", Tz::UTC), None);
        assert_eq!(parse_as_of("0999-12-31T00:00:00Z", Tz::UTC), None);
        assert_eq!(parse_as_of("1970-01-01", Tz::UTC), Some(86_399));
        assert_eq!(parse_as_of("9999-12-31", Tz::UTC), Some(MAX_TS));
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

    /// The reading chrono gives, for the layouts the fast path knows.
    fn chrono_reading(raw: &str, tz: Tz) -> Option<i64> {
        if raw.len() == 10 {
            return NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .map(|d| local_to_utc(d.and_time(NaiveTime::MIN), tz));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
            return Some(t.timestamp());
        }
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
            .map(|t| local_to_utc(t, tz))
    }

    #[test]
    fn the_fast_path_reads_what_chrono_reads() {
        let ny: Tz = "America/New_York".parse().unwrap();
        for raw in [
            "2024-02-29",
            "2023-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-04-31",
            "2025-12-31",
            "1000-01-01",
            "2024-02-29T23:59:59Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T10:60:00Z",
            "2024-03-01T10:00:60Z",
            "2024-03-01 10:00:00",
            "2024-03-01T10:00:00",
            "2024-03-01t10:00:00Z",
            "2024-03-01T10:00:00z",
            "+024-03-01",
            "2024-3-01",
            "2024-03-1 ",
            "2024/03/01",
            "2400-02-29T00:00:00Z",
            "2100-02-29",
        ] {
            for tz in [Tz::UTC, ny] {
                if let Some(fast) = parse_iso_fast(raw.as_bytes(), tz) {
                    assert_eq!(Some(fast), chrono_reading(raw, tz), "{raw} in {tz}");
                }
                // With the fast path in front, the parser reads what chrono alone reads.
                assert_eq!(TimeParser::new(None, tz).parse_uncached(raw), parse_iso(raw, tz), "{raw}");
            }
        }
        assert_eq!(parse_iso_fast(b"2024-03-01T10:00:60Z", Tz::UTC), None);
        assert_eq!(parse_iso_fast(b"2024-03-01", ny), None);
    }

    proptest::proptest! {
        #[test]
        fn fast_path_and_chrono_agree_on_every_instant(t in MIN_TS..=MAX_TS, form in 0usize..4) {
            let s = format_utc(t);
            let raw = match form {
                0 => s.clone(),
                1 => s[..10].to_owned(),
                2 => s[..19].replace('T', " "),
                _ => s[..19].to_owned(),
            };
            let fast = parse_iso_fast(raw.as_bytes(), Tz::UTC);
            proptest::prop_assert_eq!(fast, chrono_reading(&raw, Tz::UTC));
            let chrono_text = DateTime::from_timestamp(t, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            proptest::prop_assert_eq!(s, chrono_text);
        }
    }

    #[test]
    fn utc_text_is_chronos_over_the_calendar() {
        // Every day boundary's neighbours from 1000 to 9999 would be 3.3M days: take every
        // 997th day (all months, leap years and centuries over the run), plus the edges.
        let mut instants = vec![MIN_TS, MAX_TS, 0, -1, 1, 951_782_400, 4_107_542_399, -62_135_596_800];
        let mut day = MIN_TS / 86_400;
        while day <= MAX_TS / 86_400 {
            for s in [0, 1, 59, 3_599, 43_200, 86_399] {
                instants.push(day * 86_400 + s);
            }
            day += 997;
        }
        for y in [1600, 1700, 1900, 1969, 1970, 2000, 2024, 2100, 2400, 9996] {
            let d = NaiveDate::from_ymd_opt(y, 2, 29).or(NaiveDate::from_ymd_opt(y, 2, 28)).unwrap();
            let t = d.and_time(NaiveTime::MIN).and_utc().timestamp();
            instants.extend([t - 1, t, t + 86_399, t + 86_400]);
        }
        for t in instants {
            let chrono_text = DateTime::from_timestamp(t, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            assert_eq!(std::str::from_utf8(&utc_bytes(t)).unwrap(), chrono_text, "{t}");
        }
        // Years 0..=999 are written too (with leading zeros); others are all zeros.
        assert_eq!(format_utc(-62_167_219_200), "0000-01-01T00:00:00Z");
        assert_eq!(format_utc(-62_167_219_201), "0000-00-00T00:00:00Z");
        assert_eq!(format_utc(-59_011_459_200), "0100-01-01T00:00:00Z");
        assert_eq!(format_utc(253_402_300_800), "0000-00-00T00:00:00Z");
    }

    #[test]
    fn as_of_date_is_end_of_day() {
        assert_eq!(parse_as_of("1970-01-01", Tz::UTC), Some(86_399));
        assert_eq!(format_utc(86_399), "1970-01-01T23:59:59Z");
        assert_eq!(&utc_bytes(1_740_000_000), format_utc(1_740_000_000).as_bytes());
        assert_eq!(local_day(86_399, Tz::UTC), 0);
    }
}
