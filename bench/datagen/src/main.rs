use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use kairos_datagen::{generate, out::parse_date, Config};

/// Generate deterministic, realistic retail data (transactions, customers, events) for
/// benchmarking kairos. Same arguments and seed give byte-identical files on every machine.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Number of customers (at most 9,999,999).
    #[arg(long)]
    customers: u64,
    /// Exact number of transaction rows (order lines); at least the number of customers.
    #[arg(long)]
    rows: u64,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// First day of the period (UTC), YYYY-MM-DD.
    #[arg(long, default_value = "2024-01-01")]
    start: String,
    /// Length of the period in days; timestamps lie in [start, start + days).
    #[arg(long, default_value_t = 730)]
    days: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let start_day = match parse_date(&args.start) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: --start: {e}");
            return ExitCode::from(2);
        }
    };
    let cfg = Config { customers: args.customers, rows: args.rows, seed: args.seed, start_day, days: args.days };
    if let Err(e) = cfg.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let t0 = Instant::now();
    match generate(cfg, &args.out) {
        Ok(s) => {
            eprintln!(
                "wrote {} rows in {} orders for {} customers, {} events to {} in {:.1}s",
                s.rows,
                s.orders,
                s.customers,
                s.events,
                args.out.display(),
                t0.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: writing to {}: {e}", args.out.display());
            ExitCode::FAILURE
        }
    }
}
