//! Input stage: read the transactions, customers and events CSVs into columnar tables and
//! join them into one list of customers, each with its rows in time order.

pub mod parquet;
pub mod shard;
pub mod table;
pub mod time;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use rustc_hash::FxHashMap;

use crate::diag::Diagnostic;
pub use crate::model::{ColType, TableKind};
pub use shard::Shard;
pub use table::{ReadTimes, Table, TableSpec};

/// A problem with an input file. It becomes a located `Diagnostic` (`From`), which is how the
/// command line prints it; `Display` is the same on one line per part. `DuplicateColumn` holds
/// the 1-based positions of the two columns and their headers as written (before mapping).
#[derive(Debug)]
pub enum InputError {
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    Folder {
        path: PathBuf,
    },
    DuplicateColumn {
        path: PathBuf,
        line: u64,
        column: String,
        columns: [(usize, String); 2],
    },
    MissingColumn {
        path: PathBuf,
        table: TableKind,
        column: String,
        header: Option<String>,
        found: Vec<String>,
        /// A name the column mapping reads a header as that is nearly `column` (a misspelt
        /// mapping key), and that header.
        mapped: Option<Box<(String, String)>>,
    },
    BadTimestamp {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
        expected: String,
    },
    BadNumber {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    EmptyCustomerId {
        path: PathBuf,
        line: u64,
        column: &'static str,
    },
    DuplicateCustomer {
        path: PathBuf,
        line: u64,
        first: u64,
        id: String,
    },
    /// Two catalogue rows for one item, type and instant: one announcement or two?
    DuplicateItem {
        path: PathBuf,
        line: u64,
        first: u64,
        id: String,
        kind: String,
    },
    /// `--presorted`, and a row whose key is below the one before it.
    NotSorted {
        path: PathBuf,
        line: u64,
        column: &'static str,
        id: String,
        previous: String,
        previous_line: u64,
    },
    StdinTwice,
}

impl From<&InputError> for Diagnostic {
    fn from(e: &InputError) -> Self {
        let at = |path: &Path, line: u64, message: String| {
            if parquet::is_parquet(path) {
                return parquet::located_at(path, line, message);
            }
            Diagnostic::error(path, message).at_line(usize::try_from(line).unwrap_or(usize::MAX))
        };
        match e {
            InputError::Open { path, source } => {
                Diagnostic::error(path, format!("cannot read {}: {source}", path.display()))
            }
            InputError::Folder { path } => {
                Diagnostic::error(path, format!("cannot read {}: it is a folder, not a CSV file", path.display()))
            }
            InputError::DuplicateColumn { path, line, column, columns: [first, second] } => {
                let mut d = at(
                    path,
                    *line,
                    format!(
                        "column {} appears twice in the header: columns {} and {}",
                        ticked(column),
                        first.0,
                        second.0
                    ),
                );
                for (pos, header) in [first, second] {
                    if header != column {
                        d = d.with_note(format!(
                            "column {pos} is headed {}, mapped to {} (--column / columns:)",
                            ticked(header),
                            ticked(column)
                        ));
                    }
                }
                d.with_hint("rename or remove one of them (or map another header)")
            }
            InputError::MissingColumn { path, table, column, header, found, mapped } => Diagnostic::error(
                path,
                format!(
                    "the {} file has no `{column}` column{}",
                    table.name(),
                    header.as_ref().map(|h| format!(" (looked for header `{h}`)")).unwrap_or_default()
                ),
            )
            .with_note(format!(
                "found columns: {}",
                if found.is_empty() {
                    "(none)".to_owned()
                } else {
                    found
                        .iter()
                        .map(|h| cut(h).map_or_else(|| h.clone(), |(head, n)| format!("{head}… ({n} characters)")))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))
            .with_hint(match mapped.as_deref() {
                Some((name, h)) => format!(
                    "the column mapping reads header `{h}` as `{name}`: did you mean `{column}`? (`columns: {{{}: {{{column}: {h}}}}}`)",
                    table.name()
                ),
                None => format!(
                    "name a header with `--column {}.{column}=HEADER` or under `columns:` in kairos.yaml",
                    table.name()
                ),
            }),
            InputError::BadTimestamp { path, line, column, value, expected } => {
                at(path, *line, format!("column {}: cannot read {} as a timestamp", ticked(column), quoted(value)))
                    .with_hint(format!("expected {expected}"))
            }
            InputError::BadNumber { path, line, column, value } => {
                at(path, *line, format!("column {}: {} is not a number", ticked(column), quoted(value))).with_hint(
                    "expected a plain decimal number such as 12.50 (`.` as decimal point, no thousands separator)",
                )
            }
            InputError::Csv { path, line, message } => at(path, *line, message.clone()),
            InputError::EmptyCustomerId { path, line, column } => at(path, *line, format!("`{column}` is empty")),
            InputError::DuplicateCustomer { path, line, first, id } => {
                at(path, *line, format!("customer {} is listed twice (also on {})", ticked(id), place(path, *first)))
            }
            InputError::DuplicateItem { path, line, first, id, kind } => at(
                path,
                *line,
                format!("item {} has two `{kind}` rows at the same time (also on {})", ticked(id), place(path, *first)),
            )
            .with_hint("each row is one announcement: remove the duplicate, or give the rows different times"),
            InputError::NotSorted { path, line, column, id, previous, previous_line } => {
                let before = place(path, *previous_line);
                at(
                    path,
                    *line,
                    format!(
                        "customer {} comes after customer {} (on {before}): --presorted promises rows sorted by `{column}`",
                        ticked(id),
                        ticked(previous)
                    ),
                )
                .with_note("sorted means in byte order of the ids, each customer's rows together (as `ORDER BY customer_id` or `LC_ALL=C sort` give)")
                .with_hint("sort the file by customer id, or run without --presorted (which reads any order, holding all rows in memory)")
            }
            InputError::StdinTwice => {
                Diagnostic::error(Path::new("<command line>"), "only one input can be read from stdin (`-`)")
            }
        }
    }
}

impl From<InputError> for Diagnostic {
    fn from(e: InputError) -> Self {
        Diagnostic::from(&e)
    }
}

impl std::fmt::Display for InputError {
    /// `file:line: message`, then notes and help on their own lines.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = Diagnostic::from(self);
        match self {
            InputError::Open { .. } | InputError::Folder { .. } | InputError::StdinTwice => write!(f, "{}", d.message)?,
            _ => write!(f, "{}: {}", d.location(), d.message)?,
        }
        for n in &d.notes {
            write!(f, "\n  {n}")?;
        }
        if let Some(h) = &d.hint {
            write!(f, "\n  = help: {h}")?;
        }
        Ok(())
    }
}

/// The message already says what the I/O error was (`cannot read FILE: REASON`), so it is not
/// also a `source()`: printing the error with its causes (`{:#}`) would say it twice.
impl std::error::Error for InputError {}

/// Another line of a file named in a message: `line N` of a CSV, `row N` of a Parquet file
/// (whose line 1 is the header of its CSV text).
fn place(path: &Path, line: u64) -> String {
    if parquet::is_parquet(path) {
        format!("row {}", line.saturating_sub(1))
    } else {
        format!("line {line}")
    }
}

/// Longest value from a file echoed in a message, in characters.
const SHOWN: usize = 80;

/// A longer value's first `SHOWN - 1` characters (shown with `…`) and its length in characters.
fn cut(value: &str) -> Option<(&str, usize)> {
    let (end, _) = value.char_indices().nth(SHOWN - 1)?;
    value[end..].chars().nth(1).map(|_| (&value[..end], value.chars().count()))
}

/// A value from a file in a message: quoted and escaped like `{:?}`, cut to 80 characters.
pub(crate) fn quoted(value: &str) -> String {
    match cut(value) {
        Some((head, n)) => format!("\"{}…\" ({n} characters)", head.escape_debug()),
        None => format!("{value:?}"),
    }
}

/// A name from a file (a header cell, a customer id) in a message: in backticks, cut to 80
/// characters.
pub(crate) fn ticked(name: &str) -> String {
    match cut(name) {
        Some((head, n)) => format!("`{head}…` ({n} characters)"),
        None => format!("`{name}`"),
    }
}

/// Where the inputs are.
#[derive(Debug, Clone)]
pub struct InputPaths {
    /// None: an events-only project (a bank, a publisher); the history has no purchases.
    pub transactions: Option<PathBuf>,
    pub customers: Option<PathBuf>,
    pub events: Option<PathBuf>,
    /// The catalogue feed: things that happen to products (`--catalog`).
    pub catalog: Option<PathBuf>,
}

/// An input read as it comes, once: stdin (`-`), a pipe (`<(...)`, a FIFO), a device. Its
/// header cannot be read ahead of the load, which would take it away from the load.
pub fn is_stream(path: &Path) -> bool {
    path == Path::new("-") || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

impl InputPaths {
    /// The inputs given.
    fn given(&self) -> impl Iterator<Item = &PathBuf> {
        [self.transactions.as_ref(), self.customers.as_ref(), self.events.as_ref(), self.catalog.as_ref()]
            .into_iter()
            .flatten()
    }

    /// Is any input a stream (see `is_stream`)?
    pub fn any_stream(&self) -> bool {
        self.given().any(|p| is_stream(p))
    }

    pub fn check_stdin(&self) -> Result<(), InputError> {
        let dash = self.given().filter(|p| p.as_path() == Path::new("-")).count();
        if dash > 1 {
            return Err(InputError::StdinTwice);
        }
        Ok(())
    }
}

/// One customer's rows across the tables.
#[derive(Debug, Clone)]
pub struct CustomerRows {
    pub id: Box<str>,
    pub tx: std::ops::Range<usize>,
    pub events: std::ops::Range<usize>,
    pub profile: Option<usize>,
}

pub struct Data {
    pub tx: Table,
    pub events: Option<Table>,
    pub customers: Option<Table>,
    /// The catalogue feed, keyed by `item_id` (`Table::customer` holds item ids).
    pub catalog: Option<std::sync::Arc<Table>>,
    /// Every customer with at least one transaction or event (and, when a catalogue is given,
    /// every customer in the profile file: an announcement needs no history), in customer-id
    /// order.
    pub people: Vec<CustomerRows>,
    /// Customers listed in the profile file.
    pub profile_count: usize,
    /// False when no transactions file was given (`tx` is then empty, without columns).
    pub tx_given: bool,
}

impl Data {
    pub fn latest_timestamp(&self) -> Option<i64> {
        let a = self.tx.ts.iter().max().copied();
        let b = self.events.as_ref().and_then(|e| e.ts.iter().max().copied());
        a.max(b)
    }
}

/// Everything the input stage needs to know: where the files are and how to read them.
/// Built from the command line and kairos.yaml before any work.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub paths: InputPaths,
    /// Per table (`TableKind::slot`): canonical column name -> header in the file.
    pub rename: [FxHashMap<String, String>; 4],
    /// Per table: columns holding numbers.
    pub numeric: [Vec<String>; 4],
    pub date_format: Option<String>,
    pub tz: chrono_tz::Tz,
    /// Only this shard's customers are read (`--shard K/N`; `Shard::ALL` for everyone).
    pub shard: Shard,
}

impl InputSpec {
    /// How to read one table.
    pub fn table(&self, kind: TableKind) -> TableSpec<'_> {
        TableSpec {
            kind,
            rename: &self.rename[kind.slot()],
            numeric: &self.numeric[kind.slot()],
            has_time: kind != TableKind::Customers,
            tie_first: match kind {
                TableKind::Transactions => &["order_id", "product", "category"],
                TableKind::Events | TableKind::Catalog => &["type"],
                TableKind::Customers => &[],
            },
        }
    }

