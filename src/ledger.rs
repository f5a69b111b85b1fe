//! The sent ledger: the record of every message kairos has handed off, one JSON line per
//! message, appended after the run's output is safely in place. A nightly run emits every
//! message that is due by the end of its as-of day and not in the ledger yet (today's, and
//! earlier ones that late data or a skipped night produced), then records them.
//!
//! Exactly once, through crashes: the output is written and committed (atomically) first,
//! then the emitted ids are appended to the ledger and synced. A crash before the commit
//! leaves no output and no record (the next night emits the messages, `late`); a crash
//! between commit and append means the next night emits the same messages again, with the
//! same ids, so a downstream that de-duplicates by `message_id` sees each message once. No
//! message is ever lost. A file lock keeps two runs from sharing one ledger.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The default for `--max-late`: messages that should have gone out more than this long
/// before the as-of day are not sent any more (reported `expired`).
pub const DEFAULT_MAX_LATE: i64 = 7 * crate::model::DAY;

/// An open, locked ledger file.
pub struct Ledger {
    path: PathBuf,
    lock: fd_lock::RwLock<File>,
    /// This run made the file (it did not exist): a run that fails before recording its
    /// night removes it again, leaving no empty ledger behind a mistyped path.
    created: bool,
    /// A night was recorded.
    appended: bool,
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if !self.created || self.appended {
            return;
        }
        // Removed under the lock, and only while still empty: a run that opened the file
        // meanwhile either holds the lock (nothing is removed) or finds, once it has the
        // lock, that its file is no longer the ledger (`lock`), never records into a file
        // that is gone.
        let path = self.path.clone();
        if let Ok(file) = self.lock.try_write() {
            if file.metadata().is_ok_and(|m| m.len() == 0) && is_file_at(&file, &path) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// Is `file` (open) the file now at `path`, by identity? (Always on systems without inodes.)
fn is_file_at(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// What the ledger holds, read once at the start of a run.
#[derive(Debug, Default, Clone)]
pub struct Held {
    /// The 128-bit message ids recorded.
    pub ids: HashSet<u128>,
    /// Recorded lines by night (as-of date), in file order, for re-emitting a night.
    pub lines: Vec<(String, String)>,
    /// Bytes of complete lines; anything after is a torn last line from a crash.
    complete: u64,
    /// Each shard split the entries were written under (`K/N`, None: an unsharded run), with
    /// the first line that says so.
    pub shards: Vec<(Option<String>, usize)>,
}

impl Held {
    /// A ledger belongs to one shard split: entries written by an unsharded run, or by another
    /// shard, are an error (their customers are not in this run, so every message of theirs
    /// would look gone, and this shard's would be mixed into their ledger).
    pub fn check_shard(&self, path: &Path, shard: Option<&str>) -> Result<(), LedgerError> {
        let Some((other, line)) = self.shards.iter().find(|(s, _)| s.as_deref() != shard) else {
            return Ok(());
        };
        let by = |s: Option<&str>| s.map_or_else(|| "an unsharded run".to_owned(), |s| format!("shard {s}"));
        Err(LedgerError(format!(
            "{}:{line}: this ledger holds messages recorded by {}, and this run is {}; nothing was emitted\n  = help: give every shard its own ledger, e.g. `--ledger sent-{{shard}}.jsonl` (`{{shard}}` becomes K-of-N), and keep the same N from night to night",
            path.display(),
            by(other.as_deref()),
            by(shard),
        )))
    }

    /// The first night the ledger recorded anything on (nights are `YYYY-MM-DD`, so the least
    /// text is the earliest).
    pub fn first_night(&self) -> Option<&str> {
        self.lines.iter().map(|(n, _)| n.as_str()).min()
    }

    /// The latest night the ledger recorded anything on.
    pub fn last_night(&self) -> Option<&str> {
        self.lines.iter().map(|(n, _)| n.as_str()).max()
    }

    /// The messages recorded on `night`, by id, with the status each was emitted with.
    pub fn recorded_on(&self, night: &str) -> std::collections::HashMap<u128, String> {
        self.lines
            .iter()
            .filter(|(n, _)| n == night)
            .filter_map(|(_, l)| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| {
                let id = v.get("message_id").and_then(|x| x.as_str()).and_then(parse_hex)?;
                Some((id, v.get("status").and_then(|x| x.as_str()).unwrap_or("due").to_owned()))
            })
            .collect()
    }

    /// Each recorded message's (dialogue, instance number, step), by message id.
    pub fn by_id(&self) -> std::collections::HashMap<String, (String, u32, String)> {
        self.lines
            .iter()
            .filter_map(|(_, l)| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| {
                let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
                let n = v.get("instance").and_then(|x| x.as_u64()).and_then(|n| u32::try_from(n).ok());
                Some((s("message_id")?, (s("dialogue")?, n?, s("step")?)))
            })
            .collect()
    }
}

/// A problem with the ledger file.
#[derive(Debug)]
pub struct LedgerError(pub String);

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LedgerError {}

fn parse_hex(s: &str) -> Option<u128> {
    (s.len() == 32).then(|| u128::from_str_radix(s, 16).ok()).flatten()
}

impl Ledger {
    /// Open (or create) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let cannot = |e: io::Error| LedgerError(format!("cannot open the ledger {}: {e}", path.display()));
        // A ledger is a file kairos appends to and rereads: not stdout, a device or a pipe
        // (`/dev/full` reads without end; `/dev/null` forgets every night).
        if path == Path::new("-") {
            return Err(LedgerError(
                "the ledger must be a file (`--ledger ledger.jsonl`): `-` would be a file named `-`, not stdout"
                    .to_owned(),
            ));
        }
        if let Ok(m) = std::fs::metadata(path) {
            if !m.is_file() {
                let what = if m.is_dir() { "a folder" } else { "not a regular file (a device or a pipe)" };
                return Err(LedgerError(format!("the ledger {} is {what}: give a file path", path.display())));
            }
        }
        let (file, created) = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => (f, false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let f = OpenOptions::new().read(true).write(true).create_new(true).open(path).map_err(cannot)?;
                (f, true)
            }
            Err(e) => return Err(cannot(e)),
        };
        Ok(Ledger { path: path.to_path_buf(), lock: fd_lock::RwLock::new(file), created, appended: false })
    }

    /// Lock the ledger for this run, failing at once if another run holds it.
    pub fn lock(&mut self) -> Result<LockedLedger<'_>, LedgerError> {
        let path = self.path.clone();
        let appended = &mut self.appended;
        let guard = self.lock.try_write().map_err(|_| {
            LedgerError(format!(
                "another kairos run is using the ledger {} (it is locked); nothing was emitted",
                path.display()
            ))
        })?;
        if !is_file_at(&guard, &path) {
            return Err(LedgerError(format!(
                "the ledger {} was removed as this run opened it (a run that failed removed the empty ledger it had made); nothing was emitted: run again",
                path.display()
            )));
        }
        Ok(LockedLedger { path, guard, appended })
    }
}

