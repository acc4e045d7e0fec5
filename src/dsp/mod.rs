//! Signal and message processing for caller ID: pure functions over bytes
//! and samples, free of I/O, so they are tested against the standards' own
//! examples.

pub mod cid;
mod coherent;
pub mod dtmf;
pub mod dtmf_cid;
pub mod fsk;
pub mod listener;
pub mod signal;
pub mod sweep;
pub mod tones;
pub mod wav_in;

/// Peak amplitude (full scale 1.0) of a sine at `dbm0`: G.711 puts a
/// full-scale sine at +3.14 dBm0, and line levels are given in dBm0.
pub fn dbm0_to_amplitude(dbm0: f64) -> f64 {
    10f64.powf((dbm0 - FULL_SCALE_DBM0) / 20.0)
}

/// The level of a full-scale sine in G.711 (A-law 3.14, μ-law 3.17 dBm0).
#[allow(clippy::approx_constant)] // a level in dB, not π
const FULL_SCALE_DBM0: f64 = 3.14;
