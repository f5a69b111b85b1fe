//! Leaf vocabulary shared by every stage: table kinds, column types, measures, RFM cut
//! points, durations (one grammar for YAML, flags and conditions), closed sets of names and
//! exact money. Imports nothing from the crate but `diag`'s did-you-mean.

use std::fmt;

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
pub const WEEK: i64 = 7 * DAY;
/// A year in durations (`1y`) is 365 days.
pub const YEAR: i64 = 365 * DAY;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableKind {
    Transactions,
    Customers,
    Events,
    /// Things that happen to products (arrivals, markdowns), keyed by `item_id`.
    Catalog,
}

impl TableKind {
    pub const ALL: [TableKind; 4] =
        [TableKind::Transactions, TableKind::Customers, TableKind::Events, TableKind::Catalog];

    pub fn name(self) -> &'static str {
        match self {
            TableKind::Transactions => "transactions",
            TableKind::Customers => "customers",
            TableKind::Events => "events",
            TableKind::Catalog => "catalog",
        }
    }

    pub fn from_name(name: &str) -> Option<TableKind> {
        TableKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// A dense index for per-table arrays.
    pub fn slot(self) -> usize {
        self as usize
    }

    /// The column that says whose (or which item's) row it is.
    pub fn key(self) -> &'static str {
        match self {
            TableKind::Catalog => "item_id",
            _ => "customer_id",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Str,
    Num,
}

/// The channels every project has, with the customer-file column holding each one's address.
/// kairos.yaml `channels:` adds more (or changes the column); any other name is an error.
pub const DEFAULT_CHANNELS: &[(&str, &str)] = &[
    ("email", "email"),
    ("sms", "phone"),
    ("phone", "phone"),
    ("call", "phone"),
    ("letter", "address"),
    ("postcard", "address"),
    ("mail", "address"),
];

/// A closed set of names read from YAML or flags: one parser, one error text, one hint rule.
pub trait Closed: Sized + Copy + 'static {
    /// What a value is called in messages ("measure", "field type").
    const WHAT: &'static str;
    const NAMES: &'static [(&'static str, Self)];

    fn parse(s: &str) -> Result<Self, ClosedError> {
        Self::NAMES.iter().find(|(n, _)| *n == s).map(|(_, v)| *v).ok_or_else(|| ClosedError {
            message: format!("unknown {} `{s}`", Self::WHAT),
            hint: match crate::diag::did_you_mean(s, Self::NAMES.iter().map(|(n, _)| *n)) {
                Some(x) => format!("did you mean `{x}`?"),
                None => format!("a {} is one of: {}", Self::WHAT, Self::list()),
            },
        })
    }

    fn name(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::NAMES.iter().find(|(_, v)| *v == self).map_or("?", |(n, _)| n)
    }

    fn list() -> String {
        Self::NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    }
}

/// A value outside a closed set, with a did-you-mean or the list of accepted names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedError {
    pub message: String,
    pub hint: String,
}

/// What a threshold, a tier or a history function adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Purchases,
    Orders,
    Spend,
    Units,
    /// The sum of a numeric transactions column (by index), e.g. a casino's tier credits:
    /// a dialogue's own measure. Not among `Closed::NAMES`: it is resolved against the
    /// transactions header (`expr::compile::column_measure`).
    Column(usize),
}

impl Closed for Measure {
    const WHAT: &'static str = "measure";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("spend", Measure::Spend),
        ("orders", Measure::Orders),
        ("purchases", Measure::Purchases),
        ("units", Measure::Units),
    ];
}

/// A column's declared type in kairos.yaml `fields:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Number,
    Text,
}

impl Closed for FieldType {
    const WHAT: &'static str = "field type";
    const NAMES: &'static [(&'static str, Self)] =
        &[("number", FieldType::Number), ("string", FieldType::Text), ("text", FieldType::Text)];
}

/// Days of the week, Monday first (index = days from Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekday(pub u8);

impl Closed for Weekday {
    const WHAT: &'static str = "day";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("mon", Weekday(0)),
        ("tue", Weekday(1)),
        ("wed", Weekday(2)),
        ("thu", Weekday(3)),
        ("fri", Weekday(4)),
        ("sat", Weekday(5)),
        ("sun", Weekday(6)),
    ];

    /// Also accepts full names and any capitalisation (`Monday`, `TUE`).
    fn parse(s: &str) -> Result<Self, ClosedError> {
        let lower = s.to_ascii_lowercase();
        Self::NAMES.iter().find(|(n, _)| lower.starts_with(n)).map(|(_, v)| *v).ok_or_else(|| ClosedError {
            message: format!("unknown day `{s}`"),
            hint: "days are mon, tue, wed, thu, fri, sat, sun".to_owned(),
        })
    }
}

/// Cut points for RFM scores: a value beyond k cut points scores k + 1 (recency: fewer days
/// is better). Frequency counts orders and monetary sums spend, both over the last 365 days.
#[derive(Debug, Clone, PartialEq)]
pub struct RfmCuts {
    pub recency_days: [f64; 4],
    pub frequency: [f64; 4],
    pub monetary: [f64; 4],
}

