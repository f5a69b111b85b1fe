//! Where output goes: stdout, or a file that appears atomically, complete or not at all. The
//! plan never replaces one of the run's own inputs, never renames over a device or pipe, and
//! leaves no temp file behind when the run fails or is interrupted (SIGINT, SIGTERM, SIGHUP).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once};

/// Where output goes.
pub enum Sink {
    /// Standard output, checked to be open.
    Stdout(File),
    /// An existing file that is not a regular file (a device, a FIFO): written as a stream.
    Stream { path: PathBuf, file: File },
    /// A regular file, replaced atomically.
    File { path: PathBuf, tmp: tempfile::NamedTempFile },
    /// Linux: an unnamed file in the target's folder (`O_TMPFILE`), given a name only when
    /// complete; even a SIGKILL leaves nothing behind.
    Unnamed { path: PathBuf, dir: PathBuf, file: File },
    /// A folder of files (`--format eml`), built beside its place and renamed into it.
    Dir { path: PathBuf, tmp: tempfile::TempDir },
}

/// A new file being written from its start, whose written bytes the kernel is asked to
/// write back as they come (Linux `sync_file_range`), a window at a time, waiting for the
/// window before the last: the `fsync` before the rename then finds little left to do, and
/// the dirty memory of a multi-gigabyte plan stays bounded. Elsewhere a plain writer.
struct WriteBehind<W> {
    inner: W,
    /// Bytes written so far (the file's length: it is written from its start).
    written: u64,
    /// Where the last window handed to the kernel ends, and where the one before it began.
    started: u64,
    waited: u64,
}

/// Bytes per write-back window.
const WRITE_BEHIND: u64 = 16 << 20;

impl<W> WriteBehind<W> {
    fn new(inner: W) -> Self {
        Self { inner, written: 0, started: 0, waited: 0 }
    }
}

#[cfg(unix)]
impl<W: Write + std::os::fd::AsRawFd> Write for WriteBehind<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITE_BEHIND {
            #[cfg(target_os = "linux")]
            self.hand_over()?;
            self.waited = self.started;
            self.started = self.written;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(target_os = "linux")]
impl<W: std::os::fd::AsRawFd> WriteBehind<W> {
    /// Start the write-back of the window just filled, and wait for the one before it. A
    /// write-back error is returned here: once `sync_file_range` has reported it, the
    /// `fsync` at the end would not report it again (Linux hands each error out once).
    fn hand_over(&mut self) -> io::Result<()> {
        let fd = self.inner.as_raw_fd();
        let range = |a: u64, b: u64| (i64::try_from(a).unwrap_or(i64::MAX), i64::try_from(b - a).unwrap_or(i64::MAX));
        let check = |r: libc::c_int| {
            if r == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                // Not a file (or a file system) that takes the hint: the fsync does it all.
                Some(libc::EINVAL | libc::ENOSYS | libc::ESPIPE | libc::EOPNOTSUPP) => Ok(()),
                _ => Err(e),
            }
        };
        let (at, len) = range(self.started, self.written);
        // SAFETY: `sync_file_range` reads only its integer arguments; `fd` is this open file's.
        check(unsafe { libc::sync_file_range(fd, at, len, libc::SYNC_FILE_RANGE_WRITE) })?;
        // (A length of 0 would mean "to the end of the file".)
        if self.started > self.waited {
            let (at, len) = range(self.waited, self.started);
            let all =
                libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
            // SAFETY: as above.
            check(unsafe { libc::sync_file_range(fd, at, len, all) })?;
        }
        Ok(())
    }
}

#[cfg(not(unix))]
impl<W: Write> Write for WriteBehind<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Bytes per direct write: a multiple of every block size `O_DIRECT` asks alignment to.
const DIRECT_CHUNK: usize = 8 << 20;
/// The alignment of a direct write's memory, file offset and length (4 KiB covers the 512-byte
/// and 4 KiB logical blocks of disks and file systems).
const DIRECT_ALIGN: usize = 4096;

/// A file whose page cache can be bypassed: `O_DIRECT` turned on or off on its descriptor.
trait SetDirect {
    fn set_direct(&mut self, on: bool) -> io::Result<()>;
}

