//! Call-progress tones: dial, ring-back, busy and congestion, told apart by
//! their frequencies and cadences. China's plan (GB 3380 / YD/T: 450 Hz for
//! all four, cadences 1 s / 4 s, 0.35 / 0.35 s, 0.7 / 0.7 s) is built in,
//! with the North American and ETSI ones; any other comes from the config.
//!
//! The signal is judged in 20 ms blocks: a block is "on" for a tone when
//! each of its frequencies is present and together they hold most of the
//! block's power. Runs of on and off blocks are matched against each
//! tone's cadence.

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// What a tone tells about the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToneKind {
    /// The exchange is ready for digits: the handset is off hook.
    Dial,
    /// The called party's phone rings.
    Ringback,
    /// The called party is busy, or (in China) has hung up.
    Busy,
    /// The network cannot complete the call (reorder).
    Congestion,
}

impl ToneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ToneKind::Dial => "dial",
            ToneKind::Ringback => "ringback",
            ToneKind::Busy => "busy",
            ToneKind::Congestion => "congestion",
        }
    }
}

/// One tone of a plan, as the config writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToneSpec {
    pub kind: ToneKind,
    /// One or two frequencies, Hz, sounded together.
    pub frequencies: Vec<f64>,
    /// On and off times, ms, repeating; empty for a steady tone.
    #[serde(default)]
    pub cadence: Vec<u32>,
}

impl ToneSpec {
    fn new(kind: ToneKind, frequencies: &[f64], cadence: &[u32]) -> ToneSpec {
        ToneSpec {
            kind,
            frequencies: frequencies.to_vec(),
            cadence: cadence.to_vec(),
        }
    }
}

/// The built-in plans: `cn`, `us`, `etsi`.
pub fn plan(name: &str) -> Option<Vec<ToneSpec>> {
    use ToneKind::*;
    let t = ToneSpec::new;
    Some(match name {
        "cn" => vec![
            t(Dial, &[450.0], &[]),
            t(Ringback, &[450.0], &[1000, 4000]),
            t(Busy, &[450.0], &[350, 350]),
            t(Congestion, &[450.0], &[700, 700]),
        ],
        "us" => vec![
            t(Dial, &[350.0, 440.0], &[]),
            t(Ringback, &[440.0, 480.0], &[2000, 4000]),
            t(Busy, &[480.0, 620.0], &[500, 500]),
            t(Congestion, &[480.0, 620.0], &[250, 250]),
        ],
        "etsi" => vec![
            t(Dial, &[425.0], &[]),
            t(Ringback, &[425.0], &[1000, 4000]),
            t(Busy, &[425.0], &[500, 500]),
            t(Congestion, &[425.0], &[250, 250]),
        ],
        _ => return None,
    })
}

/// The names [`plan`] knows.
pub const PLANS: [&str; 3] = ["cn", "us", "etsi"];

/// A tone recognised, and the sample its first burst began at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToneEvent {
    pub kind: ToneKind,
    pub offset: u64,
}

const BLOCK_MS: f64 = 20.0;
/// A steady tone is dial tone after this long, and after longer than any
/// burst of the plan's cadenced tones (US ring-back is on for 2 s).
const STEADY_MS: f64 = 1000.0;
/// Cadence times match within this share, or 60 ms, whichever is more.
const CADENCE_TOLERANCE: f64 = 0.2;
const CADENCE_SLACK_MS: f64 = 60.0;
/// The weakest tone heard (per frequency, dBm0) and the share of the
/// power the tone must hold.
const MIN_LEVEL_DBM0: f64 = -40.0;
const MIN_PURITY: f64 = 0.6;

/// A run of blocks with a tone's frequencies on, or off.
#[derive(Debug, Clone, Copy)]
struct Run {
    on: bool,
    ms: f64,
    start: u64,
}

/// Per distinct frequency set: its runs and what it was last called.
struct Track {
    frequencies: Vec<usize>,
    runs: Vec<Run>,
    reported: Option<ToneKind>,
}

/// A streaming call-progress tone detector for one plan.
pub struct ToneDetector {
    specs: Vec<ToneSpec>,
    /// Goertzel coefficient per distinct frequency.
    coeff: Vec<f64>,
    s: Vec<(f64, f64)>,
    energy: f64,
    block: usize,
    in_block: usize,
    sample: u64,
    min_energy: f64,
    tracks: Vec<Track>,
    /// Which track each spec is heard on.
    spec_track: Vec<usize>,
    steady_ms: f64,
}