    /// The layout timestamps of `kind` at `path` are read with: `--date-format`, except for a
    /// Parquet file holding them as typed dates or timestamps (those come as ISO 8601).
    pub fn date_format_for(&self, path: &Path, kind: TableKind) -> Option<&str> {
        let f = self.date_format.as_deref()?;
        if parquet::is_parquet(path) {
            let header = self.rename[kind.slot()].get("timestamp").map_or("timestamp", String::as_str);
            if parquet::typed_time_column(path, header) {
                return None;
            }
        }
        Some(f)
    }

    /// What a timestamp should look like, for error messages.
    pub fn expected_time(&self) -> String {
        match &self.date_format {
            Some(f) => format!("the date format `{f}` (from --date-format / date_format), in the years 1000 to 9999"),
            None => "an ISO 8601 date (2025-03-01) or date-time (2025-03-01T10:00:00Z, 2025-03-01 10:00:00+02:00) in the years 1000 to 9999; set --date-format for other layouts".to_owned(),
        }
    }

    fn with_expected(&self, e: InputError) -> InputError {
        match e {
            InputError::BadTimestamp { path, line, column, value, .. } => {
                InputError::BadTimestamp { path, line, column, value, expected: self.expected_time() }
            }
            other => other,
        }
    }
}

/// Load every input, in parallel, and join them by customer id.
pub fn load(spec: &InputSpec) -> Result<Data, InputError> {
    load_showing(spec, false)
}

