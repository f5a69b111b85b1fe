//! The commands: turn arguments into a checked setup, run the pipeline stages
//! (input → timeline/evaluator → output), report on stderr.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use rayon::prelude::*;

use crate::cli::{CheckArgs, Cli, Command, ExplainArgs, GraphArgs, InputArgs, ProjectArgs, RunArgs};
use crate::config::{Config, Overrides};
use crate::diag::{did_you_mean, Diagnostics};
use crate::dialogue::{self, Plan, Schemas};
use crate::evaluator::{Evaluator, Settings, Stats, TraceLine, Warning};
use crate::expr::Schema;
use crate::input::{self, table, Data, InputPaths, TableKind};
use crate::output::{Format, Selection, Sink, Writer};
use crate::summary;

/// Problems in the user's definitions, already located; printed as they are.
#[derive(Debug)]
pub struct Reported(pub Diagnostics);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.0 .0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{d}")?;
        }
        let (e, w) = (self.0.error_count(), self.0.warning_count());
        write!(f, "{}", counts(e, w))
    }
}

impl std::error::Error for Reported {}

fn counts(e: usize, w: usize) -> String {
    let plural = |n: usize, s: &str| format!("{n} {s}{}", if n == 1 { "" } else { "s" });
    format!("{}, {}", plural(e, "error"), plural(w, "warning"))
}