impl Default for RfmCuts {
    fn default() -> Self {
        Self {
            recency_days: [30.0, 90.0, 180.0, 365.0],
            frequency: [2.0, 4.0, 8.0, 16.0],
            monetary: [100.0, 300.0, 1000.0, 3000.0],
        }
    }
}

/// Money and quantities are summed exactly, in millionths (micro-units): an amount read from
/// a file as `333.33` is the integer 333_330_000, so 333.33 + 333.33 + 333.34 is exactly 1000.
/// An amount is read as a double, which holds any decimal of up to 15 significant digits
/// (the reader refuses more, `MAX_DIGITS`); `to_micros` gets that decimal back exactly, to six
/// decimals.
pub const MICROS: f64 = 1e6;

/// The most significant digits an amount or quantity may have: a double tells apart every
/// decimal of 15 digits (`f64::DIGITS`), not of more (`999999999998.999999` reads as
/// `999999999999`).
pub const MAX_DIGITS: usize = f64::DIGITS as usize;

/// Below this magnitude `v * 10^6` is within a tenth of a micro-unit of the decimal `v` was
/// read from, so rounding it gives that decimal's micro-units.
const MULTIPLY_EXACT: f64 = 1e9;

/// An amount in micro-units (NaN counts as 0). `i128`: a sum of millions of lines of a large
/// column never reaches its range (where it would saturate). Exact for a decimal of up to 15
/// significant digits read as a double, rounded half away from zero to six decimals.
pub fn to_micros(v: f64) -> i128 {
    if v.is_nan() {
        0
    } else if v.abs() < MULTIPLY_EXACT || !v.is_finite() {
        (v * MICROS).round() as i128
    } else {
        // A large amount: `v * 10^6` is past where doubles hold every integer. The shortest
        // text that reads back as `v` is the decimal it was read from (15 digits or fewer).
        decimal_micros(&v.to_string()).unwrap_or_else(|| (v * MICROS).round() as i128)
    }
}

/// The micro-units of a plain decimal (`-123.4567895`), rounded half away from zero.
fn decimal_micros(s: &str) -> Option<i128> {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) || whole.len() > 30 {
        return None;
    }
    let mut m: i128 = whole.parse().ok()?;
    let digits = frac.as_bytes();
    for k in 0..6 {
        m = m * 10 + i128::from(digits.get(k).map_or(0, |d| d - b'0'));
    }
    if digits.get(6).is_some_and(|&d| d >= b'5') {
        m += 1;
    }
    Some(if neg { -m } else { m })
}

/// Micro-units back to a number, for comparison with thresholds and for templates. Sums are
/// `i128`: a line is below 10^12 (10^18 micro-units), and ten of them would pass the `i64`
/// range. The whole units and the millionths are converted apart, so a whole sum of
/// 999999999999 is that number, not 999999999999.0001.
pub fn from_micros(m: i128) -> f64 {
    // Up to 2^53 the integer is exact as a double and one division rounds correctly.
    if m.unsigned_abs() <= 1 << 53 {
        return m as f64 / MICROS;
    }
    let (whole, frac) = (m / 1_000_000, m % 1_000_000);
    whole as f64 + frac as f64 / MICROS
}

/// A length of time in whole seconds. Written `90d`, `12w`, `36h`, `1y`, `1.5d`, `90 days`:
/// the same grammar in dialogues, kairos.yaml, flags and conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(i64);

/// The longest duration kairos accepts anywhere (1000 years): far past any real schedule,
/// far from overflowing time arithmetic.
pub const MAX_DURATION: i64 = 1000 * YEAR;

impl Duration {
    pub const ZERO: Duration = Duration(0);

    pub fn from_secs(secs: i64) -> Duration {
        Duration(secs)
    }

    pub fn secs(self) -> i64 {
        self.0
    }

    /// Seconds per unit for the unit words the grammar knows.
    pub fn unit(unit: &str) -> Option<f64> {
        Some(match unit {
            "h" | "hour" | "hours" => HOUR as f64,
            "d" | "day" | "days" => DAY as f64,
            "w" | "week" | "weeks" => WEEK as f64,
            "y" | "year" | "years" => YEAR as f64,
            _ => return None,
        })
    }

    /// A number (digits, optional fraction) and a unit word.
    pub fn from_parts(number: &str, unit: &str) -> Option<Duration> {
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let secs = (value * Self::unit(unit)?).round();
        if !secs.is_finite() || !(0.0..=MAX_DURATION as f64).contains(&secs) {
            return None;
        }
        Some(Duration(secs as i64))
    }
}

impl std::str::FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || format!("`{s}` is not a duration");
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let (num, unit) = t.split_at(split);
        let unit = unit.trim();
        Duration::from_parts(num, unit).ok_or_else(|| {
            // A well-formed duration past the limit says so, not that it is no duration.
            let secs = num.parse::<f64>().ok().zip(Self::unit(unit)).map(|(n, u)| n * u);
            match secs {
                Some(secs) if secs > MAX_DURATION as f64 => {
                    format!("`{s}` is longer than 1000 years, the longest duration kairos takes")
                }
                _ => bad(),
            }
        })
    }
}

