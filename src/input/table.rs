//! One input CSV held in columns: interned strings and numbers, rows sorted per customer in
//! time order with ties broken by content, so nothing downstream depends on input row order.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::shard::Shard;
use super::time::TimeParser;

#[path = "presorted.rs"]
pub mod presorted;
use super::InputError;
pub use crate::model::{ColType, TableKind};

#[derive(Debug)]
pub enum Column {
    /// Interned text (few distinct values): symbols into `Table::strs`.
    Str(Vec<u32>),
    /// Mostly-distinct text kept as is: row `i` is `text[ends[i-1]..ends[i]]`.
    Text {
        text: String,
        ends: Ends,
    },
    Num(Vec<f64>),
}

/// Where each row's text ends in a text column: 32-bit offsets while the column holds under
/// 4 GiB of text (half the memory of the offsets of a 10M-row column), 64-bit past that.
#[derive(Debug)]
pub enum Ends {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Ends {
    #[inline]
    pub fn get(&self, i: usize) -> usize {
        match self {
            Ends::Narrow(v) => v[i] as usize,
            Ends::Wide(v) => v[i] as usize,
        }
    }
    /// Where row `i` starts.
    #[inline]
    pub fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.get(i - 1)
        }
    }
    pub fn len(&self) -> usize {
        match self {
            Ends::Narrow(v) => v.len(),
            Ends::Wide(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Add an end, widening the offsets once they pass 4 GiB.
    fn push(&mut self, end: usize) {
        if let Ends::Narrow(v) = self {
            match u32::try_from(end) {
                Ok(e) => return v.push(e),
                Err(_) => *self = Ends::Wide(v.iter().map(|&e| u64::from(e)).collect()),
            }
        }
        if let Ends::Wide(v) = self {
            v.push(end as u64);
        }
    }
    /// Change an end to one no larger than the last: it fits the offsets' width.
    fn set(&mut self, i: usize, end: usize) {
        match self {
            Ends::Narrow(v) => v[i] = u32::try_from(end).expect("an end within the column's text"),
            Ends::Wide(v) => v[i] = end as u64,
        }
    }
    fn shrink(&mut self) {
        match self {
            Ends::Narrow(v) => fit(v),
            Ends::Wide(v) => fit(v),
        }
    }
    fn truncate(&mut self, n: usize) {
        match self {
            Ends::Narrow(v) => v.truncate(n),
            Ends::Wide(v) => v.truncate(n),
        }
    }
}

/// Give back what growing a column reserved, where that is worth a copy.
fn fit<T>(v: &mut Vec<T>) {
    if v.capacity() > v.len() + v.len() / 8 + 64 {
        v.shrink_to_fit();
    }
}

/// How to read one table: which columns are required, how headers map to canonical names and
/// which columns hold numbers.
pub struct TableSpec<'a> {
    pub kind: TableKind,
    /// canonical name -> header name in the file
    pub rename: &'a FxHashMap<String, String>,
    pub numeric: &'a [String],
    pub has_time: bool,
    /// Columns compared first when two rows of a customer share a timestamp.
    pub tie_first: &'a [&'a str],
}

#[derive(Debug)]
pub struct Table {
    pub kind: TableKind,
    pub path: PathBuf,
    /// Canonical column names, excluding `customer_id` and `timestamp`.
    pub names: Vec<String>,
    pub types: Vec<ColType>,
    pub cols: Vec<Column>,
    /// Interned strings, sorted: symbol order is string order.
    pub strs: Vec<Box<str>>,
    pub customer: Vec<u32>,
    pub ts: Vec<i64>,
    pub line: Vec<u32>,
    /// Per customer (in customer-id order), the range of its rows.
    pub groups: Vec<(u32, Range<usize>)>,
    /// How long reading it took (`run --timings`).
    pub read: ReadTimes,
    /// The `type`s of the rows `--shard` left out (sorted, once each): what the whole file
    /// holds is these and the `type` column's (event-type warnings).
    pub other_types: Vec<Box<str>>,
    /// A profile's number columns and, for each, the hidden text column (past `names`) holding
    /// its cells as read (`written_at`).
    pub num_text: Vec<(usize, usize)>,
}

/// How long reading a table took, by stage (wall clock, for `run --timings`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadTimes {
    /// The whole read: opening, parsing, grouping, ordering, checks.
    pub total: std::time::Duration,
    /// Reading and parsing the rows (in parallel pieces).
    pub parse: std::time::Duration,
    /// The pieces joined, rows grouped by customer.
    pub group: std::time::Duration,
    /// Each customer's rows put in time (then content) order.
    pub order: std::time::Duration,
}

impl Table {
    /// A table with no columns and no rows: the transactions of an events-only project.
    pub fn empty(kind: TableKind) -> Table {
        Table {
            kind,
            path: PathBuf::new(),
            names: Vec::new(),
            types: Vec::new(),
            cols: Vec::new(),
            strs: Vec::new(),
            customer: Vec::new(),
            ts: Vec::new(),
            line: Vec::new(),
            groups: Vec::new(),
            read: ReadTimes::default(),
            other_types: Vec::new(),
            num_text: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.customer.len()
    }
    pub fn is_empty(&self) -> bool {
        self.customer.is_empty()
    }
    pub fn col(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    #[inline]
    pub fn sym(&self, s: u32) -> &str {
        &self.strs[s as usize]
    }
    #[inline]
    pub fn customer_id(&self, row: usize) -> &str {
        self.sym(self.customer[row])
    }
    #[inline]
    pub fn str_at(&self, col: usize, row: usize) -> &str {
        match &self.cols[col] {
            Column::Str(v) => self.sym(v[row]),
            Column::Text { text, ends } => &text[ends.start(row)..ends.get(row)],
            Column::Num(_) => "",
        }
    }
    #[inline]
    pub fn num_at(&self, col: usize, row: usize) -> f64 {
        match &self.cols[col] {
            Column::Num(v) => v[row],
            _ => f64::NAN,
        }
    }
    /// A cell as text, numbers in their shortest form (for output and explanations).
    pub fn text_at(&self, col: usize, row: usize) -> std::borrow::Cow<'_, str> {
        match &self.cols[col] {
            Column::Num(v) if v[row].is_nan() => "".into(),
            Column::Num(v) => format_num(v[row]).into(),
            _ => self.str_at(col, row).into(),
        }
    }
    /// A cell as the file holds it (trimmed), for writing it back: a profile's number as
    /// read (`007.50` stays so, as do digits past a double's), any other cell as `text_at`.
    pub fn written_at(&self, col: usize, row: usize) -> std::borrow::Cow<'_, str> {
        match self.num_text.iter().find(|&&(c, _)| c == col) {
            Some(&(_, twin)) => self.str_at(twin, row).into(),
            None => self.text_at(col, row),
        }
    }
    /// Symbols of an interned text column (None for numbers and mostly-distinct text).
    pub fn sym_col(&self, col: usize) -> Option<&[u32]> {
        match &self.cols[col] {
            Column::Str(v) => Some(v),
            _ => None,
        }
    }
    pub fn num_col(&self, col: usize) -> Option<&[f64]> {
        match &self.cols[col] {
            Column::Num(v) => Some(v),
            _ => None,
        }
    }
    /// Do rows `a` and `b` hold the same value in text column `col`?
    #[inline]
    pub fn same_text(&self, col: usize, a: usize, b: usize) -> bool {
        match &self.cols[col] {
            Column::Str(v) => v[a] == v[b],
            // The bytes compared as they lie (each row's text is whole UTF-8 by construction).
            Column::Text { text, ends } => {
                let (a, b) = (ends.start(a)..ends.get(a), ends.start(b)..ends.get(b));
                a.len() == b.len() && text.as_bytes()[a] == text.as_bytes()[b]
            }
            Column::Num(_) => true,
        }
    }
    /// Is row `row`'s value in column `col` empty?
    #[inline]
    pub fn is_empty_at(&self, col: usize, row: usize) -> bool {
        match &self.cols[col] {
            Column::Text { ends, .. } => ends.get(row) == ends.start(row),
            _ => self.str_at(col, row).is_empty(),
        }
    }
    /// The symbol of `s` in this table, if any row holds it.
    pub fn lookup(&self, s: &str) -> Option<u32> {
        self.strs.binary_search_by(|x| x.as_ref().cmp(s)).ok().map(|i| i as u32)
    }
}

pub fn format_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, InputError> {
    if path == Path::new("-") {
        return Ok(Box::new(io::stdin()));
    }
    if super::parquet::is_parquet(path) {
        return Ok(Box::new(super::parquet::open(path)?));
    }
    let folder = || InputError::Folder { path: path.to_path_buf() };
    match File::open(path) {
        // A folder opens on Unix and fails only when read, with a bare "Is a directory".
        Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => Err(folder()),
        Ok(f) => Ok(Box::new(BufReader::with_capacity(1 << 20, f))),
        Err(_) if path.is_dir() => Err(folder()),
        Err(source) => Err(InputError::Open { path: path.to_path_buf(), source }),
    }
}

/// Append up to `chunk` more bytes of the file to `buf`; `eof` once nothing more comes.
fn fill(path: &Path, reader: &mut dyn Read, buf: &mut Vec<u8>, eof: &mut bool, chunk: usize) -> Result<(), InputError> {
    // Small files stay small: the buffer grows with what is read, never zero-filled ahead.
    let n = reader
        .take(chunk as u64)
        .read_to_end(buf)
        .map_err(|source| InputError::Open { path: path.to_path_buf(), source })?;
    if n == 0 {
        *eof = true;
    }
    Ok(())
}

/// The end of the whole lines in `buf`: all of it at the end of the file, else just after its
/// last newline (a record can end nowhere else, except at the end of the file).
fn whole_lines(buf: &[u8], eof: bool) -> usize {
    if eof {
        buf.len()
    } else {
        // A `\r` ends a line too: files from Excel for Mac end their lines with it alone, and
        // without it such a file would be one line, read whole before any of it is parsed. A
        // `\r` that ends the buffer may be the first half of a `\r\n`: the lines end before
        // it, so a `\r\n` is never split (which `line_ends` relies on).
        let end = if buf.last() == Some(&b'\r') { buf.len() - 1 } else { buf.len() };
        memchr::memrchr2(b'\n', b'\r', &buf[..end]).map_or(0, |i| i + 1)
    }
}

/// The lines `bytes` ends: each `\n`, and each `\r` not followed by a `\n` (the line end of
/// files that end lines with `\r` alone), a `\r` at the very end counting as one. Lines are
/// counted the same whatever the line ends, so every error names the line an editor shows.
/// (Blocks and pieces never split a `\r\n`: `whole_lines`, `cut_points`.)
pub(super) fn line_ends(bytes: &[u8]) -> usize {
    let newlines = memchr::memchr_iter(b'\n', bytes).count();
    newlines + memchr::memchr_iter(b'\r', bytes).filter(|&i| bytes.get(i + 1) != Some(&b'\n')).count()
}

/// Is the byte at `i` a `\r` that ends a line by itself (not the start of a `\r\n`)?
#[inline]
fn lone_cr(bytes: &[u8], i: usize) -> bool {
    bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n')
}

/// The header row: the file's first record.
struct Header {
    /// Header cells, trimmed (and without a byte-order mark).
    raw: Vec<String>,
    /// The line it starts on.
    line: u64,
    /// The offset just after it, and the line there.
    end: usize,
    end_line: u64,
}

/// Read the first record of the file into `buf`, reading `chunk` bytes at a time until it is
/// whole. `None` for a file without one (empty, or blank lines only).
fn read_header(
    path: &Path,
    reader: &mut dyn Read,
    buf: &mut Vec<u8>,
    eof: &mut bool,
    chunk: usize,
) -> Result<Option<Header>, InputError> {
    loop {
        let lines = whole_lines(buf, *eof);
        // The first read of a file drops a byte-order mark, as the csv crate does.
        let mut recs = Records::new(&buf[..lines], 1, *eof, true);
        let utf16 = |why: &str| {
            InputError::Csv {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "this file is UTF-16 ({why}), and kairos reads UTF-8: convert it first, e.g. `iconv -f UTF-16 -t UTF-8 {} > utf8.csv`",
                path.display()
            ),
        }
        };
        if buf.starts_with(&[0xFF, 0xFE]) || buf.starts_with(&[0xFE, 0xFF]) {
            return Err(utf16("it starts with a UTF-16 byte-order mark"));
        }
        match recs.next() {
            Next::Record => {
                if buf[..recs.pos].contains(&0) {
                    return Err(utf16("its header holds NUL bytes"));
                }
                if let Some(i) = (0..recs.len).find(|&i| std::str::from_utf8(recs.field(i)).is_err()) {
                    return Err(InputError::Csv {
                        path: path.to_path_buf(),
                        line: recs.line,
                        message: format!(
                            "the header's column {} ({}) is not valid UTF-8: kairos reads UTF-8 files (convert it, e.g. with `iconv -f LATIN1 -t UTF-8`)",
                            i + 1,
                            super::quoted(&String::from_utf8_lossy(recs.field(i)))
                        ),
                    });
                }
                let raw = (0..recs.len)
                    .map(|i| String::from_utf8_lossy(recs.field(i)).trim().trim_start_matches('\u{feff}').to_owned())
                    .collect();
                return Ok(Some(Header { raw, line: recs.line, end: recs.pos, end_line: recs.core.line() }));
            }
            Next::End if *eof => return Ok(None),
            Next::OpenQuote => return Err(never_closed(path, recs.line)),
            Next::Unterminated if buf.len() > 8 * BLOCK => return Err(never_closed(path, recs.line)),
            _ if buf.len() > MAX_LINE => return Err(no_line_end(path, recs.line)),
            _ => fill(path, reader, buf, eof, chunk)?,
        }
    }
}

/// The longest line read looking for its end: past it, the file is no CSV (a device such as
/// `/dev/zero`, a binary file) and reading on would only fill memory.
const MAX_LINE: usize = 256 << 20;

fn no_line_end(path: &Path, line: u64) -> InputError {
    InputError::Csv {
        path: path.to_path_buf(),
        line,
        message: format!("no line end in {} MiB: is this a CSV file?", MAX_LINE >> 20),
    }
}

fn never_closed(path: &Path, line: u64) -> InputError {
    InputError::Csv { path: path.to_path_buf(), line, message: "a quoted field is never closed".to_owned() }
}

/// A name the column mapping gives a header that is nearly `column`, a column found missing
/// (`custmer_id: CustNo` for `customer_id`), with that header.
fn misspelt_mapping(spec: &TableSpec<'_>, column: &str) -> Option<Box<(String, String)>> {
    if spec.rename.contains_key(column) {
        return None;
    }
    let mut names: Vec<&str> = spec.rename.keys().map(String::as_str).collect();
    names.sort_unstable();
    let near = crate::diag::did_you_mean(column, names)?;
    Some(Box::new((near.to_owned(), spec.rename[near].clone())))
}

/// The header row of a CSV, mapped to canonical names.
pub fn read_headers(path: &Path, spec: &TableSpec<'_>) -> Result<Vec<String>, InputError> {
    let mut reader = open(path)?;
    let (mut buf, mut eof) = (Vec::new(), false);
    let header = read_header(path, &mut reader, &mut buf, &mut eof, 64 << 10)?;
    let h = header.unwrap_or(Header { raw: Vec::new(), line: 1, end: 0, end_line: 1 });
    let names = canonical_names(path, &h, spec)?;
    // The columns every row needs, as `load` requires them: checked before anything that
    // reads the header (a dialogue's `spend` of a file that is not a transactions file).
    let mut required = vec![spec.kind.key()];
    if spec.has_time {
        required.push("timestamp");
    }
    if matches!(spec.kind, TableKind::Events | TableKind::Catalog) {
        required.push("type");
    }
    if let Some(column) = required.into_iter().find(|c| !names.iter().any(|n| n == c)) {
        return Err(InputError::MissingColumn {
            path: path.to_path_buf(),
            table: spec.kind,
            column: column.to_owned(),
            header: spec.rename.get(column).cloned(),
            found: h.raw,
            mapped: misspelt_mapping(spec, column),
        });
    }
    Ok(names)
}

