//! Shared by the fuzz targets: a per-process scratch folder and the exact library calls the
//! targets make (tests/fuzz_regressions.rs at the root replays regressions through the same calls).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kairos::input::table::{self, Table, TableKind, TableSpec};
use kairos::input::InputError;
use rustc_hash::FxHashMap;

/// A folder of this process's own under the temp dir, made once, removed never (it is tiny and
/// overwritten on every input).
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("kairos-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    })
}

/// The bytes as a transactions CSV, loaded as `kairos run -t` would (default config columns).
pub fn load_transactions(data: &[u8]) -> Result<Table, InputError> {
    let path = scratch().join("transactions.csv");
    std::fs::write(&path, data).expect("write csv");
    let rename: FxHashMap<String, String> = FxHashMap::default();
    let numeric = vec!["quantity".to_owned(), "amount".to_owned()];
    let spec = TableSpec {
        kind: TableKind::Transactions,
        rename: &rename,
        numeric: &numeric,
        has_time: true,
        tie_first: &["order_id"],
    };
    // kairos cuts a block into 2 pieces per rayon thread: a fixed pool of 2 makes the cuts, and
    // so the findings, the same on any machine.
    let res = pool().install(|| table::load(&path, &spec, None, chrono_tz::Tz::UTC));
    if verbose() {
        match &res {
            Ok(t) => eprintln!("kairos: Ok, {} rows", t.len()),
            Err(e) => eprintln!("kairos: Err: {e}"),
        }
    }
    res
}

fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("thread pool"))
}

/// `KAIROS_FUZZ_VERBOSE=1` prints what kairos made of each input (for replaying one file).
pub fn verbose() -> bool {
    static V: OnceLock<bool> = OnceLock::new();
    *V.get_or_init(|| std::env::var_os("KAIROS_FUZZ_VERBOSE").is_some())
}