#[cfg(target_os = "linux")]
impl<W: std::os::fd::AsRawFd> SetDirect for WriteBehind<W> {
    fn set_direct(&mut self, on: bool) -> io::Result<()> {
        let fd = self.inner.as_raw_fd();
        // SAFETY: F_GETFL and F_SETFL read and change the status flags of a descriptor this
        // writer owns; no memory is passed.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = if on { flags | libc::O_DIRECT } else { flags & !libc::O_DIRECT };
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
impl<W> SetDirect for WriteBehind<W> {
    fn set_direct(&mut self, _on: bool) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Does this error of a direct write mean the file system will not write this file
/// directly (nothing was written, and the file offset did not move), so the same bytes can
/// go through the page cache instead?
fn refuses_direct(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = e;
        false
    }
}

/// A new file written from its start in whole aligned chunks with `O_DIRECT`, straight from
/// this writer's buffer to the disk: no copy into the page cache, no dirty pages for the
/// `fsync` before the rename to write back. On a virtual disk (this project's benchmark
/// machine) a 1.3 GB plan written so takes 1.0 s and 0.3 s of system time, against 4.5 s and
/// 4.1 s through the page cache with the `fsync` (`dd ... conv=fsync [oflag=direct]`). The
/// tail (less than a chunk) goes through the page cache. Where the file system refuses the
/// flag or a direct write (EINVAL, EOPNOTSUPP: some FUSE and network file systems), or a
/// direct write comes up short, the rest goes through the page cache, as `WriteBehind` hands
/// it over. A write either takes its bytes or fails having taken none, and a chunk that failed
/// part way is taken up where it stopped: no byte is written twice.
struct Direct<W: Write + SetDirect> {
    inner: W,
    /// One chunk plus room to align its start.
    buf: Vec<u8>,
    /// Where the aligned chunk starts in `buf`.
    start: usize,
    /// Bytes waiting in the chunk, and how many of them are already written.
    len: usize,
    done: usize,
    /// Whether writes still go around the page cache.
    direct: bool,
}

impl<W: Write + SetDirect> Direct<W> {
    fn new(mut inner: W) -> Self {
        let buf = vec![0u8; DIRECT_CHUNK + DIRECT_ALIGN];
        let start = (DIRECT_ALIGN - buf.as_ptr().addr() % DIRECT_ALIGN) % DIRECT_ALIGN;
        let direct = inner.set_direct(true).is_ok();
        Self { inner, buf, start, len: 0, done: 0, direct }
    }

    /// From now on through the page cache.
    fn go_buffered(&mut self) -> io::Result<()> {
        if self.direct {
            self.inner.set_direct(false)?;
            self.direct = false;
        }
        Ok(())
    }

    /// Write the waiting bytes. A direct write the file system refuses is retried through
    /// the page cache, and so is everything after it; so is the rest of a short direct write
    /// (its end is no longer aligned). On an error, what was written stays counted.
    fn spill(&mut self) -> io::Result<()> {
        while self.done < self.len {
            let bytes = &self.buf[self.start + self.done..self.start + self.len];
            match self.inner.write(bytes) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    self.done += n;
                    if self.done < self.len {
                        self.go_buffered()?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if self.direct && refuses_direct(&e) => self.go_buffered()?,
                Err(e) => return Err(e),
            }
        }
        self.len = 0;
        self.done = 0;
        Ok(())
    }

    /// Every byte written, the tail through the page cache; the file, for its `fsync`.
    fn finish(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write + SetDirect> Write for Direct<W> {
    /// Takes bytes into the chunk; a full chunk is written first, so an error means that
    /// none of `data` was taken.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.len == DIRECT_CHUNK {
            self.spill()?;
        }
        let n = (DIRECT_CHUNK - self.len).min(data.len());
        let at = self.start + self.len;
        self.buf[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(n)
    }
    /// Hands every waiting byte to the kernel. A whole chunk is still written directly; a
    /// shorter tail cannot be, so the file is written through the page cache from there on
    /// (a plan is flushed once, at its end).
    fn flush(&mut self) -> io::Result<()> {
        if self.done < self.len {
            if !(self.len == DIRECT_CHUNK && self.done == 0) {
                self.go_buffered()?;
            }
            self.spill()?;
        }
        self.inner.flush()
    }
}

/// A file the run reads, named for the error when `-o` points at it.
pub struct Protected<'a> {
    pub what: &'a str,
    pub path: &'a Path,
}

/// Is `a` the same file as `b` (by identity, not by name)?
fn same_file(a: &std::fs::Metadata, b: &Path) -> bool {
    let Ok(mb) = std::fs::metadata(b) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == mb.dev() && a.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, mb);
        false
    }
}

/// Temp files not yet committed, removed if a signal ends the process.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();
/// The signal being handled (0: none; -1: `exit_removing_temp_files`): the work it cut short
/// fails on the files it removed, and those failures are not the run's to report
/// (`wait_if_signalled`).
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

/// Called with a failure in hand: when a signal is being handled, the failure is most likely
/// the signal's doing (a message folder removed under its writers), so nothing is printed and
/// the handler, once it has removed the temp files, ends the process as the signal would.
pub fn wait_if_signalled() {
    if SIGNALLED.load(Ordering::SeqCst) != 0 {
        loop {
            std::thread::park();
        }
    }
}

fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// On SIGINT, SIGTERM or SIGHUP: remove pending temp files, then exit as the signal would.
fn install_signal_cleanup() {
    HANDLER.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else { return };
        let _ = std::thread::Builder::new().name("kairos-signals".into()).spawn(move || {
            if let Some(sig) = signals.forever().next() {
                SIGNALLED.store(sig, Ordering::SeqCst);
                remove_pending();
                std::process::exit(128 + sig);
            }
        });
    });
}

/// Remove every pending temp file and folder (a signal, or a run stopped where no error can be
/// returned).
fn remove_pending() {
    for p in pending().drain(..) {
        if std::fs::remove_file(&p).is_ok() || !p.is_dir() {
            continue;
        }
        // A folder of messages that writer threads are still filling: renamed first, so no
        // new file can be created in it by its path, then removed (again, should a file
        // created at the instant of the rename be left).
        let mut gone = p.clone().into_os_string();
        gone.push(".removing");
        let gone = PathBuf::from(gone);
        let at = if std::fs::rename(&p, &gone).is_ok() { gone } else { p };
        for _ in 0..5 {
            if std::fs::remove_dir_all(&at).is_ok() || !at.exists() {
                break;
            }
        }
    }
}