/// Header cells mapped to canonical names; two columns with the same name are an error (which
/// one would count?).
fn canonical_names(path: &Path, header: &Header, spec: &TableSpec<'_>) -> Result<Vec<String>, InputError> {
    let names: Vec<String> = header
        .raw
        .iter()
        .map(|h| match spec.rename.iter().find(|(_, from)| *from == h) {
            Some((to, _)) => to.clone(),
            // A column mapped from a header the file lacks is missing, even if a header has
            // its standard name: the mapping says where it is, and that one is unnamed.
            None if spec.rename.iter().any(|(to, from)| to == h && !header.raw.contains(from)) => String::new(),
            None => h.clone(),
        })
        .collect();
    let mut seen: FxHashMap<&str, usize> = FxHashMap::default();
    for (j, name) in names.iter().enumerate() {
        // Unnamed columns (`a,b,,`) cannot be referred to, so they cannot be mixed up.
        if name.is_empty() {
            continue;
        }
        if let Some(&i) = seen.get(name.as_str()) {
            return Err(InputError::DuplicateColumn {
                path: path.to_path_buf(),
                line: header.line,
                column: name.clone(),
                columns: [(i + 1, header.raw[i].clone()), (j + 1, header.raw[j].clone())],
            });
        }
        seen.insert(name, j);
    }
    Ok(names)
}

/// Strings stored once in an arena, found again by hash. Ids are provisional until
/// `canonicalise` renumbers them in string order.
#[derive(Clone)]
struct Interner {
    table: hashbrown::HashTable<u32>,
    arena: String,
    ends: Vec<u32>,
}

/// `a == b`, for the short cells (ids, codes) interned by the million: strings of up to 16
/// bytes are compared in two overlapping word loads each, not through a `memcmp` call.
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default());
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or_default());
    match n {
        0 => true,
        1..=3 => a == b,
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

fn hash_str(s: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(s)
}

impl Interner {
    /// Room for `n` strings before the table grows.
    fn with_capacity(n: usize) -> Self {
        let mut i = Self { table: hashbrown::HashTable::with_capacity(n), arena: String::new(), ends: Vec::new() };
        i.intern("");
        i
    }
    /// Holding nothing, not even `""` (a spent piece's).
    fn empty() -> Self {
        Self { table: hashbrown::HashTable::new(), arena: String::new(), ends: Vec::new() }
    }
    fn get<'s>(arena: &'s str, ends: &[u32], id: u32) -> &'s str {
        let end = ends[id as usize] as usize;
        let start = if id == 0 { 0 } else { ends[id as usize - 1] as usize };
        &arena[start..end]
    }
    fn intern(&mut self, s: &str) -> u32 {
        self.intern_hashed(s, hash_str(s))
    }
    /// `intern`, with `h` = `hash_str(s)` already computed.
    fn intern_hashed(&mut self, s: &str, h: u64) -> u32 {
        let (arena, ends) = (&self.arena, &self.ends);
        if let Some(&id) = self.table.find(h, |&id| same(Self::get(arena, ends, id), s)) {
            return id;
        }
        let id = self.ends.len() as u32;
        self.arena.push_str(s);
        self.ends.push(self.arena.len() as u32);
        let (arena, ends) = (&self.arena, &self.ends);
        self.table.insert_unique(h, id, |&id| hash_str(Self::get(arena, ends, id)));
        id
    }
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn str(&self, id: u32) -> &str {
        Self::get(&self.arena, &self.ends, id)
    }
    fn strings(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len() as u32).map(|i| Self::get(&self.arena, &self.ends, i))
    }
}

/// How one data column is stored while reading.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Storage {
    Sym,
    Text,
    Num,
}

/// Rows parsed from one piece of the file, with piece-local symbols.
struct Piece {
    interner: Interner,
    customer: Vec<u32>,
    ts: Vec<i64>,
    line: Vec<u32>,
    cols: Vec<Column>,
    /// Read with `--presorted` only: the first row of each customer's rows (row, symbol),
    /// and the keys of the piece's last record (kept by the shard or not) and its line.
    runs: Vec<(u32, u32)>,
    first_key: Option<(String, u64)>,
    last_key: Option<(String, u64)>,
    /// The `type`s of the rows of other shards (dropped), once each.
    other_types: FxHashSet<Box<[u8]>>,
}

struct Layout<'a> {
    path: &'a Path,
    headers: &'a [String],
    /// The key column (`customer_id`, or `item_id` for the catalogue) and its position.
    key: &'static str,
    cust_idx: usize,
    ts_idx: Option<usize>,
    data_idx: Vec<usize>,
    storage: Vec<Storage>,
    format: Option<&'a str>,
    tz: chrono_tz::Tz,
    /// Rows of other shards' customers are dropped as they are read.
    shard: Shard,
    /// Per data column: summed exactly in micro-units (a transaction's `amount`, `quantity`),
    /// so its values must be below `MAX_SUMMED` in magnitude.
    summed: Vec<bool>,
    /// The events' (or catalogue's) `type` column: a row without a type matches nothing, so it
    /// is an error.
    type_idx: Option<usize>,
    /// What a row is, for errors: "event", "catalogue row".
    row_name: &'static str,
    /// `--presorted`: keys must not go down from row to row (checked), and each piece notes
    /// where each customer's rows start.
    presorted: bool,
}

/// The largest magnitude of an amount or quantity: far below where the exact micro-unit sums
/// (i64) would saturate.
pub const MAX_SUMMED: f64 = 1e12;

use crate::model::MAX_DIGITS;

/// What `Records::next` found.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// A record, in `fields`/`ends`.
    Record,
    /// A record the end of the bytes cuts off (only when they do not end the file): from
    /// `start`, on `line`.
    Unterminated,
    /// No more records.
    End,
    /// The bytes end the file inside a quoted field opened in the record from `start`, on
    /// `line`: the quote is never closed (the csv crate would take the rest of the file as
    /// that one field).
    OpenQuote,
}

/// The records of some bytes of a CSV, read with csv-core's state machine (the parser inside the
/// csv crate, default dialect), for the header and every piece: a file reads as the csv crate
/// reads it whole, however it is cut. csv-core skips the terminators between records (blank
/// lines, the `\n` of a `\r\n`) when it reads the next one; they are skipped here instead, so
/// `line` (counted by `\n`, as csv-core does) is the line a record starts on.
struct Records<'a> {
    bytes: &'a [u8],
    /// Do the bytes end the file? Then a record cut off by their end is still a record.
    at_eof: bool,
    pos: usize,
    core: csv_core::Reader,
    fields: Vec<u8>,
    ends: Vec<usize>,
    /// The current record was a line without quotes, or whose quotes enclose whole fields,
    /// split here without csv-core: its fields are `bytes[spans[i].0..spans[i].1]` (csv-core
    /// would give the same bytes).
    direct: bool,
    spans: Vec<(usize, usize)>,
    /// Fields in the current record.
    len: usize,
    /// Offset and line where the current record starts.
    start: usize,
    line: u64,
}

impl<'a> Records<'a> {
    /// `first_line`: the line of `bytes[0]`. `file_start`: the bytes begin the file, where a
    /// byte-order mark is dropped (anywhere else it is data, as when the file is read whole).
    fn new(bytes: &'a [u8], first_line: u64, at_eof: bool, file_start: bool) -> Self {
        let mut r = Self {
            bytes,
            at_eof,
            pos: 0,
            core: csv_core::Reader::new(),
            fields: vec![0; 1024],
            ends: vec![0; 32],
            direct: false,
            spans: Vec::with_capacity(32),
            len: 0,
            start: 0,
            line: first_line,
        };
        // A UTF-8 byte-order mark is dropped at the start of the file (as csv-core does on its
        // first read); anywhere else it is data, so csv-core's first read here is a newline.
        if file_start && bytes.starts_with(b"\xef\xbb\xbf") {
            r.pos = 3;
        }
        r.core.read_record(b"\n", &mut r.fields, &mut r.ends);
        r.core.set_line(first_line);
        r
    }

    fn next(&mut self) -> Next {
        let mut newlines = 0;
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'\n' => newlines += 1,
                b'\r' => newlines += u64::from(lone_cr(self.bytes, self.pos)),
                _ => break,
            }
            self.pos += 1;
        }
        if newlines > 0 {
            self.core.set_line(self.core.line() + newlines);
        }
        self.start = self.pos;
        self.line = self.core.line();
        if self.pos == self.bytes.len() {
            return Next::End;
        }
        // Most lines hold no quote: up to the line's end, where csv-core (which is at the start
        // of a record here) would end the record too, the fields are the bytes between commas.
        // Lines of exports that quote every field read the same way, without the quotes.
        // The terminator byte is read with the record, as csv-core reads it (and counts its
        // line); the rest of a `\r\n` is left for the loop above.
        let rest = &self.bytes[self.pos..];
        self.spans.clear();
        let end = match split_line(rest, self.pos, &mut self.spans) {
            // A quote that starts a field: the line goes on from it as one whose quotes may
            // all enclose whole fields (the fields before it stay as they were split).
            Some(i) if rest[i] == b'"' => match self.spans.pop() {
                Some((from, _)) if from == self.pos + i => {
                    split_quoted_line(&rest[i..], self.pos + i, &mut self.spans).map(|end| i + end)
                }
                _ => None,
            },
            end => end,
        };
        if let Some(end) = end {
            if rest[end] == b'\n' || lone_cr(rest, end) {
                self.core.set_line(self.core.line() + 1);
            }
            self.pos += end + 1;
            self.direct = true;
            self.len = self.spans.len();
            return Next::Record;
        }
        self.direct = false;
        let (mut nout, mut nend) = (0, 0);
        let mut ended_by_eof = false;
        loop {
            let (res, nin, o, e) =
                self.core.read_record(&self.bytes[self.pos..], &mut self.fields[nout..], &mut self.ends[nend..]);
            self.pos += nin;
            nout += o;
            nend += e;
            match res {
                csv_core::ReadRecordResult::Record => {
                    if ended_by_eof && ends_inside_quotes(&self.bytes[self.start..self.pos]) {
                        return Next::OpenQuote;
                    }
                    // csv-core counts the `\n`s it read; a `\r` alone ends a line too.
                    let lone = memchr::memchr_iter(b'\r', &self.bytes[self.start..self.pos])
                        .filter(|&i| lone_cr(self.bytes, self.start + i))
                        .count();
                    if lone > 0 {
                        self.core.set_line(self.core.line() + lone as u64);
                    }
                    self.len = nend;
                    return Next::Record;
                }
                csv_core::ReadRecordResult::End => return Next::End,
                csv_core::ReadRecordResult::OutputFull => self.fields.resize(self.fields.len() * 2, 0),
                csv_core::ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                // At the end of the file the next round, with no input, ends the record.
                csv_core::ReadRecordResult::InputEmpty if self.at_eof => ended_by_eof = true,
                csv_core::ReadRecordResult::InputEmpty => return Next::Unterminated,
            }
        }
    }

    fn field(&self, i: usize) -> &[u8] {
        if self.direct {
            let (from, to) = self.spans[i];
            return &self.bytes[from..to];
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.fields[start..self.ends[i]]
    }
}

/// Up to the first `\n`, `\r` or `"` of `rest`: the fields between its commas, as spans
/// offset by `base`, pushed onto `spans` (the last field ends at that byte), and where that
/// byte is. None when `rest` holds none of the three (`spans` then holds garbage). One pass
/// over the line, 16 bytes at a time where SSE2 is (always, on x86-64), not one search per
/// comma; the bytes after the last whole block one by one.
/// Do the raw bytes of a record (from its start to the end of the file) end inside a quoted
/// field? As csv-core reads them: a quote opens a field only at the field's start, a doubled
/// quote inside one is a quote, and after the closing quote the field goes on unquoted.
fn ends_inside_quotes(record: &[u8]) -> bool {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum S {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut s = S::FieldStart;
    for &b in record {
        s = match (s, b) {
            (S::Quoted, b'"') => S::QuoteInQuoted,
            (S::Quoted, _) => S::Quoted,
            (S::QuoteInQuoted, b'"') => S::Quoted,
            (_, b',' | b'\r' | b'\n') => S::FieldStart,
            (S::FieldStart, b'"') => S::Quoted,
            _ => S::Unquoted,
        };
    }
    s == S::Quoted
}

fn split_line(rest: &[u8], base: usize, spans: &mut Vec<(usize, usize)>) -> Option<usize> {
    let mut from = base;
    #[cfg(target_arch = "x86_64")]
    let at = {
        // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU has it.
        let (end, done) = unsafe { split_blocks(rest, base, spans, &mut from) };
        if end.is_some() {
            return end;
        }
        done
    };
    #[cfg(not(target_arch = "x86_64"))]
    let at = 0;
    for (i, &b) in rest[at..].iter().enumerate() {
        match b {
            b'\n' | b'\r' | b'"' => {
                spans.push((from, base + at + i));
                return Some(at + i);
            }
            b',' => {
                spans.push((from, base + at + i));
                from = base + at + i + 1;
            }
            _ => {}
        }
    }
    None
}

/// `split_line` over the whole 16-byte blocks of `rest`: where it stopped (None: no stop byte
/// in them) and how many bytes it read.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn split_blocks(rest: &[u8], base: usize, spans: &mut Vec<(usize, usize)>, from: &mut usize) -> (Option<usize>, usize) {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    let splat = |b: u8| _mm_set1_epi8(b as i8);
    let (nl, cr, quote, comma) = (splat(b'\n'), splat(b'\r'), splat(b'"'), splat(b','));
    let mut at = 0;
    for block in rest.chunks_exact(16) {
        // SAFETY: `block` is 16 readable bytes; `loadu` needs no alignment.
        let v = unsafe { _mm_loadu_si128(block.as_ptr().cast::<__m128i>()) };
        let stops = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, cr)), _mm_cmpeq_epi8(v, quote));
        let stop = _mm_movemask_epi8(stops) as u32;
        let mut c = _mm_movemask_epi8(_mm_cmpeq_epi8(v, comma)) as u32;
        if stop != 0 {
            // Only the commas before the stop byte.
            c &= (1u32 << stop.trailing_zeros()) - 1;
        }
        while c != 0 {
            let i = base + at + c.trailing_zeros() as usize;
            spans.push((*from, i));
            *from = i + 1;
            c &= c - 1;
        }
        if stop != 0 {
            let end = at + stop.trailing_zeros() as usize;
            spans.push((*from, base + end));
            return (Some(end), at);
        }
        at += 16;
    }
    (None, at)
}

/// Where a line is split: in or out of quotes, and what the byte before was.
#[derive(Clone, Copy)]
struct Split {
    /// The field being read started with a quote that has not closed yet.
    in_quotes: bool,
    /// The byte before is a comma, or the line starts here: a quote here opens a field.
    after_comma: bool,
    /// The byte before closed a quoted field: only a comma or the line end may follow.
    after_close: bool,
    /// Where the field being read starts (offset by `base`).
    from: usize,
}

/// Push the field `from..to` of `rest` (offsets by `base`), without its enclosing quotes.
#[inline]
fn push_field(rest: &[u8], base: usize, spans: &mut Vec<(usize, usize)>, from: usize, to: usize) {
    if rest.get(from - base) == Some(&b'"') {
        // A quoted field ends with the quote that closed it, just before `to`.
        spans.push((from + 1, to - 1));
    } else {
        spans.push((from, to));
    }
}

