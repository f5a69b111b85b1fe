//! The command line as clap parses it, and nothing else: `settings` turns these raw
//! arguments (with kairos.yaml) into checked settings before any work starts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kairos",
    version,
    about = "Dialogue marketing as a batch tool: replay customer events through dialogue triggers and emit message plans",
    after_help = "Exit codes: 0 success (warnings do not change it); 1 `check` found errors; 2 kairos could not do its job (bad input, bad dialogue, I/O error).\nA closed output pipe (e.g. `| head`) ends quietly with 0, except in a ledger run, which then recorded nothing: 2."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print nothing on stderr but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay every customer's history through the dialogues and write the message plan.
    Run(RunArgs),
    /// Validate dialogues and config (and input headers, when given) without running.
    Check(CheckArgs),
    /// Show one customer's timeline: events, triggers, dialogue states and messages, with reasons.
    Explain(ExplainArgs),
    /// Render one customer's messages (subject and text) as they would go out, to check copy
    /// before launch.
    Preview(PreviewArgs),
    /// Draw a dialogue as a Mermaid flowchart or Graphviz DOT graph.
    Graph(GraphArgs),
    /// Write a dry-run report as one self-contained HTML file: per dialogue a funnel, messages
    /// per week by channel, suppressions, the holdout comparison, the baseline and the graph.
    Report(ReportArgs),
    /// Print the JSON Schema of dialogue files or of kairos.yaml, for editor completion and validation.
    Schema {
        /// Which file's schema: a dialogue or kairos.yaml.
        #[arg(value_enum)]
        kind: SchemaKind,
    },
    /// Print shell completions.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or with --out DIR write one page per command (kairos.1,
    /// kairos-run.1, ...): install with `kairos man --out ~/.local/share/man/man1`.
    Man {
        /// Folder to write kairos.1 and one kairos-COMMAND.1 per command into.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// Dialogue YAML files or folders of them; repeat (-d a/ -d b.yaml) to combine several.
    #[arg(long, short = 'd', value_name = "PATH", required = true)]
    pub dialogues: Vec<PathBuf>,
    /// Project config (time zone, column mappings, field types, channels). Default: ./kairos.yaml if present.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// strftime format of timestamps in the input files, e.g. %Y%m%d or "%d/%m/%Y %H:%M".
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// Time zone for dates without an offset and for day boundaries (IANA name). Default: UTC.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Map a column: TABLE.COLUMN=HEADER, e.g. transactions.customer_id=CustNo (repeatable).
    #[arg(long = "column", value_name = "TABLE.COLUMN=HEADER")]
    pub columns: Vec<String>,
    /// Message templates folder (one KEY.yaml per template key). Default: `content.templates`
    /// in kairos.yaml, else a `templates` folder beside the dialogues folder.
    #[arg(long, value_name = "DIR", conflicts_with = "no_templates")]
    pub templates: Option<std::path::PathBuf>,
    /// Render no content: the plan carries template keys only.
    #[arg(long)]
    pub no_templates: bool,
}