impl ToneDetector {
    pub fn new(rate: u32, specs: Vec<ToneSpec>) -> ToneDetector {
        let mut freqs: Vec<f64> = Vec::new();
        let mut tracks: Vec<Track> = Vec::new();
        let mut spec_track = Vec::new();
        for spec in &specs {
            let idx: Vec<usize> = spec
                .frequencies
                .iter()
                .map(|f| match freqs.iter().position(|g| (g - f).abs() < 0.5) {
                    Some(i) => i,
                    None => {
                        freqs.push(*f);
                        freqs.len() - 1
                    }
                })
                .collect();
            let track = match tracks.iter().position(|t| t.frequencies == idx) {
                Some(t) => t,
                None => {
                    tracks.push(Track {
                        frequencies: idx,
                        runs: Vec::new(),
                        reported: None,
                    });
                    tracks.len() - 1
                }
            };
            spec_track.push(track);
        }
        let block = (f64::from(rate) * BLOCK_MS / 1000.0).round() as usize;
        let longest_burst = specs
            .iter()
            .flat_map(|s| s.cadence.iter().step_by(2))
            .map(|&ms| f64::from(ms) * (1.0 + CADENCE_TOLERANCE) + CADENCE_SLACK_MS)
            .fold(0.0, f64::max);
        let steady_ms = STEADY_MS.max(longest_burst);
        let a = crate::dsp::dbm0_to_amplitude(MIN_LEVEL_DBM0);
        ToneDetector {
            specs,
            coeff: freqs
                .iter()
                .map(|f| 2.0 * (2.0 * PI * f / f64::from(rate)).cos())
                .collect(),
            s: vec![(0.0, 0.0); freqs.len()],
            energy: 0.0,
            block,
            in_block: 0,
            sample: 0,
            min_energy: a * a * block as f64 / 2.0,
            tracks,
            spec_track,
            steady_ms,
        }
    }

    /// Feeds samples; the tones recognised among them.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<ToneEvent>) {
        for &x in samples {
            let x = f64::from(x);
            for (c, s) in self.coeff.iter().zip(self.s.iter_mut()) {
                let v = x + c * s.0 - s.1;
                *s = (v, s.0);
            }
            self.energy += x * x;
            self.in_block += 1;
            self.sample += 1;
            if self.in_block == self.block {
                self.end_block(out);
            }
        }
    }

    fn end_block(&mut self, out: &mut Vec<ToneEvent>) {
        let n = self.block as f64;
        // A tone of amplitude A holds A²·n/2 of the block's energy.
        let tone_energy: Vec<f64> = self
            .coeff
            .iter()
            .zip(&self.s)
            .map(|(c, (s1, s2))| 2.0 * (s1 * s1 + s2 * s2 - c * s1 * s2) / n)
            .collect();
        let start = self.sample - self.block as u64;
        for (k, t) in self.tracks.iter_mut().enumerate() {
            let held: f64 = t.frequencies.iter().map(|&i| tone_energy[i]).sum();
            let on = t
                .frequencies
                .iter()
                .all(|&i| tone_energy[i] >= self.min_energy)
                && held >= MIN_PURITY * self.energy;
            match t.runs.last_mut() {
                Some(r) if r.on == on => r.ms += BLOCK_MS,
                _ => {
                    t.runs.push(Run {
                        on,
                        ms: BLOCK_MS,
                        start,
                    });
                    if t.runs.len() > 8 {
                        t.runs.remove(0);
                    }
                }
            }
            let found = self
                .specs
                .iter()
                .zip(&self.spec_track)
                .filter(|(_, track)| **track == k)
                .map(|(s, _)| s)
                .find(|s| matches_cadence(&t.runs, &s.cadence, self.steady_ms));
            match found {
                Some(s) if t.reported != Some(s.kind) => {
                    t.reported = Some(s.kind);
                    let first_on = t.runs.iter().find(|r| r.on).map_or(start, |r| r.start);
                    out.push(ToneEvent {
                        kind: s.kind,
                        offset: first_on,
                    });
                }
                Some(_) => {}
                None if !on && t.runs.last().is_some_and(|r| r.ms > 6000.0) => {
                    // A long silence ends the tone: the next is news.
                    t.reported = None;
                    t.runs.clear();
                }
                None => {}
            }
        }
        for s in &mut self.s {
            *s = (0.0, 0.0);
        }
        self.energy = 0.0;
        self.in_block = 0;
    }
}