/// The fields of the line from the field `rest` starts with (at a line start or after a
/// comma) on, as spans offset by `base` pushed onto `spans`, and where the line's end (its `\n`
/// or `\r`, outside quotes) is. Reads what csv-core
/// reads, for lines where every quote encloses a whole field (opens right after a comma or at
/// the line start, closes right before a comma or the line end) with no quote, `\n` or `\r`
/// inside: such a field is its bytes between the quotes. None for anything else (an escaped
/// `""`, a quote inside a field, a line end inside quotes, no line end): csv-core decides, and
/// `spans` then holds garbage. One pass over the line, 16 bytes at a time where SSE2 is
/// (always, on x86-64), not one search per comma; the bytes after the last whole block one
/// by one.
fn split_quoted_line(rest: &[u8], base: usize, spans: &mut Vec<(usize, usize)>) -> Option<usize> {
    let mut st = Split { in_quotes: false, after_comma: true, after_close: false, from: base };
    #[cfg(target_arch = "x86_64")]
    let at = {
        // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU has it.
        match unsafe { split_quoted_blocks(rest, base, spans, &mut st) } {
            Ok(end) => return end,
            Err(done) => done,
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let at = 0;
    for (i, &b) in rest[at..].iter().enumerate() {
        let here = base + at + i;
        if st.in_quotes {
            match b {
                b'"' => {
                    st.in_quotes = false;
                    st.after_close = true;
                }
                b'\n' | b'\r' => return None,
                _ => {}
            }
            continue;
        }
        let (after_comma, after_close) = (st.after_comma, st.after_close);
        st.after_comma = false;
        st.after_close = false;
        match b {
            b'\n' | b'\r' => {
                push_field(rest, base, spans, st.from, here);
                return Some(at + i);
            }
            b',' => {
                push_field(rest, base, spans, st.from, here);
                st.from = here + 1;
                st.after_comma = true;
            }
            _ if after_close => return None,
            b'"' if after_comma => st.in_quotes = true,
            b'"' => return None,
            _ => {}
        }
    }
    None
}

/// `split_quoted_line` over the whole 16-byte blocks of `rest`, from and into `state`:
/// `Ok(end)` when it decided the line (`end` as `split_quoted_line` returns it), else `Err`
/// with how many bytes it read (the line goes on past them).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn split_quoted_blocks(
    rest: &[u8],
    base: usize,
    spans: &mut Vec<(usize, usize)>,
    state: &mut Split,
) -> Result<Option<usize>, usize> {
    // Worked on in registers, written back once.
    let mut st = *state;
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    let splat = |b: u8| _mm_set1_epi8(b as i8);
    let (nl, cr, quote, comma) = (splat(b'\n'), splat(b'\r'), splat(b'"'), splat(b','));
    let mut at = 0;
    for block in rest.chunks_exact(16) {
        // SAFETY: `block` is 16 readable bytes; `loadu` needs no alignment.
        let v = unsafe { _mm_loadu_si128(block.as_ptr().cast::<__m128i>()) };
        let ends = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, cr))) as u32;
        let quotes = _mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u32;
        let commas = _mm_movemask_epi8(_mm_cmpeq_epi8(v, comma)) as u32;
        // Bytes inside quotes: from an opening quote (counted) to its closing quote (not), by
        // the parity of the quotes up to each byte, carried in from the block before.
        let mut inside = quotes;
        for shift in [1, 2, 4, 8] {
            inside ^= inside << shift;
        }
        inside &= 0xffff;
        if st.in_quotes {
            inside ^= 0xffff;
        }
        let ends_out = ends & !inside;
        // Only the bytes up to the line's end (itself included) count.
        let upto =
            if ends_out != 0 { (ends_out & ends_out.wrapping_neg()).wrapping_shl(1).wrapping_sub(1) } else { 0xffff };
        let commas_out = commas & !inside & upto;
        let opening = quotes & inside & upto;
        let closing = quotes & !inside & upto;
        // A line end inside quotes, an opening quote not right after a comma (or the line
        // start), a closing quote followed by anything but a comma or the line end.
        let after_comma = ((commas_out << 1) | u32::from(st.after_comma)) & 0xffff;
        let after_close = ((closing << 1) | u32::from(st.after_close)) & upto;
        if ends & inside & upto != 0 || opening & !after_comma != 0 || after_close & !(commas_out | ends_out) != 0 {
            return Ok(None);
        }
        let mut c = commas_out;
        while c != 0 {
            let i = base + at + c.trailing_zeros() as usize;
            push_field(rest, base, spans, st.from, i);
            st.from = i + 1;
            c &= c - 1;
        }
        if ends_out != 0 {
            let end = at + ends_out.trailing_zeros() as usize;
            push_field(rest, base, spans, st.from, base + end);
            return Ok(Some(end));
        }
        st.in_quotes = inside & 0x8000 != 0;
        st.after_comma = commas_out & 0x8000 != 0;
        st.after_close = closing & 0x8000 != 0;
        at += 16;
    }
    *state = st;
    Err(at)
}

/// `s` as a number, exactly as `str::parse::<f64>` reads it. The common shape of an amount or a
/// quantity, `-?digits(.digits)?` with at most 15 digits, is read as an integer divided by a
/// power of ten: both are exact in an `f64`, and one division is correctly rounded, so this is
/// the nearest `f64` to the decimal, which is what `parse` returns (Clinger's fast path).
/// Anything else goes to `parse`.
fn parse_number(s: &str) -> Result<f64, std::num::ParseFloatError> {
    const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let b = s.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let (mut m, mut count, mut scale, mut dot) = (0u64, 0usize, 0usize, false);
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(c - b'0');
                count += 1;
                scale += usize::from(dot);
            }
            // One point, between digits.
            b'.' if !dot && i > 0 && i + 1 < digits.len() => dot = true,
            _ => return s.parse(),
        }
        if count > 15 {
            return s.parse();
        }
    }
    if count == 0 {
        return s.parse();
    }
    let v = m as f64 / POW10[scale];
    Ok(if neg { -v } else { v })
}

/// Why an amount or quantity `n`, read from `raw`, cannot be summed exactly, if it cannot.
/// Checked in this order: `999999999999.99999` reads as 10^12, and is refused for its digits;
/// a number far past the bound is too large, whatever its digits.
fn summed_problem(raw: &str, n: f64) -> Option<&'static str> {
    // (The message spells the bound out.)
    const _: () = assert!(MAX_DIGITS == 15);
    if n.abs() < 10.0 * MAX_SUMMED && raw.len() > MAX_DIGITS && significant_digits(raw) > MAX_DIGITS {
        return Some(
            "has more than 15 significant digits: amounts and quantities are summed exactly, and a number keeps 15",
        );
    }
    if (raw.len() > 7 || raw.contains(['e', 'E'])) && finer_than_micros(raw, n) {
        return Some("has more than six decimals: amounts and quantities are summed exactly, in millionths");
    }
    if n.abs() >= MAX_SUMMED {
        return Some("is too large: amounts and quantities must be below 1000000000000 (10^12) in magnitude");
    }
    None
}

/// Does the number `n`, read from `s`, have digits past the sixth decimal (`999.9999999`,
/// `1e-7`)? Summed in millionths, they would be rounded away without a word.
fn finer_than_micros(s: &str, n: f64) -> bool {
    if s.contains(['e', 'E']) {
        return crate::model::from_micros(crate::model::to_micros(n)) != n;
    }
    s.split_once('.').is_some_and(|(_, frac)| frac.trim_end_matches('0').len() > 6)
}

/// The significant digits of a number's text (`-00012.3400e5` has 4): its mantissa's digits
/// without the zeros before the first other digit and, after a point, the zeros at the end.
fn significant_digits(s: &str) -> usize {
    let mantissa = s.split(['e', 'E']).next().unwrap_or(s).trim_start_matches(['-', '+']);
    let mantissa = if mantissa.contains('.') { mantissa.trim_end_matches('0') } else { mantissa };
    let digits = mantissa.bytes().filter(u8::is_ascii_digit);
    digits.skip_while(|&d| d == b'0').count()
}

/// `s` without leading and trailing white space, as `str::trim`; most cells have none, which
/// their first and last bytes tell without decoding.
fn trim(s: &str) -> &str {
    let plain = |b: u8| b > b' ' && b < 0x80;
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&z)) if plain(a) && plain(z) => s,
        _ => s.trim(),
    }
}

/// One piece's rows, and where its last record starts (offset, line) if the end of the piece
/// cuts it off.
struct Parsed<P> {
    piece: P,
    cut_off: Option<(usize, u64)>,
}

/// Parse the records of `bytes`, which start a record on `first_line`. `at_eof`: the bytes end
/// the file; otherwise a record their end cuts off is left out and reported in `cut_off`.
fn parse_piece(
    bytes: &[u8],
    first_line: u64,
    at_eof: bool,
    newlines: Option<usize>,
    lay: &Layout<'_>,
) -> Result<Parsed<Piece>, InputError> {
    let path = lay.path;
    let mut time = TimeParser::new(lay.format, lay.tz);
    // At most one record per line: columns sized once, never grown (and copied) row by row.
    let cap = newlines.unwrap_or_else(|| line_ends(bytes)) + 1;
    let mut piece = Piece {
        // Most customers of a piece appear in it once or twice.
        interner: Interner::with_capacity(cap / 2),
        customer: Vec::with_capacity(cap),
        ts: Vec::with_capacity(if lay.ts_idx.is_some() { cap } else { 0 }),
        line: Vec::with_capacity(cap),
        cols: lay
            .storage
            .iter()
            .map(|s| match s {
                Storage::Sym => Column::Str(Vec::with_capacity(cap)),
                Storage::Text => Column::Text { text: String::new(), ends: Ends::Narrow(Vec::with_capacity(cap)) },
                Storage::Num => Column::Num(Vec::with_capacity(cap)),
            })
            .collect(),
        runs: Vec::new(),
        first_key: None,
        last_key: None,
        other_types: FxHashSet::default(),
    };
    const RECENT: usize = 64;
    let mut recent = vec![[u32::MAX; RECENT]; lay.data_idx.len()];
    // Each interned column has its own small table while the piece is read (a category or a
    // product is found among a few thousand values, not among the piece's customer ids, which
    // fill the piece's table and the cache); folded into the piece's at its end.
    let mut col_strs: Vec<Interner> = lay
        .storage
        .iter()
        .map(|s| if *s == Storage::Sym { Interner::with_capacity(64) } else { Interner::empty() })
        .collect();
    // With `--presorted`: the key of the previous record and its line.
    let mut prev_key = String::new();
    let mut prev_line = 0u64;
    let mut rec = Records::new(bytes, first_line, at_eof, false);
    // Checked once for the whole piece; only a piece that fails is checked field by field,
    // to name the column.
    let utf8 = std::str::from_utf8(bytes).is_ok();
    loop {
        match rec.next() {
            Next::Record => {}
            Next::End => break,
            Next::OpenQuote => return Err(never_closed(path, rec.line)),
            Next::Unterminated => {
                if lay.presorted && !prev_key.is_empty() {
                    piece.last_key = Some((prev_key, prev_line));
                }
                piece.fold(&col_strs);
                piece.shrink();
                return Ok(Parsed { piece, cut_off: Some((rec.start, rec.line)) });
            }
        }
        let ln = rec.line;
        if rec.len == 1 && rec.field(0).is_empty() {
            continue;
        }
        if rec.len != lay.headers.len() {
            return Err(InputError::Csv {
                path: path.to_path_buf(),
                line: ln,
                message: format!("this row has {} fields but the header has {}", rec.len, lay.headers.len()),
            });
        }
        let field = |i: usize| -> Result<&str, InputError> {
            let raw = rec.field(i);
            let s = if utf8 {
                debug_assert!(std::str::from_utf8(raw).is_ok());
                // SAFETY: `bytes` is valid UTF-8 (checked once above). csv-core cuts fields
                // only at ASCII bytes (delimiters, quotes, line ends) and takes out only ASCII
                // bytes (quotes, one of each doubled quote); an ASCII byte is never part of a
                // multi-byte character, so each field is valid UTF-8 too.
                unsafe { std::str::from_utf8_unchecked(raw) }
            } else {
                std::str::from_utf8(raw).map_err(|_| InputError::Csv {
                    path: path.to_path_buf(),
                    line: ln,
                    message: format!("column {} is not valid UTF-8", super::ticked(&lay.headers[i])),
                })?
            };
            Ok(trim(s))
        };
        let cid = field(lay.cust_idx)?;
        if cid.is_empty() {
            return Err(InputError::EmptyCustomerId { path: path.to_path_buf(), line: ln, column: lay.key });
        }
        let mut new_run = false;
        if lay.presorted && prev_key != cid {
            if !prev_key.is_empty() && cid < prev_key.as_str() {
                return Err(InputError::NotSorted {
                    path: path.to_path_buf(),
                    line: ln,
                    column: lay.key,
                    id: cid.to_owned(),
                    previous: std::mem::take(&mut prev_key),
                    previous_line: prev_line,
                });
            }
            prev_key.clear();
            prev_key.push_str(cid);
            if piece.first_key.is_none() {
                piece.first_key = Some((cid.to_owned(), ln));
            }
            new_run = true;
        }
        prev_line = ln;
        if !lay.shard.keeps(cid.as_bytes()) {
            if let Some(t) = lay.type_idx {
                let ty = field(t)?;
                if !ty.is_empty() && !piece.other_types.contains(ty.as_bytes()) {
                    piece.other_types.insert(ty.as_bytes().into());
                }
            }
            continue;
        }
        if let Some(t) = lay.type_idx {
            if field(t)?.is_empty() {
                return Err(InputError::Csv {
                    path: path.to_path_buf(),
                    line: ln,
                    message: format!("`type` is empty: every {} needs a type", lay.row_name),
                });
            }
        }
        // Lines of one order repeat the customer (and often other cells): the previous row's
        // symbol is checked first.
        let sym = match piece.customer.last() {
            Some(&last) if same(piece.interner.str(last), cid) => last,
            _ => piece.interner.intern(cid),
        };
        if new_run {
            piece.runs.push((piece.customer.len() as u32, sym));
        }
        piece.customer.push(sym);
        if let Some(t) = lay.ts_idx {
            let raw = field(t)?;
            let v = time.parse(raw).ok_or_else(|| InputError::BadTimestamp {
                path: path.to_path_buf(),
                line: ln,
                column: lay.headers[t].clone(),
                value: raw.to_owned(),
                expected: String::new(),
            })?;
            piece.ts.push(v);
        }
        piece.line.push(ln.min(u64::from(u32::MAX)) as u32);
        for (k, &i) in lay.data_idx.iter().enumerate() {
            let raw = field(i)?;
            match &mut piece.cols[k] {
                Column::Str(v) => {
                    let strs = &mut col_strs[k];
                    let sym = match v.last() {
                        Some(&last) if same(strs.str(last), raw) => last,
                        _ => {
                            // A column's recent values, by hash: a category or a channel is
                            // found here without probing the column's table.
                            let h = hash_str(raw);
                            let slot = &mut recent[k][(h >> 32) as usize % RECENT];
                            match *slot {
                                id if id != u32::MAX && same(strs.str(id), raw) => id,
                                _ => {
                                    let id = strs.intern_hashed(raw, h);
                                    *slot = id;
                                    id
                                }
                            }
                        }
                    };
                    v.push(sym);
                }
                Column::Text { text, ends } => {
                    text.push_str(raw);
                    ends.push(text.len());
                }
                Column::Num(v) => {
                    let n = if raw.is_empty() {
                        f64::NAN
                    } else {
                        // `nan`, `inf` and numbers too large for a float (`1e400`) are not
                        // amounts either.
                        match parse_number(raw) {
                            Ok(n) if n.is_finite() && lay.summed[k] => match summed_problem(raw, n) {
                                None => n,
                                Some(why) => {
                                    return Err(InputError::Csv {
                                        path: path.to_path_buf(),
                                        line: ln,
                                        message: format!(
                                            "column {}: {} {why}",
                                            super::ticked(&lay.headers[i]),
                                            super::quoted(raw)
                                        ),
                                    })
                                }
                            },
                            Ok(n) if n.is_finite() => n,
                            _ => {
                                return Err(InputError::BadNumber {
                                    path: path.to_path_buf(),
                                    line: ln,
                                    column: lay.headers[i].clone(),
                                    value: raw.to_owned(),
                                })
                            }
                        }
                    };
                    v.push(n);
                }
            }
        }
    }
    if lay.presorted && !prev_key.is_empty() {
        piece.last_key = Some((prev_key, prev_line));
    }
    piece.fold(&col_strs);
    piece.shrink();
    Ok(Parsed { piece, cut_off: None })
}