/// `load`, showing the bytes read on a progress bar when `progress` is asked for and stderr
/// is a terminal (never in pipes, logs or tests).
pub fn load_showing(spec: &InputSpec, progress: bool) -> Result<Data, InputError> {
    use std::io::IsTerminal;
    let paths = &spec.paths;
    paths.check_stdin()?;
    // Cleared however the loading ends, errors included.
    let bar = ClearOnDrop(if progress && std::io::stderr().is_terminal() {
        show(loading_bar(paths, "loading {msg}"))
    } else {
        indicatif::ProgressBar::hidden()
    });
    let bar = &bar.0;
    let load_one = |path: &Path, kind: TableKind| {
        bar.set_message(kind.name());
        let started = std::time::Instant::now();
        let mut t =
            table::load_counted(path, &spec.table(kind), spec.date_format_for(path, kind), spec.tz, spec.shard, bar)
                .map_err(|e| parquet::locate(spec.with_expected(e)))?;
        t.read.total = started.elapsed();
        Ok::<Table, InputError>(t)
    };
    // One table after the other (each is read in parallel pieces): the transient memory of
    // one load never stacks on another's.
    let tx = match &paths.transactions {
        Some(p) => load_one(p, TableKind::Transactions)?,
        None => Table::empty(TableKind::Transactions),
    };
    let events = paths.events.as_deref().map(|p| load_one(p, TableKind::Events)).transpose()?;
    let customers = paths.customers.as_deref().map(|p| load_one(p, TableKind::Customers)).transpose()?;
    if let Some(c) = &customers {
        check_unique_profiles(c)?;
    }
    let catalog = load_catalog(spec, bar)?;
    bar.finish_and_clear();
    Ok(assemble(tx, events, customers, catalog, paths.transactions.is_some()))
}

