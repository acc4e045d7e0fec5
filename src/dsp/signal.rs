//! Caller-ID test signals as a line would carry them: the message in FSK
//! or DTMF at a given level, frequency offset and extra stop bits, with
//! white noise at a given signal-to-noise ratio. For `callpop cid gen`,
//! the tests, the SNR sweep and the simulated audio box.

use super::cid::{self, CallerIdMessage};
use super::dtmf;
use super::dtmf_cid;
use super::fsk::FskSignal;
use super::listener::CidStandard;
use rand::{Rng, SeedableRng};

/// How to send a caller ID.
#[derive(Debug, Clone)]
pub struct CidSignal {
    pub standard: CidStandard,
    pub rate: u32,
    /// Signal level, dBm0 (for DTMF, each tone's).
    pub level_dbm0: f64,
    /// White noise this many dB below the signal's power (none if `None`).
    pub snr_db: Option<f64>,
    /// Sender's clock error as a fraction (FSK tones, DTMF tones).
    pub frequency_offset: f64,
    pub extra_stop_bits: usize,
    /// Silence before and after, ms (noise fills it too).
    pub pad_ms: u32,
    pub seed: u64,
}

impl CidSignal {
    /// The usual signal of `standard` at `rate`: −13 dBm0 for FSK (Bellcore
    /// sends −13.5 dBm), −9 dBm0 a tone for DTMF, no noise.
    pub fn new(standard: CidStandard, rate: u32) -> CidSignal {
        CidSignal {
            standard,
            rate,
            level_dbm0: if standard == CidStandard::Dtmf {
                -9.0
            } else {
                -13.0
            },
            snr_db: None,
            frequency_offset: 0.0,
            extra_stop_bits: 0,
            pad_ms: 300,
            seed: 1,
        }
    }

    /// The samples carrying `message` (full scale ±1.0).
    pub fn render(&self, message: &CallerIdMessage) -> Vec<f32> {
        let amplitude = super::dbm0_to_amplitude(self.level_dbm0);
        let body = match self.standard.fsk() {
            Some(standard) => {
                let mut s = FskSignal::new(standard, self.rate);
                s.amplitude = amplitude;
                s.frequency_offset = self.frequency_offset;
                s.extra_stop_bits = self.extra_stop_bits;
                s.modulate(&cid::encode(message))
            }
            None => {
                let keys = dtmf_cid::encode(message);
                dtmf::generate_offset(&keys, self.rate, 70, 70, amplitude, self.frequency_offset)
            }
        };
        let pad = (u64::from(self.rate) * u64::from(self.pad_ms) / 1000) as usize;
        let mut out = vec![0.0f32; pad];
        out.extend(&body);
        out.extend(std::iter::repeat_n(0.0, pad));
        if let Some(snr) = self.snr_db {
            let power =
                body.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / body.len().max(1) as f64;
            add_noise(&mut out, (power / 10f64.powf(snr / 10.0)).sqrt(), self.seed);
        }
        out
    }
}