impl Piece {
    /// Interned columns' symbols (each column's own, in `strs`) made the piece's.
    fn fold(&mut self, strs: &[Interner]) {
        for (col, strs) in self.cols.iter_mut().zip(strs) {
            if let Column::Str(v) = col {
                let remap: Vec<u32> = strs.strings().map(|s| self.interner.intern(s)).collect();
                for s in v.iter_mut() {
                    *s = remap[*s as usize];
                }
            }
        }
    }

    /// The rows from `row` on, as a piece of their own (with a copy of the symbols); this
    /// piece keeps the rows before.
    fn split_off(&mut self, row: usize) -> Piece {
        let split = |c: &mut Column| match c {
            Column::Str(v) => Column::Str(v.split_off(row)),
            Column::Num(v) => Column::Num(v.split_off(row)),
            Column::Text { text, ends } => {
                let from = ends.start(row);
                let tail_text = text.split_off(from);
                let mut tail_ends = Ends::Narrow(Vec::with_capacity(ends.len() - row));
                for i in row..ends.len() {
                    tail_ends.push(ends.get(i) - from);
                }
                ends.truncate(row);
                Column::Text { text: tail_text, ends: tail_ends }
            }
        };
        let k = self.runs.partition_point(|&(r, _)| (r as usize) < row);
        let runs = self.runs.split_off(k).into_iter().map(|(r, sym)| (r - row as u32, sym)).collect();
        Piece {
            interner: self.interner.clone(),
            customer: self.customer.split_off(row),
            ts: if self.ts.is_empty() { Vec::new() } else { self.ts.split_off(row) },
            line: self.line.split_off(row),
            cols: self.cols.iter_mut().map(split).collect(),
            runs,
            first_key: None,
            last_key: self.last_key.take(),
            // (Kept with the head: the types a run meets are gathered over every batch.)
            other_types: FxHashSet::default(),
        }
    }

    /// Give back what growing the columns reserved: pieces wait in memory until all are read.
    /// (Only where that is worth a copy: multi-line fields and blank lines.)
    fn shrink(&mut self) {
        fit(&mut self.customer);
        fit(&mut self.ts);
        fit(&mut self.line);
        for c in &mut self.cols {
            match c {
                Column::Str(v) => fit(v),
                Column::Num(v) => fit(v),
                Column::Text { text, ends } => {
                    if text.capacity() > text.len() + text.len() / 8 + 64 {
                        text.shrink_to_fit();
                    }
                    ends.shrink();
                }
            }
        }
    }
}

/// Where to split `bytes` (whole lines) into about `parts` pieces: just after a newline, one
/// that quote parity puts outside quotes where there is one near. Only a guess: the parser
/// confirms every cut (see `parse_block`).
fn cut_points(bytes: &[u8], parts: usize) -> Vec<usize> {
    let len = bytes.len();
    let targets: Vec<usize> = (0..=parts).map(|k| len * k / parts).collect();
    let quotes: Vec<usize> =
        targets.par_windows(2).map(|w| memchr::memchr_iter(b'"', &bytes[w[0]..w[1]]).count()).collect();
    let mut cuts = vec![0];
    let mut quotes_before = 0;
    for k in 1..parts {
        quotes_before += quotes[k - 1];
        let (t, next) = (targets[k], targets[k + 1]);
        let last = cuts[cuts.len() - 1];
        if last >= next {
            continue;
        }
        let (from, mut in_quotes) = if last >= t { (last, false) } else { (t, quotes_before % 2 == 1) };
        let window = &bytes[from..next];
        let mut cut = None;
        // Just after a line end: `\n`, or a `\r` (a line end of its own in files that end
        // lines with it alone; in a `\r\n` the `\n` then starts the next piece, as a blank
        // line).
        for i in memchr::memchr3_iter(b'"', b'\n', b'\r', window) {
            if window[i] == b'"' {
                in_quotes = !in_quotes;
            } else if !in_quotes {
                cut = Some(i);
                break;
            }
        }
        if let Some(i) = cut.or_else(|| memchr::memchr2(b'\n', b'\r', window)) {
            // Never between the two bytes of a `\r\n` (`line_ends` relies on it).
            let mut at = from + i + 1;
            if bytes[at - 1] == b'\r' && bytes.get(at) == Some(&b'\n') {
                at += 1;
            }
            if at < len {
                cuts.push(at);
            }
        }
    }
    cuts.push(len);
    cuts
}

/// How one piece of a file is parsed: its bytes (from a record start), the line they start on,
/// whether they end the file, and the lines they end (`line_ends`) when the caller has counted them.
type ParseFn<'f, P> = dyn Fn(&[u8], u64, bool, Option<usize>) -> Result<Parsed<P>, InputError> + Sync + 'f;

/// `bytes` (whole lines, from a record start on `first_line`) parsed in pieces in parallel.
/// A piece is kept only where the parser confirms its start: where the records before it end.
/// Where a guessed cut falls inside a record (a quoted field over several lines), the part from
/// that record on is parsed again. Returns the pieces, and the offset and line up to which they
/// hold every record: the rest is a record not yet read to its end (never at the end of file).
fn parse_block<P: Send>(
    bytes: &[u8],
    first_line: u64,
    at_eof: bool,
    parts: usize,
    parse: &ParseFn<'_, P>,
) -> Result<(Vec<P>, usize, u64), InputError> {
    let cuts = cut_points(bytes, parts);
    let n = cuts.len() - 1;
    let newlines: Vec<usize> = cuts.par_windows(2).map(|w| line_ends(&bytes[w[0]..w[1]])).collect();
    let mut lines = vec![first_line];
    for &c in &newlines {
        lines.push(lines[lines.len() - 1] + c as u64);
    }
    let last = |k: usize| at_eof && k == n - 1;
    let mut guessed: Vec<Option<Result<Parsed<P>, InputError>>> = (0..n)
        .into_par_iter()
        .map(|k| Some(parse(&bytes[cuts[k]..cuts[k + 1]], lines[k], last(k), Some(newlines[k]))))
        .collect();
    let mut pieces = Vec::with_capacity(n);
    let (mut at, mut line) = (0, first_line);
    for k in 0..n {
        let from = at;
        let parsed = match guessed[k].take() {
            Some(p) if cuts[k] == from => p,
            _ => parse(&bytes[from..cuts[k + 1]], line, last(k), None),
        }?;
        pieces.push(parsed.piece);
        (at, line) = parsed.cut_off.map_or((cuts[k + 1], lines[k + 1]), |(s, l)| (from + s, l));
    }
    Ok((pieces, at, line))
}

/// Every record after the header: `buf` holds the start of the file from a record start on
/// `first_line`, the rest comes from `reader`, `block` bytes at a time, each block parsed in
/// about `parts` pieces.
fn read_records<P: Send>(
    path: &Path,
    reader: &mut (dyn Read + Send),
    mut buf: Vec<u8>,
    mut eof: bool,
    first_line: u64,
    (block, parts): (usize, usize),
    parse: &ParseFn<'_, P>,
) -> Result<Vec<P>, InputError> {
    let mut pieces = Vec::new();
    // The line `buf` starts on.
    let mut next_line = first_line;
    loop {
        let lines = whole_lines(&buf, eof);
        if lines == 0 {
            if eof && buf.is_empty() {
                return Ok(pieces);
            }
            if buf.len() > MAX_LINE {
                return Err(no_line_end(path, next_line));
            }
            fill(path, reader, &mut buf, &mut eof, block)?;
            continue;
        }
        // The next block is read while this one is parsed.
        let mut next = Vec::with_capacity(buf.len() - lines + if eof { 0 } else { block });
        next.extend_from_slice(&buf[lines..]);
        let mut next_eof = eof;
        let parsed_len = buf.len();
        let (parsed, read) = rayon::join(
            || parse_block(&buf[..lines], next_line, eof, parts, parse),
            || if next_eof { Ok(()) } else { fill(path, reader, &mut next, &mut next_eof, block) },
        );
        // An error in this block comes before one reading the next.
        let (parsed, done, line) = parsed?;
        read?;
        pieces.extend(parsed);
        next_line = line;
        if done < lines {
            // A record the end of the block cut off starts the next one.
            let mut whole = Vec::with_capacity(lines - done + next.len());
            whole.extend_from_slice(&buf[done..lines]);
            whole.extend_from_slice(&next);
            next = whole;
        }
        buf = next;
        eof = next_eof;
        // (Judged on what was parsed, not on the block just read beside it.)
        if done == 0 && parsed_len > 8 * block {
            // Nothing ends the first record: a quote is never closed.
            return Err(never_closed(path, next_line));
        }
        if eof && buf.is_empty() {
            return Ok(pieces);
        }
    }
}

const BLOCK: usize = 32 << 20;

/// Read a whole table. Blocks of the file are split at record boundaries and parsed in
/// parallel; every bad cell is an error naming file, line, column and value.
pub fn load(path: &Path, spec: &TableSpec<'_>, format: Option<&str>, tz: chrono_tz::Tz) -> Result<Table, InputError> {
    load_sharded(path, spec, format, tz, Shard::ALL)
}

/// `load`, keeping only the rows of `shard`'s customers (`--shard`): the others are dropped
/// as soon as their customer id is read, so memory scales down with the shard.
pub fn load_sharded(
    path: &Path,
    spec: &TableSpec<'_>,
    format: Option<&str>,
    tz: chrono_tz::Tz,
    shard: Shard,
) -> Result<Table, InputError> {
    load_counted(path, spec, format, tz, shard, &indicatif::ProgressBar::hidden())
}

/// `load_sharded`, adding the bytes read to `progress`.
pub fn load_counted(
    path: &Path,
    spec: &TableSpec<'_>,
    format: Option<&str>,
    tz: chrono_tz::Tz,
    shard: Shard,
    progress: &indicatif::ProgressBar,
) -> Result<Table, InputError> {
    let blocks = (BLOCK, rayon::current_num_threads().max(1) * 2);
    load_in_blocks_sharded(path, spec, format, tz, blocks, shard, progress)
}

/// A reader that adds the bytes it reads to a progress bar.
pub struct Counting<R> {
    pub inner: R,
    pub progress: indicatif::ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

/// `load`, reading `block` bytes at a time and parsing each in about `parts` pieces.
#[cfg(test)]
fn load_in_blocks(
    path: &Path,
    spec: &TableSpec<'_>,
    format: Option<&str>,
    tz: chrono_tz::Tz,
    blocks: (usize, usize),
) -> Result<Table, InputError> {
    load_in_blocks_sharded(path, spec, format, tz, blocks, Shard::ALL, &indicatif::ProgressBar::hidden())
}

fn load_in_blocks_sharded(
    path: &Path,
    spec: &TableSpec<'_>,
    format: Option<&str>,
    tz: chrono_tz::Tz,
    (block, parts): (usize, usize),
    shard: Shard,
    progress: &indicatif::ProgressBar,
) -> Result<Table, InputError> {
    let mut t = Opened::open(path, spec, block, progress)?;
    let opts = ReadOpts { format, tz, shard, presorted: false };
    t.decide_storage(path, (block, parts), &opts)?;
    let buf = std::mem::take(&mut t.buf);
    let mut reader =
        std::mem::replace(&mut t.reader, Counting { inner: Box::new(io::empty()), progress: progress.clone() });
    let lay = t.layout(path, &opts);
    let parse = |bytes: &[u8], line: u64, at_eof: bool, newlines: Option<usize>| {
        parse_piece(bytes, line, at_eof, newlines, &lay)
    };
    let started = std::time::Instant::now();
    let pieces = read_records(path, &mut reader, buf, t.eof, t.header.end_line, (block, parts), &parse)?;
    drop(lay);
    let parsed = std::time::Instant::now();
    let mut table = t.merge(path, spec.kind, pieces);
    let grouped = std::time::Instant::now();
    sort_rows(&mut table, spec.tie_first);
    table.read = ReadTimes {
        total: std::time::Duration::ZERO,
        parse: parsed - started,
        group: grouped - parsed,
        order: grouped.elapsed(),
    };
    Ok(table)
}

/// How the rows of a file are read: the time format and zone, the shard kept, and whether
/// the rows are promised sorted by key.
#[derive(Clone, Copy)]
struct ReadOpts<'a> {
    format: Option<&'a str>,
    tz: chrono_tz::Tz,
    shard: Shard,
    presorted: bool,
}

/// A file whose header is read and checked: its reader, what is buffered after the header,
/// and where each column goes.
struct Opened {
    reader: Counting<Box<dyn Read + Send>>,
    buf: Vec<u8>,
    eof: bool,
    header: Header,
    names: Vec<String>,
    key: &'static str,
    cust_idx: usize,
    ts_idx: Option<usize>,
    data_idx: Vec<usize>,
    types: Vec<ColType>,
    storage: Vec<Storage>,
    summed: Vec<bool>,
    type_idx: Option<usize>,
    /// Per number column of a profile, the data column that keeps its text as read
    /// (`Table::num_text`): data columns past `types.len()`.
    twins: Vec<(usize, usize)>,
}

impl Opened {
    fn open(
        path: &Path,
        spec: &TableSpec<'_>,
        block: usize,
        progress: &indicatif::ProgressBar,
    ) -> Result<Self, InputError> {
        let mut reader = Counting { inner: open(path)?, progress: progress.clone() };
        let (mut buf, mut eof) = (Vec::new(), false);
        let header = read_header(path, &mut reader, &mut buf, &mut eof, block)?;
        let header = header.unwrap_or(Header { raw: Vec::new(), line: 1, end: 0, end_line: 1 });
        let names = canonical_names(path, &header, spec)?;
        let find = |name: &str| names.iter().position(|n| n == name);
        let missing = |column: &str| InputError::MissingColumn {
            path: path.to_path_buf(),
            table: spec.kind,
            column: column.to_owned(),
            header: spec.rename.get(column).cloned(),
            found: header.raw.clone(),
            mapped: misspelt_mapping(spec, column),
        };
        let cust_idx = find(spec.kind.key()).ok_or_else(|| missing(spec.kind.key()))?;
        let ts_idx = if spec.has_time { Some(find("timestamp").ok_or_else(|| missing("timestamp"))?) } else { None };
        if matches!(spec.kind, TableKind::Events | TableKind::Catalog) && find("type").is_none() {
            return Err(missing("type"));
        }
        // The catalogue keeps its key as a column as well, so conditions and templates read
        // `item.item_id` like any attribute.
        let keep_key = spec.kind == TableKind::Catalog;
        let data_idx: Vec<usize> =
            (0..names.len()).filter(|&i| (keep_key || i != cust_idx) && Some(i) != ts_idx).collect();
        let types: Vec<ColType> = data_idx
            .iter()
            .map(|&i| if spec.numeric.contains(&names[i]) { ColType::Num } else { ColType::Str })
            .collect();
        let mut storage: Vec<Storage> =
            types.iter().map(|t| if *t == ColType::Num { Storage::Num } else { Storage::Sym }).collect();
        let mut summed: Vec<bool> = data_idx
            .iter()
            .map(|&i| spec.kind == TableKind::Transactions && matches!(names[i].as_str(), "amount" | "quantity"))
            .collect();
        // A profile's numbers are written back into the plan as the file holds them (`007.50`,
        // an id of 20 digits): each is read a second time, as text, into a hidden column.
        let mut data_idx = data_idx;
        let mut twins = Vec::new();
        if spec.kind == TableKind::Customers {
            for k in 0..types.len() {
                if types[k] == ColType::Num {
                    twins.push((k, data_idx.len()));
                    data_idx.push(data_idx[k]);
                    storage.push(Storage::Text);
                    summed.push(false);
                }
            }
        }
        let type_idx = if matches!(spec.kind, TableKind::Events | TableKind::Catalog) { find("type") } else { None };
        buf.drain(..header.end);
        Ok(Self {
            reader,
            buf,
            eof,
            header,
            names,
            key: spec.kind.key(),
            cust_idx,
            ts_idx,
            data_idx,
            types,
            storage,
            summed,
            type_idx,
            twins,
        })
    }

