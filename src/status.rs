//! `packer status` (before a build: what will run and why, from strong keys alone) and
//! `packer explain` (after a build: what changed in an asset's key, field by field, and how
//! its output was obtained). Both compare the key documents gen computes with the records the
//! steps left beside their outputs.

use crate::cache::{self, Cache};
use crate::fingerprint::Fingerprints;
use crate::keys::{self, ActionKey, Change, ChangeKind, KeyDoc, Mode};
use crate::step::{self, How, Outcome};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;

/// Where to look: build directory, cache, mode.
pub struct Options {
    pub build_dir: String,
    pub cache_dir: Option<String>,
    pub mode: Mode,
}

/// One action's verdict.
#[derive(Serialize)]
pub struct ActionStatus {
    pub action: String,
    pub asset_id: Option<u64>,
    pub name: String,
    pub will_run: bool,
    /// What the step will do.
    pub expect: Expect,
    pub reasons: Vec<Reason>,
}

/// What a step will do when Ninja runs it (`up-to-date`, `restore`, … in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    UpToDate,
    Restore,
    RestoreWeak,
    Build,
}

impl Expect {
    /// The verdict as `packer status` prints it.
    fn shown(self) -> &'static str {
        match self {
            Expect::UpToDate => "up to date",
            Expect::Restore => "will restore",
            Expect::RestoreWeak => "will restore (weak)",
            Expect::Build => "will build",
        }
    }
}

/// Why an action will run (or, non-strict, why an up-to-date one is only weakly so).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonKind {
    /// Non-strict: the artifact matches the weak key only.
    Weak,
    FirstBuild,
    /// Outputs missing or damaged under an unchanged key.
    Outputs,
    /// In the cache: restored, not rebuilt.
    Cache,
    CacheWeak,
    Source,
    Parameter,
    Dependency,
    Step,
    Other,
}

impl From<ChangeKind> for ReasonKind {
    fn from(k: ChangeKind) -> ReasonKind {
        match k {
            ChangeKind::Source => ReasonKind::Source,
            ChangeKind::Parameter => ReasonKind::Parameter,
            ChangeKind::Dependency => ReasonKind::Dependency,
            ChangeKind::Step => ReasonKind::Step,
            ChangeKind::Other => ReasonKind::Other,
        }
    }
}

