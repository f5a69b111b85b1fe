//! Parquet inputs. A file whose name ends in `.parquet` is read as the CSV text it stands for:
//! a header of its column names, then one record per row, every value written as text the way
//! a CSV export writes it. That text goes through the very same reader as a CSV file, so the
//! column mapping, the header checks, the typing rules and the error messages are the same.
//!
//! How values become text: strings as they are; integers in decimal; floats in their shortest
//! round-trip form (`12.5`); decimals exactly (`12.50` for scale 2); booleans `true`/`false`;
//! nulls empty; dates `2025-03-01`; timestamps in ISO 8601, `2025-03-01T10:00:00Z` when the
//! column is adjusted to UTC (and for INT96), without the `Z` when it is not (then read in the
//! configured time zone, as a CSV date-time without offset). Nested columns (lists, maps,
//! structs) are an error naming the column.
//!
//! Errors name the file and the row (1-based, in file order), as `tx.parquet: row 17: …`.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use parquet::schema::types::ColumnDescPtr;

use super::InputError;

/// Is this input a Parquet file (by its extension, in any case)?
pub fn is_parquet(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// How one column's values become text.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Plain,
    /// A timestamp; `utc`: adjusted to UTC (written with `Z`).
    Timestamp {
        utc: bool,
    },
    /// INT64 nanoseconds since the epoch (the record reader hands them over as plain numbers).
    TimestampNanos {
        utc: bool,
    },
}

/// A Parquet file as CSV text, produced as it is read.
pub struct CsvText {
    rows: parquet::record::reader::RowIter<'static>,
    names: Vec<String>,
    kinds: Vec<Kind>,
    out: Vec<u8>,
    pos: usize,
    /// Rows written so far.
    row: u64,
    done: bool,
}

fn not_readable(path: &Path, message: String) -> InputError {
    InputError::Open { path: path.to_path_buf(), source: io::Error::other(message) }
}

/// Open a Parquet file as CSV text, header first.
pub fn open(path: &Path) -> Result<CsvText, InputError> {
    let file = File::open(path).map_err(|source| InputError::Open { path: path.to_path_buf(), source })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(InputError::Folder { path: path.to_path_buf() });
    }
    let reader = SerializedFileReader::new(file)
        .map_err(|e| not_readable(path, format!("not a Parquet file kairos can read ({e})")))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    for field in schema.root_schema().get_fields() {
        if field.is_group() || field.get_basic_info().repetition() == parquet::basic::Repetition::REPEATED {
            return Err(not_readable(
                path,
                format!(
                    "column `{}` is nested (a list, map or struct); kairos reads flat columns only: select or flatten the columns before exporting",
                    field.name()
                ),
            ));
        }
    }
    let mut names = Vec::new();
    let mut kinds = Vec::new();
    for i in 0..schema.num_columns() {
        let col = schema.column(i);
        kinds.push(kind_of(path, &col)?);
        names.push(col.name().to_owned());
    }
    let mut text = CsvText {
        rows: reader.into_iter(),
        names,
        kinds,
        out: Vec::with_capacity(1 << 16),
        pos: 0,
        row: 0,
        done: false,
    };
    let names = std::mem::take(&mut text.names);
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            text.out.push(b',');
        }
        push_cell(&mut text.out, n.as_bytes());
    }
    text.out.push(b'\n');
    text.names = names;
    Ok(text)
}

/// The column's kind, or an error for a type the record reader cannot convert (it would panic).
fn kind_of(path: &Path, col: &ColumnDescPtr) -> Result<Kind, InputError> {
    use ConvertedType as C;
    let converted = col.converted_type();
    let logical = col.logical_type_ref();
    let utc = match logical {
        Some(LogicalType::Timestamp(t)) => t.is_adjusted_to_u_t_c,
        _ => true,
    };
    let ok = match col.physical_type() {
        PhysicalType::BOOLEAN | PhysicalType::INT96 | PhysicalType::FLOAT | PhysicalType::DOUBLE => true,
        PhysicalType::INT32 => matches!(
            converted,
            C::NONE
                | C::INT_8
                | C::INT_16
                | C::INT_32
                | C::UINT_8
                | C::UINT_16
                | C::UINT_32
                | C::DATE
                | C::TIME_MILLIS
                | C::DECIMAL
        ),
        PhysicalType::INT64 => matches!(
            converted,
            C::NONE | C::INT_64 | C::UINT_64 | C::TIME_MICROS | C::TIMESTAMP_MILLIS | C::TIMESTAMP_MICROS | C::DECIMAL
        ),
        PhysicalType::BYTE_ARRAY => matches!(converted, C::NONE | C::UTF8 | C::ENUM | C::JSON | C::BSON | C::DECIMAL),
        PhysicalType::FIXED_LEN_BYTE_ARRAY => matches!(converted, C::NONE | C::DECIMAL),
    };
    if !ok {
        return Err(not_readable(
            path,
            format!(
                "column `{}` has type {} ({converted}), which kairos cannot read; cast it to a string or number before exporting",
                col.name(),
                col.physical_type()
            ),
        ));
    }
    Ok(match (col.physical_type(), logical) {
        (PhysicalType::INT64, Some(LogicalType::Timestamp(t))) if t.unit == TimeUnit::NANOS => {
            Kind::TimestampNanos { utc }
        }
        (PhysicalType::INT64, Some(LogicalType::Timestamp(_))) => Kind::Timestamp { utc },
        _ => Kind::Plain,
    })
}

