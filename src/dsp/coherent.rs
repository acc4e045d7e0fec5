//! Coherent bit decisions for continuous-phase FSK.
//!
//! A caller-ID sender keeps its oscillator's phase continuous from bit to
//! bit, so once the phase of the mark tone is known (from the mark bits
//! before each start bit), the phase each tone must have in the next bit
//! follows from where the bit boundary is. Comparing the signal with both
//! tones *at those phases* (rather than comparing their energies whatever
//! the phase) halves the noise that counts and uses the tones' negative
//! correlation over a bit: about 2 dB more than an energy detector at the
//! error rates a whole caller ID needs. The phase is followed bit by bit
//! (decision-directed, with a second-order loop for a sender whose tones
//! are off by a few per cent). A bit too close to call alone is decided
//! over two: each of its values predicts the next bit's phase, and the
//! next bit's samples tell which prediction holds.
//!
//! The tracker keeps, for the last few bits' worth of samples, each
//! sample multiplied by both tones' reference oscillators (the products
//! the energy detector sums anyway), so a bit's correlation over any
//! fractional window is a weighted sum of them.

use std::f64::consts::{PI, TAU};

/// How much of a bit's measured phase error corrects the reference when
/// the tone continues.
const PHASE_GAIN: f64 = 0.35;
/// The same after a change of tone, whose predicted phase is only as good
/// as the bit clock's boundary (a sample off turns it by 45° in Bell 202).
const TRANSITION_GAIN: f64 = 0.8;
/// How much of it corrects the sender's frequency error, over the bits
/// between the two measurements: large at first, to find a sender a few
/// per cent off within a character or two, then small, since a bit's
/// phase is measured over a few samples and a sender's frequency is
/// steady (a gain that stays large follows the noise).
const DRIFT_GAIN: (f64, f64) = (0.04, 0.002);
/// Over how many measurements the drift gain falls by half.
const DRIFT_SETTLING: f64 = 16.0;
/// The frequency error the loop may assume (the standards allow ±1 %;
/// real exchanges stray further).
const MAX_DRIFT: f64 = 0.05;
/// When the tones' energies favour the other tone by this margin (of
/// their magnitudes' sum) over a coherent decision, the phase has slipped:
/// 0.2 kept the most caller IDs at 5 dB in Bell 202 and 6 dB in V.23.
const SLIPPED: f64 = 0.2;
/// At a change of tone the new tone's predicted phase is only as good as
/// the boundary's timing (a sample off turns it by 36° in V.23, 45° in
/// Bell 202): its projection forgives this much of the angle (radians).
/// 0.45 read the bytes of 92 % of spandsp's V.23 caller IDs at 6 dB
/// right (83 % without; 0.3 and 0.6 a little less, 0.8 and more lost
/// ground), Bell 202 at 5 dB 80 % (73 %).
const TRANSITION_TOLERANCE: f64 = 0.45;
/// A bit whose own margin (of its tones' magnitudes' sum) is below this
/// is decided over two bits: the phase is continuous, so each value of
/// the bit predicts the next bit's phase, and the next bit's samples tell
/// which prediction holds. An ideal receiver given the true phase and
/// clock reads 93 % of Bell 202 caller IDs at 5 dB right deciding each
/// bit alone, 99 % over two bits (`examples/cid_headroom.rs`); here the
/// bytes of spandsp's read right went from 78 to 86 % (V.23 at 6 dB from
/// 90 to 95 %). Surer bits are not looked past: the next bit hardly ever
/// turns them (0.4 and 0.6 read as many), and looking past every bit
/// cost a fifth of the demodulator's speed, past these about 5 %.
const LOOK_AHEAD_BELOW: f64 = 0.4;
/// A reference older than this many bits is measured afresh.
const STALE_BITS: f64 = 24.0;

