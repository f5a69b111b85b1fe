//! Calendar arithmetic and fast, allocation-free CSV field formatting.

use std::io::{self, Write};

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (days since 1970-01-01).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses `YYYY-MM-DD` into a day number.
pub fn parse_date(s: &str) -> Result<i64, String> {
    let err = || format!("invalid date {s:?}: expected YYYY-MM-DD");
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(err());
    };
    let y: i64 = y.parse().map_err(|_| err())?;
    let m: u32 = m.parse().map_err(|_| err())?;
    let d: u32 = d.parse().map_err(|_| err())?;
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return Err(err());
    }
    let day = days_from_civil(y, m, d);
    if civil_from_days(day) != (y, m, d) {
        return Err(err());
    }
    Ok(day)
}

/// `YYYY-MM-DDT` prefixes for each day of the period, so timestamps format with two lookups.
pub struct DayTable {
    prefixes: Vec<[u8; 11]>,
}

impl DayTable {
    pub fn new(start_day: i64, days: u32) -> Self {
        let prefixes = (0..i64::from(days))
            .map(|i| {
                let (y, m, d) = civil_from_days(start_day + i);
                let mut p = [0u8; 11];
                let s = format!("{y:04}-{m:02}-{d:02}T");
                p.copy_from_slice(s.as_bytes());
                p
            })
            .collect();
        Self { prefixes }
    }

    /// Appends an RFC 3339 UTC timestamp for `secs` seconds after the start of the period.
    pub fn put_timestamp(&self, buf: &mut Vec<u8>, secs: i64) {
        let day = (secs / 86_400) as usize;
        let sod = (secs % 86_400) as u32;
        buf.extend_from_slice(&self.prefixes[day]);
        put_2(buf, sod / 3600);
        buf.push(b':');
        put_2(buf, sod / 60 % 60);
        buf.push(b':');
        put_2(buf, sod % 60);
        buf.push(b'Z');
    }
}

/// Appends a two-digit, zero-padded number (< 100).
pub fn put_2(buf: &mut Vec<u8>, n: u32) {
    buf.push(b'0' + (n / 10) as u8);
    buf.push(b'0' + (n % 10) as u8);
}

/// Appends `n` in decimal, zero-padded to at least `width` digits.
pub fn put_u64(buf: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut tmp = [0u8; 24];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    while tmp.len() - i < width.min(20) {
        i -= 1;
        tmp[i] = b'0';
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends an amount of cents as `units.cc`.
pub fn put_cents(buf: &mut Vec<u8>, cents: u64) {
    put_u64(buf, cents / 100, 1);
    buf.push(b'.');
    put_2(buf, (cents % 100) as u32);
}

/// Appends a CSV field, quoted (RFC 4180) if it contains a comma, quote or line break.
pub fn put_field(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

/// A line buffer that is handed to the underlying writer in large chunks.
pub struct Sink<W: Write> {
    pub buf: Vec<u8>,
    inner: W,
}

const CHUNK: usize = 1 << 20;

impl<W: Write> Sink<W> {
    pub fn new(inner: W) -> Self {
        Self { buf: Vec::with_capacity(CHUNK + 4096), inner }
    }

    /// Call after each record: writes out the buffer once it holds a full chunk.
    pub fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 1, 1), 19_723);
        for z in -1000..40_000 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(parse_date("2024-02-29"), Ok(19_723 + 59));
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("2024-1-1x").is_err());
    }

    #[test]
    fn formats() {
        let t = DayTable::new(days_from_civil(2024, 3, 4), 3);
        let mut b = Vec::new();
        t.put_timestamp(&mut b, 86_400 + 14 * 3600 + 22 * 60 + 7);
        assert_eq!(b, b"2024-03-05T14:22:07Z");
        b.clear();
        put_u64(&mut b, 123, 7);
        b.push(b' ');
        put_cents(&mut b, 5);
        b.push(b' ');
        put_cents(&mut b, 123_456);
        b.push(b' ');
        put_field(&mut b, "1 Main St, \"A\"");
        assert_eq!(b, b"0000123 0.05 1234.56 \"1 Main St, \"\"A\"\"\"");
    }
}