fn close(measured: f64, want: f64) -> bool {
    (measured - want).abs() <= (want * CADENCE_TOLERANCE).max(CADENCE_SLACK_MS)
}

/// Whether the latest runs follow `cadence`: a steady tone for a second,
/// or two whole on/off cycles (one for cadences over 3 s, ring-back), the
/// last off time still running but long enough.
fn matches_cadence(runs: &[Run], cadence: &[u32], steady_ms: f64) -> bool {
    let Some(last) = runs.last() else {
        return false;
    };
    if cadence.is_empty() {
        return last.on && last.ms > steady_ms;
    }
    let period: u32 = cadence.iter().sum();
    let cycles = if period > 3000 { 1 } else { 2 };
    let needed = cadence.len() * cycles;
    if last.on || runs.len() < needed {
        return false;
    }
    let tail = &runs[runs.len() - needed..];
    tail.iter().enumerate().all(|(i, r)| {
        let want = f64::from(cadence[i % cadence.len()]);
        let is_last = i == needed - 1;
        r.on == (i % 2 == 0)
            && if is_last {
                r.ms >= want - (want * CADENCE_TOLERANCE).max(CADENCE_SLACK_MS)
            } else {
                close(r.ms, want)
            }
    })
}

/// A tone's samples: `cadence` repeated for `total_ms`, for tests and the
/// simulated line.
pub fn generate(spec: &ToneSpec, rate: u32, total_ms: u32, amplitude: f64) -> Vec<f32> {
    let n = (u64::from(rate) * u64::from(total_ms) / 1000) as usize;
    let period: u32 = spec.cadence.iter().sum();
    (0..n)
        .map(|i| {
            let ms = (i as u64 * 1000 / u64::from(rate)) as u32;
            let on = period == 0 || {
                let mut at = ms % period;
                let mut on = true;
                for &d in &spec.cadence {
                    if at < d {
                        break;
                    }
                    at -= d;
                    on = !on;
                }
                on
            };
            if !on {
                return 0.0;
            }
            let t = i as f64 / f64::from(rate);
            spec.frequencies
                .iter()
                .map(|f| amplitude * (2.0 * PI * f * t).sin())
                .sum::<f64>() as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(plan_name: &str, rate: u32, samples: &[f32]) -> Vec<ToneKind> {
        let mut d = ToneDetector::new(rate, plan(plan_name).unwrap());
        let mut out = Vec::new();
        for c in samples.chunks(333) {
            d.push(c, &mut out);
        }
        out.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn each_plan_tells_its_four_tones_apart() {
        for name in PLANS {
            for spec in plan(name).unwrap() {
                for rate in [8000, 48_000] {
                    let signal = generate(&spec, rate, 7000, 0.1);
                    assert_eq!(
                        detect(name, rate, &signal),
                        [spec.kind],
                        "{name} {:?} at {rate}",
                        spec.kind
                    );
                }
            }
        }
    }

    #[test]
    fn busy_is_not_taken_for_congestion_nor_speech_like_noise_for_a_tone() {
        let busy = plan("cn")
            .unwrap()
            .into_iter()
            .find(|s| s.kind == ToneKind::Busy)
            .unwrap();
        let signal = generate(&busy, 8000, 3000, 0.05);
        assert_eq!(detect("cn", 8000, &signal), [ToneKind::Busy]);
        // 450 Hz under as much noise is no tone at all.
        let mut seed = 1u32;
        let noisy: Vec<f32> = generate(&busy, 8000, 3000, 0.05)
            .iter()
            .map(|x| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                x + (f64::from(seed >> 8) / f64::from(1u32 << 24) - 0.5) as f32 * 0.6
            })
            .collect();
        assert!(detect("cn", 8000, &noisy).is_empty());
        assert!(detect("cn", 8000, &vec![0.0; 40_000]).is_empty());
    }

    #[test]
    fn a_configured_plan_works_like_a_built_in_one() {
        // UK busy: 400 Hz, 375 on 375 off.
        let uk = vec![ToneSpec::new(ToneKind::Busy, &[400.0], &[375, 375])];
        let mut d = ToneDetector::new(8000, uk.clone());
        let mut out = Vec::new();
        d.push(&generate(&uk[0], 8000, 3000, 0.1), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, ToneKind::Busy);
    }
}
