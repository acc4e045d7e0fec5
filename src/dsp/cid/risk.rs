//! How likely a caller ID read from line audio is wrong although its
//! checksum holds: each data bit's confidence becomes a chance of error
//! (by the line's noise, which the message tells by itself, and by the
//! UART that read it), and the message is refused when two errors could
//! cancel out in the checksum with a chance over the scanner's limit. The
//! same chances mend a message one bit wrong, when one bit is far the
//! likeliest to be it.

use super::{BitDoubts, BitReader, MDMF, SDMF};
use crate::dsp::fsk::FskStandard;

/// The confidence bins the coherent UART's error rates are measured in
/// (a bin holds `[edge, next edge)`).
pub const CONFIDENCE_EDGES: [f32; 17] = [
    0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1.01,
];
/// The bins of a message's 10th-percentile bit confidence (how noisy the
/// line was, as the message tells it) the rates are measured in.
pub const DECILE_EDGES: [f32; 5] = [0.0, 0.45, 0.55, 0.65, 1.01];

/// The bin of `edges` that holds `v`.
pub fn bin(edges: &[f32], v: f32) -> usize {
    edges
        .windows(2)
        .position(|w| v >= w[0] && v < w[1])
        .unwrap_or(edges.len() - 2)
}

/// Rates measured for one standard's coherent bits: by decile bin
/// (rows), by confidence bin (columns).
type Rates = [[f64; CONFIDENCE_EDGES.len() - 1]; DECILE_EDGES.len() - 1];

/// How likely a message's bit decisions are wrong, by their confidence.
pub enum ErrorModel {
    /// The coherent UART's bits: the rates measured for the message's
    /// standard and noise. `cid_headroom calibration 4000` measures them
    /// on 20,000 messages a standard at 3-7 dB (Bell 202) and 4-8 dB
    /// (V.23) and prints these tables; each cell is an upper estimate,
    /// (wrong + 2.3) / bits (the 90 % bound when none was wrong), no
    /// smaller than a surer bin's, nor than 10⁻⁵.
    /// A bit the phase tracker found slipped has confidence 0: about
    /// one in two is wrong.
    Measured(&'static [f64; CONFIDENCE_EDGES.len() - 1]),
    /// Bits decided by the tones' energies: `near_zero`·e^(−c/`scale`) +
    /// 10⁻⁴, the scale following the message's low decile (0.165 at 0.4
    /// and below, 0.09 at 0.7), as measured over 7,000 messages of each
    /// standard at 3-10 dB.
    Exponential { near_zero: f64, scale: f64 },
}

impl ErrorModel {
    /// The model for one message's bits, by its low decile and by who
    /// read them (public for `examples/cid_headroom.rs`, which sets it
    /// beside the error rates it measures).
    pub fn for_message(doubts: &[BitDoubts]) -> ErrorModel {
        let low_decile = low_decile(doubts);
        let standard = doubts.iter().try_fold(None, |found, d| match d.reader {
            BitReader::ByEnergy => Err(()),
            BitReader::Coherent(s) => Ok(Some(s)),
            BitReader::Serial => Ok(found),
        });
        match standard {
            Ok(standard) => {
                let rates = match standard.unwrap_or(FskStandard::Bell202) {
                    FskStandard::Bell202 => &BELL202_COHERENT,
                    FskStandard::V23 => &V23_COHERENT,
                };
                ErrorModel::Measured(&rates[bin(&DECILE_EDGES, low_decile)])
            }
            Err(()) => ErrorModel::Exponential {
                near_zero: 0.5,
                scale: (0.165 - 0.25 * (f64::from(low_decile) - 0.4)).clamp(0.08, 0.165),
            },
        }
    }

