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
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, DataType, FixedLenByteArray, Int96};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnDescPtr;

use super::InputError;

/// Is this input a Parquet file (by its extension, in any case)?
pub fn is_parquet(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// How one column's values become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fmt {
    Bool,
    Signed,
    /// INT32/INT64 holding an unsigned integer.
    Unsigned,
    /// Days since the epoch.
    Date,
    /// Time of day in units of `1/per_sec` seconds.
    Time {
        per_sec: i64,
    },
    /// Instant in units of `1/per_sec` seconds since the epoch; `utc`: adjusted to UTC.
    Timestamp {
        per_sec: i64,
        utc: bool,
    },
    /// INT96 timestamps (Spark's legacy format): UTC nanoseconds.
    Int96,
    Decimal {
        scale: i32,
    },
    Float,
    Double,
    Float16,
    /// 16 bytes, written `8-4-4-4-12` in lower-case hex.
    Uuid,
    /// 12 bytes: months, days and milliseconds (little-endian), written as an ISO 8601
    /// duration.
    Interval,
    /// Bytes as they are (strings, JSON, plain binary).
    Text,
}

/// A column's values of one row group, and its definition levels (nulls) if it has any.
enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    I96(Vec<Int96>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

struct Column {
    values: Values,
    defs: Vec<i16>,
    max_def: i16,
    /// The next value (nulls have none).
    next: usize,
}

/// The decoded row group being written.
struct Group {
    rows: usize,
    next_row: usize,
    cols: Vec<Column>,
}

/// A Parquet file as CSV text, produced as it is read, one row group at a time.
pub struct CsvText {
    reader: SerializedFileReader<File>,
    names: Vec<String>,
    fmts: Vec<Fmt>,
    max_defs: Vec<i16>,
    next_group: usize,
    group: Option<Group>,
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
    let mut text = CsvText {
        reader,
        names: Vec::new(),
        fmts: Vec::new(),
        max_defs: Vec::new(),
        next_group: 0,
        group: None,
        out: Vec::with_capacity(1 << 16),
        pos: 0,
        row: 0,
        done: false,
    };
    for i in 0..schema.num_columns() {
        let col = schema.column(i);
        if i > 0 {
            text.out.push(b',');
        }
        push_cell(&mut text.out, col.name().as_bytes());
        text.fmts.push(fmt_of(&col).ok_or_else(|| {
            not_readable(
                path,
                format!(
                    "column `{}` has type {} ({}), which kairos cannot read; cast it to a string or number before exporting",
                    col.name(),
                    col.physical_type(),
                    col.logical_type_ref().map_or_else(|| col.converted_type().to_string(), |l| format!("{l:?}"))
                ),
            )
        })?);
        text.max_defs.push(col.max_def_level());
        text.names.push(col.name().to_owned());
    }
    text.out.push(b'\n');
    Ok(text)
}

/// Does the Parquet file at `path` hold column `name` as a typed date or timestamp? Its text
/// is then kairos's own ISO 8601, not the layout `--date-format` describes. (False for a file
/// that cannot be read: opening it says why.)
pub fn typed_time_column(path: &Path, name: &str) -> bool {
    let Ok(file) = File::open(path) else { return false };
    let Ok(reader) = SerializedFileReader::new(file) else { return false };
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    (0..schema.num_columns())
        .map(|i| schema.column(i))
        // The header reader trims names (` timestamp` is `timestamp`): so does this.
        .any(|col| {
            col.name().trim() == name && matches!(fmt_of(&col), Some(Fmt::Date | Fmt::Timestamp { .. } | Fmt::Int96))
        })
}

/// How a column's values become text; None for a type kairos does not read.
fn fmt_of(col: &ColumnDescPtr) -> Option<Fmt> {
    use ConvertedType as C;
    let logical = col.logical_type_ref();
    let per_sec = |u: &TimeUnit| match u {
        TimeUnit::MILLIS => 1_000,
        TimeUnit::MICROS => 1_000_000,
        TimeUnit::NANOS => 1_000_000_000,
    };
    let unsigned = matches!(logical, Some(LogicalType::Integer(t)) if !t.is_signed);
    Some(match col.physical_type() {
        PhysicalType::BOOLEAN => Fmt::Bool,
        PhysicalType::INT96 => Fmt::Int96,
        PhysicalType::FLOAT => Fmt::Float,
        PhysicalType::DOUBLE => Fmt::Double,
        PhysicalType::INT32 | PhysicalType::INT64 => match (logical, col.converted_type()) {
            (Some(LogicalType::Timestamp(t)), _) => {
                Fmt::Timestamp { per_sec: per_sec(&t.unit), utc: t.is_adjusted_to_u_t_c }
            }
            (Some(LogicalType::Time(t)), _) => Fmt::Time { per_sec: per_sec(&t.unit) },
            // A column of nulls only (`null` type): every cell empty, as in a CSV export.
            (Some(LogicalType::Unknown), _) => Fmt::Signed,
            (_, C::TIMESTAMP_MILLIS) => Fmt::Timestamp { per_sec: 1_000, utc: true },
            (_, C::TIMESTAMP_MICROS) => Fmt::Timestamp { per_sec: 1_000_000, utc: true },
            (_, C::TIME_MILLIS) => Fmt::Time { per_sec: 1_000 },
            (_, C::TIME_MICROS) => Fmt::Time { per_sec: 1_000_000 },
            (_, C::DATE) => Fmt::Date,
            (_, C::DECIMAL) => Fmt::Decimal { scale: col.type_scale() },
            (_, C::UINT_8 | C::UINT_16 | C::UINT_32 | C::UINT_64) => Fmt::Unsigned,
            _ if unsigned => Fmt::Unsigned,
            (None | Some(LogicalType::Integer(_)), C::NONE | C::INT_8 | C::INT_16 | C::INT_32 | C::INT_64) => {
                Fmt::Signed
            }
            _ => return None,
        },
        PhysicalType::BYTE_ARRAY => match col.converted_type() {
            C::DECIMAL => Fmt::Decimal { scale: col.type_scale() },
            C::NONE | C::UTF8 | C::ENUM | C::JSON | C::BSON => Fmt::Text,
            _ => return None,
        },
        PhysicalType::FIXED_LEN_BYTE_ARRAY => match (logical, col.converted_type()) {
            (_, C::DECIMAL) => Fmt::Decimal { scale: col.type_scale() },
            (Some(LogicalType::Float16), _) if col.type_length() == 2 => Fmt::Float16,
            (Some(LogicalType::Uuid), _) if col.type_length() == 16 => Fmt::Uuid,
            (_, C::INTERVAL) if col.type_length() == 12 => Fmt::Interval,
            (None, C::NONE) => Fmt::Text,
            _ => return None,
        },
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

/// An integer with `scale` decimal places, exactly.
fn scaled_text(v: i128, scale: i32) -> Option<String> {
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

/// An unscaled big-endian two's complement integer with `scale` decimal places.
fn decimal_text(mut bytes: &[u8], scale: i32) -> Option<String> {
    // A wide decimal (Decimal256: 32 bytes) of a value that fits 16: its leading bytes only
    // repeat the sign.
    while bytes.len() > 16 && matches!((bytes[0], bytes[1] & 0x80), (0x00, 0) | (0xff, 0x80)) {
        bytes = &bytes[1..];
    }
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let mut v: i128 = if bytes[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in bytes {
        v = (v << 8) | i128::from(b);
    }
    scaled_text(v, scale)
}

/// A UUID's 16 bytes as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
fn uuid_text(b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// An INTERVAL's months, days and milliseconds as an ISO 8601 duration (`P1M2DT0.003S`).
fn interval_text(b: &[u8]) -> String {
    let part = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let (months, days, ms) = (part(0), part(4), part(8));
    let mut out = format!("P{months}M{days}D");
    if ms > 0 {
        let (secs, frac) = (ms / 1000, ms % 1000);
        out.push_str(&if frac == 0 { format!("T{secs}S") } else { format!("T{secs}.{frac:03}S") });
    }
    out
}

/// IEEE half precision bits as a float.
fn f16_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f32::from(bits & 0x3ff);
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f32.powi(exp - 15),
    }
}

fn time_text(v: i64, per_sec: i64) -> Option<String> {
    let (s, n) = split(v, per_sec);
    let t = chrono::NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(s).ok()?, n)?;
    Some(t.format("%H:%M:%S%.f").to_string())
}

/// An integer column's value as text.
/// (Err says what is wrong, with the stored value: an `infinity` timestamp is i64::MAX.)
fn int_text(v: i64, fmt: Fmt, unsigned: u64) -> Result<String, String> {
    let unit = |per_sec: i64| match per_sec {
        1_000 => "milliseconds",
        1_000_000 => "microseconds",
        _ => "nanoseconds",
    };
    match fmt {
        Fmt::Unsigned => Ok(unsigned.to_string()),
        Fmt::Date => i32::try_from(v)
            .ok()
            .and_then(|days| chrono::NaiveDate::from_num_days_from_ce_opt(days.saturating_add(719_163)))
            .map(|d| d.format("%Y-%m-%d").to_string())
            .ok_or_else(|| format!("the date is out of range ({v} days since 1970-01-01)")),
        Fmt::Time { per_sec } => time_text(v, per_sec)
            .ok_or_else(|| format!("the time of day is out of range ({v} {} since midnight)", unit(per_sec))),
        Fmt::Timestamp { per_sec, utc } => {
            let (s, n) = split(v, per_sec);
            timestamp_text(s, n, utc).ok_or_else(|| {
                format!(
                    "the timestamp is out of range ({v} {} since 1970-01-01, an infinity or a sentinel?)",
                    unit(per_sec)
                )
            })
        }
        Fmt::Decimal { scale } => {
            scaled_text(i128::from(v), scale).ok_or_else(|| "the decimal has a negative scale".to_owned())
        }
        _ => Ok(v.to_string()),
    }
}

/// Write one value of `col` as a CSV cell; Err: what is wrong with it.
fn cell(out: &mut Vec<u8>, col: &mut Column, row: usize, fmt: Fmt) -> Result<(), String> {
    if col.max_def > 0 && col.defs.get(row).is_none_or(|&d| d < col.max_def) {
        return Ok(());
    }
    let i = col.next;
    col.next += 1;
    let missing = || "the column has fewer values than rows".to_owned();
    let text = match &col.values {
        Values::Bool(v) => (if *v.get(i).ok_or_else(missing)? { "true" } else { "false" }).to_owned(),
        Values::I32(v) => {
            let x = *v.get(i).ok_or_else(missing)?;
            int_text(i64::from(x), fmt, u64::from(x as u32))?
        }
        Values::I64(v) => {
            let x = *v.get(i).ok_or_else(missing)?;
            int_text(x, fmt, x as u64)?
        }
        Values::I96(v) => {
            let (s, n) = split(v.get(i).ok_or_else(missing)?.to_nanos(), 1_000_000_000);
            timestamp_text(s, n, true)
                .ok_or_else(|| format!("the timestamp is out of range ({s} seconds since 1970-01-01)"))?
        }
        Values::F32(v) => v.get(i).ok_or_else(missing)?.to_string(),
        Values::F64(v) => v.get(i).ok_or_else(missing)?.to_string(),
        Values::Bytes(v) => {
            let b = v.get(i).ok_or_else(missing)?.data();
            if let Fmt::Decimal { scale } = fmt {
                decimal_text(b, scale)
                    .ok_or_else(|| "the decimal is too large (past 38 digits, which kairos reads)".to_owned())?
            } else {
                // Raw bytes as they are: the CSV reader says so if they are not UTF-8.
                push_cell(out, b);
                return Ok(());
            }
        }
        Values::Fixed(v) => {
            let b = v.get(i).ok_or_else(missing)?.data();
            match fmt {
                Fmt::Decimal { scale } => decimal_text(b, scale)
                    .ok_or_else(|| "the decimal is too large (past 38 digits, which kairos reads)".to_owned())?,
                Fmt::Float16 if b.len() == 2 => f16_to_f32(u16::from_le_bytes([b[0], b[1]])).to_string(),
                Fmt::Uuid if b.len() == 16 => uuid_text(b),
                Fmt::Interval if b.len() == 12 => interval_text(b),
                _ => {
                    push_cell(out, b);
                    return Ok(());
                }
            }
        }
    };
    push_cell(out, text.as_bytes());
    Ok(())
}

/// Every value and definition level of one column chunk.
fn read_all<T: DataType>(
    mut r: ColumnReaderImpl<T>,
    rows: usize,
    defs: &mut Vec<i16>,
) -> parquet::errors::Result<Vec<T::T>> {
    let mut values = Vec::with_capacity(rows);
    let mut got = 0;
    while got < rows {
        let (n, _, _) = r.read_records(rows - got, Some(defs), None, &mut values)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(values)
}

impl CsvText {
    /// Decode the next row group; false when there is none.
    fn next_group(&mut self) -> io::Result<bool> {
        if self.next_group >= self.reader.num_row_groups() {
            return Ok(false);
        }
        let err =
            |e: parquet::errors::ParquetError| io::Error::other(format!("row group {}: {e}", self.next_group + 1));
        let rg = self.reader.get_row_group(self.next_group).map_err(err)?;
        let rows = usize::try_from(rg.metadata().num_rows()).unwrap_or(0);
        let mut cols = Vec::with_capacity(self.fmts.len());
        for (i, &max_def) in self.max_defs.iter().enumerate() {
            let mut defs = Vec::new();
            let values = match rg.get_column_reader(i).map_err(err)? {
                ColumnReader::BoolColumnReader(r) => Values::Bool(read_all(r, rows, &mut defs).map_err(err)?),
                ColumnReader::Int32ColumnReader(r) => Values::I32(read_all(r, rows, &mut defs).map_err(err)?),
                ColumnReader::Int64ColumnReader(r) => Values::I64(read_all(r, rows, &mut defs).map_err(err)?),
                ColumnReader::Int96ColumnReader(r) => Values::I96(read_all(r, rows, &mut defs).map_err(err)?),
                ColumnReader::FloatColumnReader(r) => Values::F32(read_all(r, rows, &mut defs).map_err(err)?),
                ColumnReader::DoubleColumnReader(r) => Values::F64(read_all(r, rows, &mut defs).map_err(err)?),
                ColumnReader::ByteArrayColumnReader(r) => Values::Bytes(read_all(r, rows, &mut defs).map_err(err)?),
                ColumnReader::FixedLenByteArrayColumnReader(r) => {
                    Values::Fixed(read_all(r, rows, &mut defs).map_err(err)?)
                }
            };
            cols.push(Column { values, defs, max_def, next: 0 });
        }
        self.next_group += 1;
        self.group = Some(Group { rows, next_row: 0, cols });
        Ok(true)
    }

    /// Append the next row to `out` as a CSV record; false at the end of the file.
    fn write_next_row(&mut self) -> io::Result<bool> {
        loop {
            match &self.group {
                Some(g) if g.next_row < g.rows => break,
                _ => {
                    if !self.next_group()? {
                        self.group = None;
                        return Ok(false);
                    }
                }
            }
        }
        let Some(g) = self.group.as_mut() else { return Ok(false) };
        let row = g.next_row;
        g.next_row += 1;
        for (i, col) in g.cols.iter_mut().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            cell(&mut self.out, col, row, self.fmts[i]).map_err(|what| {
                io::Error::other(format!("row {}: column {}: {what}", self.row + 1, super::ticked(&self.names[i])))
            })?;
        }
        self.out.push(b'\n');
        self.row += 1;
        Ok(true)
    }

    /// Refill `out` with the next rows.
    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.pos = 0;
        while self.out.len() < 1 << 16 {
            if !self.write_next_row()? {
                self.done = true;
                break;
            }
        }
        Ok(())
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
    loop {
        text.out.clear();
        if !text.write_next_row().ok()? {
            return None;
        }
        // Lines as the CSV reader counts them: a lone `\r` in a value ends one too.
        let spans = super::table::line_ends(&text.out) as u64;
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
        InputError::EmptyCustomerId { path, line, column } => {
            InputError::EmptyCustomerId { line: fix(&path, line), path, column }
        }
        InputError::DuplicateItem { path, line, first, id, kind } => {
            InputError::DuplicateItem { line: fix(&path, line), first: fix(&path, first), path, id, kind }
        }
        InputError::DuplicateCustomer { path, line, first, id } => {
            InputError::DuplicateCustomer { line: fix(&path, line), first: fix(&path, first), path, id }
        }
        InputError::NotSorted { path, line, column, id, previous, previous_line } => InputError::NotSorted {
            line: fix(&path, line),
            previous_line: fix(&path, previous_line),
            path,
            column,
            id,
            previous,
        },
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
        // Decimal256 of values a 128-bit integer holds; past it, none.
        let wide = |v: i128| {
            let mut b = vec![if v < 0 { 0xff } else { 0 }; 16];
            b.extend(v.to_be_bytes());
            b
        };
        assert_eq!(decimal_text(&wide(1234), 2).unwrap(), "12.34");
        assert_eq!(decimal_text(&wide(-2), 3).unwrap(), "-0.002");
        assert_eq!(decimal_text(&wide(i128::MIN), 0).unwrap(), i128::MIN.to_string());
        let mut past = vec![0u8; 32];
        past[15] = 1;
        assert_eq!(decimal_text(&past, 0), None);
        assert_eq!(scaled_text(-1250, 2).unwrap(), "-12.50");
        assert_eq!(timestamp_text(0, 0, true).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp_text(1_700_000_000, 5_000_000, false).unwrap(), "2023-11-14T22:13:20.005");
        assert_eq!(split(-1, 1000), (-1, 999_000_000));
        assert_eq!(int_text(19_000, Fmt::Date, 0).unwrap(), "2022-01-08");
        assert_eq!(
            int_text(1_500_000_000, Fmt::Timestamp { per_sec: 1_000_000_000, utc: true }, 0).unwrap(),
            "1970-01-01T00:00:01.500Z"
        );
        assert_eq!(int_text(3_723_000, Fmt::Time { per_sec: 1000 }, 0).unwrap(), "01:02:03");
        assert_eq!(int_text(-1, Fmt::Unsigned, u64::from(-1i32 as u32)).unwrap(), "4294967295");
        // DuckDB's 'infinity'::TIMESTAMP is i64::MAX microseconds: the error shows it.
        let inf = int_text(i64::MAX, Fmt::Timestamp { per_sec: 1_000_000, utc: false }, 0).unwrap_err();
        assert_eq!(
            inf,
            "the timestamp is out of range (9223372036854775807 microseconds since 1970-01-01, an infinity or a sentinel?)"
        );
        assert!(int_text(i64::from(i32::MAX), Fmt::Date, 0).unwrap_err().contains("2147483647 days"));
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        let u: Vec<u8> = (0u8..16).map(|i| i * 17).collect();
        assert_eq!(uuid_text(&u), "00112233-4455-6677-8899-aabbccddeeff");
        let iv = |m: u32, d: u32, ms: u32| [m.to_le_bytes(), d.to_le_bytes(), ms.to_le_bytes()].concat();
        assert_eq!(interval_text(&iv(1, 2, 3)), "P1M2DT0.003S");
        assert_eq!(interval_text(&iv(0, 30, 0)), "P0M30D");
        assert_eq!(interval_text(&iv(0, 0, 90_000)), "P0M0DT90S");
        assert_eq!(f16_to_f32(0xc100), -2.5);
        let mut out = Vec::new();
        push_cell(&mut out, b"a,\"b\"\nc");
        assert_eq!(out, b"\"a,\"\"b\"\"\nc\"");
        let mut col = Column { values: Values::F64(vec![12.5, 0.1]), defs: vec![1, 0, 1], max_def: 1, next: 0 };
        let mut out = Vec::new();
        for row in 0..3 {
            cell(&mut out, &mut col, row, Fmt::Double).unwrap();
            out.push(b'|');
        }
        assert_eq!(String::from_utf8(out).unwrap(), "12.5||0.1|");
        assert!(is_parquet(Path::new("a/B.PARQUET")) && !is_parquet(Path::new("b.csv")));
    }
}