    fn layout<'a>(&'a self, path: &'a Path, opts: &ReadOpts<'a>) -> Layout<'a> {
        Layout {
            path,
            headers: &self.header.raw,
            key: self.key,
            cust_idx: self.cust_idx,
            ts_idx: self.ts_idx,
            data_idx: self.data_idx.clone(),
            storage: self.storage.clone(),
            format: opts.format,
            tz: opts.tz,
            shard: opts.shard,
            summed: self.summed.clone(),
            type_idx: self.type_idx,
            row_name: if self.key == TableKind::Catalog.key() { "catalogue row" } else { "event" },
            presorted: opts.presorted,
        }
    }

    /// Columns where most values differ (order ids, names, emails) are stored as text rather
    /// than interned: hashing millions of unique strings buys nothing. Decided on the first
    /// piece of the file (read here).
    fn decide_storage(
        &mut self,
        path: &Path,
        (block, parts): (usize, usize),
        opts: &ReadOpts<'_>,
    ) -> Result<(), InputError> {
        while whole_lines(&self.buf, self.eof) == 0 && !self.eof {
            if self.buf.len() > MAX_LINE {
                return Err(no_line_end(path, self.header.end_line));
            }
            fill(path, &mut self.reader, &mut self.buf, &mut self.eof, block)?;
        }
        let lines = whole_lines(&self.buf, self.eof);
        if lines == 0 {
            return Ok(());
        }
        let first = cut_points(&self.buf[..lines], parts)[1];
        let lay = self.layout(path, opts);
        let sample =
            parse_piece(&self.buf[..first], self.header.end_line, self.eof && first == self.buf.len(), None, &lay)?
                .piece;
        drop(lay);
        for (k, col) in sample.cols.iter().enumerate() {
            if let Column::Str(v) = col {
                let mut distinct: Vec<u32> = v.clone();
                distinct.sort_unstable();
                distinct.dedup();
                if v.len() >= 1000 && distinct.len() * 4 > v.len() {
                    self.storage[k] = Storage::Text;
                }
            }
        }
        Ok(())
    }

    fn merge(&self, path: &Path, kind: TableKind, pieces: Vec<Piece>) -> Table {
        let names = self.data_idx[..self.types.len()].iter().map(|&i| self.names[i].clone()).collect();
        let mut table = merge(path, kind, names, self.types.clone(), &self.storage, pieces);
        table.num_text.clone_from(&self.twins);
        table
    }
}

/// A pointer to the start of a buffer that tasks write at disjoint indices.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
// SAFETY: only used by `scatter`, whose writes go to distinct indices (a permutation).
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Shared<T> {}
impl<T> Shared<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

/// `n` values placed at their destinations: part `k`'s value `i` goes to `dest[k][i]`.
/// `dest` over all parts must be a permutation of `0..n` (every index exactly once).
fn scatter<T: Copy + Send + Sync + Default>(n: usize, parts: Vec<(Vec<T>, &[u32])>) -> Vec<T> {
    assert_eq!(parts.iter().map(|(v, d)| v.len().min(d.len())).sum::<usize>(), n, "scatter needs every row once");
    let mut out = vec![T::default(); n];
    let ptr = Shared(out.as_mut_ptr());
    parts.into_par_iter().for_each(|(src, dest)| {
        for (v, &d) in src.iter().zip(dest) {
            let d = d as usize;
            assert!(d < n);
            // SAFETY: `d < n` is inside `out`, and no other write goes to `d` (permutation).
            unsafe { ptr.get().add(d).write(*v) };
        }
    });
    out
}

/// The interned strings' ids in string order. Sorted on their first 8 bytes (big-endian,
/// zero-padded: the same order as the bytes themselves) and by the whole strings only where
/// those are equal, which keeps most comparisons out of the arena.
fn string_order(strings: &Interner) -> Vec<u32> {
    let prefix = |s: &str| {
        let mut k = [0u8; 8];
        let n = s.len().min(8);
        k[..n].copy_from_slice(&s.as_bytes()[..n]);
        u64::from_be_bytes(k)
    };
    let mut keyed: Vec<(u64, u32)> = (0..strings.len() as u32).map(|id| (prefix(strings.str(id)), id)).collect();
    keyed.par_sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| strings.str(a.1).cmp(strings.str(b.1))));
    keyed.into_iter().map(|(_, id)| id).collect()
}

/// Every piece's strings in one list, and per piece its symbols' places in that list. The
/// strings are split by hash into shards interned in parallel, so each distinct string is
/// stored once whatever the number of pieces; the list is the shards' strings one after the
/// other (provisional ids: `string_order` gives the canonical ones).
fn union(pieces: &[Piece]) -> (Interner, Vec<Vec<u32>>) {
    const SHARDS: usize = 64;
    // Bits the shard tables do not use for their buckets (low bits) or tags (top bits).
    let shard = |s: &str| ((hash_str(s) >> 32) as usize) % SHARDS;
    let lists: Vec<Vec<Vec<u32>>> = pieces
        .par_iter()
        .map(|p| {
            let mut by = vec![Vec::new(); SHARDS];
            for id in 0..p.interner.len() as u32 {
                by[shard(p.interner.str(id))].push(id);
            }
            by
        })
        .collect();
    type Found = (Interner, Vec<(u32, u32, u32)>);
    let shards: Vec<Found> = (0..SHARDS)
        .into_par_iter()
        .map(|sh| {
            let mut strings = Interner::empty();
            let mut found = Vec::new();
            for (k, p) in pieces.iter().enumerate() {
                for &local in &lists[k][sh] {
                    found.push((k as u32, local, strings.intern(p.interner.str(local))));
                }
            }
            (strings, found)
        })
        .collect();
    drop(lists);
    let mut all = Interner::empty();
    let mut remaps: Vec<Vec<u32>> = pieces.iter().map(|p| vec![0; p.interner.len()]).collect();
    for (strings, found) in &shards {
        let base = all.len() as u32;
        for s in strings.strings() {
            all.arena.push_str(s);
            all.ends.push(all.arena.len() as u32);
        }
        for &(k, local, id) in found {
            remaps[k as usize][local as usize] = base + id;
        }
    }
    (all, remaps)
}

