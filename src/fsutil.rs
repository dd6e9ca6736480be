//! The one way packer writes a file it owns: atomically, and only when the bytes change.
//!
//! Every output, key file, record, registry and build.ninja goes through [`write_if_changed`]
//! so that Ninja's `restat` sees an untouched mtime whenever the content is the same, and no
//! reader ever sees a half-written file.

use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How every temp file packer writes begins (`.packer-tmpXXXXXX`): what gen and `gc` sweep
/// up after a killed process.
pub const TEMP_PREFIX: &str = ".packer-tmp";

/// Opens a file packer keeps (a record, key file, memo, ledger, state, cache entry or object,
/// artifact) for reading, only if it is a regular file: not through a symbolic link, and
/// without blocking (a FIFO put in its place would otherwise hang the build). Anything else is
/// an error, which every reader treats as "missing or damaged" and repairs.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::File::options()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)?;
    regular(f, path)
}

/// Opens a user's file (a declaration, the registry, a source) for reading without blocking,
/// only if it is a regular file (symbolic links followed): a FIFO, device or socket is an
/// error naming it, never a read that waits forever or never ends.
pub fn open_input(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::File::options().read(true).custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32).open(path)?;
    regular(f, path)
}

/// `f` (opened from `path`) if it is a regular file, else an error naming it.
pub fn regular(f: std::fs::File, path: &Path) -> std::io::Result<std::fs::File> {
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file (a FIFO, device, socket or directory)", path.display()),
        ));
    }
    Ok(f)
}

/// Opens `rel` below the directory `root` the way [`open_input`] does, resolved beneath
/// `root` at open time (`openat2` with `RESOLVE_BENEATH`): no `..`, absolute path or
/// symbolic link can lead outside, even one swapped in after gen checked the path. Where
/// the kernel has no `openat2`, the opened file's real path is checked against the root's.
pub fn open_beneath(root: &Path, rel: &str) -> std::io::Result<std::fs::File> {
    use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};
    let dir = std::fs::File::options().read(true).custom_flags_dir().open(root)?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let path = root.join(rel);
    match openat2(&dir, rel, flags, Mode::empty(), resolve) {
        Ok(fd) => regular(std::fs::File::from(fd), &path),
        Err(rustix::io::Errno::XDEV) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} resolves outside its asset root", path.display()),
        )),
        Err(rustix::io::Errno::NOSYS) => {
            let f = open_input(&path)?;
            let real = std::fs::read_link(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f)))?;
            if !real.starts_with(std::fs::canonicalize(root)?) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{} resolves outside its asset root", path.display()),
                ));
            }
            Ok(f)
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads a whole file opened by [`open_beneath`], of at most `cap` bytes: a larger one is an
/// error of kind `FileTooLarge`, found from its size before anything is allocated (and from
/// the bytes read, should it grow meanwhile).
pub fn read_beneath(root: &Path, rel: &str, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = open_beneath(root, rel)?;
    let len = f.metadata()?.len();
    let too_large = |len: u64| {
        std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("{} is {len} bytes, more than the limit of {cap}", root.join(rel).display()),
        )
    };
    if len > cap {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

trait DirFlags {
    fn custom_flags_dir(&mut self) -> &mut Self;
}

impl DirFlags for std::fs::OpenOptions {
    fn custom_flags_dir(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags((rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::NONBLOCK).bits() as i32)
    }
}

/// Removes whatever stands where packer keeps a regular file, unless it is one (or a link,
/// which a rename replaces): a directory or FIFO put there would make every write fail or
/// block, and the build wedge.
fn clear_non_file(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() || m.file_type().is_symlink() => Ok(()),
        Ok(_) => remove_if_exists(path).map(drop),
        Err(_) => Ok(()),
    }
}

/// Reads a file packer keeps, through [`open_regular`].
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = open_regular(path)?;
    let mut bytes = Vec::with_capacity(f.metadata().map(|m| m.len() as usize).unwrap_or(0));
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Writes `bytes` to `path` through a temp file in the same directory and a rename, unless the
/// file already holds exactly these bytes. Returns whether the file was written.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    if holds(path, bytes) {
        return Ok(false);
    }
    atomic_write(path, bytes, true)
}

/// Replaces `path` with `bytes`, atomically, without comparing: for a caller that already
/// knows, by digest, that the bytes differ from the file's.
pub fn replace(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    atomic_write(path, bytes, true)
}

