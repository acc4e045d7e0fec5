//! Sample-rate conversion between what a capture device runs at (often
//! 44.1 or 48 kHz) and the recording's rate (8 kHz by default), chunk by
//! chunk as the audio arrives. The device's rate is fixed for a stream, so
//! rubato's synchronous FFT resampler serves: high quality at low cost.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};

/// Frames handed to the resampler at once (at the device's rate).
const CHUNK: usize = 1024;

/// Streams i16 mono audio from one rate to another.
pub struct StreamResampler {
    fft: Fft<f32>,
    pending: Vec<f32>,
    out: Vec<Vec<f32>>,
    /// Output frames still to drop: the resampler's own delay.
    skip: usize,
    /// Input frames taken, and output frames given, to size the final flush.
    frames_in: u64,
    frames_out: u64,
    ratio: f64,
}

/// Why a resampler could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot resample from {from} Hz to {to} Hz: {reason}")]
pub struct ResampleError {
    pub from: u32,
    pub to: u32,
    pub reason: String,
}

impl StreamResampler {
    /// A converter from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<StreamResampler, ResampleError> {
        let fft = Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Input).map_err(
            |e| ResampleError {
                from,
                to,
                reason: e.to_string(),
            },
        )?;
        let out = vec![vec![0.0; fft.output_frames_max()]];
        Ok(StreamResampler {
            skip: fft.output_delay(),
            fft,
            pending: Vec::with_capacity(CHUNK * 2),
            out,
            frames_in: 0,
            frames_out: 0,
            ratio: f64::from(to) / f64::from(from),
        })
    }

    /// Converts what `input` completes; the rest waits for the next call.
    pub fn push(&mut self, input: &[i16], output: &mut Vec<i16>) {
        self.frames_in += input.len() as u64;
        self.pending
            .extend(input.iter().map(|&s| f32::from(s) / 32768.0));
        self.drain(output);
    }

    /// Converts what is left at the end of a stream (padded with silence),
    /// so the output is as long as the input was.
    pub fn finish(&mut self, output: &mut Vec<i16>) {
        let wanted = (self.frames_in as f64 * self.ratio).round() as u64;
        while self.frames_out < wanted {
            let missing = CHUNK - self.pending.len() % CHUNK;
            self.pending.extend(std::iter::repeat_n(0.0, missing));
            let before = self.frames_out;
            self.drain(output);
            if self.frames_out == before && self.skip == 0 {
                break;
            }
        }
        let extra = (self.frames_out - wanted.min(self.frames_out)) as usize;
        output.truncate(output.len() - extra.min(output.len()));
        self.frames_out -= extra as u64;
    }

    fn drain(&mut self, output: &mut Vec<i16>) {
        let mut at = 0;
        while self.pending.len() - at >= self.fft.input_frames_next() {
            let need = self.fft.input_frames_next();
            let chunk = [self.pending[at..at + need].to_vec()];
            let input = SequentialSliceOfVecs::new(&chunk[..], 1, need)
                .expect("one channel of `need` frames");
            let frames = self.fft.output_frames_next();
            let mut out = SequentialSliceOfVecs::new_mut(&mut self.out[..], 1, frames)
                .expect("the buffer holds output_frames_max");
            let (used, made) = self
                .fft
                .process_into_buffer(&input, &mut out, None)
                .expect("buffers sized by the resampler itself");
            at += used;
            let skip = self.skip.min(made);
            self.skip -= skip;
            output.extend(
                self.out[0][skip..made]
                    .iter()
                    .map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16),
            );
            self.frames_out += (made - skip) as u64;
        }
        self.pending.drain(..at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, secs: f64) -> Vec<i16> {
        (0..(f64::from(rate) * secs) as usize)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    /// The strength of `freq` in `x`, as an amplitude.
    fn level(x: &[i16], freq: f64, rate: u32) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &s) in x.iter().enumerate() {
            let w = 2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate);
            re += f64::from(s) * w.cos();
            im += f64::from(s) * w.sin();
        }
        2.0 * (re * re + im * im).sqrt() / x.len() as f64
    }

    #[test]
    fn a_48k_tone_arrives_at_8k_whole_and_in_time() {
        let input = tone(1000.0, 48_000, 1.0);
        let mut r = StreamResampler::new(48_000, 8_000).unwrap();
        let mut out = Vec::new();
        // In uneven pieces, as a capture callback delivers them.
        for piece in input.chunks(441) {
            r.push(piece, &mut out);
        }
        r.finish(&mut out);
        assert_eq!(out.len(), 8_000);
        let amplitude = level(&out[800..7200], 1000.0, 8_000);
        assert!((amplitude - 8000.0).abs() < 200.0, "{amplitude}");
        // No delay: the tone starts where it started.
        assert!(out[..8].iter().all(|s| s.abs() < 8000));
        assert!(
            out[4..40].iter().any(|s| s.abs() > 4000),
            "{:?}",
            &out[..40]
        );
    }

    #[test]
    fn what_8k_cannot_carry_is_filtered_out() {
        // 5 kHz would fold to 3 kHz at 8 kHz without the anti-alias filter.
        let input = tone(5000.0, 44_100, 1.0);
        let mut r = StreamResampler::new(44_100, 8_000).unwrap();
        let mut out = Vec::new();
        r.push(&input, &mut out);
        r.finish(&mut out);
        assert_eq!(out.len(), 8_000);
        assert!(level(&out[800..7200], 3000.0, 8_000) < 80.0);
    }
}
