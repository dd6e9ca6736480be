//! SOUNDS/pcm16le_v1: decodes WAV inputs to mono signed 16-bit samples at a target rate and packs them.
//!
//! # Inputs
//!
//! WAV files read with `hound` 3.5: integer PCM with 8, 16, 24 or 32 bits per
//! sample, or 32-bit IEEE float, mono or stereo, each sample stored in exactly
//! `bits / 8` bytes. Anything else is [`SoundError::Unsupported`]: more than two
//! channels, other bit depths (12, 20, 64-bit float, ...), compressed formats
//! (ADPCM, A-law, ...), and samples in wider containers (24-bit in 4 bytes). Ill-formed or
//! truncated files are [`SoundError::Corrupt`]. The target rate must be 22050,
//! 44100 or 48000 Hz, else [`SoundError::BadTargetRate`].
//!
//! # Conversion to mono i16 (bit-exact)
//!
//! Each channel value is first converted to `i16`:
//! - 8-bit (stored unsigned `u`): `(u as i16 - 128) << 8`, so 0 → -32768, 128 → 0, 255 → 32512;
//! - 16-bit: unchanged;
//! - 24-bit `s`: `s >> 8` (arithmetic shift, i.e. floor division by 256);
//! - 32-bit integer `s`: `s >> 16` (floor division by 65536);
//! - 32-bit float `f`: NaN → 0; otherwise `(f.clamp(-1.0, 1.0) * 32767.0).round() as i16`,
//!   all in `f32`; `round` goes half away from zero, so 0.5 → 16384 and -1.0 → -32767.
//!
//! Stereo frames are mixed as `((l as i32 + r as i32) >> 1) as i16`: the mean,
//! rounded toward negative infinity (-3 and 0 → -2; 3 and 0 → 1).
//!
//! # Sample rate
//!
//! A file whose rate differs from the target is [`SoundError::RateMismatch`]
//! under [`Resample::None`]. Under [`Resample::Linear`] it goes through
//! [`resample_linear`], integer arithmetic only:
//! - `n_out = floor(n_in * to / from)` (computed exactly, in `u128`); `n_in = 0`,
//!   `from = 0` or `to = 0` gives an empty output;
//! - for output `i` in `0..n_out`: `pos = i * from`, `idx = pos / to`, `frac = pos % to`,
//!   `s0 = in[idx]`, `s1 = in[min(idx + 1, n_in - 1)]`,
//!   `out[i] = s0 + floor((s1 - s0) * frac / to)` in `i64` (`div_euclid`).
//!
//! `idx < n_in` always holds, and the result lies between `s0` and `s1`, so it is an `i16`.
//! With `from == to` the output equals the input. `convert_wav` refuses (as
//! `Unsupported`) a resampled output of more than 2^27 frames (about 46 minutes at 48 kHz),
//! before allocating it; [`planned_frames`] gives the exact output length from the header
//! alone, so that a bank can hold its inputs to its `max_bytes` before decoding any.
//!
//! # Payload
//!
//! [`assemble`] concatenates the inputs' samples in input order as little-endian
//! `i16` and reports, per input, its byte offset in the payload and its frame count.
//!
//! # What hound accepts (each point is checked by a test)
//!
//! - hound writes `WAVE_FORMAT_PCM` up to 16 bits and `WAVE_FORMAT_EXTENSIBLE` above 16 bits
//!   (and for more than 2 channels); it reads both, and 8-bit `WAVE_FORMAT_EXTENSIBLE` too.
//! - hound yields 8-bit samples already as `u - 128`; the rule above is applied to that.
//! - 32-bit integer PCM with an 18-byte `WAVEFORMATEX` fmt chunk is refused by hound
//!   ("bits per sample is not 8 or 16", though 24 passes): reported as `Unsupported`.
//! - fmt chunk sizes hound does not expect (PCM: other than 16, 18, 40) are `Corrupt`.
//! - hound does not skip the pad byte after an odd-sized chunk before `data`, so such
//!   (valid) files are misread and end as `Corrupt`.
//! - hound reads 24-bit samples in 4-byte containers as the low 3 bytes of each 4, while the
//!   `WAVE_FORMAT_EXTENSIBLE` convention puts the valid bits at the top; being ambiguous,
//!   they are refused. The check compares the data chunk's length (the 4 bytes before the
//!   sample data, where hound stops reading the header) with `values * bits / 8`.
//! - Bytes after the `data` chunk are ignored. A `data` chunk longer than the bytes present is
//!   `Corrupt`: samples are streamed and buffers are never sized from the header's count alone.
//! - Error messages of `Corrupt` and some `Unsupported` are hound's own text.

use std::fmt;
use std::io::Cursor;

/// Target rates the console plays.
const TARGET_RATES: [u32; 3] = [22050, 44100, 48000];

/// Largest resampled output `convert_wav` produces, in frames.
const MAX_OUTPUT_FRAMES: usize = 1 << 27;

/// One input converted to mono i16 at the target rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mono {
    pub samples: Vec<i16>,
}

/// How `convert_wav` treats a file whose rate differs from the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resample {
    /// Different rates are an error.
    None,
    /// Different rates go through [`resample_linear`].
    Linear,
}

/// Why a WAV input cannot be converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SoundError {
    /// Not a WAV, truncated, or ill-formed.
    Corrupt { message: String },
    /// A well-formed WAV this format does not take (channels, bit depth, encoding).
    Unsupported { message: String },
    /// The file's rate differs from the target and resampling is off.
    RateMismatch { found: u32, target: u32 },
    /// The requested target rate is not 22050, 44100 or 48000.
    BadTargetRate { rate: u32 },
}