/// The phase of the tone the last bit carried, at that bit's centre.
#[derive(Debug, Clone, Copy)]
struct Reference {
    mark: bool,
    /// The correlation's direction (a unit phasor): the signal's phase
    /// less the reference oscillator's at the same sample. Phasors rather
    /// than angles: a bit's decision then needs one sine and cosine.
    phasor: (f64, f64),
    centre: f64,
}

/// Coherent decisions over a history of tone products.
pub(super) struct PhaseTracker {
    /// Radians a sample of the mark and space tones.
    omega: (f64, f64),
    /// Per sample: the sample times the mark and the space oscillator.
    products: Vec<[(f64, f64); 2]>,
    /// The sample index the next product will have.
    next: u64,
    /// Where in `products` it goes (`next` modulo its length).
    slot: usize,
    reference: Option<Reference>,
    /// The sender's tones' fractional frequency error, as tracked.
    drift: f64,
    /// Measurements of the drift since the phase was last lost.
    drift_seen: u32,
    per_bit: f64,
}

/// A coherent bit decision.
#[derive(Debug, Clone, Copy)]
pub(super) struct Decision {
    pub one: bool,
    /// The margin between the two tones' coherent correlations over their
    /// magnitudes' sum: near 1 for a clean bit, near 0 when it is a guess.
    pub confidence: f64,
    /// After a change of tone: how many samples later than assumed the
    /// sender changed it (the phase error over the tones' frequency
    /// difference), for the bit clock.
    pub boundary_error: Option<f64>,
}

impl PhaseTracker {
    /// For tones of `mark` and `space` Hz at `rate`, keeping enough history
    /// for `per_bit` samples a bit.
    pub fn new(mark: f64, space: f64, rate: u32, per_bit: f64) -> PhaseTracker {
        let per_sample = 2.0 * PI / f64::from(rate);
        let history = (per_bit * 4.0).ceil() as usize + 8;
        PhaseTracker {
            omega: (mark * per_sample, space * per_sample),
            products: vec![[(0.0, 0.0); 2]; history],
            next: 0,
            slot: 0,
            reference: None,
            drift: 0.0,
            drift_seen: 0,
            per_bit,
        }
    }

    /// Records the next sample's products with the mark and space
    /// oscillators (`x·e^{-jωn}`).
    pub fn record(&mut self, mark: (f64, f64), space: (f64, f64)) {
        self.products[self.slot] = [mark, space];
        self.slot += 1;
        if self.slot == self.products.len() {
            self.slot = 0;
        }
        self.next += 1;
    }

    /// Forgets the phase: the carrier dropped, and the next burst is
    /// another sender's.
    pub fn reset(&mut self) {
        self.reference = None;
        self.drift = 0.0;
        self.drift_seen = 0;
    }

    /// Measures the mark tone over `[from, to)` (the mark before a start
    /// bit), corrects the reference with it, and returns whether it
    /// could (the window still in the history).
    pub fn anchor_mark(&mut self, from: f64, to: f64) -> bool {
        let Some((z, _)) = self.correlate(from, to) else {
            return false;
        };
        let centre = (from + to) / 2.0;
        let since = self.reference.map(|r| (r.mark, centre - r.centre));
        if matches!(since, Some((true, span)) if span < self.per_bit / 2.0) {
            // The stop bit just decided was this very mark.
            return true;
        }
        let stale = since.is_none_or(|(mark, span)| !mark || span > STALE_BITS * self.per_bit);
        if stale {
            // A new message after a long mark: what was learnt before it
            // may have been learnt from noise.
            self.reset();
            self.reference = Some(Reference {
                mark: true,
                phasor: unit(z),
                centre,
            });
        } else {
            let predicted = self.predict(true, from, centre);
            self.follow(true, predicted, z, centre);
        }
        true
    }

