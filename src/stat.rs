//! The stat tuple, the clock and the racy-clean rule: the one contract behind every "this
//! file is unchanged, no need to read it" shortcut (fingerprints, gen's state, the key-file
//! ledger, a step's outputs). Size, mtime and inode are hints that let packer skip a read;
//! they never decide a build on their own, and a stat is trusted only when the file's mtime
//! was safely older than the moment the stat was recorded (git's "racily clean" rule: a
//! write in the same clock tick as the record leaves the stat unchanged).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Size, mtime (ns since the epoch) and inode.
pub type Stat = (u64, i128, u64);

/// A file modified less than this long before its stat was recorded is re-read next time,
/// when its mtime has whole seconds only (FAT's are 2 s; ext3's and HFS+'s 1 s).
pub const RACY_WINDOW_NS: i128 = 2_000_000_000;

/// The same for an mtime with a fraction of a second: the filesystem keeps fine timestamps,
/// taken from the kernel's coarse clock, which lags the clock packer reads by at most one
/// tick (1–10 ms); this leaves ten times that. A write after the record then always shows
/// in the mtime. (An mtime that happens to fall on a whole second gets the wide window.)
pub const FINE_RACY_WINDOW_NS: i128 = 100_000_000;

/// Now, in ns since the epoch (0 on a clock before it).
pub fn now_ns() -> i128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

/// A file's mtime in ns since the epoch.
pub fn mtime_ns(m: &std::fs::Metadata) -> i128 {
    m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128
}

/// The stat tuple of metadata already at hand.
pub fn of(m: &std::fs::Metadata) -> Stat {
    (m.len(), mtime_ns(m), m.ino())
}

/// The stat tuple of a path (following symlinks), `None` when it cannot be stat'ed.
pub fn of_path(path: &Path) -> Option<Stat> {
    std::fs::metadata(path).ok().map(|m| of(&m))
}

/// The racy-clean rule: a stat recorded at `taken_ns` may vouch for a file whose mtime is
/// `mtime_ns` only when the write was safely before the record: by more than the
/// filesystem's timestamp granularity can hide, judged from the mtime itself.
pub fn settled(mtime_ns: i128, taken_ns: i128) -> bool {
    let window = if mtime_ns % 1_000_000_000 == 0 { RACY_WINDOW_NS } else { FINE_RACY_WINDOW_NS };
    mtime_ns + window < taken_ns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_taken_in_the_same_tick_as_the_write_is_not_trusted() {
        // Whole seconds: a coarse filesystem, the wide window.
        let whole = 1_700_000_000 * 1_000_000_000;
        assert!(!settled(whole, whole));
        assert!(!settled(whole, whole + RACY_WINDOW_NS));
        assert!(settled(whole, whole + RACY_WINDOW_NS + 1));
        // A fraction of a second: fine timestamps, the narrow window.
        let fine = whole + 123_456_789;
        assert!(!settled(fine, fine));
        assert!(!settled(fine, fine + FINE_RACY_WINDOW_NS));
        assert!(settled(fine, fine + FINE_RACY_WINDOW_NS + 1));
    }

    #[test]
    fn the_tuple_is_size_mtime_inode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(of_path(&p), Some((3, mtime_ns(&m), m.ino())));
        assert_eq!(of_path(&d.path().join("missing")), None);
    }
}