impl fmt::Display for SoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SoundError::Corrupt { message } => write!(f, "corrupt WAV: {message}"),
            SoundError::Unsupported { message } => write!(f, "unsupported WAV: {message}"),
            SoundError::RateMismatch { found, target } => {
                write!(f, "sample rate {found} Hz differs from target {target} Hz and resampling is off")
            }
            SoundError::BadTargetRate { rate } => {
                write!(f, "target sample rate {rate} Hz is not one of 22050, 44100, 48000")
            }
        }
    }
}

impl std::error::Error for SoundError {}

fn corrupt(message: impl Into<String>) -> SoundError {
    SoundError::Corrupt { message: message.into() }
}

fn unsupported(message: impl Into<String>) -> SoundError {
    SoundError::Unsupported { message: message.into() }
}

/// Decodes a WAV file and converts it to mono i16 at `target_rate`.
///
/// Checks run in this order: the target rate (`BadTargetRate`), the header (`Corrupt`,
/// `Unsupported`), the file's rate (`Corrupt` if 0, `RateMismatch`), the sample data
/// (`Corrupt` if truncated), the resampled length (`Unsupported` above 2^27 frames).
pub fn convert_wav(bytes: &[u8], target_rate: u32, resample: Resample) -> Result<Mono, SoundError> {
    let header = checked_header(bytes, target_rate, resample)?;
    let mono = decode(bytes, &header)?;
    let from = header.spec.sample_rate;
    if from == target_rate {
        return Ok(Mono { samples: mono });
    }
    let n_out = output_len(mono.len(), from, target_rate);
    if n_out > MAX_OUTPUT_FRAMES {
        return Err(unsupported(format!(
            "resampling {from} Hz to {target_rate} Hz would give {n_out} frames, more than {MAX_OUTPUT_FRAMES}"
        )));
    }
    Ok(Mono { samples: resample_linear(&mono, from, target_rate) })
}

/// The number of frames [`convert_wav`] would give for this file, from its header alone (the
/// same checks run first, so a file it refuses is refused here too): what a caller budgets
/// before anything is decoded or allocated. For a file `convert_wav` accepts, the count is
/// exact.
pub fn planned_frames(bytes: &[u8], target_rate: u32, resample: Resample) -> Result<u64, SoundError> {
    let header = checked_header(bytes, target_rate, resample)?;
    // The claim is believed only as far as the bytes go: a longer one is what decoding finds.
    let claimed = header.data_start + u64::from(header.values) * u64::from(header.spec.bits_per_sample / 8);
    if claimed > bytes.len() as u64 {
        return Err(corrupt(format!(
            "the data chunk claims {} bytes of samples; the file ends {} bytes short of them",
            claimed - header.data_start,
            claimed - bytes.len() as u64
        )));
    }
    let frames = (header.values / u32::from(header.spec.channels)) as usize;
    Ok(output_len(frames, header.spec.sample_rate, target_rate) as u64)
}

/// The checks before decoding, in the order [`convert_wav`] documents.
fn checked_header(bytes: &[u8], target_rate: u32, resample: Resample) -> Result<Header, SoundError> {
    if !TARGET_RATES.contains(&target_rate) {
        return Err(SoundError::BadTargetRate { rate: target_rate });
    }
    let header = read_header(bytes)?;
    check_spec(&header.spec)?;
    check_container(bytes, &header)?;
    check_rate(header.spec.sample_rate, target_rate, resample)?;
    Ok(header)
}

/// What the header says, as hound parsed it.
struct Header {
    spec: hound::WavSpec,
    /// Number of sample values (frames times channels) the data chunk claims.
    values: u32,
    /// Offset of the first byte of sample data.
    data_start: u64,
}

fn read_header(bytes: &[u8]) -> Result<Header, SoundError> {
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(from_hound)?;
    let (spec, values) = (reader.spec(), reader.len());
    // hound stops reading right after the data chunk's 8-byte header.
    Ok(Header { spec, values, data_start: reader.into_inner().position() })
}

fn check_spec(spec: &hound::WavSpec) -> Result<(), SoundError> {
    if !(1..=2).contains(&spec.channels) {
        return Err(unsupported(format!("{} channels (only mono and stereo)", spec.channels)));
    }
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 8 | 16 | 24 | 32) | (hound::SampleFormat::Float, 32) => Ok(()),
        (hound::SampleFormat::Int, bits) => {
            Err(unsupported(format!("{bits}-bit integer samples (only 8, 16, 24, 32)")))
        }
        (hound::SampleFormat::Float, bits) => Err(unsupported(format!("{bits}-bit float samples (only 32)"))),
    }
}

fn check_rate(found: u32, target: u32, resample: Resample) -> Result<(), SoundError> {
    if found == 0 {
        return Err(corrupt("sample rate is 0"));
    }
    if found != target && resample == Resample::None {
        return Err(SoundError::RateMismatch { found, target });
    }
    Ok(())
}

/// Refuses samples stored in wider containers than their bit depth (24-bit in 4 bytes):
/// the data chunk's length (the 4 bytes before the data) must be `values * bits / 8`.
fn check_container(bytes: &[u8], header: &Header) -> Result<(), SoundError> {
    let end = usize::try_from(header.data_start).map_err(|_| corrupt("data offset too large"))?;
    let field = end
        .checked_sub(4)
        .and_then(|start| bytes.get(start..end))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .ok_or_else(|| corrupt("data chunk header not found"))?;
    let data_len = u64::from(u32::from_le_bytes(field));
    let bytes_per_value = u64::from(header.spec.bits_per_sample / 8);
    let values = u64::from(header.values);
    if data_len == values * bytes_per_value {
        return Ok(());
    }
    let container = data_len.checked_div(values).unwrap_or(0);
    Err(unsupported(format!("{}-bit samples stored in {container}-byte containers", header.spec.bits_per_sample)))
}

