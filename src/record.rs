//! Build records (`build/obj/<id>.rec`, and without their local fields the action cache's
//! entries): the key an action was built from and the digest of each output. Below the cache
//! and the steps, which both read and write them.

use crate::keys::ActionKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Size and BLAKE3 of one output, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub size: u64,
    pub blake3: String,
    /// Local records only: the file's mtime (ns) and inode when written. When they still
    /// match, the output is taken as intact without reading it (the no-op step stays cheap);
    /// otherwise its bytes are hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<(i128, u64)>,
}

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest { size: bytes.len() as u64, blake3: crate::hash::hash_bytes(bytes), stat: None }
    }
}

/// How the outputs a record describes came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    Built,
    /// Restored from the action cache by strong key.
    Restored,
    /// Restored by weak key (non-strict): built against other dependency versions.
    RestoredWeak,
}

/// What a step records beside its outputs (and, without the local fields, in the cache).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record<S = serde_json::Value> {
    // Fields in the byte order of their names (see `KeyDoc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<How>,
    pub key: ActionKey<S>,
    /// Output label → digest.
    pub outputs: BTreeMap<String, Digest>,
}

impl Record {
    /// The record as the cache stores it: key and outputs only.
    pub fn entry(&self) -> Record {
        Record { key: self.key.clone(), outputs: self.entry_outputs(), how: None }
    }
}

impl<S: Serialize> Record<S> {
    /// The outputs as the cache stores them (without the local stat).
    pub fn entry_outputs(&self) -> BTreeMap<String, Digest> {
        self.outputs.iter().map(|(l, d)| (l.clone(), Digest { stat: None, ..d.clone() })).collect()
    }

    /// [`Record::entry`]'s canonical bytes, without copying the key document.
    pub fn entry_bytes(&self) -> anyhow::Result<Vec<u8>> {
        #[derive(Serialize)]
        struct Entry<'a, S> {
            key: &'a ActionKey<S>,
            outputs: BTreeMap<String, Digest>,
        }
        crate::canon::to_vec(&Entry { key: &self.key, outputs: self.entry_outputs() })
    }
}

/// The record of the build before this one (`<prefix>.prev`, beside `<prefix>.rec`), for
/// `packer explain`: the old record itself, moved aside when a new key is recorded, so that
/// its (possibly large) document is never parsed or written again on the way.
pub fn previous_path(record: &Path) -> PathBuf {
    record.with_extension("prev")
}

/// A record's two keys only: what dependants and the pack need, without parsing (and
/// allocating) the whole key document.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct RecordKeys {
    pub strong: String,
    pub weak: String,
}

/// Reads the keys of a record; `None` if it is missing or unreadable.
pub fn read_record_keys(path: &Path) -> Option<RecordKeys> {
    #[derive(serde::Deserialize)]
    struct KeyOnly {
        key: RecordKeys,
    }
    serde_json::from_slice::<KeyOnly>(&crate::fsutil::read_regular(path).ok()?).ok().map(|o| o.key)
}

/// Reads a record; a missing or unreadable one is `None` (the step then rebuilds).
pub fn read_record(path: &Path) -> Option<Record> {
    serde_json::from_slice(&crate::fsutil::read_regular(path).ok()?).ok()
}
