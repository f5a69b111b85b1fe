//! From raw arguments and kairos.yaml to checked settings, before any work (as ripgrep's
//! low-level → high-level arguments): every flag value is parsed and validated here, once.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::config::{Config, Overrides};
use crate::dialogue::Known;
use crate::input::{InputPaths, InputSpec, Shard};
use crate::model::Duration;
use crate::output::{Format, Layout};

use super::args::{self, InputArgs, ProjectArgs, ReportArgs, RunArgs};
use super::Reported;

/// Where kairos.yaml is when `--config` is not given: beside the (first) dialogues folder,
/// that is in the folder that holds it (for a dialogue file: beside the file), so a cron job
/// started from any directory finds the same config; else in the working directory.
pub fn find_config(dialogues: &[PathBuf]) -> Option<PathBuf> {
    let first = dialogues.first()?;
    let beside = first.parent().map(|h| h.join("kairos.yaml"));
    if let Some(b) = beside.filter(|b| b.is_file()) {
        return Some(b);
    }
    let here = Path::new("kairos.yaml");
    here.is_file().then(|| here.to_path_buf())
}

/// The project: kairos.yaml merged with flags, and where the dialogues are.
pub struct Project {
    pub cfg: Config,
    /// Dialogue files and folders, as given.
    pub dialogues: Vec<PathBuf>,
    /// The templates folder, if content is rendered.
    pub templates: Option<PathBuf>,
}

/// Where the templates are: `--templates`, else `content.templates` in kairos.yaml, else a
/// `templates` folder beside the (first) dialogues folder, found as kairos.yaml is.
pub fn find_templates(p: &ProjectArgs, cfg: &Config) -> Option<PathBuf> {
    if p.no_templates {
        return None;
    }
    if let Some(t) = p.templates.clone().or_else(|| cfg.templates_dir.clone()) {
        return Some(t);
    }
    let beside = p.dialogues.first()?.parent()?.join("templates");
    let beside = if beside.as_os_str() == "templates" { PathBuf::from("templates") } else { beside };
    beside.is_dir().then_some(beside)
}

impl Project {
    pub fn from_args(p: &ProjectArgs) -> Result<Project> {
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
        let path = p.config.clone().or_else(|| find_config(&p.dialogues));
        let cfg = Config::load(path.as_deref(), &overrides).map_err(Reported)?;
        let templates = find_templates(p, &cfg);
        Ok(Project { cfg, dialogues: p.dialogues.clone(), templates })
    }

    /// What dialogue checking needs to know from the config.
    pub fn known(&self) -> Known {
        Known {
            tiers: self.cfg.policy.tier_names(),
            templates: self.cfg.templates.clone(),
            rfm: self.cfg.rfm.clone(),
            channels: self.cfg.channel_names(),
            tiers_configured: self.cfg.policy.tiers.is_some(),
        }
    }

    /// How to read the inputs at `paths`.
    pub fn input_spec(&self, paths: InputPaths) -> InputSpec {
        let kinds = crate::model::TableKind::ALL;
        InputSpec {
            paths,
            rename: kinds.map(|k| self.cfg.columns(k).clone()),
            numeric: kinds.map(|k| self.cfg.numeric(k).to_vec()),
            date_format: self.cfg.date_format.clone(),
            tz: self.cfg.tz,
            shard: crate::input::Shard::ALL,
        }
    }

    /// What the output writer needs from the config.
    pub fn layout(&self, escape_formulas: bool, with_profile: bool) -> Layout {
        Layout {
            tz: self.cfg.tz,
            escape_formulas,
            with_profile,
            timezone_column: self.cfg.policy.timezone_column.clone(),
            contact_fields: self
                .cfg
                .channels
                .iter()
                .filter_map(|(ch, c)| c.contact.as_ref().map(|f| (ch.clone(), f.clone())))
                .collect(),
        }
    }
}

/// Which messages a run writes.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    All,
    /// The as-of day only (nightly).
    Due,
    /// After this instant, up to as-of.
    Since(i64),
}

/// More worker threads than this only cost memory and start-up time.
pub const MAX_THREADS: usize = 256;
/// How far past as-of a run may project.
pub const MAX_HORIZON: i64 = 100 * crate::model::YEAR;

fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Inputs and evaluation settings shared by `run` and `explain`.
pub struct Replay {
    pub project: Project,
    pub spec: InputSpec,
    /// None: the latest input timestamp.
    pub as_of: Option<i64>,
    pub horizon: i64,
    pub threads: Option<usize>,
}

impl Replay {
    pub fn from_args(p: &ProjectArgs, i: &InputArgs) -> Result<Replay> {
        let project = Project::from_args(p)?;
        let paths = InputPaths {
            transactions: i.transactions.clone(),
            customers: i.customers.clone(),
            events: i.events.clone(),
            catalog: i.catalog.clone(),
        };
        paths.check_stdin()?;
        let tz = project.cfg.tz;
        let as_of = match &i.as_of {
            Some(s) => Some(crate::input::time::parse_as_of(s, tz).ok_or_else(|| {
                anyhow!("--as-of {s:?}: expected a date (2025-06-30) or date-time (2025-06-30T12:00:00Z) in the years 1000 to 9999")
            })?),
            None => None,
        };
        let horizon = i
            .horizon
            .parse::<Duration>()
            .map_err(|_| anyhow!("--horizon {:?}: expected a duration such as 365d", i.horizon))?
            .secs();
        match i.threads {
            Some(0) => bail!("--threads must be at least 1"),
            Some(n) if n > MAX_THREADS => {
                bail!("--threads {n}: at most {MAX_THREADS} worker threads (this machine has {})", available_threads())
            }
            _ => {}
        }
        if horizon > MAX_HORIZON {
            bail!("--horizon {}: at most 100 years past as-of", i.horizon);
        }
        let spec = project.input_spec(paths);
        Ok(Replay { project, spec, as_of, horizon, threads: i.threads })
    }

    /// A worker pool of the requested size.
    pub fn pool(&self) -> Result<rayon::ThreadPool> {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(n) = self.threads {
            b = b.num_threads(n);
        }
        b.build().context("cannot start worker threads")
    }
}

/// `kairos run`, checked.
pub struct RunSettings {
    pub replay: Replay,
    pub format: Format,
    pub output: Option<PathBuf>,
    pub window: Window,
    pub include_suppressed: bool,
    /// CSV text exactly as it is, formulas and all.
    pub raw_csv: bool,
    /// Leave the profile columns out of CSV and JSONL.
    pub no_profile: bool,
    /// The sent ledger, if the run uses one.
    pub ledger: Option<PathBuf>,
    pub max_late: i64,
    /// Re-emit the ledger's entries of this night (an as-of date) instead of running.
    pub reemit: Option<String>,
    pub quiet: bool,
    /// The sender of `eml`/`mbox` messages.
    pub sender: Option<crate::output::mail::Sender>,
    pub summary: crate::report::summary::Detail,
    /// `--presorted`: the inputs are read a batch of customers at a time, this many bytes of
    /// transactions each.
    pub presorted: Option<usize>,
    /// `--timings`: each stage's wall-clock time on stderr at the end.
    pub timings: bool,
}

