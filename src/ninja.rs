//! The emit stage: a plan of edges → the text of build.ninja. Pure: returns a `String`; gen
//! does the writing. The text depends on the graph's structure only, never on file contents,
//! so that it changes only when assets, inputs or options change.
//!
//! Paths in `build` lines are relative to Ninja's working directory: the project directory,
//! or, with a prefix, the parent build's directory (`subninja`). Commands run packer with
//! `-C <prefix>`, so every path inside a command is relative to the project directory.

use crate::escape;
use crate::types::AssetType;
use std::collections::HashSet;

/// One asset action edge.
pub struct AssetEdge {
    pub kind: &'static str,
    pub id: u64,
    /// The asset's name: a phony target of that name builds it.
    pub name: String,
    pub desc: String,
    /// Root, relative to the project directory.
    pub root: String,
    /// Ids of the assets this one depends on.
    pub deps: Vec<u64>,
    /// The source files the step reads (order-only), relative to the project directory.
    pub sources: Vec<String>,
}

/// Everything build.ninja says. Paths are relative to the project directory, unescaped.
pub struct Manifest {
    pub packer: String,
    /// The project directory as seen from Ninja's working directory, for `subninja`.
    pub prefix: Option<String>,
    /// The artifact cache directory passed to every step, if any.
    pub cache: Option<String>,
    /// Non-strict: dependency artifacts are order-only inputs of asset edges.
    pub non_strict: bool,
    pub gen_args: Vec<String>,
    pub build_dir: String,
    pub ninja_file: String,
    pub assets: Vec<AssetEdge>,
    /// Inputs of the generator edge, which outputs build.ninja: what decides the graph.
    pub structure: Vec<String>,
    /// The key edges; the first also outputs the pack's key file.
    pub shards: Vec<KeyShard>,
}

/// One key edge: the key files of some assets (whole dependency components: a dependant's
/// key holds its dependency's), from what only feeds their keys.
pub struct KeyShard {
    pub assets: Vec<u64>,
    /// The sources, and the roots whose listing shows a source replaced by an older file.
    pub content: Vec<String>,
}

impl Manifest {
    /// Every file whose change re-runs gen.
    pub fn inputs(&self) -> impl Iterator<Item = &String> {
        self.structure.iter().chain(self.shards.iter().flat_map(|s| &s.content))
    }
}

/// A path that cannot be written (a control character), with the character.
#[derive(Debug)]
pub struct Unrepresentable(pub String, pub char);

fn esc(p: &str) -> Result<String, Unrepresentable> {
    escape::ninja(p).map_err(|c| Unrepresentable(p.to_string(), c))
}

/// Shell-quotes, then Ninja-escapes: for values that end up inside a command.
fn cmd(p: &str) -> Result<String, Unrepresentable> {
    esc(&escape::shell(p))
}

/// The text of build.ninja, built up edge by edge.
struct Writer<'a> {
    plan: &'a Manifest,
    out: String,
}