/// End the process from a place that cannot return an error (the allocator, when a template
/// render runs over its budget: `crate::budget`): print `text`, remove the temp files, exit
/// with `code`. Failures other threads meet on the way (files removed under them) are not
/// printed: they wait, as under a signal.
pub fn exit_removing_temp_files(code: u8, text: &str) -> ! {
    if SIGNALLED.compare_exchange(0, -1, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        // A signal's clean-up is already under way and ends the process.
        loop {
            std::thread::park();
        }
    }
    {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{text}");
    }
    remove_pending();
    std::process::exit(i32::from(code))
}

/// The start of this process's temp names: `.kairos-PID-`, so a later run can tell one left
/// by a process that no longer exists (a SIGKILL, a power cut) from one still in use.
fn temp_prefix() -> String {
    format!(".kairos-{}-", std::process::id())
}

/// Remove the temp files and folders in `dir` that a kairos process which no longer exists
/// left (nothing ends a SIGKILLed run's clean-up; the next run in the folder does). Only
/// names of the form `.kairos-PID-*.tmp` whose process is gone; any error leaves it be.
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".kairos-"))
            .filter(|n| n.ends_with(".tmp"))
            .and_then(|n| n.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if pid <= 0 || pid == std::process::id() as i32 || process_exists(pid) {
            continue;
        }
        let p = e.path();
        let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
    }
}

/// Is there a process `pid` (running, or ours to ask about)?
fn process_exists(pid: i32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The folder a file path is in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// `e`, saying what it could not write: the plan's path (a temp file, a sync or a rename
/// that failed would otherwise reach the user as a bare "No space left on device").
fn named(name: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot write to {name}: {e}"))
}

/// Rust opens `/dev/null` read-write on a standard descriptor that was closed at start
/// (`>&-`); a shell redirection to `/dev/null` opens it write-only. Telling them apart keeps a
/// closed stdout from silently swallowing the plan.
/// An unnamed, writable file in `dir` (Linux `O_TMPFILE`), or None where the kernel or the
/// file system does not have them (then a named temp file is used).
#[cfg(target_os = "linux")]
fn unnamed_in(dir: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).mode(0o600).custom_flags(libc::O_TMPFILE).open(dir).ok()
}

#[cfg(not(target_os = "linux"))]
fn unnamed_in(_dir: &Path) -> Option<File> {
    None
}

/// Give the unnamed `file` the name `path`. A new name is linked straight in: there is never
/// a temporary name to leave behind. A link cannot replace a file, so an existing `path` gets
/// a temporary name in `dir` renamed over it; a SIGINT, SIGTERM or SIGHUP in between removes
/// that name (only a SIGKILL in the instant between the two calls can leave it).
#[cfg(target_os = "linux")]
fn link_and_rename(file: &File, dir: &Path, path: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(io::Error::other)?;
    let link = |to: &Path| -> io::Result<()> {
        let to = CString::new(to.as_os_str().as_bytes()).map_err(io::Error::other)?;
        // SAFETY: both are valid NUL-terminated paths; linkat reads them and keeps nothing.
        let rc = unsafe {
            libc::linkat(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::AT_SYMLINK_FOLLOW)
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    match link(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        r => return r,
    }
    static LINKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = LINKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".kairos-{}-{n}.tmp", std::process::id()));
    install_signal_cleanup();
    pending().push(tmp.clone());
    let result = link(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    });
    pending().retain(|p| *p != tmp);
    result
}

#[cfg(not(target_os = "linux"))]
fn link_and_rename(_file: &File, _dir: &Path, _path: &Path) -> io::Result<()> {
    Err(io::Error::other("unnamed files are Linux only"))
}

/// Make the rename of a plan into `dir` durable: the folder's entry is written before the run
/// goes on (a ledger records the plan's messages as sent only once the plan is in place, so a
/// crash must not keep the record and lose the rename). A file system that cannot sync a
/// folder (EINVAL: some FUSE and network ones), or a folder this user may write but not open
/// (mode `-wx`), has nothing more to give: the plan is in place either way.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match File::open(dir).and_then(|d| d.sync_all()) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
            r => r,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Make a folder of message files durable before it is renamed into place: on Linux one
/// `syncfs` of its file system (one call, however many files), elsewhere each file and the
/// folder.
fn sync_folder(dir: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let d = File::open(dir)?;
        // SAFETY: syncfs reads only the descriptor, which `d` keeps open for the call.
        if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        for entry in std::fs::read_dir(dir)? {
            File::open(entry?.path())?.sync_all()?;
        }
        sync_dir(dir)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(unix)]
fn stdout_was_closed(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let (Ok(m), Ok(null)) = (file.metadata(), std::fs::metadata("/dev/null")) else { return false };
    if m.dev() != null.dev() || m.ino() != null.ino() {
        return false;
    }
    // SAFETY: F_GETFL only reads the flags of a descriptor we own.
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    flags >= 0 && flags & libc::O_ACCMODE == libc::O_RDWR
}

/// The mode a new file gets (`0666` under the umask), as a shell redirection would give it:
/// a cron job's `umask 077` keeps a plan of addresses private. Read from /proc (changing the
/// umask to read it would race with other threads creating files); 0644 where it cannot be.
#[cfg(unix)]
fn new_file_mode() -> u32 {
    let umask = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines().find_map(|l| l.strip_prefix("Umask:")).and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
    });
    umask.map_or(0o644, |u| 0o666 & !u)
}