impl RunSettings {
    pub fn from_args(a: &RunArgs, quiet: bool) -> Result<RunSettings> {
        if a.due && a.input.as_of.is_none() {
            bail!("--due needs --as-of: the day whose messages to emit");
        }
        let mut replay = Replay::from_args(&a.project, &a.input)?;
        if let Some(night) = &a.reemit {
            // The night is replayed as it was run: up to the end of its as-of day.
            let end = crate::input::time::parse_as_of(night, replay.project.cfg.tz)
                .filter(|_| chrono::NaiveDate::parse_from_str(night, "%Y-%m-%d").is_ok())
                .ok_or_else(|| anyhow!("--reemit {night:?}: expected the as-of date of a night, e.g. 2025-06-30"))?;
            match replay.as_of {
                Some(t) if t != end => bail!(
                    "--reemit {night} replays the inputs as of that night; --as-of {} names another moment: leave it out",
                    a.input.as_of.as_deref().unwrap_or_default()
                ),
                _ => replay.as_of = Some(end),
            }
        }
        if let Some(s) = &a.shard {
            replay.spec.shard = s.parse::<Shard>().map_err(|e| anyhow!("--shard {s:?}: {e}"))?;
        }
        let shard = replay.spec.shard;
        if !shard.is_all() && replay.as_of.is_none() && a.reemit.is_none() {
            bail!(
                "--shard {shard} needs --as-of: a shard sees only its customers, so its latest timestamp is not the whole data's; every shard must replay up to the same moment"
            );
        }
        if a.presorted && replay.as_of.is_none() && a.reemit.is_none() {
            bail!(
                "--presorted needs --as-of: the inputs are read a batch at a time, so their latest timestamp is known only at the end, after the first messages are written"
            );
        }
        let window = match (&a.since, a.due) {
            (Some(s), _) => Window::Since(
                crate::input::time::parse_as_of(s, replay.project.cfg.tz)
                    .ok_or_else(|| anyhow!("--since {s:?}: expected a date (2025-06-30) or date-time"))?,
            ),
            (None, true) => Window::Due,
            (None, false) => Window::All,
        };
        if let (Window::Since(since), Some(as_of)) = (&window, replay.as_of) {
            if *since >= as_of {
                bail!(
                    "--since {:?} is not before --as-of {:?}: the window would hold no messages",
                    a.since.as_deref().unwrap_or_default(),
                    a.input.as_of.as_deref().unwrap_or_default()
                );
            }
        }
        let ledger = a.ledger.clone().or_else(|| replay.project.cfg.ledger.clone()).map(|p| shard_path(&p, shard));
        if a.reemit.is_some() && ledger.is_none() {
            bail!("--reemit needs a ledger (--ledger FILE or `ledger:` in kairos.yaml)");
        }
        if a.reemit.is_some() {
            if let Some(l) = ledger.as_ref().filter(|l| !l.exists()) {
                bail!("--reemit: there is no ledger at {}, so nothing to write again", l.display());
            }
        }
        if ledger.is_some() && (a.due || a.since.is_some()) {
            bail!("--due and --since choose a window by date; with a ledger the run emits what the ledger does not hold yet: use one or the other");
        }
        let late = a.max_late.as_deref().unwrap_or("7d");
        let max_late = late
            .parse::<Duration>()
            .map_err(|_| anyhow!("--max-late {late:?}: expected a duration such as 7d"))?
            .secs();
        if a.max_late.is_some() && ledger.is_none() {
            bail!("--max-late goes with a ledger (--ledger FILE or `ledger:` in kairos.yaml): without one nothing is late or expired");
        }
        let format = match a.format {
            args::Format::Csv => Format::Csv,
            args::Format::Json => Format::Json,
            args::Format::Jsonl => Format::Jsonl,
            args::Format::Eml => Format::Eml,
            args::Format::Mbox => Format::Mbox,
        };
        // A flag that changes nothing in this output is a mistake said, not ignored.
        let name = format.name();
        if a.raw_csv && format != Format::Csv {
            bail!("--raw-csv is about CSV cells, and --format {name} writes none");
        }
        if a.mail_from.is_some() && !format.is_mail() {
            bail!("--mail-from is the sender of eml and mbox messages, and --format {name} writes none");
        }
        if a.no_profile && format.is_mail() {
            bail!(
                "--no-profile leaves profile columns out of CSV, JSON and JSONL rows, and --format {name} writes mail"
            );
        }
        let mut sender = None;
        if format.is_mail() {
            if a.include_suppressed {
                bail!("--include-suppressed cannot go with --format {name}: mail is sent as it is written, and a suppressed or expired message must not be; write the suppressed ones as CSV or JSON to look at them");
            }
            if replay.project.templates.is_none() {
                bail!("--format {name} writes message content, and there are no templates: give --templates DIR (or content.templates in kairos.yaml)");
            }
            if format == Format::Eml && a.output.as_deref().is_none_or(|p| p == Path::new("-")) {
                bail!("--format eml writes one file per message: give a new or empty folder with --output DIR");
            }
            let from = a.mail_from.clone().or_else(|| replay.project.cfg.mail_from.clone()).ok_or_else(|| {
                anyhow!("--format {name} needs a sender: set content.from in kairos.yaml or pass --mail-from ADDRESS")
            })?;
            let what = if a.mail_from.is_some() { "--mail-from" } else { "content.from" };
            sender = Some(from.parse::<crate::output::mail::Sender>().map_err(|e| anyhow!("{what}: {e}"))?);
        }
        Ok(RunSettings {
            replay,
            format,
            output: a.output.clone(),
            window,
            include_suppressed: a.include_suppressed,
            raw_csv: a.raw_csv,
            no_profile: a.no_profile,
            ledger,
            max_late,
            reemit: a.reemit.clone(),
            quiet,
            sender,
            summary: match a.summary {
                args::SummaryArg::Short => crate::report::summary::Detail::Short,
                args::SummaryArg::Full => crate::report::summary::Detail::Full,
                args::SummaryArg::None => crate::report::summary::Detail::None,
            },
            presorted: a.presorted.then_some(a.presorted_block),
            timings: a.timings,
        })
    }
}

