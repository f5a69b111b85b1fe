//! Deterministic, seeded generator of realistic retail data for kairos benchmarks.
//!
//! Same arguments and seed ⇒ byte-identical files on every machine: the RNG and the few
//! transcendental functions are implemented here with integer and correctly-rounded float
//! operations only, amounts are integer cents, and nothing iterates a hash map.

pub mod gen;
pub mod model;
pub mod out;
pub mod rng;

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::Path;

pub use gen::{Config, Stats, World};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub rows: u64,
    pub orders: u64,
    pub customers: u64,
    pub events: u64,
}

/// Writes `transactions.csv`, `customers.csv` and `events.csv` into `dir`. Each file is written
/// under a temporary name and renamed when complete, so a present file is a finished file.
pub fn generate(cfg: Config, dir: &Path) -> io::Result<Summary> {
    fs::create_dir_all(dir)?;
    let world = World::new(cfg);
    let create = |name: &str| -> io::Result<(File, std::path::PathBuf)> {
        let tmp = dir.join(format!(".{name}.tmp"));
        Ok((File::create(&tmp)?, tmp))
    };
    let finish = |tmp: &Path, name: &str| fs::rename(tmp, dir.join(name));

    let (tx, tx_tmp) = create("transactions.csv")?;
    let (cu, cu_tmp) = create("customers.csv")?;
    let (ev, ev_tmp) = create("events.csv")?;
    let (stats, events) = std::thread::scope(|s| -> io::Result<(Stats, u64)> {
        // Customers and events on a second core while the main thread writes transactions.
        let side = s.spawn(|| -> io::Result<u64> {
            world.write_customers(BufWriter::new(cu))?;
            Ok(world.write_events(BufWriter::new(ev))?.0)
        });
        let rows = world.allocate_rows();
        let (stats, _) = world.write_transactions(tx, &rows)?;
        let events = side.join().expect("customer/event writer panicked")?;
        Ok((stats, events))
    })?;
    assert_eq!(stats.rows, world.cfg.rows, "row allocation must be exact");
    finish(&cu_tmp, "customers.csv")?;
    finish(&ev_tmp, "events.csv")?;
    finish(&tx_tmp, "transactions.csv")?;
    Ok(Summary { rows: stats.rows, orders: stats.orders, customers: world.cfg.customers, events })
}