/// An output path that is one of the run's inputs (through any links: `metadata` follows
/// them) is refused before anything is opened.
fn refuse_input(p: &Path, protected: &[Protected<'_>]) -> io::Result<()> {
    let Ok(meta) = std::fs::metadata(p) else { return Ok(()) };
    match protected.iter().find(|x| same_file(&meta, x.path)) {
        Some(x) => Err(io::Error::other(format!(
            "it is {} ({}); refusing to replace an input with the output",
            x.what,
            x.path.display()
        ))),
        None => Ok(()),
    }
}

/// Where an output path leads once its symbolic links are followed.
enum Target {
    /// A path that is no link (or what a chain of links ends at, existing or not): the plan
    /// is written beside it and renamed onto it, so a link stays a link and its target gets
    /// the plan.
    Path(PathBuf),
    /// A link through a descriptor (`/dev/stdout`, `/proc/self/fd/1`): written through it
    /// as a stream, never renamed over (that would replace the system's `/dev/stdout`).
    Descriptor(PathBuf),
}

/// Follow `p`'s symbolic links (at most 40, as the kernel does).
fn follow_links(p: &Path) -> io::Result<Target> {
    let descriptor = |q: &Path| q.starts_with("/proc") || q.starts_with("/dev/fd");
    let mut at = p.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                if descriptor(&at) {
                    return Ok(Target::Descriptor(p.to_path_buf()));
                }
                let to = std::fs::read_link(&at)?;
                at = if to.is_absolute() { to } else { folder_of(&at).join(to) };
            }
            _ => return Ok(if descriptor(&at) { Target::Descriptor(p.to_path_buf()) } else { Target::Path(at) }),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

impl Sink {
    /// Prepare the destination before any work, so a bad path fails fast. `protected` are
    /// the run's inputs (data, dialogues, config): the plan never replaces one of them.
    pub fn open(path: Option<&Path>, protected: &[Protected<'_>]) -> io::Result<Sink> {
        let p = match path {
            None => return Self::stdout(),
            Some(p) if p == Path::new("-") => return Self::stdout(),
            Some(p) => p,
        };
        refuse_input(p, protected)?;
        let resolved = match follow_links(p)? {
            Target::Descriptor(d) => {
                // Appending: a descriptor opened with `>>` keeps what it holds.
                let file = std::fs::OpenOptions::new().append(true).open(&d)?;
                return Ok(Sink::Stream { path: d, file });
            }
            Target::Path(t) => t,
        };
        let p = resolved.as_path();
        if let Ok(meta) = std::fs::metadata(p) {
            if meta.is_dir() {
                return Err(io::Error::other("it is a folder; give a file name"));
            }
            if !meta.is_file() {
                let file = std::fs::OpenOptions::new().write(true).open(p)?;
                return Ok(Sink::Stream { path: p.to_path_buf(), file });
            }
        }
        let dir = folder_of(p);
        if let Some(file) = unnamed_in(dir) {
            return Ok(Sink::Unnamed { path: p.to_path_buf(), dir: dir.to_path_buf(), file });
        }
        install_signal_cleanup();
        remove_stale(dir);
        let tmp = tempfile::Builder::new().prefix(&temp_prefix()).suffix(".tmp").tempfile_in(dir)?;
        pending().push(tmp.path().to_path_buf());
        Ok(Sink::File { path: p.to_path_buf(), tmp })
    }

    /// Standard output, failing if it is closed (`>&-`) rather than discarding the plan.
    /// A folder to fill with one file per message: it must be new or empty (nothing in it is
    /// ever replaced). The files go into a temporary folder beside it, renamed into place at
    /// the end, so a failed run leaves nothing.
    pub fn open_dir(path: &Path, protected: &[Protected<'_>]) -> io::Result<Sink> {
        refuse_input(path, protected)?;
        // A link to a folder: the folder is filled (the link stays).
        let resolved = match follow_links(path)? {
            Target::Path(t) => t,
            Target::Descriptor(_) => {
                return Err(io::Error::other(
                    "it is not a folder: --format eml writes one file per message into a folder",
                ))
            }
        };
        let path = resolved.as_path();
        if let Ok(meta) = std::fs::metadata(path) {
            if !meta.is_dir() {
                return Err(io::Error::other(
                    "it is not a folder: --format eml writes one file per message into a folder",
                ));
            }
            if std::fs::read_dir(path)?.next().is_some() {
                return Err(io::Error::other("the folder is not empty: give a new or empty folder"));
            }
        }
        let parent = folder_of(path);
        install_signal_cleanup();
        remove_stale(parent);
        let tmp = tempfile::Builder::new().prefix(&temp_prefix()).suffix(".tmp").tempdir_in(parent)?;
        pending().push(tmp.path().to_path_buf());
        Ok(Sink::Dir { path: path.to_path_buf(), tmp })
    }

    fn stdout() -> io::Result<Sink> {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let fd = io::stdout().as_fd().try_clone_to_owned()?;
            let file = File::from(fd);
            if stdout_was_closed(&file) {
                return Err(io::Error::other("standard output is closed"));
            }
            Ok(Sink::Stdout(file))
        }
        #[cfg(not(unix))]
        {
            Err(io::Error::other("writing to stdout needs a Unix platform; use --output"))
        }
    }

    /// Write, then (for files) rename into place. On error the temp file is removed.
    pub fn write_with(self, f: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<u64>) -> io::Result<u64> {
        let name = self.name();
        match self {
            Sink::Stdout(file) | Sink::Stream { file, .. } => {
                let mut out = io::BufWriter::with_capacity(1 << 16, Named { inner: file, name });
                let n = f(&mut out)?;
                out.flush()?;
                Ok(n)
            }
            Sink::Unnamed { path, dir, file } => Self::commit_unnamed(&path, &dir, file, &name, f),
            Sink::File { path, tmp } => {
                let tmp_path = tmp.path().to_path_buf();
                let result = Self::commit(&path, tmp, &name, f);
                pending().retain(|p| *p != tmp_path);
                result
            }
            Sink::Dir { path, tmp } => {
                let tmp_path = tmp.path().to_path_buf();
                let result = (|| {
                    let mut w = Named { inner: super::mail::FolderWriter::new(tmp_path.clone()), name: name.clone() };
                    let n = f(&mut w)?;
                    (|| {
                        w.inner.finish()?;
                        sync_folder(&tmp_path)?;
                        if path.is_dir() {
                            // Empty, as checked when opened.
                            std::fs::remove_dir(&path)?;
                        }
                        std::fs::rename(&tmp_path, &path)?;
                        sync_dir(folder_of(&path))
                    })()
                    .map_err(|e| named(&name, e))?;
                    Ok(n)
                })();
                if result.is_ok() {
                    // Renamed into place: nothing is left to remove.
                    let _ = tmp.keep();
                }
                pending().retain(|p| *p != tmp_path);
                result
            }
        }
    }
}

/// A writer whose errors name what it writes to (`/dev/full`, `stdout`): a stream has no
/// temp file or rename whose error would.
struct Named<W> {
    inner: W,
    name: String,
}

impl<W: Write> Named<W> {
    fn named(&self, e: io::Error) -> io::Error {
        named(&self.name, e)
    }
}

impl<W: Write> Write for Named<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.named(e))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.named(e))
    }
}

