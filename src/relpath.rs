//! `RelPath`: the one type for a workspace-relative, `/`-separated, normalized path.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A relative path with `/` separators, no `.`/`..` components, no leading `/`, valid UTF-8.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

/// Why a string is not a [`RelPath`].
#[derive(Debug, PartialEq, Eq)]
pub enum RelPathError {
    Empty,
    Absolute,
    Escapes,
}

impl fmt::Display for RelPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RelPathError::Empty => "the path is empty",
            RelPathError::Absolute => "the path is absolute",
            RelPathError::Escapes => "the path leaves its directory through `..`",
        })
    }
}

impl RelPath {
    /// Parses and normalizes `s` (`a/./b//c` → `a/b/c`). `..` is refused even when it would
    /// stay inside, so that a path never names its directory's parent.
    pub fn parse(s: &str) -> Result<RelPath, RelPathError> {
        if s.starts_with('/') || s.starts_with('\\') || Path::new(s).is_absolute() {
            return Err(RelPathError::Absolute);
        }
        let mut parts = Vec::new();
        for part in s.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(RelPathError::Escapes),
                p => parts.push(p),
            }
        }
        if parts.is_empty() {
            return Err(RelPathError::Empty);
        }
        Ok(RelPath(parts.join("/")))
    }

    /// Makes a RelPath from a relative filesystem path (e.g. the result of `strip_prefix`).
    pub fn from_path(p: &Path) -> Option<RelPath> {
        let mut parts = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(s) => parts.push(s.to_str()?),
                Component::CurDir => {}
                _ => return None,
            }
        }
        (!parts.is_empty()).then(|| RelPath(parts.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self/child`.
    pub fn join(&self, child: &RelPath) -> RelPath {
        RelPath(format!("{}/{}", self.0, child.0))
    }

    /// The path on disk below `base`.
    pub fn under(&self, base: &Path) -> PathBuf {
        base.join(&self.0)
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for RelPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RelPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RelPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_refuses_escapes() {
        assert_eq!(RelPath::parse("a/./b//c").unwrap().as_str(), "a/b/c");
        assert_eq!(RelPath::parse("../x"), Err(RelPathError::Escapes));
        assert_eq!(RelPath::parse("a/../b"), Err(RelPathError::Escapes));
        assert_eq!(RelPath::parse("/etc/passwd"), Err(RelPathError::Absolute));
        assert_eq!(RelPath::parse("./"), Err(RelPathError::Empty));
        assert_eq!(RelPath::parse("-x y:z$").unwrap().file_name(), "-x y:z$");
    }
}
