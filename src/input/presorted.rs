//! `--presorted`: a table read a batch of customers at a time, for inputs already sorted by
//! customer id. Memory holds one batch and the block being read (and `run` reads the next
//! batch while the current one is evaluated: two batches), whatever the size of the
//! file; the promise is checked on every row, and a row whose key is below the one before it
//! is an error naming both lines.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use super::{parse_block, sort_rows, whole_lines, Opened, Piece, ReadOpts, Shard, Table, TableKind, TableSpec};
use crate::input::InputError;

/// One sorted table, read in order.
pub struct SortedTable {
    path: PathBuf,
    kind: TableKind,
    /// The spec's tie-breaking columns (`TableSpec::tie_first`).
    tie_first: Vec<String>,
    opened: Opened,
    format: Option<String>,
    tz: chrono_tz::Tz,
    shard: Shard,
    /// The line `opened.buf` starts on.
    next_line: u64,
    block: usize,
    parts: usize,
    /// Parsed rows not yet handed out, in file order.
    pending: VecDeque<Piece>,
    /// The key of the last record parsed, and its line.
    last_key: Option<(String, u64)>,
}

impl SortedTable {
    /// Open `path` and read its header; `block` bytes are read at a time.
    pub fn open(
        path: &Path,
        spec: &TableSpec<'_>,
        format: Option<&str>,
        tz: chrono_tz::Tz,
        shard: Shard,
        block: usize,
        progress: &indicatif::ProgressBar,
    ) -> Result<Self, InputError> {
        let parts = rayon::current_num_threads().max(1) * 2;
        let mut opened = Opened::open(path, spec, block, progress)?;
        let opts = ReadOpts { format, tz, shard, presorted: true };
        opened.decide_storage(path, (block, parts), &opts)?;
        let tie_first = spec.tie_first.iter().map(|&c| c.to_owned()).collect();
        let next_line = opened.header.end_line;
        Ok(Self {
            path: path.to_path_buf(),
            kind: spec.kind,
            tie_first,
            opened,
            format: format.map(str::to_owned),
            tz,
            shard,
            next_line,
            block,
            parts,
            pending: VecDeque::new(),
            last_key: None,
        })
    }

    /// The canonical names of the file's columns.
    pub fn names(&self) -> &[String] {
        &self.opened.names
    }

    /// Parse the next block into `pending`. False at the end of the file.
    fn read_block(&mut self) -> Result<bool, InputError> {
        loop {
            let lines = whole_lines(&self.opened.buf, self.opened.eof);
            if lines > 0 {
                let opts = ReadOpts { format: self.format.as_deref(), tz: self.tz, shard: self.shard, presorted: true };
                let (pieces, done, line) = {
                    let lay = self.opened.layout(&self.path, &opts);
                    let parse = |bytes: &[u8], line: u64, at_eof: bool, newlines: Option<usize>| {
                        super::parse_piece(bytes, line, at_eof, newlines, &lay)
                    };
                    parse_block(&self.opened.buf[..lines], self.next_line, self.opened.eof, self.parts, &parse)?
                };
                self.opened.buf.drain(..done);
                self.next_line = line;
                let any = done > 0;
                for p in pieces {
                    self.check_order(&p)?;
                    if p.last_key.is_some() {
                        self.last_key.clone_from(&p.last_key);
                    }
                    self.pending.push_back(p);
                }
                if done == 0 && self.opened.buf.len() > 8 * self.block {
                    // Nothing ends the first record: a quote is never closed.
                    return Err(super::never_closed(&self.path, self.next_line));
                }
                if any {
                    return Ok(true);
                }
            }
            if self.opened.eof && self.opened.buf.is_empty() {
                return Ok(false);
            }
            super::fill(&self.path, &mut self.opened.reader, &mut self.opened.buf, &mut self.opened.eof, self.block)?;
        }
    }

    /// A piece's first key is not below the last key read before it.
    fn check_order(&self, p: &Piece) -> Result<(), InputError> {
        if let (Some((prev, prev_line)), Some((first, line))) = (&self.last_key, &p.first_key) {
            if first < prev {
                return Err(InputError::NotSorted {
                    path: self.path.clone(),
                    line: *line,
                    column: self.kind.key(),
                    id: first.clone(),
                    previous: prev.clone(),
                    previous_line: *prev_line,
                });
            }
        }
        Ok(())
    }