/// The catalogue, read whole and checked. It is about products, not customers: every shard
/// (and every `--presorted` batch) reads all of it.
fn load_catalog(spec: &InputSpec, bar: &indicatif::ProgressBar) -> Result<Option<std::sync::Arc<Table>>, InputError> {
    let Some(p) = spec.paths.catalog.as_deref() else { return Ok(None) };
    let started = std::time::Instant::now();
    let mut c = table::load_counted(
        p,
        &spec.table(TableKind::Catalog),
        spec.date_format_for(p, TableKind::Catalog),
        spec.tz,
        Shard::ALL,
        bar,
    )
    .map_err(|e| parquet::locate(spec.with_expected(e)))?;
    c.read.total = started.elapsed();
    check_duplicate_items(&c)?;
    Ok(Some(std::sync::Arc::new(c)))
}

/// The tables joined by customer id into the replay's data.
fn assemble(
    tx: Table,
    events: Option<Table>,
    customers: Option<Table>,
    catalog: Option<std::sync::Arc<Table>>,
    tx_given: bool,
) -> Data {
    let mut people = join_customers(&tx, events.as_ref(), customers.as_ref());
    if let (Some(_), Some(c)) = (&catalog, &customers) {
        // Rebuilt (two lists at once) only when some profile has no history.
        if people.iter().filter(|p| p.profile.is_some()).count() < c.groups.len() {
            people = with_profile_only(people, c);
        }
    }
    let profile_count = customers.as_ref().map_or(0, |c| c.groups.len());
    Data { tx, events, customers, catalog, people, profile_count, tx_given }
}

/// One row per customer in the profile file.
fn check_unique_profiles(c: &Table) -> Result<(), InputError> {
    for (_, range) in &c.groups {
        if range.len() > 1 {
            let mut lines: Vec<u32> = c.line[range.clone()].to_vec();
            lines.sort_unstable();
            return Err(parquet::locate(InputError::DuplicateCustomer {
                path: c.path.clone(),
                line: u64::from(lines[1]),
                first: u64::from(lines[0]),
                id: c.customer_id(range.start).to_owned(),
            }));
        }
    }
    Ok(())
}

/// Bytes of transactions per `--presorted` batch.
pub const PRESORTED_BLOCK: usize = 32 << 20;