impl Sink {
    /// Write the unnamed file, then name it beside the target (a link through
    /// `/proc/self/fd`) and rename that over the target: only those two steps, at the very
    /// end, see a named temp file.
    fn commit_unnamed(
        path: &Path,
        dir: &Path,
        file: File,
        name: &str,
        f: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<u64>,
    ) -> io::Result<u64> {
        let mut w = Named { inner: Direct::new(WriteBehind::new(file)), name: name.to_owned() };
        let n = f(&mut w)?;
        (|| {
            let file = w.inner.finish()?.inner;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode =
                    std::fs::metadata(path).map_or_else(|_| new_file_mode(), |m| m.permissions().mode() & 0o7777);
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
            file.sync_all()?;
            link_and_rename(&file, dir, path)?;
            sync_dir(dir)
        })()
        .map_err(|e| named(name, e))?;
        Ok(n)
    }

    fn commit(
        path: &Path,
        tmp: tempfile::NamedTempFile,
        name: &str,
        f: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<u64>,
    ) -> io::Result<u64> {
        let mut w = Named { inner: Direct::new(WriteBehind::new(tmp)), name: name.to_owned() };
        let n = f(&mut w)?;
        (|| {
            let tmp = w.inner.finish()?.inner;
            // A temp file is private (0600); the plan gets the permissions of the file it
            // replaces, or those of a new file under the process's umask.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode =
                    std::fs::metadata(path).map_or_else(|_| new_file_mode(), |m| m.permissions().mode() & 0o7777);
                tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
            tmp.as_file().sync_all()?;
            tmp.persist(path).map_err(|e| e.error)?;
            sync_dir(folder_of(path))
        })()
        .map_err(|e| named(name, e))?;
        Ok(n)
    }

    /// What the output is called in messages.
    pub fn name(&self) -> String {
        match self {
            Sink::Stdout(_) => "stdout".to_owned(),
            Sink::Stream { path, .. }
            | Sink::File { path, .. }
            | Sink::Dir { path, .. }
            | Sink::Unnamed { path, .. } => path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that keeps its bytes and reports `fd` as its descriptor, for the kernel's
    /// answers to `sync_file_range`.
    #[cfg(target_os = "linux")]
    struct Fd(Vec<u8>, std::os::fd::RawFd);
    #[cfg(target_os = "linux")]
    impl Write for Fd {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    #[cfg(target_os = "linux")]
    impl std::os::fd::AsRawFd for Fd {
        fn as_raw_fd(&self) -> std::os::fd::RawFd {
            self.1
        }
    }

    /// A write-back error comes out of the write that hands the window over (the final
    /// `fsync` would not see it again); a descriptor that does not take the hint (a pipe)
    /// is written as a stream, without an error.
    #[cfg(target_os = "linux")]
    #[test]
    fn write_back_errors_are_returned_and_a_pipe_is_not_one() {
        let window = vec![7u8; WRITE_BEHIND as usize];
        // -1 is no descriptor: the kernel answers EBADF.
        let mut bad = WriteBehind::new(Fd(Vec::new(), -1));
        let e = bad.write(&window).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF));
        let mut fds = [0; 2];
        // SAFETY: `pipe` writes two descriptors into the array it is given.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let mut piped = WriteBehind::new(Fd(Vec::new(), fds[1]));
        for _ in 0..3 {
            piped.write_all(&window).unwrap();
        }
        assert_eq!(piped.inner.0.len(), 3 * window.len());
        for fd in fds {
            // SAFETY: closes the two descriptors `pipe` opened above, once each.
            unsafe { libc::close(fd) };
        }
    }

    #[test]
    fn write_behind_writes_every_byte_in_order_across_windows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.csv");
        let mut w = WriteBehind::new(File::create(&p).unwrap());
        let mut expected = Vec::new();
        // Odd-sized writes over three windows and a half, so windows end mid-write.
        let mut i = 0u32;
        while expected.len() < (WRITE_BEHIND * 7 / 2) as usize {
            let chunk: Vec<u8> = (0..100_003u32).map(|k| (k.wrapping_mul(31).wrapping_add(i) % 251) as u8).collect();
            w.write_all(&chunk).unwrap();
            expected.extend_from_slice(&chunk);
            i += 1;
        }
        w.flush().unwrap();
        assert_eq!(w.written, expected.len() as u64);
        assert!(w.waited > 0 && w.waited < w.started, "two windows were handed over");
        drop(w);
        assert!(std::fs::read(&p).unwrap() == expected);
    }

