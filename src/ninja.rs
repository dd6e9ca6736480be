//! The emit stage: a plan of edges → the text of build.ninja. Pure: returns a `String`; gen
//! does the writing. The text depends on the graph's structure only, never on file contents,
//! so that it changes only when assets, inputs or options change.

use crate::escape;

/// One asset action edge.
pub struct AssetEdge {
    pub kind: &'static str,
    pub desc: String,
    pub key_file: String,
    pub prefix: String,
    pub root: String,
    /// Outputs of the assets this one depends on.
    pub dep_outputs: Vec<String>,
    /// The source files the step reads (order-only).
    pub sources: Vec<String>,
}

impl AssetEdge {
    pub fn outputs(&self) -> [String; 2] {
        [format!("{}.bin", self.prefix), format!("{}.json", self.prefix)]
    }
}

/// Everything build.ninja says, as project-relative paths (unescaped).
pub struct Plan {
    pub packer: String,
    /// The artifact cache directory passed to every step, if any.
    pub cache: Option<String>,
    /// Non-strict: dependency artifacts are order-only inputs of asset edges.
    pub non_strict: bool,
    pub gen_args: Vec<String>,
    pub build_dir: String,
    pub obj_dir: String,
    pub ninja_file: String,
    pub pack_key: String,
    pub assets: Vec<AssetEdge>,
    /// Inputs of the generator edge besides the key files it outputs.
    pub gen_inputs: Vec<String>,
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

fn paths<'a>(out: &mut String, list: impl IntoIterator<Item = &'a String>) -> Result<(), Unrepresentable> {
    for p in list {
        out.push(' ');
        out.push_str(&esc(p)?);
    }
    Ok(())
}

/// Renders build.ninja.
pub fn render(plan: &Plan) -> Result<String, Unrepresentable> {
    let gen_args: Vec<String> = plan.gen_args.iter().map(|a| cmd(a)).collect::<Result<_, _>>()?;
    let mut out = include_str!("../templates/rules.ninja")
        .replace("@BUILDDIR@", &esc(&plan.build_dir)?)
        .replace("@PACKER@", &cmd(&plan.packer)?)
        .replace("@GEN_ARGS@", &gen_args.join(" "))
        .replace(
            "@CACHE@",
            &match &plan.cache {
                Some(c) => format!(" --cache={}", cmd(c)?),
                None => String::new(),
            },
        );
    out.reserve(plan.assets.len() * 200);
    let mut key_files = Vec::with_capacity(plan.assets.len() + 1);
    let mut pack_bins = Vec::new();
    let mut pack_metas = Vec::new();
    for a in &plan.assets {
        let [bin, json] = a.outputs();
        out.push_str("\nbuild");
        paths(&mut out, [&bin, &json])?;
        out.push_str(": packer_asset ");
        out.push_str(&esc(&a.key_file)?);
        // Strict: a dependency's new artifact triggers the dependant (implicit inputs).
        // Non-strict: only ordering (order-only); the dependant's weak-key gate decides.
        if !a.dep_outputs.is_empty() && !plan.non_strict {
            out.push_str(" |");
            paths(&mut out, &a.dep_outputs)?;
        }
        if !a.sources.is_empty() || (plan.non_strict && !a.dep_outputs.is_empty()) {
            out.push_str(" ||");
            if plan.non_strict {
                paths(&mut out, &a.dep_outputs)?;
            }
            paths(&mut out, &a.sources)?;
        }
        out.push_str(&format!(
            "\n  kind = {}\n  root = {}\n  prefix = {}\n  desc = {}\n",
            a.kind,
            cmd(&a.root)?,
            cmd(&a.prefix)?,
            esc(&a.desc)?
        ));
        key_files.push(a.key_file.clone());
        pack_bins.push(bin);
        pack_metas.push(json);
    }
    key_files.push(plan.pack_key.clone());

    let pack_outputs: Vec<String> = ["assets.pa", "asset_table.json", "preload.json", "asset_table_metadata.json"]
        .iter()
        .map(|f| format!("{}/{f}", plan.build_dir))
        .collect();
    let rsp = format!("{}/pack.rsp", plan.build_dir);
    out.push_str("\nbuild");
    paths(&mut out, &pack_outputs)?;
    out.push_str(": packer_pack ");
    out.push_str(&esc(&plan.pack_key)?);
    paths(&mut out, &pack_bins)?;
    if !pack_metas.is_empty() {
        out.push_str(" |");
        paths(&mut out, &pack_metas)?;
    }
    out.push_str(&format!(
        "\n  key = {}\n  rsp = {}\n  rsp_arg = {}\n  obj = {}\n  outdir = {}\n  count = {}\n",
        cmd(&plan.pack_key)?,
        esc(&rsp)?,
        cmd(&rsp)?,
        cmd(&plan.obj_dir)?,
        cmd(&plan.build_dir)?,
        plan.assets.len()
    ));

    out.push_str("\nbuild ");
    out.push_str(&esc(&plan.ninja_file)?);
    out.push_str(" |");
    paths(&mut out, &key_files)?;
    out.push_str(": packer_gen");
    paths(&mut out, &plan.gen_inputs)?;
    out.push('\n');
    // A generator input that disappears (a moved root, a deleted source) must make Ninja
    // re-run gen, not stop with "missing and no known rule to make it": an input-less phony
    // edge is out of date exactly when its file is missing (CMake does the same).
    for p in &plan.gen_inputs {
        out.push_str("build ");
        out.push_str(&esc(p)?);
        out.push_str(": phony\n");
    }

    out.push_str("\nbuild assets: phony ");
    out.push_str(&esc(&pack_outputs[0])?);
    out.push_str("\ndefault ");
    out.push_str(&esc(&pack_outputs[0])?);
    out.push('\n');
    Ok(out)
}