impl Writer<'_> {
    /// A project-relative path as Ninja sees it (absolute paths stay as they are).
    fn at(&self, p: &str) -> String {
        match &self.plan.prefix {
            Some(pre) if !p.starts_with('/') => format!("{pre}/{p}"),
            _ => p.to_string(),
        }
    }

    fn build_path(&self, rel: &str) -> String {
        self.at(&format!("{}/{rel}", self.plan.build_dir))
    }

    /// Appends ` path path …`, each placed and escaped.
    fn paths<'p>(&mut self, list: impl IntoIterator<Item = &'p String>) -> Result<(), Unrepresentable> {
        for p in list {
            let placed = self.at(p);
            self.out.push(' ');
            self.out.push_str(&esc(&placed)?);
        }
        Ok(())
    }

    fn artifact(&self, id: u64, ext: &str) -> String {
        format!("{}/obj/{id}.{ext}", self.plan.build_dir)
    }

    fn asset_edge(&mut self, a: &AssetEdge) -> Result<(), Unrepresentable> {
        let outs = [self.artifact(a.id, "bin"), self.artifact(a.id, "json")];
        let deps: Vec<String> =
            a.deps.iter().flat_map(|&d| [self.artifact(d, "bin"), self.artifact(d, "json")]).collect();
        self.out.push_str("\nbuild");
        self.paths(&outs)?;
        self.out.push_str(": packer_");
        self.out.push_str(a.kind);
        self.paths(&[format!("{}/keys/{}.key", self.plan.build_dir, a.id)])?;
        // Strict: a dependency's new artifact triggers the dependant (implicit inputs).
        // Non-strict: only ordering (order-only); the dependant's weak-key gate decides.
        if !deps.is_empty() && !self.plan.non_strict {
            self.out.push_str(" |");
            self.paths(&deps)?;
        }
        let order_only: Vec<&String> =
            if self.plan.non_strict { deps.iter().chain(&a.sources).collect() } else { a.sources.iter().collect() };
        if !order_only.is_empty() {
            self.out.push_str(" ||");
            self.paths(order_only)?;
        }
        self.out.push_str(&format!(
            "\n  id = {}\n  root = {}\n  desc = {}\n",
            a.id,
            cmd(&a.root)?,
            escape::value(&a.desc).map_err(|c| Unrepresentable(a.desc.clone(), c))?
        ));
        Ok(())
    }

    fn pack_edge(&mut self) -> Result<Vec<String>, Unrepresentable> {
        let b = &self.plan.build_dir;
        let outs: Vec<String> = crate::layout::PACK_OUTPUTS.iter().map(|(_, f)| format!("{b}/{f}")).collect();
        let bins: Vec<String> = self.plan.assets.iter().map(|a| self.artifact(a.id, "bin")).collect();
        let metas: Vec<String> = self.plan.assets.iter().map(|a| self.artifact(a.id, "json")).collect();
        self.out.push_str("\nbuild");
        self.paths(&outs)?;
        self.out.push_str(": packer_pack");
        self.paths(&[format!("{b}/keys/pack.key")])?;
        // Each key edge's stamp reaches the pack through a phony alias, `keys-<k>.ready`,
        // listed before the artifacts (the pack reads only the `.bin` lines of its response
        // file). When a key edge has run, Ninja finishes, one by one, the asset edges whose
        // key files it left unchanged, and after each asks whether the pack's inputs are all
        // ready, scanning them up to the first that is not: with the artifacts first, that
        // was the edited asset's, thousands of inputs in (FinishCommand 50 ms for asset 1
        // and 90 ms for asset 9000 at 10,000 assets). The alias of the edge that ran is
        // not ready until Ninja has finished that edge, so each scan stops at it. The stamps
        // themselves stay implicit inputs: Ninja 1.11 records a restat edge's output mtime as
        // that of its newest input file, and an alias is no file.
        let shards = self.plan.shards.len() as u32;
        let ready: Vec<String> = (0..shards).map(|k| format!("{b}/{}", crate::layout::key_ready(k))).collect();
        let stamps: Vec<String> = (0..shards).map(|k| format!("{b}/{}", crate::layout::key_stamp(k))).collect();
        self.paths(&ready)?;
        self.paths(&bins)?;
        self.out.push_str(" |");
        self.paths(&metas)?;
        self.paths(&stamps)?;
        let rsp = esc(&self.build_path("pack.rsp"))?;
        self.out.push_str(&format!("\n  rsp = {rsp}\n  count = {}\n", self.plan.assets.len()));
        for (alias, stamp) in ready.iter().zip(&stamps) {
            self.out.push_str("build");
            self.paths([alias])?;
            self.out.push_str(": phony");
            self.paths([stamp])?;
            self.out.push('\n');
        }
        Ok(outs)
    }

    /// The generator edge (structure → build.ninja) and the key edges (content → key files):
    /// all run gen, but only a change of the structure makes Ninja reload the manifest and
    /// stat the graph again; an edit runs the key edge of its assets like any other edge, and
    /// the restat that follows looks at that edge's key files only. Under `subninja` the key
    /// edges list the structure too: there the generator edge is an ordinary edge, followed
    /// by no new stat of the graph, so Ninja would not see the key files its gen wrote; the
    /// key edges, run after a structure change as well, are the ones whose restat tells
    /// Ninja which key files changed.
    fn gen_edges(&mut self) -> Result<(), Unrepresentable> {
        let b = &self.plan.build_dir;
        for (k, shard) in self.plan.shards.iter().enumerate() {
            let mut outs: Vec<String> = shard.assets.iter().map(|id| format!("{b}/keys/{id}.key")).collect();
            if k == 0 {
                outs.push(format!("{b}/keys/pack.key"));
            }
            outs.push(format!("{b}/{}", crate::layout::key_stamp(k as u32)));
            self.out.push_str("\nbuild");
            self.paths(&outs)?;
            self.out.push_str(": packer_keys");
            if self.plan.prefix.is_some() {
                self.paths(&self.plan.structure)?;
            }
            self.paths(&shard.content)?;
            self.out.push_str(&format!("\n  shard = {k}"));
        }
        self.out.push_str("\nbuild");
        self.paths(std::slice::from_ref(&self.plan.ninja_file))?;
        self.out.push_str(": packer_gen");
        self.paths(&self.plan.structure)?;
        self.out.push('\n');
        // A gen input that disappears (a moved root, a deleted source) must make Ninja
        // re-run gen, not stop with "missing and no known rule to make it": an input-less
        // phony edge is out of date exactly when its file is missing (CMake does the same).
        for p in self.plan.inputs() {
            self.out.push_str("build");
            self.paths([p])?;
            self.out.push_str(": phony\n");
        }
        Ok(())
    }

    /// `assets`, one target per asset name (skipping a name that is already a path of the
    /// graph), and the default.
    fn phonies(&mut self, pack_outs: &[String]) -> Result<(), Unrepresentable> {
        let pa = pack_outs[0].clone();
        let mut taken: HashSet<String> = self.plan.inputs().map(|p| self.at(p)).collect();
        taken.insert(self.at(&self.plan.ninja_file));
        taken.extend(pack_outs.iter().map(|p| self.at(p)));
        taken.insert(self.at("assets"));
        self.out.push_str("\nbuild");
        self.paths(&["assets".to_string()])?;
        self.out.push_str(": phony");
        self.paths([&pa])?;
        self.out.push('\n');
        for a in &self.plan.assets {
            if a.name.contains('/') || !taken.insert(self.at(&a.name)) {
                continue;
            }
            self.out.push_str("build");
            self.paths([&a.name])?;
            self.out.push_str(": phony");
            self.paths(&[self.artifact(a.id, "bin"), self.artifact(a.id, "json")])?;
            self.out.push('\n');
        }
        self.out.push_str("default");
        self.paths([&pa])?;
        self.out.push('\n');
        Ok(())
    }
}

