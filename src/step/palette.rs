//! `packer step palette`: a `palette` → `PALETTE/rgb565_v1` (SPEC §3): its one palette file's
//! 1 to 16 colours as RGB565, 32 bytes (`formats/palette.rs` has the bytes).

use super::{AssetStepOptions, Converted, Ctx, Outcome};
use crate::decl::AssetType;
use crate::diag::{Blocked, Code, Diagnostic};
use crate::formats::palette::{self, Syntax};
use serde_json::json;

pub fn run(o: &AssetStepOptions) -> anyhow::Result<Outcome> {
    let (step, version) = AssetType::PALETTE.step();
    super::run_asset_step(o, |o| super::own_key(o, AssetType::PALETTE, step, version), convert)
}

fn convert(ctx: &Ctx) -> anyhow::Result<Converted> {
    let Some(name) = ctx.source_names().next().map(String::from) else {
        anyhow::bail!("the palette's key lists no source");
    };
    let bad = |message: String, fix: &str| -> anyhow::Error {
        Blocked::from(Diagnostic::error(Code::PK035, message, fix).file(ctx.root.join(&name).display())).into()
    };
    let Some(syntax) = Syntax::of_path(&name) else {
        return Err(bad(format!("`{name}` is not a palette file"), "use a .json, .hex, .gpl or .pal file"));
    };
    let colours = palette::parse(syntax, ctx.source(&name)?).map_err(|e| {
        bad(format!("bad palette: {e}"), "export the palette again (Lospec, GIMP, Aseprite) with at most 16 colours")
    })?;
    let payload = palette::encode(&colours).to_vec();
    Ok(Converted {
        decoded_size: payload.len() as u64,
        payload,
        metadata: json!({"color_count": colours.len()}),
        publish: None,
    })
}