pub fn execute(cli: Cli) -> Result<ExitCode> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Run(args) => run(&args, quiet),
        Command::Check(args) => check(&args, quiet),
        Command::Explain(args) => explain(&args),
        Command::Graph(args) => graph(&args),
        Command::Schema { kind } => {
            let mut out = std::io::stdout().lock();
            out.write_all(schema(kind).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "kairos", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The JSON Schema of a dialogue file or of kairos.yaml, pretty-printed.
pub fn schema(kind: crate::cli::SchemaKind) -> String {
    let schema = match kind {
        crate::cli::SchemaKind::Dialogue => schemars::schema_for!(crate::dialogue::raw::RawDialogue),
        crate::cli::SchemaKind::Config => schemars::schema_for!(crate::config::RawConfig),
    };
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

fn config(p: &ProjectArgs) -> Result<Config> {
    let mut overrides =
        Overrides { timezone: p.timezone.clone(), date_format: p.date_format.clone(), columns: Vec::new() };
    for c in &p.columns {
        let parsed = c.split_once('=').and_then(|(l, h)| l.split_once('.').map(|(t, col)| (t, col, h)));
        match parsed {
            Some((t, col, h)) if !t.is_empty() && !col.is_empty() && !h.is_empty() => {
                overrides.columns.push((t.to_owned(), col.to_owned(), h.to_owned()))
            }
            _ => bail!("--column {c:?}: expected TABLE.COLUMN=HEADER, e.g. transactions.customer_id=CustNo"),
        }
    }
    let default = Path::new("kairos.yaml");
    let path = p.config.as_deref().or_else(|| default.is_file().then_some(default));
    Config::load(path, &overrides).map_err(|d| Reported(d).into())
}

fn schema_of(t: &input::Table) -> Schema {
    Schema::new(t.kind, t.names.iter().cloned().zip(t.types.iter().copied()).collect(), false)
}

fn schema_from_headers(cfg: &Config, kind: TableKind, path: &Path) -> Result<Schema> {
    let spec = input::spec(cfg, kind);
    let names = table::read_headers(path, &spec)?;
    let fields = names
        .into_iter()
        .filter(|n| n != "customer_id" && n != "timestamp")
        .map(|n| {
            let ty = if spec.numeric.contains(&n) { input::ColType::Num } else { input::ColType::Str };
            (n, ty)
        })
        .collect();
    Ok(Schema::new(kind, fields, false))
}

/// Compile the dialogues; print warnings; fail with every error at once.
fn plan(p: &ProjectArgs, cfg: &Config, schemas: &Schemas, quiet: bool) -> Result<Plan> {
    let (plan, diags) = dialogue::load(&p.dialogues, schemas, &cfg.known());
    if diags.has_errors() {
        return Err(Reported(diags).into());
    }
    if !quiet {
        for d in &diags.0 {
            eprintln!("{d}");
        }
    }
    Ok(plan)
}

fn paths(i: &InputArgs) -> InputPaths {
    InputPaths { transactions: i.transactions.clone(), customers: i.customers.clone(), events: i.events.clone() }
}

/// Config, dialogues and data, checked in the cheapest order: headers and dialogues before
/// reading millions of rows.
fn prepare(p: &ProjectArgs, i: &InputArgs, quiet: bool) -> Result<(Config, Plan, Data)> {
    let cfg = config(p)?;
    let paths = paths(i);
    paths.check_stdin()?;
    let uses_stdin = [Some(&paths.transactions), paths.customers.as_ref(), paths.events.as_ref()]
        .into_iter()
        .flatten()
        .any(|p| p.as_path() == Path::new("-"));
    if uses_stdin {
        // stdin can be read once: load first, then check the dialogues against what came.
        let data = input::load(&cfg, &paths)?;
        let schemas = schemas_of_data(&data, &cfg);
        let plan = plan(p, &cfg, &schemas, quiet)?;
        return Ok((cfg, plan, data));
    }
    let mut schemas = Schemas::open(|k| cfg.numeric(k).to_vec());
    schemas.tx = schema_from_headers(&cfg, TableKind::Transactions, &paths.transactions)?;
    schemas.events = match &paths.events {
        Some(e) => schema_from_headers(&cfg, TableKind::Events, e)?,
        None => Schema::new(TableKind::Events, schemas.events.fields.clone(), false),
    };
    schemas.customers = match &paths.customers {
        Some(c) => schema_from_headers(&cfg, TableKind::Customers, c)?,
        None => Schema::new(TableKind::Customers, Vec::new(), false),
    };
    let plan = plan(p, &cfg, &schemas, quiet)?;
    let data = input::load(&cfg, &paths)?;
    Ok((cfg, plan, data))
}

fn schemas_of_data(data: &Data, cfg: &Config) -> Schemas {
    let open = Schemas::open(|k| cfg.numeric(k).to_vec());
    Schemas {
        tx: schema_of(&data.tx),
        events: data
            .events
            .as_ref()
            .map_or_else(|| Schema::new(TableKind::Events, open.events.fields.clone(), false), schema_of),
        customers: data
            .customers
            .as_ref()
            .map_or_else(|| Schema::new(TableKind::Customers, Vec::new(), false), schema_of),
    }
}

fn settings(i: &InputArgs, cfg: &Config, data: &Data) -> Result<Settings> {
    let as_of = match &i.as_of {
        Some(s) => input::time::parse_as_of(s, cfg.tz).ok_or_else(|| {
            anyhow!("--as-of {s:?}: expected a date (2025-06-30) or date-time (2025-06-30T12:00:00Z)")
        })?,
        None => data.latest_timestamp().ok_or_else(|| {
            anyhow!("the inputs hold no rows, so there is no history to replay; pass --as-of to run anyway")
        })?,
    };
    let horizon = dialogue::plan::parse_duration(&i.horizon)
        .ok_or_else(|| anyhow!("--horizon {:?}: expected a duration such as 365d", i.horizon))?;
    Ok(Settings { policy: cfg.policy.clone(), tz: cfg.tz, as_of, horizon, response_type: cfg.response_type.clone() })
}

fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        b = b.num_threads(n);
    }
    b.build().context("cannot start worker threads")
}

/// One task's rendered bytes, counts, data warnings and number of messages.
type TaskOutput = (Vec<u8>, Stats, Vec<Warning>, u64);

/// Customers evaluated together before their output is written: bounds memory whatever the
/// number of customers.
const BATCH: usize = 1 << 16;
/// Customers per parallel task; each task owns its buffers and output chunk.
const TASK: usize = 512;

/// Evaluate every customer and stream the rendered plan to `out`. Workers render into their
/// own chunks; chunks are written in customer order, so the bytes never depend on threads.
pub fn evaluate_and_write(
    ev: &Evaluator<'_>,
    writer: &Writer<'_>,
    format: Format,
    out: &mut (dyn Write + Send),
) -> std::io::Result<(Stats, Vec<Warning>, u64)> {
    out.write_all(&writer.header(format)?)?;
    let n = ev.data.people.len();
    let mut stats = Stats::default();
    let mut warnings = Vec::new();
    let mut written = 0u64;
    // A writer thread drains finished batches while the pool evaluates the next one; the
    // bounded channel keeps at most two batches of output in memory.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(1);
    // Drawn only when stderr is a terminal; cron logs stay clean.
    let progress = if quiet_progress() {
        indicatif::ProgressBar::hidden()
    } else {
        let pb = indicatif::ProgressBar::with_draw_target(Some(n as u64), indicatif::ProgressDrawTarget::stderr());
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} customers {wide_bar} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    };
    std::thread::scope(|scope| {
        let writer_thread = scope.spawn(move || -> std::io::Result<()> {
            let mut any = false;
            for batch in rx {
                for bytes in batch {
                    if format == Format::Json && !any && !bytes.is_empty() {
                        // The first customer of the array has no comma before it.
                        out.write_all(&bytes[1..])?;
                        any = true;
                    } else {
                        any |= !bytes.is_empty();
                        out.write_all(&bytes)?;
                    }
                }
            }
            out.write_all(writer.footer(format, any))?;
            out.flush()
        });
        let mut start = 0;
        let mut failed = None;
        while start < n {
            let end = (start + BATCH).min(n);
            let idx: Vec<usize> = (start..end).collect();
            let parts: Vec<std::io::Result<TaskOutput>> = idx
                .par_chunks(TASK)
                .map(|chunk| {
                    let mut scratch = crate::evaluator::Scratch::default();
                    let mut stats = Stats::default();
                    let mut warnings = Vec::new();
                    let mut out = writer.chunk(format);
                    let mut count = 0;
                    for &p in chunk {
                        stats.customers += 1;
                        let r = ev.run_customer(p, &mut scratch, &mut stats, None);
                        count += writer.render(&r, format, &mut out)?;
                        warnings.extend(r.warnings);
                    }
                    Ok((out.into_bytes()?, stats, warnings, count))
                })
                .collect();
            let mut batch = Vec::with_capacity(parts.len());
            for part in parts {
                match part {
                    Ok((bytes, s, w, count)) => {
                        written += count;
                        stats.merge(s);
                        warnings.extend(w);
                        batch.push(bytes);
                    }
                    Err(e) => failed = Some(e),
                }
            }
            progress.inc((end - start) as u64);
            if failed.is_some() || tx.send(batch).is_err() {
                // The writer stopped (e.g. a closed pipe); its error is reported below.
                break;
            }
            start = end;
        }
        drop(tx);
        progress.finish_and_clear();
        let written_ok = writer_thread.join().unwrap_or_else(|_| Err(std::io::Error::other("output thread panicked")));
        match failed {
            Some(e) => Err(e),
            None => written_ok,
        }
    })?;
    Ok((stats, warnings, written))
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn quiet_progress() -> bool {
    use std::io::IsTerminal;
    QUIET.load(std::sync::atomic::Ordering::Relaxed) || !std::io::stderr().is_terminal()
}

fn run(args: &RunArgs, quiet: bool) -> Result<ExitCode> {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
    if args.due && args.input.as_of.is_none() {
        bail!("--due needs --as-of: the day whose messages to emit");
    }
    let pool = pool(args.input.threads)?;
    pool.install(|| {
        let sink = Sink::open(args.output.as_deref()).with_context(|| {
            format!("cannot write to {}", args.output.as_deref().unwrap_or(Path::new("-")).display())
        })?;
        let (cfg, plan, data) = prepare(&args.project, &args.input, quiet)?;
        let settings = settings(&args.input, &cfg, &data)?;
        let since = match (&args.since, args.due) {
            (Some(s), _) => Some(
                input::time::parse_as_of(s, cfg.tz)
                    .ok_or_else(|| anyhow!("--since {s:?}: expected a date (2025-06-30) or date-time"))?,
            ),
            (None, true) => Some(day_start(settings.as_of, &cfg) - 1),
            (None, false) => None,
        };
        let as_of = settings.as_of;
        let ev = Evaluator::new(&data, &plan, settings);
        let writer =
            Writer::new(&data, &plan, &cfg, Selection { as_of, since, include_suppressed: args.include_suppressed });
        let mut result = None;
        sink.write_with(|out| {
            let r = evaluate_and_write(&ev, &writer, args.format, out)?;
            let n = r.2;
            result = Some(r);
            Ok(n)
        })?;
        let Some((stats, warnings, written)) = result else { bail!("no output was produced") };
        if !quiet {
            let events_path = args.input.events.clone().unwrap_or_default();
            summary::print(&mut std::io::stderr(), &data, &plan, &stats, &warnings, as_of, written, &events_path)?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The first instant of the local day holding `t`.
fn day_start(t: i64, cfg: &Config) -> i64 {
    use chrono::{DateTime, NaiveTime};
    let Some(utc) = DateTime::from_timestamp(t, 0) else { return t };
    let day = utc.with_timezone(&cfg.tz).date_naive().and_time(NaiveTime::MIN);
    input::time::local_to_utc(day, cfg.tz)
}

fn check(args: &CheckArgs, quiet: bool) -> Result<ExitCode> {
    let cfg = config(&args.project)?;
    let mut schemas = Schemas::open(|k| cfg.numeric(k).to_vec());
    if let Some(t) = &args.transactions {
        schemas.tx = schema_from_headers(&cfg, TableKind::Transactions, t)?;
    }
    if let Some(e) = &args.events {
        schemas.events = schema_from_headers(&cfg, TableKind::Events, e)?;
    }
    if let Some(c) = &args.customers {
        schemas.customers = schema_from_headers(&cfg, TableKind::Customers, c)?;
    }
    let (plan, diags) = dialogue::load(&args.project.dialogues, &schemas, &cfg.known());
    let mut err = std::io::stderr().lock();
    for d in &diags.0 {
        writeln!(err, "{d}\n")?;
    }
    if !quiet || diags.has_errors() {
        writeln!(
            err,
            "checked {} dialogue{}: {}",
            plan.dialogues.len(),
            if plan.dialogues.len() == 1 { "" } else { "s" },
            counts(diags.error_count(), diags.warning_count())
        )?;
    }
    Ok(if diags.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn explain(args: &ExplainArgs) -> Result<ExitCode> {
    let pool = pool(args.input.threads)?;
    pool.install(|| {
        let (cfg, plan, data) = prepare(&args.project, &args.input, true)?;
        let settings = settings(&args.input, &cfg, &data)?;
        let Ok(person) = data.people.binary_search_by(|p| p.id.as_ref().cmp(args.customer.as_str())) else {
            let hint = did_you_mean(&args.customer, data.people.iter().map(|p| p.id.as_ref()))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            bail!("customer `{}` has no transactions or events in the inputs{hint}", args.customer);
        };
        let as_of = settings.as_of;
        let ev = Evaluator::new(&data, &plan, settings);
        let mut trace: Vec<TraceLine> = Vec::new();
        let mut stats = Stats::default();
        let result = ev.run_customer(person, &mut Default::default(), &mut stats, Some(&mut trace));
        let writer = Writer::new(&data, &plan, &cfg, Selection { as_of, since: None, include_suppressed: true });
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        crate::explain::write(&mut out, &writer, &result, &trace, args.json, &data.people[person].id)?;
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    })
}

fn graph(args: &GraphArgs) -> Result<ExitCode> {
    let cfg = config(&args.project)?;
    let schemas = Schemas::open(|k| cfg.numeric(k).to_vec());
    let (plan, diags) = dialogue::load(&args.project.dialogues, &schemas, &cfg.known());
    if diags.has_errors() {
        return Err(Reported(diags).into());
    }
    let Some(d) = plan.find(&args.dialogue) else {
        let hint = did_you_mean(&args.dialogue, plan.dialogues.iter().map(|d| d.id.as_str()))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| {
                format!(
                    "the dialogues are: {}",
                    plan.dialogues.iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", ")
                )
            });
        bail!("unknown dialogue `{}`\n  = help: {hint}", args.dialogue);
    };
    let text = crate::graph::render(&plan, d, args.format);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
