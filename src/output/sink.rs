//! Where output goes: stdout, or a file that appears atomically, complete or not at all.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where output goes: stdout, or a file replaced atomically.
pub enum Sink {
    Stdout,
    File { path: PathBuf, tmp: tempfile::NamedTempFile },
}

impl Sink {
    /// Prepare the destination before any work, so a bad path fails fast.
    pub fn open(path: Option<&Path>) -> io::Result<Sink> {
        match path {
            None => Ok(Sink::Stdout),
            Some(p) if p == Path::new("-") => Ok(Sink::Stdout),
            Some(p) => {
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let tmp = tempfile::Builder::new().prefix(".kairos-").suffix(".tmp").tempfile_in(dir)?;
                Ok(Sink::File { path: p.to_path_buf(), tmp })
            }
        }
    }

    /// Write, then (for files) rename into place. On error the temp file is removed.
    pub fn write_with(self, f: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<u64>) -> io::Result<u64> {
        match self {
            Sink::Stdout => {
                let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout());
                let n = f(&mut out)?;
                out.flush()?;
                Ok(n)
            }
            Sink::File { path, tmp } => {
                let mut w = io::BufWriter::with_capacity(1 << 20, tmp);
                let n = f(&mut w)?;
                let tmp = w.into_inner().map_err(|e| e.into_error())?;
                // A temp file is private (0600); the plan gets the permissions of the file it
                // replaces, or the usual 0644.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(&path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
                    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
                tmp.as_file().sync_all()?;
                tmp.persist(&path).map_err(|e| e.error)?;
                Ok(n)
            }
        }
    }
}
