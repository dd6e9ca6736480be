//! `packer step sounds`: a `sound_bank` → `SOUNDS/pcm16le_v1` (SPEC §3.2). Each WAV is
//! converted to mono i16 at the target rate as its own cached per-input entry, in parallel;
//! then the samples are concatenated in input order.

use super::{AssetStepOptions, Converted, Ctx, Outcome};
use crate::decl::AssetType;
use crate::diag::{Blocked, Code, Diagnostic};
use crate::formats::sounds::{self, Mono, Resample, SoundError};
use serde_json::{json, Map, Value};

pub const STEP: &str = "sounds";
/// Changes whenever the payload's bytes could change.
pub const VERSION: &str = "sounds-1";
/// Changes whenever one WAV's converted samples could change.
pub const CONVERT_VERSION: &str = "sounds.convert-1";

pub fn run(o: &AssetStepOptions) -> anyhow::Result<Outcome> {
    super::run_asset_step(o, |o| super::own_key(o, AssetType::SoundBank, STEP, VERSION), convert)
}

fn convert(ctx: &Ctx) -> anyhow::Result<Converted> {
    let params = &ctx.key.doc.step_key;
    let rate = params["metadata"]["sample_rate"].as_u64().unwrap_or(22050) as u32;
    let resample = if params["metadata"]["resample"] == "linear" { Resample::Linear } else { Resample::None };
    let inputs: Vec<String> = params["inputs"]["samples"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let converted = crate::step::parallel_map(&inputs, |name| convert_one(ctx, name, rate, resample))?;
    let named: Vec<(&str, &Mono)> = inputs.iter().map(String::as_str).zip(converted.iter()).collect();
    let (payload, table) = sounds::assemble(&named);
    let samples: Map<String, Value> = table
        .into_iter()
        .enumerate()
        .map(|(i, (name, offset, frames))| (i.to_string(), json!({"name": name, "offset": offset, "frames": frames})))
        .collect();
    Ok(Converted {
        decoded_size: payload.len() as u64,
        payload,
        metadata: json!({"sample_rate": rate, "channels": 1, "samples": samples}),
        publish: None,
    })
}

fn convert_one(ctx: &Ctx, name: &str, rate: u32, resample: Resample) -> anyhow::Result<Mono> {
    let mode = if resample == Resample::Linear { "linear" } else { "none" };
    let doc = ctx.input_doc("sounds.convert", CONVERT_VERSION, name, json!({"sample_rate": rate, "resample": mode}))?;
    let encoded = ctx.per_input(name, doc, || {
        let mono = sounds::convert_wav(ctx.source(name)?, rate, resample).map_err(|e| diagnose(ctx, name, &e))?;
        Ok(mono.samples.iter().flat_map(|s| s.to_le_bytes()).collect())
    })?;
    if encoded.len() % 2 != 0 {
        anyhow::bail!("cached conversion of {name} is malformed");
    }
    Ok(Mono { samples: encoded.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect() })
}

fn diagnose(ctx: &Ctx, name: &str, e: &SoundError) -> anyhow::Error {
    let (code, fix) = match e {
        SoundError::Corrupt { .. } => (Code::PK036, "re-export the WAV; the file is damaged or not a WAV"),
        SoundError::Unsupported { .. } => {
            (Code::PK037, "export mono or stereo PCM (8/16/24/32-bit integer or 32-bit float)")
        }
        SoundError::RateMismatch { .. } => {
            (Code::PK038, "export at the bank's sample_rate, or set output.metadata.resample to \"linear\"")
        }
        SoundError::BadTargetRate { .. } => (Code::PK024, "set output.metadata.sample_rate to 22050, 44100 or 48000"),
    };
    Blocked::from(Diagnostic::error(code, e.to_string(), fix).file(ctx.root.join(name).display())).into()
}
