//! `RelPath`: the one type for a workspace-relative, `/`-separated, normalized path, and
//! [`lexical`], the one lexical normalizer for paths that may climb (a Tiled map's
//! `../bank/a.png`).

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

/// A `/`-separated relative path resolved lexically: `.` and empty components dropped, an inner
/// `..` cancelling the component before it; `up` counts the `..` that climb above the start.
#[derive(Debug, PartialEq, Eq)]
pub struct Lexical<'a> {
    pub up: usize,
    pub parts: Vec<&'a str>,
}

/// Resolves `p` lexically (no filesystem access: a symlink is not followed, which is why
/// every open is also checked beneath its root, `fsutil::read_beneath`).
pub fn lexical(p: &str) -> Lexical<'_> {
    let mut out = Lexical { up: 0, parts: Vec::new() };
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.parts.pop().is_none() {
                    out.up += 1;
                }
            }
            c => out.parts.push(c),
        }
    }
    out
}

impl Lexical<'_> {
    /// The path when it stays inside its start (`a/../b` → `b`), `None` when it climbs.
    pub fn inside(&self) -> Option<String> {
        (self.up == 0).then(|| self.parts.join("/"))
    }
}

impl fmt::Display for Lexical<'_> {
    /// `../../a/b`: the climbs, then the parts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let climbs = std::iter::repeat_n("..", self.up);
        for (i, c) in climbs.chain(self.parts.iter().copied()).enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(c)?;
        }
        Ok(())
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

    #[test]
    fn lexical_resolution_keeps_the_climbs() {
        assert_eq!(lexical("a/./b//../c").to_string(), "a/c");
        assert_eq!(lexical("../x/../y").to_string(), "../y");
        assert_eq!(lexical("tiles/../../bank/p.png").to_string(), "../bank/p.png");
        assert_eq!(lexical("a/..").to_string(), "");
        assert_eq!(lexical("a/../b").inside().as_deref(), Some("b"));
        assert_eq!(lexical("a/../../b").inside(), None);
        assert_eq!(lexical("..").parts, Vec::<&str>::new());
    }
}