/// Append `value` as one CSV cell, quoted when it must be.
fn push_cell(out: &mut Vec<u8>, value: &[u8]) {
    if value.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for &b in value {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(value);
    }
}

/// A timestamp as ISO 8601 text: whole seconds unless there is a fraction, `Z` when in UTC.
fn timestamp_text(secs: i64, nanos: u32, utc: bool) -> Option<String> {
    let t = chrono::DateTime::from_timestamp(secs, nanos)?.naive_utc();
    let mut s = t.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
    if utc {
        s.push('Z');
    }
    Some(s)
}

fn split(v: i64, per_sec: i64) -> (i64, u32) {
    (v.div_euclid(per_sec), (v.rem_euclid(per_sec) * (1_000_000_000 / per_sec)) as u32)
}

/// An unscaled big-endian two's complement integer with `scale` decimal places.
fn decimal_text(bytes: &[u8], scale: i32) -> Option<String> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let mut v: i128 = if bytes[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in bytes {
        v = (v << 8) | i128::from(b);
    }
    let digits = v.unsigned_abs().to_string();
    let sign = if v < 0 { "-" } else { "" };
    let scale = usize::try_from(scale).ok()?;
    if scale == 0 {
        return Some(format!("{sign}{digits}"));
    }
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    Some(format!("{sign}{int}.{frac}"))
}

/// One value as the text a CSV export would hold; Err: what is wrong with it.
fn cell(out: &mut Vec<u8>, field: &Field, kind: Kind) -> Result<(), String> {
    let mut text = |s: &str| push_cell(out, s.as_bytes());
    let bad_time = || "the timestamp is out of range".to_owned();
    match (field, kind) {
        (Field::Null, _) => {}
        (Field::Bool(b), _) => text(if *b { "true" } else { "false" }),
        (Field::Byte(v), _) => text(&v.to_string()),
        (Field::Short(v), _) => text(&v.to_string()),
        (Field::Int(v), _) => text(&v.to_string()),
        (Field::Long(v), Kind::TimestampNanos { utc }) => {
            let (s, n) = split(*v, 1_000_000_000);
            text(&timestamp_text(s, n, utc).ok_or_else(bad_time)?)
        }
        (Field::Long(v), _) => text(&v.to_string()),
        (Field::UByte(v), _) => text(&v.to_string()),
        (Field::UShort(v), _) => text(&v.to_string()),
        (Field::UInt(v), _) => text(&v.to_string()),
        (Field::ULong(v), _) => text(&v.to_string()),
        (Field::Float16(v), _) => text(&v.to_f32().to_string()),
        (Field::Float(v), _) => text(&v.to_string()),
        (Field::Double(v), _) => text(&v.to_string()),
        (Field::Decimal(d), _) => {
            text(&decimal_text(d.data(), d.scale()).ok_or("the decimal is too wide (over 38 digits)")?)
        }
        (Field::Str(s), _) => text(s),
        // Raw bytes as they are: the CSV reader says so if they are not UTF-8.
        (Field::Bytes(b), _) => push_cell(out, b.data()),
        (Field::Date(d), _) => {
            let date = chrono::NaiveDate::from_num_days_from_ce_opt(d.saturating_add(719_163))
                .ok_or("the date is out of range")?;
            text(&date.format("%Y-%m-%d").to_string())
        }
        (Field::TimeMillis(v), _) => text(
            &chrono::NaiveTime::from_num_seconds_from_midnight_opt((v / 1000) as u32, ((v % 1000) * 1_000_000) as u32)
                .map_or_else(String::new, |t| t.format("%H:%M:%S%.f").to_string()),
        ),
        (Field::TimeMicros(v), _) => text(
            &chrono::NaiveTime::from_num_seconds_from_midnight_opt(
                (v / 1_000_000) as u32,
                ((v % 1_000_000) * 1000) as u32,
            )
            .map_or_else(String::new, |t| t.format("%H:%M:%S%.f").to_string()),
        ),
        (Field::TimestampMillis(v), k) => {
            let (s, n) = split(*v, 1000);
            text(&timestamp_text(s, n, !matches!(k, Kind::Timestamp { utc: false })).ok_or_else(bad_time)?)
        }
        (Field::TimestampMicros(v), k) => {
            let (s, n) = split(*v, 1_000_000);
            text(&timestamp_text(s, n, !matches!(k, Kind::Timestamp { utc: false })).ok_or_else(bad_time)?)
        }
        (Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_), _) => {
            return Err("nested values (lists, maps, structs) cannot be read".to_owned())
        }
    }
    Ok(())
}

