//! `packer step blob`: `BLOB/raw_v1`, the source file's bytes unchanged (SPEC §3).

use super::{AssetStepOptions, Converted};
use crate::decl::AssetType;
use crate::diag::{fail, Code, Diagnostic};
use crate::keys::{self, Keyed};
use std::path::Path;

pub const STEP: &str = "blob";
/// Changes whenever this step's output bytes could change.
pub const VERSION: &str = "blob-1";

pub fn run(o: &AssetStepOptions) -> anyhow::Result<()> {
    super::run_asset_step(o, own_key, |_, sources| match sources.as_slice() {
        [(_, bytes)] => Ok(Converted {
            decoded_size: bytes.len() as u64,
            payload: bytes.clone(),
            metadata: serde_json::json!({}),
        }),
        _ => fail(Diagnostic::error(
            Code::PK015,
            "a blob takes exactly one source",
            "list exactly one file in inputs.source",
        )),
    })
}

/// The key of a blob computed from its declaration, for a step run by hand.
fn own_key(root: &Path) -> anyhow::Result<Keyed> {
    let decl = super::read_declaration(root)?;
    if decl.ty != AssetType::Blob {
        return fail(
            Diagnostic::error(
                Code::PK020,
                format!("asset is a `{}`, not a blob", decl.ty.name()),
                "run `packer step` for its own kind",
            )
            .file(root.display())
            .asset(&decl.name),
        );
    }
    let sources = super::hash_inputs(root, &decl)?;
    Ok(keys::asset_doc(STEP, VERSION, &decl, sources, &[]).keyed())
}