    /// Decides the bit over `[from, to)`, which starts where the previous
    /// decided bit (or the anchoring mark) ended, looking on to the bit
    /// over `[to, next)` when its samples are in (see
    /// [`LOOK_AHEAD_BELOW`]); `None` without a reference or history, when
    /// the caller falls back to energies.
    pub fn decide(&mut self, from: f64, to: f64, next: Option<f64>) -> Option<Decision> {
        self.reference?;
        let previous = self.reference.map(|r| r.mark);
        let (zm, zs) = self.correlate(from, to)?;
        let centre = (from + to) / 2.0;
        let mark_phase = self.predict(true, from, centre);
        let space_phase = self.predict(false, from, centre);
        // The decision forgives the new tone some of its angle at a
        // change of tone. The confidence of a bit decided alone is the
        // strict projections' margin when they decide alike, else the
        // forgiving projections' own, which is small exactly when the
        // forgiveness decided the bit; of a bit decided over two, the two
        // bits' margin over both bits' magnitudes. The scanner's error
        // model is measured on these (`cid::risk`).
        let forgiven = |mark: bool| match previous {
            Some(p) if p != mark => TRANSITION_TOLERANCE,
            _ => 0.0,
        };
        let mut tm = toward(zm, mark_phase, forgiven(true));
        let mut ts = toward(zs, space_phase, forgiven(false));
        let cm = dot(zm, mark_phase);
        let cs = dot(zs, space_phase);
        let (am, as_) = (magnitude(zm), magnitude(zs));
        let scale = am + as_;
        let ratio = |a: f64, b: f64| if scale > 0.0 { (a - b) / scale } else { 0.0 };
        let mut over_two = None;
        if ratio(tm, ts).abs() < LOOK_AHEAD_BELOW {
            if let Some((after_mark, after_space, next_scale)) = next
                .and_then(|next| self.continuations((mark_phase, space_phase), centre, to, next))
            {
                // Each value's evidence is its own bit's and its best
                // continuation's, and so is the confidence.
                tm += after_mark;
                ts += after_space;
                over_two = Some(scale + next_scale);
            }
        }
        let by_energy = ratio(am, as_);
        let mut one = tm > ts;
        let mut confidence = match over_two {
            Some(both) if both > 0.0 => ((tm - ts) / both).abs(),
            _ if (cm > cs) == one => ratio(cm, cs).abs(),
            _ => ratio(tm, ts).abs(),
        };
        let error = if (by_energy > 0.0) != one && by_energy.abs() > SLIPPED {
            // The energies say clearly the other tone: the reference has
            // slipped (a wrong decision followed in noise), and every bit
            // after would be read inverted. The energies decide, and the
            // phase is measured afresh from this bit. Such a bit is wrong
            // about one time in two, whatever the energies' margin: a
            // confidence of none.
            one = by_energy > 0.0;
            confidence = 0.0;
            let (z, predicted) = if one {
                (zm, mark_phase)
            } else {
                (zs, space_phase)
            };
            self.reference = Some(Reference {
                mark: one,
                phasor: unit(z),
                centre,
            });
            angle_between(z, predicted)
        } else if one {
            self.follow(true, mark_phase, zm, centre)
        } else {
            self.follow(false, space_phase, zs, centre)
        };
        // The prediction turns by (ω_prev − ω_next) a sample the boundary
        // moves.
        let boundary_error = previous
            .filter(|&p| p != one)
            .map(|p| error / (self.tone(p) - self.tone(one)));
        Some(Decision {
            one,
            confidence,
            boundary_error,
        })
    }

