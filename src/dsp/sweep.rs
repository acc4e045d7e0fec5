//! The SNR sweep: how often a caller ID sent under white noise is decoded
//! exactly, missed, or (the one that must never happen) decoded wrong and
//! accepted. Shared by the test suite and `examples/bench_cid.rs`.

use super::cid::{CallerIdMessage, CidDateTime, MessageFormat};
use super::listener::{CidStandard, Heard, ListenFor, Listener};
use super::signal::CidSignal;
use rand::{Rng, SeedableRng};

/// One SNR level's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepRow {
    pub snr_db: i32,
    pub trials: u32,
    /// The message decoded exactly as sent.
    pub exact: u32,
    /// A caller ID reported that differs from the one sent.
    pub wrong_accepted: u32,
}

/// A random caller ID as the field sends it: Chinese mobiles and landlines,
/// with a date for FSK and a name now and then for MDMF.
pub fn random_message(standard: CidStandard, rng: &mut impl Rng) -> CallerIdMessage {
    let number = if rng.random_bool(0.6) {
        format!(
            "1{}{:09}",
            rng.random_range(3..=9),
            rng.random_range(0..1_000_000_000u64)
        )
    } else {
        format!(
            "0{}{:08}",
            rng.random_range(10..=99),
            rng.random_range(0..100_000_000u64)
        )
    };
    let mut m = CallerIdMessage::number_only(&number);
    if standard == CidStandard::Dtmf {
        m.format = MessageFormat::Dtmf;
        return m;
    }
    let digits = format!(
        "{:02}{:02}{:02}{:02}",
        rng.random_range(1..=12),
        rng.random_range(1..=28),
        rng.random_range(0..24),
        rng.random_range(0..60)
    );
    m.datetime = CidDateTime::parse(digits.as_bytes());
    if rng.random_bool(0.5) {
        m.format = MessageFormat::Sdmf;
    } else if rng.random_bool(0.5) {
        m.name = Some("ZHANG SAN".into());
    }
    m
}

/// Sends `trials` random caller IDs at each SNR in `levels` through the
/// listener listening for every standard (as a box in the field does).
pub fn sweep(
    standard: CidStandard,
    rate: u32,
    levels: &[i32],
    trials: u32,
    seed: u64,
) -> Vec<SweepRow> {
    sweep_rendered(
        standard,
        rate,
        levels,
        trials,
        seed,
        own_modulator(standard, rate),
    )
}

/// callpop's own modulator as a `render` for [`sweep_rendered`]: the
/// message under white noise at the SNR, from the noise seed.
pub fn own_modulator(
    standard: CidStandard,
    rate: u32,
) -> impl FnMut(CallerIdMessage, f64, u64) -> (CallerIdMessage, Vec<f32>) {
    move |sent, snr_db, seed| {
        let samples = CidSignal {
            snr_db: Some(snr_db),
            seed,
            ..CidSignal::new(standard, rate)
        }
        .render(&sent);
        (sent, samples)
    }
}

/// [`sweep`] with the line audio made by `render` (message, SNR in dB,
/// noise seed → the message as it was sent, which a modulator may have had
/// to adapt, and its samples): another modulator's signals (spandsp's, in
/// the tests) through the same count.
pub fn sweep_rendered(
    standard: CidStandard,
    rate: u32,
    levels: &[i32],
    trials: u32,
    seed: u64,
    mut render: impl FnMut(CallerIdMessage, f64, u64) -> (CallerIdMessage, Vec<f32>),
) -> Vec<SweepRow> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    levels
        .iter()
        .map(|&snr_db| {
            let mut row = SweepRow {
                snr_db,
                trials,
                exact: 0,
                wrong_accepted: 0,
            };
            for _ in 0..trials {
                let (sent, samples) = render(
                    random_message(standard, &mut rng),
                    f64::from(snr_db),
                    rng.random(),
                );
                for message in caller_ids_in(&samples, rate) {
                    if message == sent {
                        row.exact += 1;
                    } else {
                        row.wrong_accepted += 1;
                    }
                }
            }
            row
        })
        .collect()
}

/// Every caller ID the listener (listening for all standards) reports in
/// `samples`, fed in 20 ms blocks as a sound card delivers them.
pub fn caller_ids_in(samples: &[f32], rate: u32) -> Vec<CallerIdMessage> {
    let mut listener = Listener::new(rate, &ListenFor::caller_id());
    let mut heard = Vec::new();
    for c in samples.chunks(rate as usize / 50) {
        listener.push(c, &mut heard);
    }
    listener.finish(&mut heard);
    heard
        .into_iter()
        .filter_map(|h| match h {
            Heard::CallerId { message, .. } => Some(message),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short sweep (the full one is `examples/bench_cid.rs`): clean
    /// signals always decode, and nothing wrong is ever accepted.
    #[test]
    fn noise_never_makes_a_wrong_caller_id() {
        for standard in [CidStandard::Bell202, CidStandard::V23, CidStandard::Dtmf] {
            let rows = sweep(standard, 8000, &[20, 12, 0], 30, 7);
            assert_eq!(rows[0].exact, 30, "{standard:?} {rows:?}");
            assert!(rows[1].exact >= 25, "{standard:?} {rows:?}");
            assert!(
                rows.iter().all(|r| r.wrong_accepted == 0),
                "{standard:?} {rows:?}"
            );
        }
    }
}