#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Transactions CSV (one row per purchase line); `-` reads stdin. Optional: without it the history has no purchases.
    #[arg(long, short = 't', value_name = "FILE")]
    pub transactions: Option<PathBuf>,
    /// Customer profiles CSV.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub customers: Option<PathBuf>,
    /// Other events CSV (responses, address changes, complaints, opt-outs, ...).
    #[arg(long, short = 'e', value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Catalogue feed CSV (item_id, timestamp, type and any attributes: arrivals, markdowns, ...)
    /// for `announcement:` triggers.
    #[arg(long, visible_alias = "catalogue", value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Evaluate as of this date (end of day) or date-time; later events are ignored. Default: the latest input timestamp.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// How far past as-of to project live conversations (scheduled messages).
    #[arg(long, value_name = "DURATION", default_value = "365d")]
    pub horizon: String,
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "csv")]
    pub format: Format,
    /// Write here (atomically) instead of stdout; with `--format eml`, a new or empty folder.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The sender of `eml`/`mbox` messages, e.g. "Kairos Stores <hello@example.com>"
    /// (default: `content.from` in kairos.yaml).
    #[arg(long, value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// Nightly mode: only messages due on the as-of day (requires --as-of).
    #[arg(long, conflicts_with = "since")]
    pub due: bool,
    /// Only messages sent after this date (end of day) or date-time, up to as-of: the window since the last run.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Also write suppressed messages (status `suppressed`), with the reason in the `policy_note` column.
    #[arg(long)]
    pub include_suppressed: bool,
    /// The sent ledger (also `ledger:` in kairos.yaml): emit every message due by the end of
    /// the as-of day that it does not hold yet, then record them. See README "Nightly runs".
    #[arg(long, value_name = "FILE", conflicts_with_all = ["due", "since"])]
    pub ledger: Option<PathBuf>,
    /// With a ledger: messages due longer than this before the as-of day are not sent but
    /// reported as `expired` [default: 7d].
    #[arg(long, value_name = "DURATION")]
    pub max_late: Option<String>,
    /// With a ledger: write again the messages it recorded on this night (an as-of date), in
    /// full and in any --format, rebuilt by a replay up to that night; records nothing (for a
    /// downstream that lost a night's file).
    #[arg(long, value_name = "DATE")]
    pub reemit: Option<String>,
    /// Write CSV text cells exactly as they are. By default a cell starting with =, +, -, @, tab
    /// or CR gets a leading ' so spreadsheets show it as text (OWASP); machine consumers may not want that.
    #[arg(long)]
    pub raw_csv: bool,
    /// Leave the customer's profile columns out of CSV and JSONL rows (they are most of the
    /// bytes at scale; mail tools that join on customer_id do not need them).
    #[arg(long)]
    pub no_profile: bool,
    /// Process only shard K of N (1 <= K <= N <= 65536): the customers whose xxh3-64 hash of
    /// the id, mod N, is K-1. The N shard outputs merged in customer order are one run's
    /// output. Needs --as-of; with a ledger, one ledger per shard (`{shard}` in its path).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Every input (transactions, events, customers) is sorted by customer id, in byte order
    /// (`ORDER BY customer_id`, `LC_ALL=C sort`): read it a batch of customers at a time, so
    /// memory does not grow with the number of rows. Checked on every row: a row out of order
    /// is an error. Needs --as-of.
    #[arg(long)]
    pub presorted: bool,
    /// Bytes of transactions per --presorted batch (for tests: small batches).
    #[arg(long, hide = true, value_name = "BYTES", default_value_t = crate::input::PRESORTED_BLOCK)]
    pub presorted_block: usize,
    /// How much to say on stderr: `short` totals by status and what each dialogue wrote,
    /// `full` also each dialogue's steps, exits, goals, outcomes and suppressions over the
    /// whole replay, `none` only the config used and warnings.
    #[arg(long, value_enum, default_value = "short")]
    pub summary: SummaryArg,
    /// Print on stderr how long each stage took (wall clock): reading each input (parsing,
    /// grouping by customer, ordering), checking the dialogues, replaying and writing, the
    /// ledger. Printed with --quiet too.
    #[arg(long)]
    pub timings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryArg {
    Short,
    Full,
    None,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// The HTML file to write (atomically); `-` writes to stdout.
    #[arg(long, short = 'o', value_name = "FILE", required = true)]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Check conditions and config columns against this transactions file's header.
    #[arg(long, short = 't', value_name = "FILE")]
    pub transactions: Option<PathBuf>,
    /// Check `customer.*` fields and the policy's customer columns against this profile file's header.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub customers: Option<PathBuf>,
    /// Check `event.*` fields against this events file's header.
    #[arg(long, short = 'e', value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Check `item.*` fields against this catalogue file's header.
    #[arg(long, visible_alias = "catalogue", value_name = "FILE")]
    pub catalog: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The customer to explain.
    pub customer: String,
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also show the customer's entries in this sent ledger, and which of them today's replay
    /// no longer produces (read without locking; nothing is recorded).
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The customer whose messages to render.
    pub customer: String,
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Only this dialogue's messages.
    #[arg(long, value_name = "ID")]
    pub dialogue: Option<String>,
    /// Only this step's messages (with --dialogue).
    #[arg(long, value_name = "ID", requires = "dialogue")]
    pub step: Option<String>,
    /// Also render suppressed messages (marked as such).
    #[arg(long)]
    pub include_suppressed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
    Jsonl,
    /// One RFC 5322 file per email message (`--output DIR`), for `sendmail -t` or msmtp.
    Eml,
    /// Email messages as an mbox (mboxrd), for mutt or formail.
    Mbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The dialogue id.
    pub dialogue: String,
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Graph language: Mermaid (renders on GitHub and in many editors) or Graphviz DOT.
    #[arg(long, short = 'f', value_enum, default_value = "mermaid")]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    Dialogue,
    Config,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_argument_of_every_command_has_help() {
        let cmd = <Cli as clap::CommandFactory>::command();
        let mut missing = Vec::new();
        for sub in std::iter::once(&cmd).chain(cmd.get_subcommands()) {
            for arg in sub.get_arguments() {
                if arg.get_help().is_none() && !["help", "version"].contains(&arg.get_id().as_str()) {
                    missing.push(format!("{} {}", sub.get_name(), arg.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }
}