    /// Has every row of the file been handed out (read to its end, nothing pending)?
    pub fn is_exhausted(&self) -> bool {
        self.opened.eof && self.opened.buf.is_empty() && self.pending.iter().all(|p| p.customer.is_empty())
    }

    /// The key of the last record read.
    pub fn last_key(&self) -> Option<&str> {
        self.last_key.as_ref().map(|(k, _)| k.as_str())
    }

    /// The key up to which the next batch of this (driving) table is whole: the last customer
    /// read before the one whose rows may go on in the next block. `None` at the end of the
    /// file: everything left is whole.
    pub fn boundary(&mut self) -> Result<Option<String>, InputError> {
        loop {
            if let Some((last, _)) = &self.last_key {
                let found = self.pending.iter().rev().find_map(|p| {
                    p.runs.iter().rev().map(|&(_, sym)| p.interner.str(sym)).find(|k| k < &last.as_str())
                });
                // At least one block read since the last batch (pending holds more than the
                // held-back customer), or the file ends.
                if let Some(k) = found {
                    return Ok(Some(k.to_owned()));
                }
            }
            if !self.read_block()? {
                return Ok(None);
            }
        }
    }

    /// The rows of every customer up to and including `upper` (every row left with `None`),
    /// as a table; the rows after stay for the next call.
    pub fn take_through(&mut self, upper: Option<&str>) -> Result<Table, InputError> {
        // Read until a key past `upper` has been read, or the file ends.
        loop {
            let past = match (upper, &self.last_key) {
                (Some(u), Some((k, _))) => k.as_str() > u,
                _ => false,
            };
            if past || !self.read_block()? {
                break;
            }
        }
        let mut taken = Vec::new();
        while let Some(mut p) = self.pending.pop_front() {
            let cut = upper.and_then(|u| {
                let k = p.runs.partition_point(|&(_, sym)| p.interner.str(sym) <= u);
                p.runs.get(k).map(|&(row, _)| row as usize)
            });
            match cut {
                None => taken.push(p),
                Some(row) => {
                    let tail = p.split_off(row);
                    taken.push(p);
                    self.pending.push_front(tail);
                    break;
                }
            }
        }
        let mut table = self.opened.merge(&self.path, self.kind, taken);
        let tie_first: Vec<&str> = self.tie_first.iter().map(String::as_str).collect();
        sort_rows(&mut table, &tie_first);
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use rustc_hash::FxHashMap;

    use super::*;

    /// A sorted transactions file: customer, day, order and a mostly-distinct text column
    /// (stored as text, split with the rows), 3 rows per customer.
    fn file(dir: &Path, customers: usize) -> PathBuf {
        let mut body = String::from("customer_id,timestamp,order_id,note,amount\n");
        for c in 0..customers {
            for r in 0..3 {
                body.push_str(&format!("K{c:04},2025-01-0{},O{c}-{r},\"note, {c}.{r}\",{r}.5\n", 3 - r));
            }
        }
        let p = dir.join("t.csv");
        std::fs::File::create(&p).unwrap().write_all(body.as_bytes()).unwrap();
        p
    }

    /// `f` with the spec of the test files.
    fn with_spec<R>(f: impl FnOnce(&TableSpec<'_>) -> R) -> R {
        let (rename, numeric) = (FxHashMap::default(), vec!["amount".to_owned()]);
        f(&TableSpec {
            kind: TableKind::Transactions,
            rename: &rename,
            numeric: &numeric,
            has_time: true,
            tie_first: &["order_id"],
        })
    }

    fn open(p: &Path, block: usize, shard: Shard) -> SortedTable {
        with_spec(|spec| {
            SortedTable::open(p, spec, None, chrono_tz::UTC, shard, block, &indicatif::ProgressBar::hidden()).unwrap()
        })
    }

    /// Every row of a table as `customer day order note amount`.
    fn rows(t: &Table) -> Vec<String> {
        let (o, n, a) = (t.col("order_id").unwrap(), t.col("note").unwrap(), t.col("amount").unwrap());
        (0..t.len())
            .map(|r| {
                format!("{} {} {} {} {}", t.customer_id(r), t.ts[r], t.str_at(o, r), t.text_at(n, r), t.num_at(a, r))
            })
            .collect()
    }

    /// Batches as the driver reads them: up to the boundary, then the rest.
    fn batches(t: &mut SortedTable) -> Vec<Table> {
        let mut out = Vec::new();
        loop {
            let upper = t.boundary().unwrap();
            out.push(t.take_through(upper.as_deref()).unwrap());
            if upper.is_none() {
                return out;
            }
        }
    }

    #[test]
    fn batches_hold_whole_customers_and_together_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(dir.path(), 300);
        let whole = with_spec(|spec| rows(&super::super::load(&p, spec, None, chrono_tz::UTC).unwrap()));
        for block in [1 << 20, 4096, 97, 1] {
            let got = batches(&mut open(&p, block, Shard::ALL));
            if block < 4096 {
                assert!(got.len() > 100, "{block}-byte blocks make many batches");
            }
            let mut seen = std::collections::BTreeSet::new();
            for b in &got {
                for (sym, range) in &b.groups {
                    assert_eq!(range.len(), 3, "a customer's rows are in one batch");
                    assert!(seen.insert(b.sym(*sym).to_owned()), "and in one batch only");
                }
            }
            let all: Vec<String> = got.iter().flat_map(rows).collect();
            assert_eq!(all, whole, "{block}-byte blocks");
        }
    }

    #[test]
    fn take_through_stops_after_the_last_customer_named_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(dir.path(), 50);
        let mut t = open(&p, 200, Shard::ALL);
        let first = t.take_through(Some("K0009")).unwrap();
        assert_eq!(first.groups.len(), 10);
        assert_eq!(first.customer_id(first.len() - 1), "K0009");
        // A key between customers, then one before everything left: nothing more.
        let second = t.take_through(Some("K0012x")).unwrap();
        assert_eq!(rows(&second).first().unwrap().split(' ').next(), Some("K0010"));
        assert_eq!(second.groups.len(), 3);
        assert_eq!(t.take_through(Some("K0001")).unwrap().len(), 0);
        let rest = t.take_through(None).unwrap();
        assert_eq!(rest.groups.len(), 37);
        assert_eq!(rest.customer_id(0), "K0013");
    }

