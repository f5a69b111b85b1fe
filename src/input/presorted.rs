//! `--presorted`: a table read a batch of customers at a time, for inputs already sorted by
//! customer id. Memory holds one batch and the block being read, whatever the size of the
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
    tie_first: Vec<&'static str>,
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
        let tie_first = match spec.kind {
            TableKind::Transactions => vec!["order_id", "product", "category"],
            TableKind::Events | TableKind::Catalog => vec!["type"],
            TableKind::Customers => vec![],
        };
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
                    let parse = |bytes: &[u8], line: u64, at_eof: bool| super::parse_piece(bytes, line, at_eof, &lay);
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
        sort_rows(&mut table, &self.tie_first);
        Ok(table)
    }
}
