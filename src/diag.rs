//! Diagnostics: a stable `PKnnn` code, a severity, whether it blocks, the asset and file it
//! concerns, a one-line message and a suggested fix. The codes are a contract, listed in
//! `doc/diagnostics.md`; never renumber one.

use serde::Serialize;
use std::fmt;

/// Every diagnostic code packer can emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Code {
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
    /// A file cannot be read.
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
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::PK001 => "PK001",
            Code::PK002 => "PK002",
            Code::PK003 => "PK003",
            Code::PK004 => "PK004",
            Code::PK005 => "PK005",
            Code::PK006 => "PK006",
            Code::PK007 => "PK007",
            Code::PK008 => "PK008",
            Code::PK009 => "PK009",
            Code::PK010 => "PK010",
            Code::PK011 => "PK011",
            Code::PK012 => "PK012",
            Code::PK013 => "PK013",
            Code::PK014 => "PK014",
            Code::PK015 => "PK015",
            Code::PK016 => "PK016",
            Code::PK017 => "PK017",
            Code::PK018 => "PK018",
            Code::PK019 => "PK019",
            Code::PK020 => "PK020",
            Code::PK021 => "PK021",
            Code::PK022 => "PK022",
            Code::PK023 => "PK023",
            Code::PK024 => "PK024",
            Code::PK025 => "PK025",
            Code::PK026 => "PK026",
            Code::PK030 => "PK030",
            Code::PK031 => "PK031",
            Code::PK032 => "PK032",
            Code::PK033 => "PK033",
            Code::PK034 => "PK034",
            Code::PK035 => "PK035",
            Code::PK036 => "PK036",
            Code::PK037 => "PK037",
            Code::PK038 => "PK038",
            Code::PK039 => "PK039",
            Code::PK040 => "PK040",
            Code::PK041 => "PK041",
            Code::PK042 => "PK042",
            Code::PK043 => "PK043",
        }
    }
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

/// Shorthand: fail with one blocking diagnostic.
pub fn fail<T>(d: Diagnostic) -> anyhow::Result<T> {
    Err(Blocked(vec![d]).into())
}