/// Writes an immutable entry (a cache object): atomically, and never over an existing file,
/// so that the first writer wins when several steps race. Returns whether it was written.
pub fn write_once(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    atomic_write(path, bytes, false)
}

/// The one atomic write: a temp file in the destination's directory, then a rename (or a
/// no-clobber link when `replace` is false).
fn atomic_write(path: &Path, bytes: &[u8], replace: bool) -> anyhow::Result<bool> {
    let mut staged = stage(path)?;
    staged.tmp.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    if replace {
        staged.commit()?;
        return Ok(true);
    }
    match staged.tmp.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error).with_context(|| format!("writing {}", path.display())),
    }
}

/// A file being written for `path`: a temp file in its directory, filled by the caller
/// (the pack writes its container in place, payload by payload, without holding it in
/// memory) and put in place by [`Staged::commit`], atomically; dropped, it is removed.
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

/// Starts an atomic write of `path` (see [`Staged`]).
pub fn stage(path: &Path) -> anyhow::Result<Staged> {
    clear_non_file(path)?;
    let dir = dir_of(path);
    let temp = || {
        tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .tempfile_in(dir)
    };
    // The directory nearly always exists: create it only when the temp file cannot be.
    let tmp = match temp() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            temp()
        }
        r => r,
    }
    .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    Ok(Staged { tmp, path: path.to_path_buf() })
}

impl Staged {
    /// The temp file, to write into.
    pub fn file(&self) -> &std::fs::File {
        self.tmp.as_file()
    }

    /// Where it goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Puts the finished file in place of its path, atomically.
    pub fn commit(self) -> anyhow::Result<()> {
        persist_over(self.tmp.into_temp_path(), &self.path)
    }
}

/// Replaces `path` with the content of the file `src` (a verified cache object), atomically,
/// as a file of its own: a reflink where the filesystem has them (btrfs, XFS: shared blocks,
/// copied on write, so no data is written and neither file can change the other), else a
/// copy made in the kernel (`copy_file_range`); then a rename over `path`. Never a hard link:
/// a tool that rewrites an output in place must not reach the cache object behind it.
///
/// With `keep_mtime` the new file gets the object's mtime, as a hard link would have: what
/// gen's bulk restore needs, so that the artifact looks to Ninja as it did when it was built
/// (doc/design.md, "The gating protocol").
pub fn replace_from(src: &Path, path: &Path, keep_mtime: bool) -> anyhow::Result<()> {
    clear_non_file(path)?;
    let dir = dir_of(path);
    let mut from = std::fs::File::open(src).with_context(|| format!("reading {}", src.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    if rustix::fs::ioctl_ficlone(tmp.as_file(), &from).is_err() {
        std::io::copy(&mut from, tmp.as_file_mut()).with_context(|| format!("writing {}", path.display()))?;
    }
    if keep_mtime {
        let mtime = from.metadata().and_then(|m| m.modified());
        if let Ok(t) = mtime {
            tmp.as_file().set_modified(t).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    persist_over(tmp.into_temp_path(), path)
}

/// Writes `bytes` to `path` atomically, through `previous`: the bytes go into `previous`
/// (written over in place, reusing its inode and blocks), which is then exchanged with `path`
/// (`renameat2(RENAME_EXCHANGE)`). `path` holds the new bytes, whole, at every instant, and
/// `previous` what `path` held before. Once both exist no file is created or freed: freeing a
/// file's blocks costs a synchronous discard on filesystems mounted with `discard`, which made
/// every gate and record rewritten in a branch switch wait on the disk. Used for step records
/// (whose previous version `packer explain` reads) and key files. Falls back to
/// [`write_if_changed`]'s way where exchange is not supported or `path` does not exist yet.
pub fn replace_keeping_previous(path: &Path, previous: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    clear_non_file(path)?;
    clear_non_file(previous)?;
    if !path.exists() {
        return atomic_write(path, bytes, true).map(drop);
    }
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(previous)?;
        f.write_all(bytes)?;
        f.set_len(bytes.len() as u64)
    })();
    if written.is_err() || renameat_with(CWD, previous, CWD, path, RenameFlags::EXCHANGE).is_err() {
        return atomic_write(path, bytes, true).map(drop);
    }
    Ok(())
}

/// Puts a finished temp file in place of `path`, atomically. When `path` exists the two are
/// exchanged (`renameat2(RENAME_EXCHANGE)`) and the old file, now under the temp name, is
/// removed: a rename that replaces a file makes ext4 write the new file's data out at once,
/// under the directory's lock ("auto_da_alloc"), which serialized every restore of a branch
/// switch on the disk. Where exchange is not supported, or nothing is there yet, a plain
/// rename. Either way a reader sees the old file or the new one, never neither.
fn persist_over(tmp: tempfile::TempPath, path: &Path) -> anyhow::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, &*tmp, CWD, path, RenameFlags::EXCHANGE) {
        // Dropping the temp path removes what is now under it: the old file.
        Ok(()) => Ok(()),
        Err(_) => tmp.persist(path).map_err(|e| e.error).with_context(|| format!("renaming into {}", path.display())),
    }
}

