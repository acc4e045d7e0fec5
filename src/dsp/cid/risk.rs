//! How likely a caller ID read from line audio is wrong although its
//! checksum holds: each data bit's confidence becomes a chance of error
//! (by the line's noise, which the message tells by itself, and by the
//! UART that read it), and the message is refused when two errors could
//! cancel out in the checksum with a chance over the scanner's limit.

use super::{BitDoubts, MDMF, SDMF};

/// How likely a message's bit decisions are wrong, by their confidence
/// c: `near_zero`·e^(−c/`scale`) + 10⁻⁴, the floor for bits read
/// confidently wrong after the phase slipped. The noisier the line, the
/// likelier a middling call is wrong: the scale follows the message's
/// 10th-percentile bit confidence, which tells the line's SNR from the
/// message itself. Measured over 7,000 messages of each FSK standard at
/// 3-10 dB, grouped by that percentile (each group's figure the larger of
/// the two standards'): coherent decisions 0.3 and a scale of 0.13 at 0.4
/// and below (3 dB), 0.105 at 0.5 (4 dB), 0.08 at 0.6 (6 dB), 0.055 at
/// 0.7 (8 dB); decisions by the tones' energies 0.5 and 0.12 at 0.5, 0.11
/// at 0.6, 0.085 at 0.7, taken as the coherent scale + 0.035, at or
/// above each (with the coherent model they let a wrong caller ID
/// through at 5 dB). The coherent scale stays within 0.045-0.13 beyond
/// the measured range, and no chance is taken above one half.
pub struct ErrorModel {
    near_zero: f64,
    scale: f64,
}

impl ErrorModel {
    /// The model for one message's bits, by its low decile and by the
    /// UART that read it (public for `examples/cid_headroom.rs`, which
    /// sets it beside the error rates it measures).
    pub fn for_message(doubts: &[BitDoubts]) -> ErrorModel {
        let low_decile = f64::from(low_decile(doubts));
        let coherent = (0.13 - 0.25 * (low_decile - 0.4)).clamp(0.045, 0.13);
        if doubts.iter().any(|d| d.by_energy) {
            ErrorModel {
                near_zero: 0.5,
                scale: coherent + 0.035,
            }
        } else {
            ErrorModel {
                near_zero: 0.3,
                scale: coherent,
            }
        }
    }

    /// How likely a decision of `confidence` is wrong. A character from a
    /// box's serial line (confidence 1) is never wrong.
    pub fn chance(&self, confidence: f32) -> f64 {
        if confidence >= 1.0 {
            return 0.0;
        }
        (self.near_zero * (-f64::from(confidence) / self.scale).exp() + 1e-4).min(0.5)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_surer_bit_is_less_likely_wrong() {
        let message = |c: f32, by_energy: bool| {
            vec![
                BitDoubts {
                    confidence: [c; 8],
                    by_energy,
                };
                20
            ]
        };
        for by_energy in [false, true] {
            for line in [0.2, 0.5, 0.9] {
                let model = ErrorModel::for_message(&message(line, by_energy));
                let chances: Vec<f64> = [0.0, 0.1, 0.3, 0.6, 0.99, 1.0]
                    .map(|c| model.chance(c))
                    .to_vec();
                assert!(chances.windows(2).all(|w| w[0] > w[1]), "{chances:?}");
                assert!(chances[0] <= 0.5 && chances[4] >= 1e-4 && chances[5] == 0.0);
            }
            // On a noisier line (a lower 10th percentile) a middling call
            // is likelier wrong.
            let noisy = ErrorModel::for_message(&message(0.2, by_energy));
            let clean = ErrorModel::for_message(&message(0.9, by_energy));
            assert!(noisy.chance(0.3) > 5.0 * clean.chance(0.3));
        }
        // A decision by the energies is likelier wrong than a coherent one.
        let coherent = ErrorModel::for_message(&message(0.6, false));
        let by_energy = ErrorModel::for_message(&message(0.6, true));
        assert!(by_energy.chance(0.3) > 2.0 * coherent.chance(0.3));
    }
}