/// Join the pieces into one table with canonical symbols (symbol order is string order), its
/// rows grouped by customer (in customer order) and, within a customer, in file order: each
/// row is written once, straight to its place, one column at a time.
fn merge(
    path: &Path,
    kind: TableKind,
    names: Vec<String>,
    types: Vec<ColType>,
    storage: &[Storage],
    mut pieces: Vec<Piece>,
) -> Table {
    let mut other_types: Vec<Box<str>> = pieces
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.other_types))
        .map(|t| String::from_utf8_lossy(&t).into())
        .collect();
    other_types.sort_unstable();
    other_types.dedup();
    let (global, remaps) = union(&pieces);
    let order = string_order(&global);
    let mut canon = vec![0u32; global.len()];
    for (new, &old) in order.iter().enumerate() {
        canon[old as usize] = new as u32;
    }
    let strs: Vec<Box<str>> = order.iter().map(|&old| global.str(old).into()).collect();
    drop(global);
    // Piece-local symbols become canonical ones.
    let remaps: Vec<Vec<u32>> =
        remaps.into_iter().map(|r| r.into_iter().map(|g| canon[g as usize]).collect()).collect();
    drop(canon);
    pieces.par_iter_mut().zip(&remaps).for_each(|(p, remap)| {
        p.interner = Interner::empty();
        for c in &mut p.customer {
            *c = remap[*c as usize];
        }
    });
    let rows: usize = pieces.iter().map(|p| p.customer.len()).sum();
    // A counting sort on the customer symbol: where each row goes. The pieces are counted
    // and placed in a few runs of consecutive pieces at once; a run's rows of one customer
    // go after the earlier runs' rows of that customer, so the order is the file's.
    let sizes: Vec<usize> = pieces.iter().map(|p| p.customer.len()).collect();
    let runs = piece_runs(&sizes, rayon::current_num_threads().max(1));
    let mut bases: Vec<Vec<u32>> = runs
        .par_iter()
        .map(|run| {
            let mut counts = vec![0u32; strs.len()];
            for p in &pieces[run.clone()] {
                for &c in &p.customer {
                    counts[c as usize] += 1;
                }
            }
            counts
        })
        .collect();
    // `starts[c]` is customer `c`'s first row; each run's counts become the row its first
    // row of each customer goes to.
    let mut starts = Vec::with_capacity(strs.len() + 1);
    let mut at = 0usize;
    for c in 0..strs.len() {
        starts.push(at);
        for counts in &mut bases {
            let n = counts[c];
            // (Row numbers are `u32`s, as line numbers are: a table has under 2^32 rows.)
            counts[c] = at as u32;
            at += n as usize;
        }
    }
    starts.push(at);
    let dests: Vec<Vec<u32>> = runs
        .par_iter()
        .zip(&mut bases)
        .flat_map_iter(|(run, next)| {
            pieces[run.clone()].iter().map(move |p| {
                p.customer
                    .iter()
                    .map(|&c| {
                        let d = next[c as usize];
                        next[c as usize] += 1;
                        d
                    })
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    drop(bases);
    let groups: Vec<(u32, Range<usize>)> =
        starts.windows(2).enumerate().filter(|(_, w)| w[1] > w[0]).map(|(sym, w)| (sym as u32, w[0]..w[1])).collect();
    drop(starts);
    let mut customer = vec![0u32; rows];
    {
        // Each task fills the rows of a run of customers.
        let per = groups.len().div_ceil(rayon::current_num_threads().max(1) * 4).max(1);
        let mut slices = Vec::new();
        let mut rest = &mut customer[..];
        for gs in groups.chunks(per) {
            let len = gs[gs.len() - 1].1.end - gs[0].1.start;
            let (head, tail) = rest.split_at_mut(len);
            slices.push((gs, head));
            rest = tail;
        }
        slices.into_par_iter().for_each(|(gs, slice)| {
            let base = gs[0].1.start;
            for (sym, r) in gs {
                slice[r.start - base..r.end - base].fill(*sym);
            }
        });
    }
    let ts_parts: Vec<(Vec<i64>, &[u32])> =
        pieces.iter_mut().zip(&dests).map(|(p, d)| (std::mem::take(&mut p.ts), &d[..])).collect();
    let line_parts: Vec<(Vec<u32>, &[u32])> =
        pieces.iter_mut().zip(&dests).map(|(p, d)| (std::mem::take(&mut p.line), &d[..])).collect();
    let taken: Vec<Vec<Column>> = (0..storage.len())
        .map(|k| pieces.iter_mut().map(|p| std::mem::replace(&mut p.cols[k], Column::Num(Vec::new()))).collect())
        .collect();
    let (remaps, dests) = (&remaps, &dests);
    // Every column at once (and each over its pieces at once).
    let column = |(taken, st): (Vec<Column>, &Storage)| match st {
        Storage::Sym => {
            let parts: Vec<(Vec<u32>, &[u32])> = taken
                .into_par_iter()
                .zip(remaps)
                .zip(dests)
                .map(|((c, remap), d)| match c {
                    Column::Str(mut v) => {
                        for s in &mut v {
                            *s = remap[*s as usize];
                        }
                        (v, &d[..])
                    }
                    _ => (Vec::new(), &d[..]),
                })
                .collect();
            Column::Str(scatter(rows, parts))
        }
        Storage::Num => {
            let parts: Vec<(Vec<f64>, &[u32])> = taken
                .into_iter()
                .zip(dests)
                .map(|(c, d)| match c {
                    Column::Num(v) => (v, &d[..]),
                    _ => (Vec::new(), &d[..]),
                })
                .collect();
            Column::Num(scatter(rows, parts))
        }
        Storage::Text => merge_text(rows, taken, dests),
    };
    let (ts, (line, cols)) = rayon::join(
        || if ts_parts.iter().all(|(v, _)| v.is_empty()) { Vec::new() } else { scatter(rows, ts_parts) },
        || {
            rayon::join(
                || scatter(rows, line_parts),
                || taken.into_par_iter().zip(storage).map(column).collect::<Vec<Column>>(),
            )
        },
    );
    Table {
        kind,
        path: path.to_path_buf(),
        names,
        types,
        cols,
        strs,
        customer,
        ts,
        line,
        groups,
        read: ReadTimes::default(),
        other_types,
        num_text: Vec::new(),
    }
}

/// Pieces of `sizes` rows cut into at most `parts` runs of consecutive pieces with about as
/// many rows each: the runs cover every piece once, in order.
fn piece_runs(sizes: &[usize], parts: usize) -> Vec<Range<usize>> {
    let total: usize = sizes.iter().sum();
    let mut runs = Vec::with_capacity(parts);
    let (mut from, mut rows) = (0, 0);
    for (k, &size) in sizes.iter().enumerate() {
        rows += size;
        // The run ends once it holds its share of the rows.
        if rows * parts >= total * (runs.len() + 1) && runs.len() + 1 < parts {
            runs.push(from..k + 1);
            from = k + 1;
        }
    }
    if from < sizes.len() || runs.is_empty() {
        runs.push(from..sizes.len());
    }
    runs
}

/// A text column's pieces joined with each row at its destination.
fn merge_text(rows: usize, taken: Vec<Column>, dests: &[Vec<u32>]) -> Column {
    let parts: Vec<(String, Ends)> = taken
        .into_iter()
        .map(|c| match c {
            Column::Text { text, ends } => (text, ends),
            _ => (String::new(), Ends::Narrow(Vec::new())),
        })
        .collect();
    // Lengths in final order (a row's text is part of one piece: under 4 GiB), then the
    // offsets they give.
    let lens: Vec<(Vec<u32>, &[u32])> = parts
        .par_iter()
        .zip(dests)
        .map(|((_, ends), d)| {
            let lens = (0..ends.len())
                .map(|i| u32::try_from(ends.get(i) - ends.start(i)).expect("a row's text is under 4 GiB"))
                .collect();
            (lens, &d[..])
        })
        .collect();
    let mut lens = scatter(rows, lens);
    let total: u64 = lens.iter().map(|&l| u64::from(l)).sum();
    let ends = if u32::try_from(total).is_ok() {
        let mut at = 0u32;
        for l in &mut lens {
            at += *l;
            *l = at;
        }
        Ends::Narrow(lens)
    } else {
        let mut at = 0u64;
        Ends::Wide(
            lens.into_iter()
                .map(|l| {
                    at += u64::from(l);
                    at
                })
                .collect(),
        )
    };
    let total = total as usize;
    let mut bytes = vec![0u8; total];
    let ptr = Shared(bytes.as_mut_ptr());
    let ends_ref = &ends;
    parts.into_par_iter().zip(dests).for_each(|((text, piece_ends), d)| {
        for (i, &to) in d.iter().enumerate().take(piece_ends.len()) {
            let src = &text.as_bytes()[piece_ends.start(i)..piece_ends.get(i)];
            let to = to as usize;
            let start = ends_ref.start(to);
            assert!(start + src.len() <= total && ends_ref.get(to) - start == src.len());
            // SAFETY: rows have distinct destinations, so their byte ranges `start..start + len`
            // (checked inside `bytes` above) never overlap.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), ptr.get().add(start), src.len()) };
        }
    });
    // Every row's bytes are a whole UTF-8 string from a piece, so the joined bytes are too.
    let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Column::Text { text, ends }
}

/// Within each customer (rows already grouped, in file order), rows in time order, ties broken
/// by content; then the customer groups.
fn sort_rows(table: &mut Table, tie_first: &[&str]) {
    let n = table.len();
    let mut tie_cols: Vec<usize> = tie_first.iter().filter_map(|c| table.col(c)).collect();
    for i in 0..table.cols.len() {
        if !tie_cols.contains(&i) {
            tie_cols.push(i);
        }
    }
    if table.groups.is_empty() {
        table.groups = groups_of(&table.customer);
    }
    let mut perm: Vec<u32> = (0..n as u32).collect();
    // The rows that must move: per customer, the span from its first to its last row out of
    // place.
    let moved: Vec<Range<usize>> = {
        let t = &*table;
        let ties = |a: usize, b: usize| {
            for &c in &tie_cols {
                let o = match &t.cols[c] {
                    Column::Str(v) => v[a].cmp(&v[b]),
                    Column::Num(v) => v[a].total_cmp(&v[b]),
                    Column::Text { .. } => t.str_at(c, a).cmp(t.str_at(c, b)),
                };
                if o.is_ne() {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        };
        let cmp = |&a: &u32, &b: &u32| {
            let (a, b) = (a as usize, b as usize);
            let by_time = if t.ts.is_empty() { std::cmp::Ordering::Equal } else { t.ts[a].cmp(&t.ts[b]) };
            by_time.then_with(|| ties(a, b))
        };
        let tie_cmp = |&a: &u32, &b: &u32| ties(a as usize, b as usize);
        let mut slices: Vec<(Range<usize>, &mut [u32])> = Vec::with_capacity(t.groups.len());
        let mut rest = &mut perm[..];
        for (_, r) in &t.groups {
            let (head, tail) = rest.split_at_mut(r.len());
            slices.push((r.clone(), head));
            rest = tail;
        }
        slices
            .into_par_iter()
            .filter_map(|(r, group)| {
                if group.len() < 2 {
                    return None;
                }
                // Stable: rows equal in every column keep file order.
                if !t.ts.is_empty() && !group.is_sorted_by_key(|&i| t.ts[i as usize]) {
                    group.sort_by(cmp);
                    return Some(r);
                }
                // Rows in time order (as exports come) are out of order only among the lines
                // of one moment (an order's lines): each run of one timestamp is sorted alone,
                // a few rows each instead of the customer's whole history. A stable sort of
                // every run is the stable sort of the whole, the runs being in order.
                let (mut at, mut span) = (0, None::<Range<usize>>);
                let runs: &mut dyn Iterator<Item = &mut [u32]> = if t.ts.is_empty() {
                    &mut std::iter::once(&mut *group)
                } else {
                    &mut group.chunk_by_mut(|&a, &b| t.ts[a as usize] == t.ts[b as usize])
                };
                for run in runs {
                    let len = run.len();
                    if len > 1 && !run.is_sorted_by(|a, b| tie_cmp(a, b).is_le()) {
                        run.sort_by(tie_cmp);
                        let start = span.as_ref().map_or(at, |s| s.start);
                        span = Some(start..at + len);
                    }
                    at += len;
                }
                span.map(|s| r.start + s.start..r.start + s.end)
            })
            .collect()
    };
    // Rows move only within their customer (`customer` stays as it is), each column in place.
    fn permute<T: Copy>(v: &mut [T], perm: &[u32], moved: &[Range<usize>]) {
        if v.is_empty() {
            return;
        }
        let mut tmp = Vec::new();
        for r in moved {
            tmp.clear();
            tmp.extend(perm[r.clone()].iter().map(|&i| v[i as usize]));
            v[r.clone()].copy_from_slice(&tmp);
        }
    }
    // Each column on its own thread.
    let (perm, moved) = (&perm, &moved);
    rayon::scope(|sc| {
        sc.spawn(|_| permute(&mut table.ts, perm, moved));
        // Lines stay with their rows so warnings can still point into the file.
        sc.spawn(|_| permute(&mut table.line, perm, moved));
        for col in &mut table.cols {
            sc.spawn(move |_| match col {
                Column::Str(v) => permute(v, perm, moved),
                Column::Num(v) => permute(v, perm, moved),
                Column::Text { text, ends } => {
                    let (mut bytes, mut lens) = (String::new(), Vec::new());
                    for r in moved {
                        let (from, to) = (ends.start(r.start), ends.get(r.end - 1));
                        bytes.clear();
                        lens.clear();
                        for &i in &perm[r.clone()] {
                            let i = i as usize;
                            bytes.push_str(&text[ends.start(i)..ends.get(i)]);
                            lens.push(bytes.len());
                        }
                        text.replace_range(from..to, &bytes);
                        for (k, l) in lens.iter().enumerate() {
                            ends.set(r.start + k, from + l);
                        }
                    }
                }
            });
        }
    });
}

/// The runs of equal customer symbols.
fn groups_of(customer: &[u32]) -> Vec<(u32, Range<usize>)> {
    let n = customer.len();
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || customer[i] != customer[start] {
            groups.push((customer[start], start..i));
            start = i;
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Tz;
    use std::io::Write;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        File::create(&p).unwrap().write_all(body.as_bytes()).unwrap();
        p
    }

    fn spec<'a>(rename: &'a FxHashMap<String, String>, numeric: &'a [String]) -> TableSpec<'a> {
        TableSpec { kind: TableKind::Transactions, rename, numeric, has_time: true, tie_first: &["order_id"] }
    }

    #[test]
    fn loading_counts_every_byte_of_the_file_on_the_progress_bar() {
        let dir = tempfile::tempdir().unwrap();
        let body = "customer_id,timestamp,amount\nA,2025-01-01,1\nB,2025-01-02,2\n";
        let p = write(dir.path(), "t.csv", body);
        let rename = FxHashMap::default();
        let numeric = vec!["amount".to_owned()];
        // A hidden bar draws nothing but keeps count.
        let bar = indicatif::ProgressBar::hidden();
        let t = load_counted(&p, &spec(&rename, &numeric), None, Tz::UTC, Shard::ALL, &bar).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(bar.position(), body.len() as u64);
    }

    #[test]
    fn summed_values_are_refused_for_digits_decimals_then_magnitude() {
        let why = |raw: &str| summed_problem(raw, raw.parse().unwrap());
        assert_eq!(why("17.97"), None);
        assert_eq!(why("999999999999.999"), None);
        assert!(why("999999999999.99999").unwrap().starts_with("has more than 15 significant digits"));
        assert!(why("999.9999999").unwrap().starts_with("has more than six decimals"));
        assert!(why("1e-7").unwrap().starts_with("has more than six decimals"));
        assert!(why("1000000000000").unwrap().starts_with("is too large"));
        assert!(why(&"9".repeat(60)).unwrap().starts_with("is too large"), "far past the bound, whatever its digits");
    }

    #[test]
    fn digits_past_millionths_are_found() {
        for (s, finer) in [
            ("999.9999999", true),
            ("0.0000001", true),
            ("1e-7", true),
            ("1.5e-7", true),
            ("12.3400000000", false),
            ("0.000001", false),
            ("1e-6", false),
            ("2.5E3", false),
            ("17.97", false),
        ] {
            assert_eq!(finer_than_micros(s, s.parse().unwrap()), finer, "{s}");
        }
    }

    #[test]
    fn significant_digits_leave_out_leading_and_trailing_zeros() {
        for (s, n) in [
            ("0", 0),
            ("-00012.3400e5", 4),
            ("1000", 4),
            ("0.000100", 1),
            ("999999999998.999999", 18),
            ("+123456789012345", 15),
            ("1.", 1),
        ] {
            assert_eq!(significant_digits(s), n, "{s}");
        }
    }

    #[test]
    fn numbers_read_as_str_parse_reads_them() {
        // `|` between cases (some are empty or hold spaces).
        let cases = "0|-0|1|12.49|-12.49|0.1|0.3|9.99|123456789012345|1234567890123456|0.000000000000001|\
                     999999999999999|99999999999999.9|1e3|1.|.5|+1|-||.|1.2.3|--1|1-|00012.50|nan|inf|1_000| 1|\
                     4503599627370497";
        for c in cases.split('|') {
            assert_eq!(parse_number(c).ok().map(f64::to_bits), c.parse::<f64>().ok().map(f64::to_bits), "{c:?}");
        }
    }

    /// A line without quotes, or whose quotes each enclose a whole field, is split without
    /// csv-core; any other goes through it. Both give the fields and lines the csv crate gives
    /// (`blocks_and_pieces_read_like_the_whole_file`, `quoted_exports_read_like_the_csv_crate`).
    #[test]
    fn lines_whose_quotes_enclose_whole_fields_take_the_fast_path() {
        let mut rec = Records::new(b"a,b\r\n\n\"c\",d\ne,,\n\"f\"\"\",g\nh,\"i,j\"\nk,l\"m\n", 1, true, false);
        let mut seen = Vec::new();
        while rec.next() == Next::Record {
            let fields: Vec<String> =
                (0..rec.len).map(|i| String::from_utf8_lossy(rec.field(i)).into_owned()).collect();
            seen.push((rec.line, rec.direct, fields.join("|")));
        }
        let want = [
            (1, true, "a|b"),
            (3, true, "c|d"),
            (4, true, "e||"),
            (5, false, "f\"|g"),
            (6, true, "h|i,j"),
            (7, false, "k|l\"m"),
        ];
        assert_eq!(seen, want.map(|(l, d, f)| (l, d, f.to_owned())));
    }

    /// Many more values than the per-column cache has slots, so slots are shared and
    /// overwritten: every cell still reads back as its own value.
    #[test]
    fn values_read_back_through_the_recent_cache() {
        let dir = tempfile::tempdir().unwrap();
        let value = |i: usize, k: usize| format!("v{}", (i * 7 + k * 13) % (150 + 40 * k));
        let mut body = String::from("customer_id,timestamp,product,category\n");
        for i in 0..3000 {
            body.push_str(&format!("C{},2025-01-01T00:00:{:02}Z,{},{}\n", i % 11, i % 60, value(i, 0), value(i, 1)));
        }
        let p = write(dir.path(), "t.csv", &body);
        let t = load_in_blocks(&p, &tx_spec(), None, Tz::UTC, (4096, 3)).unwrap();
        let (product, category) = (t.col("product").unwrap(), t.col("category").unwrap());
        assert!(matches!(t.cols[product], Column::Str(_)), "interned, not stored as text");
        for r in 0..t.len() {
            let i = t.line[r] as usize - 2;
            assert_eq!((t.str_at(product, r), t.str_at(category, r)), (&*value(i, 0), &*value(i, 1)), "line {}", i + 2);
        }
    }

    #[test]
    fn same_is_str_eq() {
        let words = ["", "a", "ab", "abc", "abcd", "abce", "abcde", "abcdefg", "abcdefgh", "abcdefgi", "bbcdefgh"];
        let long = ["C0000123", "C0000124", "O000001234", "O000001235", "P00001-xyzw-long", "P00001-xyzw-lonh"];
        let longer = ["0123456789abcdefg", "0123456789abcdefh", "x0123456789abcdef"];
        let all: Vec<&str> = words.iter().chain(&long).chain(&longer).copied().collect();
        for a in &all {
            for b in &all {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    /// `split_quoted_line` field by field: a field that starts with a quote runs to the next quote,
    /// which must be followed by a comma or the line end; any other field runs to the next
    /// comma or line end, and holds no quote.
    fn split_quoted_line_naive(rest: &[u8], base: usize) -> Option<(usize, Vec<(usize, usize)>)> {
        let mut spans = Vec::new();
        let mut at = 0;
        loop {
            let stop = if rest.get(at) == Some(&b'"') {
                let close = at + 1 + rest[at + 1..].iter().position(|&b| b == b'"')?;
                if rest[at + 1..close].iter().any(|&b| b == b'\n' || b == b'\r') {
                    return None;
                }
                spans.push((base + at + 1, base + close));
                close + 1
            } else {
                let stop = at + rest[at..].iter().position(|&b| matches!(b, b',' | b'\n' | b'\r' | b'"'))?;
                spans.push((base + at, base + stop));
                stop
            };
            match rest.get(stop) {
                Some(b',') => at = stop + 1,
                Some(b'\n' | b'\r') => return Some((stop, spans)),
                _ => return None,
            }
        }
    }

    #[test]
    fn split_quoted_line_takes_quotes_that_enclose_whole_fields() {
        // Stops and commas on both sides of a 16-byte block edge, and in the bytes after the blocks.
        let line = b"0123456789abcde,0123456,\"x,y\"\n";
        let mut spans = Vec::new();
        assert_eq!(split_quoted_line(line, 100, &mut spans), Some(29));
        assert_eq!(spans, [(100, 115), (116, 123), (125, 128)], "a quoted field is its bytes between the quotes");
        spans.clear();
        assert_eq!(split_quoted_line(b"a,b,c", 0, &mut spans), None, "no line end: csv-core decides");
        for line in [&b"a,\"b\"\"c\"\n"[..], b"a,b\"c\n", b"\"a\"b,c\n", b"\"a\nb\",c\n", b"\"abc\n"] {
            assert_eq!(
                split_quoted_line(line, 0, &mut spans),
                None,
                "{:?}: csv-core decides",
                String::from_utf8_lossy(line)
            );
        }
        spans.clear();
        assert_eq!(split_quoted_line(b"\"\",\"\"\r\n", 0, &mut spans), Some(5));
        assert_eq!(spans, [(1, 1), (4, 4)], "empty quoted fields");
    }

    /// `split_line` as one search per byte would do it.
    fn split_line_naive(rest: &[u8], base: usize) -> (Option<usize>, Vec<(usize, usize)>) {
        let mut spans = Vec::new();
        let mut from = base;
        for (i, &b) in rest.iter().enumerate() {
            match b {
                b'\n' | b'\r' | b'"' => {
                    spans.push((from, base + i));
                    return (Some(i), spans);
                }
                b',' => {
                    spans.push((from, base + i));
                    from = base + i + 1;
                }
                _ => {}
            }
        }
        (None, Vec::new())
    }

    #[test]
    fn split_line_cuts_at_every_comma_up_to_the_line_end() {
        // Stops and commas on both sides of a 16-byte block edge, and in the bytes after the blocks.
        let line = b"0123456789abcde,0123456,\"x,y\"\n";
        let mut spans = Vec::new();
        assert_eq!(split_line(line, 100, &mut spans), Some(24));
        assert_eq!(spans, [(100, 115), (116, 123), (124, 124)]);
        spans.clear();
        assert_eq!(split_line(b"a,b,c", 0, &mut spans), None, "no line end: csv-core decides");
    }

    proptest::proptest! {
        /// Lines of every length and mix of commas, quotes and line ends split as a byte-by-byte
        /// search splits them (the 16-byte blocks and the bytes after them both take part).
        #[test]
        fn split_line_is_a_byte_search(
            head in proptest::collection::vec(proptest::sample::select(b"ab,".to_vec()), 0..70),
            tail in proptest::collection::vec(proptest::sample::select(b"ab,\n\r\"".to_vec()), 0..10),
            base in 0usize..1000,
        ) {
            let rest = [head, tail].concat();
            let (want_end, want_spans) = split_line_naive(&rest, base);
            let mut spans = Vec::new();
            let end = split_line(&rest, base, &mut spans);
            proptest::prop_assert_eq!(end, want_end);
            if end.is_some() {
                proptest::prop_assert_eq!(spans, want_spans);
            }
        }

        /// Lines of every length and mix of commas, quotes and line ends split as the field by
        /// field reading splits them (the 16-byte blocks and the bytes after them both take part).
        #[test]
        fn split_quoted_line_is_a_field_by_field_reading(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec!["a", "bcdefgh", ",", "\"", "\"x,y\"", "\"\"", "\n", "\r"]),
                0..40,
            ),
            base in 0usize..1000,
        ) {
            let rest = tokens.concat().into_bytes();
            let mut spans = Vec::new();
            let end = split_quoted_line(&rest, base, &mut spans);
            let want = split_quoted_line_naive(&rest, base);
            proptest::prop_assert_eq!(end, want.as_ref().map(|w| w.0));
            if let Some((_, want_spans)) = want {
                proptest::prop_assert_eq!(spans, want_spans);
            }
        }

        /// Decimals of 2 to 18 digits (most taken by the fast path, the longest not), leading
        /// zeros and zero integer parts included, read as `str::parse` reads them, bit for bit.
        #[test]
        fn decimals_read_as_str_parse(s in "-?[0-9]{1,9}(\\.[0-9]{1,9})?") {
            proptest::prop_assert_eq!(parse_number(&s).ok().map(f64::to_bits), s.parse::<f64>().ok().map(f64::to_bits), "{}", s);
        }
    }

    #[test]
    fn trim_is_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\n",
            "a b",
            "\u{a0}a",
            "a\u{a0}",
            "\u{2003}",
            "\u{85}x\u{85}",
            "\x01a\x7f",
            "é",
            " é ",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn a_cell_that_is_not_utf8_is_named_by_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let mut body = b"customer_id,timestamp,order_id,amount\nA,2025-01-01,o\xc3\xa9,1\n".to_vec();
        body.extend_from_slice(b"B,2025-01-02,o\xff,2\n");
        std::fs::write(&p, body).unwrap();
        let rename = FxHashMap::default();
        let numeric = vec!["amount".to_owned()];
        let e = load(&p, &spec(&rename, &numeric), None, Tz::UTC).unwrap_err();
        match e {
            InputError::Csv { line, message, .. } => {
                assert_eq!(line, 3);
                assert_eq!(message, "column `order_id` is not valid UTF-8");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn row_order_does_not_matter() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a.csv",
            "customer_id,timestamp,order_id,amount\nB,2025-01-02,o2,5\nA,2025-01-01,o1,3\nA,2025-01-01,o0,4\n",
        );
        let b = write(
            dir.path(),
            "b.csv",
            "customer_id,timestamp,order_id,amount\nA,2025-01-01,o0,4\nA,2025-01-01,o1,3\nB,2025-01-02,o2,5\n",
        );
        let rename = FxHashMap::default();
        let numeric = vec!["amount".to_owned()];
        let ta = load(&a, &spec(&rename, &numeric), None, Tz::UTC).unwrap();
        let tb = load(&b, &spec(&rename, &numeric), None, Tz::UTC).unwrap();
        assert_eq!(ta.strs, tb.strs);
        assert_eq!(ta.customer, tb.customer);
        assert_eq!(ta.num_col(1).unwrap(), &[4.0, 3.0, 5.0]);
        assert_eq!(ta.groups.len(), 2);
        assert_eq!(ta.str_at(0, 0), "o0");
    }

    #[test]
    // A run list of one run is what some of the cases expect.
    #[allow(clippy::single_range_in_vec_init)]
    fn piece_runs_cover_every_piece_once_in_about_equal_shares() {
        let check = |sizes: &[usize], parts: usize, expected: &[Range<usize>]| {
            let runs = piece_runs(sizes, parts);
            assert_eq!(runs, expected, "{sizes:?} in {parts}");
        };
        check(&[], 2, &[0..0]);
        check(&[5], 4, &[0..1]);
        check(&[3, 3, 3, 3], 2, &[0..2, 2..4]);
        check(&[3, 3, 3, 3], 1, &[0..4]);
        check(&[1, 1, 10, 1], 2, &[0..3, 3..4]);
        check(&[4, 0, 0, 4], 3, &[0..1, 1..4]);
        // Whatever the sizes, the runs are consecutive, non-empty but for an empty list, and
        // at most `parts`.
        let mut x: u64 = 3;
        for _ in 0..500 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let sizes: Vec<usize> = (0..(x >> 60) as usize).map(|i| ((x >> (i * 3)) % 7) as usize).collect();
            let parts = 1 + ((x >> 40) % 5) as usize;
            let runs = piece_runs(&sizes, parts);
            assert!(runs.len() <= parts.max(1));
            assert_eq!(runs[0].start, 0);
            assert_eq!(runs[runs.len() - 1].end, sizes.len());
            assert!(runs.windows(2).all(|w| w[0].end == w[1].start && !w[0].is_empty()));
        }
    }

    /// `same_text` and `is_empty_at` read text and symbol columns as `str_at` does.
    #[test]
    fn same_text_and_is_empty_at_agree_with_str_at() {
        let dir = tempfile::tempdir().unwrap();
        let mut body = "customer_id,timestamp,order_id,product\n".to_owned();
        // `order_id` unique enough to be stored as text (over 1,000 rows in the sample, a
        // part of the file), `product` as symbols.
        let n = 8000;
        for i in 0..n {
            let order = if i % 5 == 0 { String::new() } else { format!("o{}", i / 2) };
            body.push_str(&format!("C{},2025-01-01,{order},{}\n", i % 3, ["p", "", "pp"][i % 3]));
        }
        let p = write(dir.path(), "t.csv", &body);
        let rename = FxHashMap::default();
        let t = load(&p, &spec(&rename, &[]), None, Tz::UTC).unwrap();
        assert!(matches!(t.cols[0], Column::Text { .. }), "order_id as text");
        assert!(matches!(t.cols[1], Column::Str(_)), "product as symbols");
        for c in 0..2 {
            for a in 0..t.len() {
                assert_eq!(t.is_empty_at(c, a), t.str_at(c, a).is_empty());
                // Neighbours (where equal order ids lie) and rows far apart.
                for b in [a.saturating_sub(1), a, (a + 1) % n, (a * 7) % n] {
                    assert_eq!(t.same_text(c, a, b), t.str_at(c, a) == t.str_at(c, b), "column {c}, rows {a} {b}");
                }
            }
        }
    }

    /// Rows scattered over the file, out of time order, sharing timestamps: however the file
    /// is cut into pieces, every customer's rows come out in (time, content) order, the lines
    /// still with their rows, and the groups cover each customer's rows.
    #[test]
    fn rows_come_out_per_customer_in_time_then_content_order() {
        // Rows in no order, and the same rows in time order as exports come (only the lines
        // of one moment are then out of content order: the sort takes another way).
        for in_time_order in [false, true] {
            rows_come_out_in_order(in_time_order);
        }
    }

    fn rows_come_out_in_order(in_time_order: bool) {
        let mut rows: Vec<(String, String, String, String, String)> = Vec::new();
        let mut x: u64 = 7;
        for _ in 0..600u32 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let c = format!("C{}", (x >> 33) % 37);
            let day = 1 + (x >> 40) % 3;
            let order = format!("o{}", (x >> 20) % 5);
            let product = ["b", "a", "c"][((x >> 50) % 3) as usize];
            let amount = format!("{}", (x >> 45) % 4);
            rows.push((c, format!("2025-01-0{day}"), order, product.to_owned(), amount));
        }
        if in_time_order {
            rows.sort_by(|a, b| a.1.cmp(&b.1));
        }
        let mut body = "customer_id,timestamp,order_id,product,amount\n".to_owned();
        let mut expected: Vec<(String, String, String, String, String, u32)> = Vec::new();
        for (i, (c, day, order, product, amount)) in rows.into_iter().enumerate() {
            body.push_str(&format!("{c},{day},{order},{product},{amount}\n"));
            expected.push((c, day, order, product, amount, i as u32 + 2));
        }
        // By customer, time, then the tie columns in order; equal rows in file (line) order.
        expected.sort();
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.csv", &body);
        let rename = FxHashMap::default();
        let numeric = vec!["amount".to_owned()];
        let spec = TableSpec { tie_first: &["order_id"], ..spec(&rename, &numeric) };
        for (block, parts) in [(1 << 20, 1), (200, 3), (1000, 7)] {
            let t = load_in_blocks(&p, &spec, None, Tz::UTC, (block, parts)).unwrap();
            let got: Vec<_> = (0..t.len())
                .map(|r| {
                    (
                        t.customer_id(r).to_owned(),
                        format_utc_day(t.ts[r]),
                        t.text_at(0, r).into_owned(),
                        t.text_at(1, r).into_owned(),
                        t.text_at(2, r).into_owned(),
                        t.line[r],
                    )
                })
                .collect();
            assert_eq!(got, expected, "block {block}, {parts} parts, in time order: {in_time_order}");
            let mut covered = 0;
            for (sym, range) in &t.groups {
                assert!(range.clone().all(|r| t.customer[r] == *sym));
                covered += range.len();
            }
            assert_eq!(covered, t.len());
            assert!(t.groups.windows(2).all(|w| t.sym(w[0].0) < t.sym(w[1].0)));
        }
    }

    fn format_utc_day(ts: i64) -> String {
        crate::input::time::format_utc(ts)[..10].to_owned()
    }

    #[test]
    fn text_offsets_widen_past_4_gib() {
        let mut ends = Ends::Narrow(vec![3, 7]);
        ends.push(u32::MAX as usize);
        assert!(matches!(ends, Ends::Narrow(_)));
        ends.push(u32::MAX as usize + 10);
        assert!(matches!(ends, Ends::Wide(_)));
        let got: Vec<(usize, usize)> = (0..ends.len()).map(|i| (ends.start(i), ends.get(i))).collect();
        assert_eq!(got, [(0, 3), (3, 7), (7, u32::MAX as usize), (u32::MAX as usize, u32::MAX as usize + 10)]);
        ends.set(1, 5);
        assert_eq!(ends.get(1), 5);
    }

    #[test]
    fn strings_are_ordered_by_their_bytes() {
        let mut i = Interner::with_capacity(0);
        let words = ["b", "ab", "a", "ab\0", "ab\0x", "abcdefgh", "abcdefgh2", "abcdefgg9", "é", "z", "abcdefgh1"];
        for w in words {
            i.intern(w);
        }
        let got: Vec<&str> = string_order(&i).into_iter().map(|id| i.str(id)).collect();
        let mut expected: Vec<&str> = words.to_vec();
        expected.push("");
        expected.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn bad_number_names_line_column_value() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.csv", "customer_id,timestamp,amount\nA,2025-01-01,4\nA,2025-01-02,12;50\n");
        let rename = FxHashMap::default();
        let numeric = vec!["amount".to_owned()];
        let e = load(&a, &spec(&rename, &numeric), None, Tz::UTC).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("a.csv:3"), "{text}");
        assert!(text.contains("`amount`") && text.contains("12;50"), "{text}");
    }

    /// Transactions with a numeric `amount`.
    fn tx_spec() -> TableSpec<'static> {
        static RENAME: std::sync::OnceLock<FxHashMap<String, String>> = std::sync::OnceLock::new();
        static NUMERIC: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        TableSpec {
            kind: TableKind::Transactions,
            rename: RENAME.get_or_init(FxHashMap::default),
            numeric: NUMERIC.get_or_init(|| vec!["amount".to_owned()]),
            has_time: true,
            tie_first: &[],
        }
    }

    /// The table's rows as `line customer product amount`, in line order.
    fn rows(t: &Table) -> Vec<String> {
        let mut rows: Vec<(u32, String)> = (0..t.len())
            .map(|r| {
                let cells: Vec<String> = (0..t.cols.len()).map(|c| t.text_at(c, r).into_owned()).collect();
                (t.line[r], format!("{} {} {}", t.line[r], t.customer_id(r), cells.join(" ")))
            })
            .collect();
        rows.sort();
        rows.into_iter().map(|(_, r)| r).collect()
    }

    /// Load `body` whole and in small blocks and pieces: always the same rows.
    fn load_every_way(body: &str) -> Result<Vec<String>, String> {
        load_ways(body, &[16, 40, 100, 1 << 20])
    }

    fn load_ways(body: &str, blocks: &[usize]) -> Result<Vec<String>, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.csv", body);
        let spec = tx_spec();
        let dir_prefix = dir.path().join("").display().to_string();
        let text = |e: InputError| e.to_string().replace(&dir_prefix, "");
        let whole = load(&p, &spec, None, Tz::UTC).map(|t| rows(&t)).map_err(text);
        for &block in blocks {
            for parts in [1, 2, 3, 7] {
                let got = load_in_blocks(&p, &spec, None, Tz::UTC, (block, parts)).map(|t| rows(&t)).map_err(text);
                assert_eq!(got, whole, "block {block}, {parts} parts");
            }
        }
        whole
    }

    #[test]
    fn a_stray_quote_before_a_quoted_multiline_field_reads_like_the_csv_crate() {
        // Quote parity takes the `"` of `55"` as opening a field, and then the newline inside
        // `"two\nlines"` for the end of a record.
        let mut body = "customer_id,timestamp,product,amount\nA,2025-01-01,TV 55\" screen,10\n".to_owned();
        for i in 0..6 {
            body.push_str(&format!("B,2025-01-0{},plain,{i}\n", i + 2));
        }
        body.push_str("C,2025-01-03,\"two\nlines, \"\"quoted\"\"\",5\nD,2025-01-04,after,6\n");
        let got = load_every_way(&body).unwrap();
        assert_eq!(got[0], "2 A TV 55\" screen 10");
        assert_eq!(got[7..], ["9 C two\nlines, \"quoted\" 5", "11 D after 6"]);
        // The csv crate reads the same records.
        let mut r = csv::Reader::from_reader(body.as_bytes());
        let products: Vec<String> = r.records().map(|r| r.unwrap()[2].to_owned()).collect();
        assert_eq!(products[0], "TV 55\" screen");
        assert_eq!(products[7], "two\nlines, \"quoted\"");
    }

    #[test]
    fn lines_are_counted_the_same_with_crlf_blank_lines_and_multiline_fields() {
        let lf =
            "customer_id,timestamp,product,amount\nA,2025-01-01,p,1\n\nA,2025-01-02,\"x\ny\",2\nA,2025-01-03,p,3\n";
        let lines = |t: Vec<String>| t.iter().map(|r| r.split(' ').next().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(lines(load_every_way(lf).unwrap()), ["2", "4", "6"]);
        assert_eq!(lines(load_every_way(&lf.replace('\n', "\r\n")).unwrap()), ["2", "4", "6"]);
        // A header over two lines.
        let hdr = "customer_id,timestamp,\"pro\r\nduct\",amount\r\nA,2025-01-01,p,1\r\n";
        assert_eq!(lines(load_every_way(hdr).unwrap()), ["3"]);
    }

    #[test]
    fn errors_name_the_same_line_with_lf_crlf_and_cr() {
        let cases = [
            ("A,someday,p,1\n", "t.csv:2: column `timestamp`: cannot read \"someday\" as a timestamp"),
            (
                "A,2025-01-01,p,1\nA,2025-01-02,\"x\ny\",2\nA,2025-01-03,p,x\n",
                "t.csv:5: column `amount`: \"x\" is not a number",
            ),
            ("A,2025-01-01,p\n", "t.csv:2: this row has 3 fields but the header has 4"),
            (
                "A,2025-01-01,p,1\nA,2025-01-01,p,-1e12\n",
                "t.csv:3: column `amount`: \"-1e12\" is too large: amounts and quantities must be below 1000000000000 (10^12) in magnitude",
            ),
            ("\n\n,2025-01-01,p,1\n", "t.csv:4: `customer_id` is empty"),
        ];
        for (rows, expected) in cases {
            for eol in ["\n", "\r\n", "\r"] {
                let body = format!("customer_id,timestamp,product,amount\n{rows}").replace('\n', eol);
                let err = load_every_way(&body).unwrap_err();
                assert_eq!(err.lines().next().unwrap(), expected, "{body:?}");
            }
        }
    }

    /// A file whose line ends change from line to line (pasted together from two exports)
    /// counts each `\n`, `\r\n` and lone `\r` once, in whatever blocks and pieces it is read.
    #[test]
    fn mixed_line_ends_count_one_line_each() {
        let body =
            "customer_id,timestamp,product,amount\rA,2025-01-01,p,1\r\nB,2025-01-02,\"q\rr\",2\nC,2025-01-03,s,x\r";
        let err = load_every_way(body).unwrap_err();
        assert_eq!(err.lines().next().unwrap(), "t.csv:5: column `amount`: \"x\" is not a number");
        let line_of = |body: &str| {
            let dir = tempfile::tempdir().unwrap();
            let p = write(dir.path(), "t.csv", body);
            load(&p, &tx_spec(), None, Tz::UTC).unwrap().line
        };
        let mut lines = line_of(
            "customer_id,timestamp,product,amount\rA,2025-01-01,p,1\r\rB,2025-01-02,q,2\r\n\r\nC,2025-01-03,r,3",
        );
        lines.sort_unstable();
        assert_eq!(lines, [2, 4, 6]);
    }

    #[test]
    fn duplicate_header_names_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.csv", "customer_id,timestamp,amount,product,amount\nA,2025-01-01,1,p,2\n");
        let tx = tx_spec();
        let expected = "t.csv:1: column `amount` appears twice in the header: columns 3 and 5\n  = help: rename or remove one of them (or map another header)";
        let err = load(&p, &tx, None, Tz::UTC).unwrap_err().to_string();
        assert_eq!(err.replace(&dir.path().join("").display().to_string(), ""), expected);
        let err = read_headers(&p, &tx).unwrap_err().to_string();
        assert_eq!(err.replace(&dir.path().join("").display().to_string(), ""), expected);
        // A mapped header that collides with a column of that name.
        let p = write(dir.path(), "m.csv", "customer_id,timestamp,amount,total\nA,2025-01-01,1,2\n");
        let rename: FxHashMap<String, String> = [("amount".to_owned(), "total".to_owned())].into_iter().collect();
        let numeric = vec!["amount".to_owned()];
        let err = load(&p, &spec(&rename, &numeric), None, Tz::UTC).unwrap_err().to_string();
        assert!(
            err.ends_with("m.csv:1: column `amount` appears twice in the header: columns 3 and 4\n  column 4 is headed `total`, mapped to `amount` (--column / columns:)\n  = help: rename or remove one of them (or map another header)"),
            "{err}"
        );
        // A column mapped from a header the file lacks is missing, not read from the header
        // of its standard name.
        let p = write(dir.path(), "n.csv", "customer_id,timestamp,amount\nA,2025-01-01,1\n");
        assert_eq!(read_headers(&p, &spec(&rename, &numeric)).unwrap(), ["customer_id", "timestamp", ""]);
        // Unnamed columns cannot be mixed up.
        let p = write(dir.path(), "e.csv", "customer_id,timestamp,,\nA,2025-01-01,,\n");
        assert_eq!(load(&p, &tx, None, Tz::UTC).unwrap().len(), 1);
    }

    #[test]
    fn a_folder_or_a_missing_file_is_said_once() {
        let dir = tempfile::tempdir().unwrap();
        let spec = tx_spec();
        let d = dir.path().join("d");
        std::fs::create_dir(&d).unwrap();
        for err in [load(&d, &spec, None, Tz::UTC).unwrap_err(), read_headers(&d, &spec).unwrap_err()] {
            assert_eq!(err.to_string(), format!("cannot read {}: it is a folder, not a CSV file", d.display()));
        }
        let m = dir.path().join("missing.csv");
        let err = load(&m, &spec, None, Tz::UTC).unwrap_err();
        let text = format!("{:#}", anyhow::Error::new(err).context("loading"));
        assert_eq!(text, format!("loading: cannot read {}: No such file or directory (os error 2)", m.display()));
    }

    #[test]
    fn nan_inf_and_out_of_range_numbers_are_not_numbers() {
        for bad in ["nan", "NaN", "inf", "-inf", "infinity", "1e400", "-1e400"] {
            let body = format!("customer_id,timestamp,product,amount\nA,2025-01-01,p,{bad}\n");
            let err = load_every_way(&body).unwrap_err();
            assert_eq!(err.lines().next().unwrap(), format!("t.csv:2: column `amount`: \"{bad}\" is not a number"));
        }
        let ok = load_every_way("customer_id,timestamp,product,amount\nA,2025-01-01,p,1e3\nA,2025-01-02,p,\n");
        assert_eq!(ok.unwrap(), ["2 A p 1000", "3 A p "]);
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "9".repeat(10_000_000);
        let body = format!("customer_id,timestamp,product,amount\nA,2025-01-01,p,{long}\n");
        let err = load_ways(&body, &[1 << 20]).unwrap_err();
        let shown = format!("\"{}…\" (10000000 characters)", "9".repeat(79));
        assert_eq!(err.lines().next().unwrap(), format!("t.csv:2: column `amount`: {shown} is not a number"));
        let body = format!("customer_id,timestamp,product,amount\nA,{}2025,p,1\n", "é".repeat(100));
        let err = load_ways(&body, &[1 << 20]).unwrap_err();
        let shown = format!("\"{}…\" (104 characters)", "é".repeat(79));
        assert_eq!(
            err.lines().next().unwrap(),
            format!("t.csv:2: column `timestamp`: cannot read {shown} as a timestamp")
        );
        // Exactly 80 characters are shown whole.
        assert_eq!(super::super::quoted(&"x".repeat(80)), format!("{:?}", "x".repeat(80)));
        assert_eq!(super::super::ticked(&"x".repeat(81)), format!("`{}…` (81 characters)", "x".repeat(79)));
    }

    #[test]
    fn a_byte_order_mark_is_dropped_at_the_start_only() {
        let body = "\u{feff}customer_id,timestamp,product,amount\nA,2025-01-01,\u{feff}p,1\n\u{feff}B,2025-01-01,p,2\n";
        assert_eq!(load_every_way(body).unwrap(), ["2 A \u{feff}p 1", "3 \u{feff}B p 2"]);
    }

    #[test]
    fn a_quote_never_closed_is_reported_where_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "customer_id,timestamp,product,amount\nA,2025-01-01,p,1\nB,2025-01-01,\"open{}\n",
            "\nx".repeat(600)
        );
        let p = write(dir.path(), "t.csv", &body);
        let err = load_in_blocks(&p, &tx_spec(), None, Tz::UTC, (100, 3)).unwrap_err();
        assert!(err.to_string().ends_with("t.csv:3: a quoted field is never closed"), "{err}");
    }

    /// Lines ended by `\r` alone (Excel for Mac) are lines for the block reader and the piece
    /// cutter too: such a file is read a block at a time and parsed in pieces, not read whole
    /// as one line (a 10M-row file took 322 s and 1.4 GB that way, against 4.7 s).
    #[test]
    fn lines_ended_by_a_carriage_return_alone_are_cut_like_others() {
        let body = "customer_id,timestamp,product,amount\rA,2025-01-01,p,1\rB,2025-01-02,q,2\rC,2025-01-03,r,3\r";
        // A `\r` ending the bytes read so far may be half of a `\r\n`: the line waits.
        assert_eq!(whole_lines(body.as_bytes(), false), body.len() - "C,2025-01-03,r,3\r".len());
        assert_eq!(whole_lines(body.as_bytes(), true), body.len());
        assert_eq!(whole_lines(b"a,b\rc,", false), 4);
        assert_eq!(whole_lines(b"a,b\r\nc\r", false), 5);
        let cuts = cut_points(body.as_bytes(), 3);
        assert_eq!(cuts.len(), 4, "{cuts:?}");
        assert!(cuts[1..3].iter().all(|&c| body.as_bytes()[c - 1] == b'\r'), "{cuts:?}");
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.csv", body);
        let t = load_in_blocks(&p, &tx_spec(), None, Tz::UTC, (24, 3)).unwrap();
        assert_eq!((0..t.len()).map(|r| t.customer_id(r)).collect::<Vec<_>>(), ["A", "B", "C"]);
    }

    /// A quote still open where the file ends is an error at the line it opens on, in the
    /// header, in a last line with or without its newline, and in a field that would swallow
    /// the lines after it; quotes that close, a doubled quote and a quote inside an unquoted
    /// field are values.
    #[test]
    fn a_quote_open_at_the_end_of_the_file_is_never_closed() {
        let dir = tempfile::tempdir().unwrap();
        let head = "customer_id,timestamp,product,amount\n";
        for (body, line) in [
            (format!("{head}A,2025-01-01,\"p,1\n"), 2),
            (format!("{head}A,2025-01-01,p,\"1"), 2),
            (format!("{head}A,2025-01-01,p,1\nB,2025-01-01,\"p,2\nC,2025-01-02,p,3\n"), 3),
            (format!("{head}A,2025-01-01,\"p\"\"q,1\n"), 2),
            ("customer_id,timestamp,\"product,amount\n".to_owned(), 1),
        ] {
            let p = write(dir.path(), "t.csv", &body);
            for (block, parts) in [(1 << 20, 1), (8, 3)] {
                let err = load_in_blocks(&p, &tx_spec(), None, Tz::UTC, (block, parts)).unwrap_err();
                let want = format!("t.csv:{line}: a quoted field is never closed");
                assert!(err.to_string().ends_with(&want), "{body:?} ({block}): {err}");
            }
        }
        for body in [
            format!("{head}A,2025-01-01,\"p\",1"),
            format!("{head}A,2025-01-01,\"p\"\"q\",1\n"),
            format!("{head}A,2025-01-01,5\" tv,1\n"),
            format!("{head}A,2025-01-01,\"p\"x,1\n"),
        ] {
            let p = write(dir.path(), "t.csv", &body);
            let t = load_in_blocks(&p, &tx_spec(), None, Tz::UTC, (8, 3)).unwrap_or_else(|e| panic!("{body:?}: {e}"));
            assert_eq!(t.len(), 1, "{body:?}");
        }
        assert!(ends_inside_quotes(b"a,\"b") && ends_inside_quotes(b"\"a\"\"b") && ends_inside_quotes(b"a,\"b\nc"));
        assert!(!ends_inside_quotes(b"a,\"b\"") && !ends_inside_quotes(b"a\"b") && !ends_inside_quotes(b"\"a\"b\""));
    }

    /// A quoted field a little under eight blocks long is a value, however the reads fall:
    /// the limit is judged on what was parsed, not on the block read beside it.
    #[test]
    fn a_long_quoted_field_that_closes_is_read() {
        let dir = tempfile::tempdir().unwrap();
        for len in [700, 760, 800, 830] {
            let body = format!(
                "customer_id,timestamp,product,amount\nA,2025-01-01,\"{}\",1\nB,2025-01-02,p,2\n",
                "\nx".repeat(len / 2)
            );
            let p = write(dir.path(), "t.csv", &body);
            let t = load_in_blocks(&p, &tx_spec(), None, Tz::UTC, (100, 3)).unwrap_or_else(|e| panic!("{len}: {e}"));
            assert_eq!(t.len(), 2, "{len}");
        }
    }

    /// Raw records with the line each starts on, as the block reader splits and reads them.
    /// Records with the line each starts on.
    type Lines = Vec<(u64, Vec<Vec<u8>>)>;

    /// (Err: the line of a record whose quote the end of the file leaves open.)
    fn raw_records(body: &[u8], block: usize, parts: usize) -> Result<Lines, u64> {
        let path = Path::new("t.csv");
        let open_quote = |e: InputError| match e {
            InputError::Csv { line, message, .. } if message == "a quoted field is never closed" => line,
            e => panic!("{e}"),
        };
        let mut reader: &[u8] = body;
        let (mut buf, mut eof) = (Vec::new(), false);
        let Some(header) = read_header(path, &mut reader, &mut buf, &mut eof, block).map_err(open_quote)? else {
            return Ok(Vec::new());
        };
        let mut first = Records::new(&buf[..header.end], 1, true, true);
        assert_eq!(first.next(), Next::Record);
        let mut out = vec![(header.line, (0..first.len).map(|i| first.field(i).to_vec()).collect())];
        buf.drain(..header.end);
        type Rows = Vec<(u64, Vec<Vec<u8>>)>;
        let parse = |bytes: &[u8], line: u64, at_eof: bool, _: Option<usize>| -> Result<Parsed<Rows>, InputError> {
            let mut rec = Records::new(bytes, line, at_eof, false);
            let mut piece = Vec::new();
            loop {
                match rec.next() {
                    Next::Record => piece.push((rec.line, (0..rec.len).map(|i| rec.field(i).to_vec()).collect())),
                    Next::End => return Ok(Parsed { piece, cut_off: None }),
                    Next::OpenQuote => return Err(never_closed(path, rec.line)),
                    Next::Unterminated => return Ok(Parsed { piece, cut_off: Some((rec.start, rec.line)) }),
                }
            }
        };
        let pieces =
            read_records(path, &mut reader, buf, eof, header.end_line, (block, parts), &parse).map_err(open_quote)?;
        out.extend(pieces.into_iter().flatten());
        Ok(out)
    }

    /// What kairos should make of the whole file: the csv crate's records, or, where the end
    /// of the file leaves a quote open, an error at the line of the last record. (A quote
    /// is open at the end exactly when one more `,` would be text of the last field rather
    /// than end it: the records and their fields stay as many.)
    fn csv_crate_reading(body: &[u8]) -> Result<Lines, u64> {
        let records = csv_crate_records(body);
        let mut more = body.to_vec();
        more.push(b',');
        let shape = |r: &[(u64, Vec<Vec<u8>>)]| (r.len(), r.last().map(|(_, f)| f.len()));
        match records.last() {
            Some((line, _)) if shape(&csv_crate_records(&more)) == shape(&records) => Err(*line),
            _ => Ok(records),
        }
    }

    /// The csv crate's reading of the whole file, each record with the line of its first byte.
    fn csv_crate_records(body: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
        let mut out = Vec::new();
        let mut rec = csv::ByteRecord::new();
        while r.read_byte_record(&mut rec).unwrap() {
            let mut at = rec.position().unwrap().byte() as usize;
            if at == 0 && body.starts_with(b"\xef\xbb\xbf") {
                at = 3;
            }
            while matches!(body.get(at), Some(b'\n' | b'\r')) {
                at += 1;
            }
            // Lines end at a `\n`, a `\r\n` or a `\r` alone.
            let ends = (0..at).filter(|&i| body[i] == b'\n' || (body[i] == b'\r' && body.get(i + 1) != Some(&b'\n')));
            let line = 1 + ends.count() as u64;
            out.push((line, rec.iter().map(<[u8]>::to_vec).collect()));
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// However a file is cut into blocks and pieces, its records and their lines are the
        /// csv crate's reading of the whole file (or, with a quote the end leaves open, the
        /// error at that record).
        #[test]
        fn blocks_and_pieces_read_like_the_whole_file(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec!["a", "b c", ",", "\"", "\"\"", "\n", "\r", "\r\n", "\u{feff}"]),
                0..60,
            ),
            block in 24usize..120,
            parts in 1usize..6,
        ) {
            let body = tokens.concat();
            proptest::prop_assert_eq!(raw_records(body.as_bytes(), block, parts), csv_crate_reading(body.as_bytes()));
        }

        /// Files as quote-all exports write them (every field quoted or not, of lengths that
        /// put quotes at every place of a 16-byte block, any line ends, a byte-order mark),
        /// with a few bytes overwritten by quotes, commas, line ends or others: read as the
        /// csv crate reads them, whether the quote-aware split takes a line or leaves it to
        /// csv-core.
        #[test]
        fn quoted_exports_read_like_the_csv_crate(
            lines in proptest::collection::vec(
                proptest::collection::vec((0usize..40, proptest::bool::ANY), 1..6),
                1..6,
            ),
            ends in proptest::collection::vec(proptest::sample::select(vec!["\n", "\r", "\r\n", "\n\n", ""]), 6),
            bom in proptest::bool::ANY,
            edits in proptest::collection::vec(
                (proptest::num::usize::ANY, proptest::sample::select(b"\",\n\r x".to_vec())),
                0..3,
            ),
            parts in 1usize..4,
        ) {
            let mut body = if bom { b"\xef\xbb\xbf".to_vec() } else { Vec::new() };
            for (k, fields) in lines.iter().enumerate() {
                for (i, &(len, quoted)) in fields.iter().enumerate() {
                    if i > 0 {
                        body.push(b',');
                    }
                    let text = (0..len).map(|j| b'a' + (j % 26) as u8);
                    if quoted {
                        body.push(b'"');
                        body.extend(text);
                        body.push(b'"');
                    } else {
                        body.extend(text);
                    }
                }
                body.extend_from_slice(ends[k].as_bytes());
            }
            for &(at, byte) in &edits {
                if !body.is_empty() {
                    let at = at % body.len();
                    body[at] = byte;
                }
            }
            // (A byte-order mark an edit broke is not UTF-8: an error of the header's, tested
            // in `tests/cli/inputs.rs`.)
            proptest::prop_assume!(std::str::from_utf8(&body).is_ok());
            proptest::prop_assert_eq!(raw_records(&body, 4096, parts), csv_crate_reading(&body));
        }
    }
}
