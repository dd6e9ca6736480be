//! `packer step blob`: `BLOB/raw_v1`, the source's bytes unchanged (SPEC §3). The source is
//! one file, or `@asset:<name>`: then the payload is that asset's payload (an alias).

use super::{AssetStepOptions, Converted, Outcome};
use crate::decl::AssetType;
use crate::diag::{fail, Code, Diagnostic};
use std::path::Path;

pub const STEP: &str = AssetType::BLOB.step().0;
/// Changes whenever this step's output bytes could change.
pub const VERSION: &str = AssetType::BLOB.step().1;

pub fn run(o: &AssetStepOptions) -> anyhow::Result<Outcome> {
    super::run_asset_step(
        o,
        |o| super::own_key(o, AssetType::BLOB, STEP, VERSION),
        |ctx| {
            let names: Vec<&str> = ctx.source_names().collect();
            let bytes = match (names.as_slice(), ctx.key.doc.dependencies_weak.as_slice()) {
                ([name], []) => ctx.source(name)?.to_vec(),
                ([], [dep]) => {
                    let bytes = read_dependency_payload(ctx.obj_dir, dep)?;
                    let limit = crate::decl::Limits::of_step_key(&ctx.key.doc.step_key).payload;
                    if bytes.len() as u64 > limit {
                        let what =
                            format!("the referenced payload is {} bytes, more than the limit of {limit}", bytes.len());
                        return fail(super::asset::too_large(
                            &ctx.root.join(crate::decl::FILE),
                            &what,
                            Some(AssetType::BLOB),
                        ));
                    }
                    bytes
                }
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
        },
    )
}

fn read_dependency_payload(obj_dir: &Path, dep: &str) -> anyhow::Result<Vec<u8>> {
    let id = dep.strip_prefix("asset/").unwrap_or(dep);
    let path = super::with_ext(&obj_dir.join(id), "bin");
    crate::fsutil::read_regular(&path).or_else(|e| {
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