impl CsvText {
    /// Write one row as a CSV record.
    fn write_row(&mut self, row: &Row) -> io::Result<()> {
        for (i, (_, field)) in row.get_column_iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let kind = self.kinds.get(i).copied().unwrap_or(Kind::Plain);
            cell(&mut self.out, field, kind).map_err(|what| {
                io::Error::other(format!(
                    "row {}: column {}: {what}",
                    self.row + 1,
                    super::ticked(self.names.get(i).map_or("?", String::as_str))
                ))
            })?;
        }
        self.out.push(b'\n');
        self.row += 1;
        Ok(())
    }

    /// Refill `out` with the next rows.
    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.pos = 0;
        while self.out.len() < 1 << 16 {
            match self.rows.next() {
                None => {
                    self.done = true;
                    break;
                }
                Some(Ok(row)) => self.write_row(&row)?,
                Some(Err(e)) => return Err(io::Error::other(format!("row {}: {e}", self.row + 1))),
            }
        }
        Ok(())
    }

    /// The lines of text in `out` (a row spans more than one when a value holds a newline).
    fn lines_in_out(&self) -> usize {
        memchr::memchr_iter(b'\n', &self.out).count()
    }
}

impl Read for CsvText {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The 1-based row of a Parquet file whose CSV text starts on `line` or spans it (the header is
/// line 1; a value with newlines makes its row span several lines).
fn row_of_line(path: &Path, line: u64) -> Option<u64> {
    let mut text = open(path).ok()?;
    // Line the next row starts on.
    let mut at = 2u64;
    text.out.clear();
    loop {
        let Some(Ok(row)) = text.rows.next() else { return None };
        text.out.clear();
        text.write_row(&row).ok()?;
        let spans = text.lines_in_out() as u64;
        if line < at + spans {
            return Some(text.row);
        }
        at += spans;
    }
}

/// An error about a Parquet file, with its lines (of the CSV text) turned into rows: `line` is
/// then the row number plus one, as the header counts as line 1 (see `located_at`).
pub fn locate(e: InputError) -> InputError {
    let fix = |path: &Path, line: u64| {
        if line <= 1 || !is_parquet(path) {
            return line;
        }
        row_of_line(path, line).map_or(line, |r| r + 1)
    };
    match e {
        InputError::BadTimestamp { path, line, column, value, expected } => {
            InputError::BadTimestamp { line: fix(&path, line), path, column, value, expected }
        }
        InputError::BadNumber { path, line, column, value } => {
            InputError::BadNumber { line: fix(&path, line), path, column, value }
        }
        InputError::Csv { path, line, message } => InputError::Csv { line: fix(&path, line), path, message },
        InputError::EmptyCustomerId { path, line } => InputError::EmptyCustomerId { line: fix(&path, line), path },
        InputError::DuplicateCustomer { path, line, first, id } => {
            InputError::DuplicateCustomer { line: fix(&path, line), first: fix(&path, first), path, id }
        }
        other => other,
    }
}

/// Where a problem in a Parquet file is: `row N` (its `line` less the header), in the message.
pub fn located_at(path: &Path, line: u64, message: String) -> crate::diag::Diagnostic {
    if line <= 1 {
        return crate::diag::Diagnostic::error(path, message);
    }
    crate::diag::Diagnostic::error(path, format!("row {}: {message}", line - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_the_text_a_csv_export_holds() {
        assert_eq!(decimal_text(&[0x04, 0xd2], 2).unwrap(), "12.34");
        assert_eq!(decimal_text(&[0xff, 0xfe], 3).unwrap(), "-0.002");
        assert_eq!(decimal_text(&[0x05], 0).unwrap(), "5");
        assert_eq!(timestamp_text(0, 0, true).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp_text(1_700_000_000, 5_000_000, false).unwrap(), "2023-11-14T22:13:20.005");
        assert_eq!(split(-1, 1000), (-1, 999_000_000));
        let mut out = Vec::new();
        push_cell(&mut out, b"a,\"b\"\nc");
        assert_eq!(out, b"\"a,\"\"b\"\"\nc\"");
        let mut out = Vec::new();
        cell(&mut out, &Field::Double(12.5), Kind::Plain).unwrap();
        cell(&mut out, &Field::Float(0.1), Kind::Plain).unwrap();
        cell(&mut out, &Field::Date(19_000), Kind::Plain).unwrap();
        cell(&mut out, &Field::Long(1_500_000_000), Kind::TimestampNanos { utc: true }).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "12.50.12022-01-081970-01-01T00:00:01.500Z");
        assert!(is_parquet(Path::new("a/B.PARQUET")) && !is_parquet(Path::new("b.csv")));
    }
}