    /// A disk for `Direct`: keeps what is written, and while `O_DIRECT` is on asserts that
    /// each write's memory, offset and length are aligned. It can refuse the flag, answer the
    /// k-th direct write (from 0) with an error (`fail`), take only part of the first direct
    /// write, be interrupted once, or fail to turn the flag off.
    #[derive(Default)]
    struct Disk {
        data: Vec<u8>,
        direct: bool,
        refuse_flag: bool,
        fail: Option<(usize, i32)>,
        short_first: Option<usize>,
        interrupt_once: bool,
        /// The next write through the cache fails with this error.
        fail_buffered: Option<i32>,
        stuck_flag: bool,
        /// Direct writes tried, and taken.
        tried: usize,
        direct_writes: usize,
    }
    impl Write for Disk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if std::mem::take(&mut self.interrupt_once) {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let mut n = buf.len();
            if !self.direct {
                if let Some(errno) = self.fail_buffered.take() {
                    return Err(io::Error::from_raw_os_error(errno));
                }
            }
            if self.direct {
                assert_eq!(buf.as_ptr().addr() % DIRECT_ALIGN, 0, "direct write from unaligned memory");
                assert_eq!(buf.len() % DIRECT_ALIGN, 0, "direct write of an unaligned length");
                assert_eq!(self.data.len() % DIRECT_ALIGN, 0, "direct write at an unaligned offset");
                self.tried += 1;
                if let Some((k, errno)) = self.fail {
                    if self.tried - 1 == k {
                        return Err(io::Error::from_raw_os_error(errno));
                    }
                }
                if let Some(k) = self.short_first.take() {
                    n = k;
                }
                self.direct_writes += 1;
            }
            self.data.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl SetDirect for Disk {
        fn set_direct(&mut self, on: bool) -> io::Result<()> {
            if (on && self.refuse_flag) || (!on && self.stuck_flag) {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            self.direct = on;
            Ok(())
        }
    }

    /// `total` bytes in writes of odd sizes through `Direct` onto `disk`, then a flush: what
    /// the disk holds and what was meant, or the first error.
    fn through_direct_n(disk: Disk, total: usize) -> (Result<Disk, io::Error>, Vec<u8>) {
        let mut w = Direct::new(disk);
        let mut expected = Vec::new();
        let mut i = 0u32;
        while expected.len() < total {
            let k = (total - expected.len()).min(300_007);
            let chunk: Vec<u8> = (0..k as u32).map(|k| (k.wrapping_mul(31).wrapping_add(i) % 251) as u8).collect();
            if let Err(e) = w.write_all(&chunk) {
                return (Err(e), w.inner.data);
            }
            expected.extend_from_slice(&chunk);
            i += 1;
        }
        (w.finish(), expected)
    }

    /// Two and a half chunks.
    fn through_direct(disk: Disk) -> (Disk, Vec<u8>) {
        let (disk, expected) = through_direct_n(disk, DIRECT_CHUNK * 5 / 2);
        (disk.unwrap(), expected)
    }

    #[test]
    fn direct_writes_are_whole_aligned_chunks_and_the_tail_goes_through_the_cache() {
        let (disk, expected) = through_direct(Disk::default());
        assert!(disk.data == expected, "every byte once, in order");
        assert_eq!(disk.direct_writes, 2, "the two whole chunks went around the cache");
        assert!(!disk.direct, "the tail was written with O_DIRECT off");
        // A plan of exactly two chunks: both direct, nothing through the cache.
        let (disk, expected) = through_direct_n(Disk::default(), 2 * DIRECT_CHUNK);
        let disk = disk.unwrap();
        assert!(disk.data == expected);
        assert_eq!(disk.direct_writes, 2);
        assert!(disk.direct, "no tail, so O_DIRECT stayed on");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_system_refusing_direct_writes_gets_every_byte_through_the_cache() {
        // The flag refused when the file is opened.
        let (disk, expected) = through_direct(Disk { refuse_flag: true, ..Disk::default() });
        assert!(disk.data == expected);
        assert_eq!(disk.direct_writes, 0);
        // The flag taken, the first aligned write refused: nothing lost, nothing twice.
        let (disk, expected) = through_direct(Disk { fail: Some((0, libc::EINVAL)), ..Disk::default() });
        assert!(disk.data == expected);
        assert_eq!((disk.tried, disk.direct_writes), (1, 0), "after a refusal, no more direct writes");
        // The second refused (EOPNOTSUPP, as some FUSE file systems answer), after one taken.
        let (disk, expected) = through_direct(Disk { fail: Some((1, libc::EOPNOTSUPP)), ..Disk::default() });
        assert!(disk.data == expected);
        assert_eq!((disk.tried, disk.direct_writes), (2, 1));
        // A direct write that takes part of a chunk: the rest follows through the cache.
        let (disk, expected) = through_direct(Disk { short_first: Some(5 * DIRECT_ALIGN + 17), ..Disk::default() });
        assert!(disk.data == expected);
        assert_eq!(disk.direct_writes, 1);
        // Interrupted once: tried again.
        let (disk, expected) = through_direct(Disk { interrupt_once: true, ..Disk::default() });
        assert!(disk.data == expected);
    }

    #[test]
    fn a_disk_error_comes_back_and_what_was_written_is_never_written_again() {
        // The disk full at the second chunk: the error comes out of the write that would
        // have needed the room, none of whose bytes were taken.
        let (disk, written) =
            through_direct_n(Disk { fail: Some((1, libc::ENOSPC)), ..Disk::default() }, 3 * DIRECT_CHUNK);
        let e = disk.err().expect("the error comes back");
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(written.len(), DIRECT_CHUNK, "the first chunk only, once");
        // A short direct write, then an error on the rest (through the cache), then a flush
        // again: the chunk is taken up where it stopped.
        let mut w =
            Direct::new(Disk { short_first: Some(DIRECT_ALIGN), fail_buffered: Some(libc::EIO), ..Disk::default() });
        let chunk: Vec<u8> = (0..DIRECT_CHUNK as u32).map(|k| (k % 253) as u8).collect();
        w.write_all(&chunk).unwrap();
        assert_eq!(w.flush().unwrap_err().raw_os_error(), Some(libc::EIO));
        assert_eq!(w.inner.data.len(), DIRECT_ALIGN);
        w.flush().unwrap();
        assert!(w.inner.data == chunk, "the chunk once, in order");
        // Turning the flag off fails: the error comes back rather than a direct write of an
        // unaligned tail.
        let mut w = Direct::new(Disk { stuck_flag: true, ..Disk::default() });
        w.write_all(b"a tail").unwrap();
        assert!(w.flush().is_err());
        assert!(w.inner.data.is_empty());
    }

    #[test]
    fn a_flush_mid_stream_keeps_every_byte_in_order() {
        let mut w = Direct::new(Disk::default());
        let mut expected = Vec::new();
        for (i, n) in [DIRECT_CHUNK + 5, 3, DIRECT_CHUNK * 2 + 4_097].into_iter().enumerate() {
            let chunk: Vec<u8> = (0..n as u32).map(|k| (k ^ i as u32) as u8).collect();
            w.write_all(&chunk).unwrap();
            expected.extend_from_slice(&chunk);
            w.flush().unwrap();
        }
        let disk = w.finish().unwrap();
        assert!(disk.data == expected);
        assert_eq!(disk.direct_writes, 1, "direct until the first tail was flushed");
    }

    #[test]
    fn a_real_file_written_directly_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.csv");
        let mut w = Direct::new(WriteBehind::new(File::create(&p).unwrap()));
        // Where the flag is taken (not every file system takes it), the descriptor has it.
        #[cfg(target_os = "linux")]
        if w.direct {
            use std::os::fd::AsRawFd;
            // SAFETY: F_GETFL reads the flags of a descriptor `w` keeps open.
            let flags = unsafe { libc::fcntl(w.inner.inner.as_raw_fd(), libc::F_GETFL) };
            assert_ne!(flags & libc::O_DIRECT, 0);
        }
        let mut expected = Vec::new();
        for i in 0..70u32 {
            let chunk: Vec<u8> = (0..300_007u32).map(|k| (k ^ i) as u8).collect();
            w.write_all(&chunk).unwrap();
            expected.extend_from_slice(&chunk);
        }
        let file = w.finish().unwrap().inner;
        file.sync_all().unwrap();
        drop(file);
        assert!(std::fs::read(&p).unwrap() == expected);
    }

    /// A plan of several direct chunks and a tail, through the whole file path (unnamed or
    /// named temp file, direct writes, fsync, rename): every byte back, nothing left beside it,
    /// and the file replaced keeps its permissions.
    #[test]
    fn a_plan_of_many_chunks_lands_whole_through_the_sink() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("plan.csv");
        std::fs::write(&out, "old plan\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        let mut expected = Vec::new();
        let s = Sink::open(Some(&out), &[]).unwrap();
        s.write_with(|w| {
            for i in 0..9u32 {
                let chunk: Vec<u8> = (0..(2 << 20) + 4_099u32).map(|k| (k.wrapping_mul(7) ^ i) as u8).collect();
                w.write_all(&chunk)?;
                expected.extend_from_slice(&chunk);
            }
            w.flush()?;
            Ok(1)
        })
        .unwrap();
        assert!(expected.len() > 2 * DIRECT_CHUNK && expected.len() % DIRECT_CHUNK != 0);
        assert!(std::fs::read(&out).unwrap() == expected, "every byte once, in order");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["plan.csv"], "no temp file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o640);
        }
        assert!(pending().is_empty());
    }