/// The inputs of a `--presorted` run, every one sorted by customer id: read a batch of
/// customers at a time, each batch whole (all of its customers' rows in every table), so
/// memory holds one batch whatever the size of the files. The transactions drive the batches
/// (about 32 MiB of them each); the other tables are read up to the batch's last customer.
/// The catalogue is not about customers: it is read whole, once.
pub struct Presorted {
    /// The tables in the order transactions, events, customers; the first one given drives.
    tables: [Option<table::presorted::SortedTable>; 3],
    catalog: Option<std::sync::Arc<Table>>,
    tx_given: bool,
    done: bool,
    spec: InputSpec,
    /// Profiles read so far.
    pub profiles: usize,
    /// The bytes read of every input, drawn once `show_progress` is called; cleared when the
    /// last batch is taken (or the run stops).
    progress: ClearOnDrop,
}

impl Presorted {
    /// Open every input and read its header; load the catalogue. The transactions are read
    /// `block` bytes at a time (`PRESORTED_BLOCK` but in tests), the other tables an eighth.
    pub fn open(spec: &InputSpec, block: usize) -> Result<Presorted, InputError> {
        let block = block.max(1);
        let paths = &spec.paths;
        paths.check_stdin()?;
        let bar = loading_bar(paths, "replaying");
        let open = |p: &Option<PathBuf>, kind: TableKind| {
            p.as_deref()
                .map(|p| {
                    // The driving table reads big blocks; the others only what a batch needs.
                    let block = if kind == TableKind::Transactions { block } else { (block / 8).max(1) };
                    table::presorted::SortedTable::open(
                        p,
                        &spec.table(kind),
                        spec.date_format_for(p, kind),
                        spec.tz,
                        spec.shard,
                        block,
                        &bar,
                    )
                })
                .transpose()
                .map_err(|e| parquet::locate(spec.with_expected(e)))
        };
        let tables = [
            open(&paths.transactions, TableKind::Transactions)?,
            open(&paths.events, TableKind::Events)?,
            open(&paths.customers, TableKind::Customers)?,
        ];
        let catalog = load_catalog(spec, &bar)?;
        Ok(Presorted {
            tables,
            catalog,
            tx_given: paths.transactions.is_some(),
            done: false,
            spec: spec.clone(),
            profiles: 0,
            progress: ClearOnDrop(bar),
        })
    }

    /// Draw the bytes read so far and from now on on stderr, if it is a terminal: the plan's
    /// own bar needs a customer count, which a stream does not know.
    pub fn show_progress(&self) {
        use std::io::IsTerminal;
        if !self.done && std::io::stderr().is_terminal() {
            show(self.progress.0.clone());
        }
    }

    /// The canonical column names of one table's file, if it is given.
    pub fn names(&self, kind: TableKind) -> Option<&[String]> {
        let i = match kind {
            TableKind::Transactions => 0,
            TableKind::Events => 1,
            TableKind::Customers => 2,
            TableKind::Catalog => return self.catalog.as_ref().map(|c| &c.names[..]),
        };
        self.tables[i].as_ref().map(|t| t.names())
    }

    /// The catalogue, read whole.
    pub fn catalog(&self) -> Option<&Table> {
        self.catalog.as_deref()
    }

    /// The next batch of customers, or `None` after the last (there is always at least one
    /// batch, perhaps without customers).
    pub fn next_batch(&mut self) -> Result<Option<Data>, InputError> {
        if self.done {
            return Ok(None);
        }
        let spec = &self.spec;
        let located = |e: InputError| parquet::locate(spec.with_expected(e));
        // The first table with rows left drives: its next batch, or once its file ends, the
        // rest of it (up to its last customer); then the next table drives. (The customers
        // or events files may go on past the transactions' last customer: new sign-ups.)
        let mut upper = None;
        for t in self.tables.iter_mut().flatten() {
            if t.is_exhausted() {
                continue;
            }
            let b = t.boundary().map_err(located)?;
            if let Some(k) = b.or_else(|| t.last_key().map(str::to_owned)) {
                upper = Some(k);
                break;
            }
        }
        // Every file read to its end: this batch takes what is left (nothing) and is the last.
        self.done = upper.is_none();
        let mut taken: [Option<Table>; 3] = [None, None, None];
        for (slot, t) in taken.iter_mut().zip(&mut self.tables) {
            if let Some(t) = t {
                *slot = Some(t.take_through(upper.as_deref()).map_err(located)?);
            }
        }
        let [tx, events, customers] = taken;
        let tx = tx.unwrap_or_else(|| Table::empty(TableKind::Transactions));
        if let Some(c) = &customers {
            check_unique_profiles(c)?;
        }
        let data = assemble(tx, events, customers, self.catalog.clone(), self.tx_given);
        self.profiles += data.profile_count;
        if self.done {
            // Before the summary is printed.
            self.progress.0.finish_and_clear();
        }
        Ok(Some(data))
    }
}