/// Renders build.ninja.
pub fn render(plan: &Manifest) -> Result<String, Unrepresentable> {
    let gen_args: Vec<String> = plan.gen_args.iter().map(|a| cmd(a)).collect::<Result<_, _>>()?;
    let mut packer = cmd(&plan.packer)?;
    if let Some(p) = &plan.prefix {
        packer.push_str(" -C ");
        packer.push_str(&cmd(p)?);
    }
    // builddir (where .ninja_log goes) belongs to the top-level file: not set under a prefix.
    let builddir = match &plan.prefix {
        None => format!("builddir = {}\n", esc(&plan.build_dir)?),
        Some(_) => String::new(),
    };
    // One rule per asset step, from the type table: `packer_<step>`, described by the type's
    // bank type (`TILES hero (12 inputs)`).
    let asset_rules: String = AssetType::ALL
        .iter()
        .map(|t| {
            let step = t.step().0;
            format!(
                "rule packer_{step}\n  command = $packer_cmd step {step} --id=$id --root=$root --build-dir=$packer_build$packer_cache\n  description = {} $desc\n  restat = 1\n\n",
                t.bank_type()
            )
        })
        .collect();
    let text = include_str!("../templates/rules.ninja")
        .replace("@ASSET_RULES@", &asset_rules)
        .replace("@BUILDDIR@", &builddir)
        .replace("@PACKER@", &packer)
        .replace("@BUILD@", &cmd(&plan.build_dir)?)
        .replace("@GEN_ARGS@", &gen_args.join(" "))
        .replace(
            "@CACHE@",
            &match &plan.cache {
                Some(c) => format!("$ --cache={}", cmd(c)?),
                None => String::new(),
            },
        );
    let mut w = Writer { plan, out: text };
    w.out.reserve(plan.assets.len() * 160);
    for a in &plan.assets {
        w.asset_edge(a)?;
    }
    let pack_outs = w.pack_edge()?;
    w.gen_edges()?;
    w.phonies(&pack_outs)?;
    Ok(w.out)
}