    /// A plan to a new name is linked straight in; over an existing one it goes through a
    /// temporary name; either way the content is the new plan and nothing else is left in the
    /// folder, nor in the list the signal handler cleans.
    #[test]
    fn temp_names_left_by_a_process_that_is_gone_are_removed_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let stale_dir = dir.path().join(".kairos-999999999-abc.tmp");
        std::fs::create_dir(&stale_dir).unwrap();
        std::fs::write(stale_dir.join("m.eml"), "x").unwrap();
        std::fs::write(dir.path().join(".kairos-999999998-def.tmp"), "x").unwrap();
        let kept = [
            ".kairos-1-ghi.tmp".to_owned(),
            format!(".kairos-{}-jkl.tmp", std::process::id()),
            ".kairos-notes.tmp".to_owned(),
            "plan.csv".to_owned(),
        ];
        for k in &kept {
            std::fs::write(dir.path().join(k), "x").unwrap();
        }
        let sink = Sink::open_dir(&dir.path().join("mail"), &[]).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(&temp_prefix()) || kept.contains(n))
            .collect();
        names.sort();
        let mut want = kept.to_vec();
        want.sort();
        assert_eq!(names, want, "the gone processes' temp names removed, the others kept");
        drop(sink);
    }

    #[test]
    fn a_new_plan_and_a_replaced_plan_leave_only_the_plan() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("night.jsonl");
        for text in ["first\n", "second\n"] {
            let s = Sink::open(Some(&out), &[]).unwrap();
            s.write_with(|w| w.write_all(text.as_bytes()).map(|()| 1)).unwrap();
            assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
            let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(names, ["night.jsonl"], "no temp file left");
            assert!(!pending().iter().any(|p| p.starts_with(dir.path())), "the temp name is off the list");
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::PermissionsExt;
            let fresh = dir.path().join("fresh.csv");
            let file = unnamed_in(dir.path()).expect("O_TMPFILE on the test's file system");
            link_and_rename(&file, dir.path(), &fresh).unwrap();
            assert!(fresh.exists());
            assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
            // The link of an existing name fails: it goes through a temporary name instead.
            let again = unnamed_in(dir.path()).unwrap();
            link_and_rename(&again, dir.path(), &fresh).unwrap();
            let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            names.sort();
            assert_eq!(names, ["fresh.csv", "night.jsonl"]);
        }
    }

    /// An error in the steps after the writing (the rename here: its folder is gone) names
    /// the plan, and leaves nothing behind.
    #[test]
    fn an_error_committing_the_plan_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("out");
        std::fs::create_dir(&sub).unwrap();
        let out = sub.join("plan.csv");
        let s = Sink::open(Some(&out), &[]).unwrap();
        std::fs::remove_dir_all(&sub).unwrap();
        let e = s.write_with(|w| w.write_all(b"plan\n").map(|_| 1)).unwrap_err();
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("cannot write to {}: ", out.display())), "{shown}");
        assert!(!out.exists());
        // A folder of messages: a frame cut short is found when the folder is finished.
        let folder = dir.path().join("mail");
        let s = Sink::open_dir(&folder, &[]).unwrap();
        let e = s.write_with(|w| w.write_all(b"\0EML a.eml 10\nshort").map(|_| 1)).unwrap_err();
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("cannot write to {}: ", folder.display())), "{shown}");
        assert!(shown.contains("cut short"), "{shown}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");
    }

    #[test]
    fn refuses_to_replace_an_input_by_identity() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("tx.csv");
        std::fs::write(&input, "customer_id,timestamp\n").unwrap();
        // Another name for the same file.
        let alias = dir.path().join(".").join("tx.csv");
        let e = Sink::open(Some(&alias), &[Protected { what: "the transactions input", path: &input }])
            .err()
            .expect("refused");
        assert!(e.to_string().contains("the transactions input"), "{e}");
        assert_eq!(std::fs::read_to_string(&input).unwrap(), "customer_id,timestamp\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left");
    }

    #[test]
    fn a_device_is_written_as_a_stream_and_a_file_atomically() {
        let s = Sink::open(Some(Path::new("/dev/null")), &[]).unwrap();
        assert!(matches!(s, Sink::Stream { .. }));
        assert_eq!(s.write_with(|w| w.write_all(b"x").map(|_| 1)).unwrap(), 1);
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device_like());
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("plan.csv");
        let s = Sink::open(Some(&out), &[]).unwrap();
        let e = s.write_with(|_| Err(io::Error::other("boom"))).unwrap_err();
        assert_eq!(e.to_string(), "boom");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a failed write leaves nothing");
        let s = Sink::open(Some(&out), &[]).unwrap();
        s.write_with(|w| w.write_all(b"plan\n").map(|_| 1)).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "plan\n");
        assert!(pending().is_empty());
    }

    trait CharDevice {
        fn is_char_device_like(&self) -> bool;
    }
    impl CharDevice for std::fs::FileType {
        fn is_char_device_like(&self) -> bool {
            use std::os::unix::fs::FileTypeExt;
            self.is_char_device()
        }
    }
}