struct ClearOnDrop(indicatif::ProgressBar);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// A bar over the bytes of the input files; a byte counter without a total when one is read
/// from stdin or is Parquet (whose bytes read are its CSV text, not the file).
/// `what` starts the bar's line. It is drawn once `show` is called.
fn loading_bar(paths: &InputPaths, what: &str) -> indicatif::ProgressBar {
    let files = [paths.transactions.as_ref(), paths.customers.as_ref(), paths.events.as_ref(), paths.catalog.as_ref()];
    let sized = |p: &PathBuf| {
        (p.as_path() != Path::new("-") && !parquet::is_parquet(p)).then(|| std::fs::metadata(p).ok().map(|m| m.len()))
    };
    let total: Option<u64> = files.into_iter().flatten().map(|p| sized(p).flatten()).sum();
    let (bar, template) = match total {
        Some(n) => (
            indicatif::ProgressBar::with_draw_target(Some(n), indicatif::ProgressDrawTarget::hidden()),
            format!("{{spinner}} {what} {{bytes}}/{{total_bytes}} {{wide_bar}} {{eta}}"),
        ),
        None => (indicatif::ProgressBar::hidden(), format!("{{spinner}} {what} {{bytes}}")),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Draw `bar` on stderr from now on.
fn show(bar: indicatif::ProgressBar) -> indicatif::ProgressBar {
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    // Parsing a block takes a while between reads: keep the spinner turning meanwhile.
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}

/// One row per item, type and instant: the message ids of an announcement are derived from
/// them, so two such rows would be one message sent twice.
fn check_duplicate_items(c: &Table) -> Result<(), InputError> {
    let type_col = c.col("type");
    let kind = |r: usize| type_col.map_or("", |k| c.str_at(k, r));
    let mut found: Option<(u32, u32, usize)> = None;
    for (_, range) in &c.groups {
        let mut rows: Vec<usize> = range.clone().collect();
        rows.sort_by(|&a, &b| (c.ts[a], kind(a), c.line[a]).cmp(&(c.ts[b], kind(b), c.line[b])));
        for w in rows.windows(2) {
            if c.ts[w[0]] == c.ts[w[1]] && kind(w[0]) == kind(w[1]) {
                let (first, second) = (c.line[w[0]], c.line[w[1]]);
                if found.is_none_or(|(_, l, _)| second < l) {
                    found = Some((first, second, w[1]));
                }
            }
        }
    }
    match found {
        None => Ok(()),
        Some((first, line, r)) => Err(parquet::locate(InputError::DuplicateItem {
            path: c.path.clone(),
            line: u64::from(line),
            first: u64::from(first),
            id: c.customer_id(r).to_owned(),
            kind: kind(r).to_owned(),
        })),
    }
}

/// Add the customers of the profile file that have no transaction and no event, keeping
/// customer-id order.
fn with_profile_only(people: Vec<CustomerRows>, customers: &Table) -> Vec<CustomerRows> {
    let mut out = Vec::with_capacity(people.len().max(customers.groups.len()));
    let mut it = people.into_iter().peekable();
    for (sym, range) in &customers.groups {
        let id = customers.sym(*sym);
        while it.peek().is_some_and(|p| &*p.id < id) {
            out.extend(it.next());
        }
        if it.peek().is_some_and(|p| &*p.id == id) {
            continue;
        }
        out.push(CustomerRows { id: id.into(), tx: 0..0, events: 0..0, profile: Some(range.start) });
    }
    out.extend(it);
    out
}

fn join_customers(tx: &Table, events: Option<&Table>, customers: Option<&Table>) -> Vec<CustomerRows> {
    let mut people: Vec<CustomerRows> = Vec::with_capacity(tx.groups.len());
    let ev_groups: &[(u32, std::ops::Range<usize>)] = events.map_or(&[], |e| &e.groups);
    let (mut i, mut j) = (0, 0);
    while i < tx.groups.len() || j < ev_groups.len() {
        let a = tx.groups.get(i).map(|(s, _)| tx.sym(*s));
        let b = ev_groups.get(j).map(|(s, _)| events.map_or("", |e| e.sym(*s)));
        let ord = match (a, b) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        let mut p = CustomerRows { id: "".into(), tx: 0..0, events: 0..0, profile: None };
        if ord.is_le() {
            p.id = a.unwrap_or_default().into();
            p.tx = tx.groups[i].1.clone();
            i += 1;
        }
        if ord.is_ge() {
            p.id = b.unwrap_or_default().into();
            p.events = ev_groups[j].1.clone();
            j += 1;
        }
        people.push(p);
    }
    if let Some(c) = customers {
        people.par_iter_mut().for_each(|p| {
            if let Some(sym) = c.lookup(&p.id) {
                if let Ok(g) = c.groups.binary_search_by_key(&sym, |(s, _)| *s) {
                    p.profile = Some(c.groups[g].1.start);
                }
            }
        });
    }
    people
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_in(dir: &tempfile::TempDir, name: &str, body: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    /// How to read these transactions, customers and events (`amount` a number, UTC).
    fn spec_of(tx: PathBuf, cu: PathBuf, ev: PathBuf) -> InputSpec {
        InputSpec {
            paths: InputPaths { transactions: Some(tx), customers: Some(cu), events: Some(ev), catalog: None },
            rename: Default::default(),
            numeric: [vec!["amount".to_owned()], Vec::new(), Vec::new(), Vec::new()],
            date_format: None,
            tz: chrono_tz::UTC,
            shard: Shard::ALL,
        }
    }

    /// The `--presorted` bar counts every byte of every input by the last batch (it is
    /// hidden here: stderr is not a terminal), and is done by then.
    #[test]
    fn presorted_progress_counts_every_byte_read() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| write_in(&dir, name, body);
        let tx = write(
            "tx.csv",
            "customer_id,timestamp,order_id,amount\nA,2025-01-01,o1,3\nA,2025-01-02,o2,4\nB,2025-01-01,o3,5\n",
        );
        let ev = write("ev.csv", "customer_id,timestamp,type\nA,2025-01-03,visit\nC,2025-01-03,visit\n");
        let cu = write("cu.csv", "customer_id,tier\nA,gold\nB,silver\nC,bronze\n");
        let size = |p: &PathBuf| std::fs::metadata(p).unwrap().len();
        let total = size(&tx) + size(&ev) + size(&cu);
        let spec = spec_of(tx, cu, ev);
        // Batches of a row or so, so the bar moves batch by batch.
        let mut p = Presorted::open(&spec, 8).unwrap();
        assert_eq!(p.progress.0.length(), Some(total));
        let mut customers = 0;
        while let Some(d) = p.next_batch().unwrap() {
            customers += d.people.len();
        }
        assert_eq!(customers, 3);
        assert_eq!(p.progress.0.position(), total);
        assert!(p.progress.0.is_finished());
    }

    /// Past the transactions' last customer, the other files are still read a batch at a
    /// time: a batch of a few customers each, not the rest of the files at once.
    #[test]
    fn presorted_batches_past_the_last_purchase_stay_small() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| write_in(&dir, name, body);
        let tx = write("tx.csv", "customer_id,timestamp,order_id,amount\nA00,2025-01-01,o1,3\n");
        let mut cu = "customer_id,tier\n".to_owned();
        let mut ev = "customer_id,timestamp,type\n".to_owned();
        for i in 0..200 {
            cu.push_str(&format!("B{i:03},gold\n"));
            if i % 2 == 0 {
                ev.push_str(&format!("B{i:03},2025-01-03,visit\n"));
            }
        }
        let (cu, ev) = (write("cu.csv", &cu), write("ev.csv", &ev));
        let spec = spec_of(tx, cu, ev);
        let mut p = Presorted::open(&spec, 64).unwrap();
        let (mut batches, mut largest, mut profiles) = (0, 0, 0);
        while let Some(d) = p.next_batch().unwrap() {
            batches += 1;
            largest = largest.max(d.profile_count);
            profiles += d.profile_count;
        }
        assert_eq!(profiles, 200, "every profile once");
        assert!(batches > 10, "{batches} batches");
        assert!(largest < 50, "a batch of {largest} profiles");
    }
}
