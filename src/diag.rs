//! Diagnostics: a stable `PKnnn` code, a severity, whether it blocks, the asset and file it
//! concerns, a one-line message and a suggested fix. The codes are a contract, listed in
//! `doc/diagnostics.md`; never renumber one.

use serde::Serialize;
use std::fmt;

/// Declares [`Code`] with every variant listed once: [`Code::ALL`] and [`Code::as_str`] come
/// from the same list, so neither can miss a code.
macro_rules! codes {
    ($($(#[doc = $doc:literal])+ $name:ident,)+) => {
        /// Every diagnostic code packer can emit.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
        pub enum Code {
            $($(#[doc = $doc])+ $name,)+
        }

        impl Code {
            /// Every code, in numeric order (doc/diagnostics.md lists the same).
            pub const ALL: &'static [Code] = &[$(Code::$name,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$name => stringify!($name),)+
                }
            }
        }
    };
}

codes! {
    /// The registry is missing or unreadable.
    PK001,
    /// A registered asset root has no `asset.json`.
    PK002,
    /// An `asset.json` is not valid JSON or violates the declaration schema.
    PK003,
    /// An `asset.json` has a field packer does not know (warning).
    PK004,
    /// A declared input file does not exist.
    PK005,
    /// Two registry entries share an `asset_id`.
    PK006,
    /// Two assets share an `asset_uuid`, or registry and `asset.json` disagree on it.
    PK007,
    /// Two registered assets share a `name`.
    PK008,
    /// Two registry entries share a root.
    PK009,
    /// Unknown asset `type`.
    PK010,
    /// Unsupported `output.format` for the type.
    PK011,
    /// Unsupported `output.codec`.
    PK012,
    /// An input path escapes its asset root.
    PK013,
    /// The asset graph has a cycle.
    PK014,
    /// The inputs do not fit the type (wrong roles or counts).
    PK015,
    /// A path cannot be written into build.ninja (newline or control character).
    PK016,
    /// An `@asset:` reference names no registered asset.
    PK017,
    /// An `asset.json` exists that the registry does not list (advisory).
    PK018,
    /// A file cannot be read or written (an I/O error).
    PK019,
    /// A command was given an asset or directory it cannot use.
    PK020,
    /// A step's key file or record is unreadable.
    PK021,
    /// No Ninja could be found.
    PK022,
    /// `packer verify` found outputs that differ from a clean build.
    PK023,
    /// An `output.metadata` parameter is out of range.
    PK024,
    /// A reference names an asset of the wrong type.
    PK025,
    /// A discovered dependency (external tileset) is missing or outside the asset root.
    PK026,
    /// An input pattern is malformed or matches no file.
    PK027,
    /// The command line is not valid (exit code 2).
    PK028,
    /// build.ninja changed while Ninja ran it through `subninja`: run ninja again.
    PK029,
    /// PNG: corrupt, truncated or unsupported.
    PK030,
    /// PNG: a palette index of 16 or more.
    PK031,
    /// PNG: a colour that is not in the palette.
    PK032,
    /// PNG: size is not a multiple of the tile size.
    PK033,
    /// Tile bank over capacity.
    PK034,
    /// Palette file invalid, or too many palettes.
    PK035,
    /// WAV: corrupt or truncated.
    PK036,
    /// WAV: unsupported sample format or channel count.
    PK037,
    /// WAV: sample rate differs from the target and resampling is off.
    PK038,
    /// Tiled: syntax error.
    PK039,
    /// Tiled: unsupported feature (orientation, infinite map, compression).
    PK040,
    /// Tiled: layer data invalid.
    PK041,
    /// Tiled: external tileset unreadable or invalid.
    PK042,
    /// Tiled: a cell cannot be mapped to the tile bank.
    PK043,
    /// PNG: a truecolour image in a bank that has no palette file.
    PK044,
    /// The build (Ninja) failed: the messages before it say why.
    PK045,
    /// An artifact a step reads was missing, unrecorded or damaged: rebuilt in this build (warning).
    PK046,
    /// An input or a payload is over its asset's size limit.
    PK047,
    /// An internal error: a bug in packer.
    PK099,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the workspace.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub blocking: bool,
    pub asset: Option<String>,
    pub file: Option<String>,
    pub message: String,
    pub fix: String,
}

impl Diagnostic {
    /// A blocking error.
    pub fn error(code: Code, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            blocking: true,
            asset: None,
            file: None,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// A non-blocking warning.
    pub fn warning(code: Code, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, blocking: false, ..Diagnostic::error(code, message, fix) }
    }

    pub fn asset(mut self, asset: impl Into<String>) -> Self {
        self.asset = Some(asset.into());
        self
    }

    pub fn file(mut self, file: impl fmt::Display) -> Self {
        self.file = Some(file.to_string());
        self
    }
}

/// Whether stderr should get colour: a terminal, `NO_COLOR` unset or empty, `TERM` not dumb.
pub fn stderr_color() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

impl Diagnostic {
    /// `file: error[PKnnn]: message (asset …)` then the fix, the form editors and CI
    /// recognise; the severity in colour when `color`.
    pub fn render(&self, color: bool) -> String {
        let (sev, paint) = match self.severity {
            Severity::Error => ("error", "\x1b[1;31m"),
            Severity::Warning => ("warning", "\x1b[1;33m"),
        };
        let mut out = String::new();
        if let Some(file) = &self.file {
            out.push_str(&format!("{file}: "));
        }
        let label = format!("{sev}[{}]", self.code.as_str());
        if color {
            out.push_str(&format!("{paint}{label}\x1b[0m: {}", self.message));
        } else {
            out.push_str(&format!("{label}: {}", self.message));
        }
        if let Some(asset) = &self.asset {
            out.push_str(&format!(" (asset `{asset}`)"));
        }
        if !self.fix.is_empty() {
            out.push_str(&format!("\n  fix: {}", self.fix));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// The diagnostics of one run, in the order found.
#[derive(Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn blocking(&self) -> bool {
        self.0.iter().any(|d| d.blocking)
    }

    /// Prints every diagnostic to stderr.
    pub fn print(&self) {
        let color = stderr_color();
        for d in &self.0 {
            eprintln!("{}", d.render(color));
        }
    }
}

/// An error that carries diagnostics to the top, where they are printed once and mapped to
/// exit code 1.
#[derive(Debug)]
pub struct Blocked(pub Vec<Diagnostic>);

impl Blocked {
    /// All diagnostics, one after the other, coloured when `color`.
    pub fn render(&self, color: bool) -> String {
        self.0.iter().map(|d| d.render(color)).collect::<Vec<_>>().join("\n")
    }
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Blocked {}

impl From<Diagnostic> for Blocked {
    fn from(d: Diagnostic) -> Self {
        Blocked(vec![d])
    }
}

/// The diagnostics an error reaching the top carries, each naming a path: a [`Blocked`]'s
/// own (those without a file get `dir`, the workspace), else one made from the error chain —
/// PK019 for an I/O error, PK099 (a bug) for anything else.
pub fn diagnostics_of(e: &anyhow::Error, dir: &str) -> Vec<Diagnostic> {
    let mut diags = match e.downcast_ref::<Blocked>() {
        Some(b) => b.0.clone(),
        None if e.chain().any(|c| c.is::<std::io::Error>()) => vec![Diagnostic::error(
            Code::PK019,
            format!("{e:#}"),
            "check that the path exists and that you may read and write it (and that the disk is not full)",
        )],
        None => vec![Diagnostic::error(
            Code::PK099,
            format!("{e:#}"),
            "this is a bug in packer: please report it with the command you ran and this message",
        )],
    };
    for d in diags.iter_mut().filter(|d| d.file.is_none()) {
        d.file = Some(dir.to_string());
    }
    diags
}

/// Shorthand: fail with one blocking diagnostic.
pub fn fail<T>(d: Diagnostic) -> anyhow::Result<T> {
    Err(Blocked(vec![d]).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes listed in doc/diagnostics.md's table, in order.
    fn documented() -> Vec<String> {
        let doc = include_str!("../doc/diagnostics.md");
        doc.lines().filter_map(|l| l.strip_prefix("| PK")).map(|rest| format!("PK{}", &rest[..3])).collect()
    }

    #[test]
    fn every_code_is_documented_and_every_documented_code_exists() {
        let ours: Vec<String> = Code::ALL.iter().map(|c| c.as_str().to_string()).collect();
        assert_eq!(documented(), ours, "doc/diagnostics.md lists exactly the codes of `Code`, in order");
        let mut sorted = ours.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ours, "codes are unique and in numeric order");
    }

    #[test]
    fn a_diagnostic_renders_in_the_one_form() {
        let d =
            Diagnostic::error(Code::PK005, "input file does not exist", "create it").file("assets/a/x.bin").asset("a");
        assert_eq!(
            d.render(false),
            "assets/a/x.bin: error[PK005]: input file does not exist (asset `a`)\n  fix: create it"
        );
    }
}
