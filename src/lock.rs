//! Locks that keep two builds of one workspace from undoing each other's writes, the way
//! cargo's "Blocking waiting for file lock on build directory" and Bazel's output-base lock
//! do, and still let one Ninja run its steps in parallel.
//!
//! The protocol (doc/design.md, "Locking"):
//! - **The build lock**, `<build>/.packer-lock`: gen holds it exclusively for its whole run
//!   (it writes key files, the ledger, its state, the fingerprints, build.ninja, and restores
//!   artifacts); every step holds it shared. So a gen never runs beside a step, and two gens
//!   never run at once, while any number of steps do.
//! - **The action lock**, `<obj>/<id>.lock` (`pack.lock` for the pack): a step holds its
//!   action's exclusively, after the build lock. Steps of one Ninja are different actions and
//!   never wait; the same action run by two builds at once runs one after the other, and the
//!   second finds the first's outputs up to date.
//! - **The registry lock**, `assets/.prometeu/.lock`: held exclusively by every command that
//!   edits the registry (add, adopt, forget, mv), so two of them never allocate one id.
//!
//! Locks are `flock(2)` locks on files that are created once and never replaced or removed
//! while in use, so they are tied to the process: a killed process releases them, and there
//! is no stale lock file to clean. Lock order is build lock, then action lock; nothing waits
//! for a build lock while holding an action lock, so no two processes wait for each other.

use anyhow::Context;
use rustix::fs::{flock, FlockOperation};
use std::path::{Path, PathBuf};

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct Held {
    _file: std::fs::File,
}

/// Shared or exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// The build directory's lock file.
pub fn build_lock_path(build_dir: &Path) -> PathBuf {
    build_dir.join(".packer-lock")
}

/// An action's lock file in the object directory (`<obj>/<id>.lock`, `<obj>/pack.lock`).
pub fn action_lock_path(obj_dir: &Path, action_file: &str) -> PathBuf {
    obj_dir.join(format!("{action_file}.lock"))
}

/// The registry's lock file, in `assets/.prometeu/`.
pub fn registry_lock_path(assets_dir: &Path) -> PathBuf {
    assets_dir.join(".prometeu/.lock")
}

/// Takes the lock on `path` (creating the file and its directory when missing). When another
/// process holds it, says so once on stderr — naming `what` — and waits.
pub fn acquire(path: &Path, mode: Mode, what: &str) -> anyhow::Result<Held> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        let f = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
            .open(path)?;
        crate::fsutil::regular(f, path)
    };
    let file = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            open()
        }
        // Something else in its place (a directory, a link, a FIFO): it is no lock anyone
        // holds, since every holder opens a regular file. Replace it.
        Err(_) if std::fs::symlink_metadata(path).is_ok() => {
            crate::fsutil::remove_if_exists(path)?;
            open()
        }
        r => r,
    }
    .with_context(|| format!("opening the lock file {}", path.display()))?;
    let (now, wait) = match mode {
        Mode::Shared => (FlockOperation::NonBlockingLockShared, FlockOperation::LockShared),
        Mode::Exclusive => (FlockOperation::NonBlockingLockExclusive, FlockOperation::LockExclusive),
    };
    if flock(&file, now).is_err() {
        eprintln!("packer: blocking: waiting for the lock on {what} ({}), held by another packer", path.display());
        loop {
            match flock(&file, wait) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(std::io::Error::from(e)).with_context(|| format!("locking {}", path.display())),
            }
        }
    }
    Ok(Held { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn shared_holders_coexist_and_an_exclusive_one_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/.packer-lock");
        let a = acquire(&p, Mode::Shared, "test").unwrap();
        let b = acquire(&p, Mode::Shared, "test").unwrap();
        let got = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _x = acquire(&p, Mode::Exclusive, "test").unwrap();
                got.store(true, Ordering::SeqCst);
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!got.load(Ordering::SeqCst), "exclusive waits while shared locks are held");
            drop(a);
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!got.load(Ordering::SeqCst));
            drop(b);
        });
        assert!(got.load(Ordering::SeqCst));
    }
}
