//! kairos: dialogue marketing as a batch tool. Reads customer transactions, profiles and
//! events plus YAML dialogue definitions, replays every customer's timeline through a
//! deterministic trigger evaluator and writes per-customer message plans.
//!
//! Pipeline: `input` (CSV → columnar tables) → `evaluator` (per-customer timeline replay over
//! the compiled `dialogue` plan, conditions in `expr`) → `output` (CSV/JSON/JSONL).

pub mod app;
pub mod cli;
pub mod config;
pub mod diag;
pub mod dialogue;
pub mod evaluator;
pub mod explain;
pub mod expr;
pub mod graph;
pub mod ids;
pub mod input;
pub mod output;
pub mod policy;
pub mod summary;
pub mod yaml;

use std::process::ExitCode;

use clap::Parser;

/// Parse arguments, run, and map the outcome to an exit code: 0 success, 1 problems found
/// (`check`), 2 kairos could not do its job. A closed stdout pipe is not a failure.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match app::execute(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            if e.downcast_ref::<app::Reported>().is_some() {
                eprintln!("{e}");
            } else {
                eprintln!("error: {e:#}");
            }
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