/// Reads every sample value and mixes the frames down to mono.
fn decode(bytes: &[u8], header: &Header) -> Result<Vec<i16>, SoundError> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes)).map_err(from_hound)?;
    let channels = header.spec.channels;
    // Never trust the header's count alone: the bytes bound the real frame count.
    let hint = (header.values / u32::from(channels.max(1))) as usize;
    let mut mixer = Mixer::new(channels == 2, hint.min(bytes.len()));
    let bits = header.spec.bits_per_sample;
    match header.spec.sample_format {
        hound::SampleFormat::Int => {
            feed(&mut reader, &mut mixer, |s: i32| int_to_i16(s, bits))?;
        }
        hound::SampleFormat::Float => feed(&mut reader, &mut mixer, float_to_i16)?,
    }
    Ok(mixer.out)
}

fn feed<S: hound::Sample>(
    reader: &mut hound::WavReader<Cursor<&[u8]>>,
    mixer: &mut Mixer,
    convert: impl Fn(S) -> i16,
) -> Result<(), SoundError> {
    for value in reader.samples::<S>() {
        mixer.push(convert(value.map_err(from_hound)?));
    }
    Ok(())
}

/// Collects channel values into mono frames.
struct Mixer {
    stereo: bool,
    left: Option<i16>,
    out: Vec<i16>,
}

impl Mixer {
    fn new(stereo: bool, capacity: usize) -> Mixer {
        Mixer { stereo, left: None, out: Vec::with_capacity(capacity) }
    }

    fn push(&mut self, value: i16) {
        if !self.stereo {
            self.out.push(value);
        } else if let Some(left) = self.left.take() {
            self.out.push(mix_stereo(left, value));
        } else {
            self.left = Some(value);
        }
    }
}

/// Integer sample (as hound yields it: 8-bit already shifted to `u - 128`) to i16.
fn int_to_i16(value: i32, bits: u16) -> i16 {
    let wide = match bits {
        8 => value << 8,
        16 => value,
        24 => value >> 8,
        _ => value >> 16,
    };
    saturate(i64::from(wide))
}