    #[test]
    fn a_shard_reads_only_its_customers_in_whole_batches() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(dir.path(), 200);
        let mut ids = Vec::new();
        for k in 1..=3 {
            for b in batches(&mut open(&p, 500, Shard::new(k, 3).unwrap())) {
                for (sym, range) in &b.groups {
                    assert_eq!(range.len(), 3);
                    assert!(Shard::new(k, 3).unwrap().keeps(b.sym(*sym).as_bytes()));
                    ids.push(b.sym(*sym).to_owned());
                }
            }
        }
        ids.sort();
        assert_eq!(ids, (0..200).map(|c| format!("K{c:04}")).collect::<Vec<_>>());
    }

    #[test]
    fn a_key_below_the_one_before_is_an_error_within_a_block_and_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let body = "customer_id,timestamp\nA,2025-01-01\nB,2025-01-01\nB,2025-01-02\nC,2025-01-01\nB,2025-01-03\n";
        std::fs::write(&p, body).unwrap();
        for block in [1, 9, 1 << 20] {
            let mut t = open(&p, block, Shard::ALL);
            let err = loop {
                match t.boundary().and_then(|u| t.take_through(u.as_deref()).map(|_| u)) {
                    Err(e) => break e,
                    Ok(None) => panic!("{block}: the disorder went unnoticed"),
                    Ok(Some(_)) => {}
                }
            };
            match err {
                InputError::NotSorted { line, previous_line, id, previous, .. } => {
                    assert_eq!((line, previous_line, id.as_str(), previous.as_str()), (6, 5, "B", "C"), "{block}");
                }
                e => panic!("{block}: {e}"),
            }
        }
    }
}
