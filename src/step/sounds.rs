//! `packer step sounds`: a `sound_bank` → `SOUNDS/pcm16le_v1` (SPEC §3.2). Each WAV is
//! converted to mono i16 at the target rate as its own cached per-input entry, in parallel;
//! then the samples are concatenated in input order.

use super::{AssetStepOptions, Converted, Ctx, Outcome};
use crate::decl::AssetType;
use crate::diag::{Blocked, Code, Diagnostic};
use crate::formats::sounds::{self, Mono, Resample, SoundError};
use serde_json::{json, Map, Value};

pub const STEP: &str = AssetType::SOUND_BANK.step().0;
/// Changes whenever the payload's bytes could change.
pub const VERSION: &str = AssetType::SOUND_BANK.step().1;
/// Changes whenever one WAV's converted samples could change.
pub const CONVERT_VERSION: &str = "sounds.convert-1";

pub fn run(o: &AssetStepOptions) -> anyhow::Result<Outcome> {
    super::run_asset_step(o, |o| super::own_key(o, AssetType::SOUND_BANK, STEP, VERSION), convert)
}

fn convert(ctx: &Ctx) -> anyhow::Result<Converted> {
    let params = &ctx.key.doc.step_key;
    let rate = ctx.param("sample_rate")?.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
    let resample = if ctx.param("resample")? == "linear" { Resample::Linear } else { Resample::None };
    let inputs: Vec<String> = params["inputs"]["samples"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let budget = Budget::new(ctx, crate::decl::Limits::of_step_key(params).payload);
    let converted = crate::par::parallel_map(&inputs, |name| convert_one(ctx, name, rate, resample, &budget))?;
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

fn convert_one(ctx: &Ctx, name: &str, rate: u32, resample: Resample, budget: &Budget) -> anyhow::Result<Mono> {
    let mode = if resample == Resample::Linear { "linear" } else { "none" };
    let doc = ctx.input_doc("sounds.convert", CONVERT_VERSION, name, json!({"sample_rate": rate, "resample": mode}))?;
    let converted = std::cell::Cell::new(false);
    let encoded = ctx.per_input(name, doc, || {
        let bytes = ctx.source(name)?;
        let frames = sounds::planned_frames(bytes, rate, resample).map_err(|e| diagnose(ctx, name, &e))?;
        budget.take(name, frames.saturating_mul(2))?;
        converted.set(true);
        let mono = sounds::convert_wav(bytes, rate, resample).map_err(|e| diagnose(ctx, name, &e))?;
        Ok(mono.samples.iter().flat_map(|s| s.to_le_bytes()).collect())
    })?;
    if encoded.len() % 2 != 0 {
        anyhow::bail!("cached conversion of {name} is malformed");
    }
    if !converted.get() {
        budget.take(name, encoded.len() as u64)?;
    }
    Ok(Mono { samples: encoded.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect() })
}

/// The payload bytes a bank may still take: each input takes its share before it is decoded
/// (from its header) or once found converted, so that the conversions running at once never
/// allocate more than the bank's limit, whatever their headers claim and whatever the order.
struct Budget<'a> {
    ctx: &'a Ctx<'a>,
    limit: u64,
    taken: std::sync::atomic::AtomicU64,
}

impl<'a> Budget<'a> {
    fn new(ctx: &'a Ctx<'a>, limit: u64) -> Budget<'a> {
        Budget { ctx, limit, taken: std::sync::atomic::AtomicU64::new(0) }
    }

    fn take(&self, name: &str, bytes: u64) -> anyhow::Result<()> {
        let before = self.taken.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        let total = before.saturating_add(bytes);
        if total <= self.limit {
            return Ok(());
        }
        let what = format!(
            "with {name} ({bytes} bytes once converted) the bank's samples come to at least {total} bytes, more than its limit of {}",
            self.limit
        );
        Err(Blocked::from(crate::step::asset::too_large(&self.ctx.root.join(name), &what, Some(AssetType::SOUND_BANK)))
            .into())
    }
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