fn float_to_i16(value: f32) -> i16 {
    if value.is_nan() {
        return 0;
    }
    (value.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

fn mix_stereo(left: i16, right: i16) -> i16 {
    ((i32::from(left) + i32::from(right)) >> 1) as i16
}

fn saturate(value: i64) -> i16 {
    value.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

fn from_hound(err: hound::Error) -> SoundError {
    match err {
        hound::Error::FormatError(msg) if msg.starts_with("bits per sample is not") => unsupported(msg),
        hound::Error::FormatError(msg) => corrupt(msg),
        hound::Error::IoError(e) => corrupt(format!("truncated or unreadable: {e}")),
        hound::Error::Unsupported => unsupported("encoding is not integer PCM or IEEE float"),
        hound::Error::TooWide | hound::Error::InvalidSampleFormat => unsupported(format!("sample layout: {err}")),
        hound::Error::UnfinishedSample => corrupt(err.to_string()),
    }
}

/// Linear resampling, exact integer arithmetic.
///
/// See the module docs for the definition. The output has `floor(n_in * to / from)`
/// samples and is allocated in full: the caller bounds the ratio `to / from`
/// (`convert_wav` refuses outputs above 2^27 frames).
pub fn resample_linear(samples: &[i16], from: u32, to: u32) -> Vec<i16> {
    let n_out = output_len(samples.len(), from, to);
    let mut out = Vec::with_capacity(n_out.min(MAX_OUTPUT_FRAMES));
    let (from, to) = (u64::from(from), u64::from(to));
    // pos = i * from is tracked as idx * to + frac, stepping by from each time.
    let step = usize::try_from(from.checked_div(to).unwrap_or(0)).unwrap_or(usize::MAX);
    let step_frac = from.checked_rem(to).unwrap_or(0);
    let (mut idx, mut frac) = (0usize, 0u64);
    for _ in 0..n_out {
        out.push(interpolate(samples, idx, frac, to));
        idx = idx.saturating_add(step);
        frac += step_frac;
        if frac >= to {
            frac -= to;
            idx = idx.saturating_add(1);
        }
    }
    out
}

/// `floor(n_in * to / from)`, or 0 when either rate is 0.
fn output_len(n_in: usize, from: u32, to: u32) -> usize {
    if from == 0 || to == 0 {
        return 0;
    }
    let n = n_in as u128 * u128::from(to) / u128::from(from);
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// `s0 + floor((s1 - s0) * frac / to)` with `s0 = in[idx]`, `s1 = in[min(idx + 1, n - 1)]`.
fn interpolate(samples: &[i16], idx: usize, frac: u64, to: u64) -> i16 {
    let last = samples.len().saturating_sub(1);
    let s0 = i64::from(samples.get(idx).copied().unwrap_or(0));
    let s1 = samples.get(idx.saturating_add(1).min(last)).map_or(s0, |&s| i64::from(s));
    // frac < to <= u32::MAX and |s1 - s0| <= 65535: the product fits in i64.
    let frac = i64::try_from(frac).unwrap_or(0);
    let to = i64::try_from(to).unwrap_or(1).max(1);
    saturate(s0 + ((s1 - s0) * frac).div_euclid(to))
}

/// Concatenates inputs (name, converted) into the payload and the per-sample table:
/// returns (payload bytes, vec of (name, byte offset, frames)).
pub fn assemble(inputs: &[(&str, &Mono)]) -> (Vec<u8>, Vec<(String, u64, u64)>) {
    let total = inputs.iter().fold(0usize, |acc, (_, mono)| acc.saturating_add(mono.samples.len()));
    let mut payload = Vec::with_capacity(total.saturating_mul(2));
    let mut table = Vec::with_capacity(inputs.len());
    for (name, mono) in inputs {
        table.push((name.to_string(), payload.len() as u64, mono.samples.len() as u64));
        payload.extend(mono.samples.iter().flat_map(|s| s.to_le_bytes()));
    }
    (payload, table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hound::{SampleFormat, WavSpec, WavSpecEx, WavWriter};

    #[test]
    fn planned_frames_is_what_convert_wav_gives_and_trusts_no_claim_past_the_bytes() {
        let values: Vec<i32> = (0..1000).map(|i| i % 200 - 100).collect();
        for (channels, rate, bits, target) in [
            (1, 22050, 16, 22050),
            (2, 44100, 24, 22050),
            (1, 8000, 8, 48000),
            (2, 11025, 32, 44100),
            (1, 100, 16, 48000),
        ] {
            let bytes = wav_int(channels, rate, bits, &values);
            let planned = planned_frames(&bytes, target, Resample::Linear).unwrap();
            let converted = convert_wav(&bytes, target, Resample::Linear).unwrap();
            assert_eq!(planned, converted.samples.len() as u64, "{channels} ch {rate} Hz {bits} bit → {target}");
        }
        let mut bytes = wav_int(1, 22050, 16, &values);
        let at = bytes.windows(4).position(|w| w == b"data").unwrap() + 4;
        bytes[at..at + 4].copy_from_slice(&2002u32.to_le_bytes());
        let e = planned_frames(&bytes, 22050, Resample::None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt WAV: the data chunk claims 2002 bytes of samples; the file ends 2 bytes short of them"
        );
        assert_eq!(
            planned_frames(&wav_int(1, 8000, 16, &values), 22050, Resample::None),
            Err(SoundError::RateMismatch { found: 8000, target: 22050 })
        );
    }

    // ---- WAV builders -------------------------------------------------------------------

    fn spec(channels: u16, rate: u32, bits: u16, format: SampleFormat) -> WavSpec {
        WavSpec { channels, sample_rate: rate, bits_per_sample: bits, sample_format: format }
    }

    /// Writes integer values with hound (8-bit values are signed, i.e. `u - 128`).
    fn wav_int(channels: u16, rate: u32, bits: u16, values: &[i32]) -> Vec<u8> {
        let mut cursor = Cursor::new(Vec::new());
        let mut writer = WavWriter::new(&mut cursor, spec(channels, rate, bits, SampleFormat::Int)).unwrap();
        for &v in values {
            writer.write_sample(v).unwrap();
        }
        writer.finalize().unwrap();
        cursor.into_inner()
    }

    fn wav_float(channels: u16, rate: u32, values: &[f32]) -> Vec<u8> {
        let mut cursor = Cursor::new(Vec::new());
        let mut writer = WavWriter::new(&mut cursor, spec(channels, rate, 32, SampleFormat::Float)).unwrap();
        for &v in values {
            writer.write_sample(v).unwrap();
        }
        writer.finalize().unwrap();
        cursor.into_inner()
    }

    fn wav_i16(channels: u16, rate: u32, values: &[i16]) -> Vec<u8> {
        let wide: Vec<i32> = values.iter().map(|&v| i32::from(v)).collect();
        wav_int(channels, rate, 16, &wide)
    }

    /// 16-byte PCMWAVEFORMAT body; byte rate is made consistent.
    fn fmt_body(tag: u16, channels: u16, rate: u32, bits: u16, block_align: u16) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(tag.to_le_bytes());
        b.extend(channels.to_le_bytes());
        b.extend(rate.to_le_bytes());
        b.extend((rate * u32::from(block_align)).to_le_bytes());
        b.extend(block_align.to_le_bytes());
        b.extend(bits.to_le_bytes());
        b
    }

    /// 40-byte WAVEFORMATEXTENSIBLE body; `sub` is the sub-format code (1 PCM, 3 float).
    fn fmt_ext(channels: u16, rate: u32, container: u16, valid: u16, sub: u16) -> Vec<u8> {
        let mut b = fmt_body(0xfffe, channels, rate, container, channels * container / 8);
        b.extend(22u16.to_le_bytes());
        b.extend(valid.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(sub.to_le_bytes());
        b.extend([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00]);
        b.extend([0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]);
        b
    }

    fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = id.to_vec();
        b.extend((body.len() as u32).to_le_bytes());
        b.extend(body);
        b
    }

    /// RIFF/WAVE around the given chunks.
    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut b = b"RIFF".to_vec();
        b.extend((body.len() as u32 + 4).to_le_bytes());
        b.extend(b"WAVE");
        b.extend(body);
        b
    }

    fn convert(bytes: &[u8], rate: u32) -> Result<Vec<i16>, SoundError> {
        convert_wav(bytes, rate, Resample::None).map(|m| m.samples)
    }

    fn is_unsupported(r: &Result<Vec<i16>, SoundError>) -> bool {
        matches!(r, Err(SoundError::Unsupported { .. }))
    }

    fn is_corrupt(r: &Result<Vec<i16>, SoundError>) -> bool {
        matches!(r, Err(SoundError::Corrupt { .. }))
    }

    // ---- 1. golden conversions -----------------------------------------------------------

    #[test]
    fn eight_bit_mono_and_stereo() {
        // Stored bytes u = 0, 1, 127, 128, 129, 255; hound's writer takes u - 128.
        let mono = wav_int(1, 22050, 8, &[-128, -127, -1, 0, 1, 127]);
        assert_eq!(mono[mono.len() - 6..], [0, 1, 127, 128, 129, 255]);
        assert_eq!(convert(&mono, 22050).unwrap(), [-32768, -32512, -256, 0, 256, 32512]);
        // (u=0, u=255), (u=127, u=128), (u=1, u=128), (u=255, u=255)
        let stereo = wav_int(2, 22050, 8, &[-128, 127, -1, 0, -127, 0, 127, 127]);
        assert_eq!(convert(&stereo, 22050).unwrap(), [-128, -128, -16256, 32512]);
    }

    #[test]
    fn sixteen_bit_mono_and_stereo() {
        let mono = wav_i16(1, 44100, &[-32768, -1, 0, 1, 32767]);
        assert_eq!(convert(&mono, 44100).unwrap(), [-32768, -1, 0, 1, 32767]);
        let frames = [-3, 0, 3, 0, -1, 0, 1, 0, 32767, -32768, -32768, -32768, 32767, 32767];
        let stereo = wav_i16(2, 44100, &frames);
        assert_eq!(convert(&stereo, 44100).unwrap(), [-2, 1, -1, 0, -1, -32768, 32767]);
    }

    #[test]
    fn twenty_four_bit_mono_and_stereo() {
        let mono = wav_int(1, 48000, 24, &[-8_388_608, -257, -256, -1, 0, 255, 256, 8_388_607]);
        assert_eq!(convert(&mono, 48000).unwrap(), [-32768, -2, -1, -1, 0, 0, 1, 32767]);
        // i16 values (-3, 0), (3, 0), (-1, 0), (0, 0)
        let stereo = wav_int(2, 48000, 24, &[-768, 0, 768, 255, -1, 255, 255, 0]);
        assert_eq!(convert(&stereo, 48000).unwrap(), [-2, 1, -1, 0]);
    }

    #[test]
    fn thirty_two_bit_int_mono_and_stereo() {
        let values = [i32::MIN, -65537, -65536, -1, 0, 65535, 65536, i32::MAX];
        let mono = wav_int(1, 22050, 32, &values);
        assert_eq!(convert(&mono, 22050).unwrap(), [-32768, -2, -1, -1, 0, 0, 1, 32767]);
        // i16 values (-3, 0), (3, 0), (MIN, MAX)
        let stereo = wav_int(2, 22050, 32, &[-196_608, 65535, 196_608, 0, i32::MIN, i32::MAX]);
        assert_eq!(convert(&stereo, 22050).unwrap(), [-2, 1, -1]);
    }

    #[test]
    fn float_mono_and_stereo() {
        let values = [
            0.5,
            -0.5,
            1.5,
            -1.5,
            1.0,
            -1.0,
            0.0,
            -0.0,
            0.25,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1.0 / 32767.0,
            0.4 / 32767.0,
        ];
        let mono = wav_float(1, 44100, &values);
        let expected = [16384, -16384, 32767, -32767, 32767, -32767, 0, 0, 8192, 0, 32767, -32767, 1, 0];
        assert_eq!(convert(&mono, 44100).unwrap(), expected);
        // (0.5, -0.5), (-0.5, 0), (-1, 0), (1, 0), (1, 1), (NaN, -1)
        let stereo = wav_float(2, 44100, &[0.5, -0.5, -0.5, 0.0, -1.0, 0.0, 1.0, 0.0, 1.0, 1.0, f32::NAN, -1.0]);
        assert_eq!(convert(&stereo, 44100).unwrap(), [0, -8192, -16384, 16383, 32767, -16384]);
    }

    #[test]
    fn hound_writes_extensible_headers_for_wide_samples() {
        // Format tag at byte 20: PCM (1) up to 16 bits, EXTENSIBLE (0xfffe) above.
        let tag = |b: &[u8]| u16::from_le_bytes([b[20], b[21]]);
        assert_eq!(tag(&wav_int(1, 22050, 8, &[0])), 1);
        assert_eq!(tag(&wav_int(1, 22050, 16, &[0])), 1);
        assert_eq!(tag(&wav_int(1, 22050, 24, &[0])), 0xfffe);
        assert_eq!(tag(&wav_int(1, 22050, 32, &[0])), 0xfffe);
        assert_eq!(tag(&wav_float(1, 22050, &[0.0])), 0xfffe);
    }

    #[test]
    fn hand_made_headers_decode_like_hound_written_ones() {
        let fmt16 = chunk(b"fmt ", &fmt_body(1, 2, 22050, 16, 4));
        let data = chunk(b"data", &[0xfd, 0xff, 0, 0, 3, 0, 0, 0]);
        assert_eq!(convert(&riff(&[fmt16, data]), 22050).unwrap(), [-2, 1]);
        let float = chunk(b"fmt ", &fmt_body(3, 1, 22050, 32, 4));
        let data = chunk(b"data", &0.5f32.to_le_bytes());
        assert_eq!(convert(&riff(&[float, data]), 22050).unwrap(), [16384]);
        // 8-bit with WAVE_FORMAT_EXTENSIBLE: accepted by hound.
        let ext8 = chunk(b"fmt ", &fmt_ext(1, 22050, 8, 8, 1));
        let data = chunk(b"data", &[0, 128, 255]);
        assert_eq!(convert(&riff(&[ext8, data]), 22050).unwrap(), [-32768, 0, 32512]);
        // 16-bit with an 18-byte WAVEFORMATEX fmt chunk and a LIST chunk before data.
        let mut ex = fmt_body(1, 1, 22050, 16, 2);
        ex.extend(0u16.to_le_bytes());
        let list = chunk(b"LIST", b"INFOabcd");
        let data = chunk(b"data", &[0x34, 0x12]);
        let trailing = chunk(b"junk", &[9; 6]);
        let bytes = riff(&[chunk(b"fmt ", &ex), list, data, trailing]);
        assert_eq!(convert(&bytes, 22050).unwrap(), [0x1234]);
    }

    #[test]
    fn empty_data_chunk_gives_empty_output() {
        let bytes = riff(&[chunk(b"fmt ", &fmt_body(1, 1, 22050, 16, 2)), chunk(b"data", &[])]);
        assert_eq!(convert(&bytes, 22050).unwrap(), Vec::<i16>::new());
        assert_eq!(convert_wav(&bytes, 44100, Resample::Linear).unwrap().samples, Vec::<i16>::new());
    }

    // ---- 2. resampler -----------------------------------------------------------------------

    /// The definition from the module docs, written with plain divisions.
    fn reference(input: &[i16], from: u32, to: u32) -> Vec<i16> {
        if input.is_empty() || from == 0 || to == 0 {
            return Vec::new();
        }
        let n_out = input.len() as u64 * u64::from(to) / u64::from(from);
        (0..n_out)
            .map(|i| {
                let pos = i * u64::from(from);
                let (idx, frac) = ((pos / u64::from(to)) as usize, (pos % u64::from(to)) as i64);
                let s0 = i64::from(input[idx]);
                let s1 = i64::from(input[(idx + 1).min(input.len() - 1)]);
                (s0 + ((s1 - s0) * frac).div_euclid(i64::from(to))) as i16
            })
            .collect()
    }

    #[test]
    fn resample_hand_computed_cases() {
        assert_eq!(resample_linear(&[0, 100], 22050, 44100), [0, 50, 100, 100]);
        // n_out = floor(3 * 22050 / 48000) = 1
        assert_eq!(resample_linear(&[0, 1000, -1000], 48000, 22050), [0]);
        // n_out = 2; i = 1: pos 48000, idx 2, frac 3900: -1000 + floor(1007 * 3900 / 22050) = -822
        assert_eq!(resample_linear(&[0, 1000, -1000, 7, 9], 48000, 22050), [0, -822]);
        // i = 1: floor(100 * 44100 / 48000) = 91; i = 2: idx 1, frac 40200: 100 + 83
        assert_eq!(resample_linear(&[0, 100, 200], 44100, 48000), [0, 91, 183]);
        assert_eq!(resample_linear(&[10, 20, 30, 40, 50], 44100, 22050), [10, 30]);
        // Floor, not truncation toward zero: -1/3 and -2/3 give -1.
        assert_eq!(resample_linear(&[0, -1], 1, 3), [0, -1, -1, -1, -1, -1]);
        assert_eq!(resample_linear(&[0, 3], 1, 3), [0, 1, 2, 3, 3, 3]);
        assert_eq!(resample_linear(&[-32768, 32767], 1, 2), [-32768, -1, 32767, 32767]);
    }

    #[test]
    fn resample_length_rules() {
        assert_eq!(resample_linear(&[], 22050, 48000), Vec::<i16>::new());
        assert_eq!(resample_linear(&[7], 22050, 48000), [7, 7]);
        assert_eq!(resample_linear(&[7], 48000, 22050), Vec::<i16>::new());
        assert_eq!(resample_linear(&[1, 2, 3], 0, 22050), Vec::<i16>::new());
        assert_eq!(resample_linear(&[1, 2, 3], 22050, 0), Vec::<i16>::new());
        let input = vec![5i16; 44100];
        assert_eq!(resample_linear(&input, 44100, 48000).len(), 48000);
        assert_eq!(resample_linear(&input, 44100, 22050).len(), 22050);
        assert_eq!(resample_linear(&input[..1001], 44100, 22050).len(), 500);
    }

    #[test]
    fn resample_identity_when_rates_equal() {
        let input: Vec<i16> = (0..1000).map(|i| ((i * 7919) % 65536 - 32768) as i16).collect();
        for rate in [1, 22050, 44100, 48000, u32::MAX] {
            assert_eq!(resample_linear(&input, rate, rate), input);
        }
    }

    #[test]
    fn resample_matches_reference_definition() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let rates = [1, 2, 3, 7, 8000, 11025, 22050, 44100, 48000, 96000, 192_000, u32::MAX];
        let mut checked = 0;
        while checked < 500 {
            let len = (rng.next() % 64) as usize;
            let input: Vec<i16> = (0..len).map(|_| rng.next() as i16).collect();
            let from = rates[(rng.next() % rates.len() as u64) as usize];
            let to = rates[(rng.next() % rates.len() as u64) as usize];
            if u64::from(to) > 64 * u64::from(from) {
                continue;
            }
            checked += 1;
            assert_eq!(resample_linear(&input, from, to), reference(&input, from, to));
        }
    }

    #[test]
    fn convert_with_linear_resampling() {
        let bytes = wav_i16(1, 22050, &[0, 100]);
        let out = convert_wav(&bytes, 44100, Resample::Linear).unwrap();
        assert_eq!(out.samples, [0, 50, 100, 100]);
        // Stereo is mixed first, then resampled: frames (-3, 0) -> -2, (3, 0) -> 1.
        let bytes = wav_i16(2, 44100, &[-3, 0, 3, 0]);
        let out = convert_wav(&bytes, 48000, Resample::Linear).unwrap();
        assert_eq!(out.samples, resample_linear(&[-2, 1], 44100, 48000));
        // Same rate with Linear: untouched.
        let bytes = wav_i16(1, 48000, &[1, -1, 5]);
        assert_eq!(convert_wav(&bytes, 48000, Resample::Linear).unwrap().samples, [1, -1, 5]);
    }

    #[test]
    fn absurd_upsampling_is_refused_before_allocating() {
        // 3000 frames at 1 Hz would become 144,000,000 frames at 48 kHz (> 2^27).
        let bytes = wav_i16(1, 1, &[0; 3000]);
        let r = convert_wav(&bytes, 48000, Resample::Linear).map(|m| m.samples);
        assert!(is_unsupported(&r), "{r:?}");
        // 2 frames at 1 Hz are fine: 96,000 frames.
        let bytes = wav_i16(1, 1, &[0; 2]);
        assert_eq!(convert_wav(&bytes, 48000, Resample::Linear).unwrap().samples.len(), 96000);
    }

    // ---- 3. rates ---------------------------------------------------------------------------

    #[test]
    fn rate_mismatch_without_resampling() {
        let bytes = wav_i16(1, 44100, &[1, 2]);
        assert_eq!(
            convert_wav(&bytes, 48000, Resample::None),
            Err(SoundError::RateMismatch { found: 44100, target: 48000 })
        );
    }

    #[test]
    fn bad_target_rate() {
        let bytes = wav_i16(1, 8000, &[1, 2]);
        for rate in [0, 8000, 22051, 96000] {
            for mode in [Resample::None, Resample::Linear] {
                assert_eq!(convert_wav(&bytes, rate, mode), Err(SoundError::BadTargetRate { rate }));
            }
        }
        // Checked before the bytes are looked at.
        assert_eq!(convert_wav(b"junk", 8000, Resample::None), Err(SoundError::BadTargetRate { rate: 8000 }));
    }

    #[test]
    fn zero_sample_rate_is_corrupt() {
        let bytes = riff(&[chunk(b"fmt ", &fmt_body(1, 1, 0, 16, 2)), chunk(b"data", &[1, 0])]);
        for mode in [Resample::None, Resample::Linear] {
            assert!(matches!(convert_wav(&bytes, 22050, mode), Err(SoundError::Corrupt { .. })));
        }
    }

    // ---- 4. assemble ------------------------------------------------------------------------

    #[test]
    fn assemble_offsets_and_bytes() {
        let a = Mono { samples: vec![1, -2, 0x1234] };
        let b = Mono { samples: vec![-32768, 32767] };
        let (payload, table) = assemble(&[("a", &a), ("b", &b)]);
        assert_eq!(payload, [0x01, 0x00, 0xfe, 0xff, 0x34, 0x12, 0x00, 0x80, 0xff, 0x7f]);
        assert_eq!(table, [("a".to_string(), 0, 3), ("b".to_string(), 6, 2)]);
    }

    #[test]
    fn assemble_empty_inputs() {
        let empty = Mono { samples: vec![] };
        let one = Mono { samples: vec![-1] };
        let (payload, table) = assemble(&[("e", &empty), ("one", &one), ("e2", &empty)]);
        assert_eq!(payload, [0xff, 0xff]);
        let expected = [("e".to_string(), 0, 0), ("one".to_string(), 0, 1), ("e2".to_string(), 2, 0)];
        assert_eq!(table, expected);
        assert_eq!(assemble(&[]), (vec![], vec![]));
    }

    // ---- 5. unsupported, corrupt, robustness -------------------------------------------------

    #[test]
    fn three_channels_is_unsupported() {
        let r = convert(&wav_int(3, 22050, 16, &[1, 2, 3]), 22050);
        assert!(is_unsupported(&r), "{r:?}");
        let fmt = chunk(b"fmt ", &fmt_body(1, 3, 22050, 16, 6));
        let r = convert(&riff(&[fmt, chunk(b"data", &[0; 6])]), 22050);
        assert!(is_unsupported(&r), "{r:?}");
    }

    #[test]
    fn twelve_bit_is_unsupported() {
        // Plain PCM header with 12 bits in 2 bytes (hound: "not a multiple of 8").
        let plain = chunk(b"fmt ", &fmt_body(1, 1, 22050, 12, 2));
        let r = convert(&riff(&[plain, chunk(b"data", &[0, 16])]), 22050);
        assert!(is_unsupported(&r), "{r:?}");
        // EXTENSIBLE with 12 valid bits in a 16-bit container (hound accepts the header).
        let ext = chunk(b"fmt ", &fmt_ext(1, 22050, 16, 12, 1));
        let r = convert(&riff(&[ext, chunk(b"data", &[0, 16])]), 22050);
        assert!(is_unsupported(&r), "{r:?}");
    }

    #[test]
    fn other_formats_are_unsupported() {
        let with = |fmt: Vec<u8>, data: &[u8]| convert(&riff(&[chunk(b"fmt ", &fmt), chunk(b"data", data)]), 22050);
        let cases = [
            ("f64", with(fmt_body(3, 1, 22050, 64, 8), &[0; 8])),
            ("f64 ext", with(fmt_ext(1, 22050, 64, 64, 3), &[0; 8])),
            ("adpcm", with(fmt_body(2, 1, 22050, 8, 1), &[0; 8])),
            ("a-law", with(fmt_body(6, 1, 22050, 8, 1), &[0; 8])),
            ("a-law ext", with(fmt_ext(1, 22050, 8, 8, 6), &[0; 8])),
            ("8 in 2 bytes", with(fmt_body(1, 1, 22050, 8, 2), &[0; 4])),
            ("20 in 24 ext", with(fmt_ext(1, 22050, 24, 20, 1), &[0; 6])),
        ];
        for (name, r) in cases {
            assert!(is_unsupported(&r), "{name}: {r:?}");
        }
        // 32-bit PCM in an 18-byte WAVEFORMATEX: refused by hound.
        let mut ex = fmt_body(1, 1, 22050, 32, 4);
        ex.extend(0u16.to_le_bytes());
        assert!(is_unsupported(&with(ex, &[0; 4])));
    }

    #[test]
    fn twenty_four_bit_in_four_byte_containers_is_unsupported() {
        let mut cursor = Cursor::new(Vec::new());
        let spec_ex = WavSpecEx { spec: spec(1, 22050, 24, SampleFormat::Int), bytes_per_sample: 4 };
        let mut writer = WavWriter::new_with_spec_ex(&mut cursor, spec_ex).unwrap();
        writer.write_sample(256i32).unwrap();
        writer.finalize().unwrap();
        let r = convert(&cursor.into_inner(), 22050);
        assert!(is_unsupported(&r), "{r:?}");
    }

    #[test]
    fn malformed_files_are_corrupt() {
        let fmt16 = || chunk(b"fmt ", &fmt_body(1, 1, 22050, 16, 2));
        let mut fmt20 = fmt_body(1, 1, 22050, 16, 2);
        fmt20.extend([0; 4]);
        let mut padded_list = chunk(b"LIST", &[1, 2, 3]);
        padded_list.push(0);
        let cases = [
            ("empty", Vec::new()),
            ("text", b"hello, world".to_vec()),
            ("no fmt", riff(&[chunk(b"data", &[1, 0])])),
            ("data before fmt", riff(&[chunk(b"data", &[1, 0]), fmt16()])),
            ("no data", riff(&[fmt16()])),
            ("fmt of 20 bytes", riff(&[chunk(b"fmt ", &fmt20), chunk(b"data", &[1, 0])])),
            ("odd data length", riff(&[fmt16(), chunk(b"data", &[1, 0, 2])])),
            // hound skips no pad byte after an odd-sized chunk: the file is misread.
            ("padded odd chunk", riff(&[fmt16(), padded_list, chunk(b"data", &[1, 0])])),
        ];
        for (name, bytes) in cases {
            let r = convert(&bytes, 22050);
            assert!(is_corrupt(&r), "{name}: {r:?}");
        }
    }

    #[test]
    fn huge_claimed_data_length_is_corrupt_without_allocating() {
        // The data chunk claims 0xFFFF_FFFE bytes (2^31 - 1 samples); 4 are present.
        let mut bytes = riff(&[chunk(b"fmt ", &fmt_body(1, 1, 22050, 16, 2)), chunk(b"data", &[1, 0, 2, 0])]);
        let len_at = bytes.len() - 8;
        bytes[len_at..len_at + 4].copy_from_slice(&0xffff_fffeu32.to_le_bytes());
        for mode in [Resample::None, Resample::Linear] {
            let r = convert_wav(&bytes, 22050, mode).map(|m| m.samples);
            assert!(is_corrupt(&r), "{r:?}");
        }
        // Same with 8-bit stereo (2^31 - 1 frames claimed) and a rate needing resampling.
        let mut bytes = riff(&[chunk(b"fmt ", &fmt_body(1, 2, 11025, 8, 2)), chunk(b"data", &[1, 0])]);
        let len_at = bytes.len() - 6;
        bytes[len_at..len_at + 4].copy_from_slice(&0xffff_fffeu32.to_le_bytes());
        let r = convert_wav(&bytes, 48000, Resample::Linear).map(|m| m.samples);
        assert!(is_corrupt(&r), "{r:?}");
    }

    fn valid_samples() -> Vec<(Vec<u8>, u32)> {
        vec![
            (wav_int(1, 22050, 8, &[-128, 0, 5, 127]), 22050),
            (wav_i16(2, 44100, &[-3, 0, 3, 0, 100, -100]), 44100),
            (wav_int(2, 48000, 24, &[-768, 0, 768, 255]), 48000),
            (wav_int(1, 22050, 32, &[i32::MIN, 65536, -1]), 22050),
            (wav_float(2, 44100, &[0.5, -0.5, 1.5, f32::NAN]), 44100),
        ]
    }

    #[test]
    fn every_truncation_is_an_error() {
        for (bytes, rate) in valid_samples() {
            let full = convert(&bytes, rate).unwrap();
            for len in 0..bytes.len() {
                for (target, mode) in [(rate, Resample::None), (22050, Resample::Linear)] {
                    let r = convert_wav(&bytes[..len], target, mode);
                    assert!(r.is_err(), "prefix {len} of {} gave {r:?}", bytes.len());
                }
            }
            assert_eq!(convert(&bytes, rate).unwrap(), full);
        }
    }

    /// xorshift64*, for reproducible fuzzing without extra crates.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn random_byte_flips_never_panic() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let (mut ok, mut err) = (0, 0);
        for (bytes, _) in valid_samples() {
            for _ in 0..100 {
                let mut mutated = bytes.clone();
                for _ in 0..=(rng.next() % 3) {
                    let at = (rng.next() % mutated.len() as u64) as usize;
                    mutated[at] = rng.next() as u8;
                }
                for (rate, mode) in [(22050, Resample::None), (48000, Resample::Linear)] {
                    match convert_wav(&mutated, rate, mode) {
                        Ok(mono) => {
                            ok += 1;
                            if mode == Resample::None {
                                assert!(mono.samples.len() <= mutated.len());
                            }
                        }
                        Err(e) => {
                            err += 1;
                            assert!(!e.to_string().is_empty());
                        }
                    }
                }
            }
        }
        assert_eq!(ok + err, 1000);
        assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
    }

    #[test]
    fn display_is_one_line() {
        let errors = [
            SoundError::Corrupt { message: "no RIFF tag found".into() },
            SoundError::Unsupported { message: "3 channels".into() },
            SoundError::RateMismatch { found: 44100, target: 48000 },
            SoundError::BadTargetRate { rate: 8000 },
        ];
        let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(texts[0], "corrupt WAV: no RIFF tag found");
        assert_eq!(texts[1], "unsupported WAV: 3 channels");
        assert_eq!(texts[2], "sample rate 44100 Hz differs from target 48000 Hz and resampling is off");
        assert_eq!(texts[3], "target sample rate 8000 Hz is not one of 22050, 44100, 48000");
        assert!(texts.iter().all(|t| !t.contains('\n')));
    }
}