#[derive(Serialize)]
pub struct Reason {
    pub kind: ReasonKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

impl Reason {
    fn plain(kind: ReasonKind, message: impl Into<String>) -> Reason {
        Reason { kind, message: message.into(), change: None }
    }
}

/// Computes the status of every action without building or writing anything.
pub fn status(dir: &Path, o: &Options) -> anyhow::Result<Vec<ActionStatus>> {
    let mut fp = Fingerprints::load(dir);
    let p = crate::plan::plan_keys(dir, &mut fp)?;
    let obj = dir.join(&o.build_dir).join("obj");
    let cache = o.cache_dir.as_ref().map(|c| Cache::new(dir.join(c)));
    let names: Vec<(String, String)> =
        p.ws.assets.iter().map(|a| (keys::action_name(a.id), a.decl.name.clone())).collect();
    let mut out = Vec::new();
    for (a, k) in p.ws.assets.iter().zip(&p.keys) {
        let gate = step::artifact_gate(&obj.join(a.id.to_string()), cache.clone(), o.mode);
        let s = judge(k, &gate, o.mode, &names);
        out.push(ActionStatus {
            action: keys::action_name(a.id),
            asset_id: Some(a.id),
            name: a.decl.name.clone(),
            ..s
        });
    }
    let gate = step::pack::gate(&obj, &dir.join(&o.build_dir), cache.clone());
    let s = judge(&p.pack.to_json()?, &gate, Mode::Strict, &names);
    out.push(ActionStatus { action: "pack".into(), asset_id: None, name: "assets.pa".into(), ..s });
    Ok(out)
}

/// The verdict for one action: up to date by the step's own rule ([`step::Gate::up_to_date`],
/// outputs checked by stat and digest), else what the step will do and why.
fn judge(k: &ActionKey, gate: &step::Gate, mode: Mode, names: &[(String, String)]) -> ActionStatus {
    let cache = gate.cache.as_ref();
    // The pack's entry is an assembled one (design.md, "The pack in the cache").
    let in_cache = cache.is_some_and(|c| c.has(cache::Kind::Ac, &k.strong) || c.has(cache::Kind::Asm, &k.strong));
    let weak_in_cache = mode == Mode::NonStrict && cache.is_some_and(|c| c.has(cache::Kind::AcWeak, &k.weak));
    let rec = step::read_record(&gate.record);
    let verdict = gate.up_to_date(k);
    let mut reasons = Vec::new();
    let expect = match verdict {
        Some(Outcome::UpToDate) => Expect::UpToDate,
        Some(_) => {
            reasons.push(Reason::plain(
                ReasonKind::Weak,
                "non-strict: the artifact in use matches the weak key but was built against other dependency versions",
            ));
            Expect::UpToDate
        }
        None => {
            match &rec {
                None => {
                    reasons.push(Reason::plain(ReasonKind::FirstBuild, "first build: no record of a previous build"))
                }
                Some(r) if r.key.strong == k.strong => {
                    reasons.push(Reason::plain(ReasonKind::Outputs, "outputs are missing or damaged"))
                }
                Some(r) => reasons.extend(keys::diff(&r.key.doc, &k.doc).into_iter().map(|c| reason(c, names))),
            }
            if in_cache {
                reasons.push(Reason::plain(ReasonKind::Cache, "available in the cache: will be restored, not rebuilt"));
                Expect::Restore
            } else if weak_in_cache {
                reasons.push(Reason::plain(
                    ReasonKind::CacheWeak,
                    "non-strict: an artifact with the same weak key is in the cache",
                ));
                Expect::RestoreWeak
            } else {
                Expect::Build
            }
        }
    };
    ActionStatus {
        action: String::new(),
        asset_id: None,
        name: String::new(),
        will_run: expect != Expect::UpToDate,
        expect,
        reasons,
    }
}

fn reason(c: Change, names: &[(String, String)]) -> Reason {
    let message = match c.kind() {
        ChangeKind::Source => {
            let name = c.field.trim_start_matches("sources[").trim_end_matches(']');
            match (&c.old, &c.new) {
                (None, _) => format!("source {name} added"),
                (_, None) => format!("source {name} removed"),
                _ => format!("source {name} changed"),
            }
        }
        ChangeKind::Parameter => format!("parameter {} changed", c.field.trim_start_matches("step-key.")),
        ChangeKind::Dependency => {
            let action = c.field.trim_start_matches("dependencies-strong[").trim_end_matches(']');
            let name = names.iter().find(|(a, _)| a == action).map(|(_, n)| n.as_str()).unwrap_or(action);
            format!("dependency {name} changed")
        }
        ChangeKind::Step => format!("step upgraded ({c})"),
        ChangeKind::Other => c.to_string(),
    };
    Reason { kind: c.kind().into(), message, change: Some(c) }
}

/// `packer explain <asset>`: the explanation of the asset a query names (id, name or
/// directory), or of the pack (`pack`).
pub fn explain_query(dir: &Path, build_dir: &str, asset: &str) -> anyhow::Result<Explanation> {
    let obj = dir.join(build_dir).join("obj");
    if asset == "pack" {
        return explain(&obj, "pack", "assets.pa", &obj.join("pack.rec"));
    }
    let (id, name) = crate::commands::resolve_asset(dir, asset)?;
    explain(&obj, &keys::action_name(id), &name, &step::with_ext(&obj.join(id.to_string()), "rec"))
}

/// Prints the status as text or JSON.
pub fn print_status(list: &[ActionStatus], mode: Mode, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let v = json!({"schema_version": 1, "mode": mode, "actions": list});
        crate::out::outln!("{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let running = list.iter().filter(|s| s.will_run).count();
    crate::out::outln!("{running} of {} actions will run", list.len())?;
    for s in list {
        let id = s.asset_id.map(|i| format!(" (asset {i})")).unwrap_or_default();
        let verdict = s.expect.shown();
        if s.will_run || !s.reasons.is_empty() {
            crate::out::outln!("{verdict:<20} {}{id}", s.name)?;
            for r in &s.reasons {
                crate::out::outln!("    {}", r.message)?;
            }
        }
    }
    Ok(())
}

/// What `packer explain` reports for one action.
#[derive(Serialize)]
pub struct Explanation {
    pub action: String,
    pub name: String,
    /// How the current outputs were obtained: built, restored, restored-weak.
    pub how: Option<How>,
    /// The outcome of the last run of the step, from the step log.
    pub last_run: Option<Outcome>,
    pub strong: String,
    pub weak: String,
    pub changes: Vec<Change>,
    pub key: KeyDoc,
}

/// Explains the last build of an action from its record and the step log.
pub fn explain(obj_dir: &Path, action: &str, name: &str, record: &Path) -> anyhow::Result<Explanation> {
    let Some(rec) = step::read_record(record) else {
        return crate::diag::fail(
            crate::diag::Diagnostic::error(
                crate::diag::Code::PK021,
                "no build record: this action has not been built yet",
                "run `ninja` (or `packer build`) first",
            )
            .file(record.display())
            .asset(name),
        );
    };
    let previous = step::read_record(&step::previous_path(record));
    let changes = previous.map(|p| keys::diff(&p.key.doc, &rec.key.doc)).unwrap_or_default();
    Ok(Explanation {
        action: action.into(),
        name: name.into(),
        how: rec.how,
        last_run: last_outcome(obj_dir, action),
        strong: rec.key.strong.clone(),
        weak: rec.key.weak.clone(),
        changes,
        key: rec.key.doc,
    })
}

fn last_outcome(obj_dir: &Path, action: &str) -> Option<Outcome> {
    let text = String::from_utf8(crate::fsutil::read_regular(&step::log_path(obj_dir)).ok()?).ok()?;
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["action"] == action)
        .and_then(|v| serde_json::from_value(v["outcome"].clone()).ok())
}

pub fn print_explanation(e: &Explanation, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        crate::out::outln!("{}", serde_json::to_string_pretty(e)?)?;
        return Ok(());
    }
    crate::out::outln!("{} ({})", e.name, e.action)?;
    let how = match e.how {
        Some(How::Built) => "rebuilt (conversion ran)",
        Some(How::Restored) => "restored from the cache (strong key)",
        Some(How::RestoredWeak) => {
            "restored from the cache by weak key (non-strict: built against other dependency versions)"
        }
        None => "unknown",
    };
    crate::out::outln!("  output: {how}")?;
    if let Some(o) = e.last_run {
        let text = match o {
            Outcome::UpToDate => "up to date",
            Outcome::UpToDateWeak => "up to date (non-strict, weak key)",
            Outcome::Restored => "restored from the cache",
            Outcome::RestoredWeak => "restored by weak key",
            Outcome::Built => "rebuilt",
        };
        crate::out::outln!("  last run of the step: {text}")?;
    }
    crate::out::outln!("  strong key: {}\n  weak key:   {}", e.strong, e.weak)?;
    if e.changes.is_empty() {
        crate::out::outln!("  no key field changed since the previous build (or this is the first)")?;
    } else {
        crate::out::outln!("  changed since the previous build:")?;
        for c in &e.changes {
            crate::out::outln!("    {c}")?;
        }
    }
    Ok(())
}