/// A ledger path with `{shard}` replaced by `K-of-N` (`1-of-1` unsharded), so one kairos.yaml
/// gives every shard its own ledger.
pub fn shard_path(path: &Path, shard: Shard) -> PathBuf {
    match path.to_str() {
        Some(s) if s.contains("{shard}") => PathBuf::from(s.replace("{shard}", &format!("{}-of-{}", shard.k, shard.n))),
        _ => path.to_path_buf(),
    }
}

/// `kairos report`, checked.
pub struct ReportSettings {
    pub replay: Replay,
    /// Where the HTML goes (`-`: stdout).
    pub output: PathBuf,
    pub quiet: bool,
}

impl ReportSettings {
    pub fn from_args(a: &ReportArgs, quiet: bool) -> Result<ReportSettings> {
        let replay = Replay::from_args(&a.project, &a.input)?;
        if a.output.as_os_str().is_empty() {
            bail!("--output: expected a file name such as report.html");
        }
        if a.output.is_dir() {
            bail!("--output {}: is a folder; expected a file name such as report.html", a.output.display());
        }
        Ok(ReportSettings { replay, output: a.output.clone(), quiet })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_path_names_its_shard() {
        let s = Shard::new(3, 8).unwrap();
        assert_eq!(shard_path(Path::new("state/sent-{shard}.jsonl"), s), PathBuf::from("state/sent-3-of-8.jsonl"));
        assert_eq!(shard_path(Path::new("sent-{shard}.jsonl"), Shard::ALL), PathBuf::from("sent-1-of-1.jsonl"));
        assert_eq!(shard_path(Path::new("sent.jsonl"), s), PathBuf::from("sent.jsonl"));
    }

    /// The shipped dialogues, kairos.yaml and templates have no key their structs do not know
    /// (the key walk agrees with serde on every real file).
    #[test]
    fn the_projects_own_files_have_no_unknown_keys() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![root.join("dialogues")];
        for e in std::fs::read_dir(root.join("examples")).into_iter().flatten().flatten() {
            dirs.push(e.path().join("dialogues"));
        }
        let dialogue = serde_json::to_value(schemars::schema_for!(crate::dialogue::raw::RawDialogue)).unwrap();
        let template = serde_json::to_value(schemars::schema_for!(
            std::collections::BTreeMap<String, crate::template::RawPart>
        ))
        .unwrap();
        let config = serde_json::to_value(schemars::schema_for!(crate::config::raw::RawConfig)).unwrap();
        let mut files = vec![(root.join("kairos.yaml"), &config)];
        for (d, s) in dirs.iter().map(|d| (d, &dialogue)).chain([(&root.join("templates"), &template)]) {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                if e.path().extension().is_some_and(|x| x == "yaml") {
                    files.push((e.path(), s));
                }
            }
        }
        assert!(files.len() > 20);
        for (p, s) in files {
            let src = std::fs::read_to_string(&p).unwrap();
            assert!(
                crate::yaml::keys::unknown(&src, s).is_empty(),
                "{}: {:?}",
                p.display(),
                crate::yaml::keys::unknown(&src, s)
            );
        }
    }
}
