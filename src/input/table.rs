//! One input CSV held in columns: interned strings and numbers, rows sorted per customer in
//! time order with ties broken by content, so nothing downstream depends on input row order.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::time::TimeParser;
use super::InputError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableKind {
    Transactions,
    Customers,
    Events,
}

impl TableKind {
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Transactions => "transactions",
            TableKind::Customers => "customers",
            TableKind::Events => "events",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Str,
    Num,
}

#[derive(Debug)]
pub enum Column {
    Str(Vec<u32>),
    Num(Vec<f64>),
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
}

impl Table {
    pub fn len(&self) -> usize {
        self.customer.len()
    }
    pub fn is_empty(&self) -> bool {
        self.customer.is_empty()
    }
    pub fn col(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    pub fn sym(&self, s: u32) -> &str {
        &self.strs[s as usize]
    }
    pub fn customer_id(&self, row: usize) -> &str {
        self.sym(self.customer[row])
    }
    pub fn str_at(&self, col: usize, row: usize) -> &str {
        match &self.cols[col] {
            Column::Str(v) => self.sym(v[row]),
            Column::Num(_) => "",
        }
    }
    pub fn num_at(&self, col: usize, row: usize) -> f64 {
        match &self.cols[col] {
            Column::Num(v) => v[row],
            Column::Str(_) => f64::NAN,
        }
    }
    /// A cell as text, numbers in their shortest form (for output and explanations).
    pub fn text_at(&self, col: usize, row: usize) -> String {
        match &self.cols[col] {
            Column::Str(v) => self.sym(v[row]).to_owned(),
            Column::Num(v) if v[row].is_nan() => String::new(),
            Column::Num(v) => format_num(v[row]),
        }
    }
    pub fn sym_col(&self, col: usize) -> Option<&[u32]> {
        match &self.cols[col] {
            Column::Str(v) => Some(v),
            Column::Num(_) => None,
        }
    }
    pub fn num_col(&self, col: usize) -> Option<&[f64]> {
        match &self.cols[col] {
            Column::Num(v) => Some(v),
            Column::Str(_) => None,
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
    match File::open(path) {
        Ok(f) => Ok(Box::new(BufReader::with_capacity(1 << 20, f))),
        Err(source) => Err(InputError::Open { path: path.to_path_buf(), source }),
    }
}

/// The header row of a CSV, mapped to canonical names.
pub fn read_headers(path: &Path, spec: &TableSpec<'_>) -> Result<Vec<String>, InputError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(open(path)?);
    let headers = rdr
        .byte_headers()
        .map_err(|e| csv_error(path, &e))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().trim_start_matches('\u{feff}').to_owned())
        .collect::<Vec<_>>();
    Ok(canonical_names(&headers, spec))
}

fn canonical_names(headers: &[String], spec: &TableSpec<'_>) -> Vec<String> {
    headers
        .iter()
        .map(|h| spec.rename.iter().find(|(_, from)| *from == h).map_or_else(|| h.clone(), |(to, _)| to.clone()))
        .collect()
}

fn csv_error(path: &Path, e: &csv::Error) -> InputError {
    let line = e.position().map_or(0, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("this row has {len} fields but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_owned(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    };
    InputError::Csv { path: path.to_path_buf(), line, message }
}

struct Interner {
    map: FxHashMap<Box<str>, u32>,
    strs: Vec<Box<str>>,
}

impl Interner {
    fn new() -> Self {
        let mut i = Self { map: FxHashMap::default(), strs: Vec::new() };
        i.intern("");
        i
    }
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.map.get(s) {
            return id;
        }
        let id = self.strs.len() as u32;
        let b: Box<str> = s.into();
        self.strs.push(b.clone());
        self.map.insert(b, id);
        id
    }
}

/// Read a whole table. Every bad cell is an error naming file, line, column and value.
pub fn load(path: &Path, spec: &TableSpec<'_>, time: &mut TimeParser) -> Result<Table, InputError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(open(path)?);
    let raw_headers: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| csv_error(path, &e))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let names = canonical_names(&raw_headers, spec);
    let find = |name: &str| names.iter().position(|n| n == name);
    let missing = |column: &str| InputError::MissingColumn {
        path: path.to_path_buf(),
        table: spec.kind,
        column: column.to_owned(),
        header: spec.rename.get(column).cloned(),
        found: raw_headers.clone(),
    };
    let cust_idx = find("customer_id").ok_or_else(|| missing("customer_id"))?;
    let ts_idx = if spec.has_time { Some(find("timestamp").ok_or_else(|| missing("timestamp"))?) } else { None };
    if spec.kind == TableKind::Events && find("type").is_none() {
        return Err(missing("type"));
    }
    // Data columns: everything but the key columns, in header order.
    let data_idx: Vec<usize> = (0..names.len()).filter(|&i| i != cust_idx && Some(i) != ts_idx).collect();
    let types: Vec<ColType> =
        data_idx.iter().map(|&i| if spec.numeric.contains(&names[i]) { ColType::Num } else { ColType::Str }).collect();
    let mut cols: Vec<Column> = types
        .iter()
        .map(|t| match t {
            ColType::Str => Column::Str(Vec::new()),
            ColType::Num => Column::Num(Vec::new()),
        })
        .collect();
    let mut interner = Interner::new();
    let mut customer = Vec::new();
    let mut ts = Vec::new();
    let mut line = Vec::new();
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, &e)),
        }
        let ln = rec.position().map_or(0, |p| p.line());
        let field = |i: usize| -> Result<&str, InputError> {
            let b = rec.get(i).unwrap_or_default();
            std::str::from_utf8(b).map(str::trim).map_err(|_| InputError::Csv {
                path: path.to_path_buf(),
                line: ln,
                message: format!("column `{}` is not valid UTF-8", raw_headers[i]),
            })
        };
        let cid = field(cust_idx)?;
        if cid.is_empty() {
            return Err(InputError::EmptyCustomerId { path: path.to_path_buf(), line: ln });
        }
        customer.push(interner.intern(cid));
        if let Some(t) = ts_idx {
            let raw = field(t)?;
            let v = time.parse(raw).ok_or_else(|| InputError::BadTimestamp {
                path: path.to_path_buf(),
                line: ln,
                column: raw_headers[t].clone(),
                value: raw.to_owned(),
                expected: String::new(),
            })?;
            ts.push(v);
        }
        line.push(ln.min(u64::from(u32::MAX)) as u32);
        for (k, &i) in data_idx.iter().enumerate() {
            let raw = field(i)?;
            match &mut cols[k] {
                Column::Str(v) => v.push(interner.intern(raw)),
                Column::Num(v) => {
                    let n = if raw.is_empty() {
                        f64::NAN
                    } else {
                        match raw.parse::<f64>() {
                            Ok(n) if n.is_finite() => n,
                            _ => {
                                return Err(InputError::BadNumber {
                                    path: path.to_path_buf(),
                                    line: ln,
                                    column: raw_headers[i].clone(),
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
    let mut table = Table {
        kind: spec.kind,
        path: path.to_path_buf(),
        names: data_idx.iter().map(|&i| names[i].clone()).collect(),
        types,
        cols,
        strs: Vec::new(),
        customer,
        ts,
        line,
        groups: Vec::new(),
    };
    canonicalise(&mut table, interner);
    sort_rows(&mut table, spec.tie_first);
    Ok(table)
}

/// Renumber symbols so that symbol order is string order, whatever order rows arrived in.
fn canonicalise(table: &mut Table, interner: Interner) {
    let Interner { strs, map } = interner;
    drop(map);
    let mut order: Vec<u32> = (0..strs.len() as u32).collect();
    order.par_sort_unstable_by(|&a, &b| strs[a as usize].cmp(&strs[b as usize]));
    let mut remap = vec![0u32; strs.len()];
    for (new, &old) in order.iter().enumerate() {
        remap[old as usize] = new as u32;
    }
    let mut strs: Vec<Option<Box<str>>> = strs.into_iter().map(Some).collect();
    table.strs = order.iter().map(|&old| strs[old as usize].take().unwrap_or_default()).collect();
    table.customer.par_iter_mut().for_each(|s| *s = remap[*s as usize]);
    for col in &mut table.cols {
        if let Column::Str(v) = col {
            v.par_iter_mut().for_each(|s| *s = remap[*s as usize]);
        }
    }
}

fn sort_rows(table: &mut Table, tie_first: &[&str]) {
    let n = table.len();
    let mut tie_cols: Vec<usize> = tie_first.iter().filter_map(|c| table.col(c)).collect();
    for i in 0..table.cols.len() {
        if !tie_cols.contains(&i) {
            tie_cols.push(i);
        }
    }
    let mut perm: Vec<u32> = (0..n as u32).collect();
    {
        let t = &*table;
        perm.par_sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            t.customer[a]
                .cmp(&t.customer[b])
                .then_with(|| if t.ts.is_empty() { std::cmp::Ordering::Equal } else { t.ts[a].cmp(&t.ts[b]) })
                .then_with(|| {
                    for &c in &tie_cols {
                        let o = match &t.cols[c] {
                            Column::Str(v) => v[a].cmp(&v[b]),
                            Column::Num(v) => v[a].total_cmp(&v[b]),
                        };
                        if o.is_ne() {
                            return o;
                        }
                    }
                    std::cmp::Ordering::Equal
                })
        });
    }
    fn apply<T: Copy + Send + Sync>(v: &mut Vec<T>, perm: &[u32]) {
        if v.is_empty() {
            return;
        }
        let out: Vec<T> = perm.par_iter().map(|&i| v[i as usize]).collect();
        *v = out;
    }
    apply(&mut table.customer, &perm);
    apply(&mut table.ts, &perm);
    // Lines stay with their rows so warnings can still point into the file.
    apply(&mut table.line, &perm);
    for col in &mut table.cols {
        match col {
            Column::Str(v) => apply(v, &perm),
            Column::Num(v) => apply(v, &perm),
        }
    }
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || table.customer[i] != table.customer[start] {
            groups.push((table.customer[start], start..i));
            start = i;
        }
    }
    table.groups = groups;
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
        let ta = load(&a, &spec(&rename, &numeric), &mut TimeParser::new(None, Tz::UTC)).unwrap();
        let tb = load(&b, &spec(&rename, &numeric), &mut TimeParser::new(None, Tz::UTC)).unwrap();
        assert_eq!(ta.strs, tb.strs);
        assert_eq!(ta.customer, tb.customer);
        assert_eq!(ta.num_col(1).unwrap(), &[4.0, 3.0, 5.0]);
        assert_eq!(ta.groups.len(), 2);
        assert_eq!(ta.str_at(0, 0), "o0");
    }

    #[test]
    fn bad_number_names_line_column_value() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.csv", "customer_id,timestamp,amount\nA,2025-01-01,4\nA,2025-01-02,12;50\n");
        let rename = FxHashMap::default();
        let numeric = vec!["amount".to_owned()];
        let e = load(&a, &spec(&rename, &numeric), &mut TimeParser::new(None, Tz::UTC)).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("a.csv:3"), "{text}");
        assert!(text.contains("`amount`") && text.contains("12;50"), "{text}");
    }
}