    /// How well the bit over `[to, next)` continues a bit centred at
    /// `centre` read as a mark and read as a space (their tones' predicted
    /// directions given): for each, the better of the next bit's two
    /// tones projected on the directions the continuous phase predicts.
    /// `None` when the next bit is not all in the history.
    fn continuations(
        &self,
        (mark_phase, space_phase): ((f64, f64), (f64, f64)),
        centre: f64,
        to: f64,
        next: f64,
    ) -> Option<(f64, f64, f64)> {
        let (zm, zs) = self.correlate(to, next)?;
        let next_centre = (to + next) / 2.0;
        // A change of tone at `to` turns the direction by ±(ω_mark −
        // ω_space)·to (as `predict` has it): one sine and cosine serve
        // both hypotheses; the drift's small turns are added after.
        let (sin, cos) = wrap((self.omega.0 - self.omega.1) * to).sin_cos();
        let best = |mark: bool, phasor: (f64, f64)| {
            let (this, other) = (self.tone(mark), self.tone(!mark));
            let same = rotate(phasor, self.drift * this * (next_centre - centre));
            let sin = if mark { sin } else { -sin };
            let changed = rotate(
                (
                    phasor.0 * cos - phasor.1 * sin,
                    phasor.0 * sin + phasor.1 * cos,
                ),
                self.drift * (this * (to - centre) + other * (next_centre - to)),
            );
            let (as_mark, as_space) = if mark {
                (
                    toward(zm, same, 0.0),
                    toward(zs, changed, TRANSITION_TOLERANCE),
                )
            } else {
                (
                    toward(zm, changed, TRANSITION_TOLERANCE),
                    toward(zs, same, 0.0),
                )
            };
            as_mark.max(as_space)
        };
        Some((
            best(true, mark_phase),
            best(false, space_phase),
            magnitude(zm) + magnitude(zs),
        ))
    }

    /// The direction tone `mark` must have at `centre` in a bit starting
    /// at `boundary`, the phase being continuous from the reference's bit.
    fn predict(&self, mark: bool, boundary: f64, centre: f64) -> (f64, f64) {
        let r = self.reference.expect("a reference");
        let w_prev = self.tone(r.mark);
        let w_next = self.tone(mark);
        // The signal's phase at the boundary (the reference's tone run on
        // to it), then seen by the next tone's oscillator; a sender off by
        // `drift` turns each tone's angle by drift·ω a sample.
        let turn = if r.mark == mark {
            self.drift * w_next * (centre - r.centre)
        } else {
            (w_prev - w_next) * boundary
                + self.drift * (w_prev * (boundary - r.centre) + w_next * (centre - boundary))
        };
        rotate(r.phasor, turn)
    }

    /// Corrects the reference and the drift with a measured correlation
    /// `z` of tone `mark` whose predicted angle was `predicted`; the
    /// measured error.
    fn follow(&mut self, mark: bool, predicted: (f64, f64), z: (f64, f64), centre: f64) -> f64 {
        let error = angle_between(z, predicted);
        let span = self
            .reference
            .filter(|r| r.mark == mark)
            .map_or(0.0, |r| centre - r.centre);
        let gain = if span > 0.0 {
            let (first, last) = DRIFT_GAIN;
            let gain = last
                + (first - last) * DRIFT_SETTLING / (DRIFT_SETTLING + f64::from(self.drift_seen));
            self.drift_seen = self.drift_seen.saturating_add(1);
            let drift = self.drift + gain * error / (self.tone(mark) * span);
            self.drift = drift.clamp(-MAX_DRIFT, MAX_DRIFT);
            PHASE_GAIN
        } else {
            TRANSITION_GAIN
        };
        self.reference = Some(Reference {
            mark,
            phasor: unit(rotate(predicted, gain * error)),
            centre,
        });
        error
    }

    fn tone(&self, mark: bool) -> f64 {
        if mark {
            self.omega.0
        } else {
            self.omega.1
        }
    }

