//! The command line: `args` (clap only) → `settings` (checked) → one function per command,
//! each driving the pipeline stages (input → engine → output, reports beside). The only module
//! that knows about clap, the process, stdout and exit codes.

pub mod args;
pub mod settings;
mod timings;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Parser;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::dialogue::{self, Plan, Schemas};
use crate::engine::{Evaluator, Settings, Stats};
use crate::expr::Schema;
use crate::input::{self, table, Data, TableKind};
use crate::output::sink::Protected;
use crate::output::{stream, Selection, Sink, Writer};
use crate::report;
use crate::template::Templates;

use args::{CheckArgs, Cli, Command, ExplainArgs, GraphArgs, PreviewArgs};

/// `eprintln!` that never panics: a stderr that cannot be written (`2>/dev/full`, a closed
/// pipe) loses the text, not the run's exit code (std's panics, exiting 101).
macro_rules! eprintln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// `eprint!` that never panics (as `eprintln!` above).
macro_rules! eprint {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}
use settings::{Project, Replay, ReportSettings, RunSettings, Window};

/// Parse arguments, run, and map the outcome to an exit code: 0 success, 1 problems found
/// (`check`), 2 kairos could not do its job. A closed stdout pipe is not a failure.
pub fn main() -> ExitCode {
    crate::budget::on_over(crate::output::sink::exit_removing_temp_files);
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match execute(cli) {
        Ok(code) => code,
        Err(e) => {
            crate::output::sink::wait_if_signalled();
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("{}", failure_text(&e));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<csv::Error>().is_some_and(
                |ce| matches!(ce.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe),
            )
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|je| je.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// A failure as the user sees it: located problems through the diagnostic renderer, anything
/// else as `error: …` with its causes.
fn failure_text(e: &anyhow::Error) -> String {
    if let Some(r) = e.downcast_ref::<Reported>() {
        return r.to_string();
    }
    // A bad input file (and nothing was added to it on the way up).
    if let Some(ie) = e.chain().next().and_then(|c| c.downcast_ref::<input::InputError>()) {
        return Diagnostic::from(ie).to_string();
    }
    format!("error: {e:#}")
}

/// Problems in the user's definitions, already located; printed through the one renderer
/// (`Display for Diagnostic`), then the counts.
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
        write!(f, "{}", self.0.counts())
    }
}

impl std::error::Error for Reported {}

pub fn execute(cli: Cli) -> Result<ExitCode> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Run(args) => run(RunSettings::from_args(&args, quiet)?),
        Command::Check(args) => check(&args, quiet),
        Command::Explain(args) => explain(&args),
        Command::Preview(args) => preview(&args),
        Command::Graph(args) => graph(&args),
        Command::Report(args) => report(ReportSettings::from_args(&args, quiet)?),
        Command::Schema { kind } => {
            let mut out = std::io::stdout().lock();
            out.write_all(schema(kind).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics on a failed write (a closed pipe, a full
            // disk), and this way the write's error is the run's like any other command's.
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut cmd, "kairos", &mut text);
            std::io::stdout().lock().write_all(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match out {
                None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?,
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
                    clap_mangen::generate_to(cmd, &dir)
                        .map_err(|e| anyhow::anyhow!("cannot write man pages to {}: {e}", dir.display()))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The JSON Schema of a dialogue file or of kairos.yaml, pretty-printed.
pub fn schema(kind: args::SchemaKind) -> String {
    let schema = match kind {
        args::SchemaKind::Dialogue => schemars::schema_for!(crate::dialogue::raw::RawDialogue),
        args::SchemaKind::Config => schemars::schema_for!(crate::config::raw::RawConfig),
    };
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

fn schema_from_headers(spec: &input::InputSpec, kind: TableKind, path: &Path) -> Result<Schema> {
    let names = table::read_headers(path, &spec.table(kind))?;
    Ok(schema_from_names(spec, kind, names))
}

/// The schema of a file with these (canonical) column names.
fn schema_from_names(spec: &input::InputSpec, kind: TableKind, names: Vec<String>) -> Schema {
    let spec = spec.table(kind);
    let fields = names
        .into_iter()
        // The catalogue keeps `item_id` as a column too (`item.item_id`).
        .filter(|n| (kind == TableKind::Catalog || n != kind.key()) && n != "timestamp")
        .map(|n| {
            let ty = if spec.numeric.contains(&n) { input::ColType::Num } else { input::ColType::Str };
            (n, ty)
        })
        .collect();
    Schema::new(kind, fields, false)
}

/// `prepare` for `--presorted`: the inputs are opened (their headers read, the catalogue
/// loaded) and the dialogues checked against them; the rows are read batch by batch later.
fn prepare_presorted(r: &Replay, block: usize, quiet: bool) -> Result<(Plan, input::Presorted, Option<Templates>)> {
    let inputs = input::Presorted::open(&r.spec, block)?;
    let mut schemas = open_schemas(&r.project);
    let given = |k: TableKind| inputs.names(k).map(|n| schema_from_names(&r.spec, k, n.to_vec()));
    schemas.tx = given(TableKind::Transactions).unwrap_or_else(|| Schema::not_given(TableKind::Transactions));
    schemas.events = given(TableKind::Events)
        .unwrap_or_else(|| Schema::new(TableKind::Events, schemas.events.fields.clone(), false));
    schemas.customers = given(TableKind::Customers).unwrap_or_else(|| Schema::not_given(TableKind::Customers));
    schemas.catalog = inputs.catalog().map_or_else(|| Schema::not_given(TableKind::Catalog), Schema::of_table);
    let headers = |k: TableKind| match k {
        TableKind::Catalog => {
            inputs.catalog().map(|t| std::iter::once("timestamp".to_owned()).chain(t.names.iter().cloned()).collect())
        }
        _ => inputs.names(k).map(<[String]>::to_vec),
    };
    let columns = r.project.cfg.column_problems(&headers, true);
    let plan = plan(&r.project, &schemas, quiet).map_err(|e| with_column_errors(e, &columns))?;
    report_columns(columns, quiet)?;
    let templates = templates(&r.project, &schemas, &plan, quiet)?;
    Ok((plan, inputs, templates))
}

/// Compile the dialogues; print warnings; fail with every error at once.
fn plan(project: &Project, schemas: &Schemas, quiet: bool) -> Result<Plan> {
    let (plan, diags) = dialogue::load(&project.dialogues, schemas, &project.known());
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

/// Compile the project's templates (if it has a templates folder) and check every template
/// key and channel the dialogues send against them. Every problem is returned.
fn load_templates(project: &Project, schemas: &Schemas, plan: &Plan) -> (Option<Templates>, Diagnostics) {
    let Some(dir) = &project.templates else { return (None, Diagnostics::default()) };
    let known = crate::template::Known {
        channels: project.cfg.channels.iter().map(|(n, c)| (n.clone(), c.contact.clone())).collect(),
        customers: &schemas.customers,
        tx: &schemas.tx,
        events: &schemas.events,
        catalog: &schemas.catalog,
        facts: plan.facts.iter().cloned().collect(),
    };
    let (templates, mut diags) = crate::template::load(dir, &known, project.cfg.sms_max_segments);
    if let Some(t) = &templates {
        let uses = plan.dialogues.iter().flat_map(|d| {
            d.steps.iter().flat_map(move |s| {
                s.ladder.iter().enumerate().flat_map(move |(attempt, m)| {
                    m.variants.iter().flat_map(move |v| {
                        v.channels.iter().map(move |ch| {
                            let at = if attempt == 0 {
                                format!("dialogue `{}` step `{}`", d.id, s.id)
                            } else {
                                format!("dialogue `{}` step `{}` escalation {attempt}", d.id, s.id)
                            };
                            (v.template.as_str(), ch.as_str(), d.file.as_path(), at, (&d.source, v.template_at.clone()))
                        })
                    })
                })
            })
        });
        diags.0.extend(t.missing(uses));
        diags.0.extend(item_outside_announcements(t, plan, &schemas.catalog));
    }
    (templates, diags)
}

/// A warning for each dialogue that is not an announcement and sends a template reading
/// `item.*`: only an announcement has a catalogue row, so there `item` is empty. (Without a
/// catalogue, `item.*` is an error of the template already.)
fn item_outside_announcements(
    t: &Templates,
    plan: &Plan,
    catalog: &crate::expr::compile::Schema,
) -> Vec<crate::diag::Diagnostic> {
    let mut out = Vec::new();
    if !catalog.open && catalog.fields.is_empty() {
        return out;
    }
    for d in &plan.dialogues {
        // (A follow-on, without a trigger, may be started by an announcement and have its item.)
        if !matches!(&d.trigger, Some(t) if !matches!(t, crate::dialogue::plan::Trigger::Announcement { .. })) {
            continue;
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &d.steps {
            for v in s.ladder.iter().flat_map(|m| &m.variants) {
                let Some(tpl) = t.keys.get(&v.template) else { continue };
                let fields = match &tpl.needs.item {
                    Some(f) if f.is_empty() => continue,
                    Some(f) => f.iter().map(|f| format!("`item.{f}`")).collect::<Vec<_>>().join(", "),
                    None => "`item`".to_owned(),
                };
                if seen.insert(v.template.clone()) {
                    out.push(
                        crate::diag::Diagnostic::warning(
                            &d.file,
                            format!(
                                "dialogue `{}` step `{}` sends template `{}`, which reads {fields}: only an announcement has a catalogue row, so `item` is empty here",
                                d.id, s.id, v.template
                            ),
                        )
                        .at(&d.source, v.template_at.clone())
                        .with_hint("send it from an announcement dialogue, or leave `item.*` out of the template"),
                    );
                }
            }
        }
    }
    out
}

/// `load_templates` for a run: fail with every error; print warnings.
fn templates(project: &Project, schemas: &Schemas, plan: &Plan, quiet: bool) -> Result<Option<Templates>> {
    let (t, diags) = load_templates(project, schemas, plan);
    if diags.has_errors() {
        return Err(Reported(diags).into());
    }
    if !quiet {
        for d in &diags.0 {
            eprintln!("{d}");
        }
    }
    Ok(t)
}

fn open_schemas(project: &Project) -> Schemas {
    Schemas::open(|k| project.cfg.numeric(k).to_vec())
}

/// Dialogues and data, checked in the cheapest order: headers and dialogues before reading
/// millions of rows.
fn prepare(r: &Replay, quiet: bool) -> Result<(Plan, Data, Option<Templates>)> {
    let paths = &r.spec.paths;
    if paths.any_stream() {
        // stdin or a pipe can be read once: load first, then check the dialogues against what came.
        let data = input::load_showing(&r.spec, !quiet)?;
        let schemas = Schemas::of_data(&data, &open_schemas(&r.project));
        let names = |t: Option<&input::Table>| {
            t.map(|t| {
                ["customer_id".to_owned(), "timestamp".to_owned()].into_iter().chain(t.names.iter().cloned()).collect()
            })
        };
        let headers = |k: TableKind| match k {
            TableKind::Transactions => names(Some(&data.tx)),
            TableKind::Events => names(data.events.as_ref()),
            TableKind::Customers => names(data.customers.as_ref()),
            TableKind::Catalog => names(data.catalog.as_deref()),
        };
        let columns = r.project.cfg.column_problems(&headers, true);
        let plan = plan(&r.project, &schemas, quiet).map_err(|e| with_column_errors(e, &columns))?;
        report_columns(columns, quiet)?;
        let templates = templates(&r.project, &schemas, &plan, quiet)?;
        catalogue_warnings(&plan, &data, quiet);
        event_type_warnings(&plan, &data, quiet);
        return Ok((plan, data, templates));
    }
    let mut schemas = open_schemas(&r.project);
    schemas.tx = match &paths.transactions {
        Some(t) => schema_from_headers(&r.spec, TableKind::Transactions, t)?,
        None => Schema::not_given(TableKind::Transactions),
    };
    schemas.events = match &paths.events {
        Some(e) => schema_from_headers(&r.spec, TableKind::Events, e)?,
        None => Schema::new(TableKind::Events, schemas.events.fields.clone(), false),
    };
    schemas.customers = match &paths.customers {
        Some(c) => schema_from_headers(&r.spec, TableKind::Customers, c)?,
        None => Schema::not_given(TableKind::Customers),
    };
    schemas.catalog = match &paths.catalog {
        Some(c) => schema_from_headers(&r.spec, TableKind::Catalog, c)?,
        None => Schema::not_given(TableKind::Catalog),
    };
    // The columns kairos.yaml names are reported with the dialogues' problems: a dialogue's
    // error may follow from one of them (`spend` when the amount mapping names no header).
    let columns = column_problems(&r.project, &r.spec, true)?;
    let plan = plan(&r.project, &schemas, quiet).map_err(|e| with_column_errors(e, &columns))?;
    report_columns(columns, quiet)?;
    let templates = templates(&r.project, &schemas, &plan, quiet)?;
    let data = input::load_showing(&r.spec, !quiet)?;
    catalogue_warnings(&plan, &data, quiet);
    event_type_warnings(&plan, &data, quiet);
    Ok((plan, data, templates))
}

/// Announcements of a type the catalogue does not hold.
fn catalogue_warnings(plan: &Plan, data: &Data, quiet: bool) {
    if !quiet {
        for d in crate::engine::catalog::type_warnings(plan, data) {
            eprintln!("{d}");
        }
    }
}

/// Event types the dialogues wait for that no event has (a whole-file run; `--presorted`
/// gathers the types of every batch and warns at the end).
fn event_type_warnings(plan: &Plan, data: &Data, quiet: bool) {
    if !quiet {
        for d in crate::engine::responses::event_type_warnings(plan, data) {
            eprintln!("{d}");
        }
    }
}

/// Every column kairos.yaml names must be in its file's header (`strict`: also when that file
/// is not given, for settings that cannot fall back, such as consent and do-not-contact).
/// A dialogue failure with the column errors added, in file order.
fn with_column_errors(e: anyhow::Error, columns: &Diagnostics) -> anyhow::Error {
    match e.downcast::<Reported>() {
        Ok(mut r) => {
            r.0 .0.extend(columns.0.iter().filter(|d| d.is_error()).cloned());
            r.0.sort();
            r.into()
        }
        Err(e) => e,
    }
}

/// Every column kairos.yaml names, against the headers of the files given.
fn column_problems(project: &Project, spec: &input::InputSpec, strict: bool) -> Result<Diagnostics> {
    let paths = &spec.paths;
    let mut headers: [Option<Vec<String>>; 4] = [None, None, None, None];
    for (kind, path) in [
        (TableKind::Transactions, paths.transactions.as_ref()),
        (TableKind::Customers, paths.customers.as_ref()),
        (TableKind::Events, paths.events.as_ref()),
        (TableKind::Catalog, paths.catalog.as_ref()),
    ] {
        if let Some(p) = path {
            headers[kind.slot()] = Some(table::read_headers(p, &spec.table(kind))?);
        }
    }
    Ok(project.cfg.column_problems(&|k| headers[k.slot()].clone(), strict))
}

/// Fail with every column error; print column warnings.
fn report_columns(diags: Diagnostics, quiet: bool) -> Result<()> {
    if diags.has_errors() {
        return Err(Reported(diags).into());
    }
    if !quiet {
        for d in &diags.0 {
            eprintln!("{d}");
        }
    }
    Ok(())
}

/// The engine's settings once the data is known (as-of defaults to its latest timestamp).
fn engine_settings(r: &Replay, data: &Data) -> Result<Settings> {
    let cfg = &r.project.cfg;
    crate::engine::check_consent_events(data, &cfg.policy)?;
    let as_of = match r.as_of {
        Some(t) => t,
        None => data.latest_timestamp().ok_or_else(|| {
            anyhow::anyhow!("the inputs hold no rows, so there is no history to replay; pass --as-of to run anyway")
        })?,
    };
    Ok(Settings {
        policy: cfg.policy.clone(),
        tz: cfg.tz,
        as_of,
        horizon: r.horizon,
        response_type: cfg.response_type.clone(),
        ledger: None,
    })
}

fn run(s: RunSettings) -> Result<ExitCode> {
    let ledger = s.ledger.clone();
    let result = run_replay(s);
    match (result, ledger) {
        // A closed pipe is how `| head` ends a plain run; with a ledger it means the plan was
        // not delivered whole, and a nightly job must not take that for a good night.
        (Err(e), Some(l)) if is_broken_pipe(&e) => Err(anyhow::anyhow!(
            "the output was closed before the plan was written whole; nothing was recorded in the ledger {} (the next run emits these messages again)",
            l.display()
        )),
        (result, _) => result,
    }
}

/// A ledger run's night must not come before the ledger's latest: an earlier night would
/// emit what a later one already gave up on (`expired`) and misread the later night's
/// records as messages today's replay no longer makes.
fn night_in_order(ledger: &std::path::Path, held: &crate::ledger::Held, night: &str) -> Result<()> {
    match held.last_night() {
        Some(latest) if night < latest => Err(anyhow::anyhow!(
            "{}: this ledger holds night {latest}, and this run's night is {night}, before it; nothing was emitted\n  = help: nights are run in order. A skipped night needs no run of its own: the next night emits its messages (as `late`, within max_late). To rebuild an earlier night's file, use `--reemit {night}`",
            ledger.display()
        )),
        _ => Ok(()),
    }
}

fn run_replay(s: RunSettings) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    // The ledger is locked first and held to the end: a second run fails at once.
    let mut ledger_file = match &s.ledger {
        Some(p) => Some(crate::ledger::Ledger::open(p)?),
        None => None,
    };
    let mut ledger = match ledger_file.as_mut() {
        Some(l) => Some(l.lock()?),
        None => None,
    };
    let held = match ledger.as_mut() {
        Some(l) => Some(l.read()?),
        None => None,
    };
    let shard = s.replay.spec.shard;
    let shard_name = (!shard.is_all()).then(|| shard.to_string());
    if let (Some(p), Some(h)) = (&s.ledger, &held) {
        h.check_shard(p, shard_name.as_deref())?;
    }
    // `--reemit`: the night's recorded messages, rebuilt by a replay up to that night.
    let reemit = match (&s.reemit, &held) {
        (Some(night), Some(h)) => Some(std::sync::Arc::new(h.recorded_on(night))),
        _ => None,
    };
    let pool = s.replay.pool()?;
    pool.install(|| {
        let sink = open_run_sink(&s)?;
        let ledger_arc = held.as_ref().map(|h| std::sync::Arc::new(h.by_id()));
        let ledger_ids = held.as_ref().filter(|_| reemit.is_none()).map(|h| std::sync::Arc::new(h.ids.clone()));
        // The ledger's first night, as the instant its day starts.
        let tz = s.replay.project.cfg.tz;
        let first_night = held
            .as_ref()
            .and_then(|h| h.first_night())
            .and_then(|n| crate::input::time::parse_as_of(n, tz))
            .map(|end| crate::input::time::day_start(end, tz));
        let tz = s.replay.project.cfg.tz;
        // What to write of a replay up to `as_of`.
        let selection = |as_of: i64| {
            let since = match s.window {
                Window::Since(t) => Some(t),
                Window::Due => Some(crate::input::time::day_start(as_of, tz) - 1),
                Window::All => None,
            };
            let ledger_sel = ledger_ids.as_ref().map(|ids| {
                let day_start = crate::input::time::day_start(as_of, tz);
                crate::output::LedgerSel {
                    held: ids.clone(),
                    day_start,
                    oldest: day_start.saturating_sub(s.max_late),
                    before_ledger: first_night.map(|f| f.min(day_start).saturating_sub(s.max_late)),
                    max_late: s.max_late,
                    night: crate::input::time::local_date(as_of, tz),
                    shard: shard_name.clone(),
                }
            });
            Selection { as_of, since, include_suppressed: s.include_suppressed, ledger: ledger_sel, reemit: reemit.clone() }
        };
        let layout = s.replay.project.layout(!s.raw_csv, !s.no_profile);
        // The customers come in one batch, or batch by batch with `--presorted`; either way
        // one writer streams them.
        let preparing = std::time::Instant::now();
        let (plan, templates, mut source) = match s.presorted {
            Some(block) => {
                let (plan, inputs, templates) = prepare_presorted(&s.replay, block, s.quiet)?;
                (plan, templates, Batches::Sorted(inputs))
            }
            None => {
                let (plan, data, templates) = prepare(&s.replay, s.quiet)?;
                (plan, templates, Batches::Whole(Some(data)))
            }
        };
        let customers = match (&source, s.quiet) {
            (Batches::Whole(Some(d)), false) => Some(d.people.len() as u64),
            _ => None,
        };
        let mut last: Option<Data> = None;
        let mut event_types = std::collections::BTreeSet::new();
        let mut input_error = None;
        let mut result = None;
        let mut as_of = 0;
        let replaying = std::time::Instant::now();
        let prepare = replaying - preparing;
        sink.write_with(|out| {
            let r = stream::write_batches(s.format, customers, out, |emit| {
                let mut next = source.next();
                loop {
                    let data = match next {
                        Ok(Some(data)) => data,
                        Ok(None) => break,
                        Err(e) => {
                            input_error = Some(e);
                            return Err(std::io::Error::other("input error").into());
                        }
                    };
                    if let (Batches::Sorted(_), Some(ev)) = (&source, &data.events) {
                        // Event-type warnings come at the end, from every batch's types.
                        event_types.extend(crate::engine::responses::event_types_of(ev).into_iter().map(str::to_owned));
                    }
                    if last.is_none() {
                        if let Batches::Sorted(inputs) = &source {
                            // (`prepare` gave them for a whole run.)
                            catalogue_warnings(&plan, &data, s.quiet);
                            if !s.quiet {
                                inputs.show_progress();
                            }
                        }
                    }
                    let mut settings = engine_settings(&s.replay, &data)?;
                    settings.ledger = ledger_arc.clone();
                    as_of = settings.as_of;
                    if let (None, Some(p), Some(h), None) = (&last, &s.ledger, &held, &reemit) {
                        night_in_order(p, h, &crate::input::time::local_date(as_of, tz))?;
                    }
                    {
                        let ev = Evaluator::new(&data, &plan, settings);
                        let writer = Writer::new(&data, &plan, &layout, selection(as_of))
                            .with_templates(templates.as_ref())
                            .with_sender(s.sender.clone());
                        // With `--presorted`, the next batch is read and parsed while this one
                        // is evaluated and written (a whole run has no next): the reading, which
                        // is partly serial, no longer leaves a core idle between batches.
                        let (read, written) = rayon::join(|| source.next(), || emit(&ev, &writer));
                        written?;
                        next = read;
                    }
                    last = Some(data);
                }
                Ok(())
            })
            .map_err(|e| match e.downcast::<std::io::Error>() {
                Ok(io) => io,
                Err(e) => std::io::Error::other(format!("{e:#}")),
            })?;
            let n = r.2.messages;
            result = Some(r);
            Ok(n)
        })
        .map_err(|e| match input_error.take() {
            Some(i) => anyhow::Error::new(i),
            None => anyhow::Error::new(e),
        })?;
        let replay = replaying.elapsed();
        if let (Batches::Sorted(_), Some(path), false) = (&source, &s.replay.spec.paths.events, s.quiet) {
            let types: Vec<&str> = event_types.iter().map(String::as_str).collect();
            for d in crate::engine::responses::event_type_warnings_for(&plan, path, &types) {
                eprintln!("{d}");
            }
        }
        let Some((stats, warnings, emitted)) = result else { bail!("no output was produced") };
        let Some(mut data) = last else { bail!("no input was read") };
        if let Batches::Sorted(inputs) = &source {
            // The summary counts every batch's profiles.
            data.profile_count = inputs.profiles;
        }
        // Only now that the output is in place are its messages recorded.
        let mut ledger_time = None;
        if let (Some(l), Some(h), None) = (ledger.as_mut(), held.as_ref(), &reemit) {
            let recording = std::time::Instant::now();
            l.append(h, &emitted.ledger).map_err(|e| {
                anyhow::anyhow!(
                    "{e}\n  = note: the plan was written; the next run emits its messages again, with the same ids"
                )
            })?;
            ledger_time = Some(recording.elapsed());
        }
        // The plan (and the ledger) are committed: a stderr that cannot be written (full,
        // closed, a pipe whose reader left) loses the summary, never the run's exit code.
        if !s.quiet {
            let summary = || -> std::io::Result<()> {
                let mut err = std::io::stderr().lock();
                // A cron job run from another folder must not lose its config without a word.
                match &s.replay.project.cfg.path {
                    Some(p) => writeln!(err, "kairos: config {}", p.display())?,
                    None => writeln!(err, "kairos: no kairos.yaml beside the dialogues folder or here; using defaults")?,
                }
                if let Some(name) = &shard_name {
                    writeln!(
                        err,
                        "kairos: shard {name}: only the customers whose id's xxh3-64 hash mod {} is {}; the counts below are this shard's",
                        shard.n,
                        shard.k - 1
                    )?;
                }
                report::summary::print(&mut err, &data, &plan, &stats, &warnings, as_of, &emitted.by_status, s.summary)?;
                for (key, (n, most)) in &emitted.long_sms {
                    writeln!(
                        err,
                        "warning: {n} SMS messages of template `{key}` are longer than {} segments (the longest has {most}); shorten the text or raise content.sms_max_segments",
                        s.replay.project.cfg.sms_max_segments
                    )?;
                }
                if s.format.is_mail() {
                    let what = match (s.format, s.output.as_deref()) {
                        (crate::output::Format::Eml, Some(d)) => format!("as .eml files in {}", d.display()),
                        _ => "as mbox".to_owned(),
                    };
                    writeln!(err, "  {} email messages written {what}", emitted.messages)?;
                    if emitted.not_mail > 0 {
                        writeln!(
                            err,
                            "  {} messages are not email (another channel, or no valid email address) and are not in this output: write them with --format jsonl",
                            emitted.not_mail
                        )?;
                    }
                }
                if let (Some(p), Some(h), true, None) =
                    (&s.ledger, &held, s.summary != report::summary::Detail::None, &reemit)
                {
                    let recorded = emitted.ledger.iter().filter(|&&b| b == b'\n').count();
                    writeln!(
                        err,
                        "  ledger {}: {recorded} messages recorded now ({} late), {} expired (due more than {} before this night, not sent), {} held from earlier nights",
                        p.display(),
                        emitted.late,
                        emitted.expired,
                        crate::model::format_duration(s.max_late),
                        h.ids.len()
                    )?;
                    let gone = (h.ids.len() as u64).saturating_sub(emitted.held_seen);
                    if gone > 0 {
                        writeln!(
                            err,
                            "  ledger: {gone} recorded messages are not produced by today's replay (dialogues or data changed); they are never emitted again; `kairos explain CUSTOMER --ledger FILE` shows which"
                        )?;
                    }
                }
    Ok(())
            };
            let _ = summary();
        }
        if let (Some(ids), Some(night)) = (&reemit, &s.reemit) {
            let found = emitted.messages + emitted.not_mail;
            if !s.quiet {
                let not_mail = match emitted.not_mail {
                    0 => String::new(),
                    n => format!(" ({n} of them not email, so not in this output)"),
                };
                eprintln!(
                    "kairos: re-emitted {found} of the {} messages the ledger recorded on {night}{not_mail}; nothing recorded",
                    ids.len()
                );
            }
            if ids.is_empty() {
                let nights = held
                    .as_ref()
                    .and_then(|h| Some((h.first_night()?, h.last_night()?)))
                    .map_or_else(|| "it holds no night yet".to_owned(), |(a, b)| format!("it holds nights {a} to {b}"));
                eprintln!(
                    "warning: the ledger records no message on {night} ({nights}): there was nothing to re-emit, or that night never ran"
                );
            }
            let missing = (ids.len() as u64).saturating_sub(found);
            if missing > 0 {
                eprintln!(
                    "warning: {missing} of the messages the ledger recorded on {night} are not produced by a replay of these inputs (the dialogues or the data changed since), so they are not in this output; their ledger entries say what they were, and `kairos explain CUSTOMER --ledger FILE` shows why"
                );
            }
        }
        if s.timings {
            let presorted = matches!(source, Batches::Sorted(_));
            let t = timings::Timings {
                prepare,
                reads: if presorted { Vec::new() } else { timings::Timings::reads_of(&data) },
                replay,
                ledger: ledger_time,
                presorted,
                total: started.elapsed(),
            };
            eprint!("{}", t.render());
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The customers of a run: all at once, or a batch at a time (`--presorted`).
// One value per run: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Batches {
    Whole(Option<Data>),
    Sorted(input::Presorted),
}

impl Batches {
    fn next(&mut self) -> Result<Option<Data>, input::InputError> {
        match self {
            Batches::Whole(d) => Ok(d.take()),
            Batches::Sorted(inputs) => inputs.next_batch(),
        }
    }
}

/// The output, refusing to replace any file the run reads.
/// The output of `run`: a folder for `--format eml`, else a file or stdout.
fn open_run_sink(s: &RunSettings) -> Result<Sink> {
    open_sink_as(&s.replay, s.output.as_deref(), s.format == crate::output::Format::Eml, s.ledger.as_deref())
}

fn open_sink(replay: &Replay, output: Option<&Path>) -> Result<Sink> {
    open_sink_as(replay, output, false, None)
}

fn open_sink_as(replay: &Replay, output: Option<&Path>, folder: bool, ledger: Option<&Path>) -> Result<Sink> {
    let paths = &replay.spec.paths;
    let mut protected = Vec::new();
    if let Some(t) = &paths.transactions {
        protected.push(Protected { what: "the transactions input", path: t });
    }
    if let Some(c) = &paths.customers {
        protected.push(Protected { what: "the customers input", path: c });
    }
    if let Some(e) = &paths.events {
        protected.push(Protected { what: "the events input", path: e });
    }
    if let Some(c) = &paths.catalog {
        protected.push(Protected { what: "the catalogue input", path: c });
    }
    if let Some(c) = &replay.project.cfg.path {
        protected.push(Protected { what: "the config", path: c });
    }
    let dialogue_files = dialogue::load::dialogue_files(&replay.project.dialogues).unwrap_or_default();
    let dialogue_files: Vec<std::path::PathBuf> = dialogue_files;
    protected.extend(dialogue_files.iter().map(|p| Protected { what: "a dialogue file", path: p }));
    let template_files = replay.project.templates.as_deref().map(crate::template::files).unwrap_or_default();
    protected.extend(template_files.iter().map(|p| Protected { what: "a template file", path: p }));
    if let Some(l) = ledger {
        protected.push(Protected { what: "the ledger", path: l });
    }
    let name = match output {
        None => "stdout".to_owned(),
        Some(p) if p == Path::new("-") => "stdout".to_owned(),
        Some(p) => p.display().to_string(),
    };
    let opened = match (folder, output) {
        (true, Some(dir)) => Sink::open_dir(dir, &protected),
        (_, path) => Sink::open(path, &protected),
    };
    opened.map_err(|e| anyhow::Error::new(e).context(format!("cannot write to {name}")))
}

/// `kairos report`: replay as `run` does, keep the counts, write one HTML file.
fn report(s: ReportSettings) -> Result<ExitCode> {
    let pool = s.replay.pool()?;
    pool.install(|| {
        let sink = open_sink(&s.replay, Some(&s.output))?;
        let (plan, data, _templates) = prepare(&s.replay, s.quiet)?;
        let settings = engine_settings(&s.replay, &data)?;
        let as_of = settings.as_of;
        let ev = Evaluator::new(&data, &plan, settings);
        let (stats, warnings) = stream::evaluate(&ev);
        let cfg = &s.replay.project.cfg;
        let inputs = report::html::Inputs {
            data: &data,
            plan: &plan,
            stats: &stats,
            warnings: warnings.len(),
            as_of,
            tz: cfg.tz,
            horizon: s.replay.horizon,
            config: cfg.path.as_deref(),
            dialogues: &s.replay.project.dialogues,
        };
        let html = report::html::render(&inputs);
        sink.write_with(|out| {
            out.write_all(html.as_bytes())?;
            Ok(0)
        })?;
        // The report is written: a stderr that cannot be written loses only the summary.
        if !s.quiet {
            let summary = || -> std::io::Result<()> {
                let mut err = std::io::stderr().lock();
                match &cfg.path {
                    Some(p) => writeln!(err, "kairos: config {}", p.display())?,
                    None => {
                        writeln!(err, "kairos: no kairos.yaml beside the dialogues folder or here; using defaults")?
                    }
                }
                report::summary::warnings(&mut err, &data, &warnings)?;
                if s.output != Path::new("-") {
                    writeln!(
                        err,
                        "kairos: report of {} dialogue{} over {} customers up to {} written to {}",
                        plan.dialogues.len(),
                        if plan.dialogues.len() == 1 { "" } else { "s" },
                        stats.customers,
                        crate::input::time::format_utc(as_of),
                        s.output.display()
                    )?;
                }
                Ok(())
            };
            let _ = summary();
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn check(args: &CheckArgs, quiet: bool) -> Result<ExitCode> {
    let project = match Project::from_args(&args.project) {
        Ok(p) => p,
        // Problems in kairos.yaml are what `check` looks for: exit 1, like the dialogues'.
        // The dialogues' and templates' own shape does not depend on it: reported too.
        Err(e) => match e.downcast::<Reported>() {
            Ok(mut r) => {
                r.0 .0.extend(dialogue::shape_problems(&args.project.dialogues).0);
                if let Some(dir) = settings::find_templates(&args.project, &crate::config::Config::default()) {
                    r.0 .0.extend(crate::template::shape_problems(&dir).0);
                }
                r.0.sort();
                eprintln!("{r}");
                return Ok(ExitCode::from(1));
            }
            Err(e) => return Err(e),
        },
    };
    let spec = project.input_spec(input::InputPaths {
        transactions: args.transactions.clone(),
        customers: args.customers.clone(),
        events: args.events.clone(),
        catalog: args.catalog.clone(),
    });
    let mut schemas = open_schemas(&project);
    // Given the history (transactions, profiles or events) and no catalogue, `check` checks
    // a run without one: `item.*` is an error here as it is there (a template of `item.price`
    // passed check and stopped the run).
    if args.catalog.is_none() && [&args.transactions, &args.customers, &args.events].iter().any(|p| p.is_some()) {
        schemas.catalog = crate::expr::compile::Schema::not_given(TableKind::Catalog);
    }
    if let Some(c) = &args.catalog {
        schemas.catalog = schema_from_headers(&spec, TableKind::Catalog, c)?;
    }
    if let Some(t) = &args.transactions {
        schemas.tx = schema_from_headers(&spec, TableKind::Transactions, t)?;
    }
    if let Some(e) = &args.events {
        schemas.events = schema_from_headers(&spec, TableKind::Events, e)?;
    }
    if let Some(c) = &args.customers {
        schemas.customers = schema_from_headers(&spec, TableKind::Customers, c)?;
    }
    let (plan, mut diags) = dialogue::load(&project.dialogues, &schemas, &project.known());
    // Columns kairos.yaml names, against the files given.
    let headers = |k: TableKind| {
        let p = match k {
            TableKind::Transactions => args.transactions.as_ref(),
            TableKind::Customers => args.customers.as_ref(),
            TableKind::Events => args.events.as_ref(),
            TableKind::Catalog => args.catalog.as_ref(),
        }?;
        table::read_headers(p, &spec.table(k)).ok()
    };
    diags.0.extend(project.cfg.column_problems(&headers, false).0);
    diags.0.extend(load_templates(&project, &schemas, &plan).1 .0);
    // Event types no event has, when the events file is given and reads (a bad row is `run`'s
    // to report, with its line).
    if let Some(e) = &args.events {
        let format = spec.date_format_for(e, TableKind::Events);
        if let Ok(t) = table::load(e, &spec.table(TableKind::Events), format, spec.tz) {
            diags.0.extend(crate::engine::responses::event_type_warnings_in(&plan, &t));
        }
    }
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
            diags.counts()
        )?;
    }
    Ok(if diags.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn explain(args: &ExplainArgs) -> Result<ExitCode> {
    let replay = Replay::from_args(&args.project, &args.input)?;
    let pool = replay.pool()?;
    pool.install(|| {
        let (plan, data, templates) = prepare(&replay, true)?;
        let settings = engine_settings(&replay, &data)?;
        let person = find_customer(&data, &args.customer)?;
        let as_of = settings.as_of;
        let ev = Evaluator::new(&data, &plan, settings);
        let mut trace = Vec::new();
        let mut stats = Stats::default();
        let result = ev.run_customer(person, &mut Default::default(), &mut stats, Some(&mut trace));
        let layout = replay.project.layout(false, true);
        let writer = Writer::new(
            &data,
            &plan,
            &layout,
            Selection { as_of, since: None, include_suppressed: true, ledger: None, reemit: None },
        )
        .with_templates(templates.as_ref());
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let ledger = match &args.ledger {
            None => Vec::new(),
            Some(p) => {
                let held = crate::ledger::read_unlocked(p)?;
                let produced: std::collections::HashSet<String> =
                    result.messages.iter().map(|m| writer.row(&result, m).message_id().to_owned()).collect();
                held.lines
                    .iter()
                    .filter_map(|(_, l)| serde_json::from_str::<serde_json::Value>(l).ok())
                    .filter(|v| v["customer_id"] == data.people[person].id.as_ref())
                    .map(|v| {
                        let here = v["message_id"].as_str().is_some_and(|id| produced.contains(id));
                        (v, here)
                    })
                    .collect()
            }
        };
        report::explain::write(&mut out, &writer, &result, &trace, args.json, &data.people[person].id, &ledger)?;
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The index of a customer in the data, or an error with a did-you-mean.
fn find_customer(data: &Data, id: &str) -> Result<usize> {
    data.people.binary_search_by(|p| p.id.as_ref().cmp(id)).map_err(|_| {
        let hint = did_you_mean(id, data.people.iter().map(|p| p.id.as_ref()))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        anyhow::anyhow!("customer `{id}` has no transactions or events in the inputs{hint}")
    })
}

/// The index of dialogue `id`, or an error with a did-you-mean (else the list of dialogues).
fn find_dialogue(plan: &Plan, id: &str) -> Result<usize> {
    plan.find(id).ok_or_else(|| {
        let hint = did_you_mean(id, plan.dialogues.iter().map(|d| d.id.as_str()))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| {
                format!(
                    "the dialogues are: {}",
                    plan.dialogues.iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", ")
                )
            });
        anyhow::anyhow!("unknown dialogue `{id}`\n  = help: {hint}")
    })
}

fn preview(args: &PreviewArgs) -> Result<ExitCode> {
    let replay = Replay::from_args(&args.project, &args.input)?;
    if replay.project.templates.is_none() {
        bail!("preview renders message content, and there are no templates: give --templates DIR (or content.templates in kairos.yaml)");
    }
    let pool = replay.pool()?;
    pool.install(|| {
        let (plan, data, templates) = prepare(&replay, true)?;
        let settings = engine_settings(&replay, &data)?;
        let person = find_customer(&data, &args.customer)?;
        let dialogue = match &args.dialogue {
            None => None,
            Some(d) => Some(find_dialogue(&plan, d)?),
        };
        if let (Some(d), Some(step)) = (dialogue, &args.step) {
            let steps = &plan.dialogues[d].steps;
            if !steps.iter().any(|s| &s.id == step) {
                let hint = did_you_mean(step, steps.iter().map(|s| s.id.as_str()))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                bail!("dialogue `{}` has no step `{step}`{hint}", plan.dialogues[d].id);
            }
        }
        let as_of = settings.as_of;
        let ev = Evaluator::new(&data, &plan, settings);
        let mut stats = Stats::default();
        let result = ev.run_customer(person, &mut Default::default(), &mut stats, None);
        let layout = replay.project.layout(false, false);
        let selection =
            Selection { as_of, since: None, include_suppressed: args.include_suppressed, ledger: None, reemit: None };
        let writer = Writer::new(&data, &plan, &layout, selection).with_templates(templates.as_ref());
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let filter = report::preview::Filter { dialogue, step: args.step.as_deref() };
        report::preview::write(&mut out, &writer, &result, &filter)?;
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    })
}

fn graph(args: &GraphArgs) -> Result<ExitCode> {
    let project = Project::from_args(&args.project)?;
    let schemas = open_schemas(&project);
    let (plan, diags) = dialogue::load(&project.dialogues, &schemas, &project.known());
    if diags.has_errors() {
        return Err(Reported(diags).into());
    }
    let d = find_dialogue(&plan, &args.dialogue)?;
    let format = match args.format {
        args::GraphFormat::Mermaid => report::graph::Format::Mermaid,
        args::GraphFormat::Dot => report::graph::Format::Dot,
    };
    let text = report::graph::render(&plan, d, format);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod fast_path_tests;