/// Writes samples (full scale ±1.0) as a 16-bit mono WAV file.
pub fn write_wav(path: &std::path::Path, rate: u32, samples: &[f32]) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &x in samples {
        w.write_sample((x.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    w.finalize()
}

/// Adds white Gaussian noise of standard deviation `sigma`, reproducibly.
pub fn add_noise(samples: &mut [f32], sigma: f64, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for x in samples.iter_mut() {
        // Box-Muller.
        let u1: f64 = rng.random::<f64>().max(1e-300);
        let u2: f64 = rng.random();
        let n = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        *x = (f64::from(*x) + sigma * n).clamp(-1.0, 1.0) as f32;
    }
}

/// `clean` with white noise `snr_db` below the power of its signal (the
/// samples that are not silence).
pub fn with_noise(mut clean: Vec<f32>, snr_db: f64, seed: u64) -> Vec<f32> {
    let (sum, count) = clean
        .iter()
        .filter(|x| x.abs() > 1e-4)
        .fold((0.0f64, 0usize), |(sum, count), x| {
            (sum + f64::from(*x).powi(2), count + 1)
        });
    let power = sum / count.max(1) as f64;
    add_noise(&mut clean, (power / 10f64.powf(snr_db / 10.0)).sqrt(), seed);
    clean
}

/// The same signal as a sender whose clock runs `offset` fast (0.02 = 2 %)
/// would make it: every frequency and the baud rate scaled together.
/// Band-limited interpolation (a Hann-windowed sinc, 32 taps), as a good
/// resampler does: a linear one would add images of the 2.1 kHz tones
/// that no line has.
pub fn with_clock_offset(samples: &[f32], offset: f64) -> Vec<f32> {
    const HALF: isize = 16;
    let step = 1.0 + offset;
    // Below both rates' Nyquist, so nothing folds back.
    let cutoff = 1.0f64.min(1.0 / step) * 0.95;
    let n = (samples.len() as f64 / step) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 * step;
            let k = t.floor() as isize;
            let mut acc = 0.0f64;
            for j in (k - HALF + 1)..=(k + HALF) {
                let Some(x) = usize::try_from(j).ok().and_then(|j| samples.get(j)) else {
                    continue;
                };
                let d = t - j as f64;
                let sinc = if d.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * cutoff * d).sin() / (std::f64::consts::PI * d)
                };
                let window = 0.5 + 0.5 * (std::f64::consts::PI * d / (HALF as f64 + 1.0)).cos();
                acc += f64::from(*x) * sinc * window;
            }
            acc as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every standard and format, at levels from −5 to −40 dBm0, with
    /// the sender's clock ±1.5 % off, 0 or 10 extra stop bits, under noise.
    #[test]
    fn round_trip_across_standards_formats_levels_offsets_and_stop_bits() {
        use crate::dsp::cid::{CidDateTime, MessageFormat};
        use crate::dsp::listener::{Heard, ListenFor, Listener};
        let sdmf = CallerIdMessage {
            format: MessageFormat::Sdmf,
            datetime: CidDateTime::parse(b"11231430"),
            ..CallerIdMessage::number_only("13800138000")
        };
        let mdmf = CallerIdMessage {
            name: Some("LI SI".into()),
            datetime: CidDateTime::parse(b"02290001"),
            ..CallerIdMessage::number_only("02012345678")
        };
        let dtmf = CallerIdMessage {
            format: MessageFormat::Dtmf,
            ..CallerIdMessage::number_only("075512345678")
        };
        let cases = [
            (CidStandard::Bell202, &sdmf),
            (CidStandard::Bell202, &mdmf),
            (CidStandard::V23, &sdmf),
            (CidStandard::V23, &mdmf),
            (CidStandard::Dtmf, &dtmf),
        ];
        for (standard, message) in cases {
            for level in [-5.0, -20.0, -40.0] {
                for offset in [-0.015, 0.0, 0.015] {
                    for extra in [0, 10] {
                        let signal = CidSignal {
                            level_dbm0: level,
                            frequency_offset: offset,
                            extra_stop_bits: extra,
                            snr_db: Some(20.0),
                            ..CidSignal::new(standard, 8000)
                        };
                        let mut l = Listener::new(8000, &ListenFor::caller_id());
                        let mut heard = Vec::new();
                        l.push(&signal.render(message), &mut heard);
                        l.finish(&mut heard);
                        let got: Vec<_> = heard
                            .iter()
                            .filter_map(|h| match h {
                                Heard::CallerId {
                                    message, standard, ..
                                } => Some((*standard, message)),
                                _ => None,
                            })
                            .collect();
                        assert_eq!(
                            got,
                            [(standard, message)],
                            "{standard:?} {level} dBm0 offset {offset} extra {extra}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn noise_has_the_power_asked_for() {
        let message = CallerIdMessage::number_only("13800138000");
        let clean = CidSignal::new(CidStandard::Bell202, 8000);
        let noisy = CidSignal {
            snr_db: Some(10.0),
            ..clean.clone()
        };
        let (a, b) = (clean.render(&message), noisy.render(&message));
        let p = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
        let pad = 2400;
        let signal = p(&a[pad..a.len() - pad]);
        let noise: f64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| f64::from(y - x).powi(2))
            .sum::<f64>()
            * (a.len() - 2 * pad) as f64
            / a.len() as f64;
        let snr = 10.0 * (signal / noise).log10();
        assert!((snr - 10.0).abs() < 0.2, "{snr}");
    }
}