/// A ledger held by this run until it ends.
pub struct LockedLedger<'l> {
    path: PathBuf,
    guard: fd_lock::RwLockWriteGuard<'l, File>,
    appended: &'l mut bool,
}

impl LockedLedger<'_> {
    /// Read every recorded message. A line that is not a ledger entry is an error naming its
    /// line; a torn last line (no newline: a crash mid-append) is ignored and dropped on the
    /// next append.
    pub fn read(&mut self) -> Result<Held, LedgerError> {
        let err = |e: io::Error| LedgerError(format!("cannot read the ledger {}: {e}", self.path.display()));
        let file: &mut File = &mut self.guard;
        file.seek(SeekFrom::Start(0)).map_err(err)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(err)?;
        parse(&self.path, &bytes)
    }

    /// Append the emitted messages' lines and sync them to disk.
    pub fn append(&mut self, held: &Held, lines: &[u8]) -> Result<(), LedgerError> {
        let err = |e: io::Error| LedgerError(format!("cannot write the ledger {}: {e}", self.path.display()));
        let file: &mut File = &mut self.guard;
        append_or_roll_back(file, held.complete, lines, |f, b| f.write_all(b)).map_err(err)?;
        *self.appended = true;
        Ok(())
    }
}

/// Append `lines` after the first `complete` bytes (dropping a torn last line a crash left)
/// and sync; on any failure (a full disk part way) cut the file back to `complete`, so the
/// night is recorded whole or not at all: the next run emits all of its messages again,
/// instead of the ones recorded before the failure being lost from a retried night's plan.
fn append_or_roll_back(
    file: &mut File,
    complete: u64,
    lines: &[u8],
    write: impl FnOnce(&mut File, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    file.set_len(complete)?;
    file.seek(SeekFrom::End(0))?;
    let written = write(file, lines).and_then(|()| file.sync_data());
    if written.is_err() {
        let _ = file.set_len(complete).and_then(|()| file.sync_data());
    }
    written
}

/// Read a ledger's entries without taking its lock (for `explain`, which changes nothing).
pub fn read_unlocked(path: &Path) -> Result<Held, LedgerError> {
    let bytes =
        std::fs::read(path).map_err(|e| LedgerError(format!("cannot read the ledger {}: {e}", path.display())))?;
    parse(path, &bytes)
}

/// The entries of a ledger's bytes. Only complete lines are read: a torn last line may end
/// inside a multi-byte character, so it is cut off before the text is decoded.
fn parse(path: &Path, bytes: &[u8]) -> Result<Held, LedgerError> {
    let mut held = Held::default();
    let complete = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
    held.complete = complete as u64;
    let text = std::str::from_utf8(&bytes[..complete]).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        LedgerError(format!(
            "{}:{line}: not a ledger entry (the line is not valid UTF-8; a ledger is JSON lines written by kairos)",
            path.display()
        ))
    })?;

    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || {
            LedgerError(format!(
                "{}:{}: not a ledger entry (expected a JSON object with `message_id` and `night`)",
                path.display(),
                n + 1
            ))
        };
        let v: serde_json::Value = serde_json::from_str(line).map_err(|_| bad())?;
        let id = v.get("message_id").and_then(|x| x.as_str()).and_then(parse_hex).ok_or_else(bad)?;
        let night = v.get("night").and_then(|x| x.as_str()).ok_or_else(bad)?.to_owned();
        // Nights are compared as text: only a real `YYYY-MM-DD` orders as its date does.
        if chrono::NaiveDate::parse_from_str(&night, "%Y-%m-%d")
            .map_or(true, |d| d.format("%Y-%m-%d").to_string() != night)
        {
            return Err(LedgerError(format!(
                "{}:{}: night {:?} is not a date (YYYY-MM-DD): the ledger was edited or is not kairos's",
                path.display(),
                n + 1,
                night
            )));
        }
        let shard = v.get("shard").and_then(|x| x.as_str()).map(str::to_owned);
        if !held.shards.iter().any(|(s, _)| *s == shard) {
            held.shards.push((shard, n + 1));
        }
        held.ids.insert(id);
        held.lines.push((night, line.to_owned()));
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that fails part way (a full disk) leaves the ledger as it was: the lines of
    /// earlier nights, none of tonight's; a torn last line is still dropped.
    #[test]
    fn a_failed_append_leaves_the_ledger_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sent.jsonl");
        std::fs::write(&p, "{\"a\":1}\n{\"torn").unwrap();
        let mut f = std::fs::OpenOptions::new().read(true).write(true).open(&p).unwrap();
        let failed = append_or_roll_back(&mut f, 8, b"{\"b\":2}\n{\"c\":3}\n", |f, b| {
            f.write_all(&b[..10])?;
            Err(io::Error::new(io::ErrorKind::StorageFull, "No space left on device"))
        });
        assert_eq!(failed.unwrap_err().kind(), io::ErrorKind::StorageFull);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\":1}\n");
        append_or_roll_back(&mut f, 8, b"{\"b\":2}\n", |f, b| f.write_all(b)).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\":1}\n{\"b\":2}\n");
    }

    #[test]
    fn a_ledger_is_a_file_with_real_nights() {
        let dir = tempfile::tempdir().unwrap();
        let e = Ledger::open(Path::new("-")).err().unwrap();
        assert!(e.0.contains("not stdout"), "{e}");
        let e = Ledger::open(Path::new("/dev/null")).err().unwrap();
        assert!(e.0.contains("is not a regular file"), "{e}");
        let e = Ledger::open(dir.path()).err().unwrap();
        assert!(e.0.contains("is a folder"), "{e}");
        let p = dir.path().join("sent.jsonl");
        for night in ["zzz", "2025-13-01", "2025-06-3", ""] {
            let id = "0123456789abcdef0123456789abcdef";
            std::fs::write(&p, format!("{{\"message_id\":\"{id}\",\"night\":\"2025-01-01\"}}\n{{\"message_id\":\"{id}\",\"night\":\"{night}\"}}\n")).unwrap();
            let e = read_unlocked(&p).err().unwrap();
            assert!(e.0.ends_with(&format!("sent.jsonl:2: night {night:?} is not a date (YYYY-MM-DD): the ledger was edited or is not kairos's")), "{e}");
        }
    }

    #[test]
    fn a_second_run_cannot_take_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sent.jsonl");
        let mut a = Ledger::open(&p).unwrap();
        let _held = a.lock().unwrap();
        let mut b = Ledger::open(&p).unwrap();
        let e = b.lock().err().expect("locked");
        assert!(e.0.contains("is locked"), "{e}");
    }

    #[test]
    fn a_ledger_a_failed_run_made_goes_and_a_run_that_opened_it_meanwhile_stops() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sent.jsonl");
        let a = Ledger::open(&p).unwrap();
        // B opens the file A made, before A (which records nothing) ends.
        let mut b = Ledger::open(&p).unwrap();
        drop(a);
        assert!(!p.exists(), "the empty ledger A made is removed");
        let e = b.lock().err().expect("B's file is no longer the ledger");
        assert!(e.0.contains("was removed as this run opened it"), "{e}");
        // A ledger that held nights is never removed, nor one the run did not make.
        let mut c = Ledger::open(&p).unwrap();
        c.lock().unwrap().append(&Held::default(), b"{\"a\":1}\n").unwrap();
        drop(c);
        assert!(p.exists());
        std::fs::write(&p, "").unwrap();
        drop(Ledger::open(&p).unwrap());
        assert!(p.exists(), "an existing empty ledger stays");
        // A's lock is taken before the removal: while another run holds it, nothing goes.
        std::fs::remove_file(&p).unwrap();
        let made = Ledger::open(&p).unwrap();
        let mut other = Ledger::open(&p).unwrap();
        let held = other.lock().unwrap();
        drop(made);
        assert!(p.exists(), "locked by another run: kept");
        drop(held);
    }

    #[test]
    fn entries_round_trip_and_a_torn_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sent.jsonl");
        let id = "0123456789abcdef0123456789abcdef";
        std::fs::write(&p, format!("{{\"message_id\":\"{id}\",\"night\":\"2025-01-01\"}}\n{{\"message_id\":\"ab"))
            .unwrap();
        let mut l = Ledger::open(&p).unwrap();
        let mut g = l.lock().unwrap();
        let held = g.read().unwrap();
        assert_eq!(held.ids.len(), 1);
        assert!(held.ids.contains(&u128::from_str_radix(id, 16).unwrap()));
        g.append(&held, b"{\"message_id\":\"ffffffffffffffffffffffffffffffff\",\"night\":\"2025-01-02\"}\n").unwrap();
        drop(g);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.contains("\"ab"), "the torn line is gone: {text}");
        std::fs::write(&p, "not json\n").unwrap();
        let mut l = Ledger::open(&p).unwrap();
        let e = l.lock().unwrap().read().unwrap_err();
        assert!(
            e.0.ends_with("sent.jsonl:1: not a ledger entry (expected a JSON object with `message_id` and `night`)"),
            "{e}"
        );
    }

    #[test]
    fn a_line_torn_inside_a_character_is_dropped_and_bad_utf8_in_a_whole_line_is_named() {
        let p = Path::new("sent.jsonl");
        let whole =
            "{\"message_id\":\"0123456789abcdef0123456789abcdef\",\"night\":\"2025-01-01\",\"customer_id\":\"Ç1\"}\n";
        // A crash mid-append cut the next line after the first byte of `Ç` (0xC3 0x87).
        let mut torn = whole.as_bytes().to_vec();
        torn.extend_from_slice(b"{\"message_id\":\"ff\",\"customer_id\":\"\xc3");
        let held = parse(p, &torn).unwrap();
        assert_eq!((held.ids.len(), held.complete), (1, whole.len() as u64));
        let mut bad = whole.as_bytes().to_vec();
        bad.extend_from_slice(b"{\"message_id\":\"\xff\"}\n");
        let e = parse(p, &bad).unwrap_err();
        assert!(e.0.starts_with("sent.jsonl:2: not a ledger entry (the line is not valid UTF-8"), "{e}");
    }

    #[test]
    fn a_ledger_belongs_to_one_shard_split() {
        let p = Path::new("sent.jsonl");
        let line = |id: char, shard: Option<&str>| {
            let shard = shard.map(|s| format!(",\"shard\":\"{s}\"")).unwrap_or_default();
            format!("{{\"message_id\":\"{}\",\"night\":\"2025-01-01\"{shard}}}\n", id.to_string().repeat(32))
        };
        let empty = parse(p, b"").unwrap();
        assert!(empty.check_shard(p, None).is_ok() && empty.check_shard(p, Some("2/4")).is_ok());
        let unsharded = parse(p, line('a', None).as_bytes()).unwrap();
        assert!(unsharded.check_shard(p, None).is_ok());
        let e = unsharded.check_shard(p, Some("2/4")).unwrap_err().0;
        assert!(
            e.starts_with("sent.jsonl:1: this ledger holds messages recorded by an unsharded run, and this run is shard 2/4; nothing was emitted"),
            "{e}"
        );
        let two = parse(p, (line('a', Some("2/4")) + &line('b', Some("2/4"))).as_bytes()).unwrap();
        assert!(two.check_shard(p, Some("2/4")).is_ok());
        let e = two.check_shard(p, None).unwrap_err().0;
        assert!(e.contains("recorded by shard 2/4, and this run is an unsharded run"), "{e}");
        let mixed = parse(p, (line('a', Some("2/4")) + &line('b', Some("2/8"))).as_bytes()).unwrap();
        let e = mixed.check_shard(p, Some("2/4")).unwrap_err().0;
        assert!(e.starts_with("sent.jsonl:2: this ledger holds messages recorded by shard 2/8"), "{e}");
    }
}