/// The directory a path's temp files go in (its parent; `.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Whether `path` is a file holding exactly `bytes` (size checked first, then content).
/// One open, one `fstat`, one read: no second lookup of the path.
pub fn holds(path: &Path, bytes: &[u8]) -> bool {
    use std::io::Read;
    let Ok(mut f) = open_regular(path) else { return false };
    match f.metadata() {
        Ok(m) if m.is_file() && m.len() == bytes.len() as u64 => {
            let mut old = Vec::with_capacity(bytes.len());
            f.read_to_end(&mut old).is_ok() && old == bytes
        }
        _ => false,
    }
}

/// Removes a file, treating "already gone" as success.
pub fn remove_if_exists(path: &Path) -> anyhow::Result<bool> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))?;
        return Ok(true);
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_bytes_leave_the_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/out.bin");
        assert!(write_if_changed(&p, b"abc").unwrap());
        let m1 = std::fs::metadata(&p).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!write_if_changed(&p, b"abc").unwrap());
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), m1);
        assert!(write_if_changed(&p, b"abd").unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"abd");
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file left behind");
    }

    #[test]
    fn the_replaced_record_becomes_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let (rec, prev) = (dir.path().join("1.rec"), dir.path().join("1.prev"));
        std::fs::write(&rec, b"one").unwrap();
        replace_keeping_previous(&rec, &prev, b"two").unwrap();
        assert_eq!((std::fs::read(&rec).unwrap(), std::fs::read(&prev).unwrap()), (b"two".to_vec(), b"one".to_vec()));
        use std::os::unix::fs::MetadataExt;
        let inodes = || {
            let mut v = [std::fs::metadata(&rec).unwrap().ino(), std::fs::metadata(&prev).unwrap().ino()];
            v.sort();
            v
        };
        let before = inodes();
        replace_keeping_previous(&rec, &prev, b"three").unwrap();
        assert_eq!((std::fs::read(&rec).unwrap(), std::fs::read(&prev).unwrap()), (b"three".to_vec(), b"two".to_vec()));
        assert_eq!(inodes(), before, "the same two files, swapped: nothing created or freed");
        replace_keeping_previous(&rec, &prev, b"4").unwrap();
        assert_eq!((std::fs::read(&rec).unwrap(), std::fs::read(&prev).unwrap()), (b"4".to_vec(), b"three".to_vec()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temp file left behind");
    }

    #[test]
    fn replace_from_copies_atomically_into_a_file_of_its_own() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let (src, out) = (dir.path().join("object"), dir.path().join("out/x.bin"));
        std::fs::write(&src, b"cached bytes").unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        std::fs::write(&out, b"old").unwrap();
        replace_from(&src, &out, true).unwrap();
        assert_eq!(
            std::fs::metadata(&out).unwrap().modified().unwrap(),
            std::fs::metadata(&src).unwrap().modified().unwrap()
        );
        assert_eq!(std::fs::read(&out).unwrap(), b"cached bytes");
        assert_ne!(std::fs::metadata(&out).unwrap().ino(), std::fs::metadata(&src).unwrap().ino(), "not a link");
        // Writing into the output in place never reaches the object.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&out)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"X"))
            .unwrap();
        assert_eq!(std::fs::read(&src).unwrap(), b"cached bytes");
        assert_eq!(std::fs::read_dir(dir.path().join("out")).unwrap().count(), 1, "no temp file left behind");
    }
}