    /// How likely a decision of `confidence` is wrong. A character from a
    /// box's serial line (confidence 1) is never wrong.
    pub fn chance(&self, confidence: f32) -> f64 {
        if confidence >= 1.0 {
            return 0.0;
        }
        match self {
            ErrorModel::Measured(rates) => rates[bin(&CONFIDENCE_EDGES, confidence)].min(0.5),
            ErrorModel::Exponential { near_zero, scale } => {
                (near_zero * (-f64::from(confidence) / scale).exp() + 1e-4).min(0.5)
            }
        }
    }
}

/// The coherent UART's Bell 202 error rates (see [`ErrorModel::Measured`]).
const BELL202_COHERENT: Rates = [
    [
        3.9e-1, 1.1e-1, 4.3e-2, 1.3e-2, 4.7e-3, 4.7e-3, 4.7e-3, 4.7e-3, 2.7e-3, 2.1e-3, 1.2e-3,
        7.9e-4, 5.4e-4, 3.7e-4, 2.2e-4, 2.2e-4,
    ],
    [
        3.4e-1, 8.5e-2, 2.3e-2, 7.2e-3, 3.1e-3, 3.1e-3, 2.5e-3, 1.6e-3, 1.2e-3, 1.2e-3, 4.5e-4,
        4.5e-4, 3.3e-4, 1.4e-4, 6.9e-5, 5.4e-5,
    ],
    [
        2.7e-1, 5.2e-2, 1.7e-2, 4.0e-3, 1.3e-3, 7.0e-4, 5.9e-4, 5.9e-4, 4.0e-4, 1.2e-4, 1.2e-4,
        5.6e-5, 5.2e-5, 1.6e-5, 1.0e-5, 1.0e-5,
    ],
    [
        1.5e-1, 3.8e-2, 1.1e-2, 2.1e-3, 1.3e-3, 9.4e-4, 8.0e-4, 6.5e-4, 4.0e-4, 3.7e-4, 1.6e-4,
        1.1e-4, 2.9e-5, 1.4e-5, 1.0e-5, 1.0e-5,
    ],
];
/// The coherent UART's V.23 error rates (see [`ErrorModel::Measured`]).
const V23_COHERENT: Rates = [
    [
        5.0e-1, 9.0e-2, 2.9e-2, 1.1e-2, 8.3e-3, 4.1e-3, 4.1e-3, 4.1e-3, 3.0e-3, 2.6e-3, 2.6e-3,
        1.7e-3, 7.8e-4, 6.3e-4, 5.9e-4, 5.9e-4,
    ],
    [
        5.0e-1, 6.9e-2, 1.2e-2, 3.9e-3, 1.8e-3, 1.7e-3, 8.2e-4, 7.8e-4, 7.8e-4, 5.5e-4, 3.8e-4,
        2.5e-4, 1.2e-4, 1.2e-4, 1.2e-4, 1.1e-4,
    ],
    [
        5.0e-1, 5.3e-2, 6.1e-3, 2.7e-3, 1.1e-3, 4.0e-4, 3.1e-4, 1.7e-4, 1.3e-4, 1.3e-4, 6.8e-5,
        6.3e-5, 1.5e-5, 1.0e-5, 1.0e-5, 1.0e-5,
    ],
    [
        5.0e-1, 5.0e-1, 2.1e-1, 5.3e-2, 1.1e-2, 3.4e-3, 1.7e-3, 1.1e-3, 7.9e-4, 5.3e-4, 3.4e-4,
        1.9e-4, 3.9e-5, 1.7e-5, 1.5e-5, 1.5e-5,
    ],
];

/// The 10th-percentile confidence of a message's data bits: how noisy
/// the line was, as the message tells it.
pub fn low_decile(doubts: &[BitDoubts]) -> f32 {
    let mut all: Vec<f32> = doubts.iter().flat_map(|d| d.confidence).collect();
    if all.is_empty() {
        return 1.0;
    }
    let k = all.len() / 10;
    *all.select_nth_unstable_by(k, f32::total_cmp).1
}

/// The message types exchanges send (Bellcore SDMF and MDMF caller ID
/// and message waiting; ETSI's also charge information and SMS): a type
/// byte read as a caller ID's can only be wrong in a bit that turns it
/// into one of these (bit 1: message waiting, 0x06 or 0x82).
const TYPES_SENT: [u8; 6] = [SDMF, 0x06, MDMF, 0x82, 0x86, 0x89];

/// The chance that two of the message's bits were read wrong in a way
/// the checksum cannot see: the same bit, a 0 read in one character and
/// a 1 in another (or bit 7 in any two, ±128 ± 128 being 0 mod 256).
/// Every bit counts, even where the other value could not be (a digit
/// turned into a letter): leaving those out let wrong caller IDs through
/// (2 in 5,000 at 5 dB), the model being no better than its calibration.
/// The one exception is the type byte, whose value is fixed by what
/// exchanges send: a turned bit there would make a type none sends (the
/// first character after the mark is often the least sure, its start
/// timed from one edge; leaving its impossible bits out took spandsp's
/// V.23 at 6 dB from 78 to 82 % and Bell 202 at 5 dB from 63 to 65 %,
/// with 0 wrong in a 100,000-trial hunt and 75,000 trials at 3-7 dB).
pub(super) fn risk_of_cancelling_pair(bytes: &[u8], doubts: &[BitDoubts]) -> f64 {
    // By bit and value read: the sum of the chances (and for bit 7 of
    // their squares, to leave out a bit paired with itself).
    let model = ErrorModel::for_message(doubts);
    let mut sums = [[0.0f64; 2]; 8];
    let mut squares = 0.0;
    for (i, (byte, d)) in bytes.iter().zip(doubts).enumerate() {
        for (j, sum) in sums.iter_mut().enumerate() {
            if i == 0 && !TYPES_SENT.contains(&(byte ^ 1 << j)) {
                // The type byte read is a caller ID's (the scanner looks
                // for no other); with this bit turned it would be a type
                // no exchange sends, so the true byte is as read.
                continue;
            }
            let p = model.chance(d.confidence[j]);
            sum[usize::from(byte >> j & 1)] += p;
            if j == 7 {
                squares += p * p;
            }
        }
    }
    let opposite: f64 = sums[..7].iter().map(|s| s[0] * s[1]).sum();
    let sevens = sums[7][0] + sums[7][1];
    opposite + (sevens * sevens - squares) / 2.0
}

/// A message whose checksum fails by what one wrong bit would make it
/// fail by, mended: of the bits whose turning makes the checksum hold and
/// the message `plausible` (the length byte never: it says where the
/// message ends), the likeliest wrong by the error model, with the chance
/// that the mending is wrong: the other such bits' chances, those of
/// every pair of bits whose errors would leave the same sum and
/// [`OTHER_CAUSES`], over all of them and the chosen bit's. `None` when
/// no bit can mend it. (Public for `examples/cid_headroom.rs`, which asks
/// it whether a message misread would have been mended.)
pub fn mend_one_bit(
    bytes: &[u8],
    doubts: &[BitDoubts],
    plausible: impl Fn(&[u8]) -> bool,
) -> Option<Mending> {
    let model = ErrorModel::for_message(doubts);
    let residual = bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    // Each bit's share of the sum if it was read wrong, and its chance.
    let bits: Vec<(usize, usize, u8, f64)> = bytes
        .iter()
        .zip(doubts)
        .enumerate()
        .flat_map(|(i, (byte, d))| {
            let model = &model;
            (0..8).map(move |j| {
                let share = match byte >> j & 1 {
                    1 => 1u8 << j,
                    _ => 0u8.wrapping_sub(1 << j),
                };
                (i, j, share, model.chance(d.confidence[j]))
            })
        })
        .collect();
    let mut likeliest: Option<(usize, usize, f64)> = None;
    let mut singles = 0.0;
    let mut fixed = bytes.to_vec();
    for &(i, j, share, p) in &bits {
        if share != residual || i == 1 {
            continue;
        }
        fixed[i] ^= 1 << j;
        if plausible(&fixed) {
            singles += p;
            if likeliest.is_none_or(|(_, _, q)| p > q) {
                likeliest = Some((i, j, p));
            }
        }
        fixed[i] ^= 1 << j;
    }
    let (i, j, p) = likeliest?;
    // Pairs by their shares (sums of chances and of their squares, by
    // share): linear in the message's length.
    let mut by_share = [(0.0f64, 0.0f64); 256];
    for &(_, _, share, p) in &bits {
        by_share[usize::from(share)].0 += p;
        by_share[usize::from(share)].1 += p * p;
    }
    let pairs: f64 = (0..=255u8)
        .map(|v| {
            let w = residual.wrapping_sub(v);
            let (sum, squares) = by_share[usize::from(v)];
            match v.cmp(&w) {
                std::cmp::Ordering::Less => sum * by_share[usize::from(w)].0,
                std::cmp::Ordering::Equal => (sum * sum - squares) / 2.0,
                std::cmp::Ordering::Greater => 0.0,
            }
        })
        .sum();
    let all = singles + pairs + OTHER_CAUSES;
    fixed[i] ^= 1 << j;
    Some(Mending {
        bytes: fixed,
        byte: i,
        bit: j as u8,
        risk: (all - p) / all,
    })
}

/// A message mended in one bit (see [`mend_one_bit`]).
#[derive(Debug)]
pub struct Mending {
    /// The message with the bit turned.
    pub bytes: Vec<u8>,
    /// Where the bit is: the byte's index and the bit's.
    pub byte: usize,
    pub bit: u8,
    /// The chance that the mending is wrong.
    pub risk: f64,
}

/// The chance that a checksum failed for a cause other than independent
/// bit errors (a character lost or framed twice, a sender of the other
/// standard read by this one's demodulator) and yet one bit's turning
/// makes a plausible message of it: only a bit likelier wrong than about
/// 2 % is mended. A 300,000-trial hunt found a Bell 202 caller ID, one
/// character lost at a 2.4 % baud offset, read by the V.23 reader and
/// "mended" in a bit whose chance was 1.3·10⁻⁴, no other bit plausible.
const OTHER_CAUSES: f64 = 2e-5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_surer_bit_is_less_likely_wrong() {
        let message = |c: f32, reader: BitReader| {
            vec![
                BitDoubts {
                    confidence: [c; 8],
                    reader,
                };
                20
            ]
        };
        let readers = [
            BitReader::Coherent(FskStandard::Bell202),
            BitReader::Coherent(FskStandard::V23),
            BitReader::ByEnergy,
        ];
        for reader in readers {
            for line in [0.2, 0.5, 0.6, 0.9] {
                let model = ErrorModel::for_message(&message(line, reader));
                let chances: Vec<f64> = [0.0, 0.1, 0.3, 0.6, 0.99, 1.0]
                    .map(|c| model.chance(c))
                    .to_vec();
                assert!(chances.windows(2).all(|w| w[0] >= w[1]), "{chances:?}");
                assert!(chances[0] > 10.0 * chances[3], "{reader:?}: {chances:?}");
                assert!(chances[0] <= 0.5 && chances[4] >= 1e-5 && chances[5] == 0.0);
            }
            // On a noisier line (a lower 10th percentile) a middling call
            // is likelier wrong. (On the cleanest lines middling calls are
            // too rare for their bound to be as small.)
            let noisy = ErrorModel::for_message(&message(0.2, reader));
            let clean = ErrorModel::for_message(&message(0.6, reader));
            assert!(noisy.chance(0.3) > 2.0 * clean.chance(0.3), "{reader:?}");
        }
        // A decision by the energies is likelier wrong than a coherent one.
        for standard in [FskStandard::Bell202, FskStandard::V23] {
            let coherent = ErrorModel::for_message(&message(0.6, BitReader::Coherent(standard)));
            let by_energy = ErrorModel::for_message(&message(0.6, BitReader::ByEnergy));
            assert!(by_energy.chance(0.3) > 2.0 * coherent.chance(0.3));
        }
    }

