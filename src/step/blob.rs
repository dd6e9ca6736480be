//! `packer step blob`: `BLOB/raw_v1`, the source's bytes unchanged (SPEC §3). The source is
//! one file, or `@asset:<name>`: then the payload is that asset's payload (an alias).

use super::{AssetStepOptions, Converted, Outcome};
use crate::decl::AssetType;
use crate::diag::{fail, Code, Diagnostic};
use crate::keys::{self, KeyFile, Mode};
use std::path::Path;

pub const STEP: &str = "blob";
/// Changes whenever this step's output bytes could change.
pub const VERSION: &str = "blob-1";

pub fn run(o: &AssetStepOptions) -> anyhow::Result<Outcome> {
    super::run_asset_step(o, own_key, |ctx| {
        let bytes = match (ctx.sources.as_slice(), ctx.key.doc.dependencies_weak.as_slice()) {
            ([(_, bytes)], []) => bytes.clone(),
            ([], [dep]) => read_dependency_payload(ctx.obj_dir, dep)?,
            _ => {
                return fail(Diagnostic::error(
                    Code::PK015,
                    "a blob takes exactly one source",
                    "list exactly one file (or one @asset: reference) in inputs.source",
                ))
            }
        };
        Ok(Converted {
            decoded_size: bytes.len() as u64,
            payload: bytes,
            metadata: serde_json::json!({}),
            publish: None,
        })
    })
}

fn read_dependency_payload(obj_dir: &Path, dep: &str) -> anyhow::Result<Vec<u8>> {
    let id = dep.strip_prefix("asset/").unwrap_or(dep);
    let path = super::with_ext(&obj_dir.join(id), "bin");
    std::fs::read(&path).or_else(|e| {
        fail(
            Diagnostic::error(
                Code::PK021,
                format!("cannot read the referenced payload: {e}"),
                "build the referenced asset first (`ninja` does)",
            )
            .file(path.display()),
        )
    })
}

/// The key of a blob computed from its declaration, for a step run by hand.
fn own_key(o: &AssetStepOptions) -> anyhow::Result<KeyFile> {
    let decl = super::read_declaration(&o.root)?;
    if decl.ty != AssetType::Blob {
        return fail(
            Diagnostic::error(
                Code::PK020,
                format!("asset is a `{}`, not a blob", decl.ty.name()),
                "run `packer step` for its own kind",
            )
            .file(o.root.display())
            .asset(&decl.name),
        );
    }
    let sources = super::hash_inputs(&o.root, &decl)?;
    let deps = super::resolve_refs(&o.project, &decl)?;
    let keyed = keys::asset_doc(STEP, VERSION, &decl, sources, &deps).keyed();
    Ok(KeyFile::new(Mode::resolve(false, false), &keyed))
}
