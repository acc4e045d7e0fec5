//! Signal and message processing for caller ID: pure functions over bytes
//! and samples, free of I/O, so they are tested against the standards' own
//! examples.

pub mod cid;
pub mod dtmf;
pub mod fsk;

/// Peak amplitude (full scale 1.0) of a sine at `dbm0`: G.711 puts a
/// full-scale sine at +3.14 dBm0, and line levels are given in dBm0.
pub fn dbm0_to_amplitude(dbm0: f64) -> f64 {
    10f64.powf((dbm0 - 3.14) / 20.0)
}
