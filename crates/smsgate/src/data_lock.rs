//! SQLite is single-node: one `serve` per data directory. A second one on the same files would
//! take the first one's leased messages for crashed work and send them again, so it refuses
//! to start instead, holding an exclusive lock on `smsgate.lock` beside the database for as
//! long as the gateway runs (the kernel drops it when the process dies, kill -9 included).
//! Several nodes share one PostgreSQL database instead (README, "Scaling out").

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

/// Takes the data directory's lock, creating the directory (owner only) if needed; the lock
/// lasts as long as the returned file is open.
pub fn lock(dir: &Path) -> anyhow::Result<File> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    let path = dir.join("smsgate.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            let by = if holder.is_empty() {
                String::new()
            } else {
                format!(" (by process {holder})")
            };
            bail!(
                "another smsgate is already running on the data directory {}{by}: a SQLite \
                 store serves one node only. Stop the other one first, or give this one its \
                 own [store] url; to run several nodes on one store, use PostgreSQL \
                 ([store] url = \"postgres://…\", README \"Scaling out\")",
                dir.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = super::lock(&data).unwrap();
        let err = super::lock(&data).unwrap_err().to_string();
        assert!(err.contains("already running"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        super::lock(&data).unwrap();
    }
}