    /// The sums of the mark's and the space's products over `[from, to)`
    /// (sample `n` standing for `[n − ½, n + ½)`, partly covered samples
    /// weighted by how much), or `None` if it is not all in the history.
    fn correlate(&self, from: f64, to: f64) -> Option<((f64, f64), (f64, f64))> {
        let first = (from + 0.5).floor().max(0.0) as u64;
        let last = (to - 0.5).ceil().max(0.0) as u64;
        let len = self.products.len() as u64;
        if last >= self.next || self.next - first > len || first > last {
            return None;
        }
        // Only the two end samples are partly inside: the samples between
        // are added whole, from one or two runs of the ring.
        let weight = |n: u64| {
            let cell = n as f64;
            (to.min(cell + 0.5) - from.max(cell - 0.5)).clamp(0.0, 1.0)
        };
        let (mut mark, mut space) = ((0.0, 0.0), (0.0, 0.0));
        let mut add = |[m, s]: [(f64, f64); 2], weight: f64| {
            mark.0 += weight * m.0;
            mark.1 += weight * m.1;
            space.0 += weight * s.0;
            space.1 += weight * s.1;
        };
        // Sample `next` goes to `self.slot`; those in the history are at
        // most `len` before it (a subtraction, not a division).
        let slot = |n: u64| {
            let back = (self.next - n) as usize;
            let size = self.products.len();
            if back <= self.slot {
                self.slot - back
            } else {
                self.slot + size - back
            }
        };
        add(self.products[slot(first)], weight(first));
        if last > first {
            let (start, count) = (slot(first + 1), (last - first - 1) as usize);
            let (run, wrapped) = if start + count <= self.products.len() {
                (&self.products[start..start + count], &self.products[..0])
            } else {
                let (head, tail) = self.products.split_at(start);
                (tail, &head[..start + count - self.products.len()])
            };
            for &products in run.iter().chain(wrapped) {
                add(products, 1.0);
            }
            add(self.products[slot(last)], weight(last));
        }
        Some((mark, space))
    }
}

/// How far `z` turns from `p` (the angle of z·conj(p)).
fn angle_between(z: (f64, f64), p: (f64, f64)) -> f64 {
    atan2_fast(z.1 * p.0 - z.0 * p.1, z.0 * p.0 + z.1 * p.1)
}

/// `z` scaled to length 1 (or the real unit, if it is 0).
fn unit(z: (f64, f64)) -> (f64, f64) {
    let m = magnitude(z);
    if m > 0.0 {
        (z.0 / m, z.1 / m)
    } else {
        (1.0, 0.0)
    }
}

/// `p` turned by `angle` radians: by series for the small turns a loop
/// makes (within 2·10⁻⁶ below half a radian), by `sin_cos` beyond.
fn rotate(p: (f64, f64), angle: f64) -> (f64, f64) {
    let (sin, cos) = if angle.abs() < 0.5 {
        let a2 = angle * angle;
        (
            angle * (1.0 - a2 / 6.0 * (1.0 - a2 / 20.0)),
            1.0 - a2 / 2.0 * (1.0 - a2 / 12.0 * (1.0 - a2 / 30.0)),
        )
    } else {
        wrap(angle).sin_cos()
    };
    (p.0 * cos - p.1 * sin, p.0 * sin + p.1 * cos)
}

/// The angle of (x, y) within 0.004 rad: a phase error needs no more, and
/// a bit's decision costs a quarter less without libm's `atan2`.
fn atan2_fast(y: f64, x: f64) -> f64 {
    let (ax, ay) = (x.abs(), y.abs());
    if ax == 0.0 && ay == 0.0 {
        return 0.0;
    }
    let steep = ay > ax;
    let a = if steep { ax / ay } else { ay / ax };
    // atan(a) on [0, 1].
    let mut r = a * (std::f64::consts::FRAC_PI_4 + 0.273 * (1.0 - a));
    if steep {
        r = std::f64::consts::FRAC_PI_2 - r;
    }
    if x < 0.0 {
        r = PI - r;
    }
    if y < 0.0 {
        -r
    } else {
        r
    }
}

fn magnitude(z: (f64, f64)) -> f64 {
    // Correlations are far from overflow: no need for `hypot`'s care.
    (z.0 * z.0 + z.1 * z.1).sqrt()
}