impl fmt::Display for Duration {
    /// The shortest exact text: `90d`, `36h`, `45s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s % DAY == 0 {
            write!(f, "{}d", s / DAY)
        } else if s % HOUR == 0 {
            write!(f, "{}h", s / HOUR)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|e: String| serde::de::Error::custom(format!("{e} (e.g. 36h, 90d, 12w, 1y)")))
    }
}

/// `90d` for whole-day seconds, `36h`, or seconds: for reasons and explanations.
pub fn format_duration(secs: i64) -> String {
    Duration(secs).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn large_amounts_convert_to_micros_and_back_exactly() {
        use super::{from_micros, to_micros};
        for (text, micros) in [
            ("999999999999", 999_999_999_999_000_000i128),
            ("999999999998.999", 999_999_999_998_999_000),
            ("-123456789012.345", -123_456_789_012_345_000),
            ("99999999999.9999", 99_999_999_999_999_900),
            ("1000000000", 1_000_000_000_000_000),
            ("999999999.999999", 999_999_999_999_999),
            ("0.1", 100_000),
            ("333.33", 333_330_000),
            ("-0.0000005", -1),
            ("12.3456785", 12_345_679),
        ] {
            let v: f64 = text.parse().unwrap();
            assert_eq!(to_micros(v), micros, "{text}");
            if text.split_once('.').is_none_or(|(_, f)| f.len() <= 6) {
                assert_eq!(from_micros(micros), v, "{text}");
            }
        }
        // The old multiplication was 64 micro-units off here.
        assert_ne!((999_999_999_998.999_f64 * 1e6).round() as i128, 999_999_999_998_999_000);
        assert_eq!(from_micros(333_330_000 * 3 + 10_000), 1000.0);
        assert_eq!(to_micros(f64::NAN), 0);
    }

    use super::*;

    #[test]
    fn one_duration_grammar() {
        let p = |s: &str| s.parse::<Duration>().map(Duration::secs);
        assert_eq!(p("90d"), Ok(90 * DAY));
        assert_eq!(p("2w"), Ok(14 * DAY));
        assert_eq!(p("36h"), Ok(36 * HOUR));
        assert_eq!(p("1.5d"), Ok(129_600));
        assert_eq!(p("90 days"), Ok(90 * DAY));
        assert_eq!(p("0d"), Ok(0));
        assert!(p("90").is_err());
        assert!(p("soon").is_err());
        assert!(p("-1d").is_err());
        assert!(p("99999999999999999999y").is_err(), "overflowing durations are rejected");
        let too_long = Err("`1001y` is longer than 1000 years, the longest duration kairos takes".to_owned());
        assert_eq!(p("1001y"), too_long);
        assert_eq!(p("99999999999999999999y").map_err(|e| e.contains("longer than 1000 years")), Err(true));
        assert_eq!(p("365001d").map_err(|e| e.contains("longer than 1000 years")), Err(true));
        assert_eq!(p("1000y"), Ok(MAX_DURATION));
        assert_eq!(p("12x"), Err("`12x` is not a duration".to_owned()));
        assert_eq!(Duration::from_parts("30", "d"), Some(Duration(30 * DAY)));
        assert_eq!(format_duration(90 * DAY), "90d");
        assert_eq!(format_duration(36 * HOUR), "36h");
        assert_eq!(format_duration(45), "45s");
    }

    #[test]
    fn money_sums_exactly() {
        // A window over prefix sums: spend after an earlier 0.07 purchase.
        let parts = [0.07, 333.33, 333.33, 333.34];
        let float: Vec<f64> = parts
            .iter()
            .scan(0.0, |acc, v| {
                *acc += v;
                Some(*acc)
            })
            .collect();
        assert!(float[3] - float[0] < 1000.0, "floating point misses the threshold");
        let exact: Vec<i128> = parts
            .iter()
            .scan(0, |acc, &v| {
                *acc += to_micros(v);
                Some(*acc)
            })
            .collect();
        assert_eq!(from_micros(exact[3] - exact[0]), 1000.0);
        assert_eq!(from_micros(to_micros(0.1) + to_micros(0.2)), 0.3);
        assert_eq!(to_micros(f64::NAN), 0);
        assert_eq!(to_micros(-12.5), -12_500_000);
    }

    #[test]
    fn closed_sets_parse_and_hint() {
        assert_eq!(Measure::parse("spend"), Ok(Measure::Spend));
        let e = Measure::parse("spnd").unwrap_err();
        assert_eq!(e.message, "unknown measure `spnd`");
        assert_eq!(e.hint, "did you mean `spend`?");
        let e = Measure::parse("zzzzzzzz").unwrap_err();
        assert_eq!(e.hint, "a measure is one of: spend, orders, purchases, units");
        assert_eq!(Weekday::parse("Monday"), Ok(Weekday(0)));
        assert!(Weekday::parse("someday").is_err());
        assert_eq!(FieldType::parse("text"), Ok(FieldType::Text));
        assert_eq!(Measure::Units.name(), "units");
    }
}