    #[test]
    fn only_a_doubtful_bit_is_mended_even_when_no_other_would_do() {
        // A message with one bit wrong, the only bit whose turning makes
        // the message the plausibility check accepts.
        let sent: Vec<u8> = {
            let mut m = vec![0x04, 18];
            m.extend(b"120610301380013800");
            m.push(0u8.wrapping_sub(m.iter().fold(0u8, |a, b| a.wrapping_add(*b))));
            m
        };
        let mut read = sent.clone();
        read[7] ^= 1 << 2;
        let only_the_truth = |b: &[u8]| b == sent.as_slice();
        let sure = BitDoubts {
            confidence: [0.95; 8],
            reader: BitReader::Coherent(FskStandard::Bell202),
        };
        let with = |confidence: f32| {
            let mut doubts = vec![sure; read.len()];
            doubts[7].note(2, confidence);
            doubts
        };
        // A close call: far the likeliest, and likely enough to be wrong.
        let mended = mend_one_bit(&read, &with(0.02), only_the_truth).unwrap();
        assert_eq!(
            (mended.bytes, mended.byte, mended.bit),
            (sent.clone(), 7, 2)
        );
        assert!(mended.risk < 1e-3, "{}", mended.risk);
        // A bit read fairly surely is rarely wrong: a failed checksum is
        // then likelier something else (a lost character, the other
        // standard's signal) that one turned bit happens to mend.
        let risk = mend_one_bit(&read, &with(0.45), only_the_truth)
            .unwrap()
            .risk;
        assert!(risk > 1e-2, "{risk}");
    }
}