/// `z` projected on the unit phasor `p`, its angle from it first shrunk
/// by `tolerance` (radians, below π/2): cos(θ − t) expanded, so no
/// arc tangent is taken at every change of tone.
fn toward(z: (f64, f64), p: (f64, f64), tolerance: f64) -> f64 {
    debug_assert!(tolerance < std::f64::consts::FRAC_PI_2);
    let along = dot(z, p);
    if tolerance <= 0.0 {
        return along;
    }
    let size = magnitude(z);
    let (sin_t, cos_t) = tolerance.sin_cos();
    if along >= size * cos_t {
        // Within the tolerance: all of it counts.
        return size;
    }
    let across = (z.1 * p.0 - z.0 * p.1).abs();
    along * cos_t + across * sin_t
}

/// The part of `z` in the direction of the unit phasor `p`.
fn dot(z: (f64, f64), p: (f64, f64)) -> f64 {
    z.0 * p.0 + z.1 * p.1
}

/// An angle brought into [−π, π] (by whole turns: faster than `fmod`,
/// and exact enough for the turns a day of samples makes).
fn wrap(a: f64) -> f64 {
    a - (a / TAU).round() * TAU
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forgiven_angle_counts_whole_and_the_rest_as_cos_of_what_is_left() {
        let p = (1.0, 0.0);
        let at = |deg: f64| {
            let r = deg.to_radians();
            (2.0 * r.cos(), 2.0 * r.sin())
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // No tolerance: the plain projection, either side.
        assert!(close(toward(at(60.0), p, 0.0), 1.0));
        assert!(close(toward(at(-60.0), p, 0.0), 1.0));
        // Within the tolerance: all of its length.
        assert!(close(toward(at(20.0), p, 0.45), 2.0));
        assert!(close(toward(at(-20.0), p, 0.45), 2.0));
        // Beyond it: |z|·cos(θ − t), on either side and past 90°.
        for deg in [40.0, -40.0, 120.0, -170.0] {
            let want = 2.0 * ((f64::abs(deg)).to_radians() - 0.45).cos();
            assert!(close(toward(at(deg), p, 0.45), want), "{deg}");
        }
        assert!(close(toward((0.0, 0.0), p, 0.45), 0.0));
    }

    fn tracker_with(signal: &[f64], mark: f64, space: f64) -> PhaseTracker {
        let rate = 8000;
        let mut t = PhaseTracker::new(mark, space, rate, 8000.0 / 1200.0);
        t.products = vec![[(0.0, 0.0); 2]; signal.len() + 1];
        for (n, &x) in signal.iter().enumerate() {
            let (wm, ws) = t.omega;
            let n = n as f64;
            t.record(
                (x * (wm * n).cos(), -x * (wm * n).sin()),
                (x * (ws * n).cos(), -x * (ws * n).sin()),
            );
        }
        t
    }

    /// Continuous-phase FSK of `bits`, each `per_bit` samples long.
    fn cpfsk(bits: &[bool], mark: f64, space: f64, offset: f64) -> Vec<f64> {
        let per_bit = 8000.0 / 1200.0;
        let total = (bits.len() as f64 * per_bit) as usize;
        let mut phase: f64 = 0.3;
        (0..total)
            .map(|n| {
                let bit = bits[(n as f64 / per_bit) as usize];
                let f = if bit { mark } else { space } * (1.0 + offset);
                let x = phase.cos();
                phase += 2.0 * PI * f / 8000.0;
                x
            })
            .collect()
    }

    #[test]
    fn continuous_phase_bits_are_read_back_with_full_confidence() {
        let per_bit = 8000.0 / 1200.0;
        for offset in [0.0, 0.025, -0.025] {
            // Marks, a seizure, marks, then data.
            let mut bits = vec![true; 8];
            bits.extend((0..150).map(|i| i % 2 == 1));
            bits.extend([true; 20]);
            let data = bits.len();
            bits.extend([
                false, true, true, false, false, true, false, true, false, false,
            ]);
            bits.extend([
                true, false, true, true, true, false, false, false, true, true,
            ]);
            let mut sent = bits.clone();
            sent.extend([true; 2]);
            let signal = cpfsk(&sent, 1200.0, 2200.0, offset);
            let mut t = tracker_with(&signal, 1200.0, 2200.0);
            assert!(t.anchor_mark(7.0 * per_bit, 8.0 * per_bit));
            for (k, &bit) in bits.iter().enumerate().skip(8) {
                let from = k as f64 * per_bit;
                let d = t.decide(from, from + per_bit, None).unwrap();
                assert_eq!(d.one, bit, "bit {k} at offset {offset}");
                assert!(k < data || d.confidence > 0.5, "bit {k}: {d:?}");
            }
        }
    }

    #[test]
    fn looking_on_to_the_next_bit_makes_fewer_errors_in_noise() {
        use rand::{Rng, SeedableRng};
        let per_bit = 8000.0 / 1200.0;
        for (mark, space) in [(1200.0, 2200.0), (1300.0, 2100.0)] {
            let mut rng = rand::rngs::StdRng::seed_from_u64(3);
            let mut bits = vec![true; 30];
            bits.extend((0..20_000).map(|_| rng.random::<bool>()));
            let mut sent = bits.clone();
            sent.extend([true; 2]);
            // White noise 4 dB under the tone (power ½ at amplitude 1).
            let sigma = (0.5 / 10f64.powf(0.4)).sqrt();
            let noisy: Vec<f64> = cpfsk(&sent, mark, space, 0.0)
                .into_iter()
                .map(|x| {
                    let u1: f64 = rng.random::<f64>().max(1e-300);
                    let u2: f64 = rng.random();
                    x + sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
                })
                .collect();
            let errors = |look_on: bool| {
                let mut t = tracker_with(&noisy, mark, space);
                assert!(t.anchor_mark(28.0 * per_bit, 29.0 * per_bit));
                (29..bits.len())
                    .filter(|&k| {
                        let from = k as f64 * per_bit;
                        let next = look_on.then_some(from + 2.0 * per_bit);
                        t.decide(from, from + per_bit, next).unwrap().one != bits[k]
                    })
                    .count()
            };
            let (alone, looking_on) = (errors(false), errors(true));
            assert!(
                3 * looking_on < 2 * alone,
                "{alone} bit by bit, {looking_on} looking on"
            );
        }
    }

    #[test]
    fn without_a_reference_or_history_there_is_no_decision() {
        let signal = cpfsk(&[true; 10], 1300.0, 2100.0, 0.0);
        let mut t = tracker_with(&signal, 1300.0, 2100.0);
        assert!(t.decide(10.0, 16.0, None).is_none());
        assert!(t.anchor_mark(10.0, 16.0));
        // Not yet heard.
        assert!(t.decide(66.0, 72.0, None).is_none());
        t.reset();
        assert!(t.decide(16.0, 22.0, None).is_none());
    }

    #[test]
    fn fast_angles_and_turns_are_close_to_libms() {
        for i in 0..3600 {
            let a = f64::from(i) / 3600.0 * 2.0 * PI - PI + 1e-9;
            let (s, c) = a.sin_cos();
            for r in [1e-6, 0.3, 40.0] {
                assert!((atan2_fast(r * s, r * c) - a).abs() < 0.004, "{a}");
            }
            let turned = rotate((1.0, 0.0), a);
            assert!(
                (turned.0 - c).abs() < 1e-5 && (turned.1 - s).abs() < 1e-5,
                "{a}"
            );
        }
        assert_eq!(atan2_fast(0.0, 0.0), 0.0);
    }

    #[test]
    fn angles_wrap_into_one_turn() {
        assert!((wrap(3.0 * PI).abs() - PI).abs() < 1e-12);
        assert!(wrap(1e9).abs() <= PI);
        assert!((wrap(-0.5) + 0.5).abs() < 1e-12);
        assert!((wrap(2.0 * PI + 0.25) - 0.25).abs() < 1e-12);
    }
}
