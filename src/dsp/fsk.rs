//! 1200-baud FSK as caller ID sends it: Bell 202 (mark 1200 Hz, space
//! 2200 Hz) and ITU-T V.23 (mark 1300 Hz, space 2100 Hz), framed 8N1 with
//! any number of extra stop (mark) bits between characters. Independent of
//! the sample rate (8 kHz and up).
//!
//! The demodulator correlates the signal with both tones over one bit time
//! (a matched filter for a bit); the tones' energies find the carrier and
//! the first start edge of a message. Two UARTs read the correlations. The
//! coherent one decides each bit against both tones at the phases the
//! sender's continuous phase gives them (`dsp::coherent`; a close bit
//! over two bits, so a bit later), times its clock by the phase at each
//! tone change and looks for the next character on the clock of the one
//! before. The other decides by the
//! tones' energies and times each character from its own start edge,
//! correcting its clock on every transition. The modulator writes test
//! signals with continuous phase.

use super::cid::{BitDoubts, BitReader};
use super::coherent::PhaseTracker;
use serde::Serialize;

/// Bits a second.
pub const BAUD: f64 = 1200.0;

/// The two FSK caller-ID standards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FskStandard {
    /// Bellcore GR-30 (North America, China's FSK boxes mostly).
    Bell202,
    /// ITU-T V.23 (ETSI EN 300 659, Europe).
    V23,
}

impl FskStandard {
    /// Mark (1) and space (0) frequencies in Hz.
    pub fn tones(self) -> (f64, f64) {
        match self {
            FskStandard::Bell202 => (1200.0, 2200.0),
            FskStandard::V23 => (1300.0, 2100.0),
        }
    }
}

/// How a test signal is made.
#[derive(Debug, Clone)]
pub struct FskSignal {
    pub standard: FskStandard,
    pub rate: u32,
    /// Peak amplitude, full scale 1.0.
    pub amplitude: f64,
    /// Alternating bits before the message (Bell: 300, ETSI: 300).
    pub seizure_bits: usize,
    /// Mark bits after the seizure (Bell: 180, ETSI: 80).
    pub mark_bits: usize,
    /// Extra stop bits after every character (0 to 10 in the field).
    pub extra_stop_bits: usize,
    /// Both tones shifted by this fraction (a sender's clock error).
    pub frequency_offset: f64,
}

impl FskSignal {
    /// The usual framing of `standard` at `rate`, at −13 dBm0-ish level.
    pub fn new(standard: FskStandard, rate: u32) -> FskSignal {
        FskSignal {
            standard,
            rate,
            amplitude: 0.3,
            seizure_bits: 300,
            mark_bits: 180,
            extra_stop_bits: 0,
            frequency_offset: 0.0,
        }
    }

    /// The samples of seizure, marks and `bytes` (8N1), with continuous phase.
    pub fn modulate(&self, bytes: &[u8]) -> Vec<f32> {
        let bits = self.line_bits(bytes);
        let (mark, space) = self.standard.tones();
        let per_bit = f64::from(self.rate) / BAUD;
        let total = (bits.len() as f64 * per_bit).round() as usize;
        let mut phase = 0.0f64;
        (0..total)
            .map(|n| {
                let bit = bits[((n as f64 / per_bit) as usize).min(bits.len() - 1)];
                let f = if bit { mark } else { space } * (1.0 + self.frequency_offset);
                phase += 2.0 * std::f64::consts::PI * f / f64::from(self.rate);
                (self.amplitude * phase.sin()) as f32
            })
            .collect()
    }

    /// The bits [`Self::modulate`] sends for `bytes`: the seizure, the
    /// marks, each byte framed 8N1 (with the extra stop bits), and a few
    /// marks so the last stop bit is whole.
    pub fn line_bits(&self, bytes: &[u8]) -> Vec<bool> {
        let mut bits = Vec::new();
        bits.extend((0..self.seizure_bits).map(|i| i % 2 == 1));
        bits.extend(std::iter::repeat_n(true, self.mark_bits));
        for &b in bytes {
            bits.push(false);
            bits.extend((0..8).map(|i| b >> i & 1 == 1));
            bits.extend(std::iter::repeat_n(true, 1 + self.extra_stop_bits));
        }
        bits.extend([true; 4]);
        bits
    }
}

/// A character the UART framed, and the sample it began at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FskByte {
    pub byte: u8,
    pub offset: u64,
    /// Whole bits of steady mark before its start bit: a message sent
    /// without channel seizure (call-waiting caller ID) follows 40 ms or
    /// more of mark, which tells it from noise.
    pub marks_before: u32,
    /// How sure the least certain of its ten bit decisions was (the
    /// tones' energy difference over their sum, 0 to 1): the energies'
    /// UART looks for the next character on the clock of a sure one only.
    pub confidence: f32,
    /// How sure each of its data bit decisions was, and which UART read
    /// it, for the frame scanner's weighing of a whole message.
    pub doubts: BitDoubts,
}

impl FskByte {
    /// Whether the coherent UART read it (see
    /// [`FskDemodulator::and_by_energy`]).
    pub fn coherent(&self) -> bool {
        matches!(self.doubts.reader, BitReader::Coherent(_))
    }
}

/// Below this confidence a character is weak (see [`FskByte::confidence`]).
pub const WEAK_CHARACTER: f32 = 0.15;

impl FskByte {
    /// Whether a bit of it was too close to call to be trusted.
    pub fn is_weak(&self) -> bool {
        self.confidence < WEAK_CHARACTER
    }
}

/// A streaming FSK demodulator for one standard: the tones' correlations,
/// shared by one or two UARTs (coherent, by energy).
pub struct FskDemodulator {
    /// The mark and the space tone's reference oscillators.
    mark: Oscillator,
    space: Oscillator,
    /// Over the last bit's window: the sample times each oscillator (the
    /// tones' correlations) and the signal's power, for carrier detection.
    window: Window,
    per_bit: f64,
    sample: u64,
    /// The last sample's tone energies (mark, space).
    last_energies: (f64, f64),
    /// Where the tone decision last changed sides (`crossings[0]`) and
    /// this sample, written as if it were a change (`crossings[1]`, kept
    /// by a swap when it is one).
    crossings: [Crossing; 2],
    /// How far after a tone change the energies' decision crosses zero
    /// (half the correlation window, in samples).
    lag: f64,
    framers: Vec<Framer>,
    /// The tones' power over a bit below which nothing is a carrier.
    squelch: f64,
    /// Samples since the carrier was last heard (infinite: never).
    missing: f64,
    /// How long the carrier is held after it was last heard, in samples
    /// (see [`CARRIER_HOLD_BITS`]).
    hold: f64,
}

/// One UART over the demodulator's correlations.
struct Framer {
    /// Whose error rates its coherent decisions have.
    standard: FskStandard,
    /// The tones' phases, for coherent bit decisions (none: decided by
    /// the tones' energies).
    phase: Option<PhaseTracker>,
    /// The sender's bit length as tracked over the burst: a real
    /// exchange's clock is off by up to a few per cent.
    bit_len: f64,
    /// Between characters, where the next bit on the last character's
    /// clock begins: the next start bit comes a whole number of bits after
    /// the last stop bit.
    last_stop: Option<f64>,
    /// The character under way was begun on the clock of the one before.
    on_clock: bool,
    /// The clock in `last_stop` is a weak character's: it is trusted for
    /// the one bit after it (see the stop bit's decision).
    weak_clock: bool,
    uart: Uart,
}

/// What every UART sees of one sample.
struct Moment<'a> {
    now: f64,
    /// The mark's and the space's energies over the window.
    energies: (f64, f64),
    /// The window before had more mark than space.
    last_mark: bool,
    last_crossing: &'a Crossing,
    /// The carrier, held through a short dip (see [`CARRIER_HOLD_BITS`]).
    carrier: bool,
    /// The carrier as this window alone has it.
    heard: bool,
    per_bit: f64,
    lag: f64,
}

/// Below this level (dBm0) FSK is line noise or crosstalk, never a caller
/// ID: the standards' receivers ignore signals under about −48 dBm0.
pub const SQUELCH_DBM0: f64 = -48.0;

enum Uart {
    /// Waiting for a mark-to-space edge.
    Idle { marks: f64 },
    /// In a character whose start edge was seen at `edge`, after `marks`
    /// samples of mark.
    Char {
        edge: f64,
        bits: u16,
        next: usize,
        marks: f64,
        /// The bit decided last (the start bit is a 0).
        previous: bool,
        /// Bits since the clock was last corrected by a transition.
        unchecked: u32,
        /// The least certain decision so far.
        least: f64,
        /// The data bits' confidences so far.
        doubts: BitDoubts,
    },
}

/// How much of a transition's timing error corrects the bit clock at once
/// (a first-order loop: noise moves it little, drift is followed).
const PHASE_GAIN: f64 = 0.15;
/// How much of the start bit's phase error corrects the edge that was
/// timed from the energies.
const START_GAIN: f64 = 0.6;
/// How much of it corrects the bit length, per bit since the last one.
const RATE_GAIN: f64 = 0.05;
/// How far the tracked bit length may stray from the nominal one.
const MAX_CLOCK_ERROR: f64 = 0.04;

/// The most mark bits between two characters of one message whose start
/// bits are still looked for on the clock of the one before.
const MAX_GAP_BITS: f64 = 30.0;

/// The carrier is there when the two tones hold this share of the power.
const CARRIER: f64 = 0.35;
/// How long the carrier is held after its windows drop under [`CARRIER`]:
/// at 5 dB a single window at a change of tone does, and every character
/// after it was lost.
const CARRIER_HOLD_BITS: f64 = 2.0;

impl FskDemodulator {
    /// A demodulator deciding bits coherently.
    pub fn new(standard: FskStandard, rate: u32) -> FskDemodulator {
        let per_bit = f64::from(rate) / BAUD;
        let window = per_bit.round().max(2.0) as usize;
        let (mark, space) = standard.tones();
        FskDemodulator {
            mark: Oscillator::new(mark, rate),
            space: Oscillator::new(space, rate),
            window: Window::new(window),
            per_bit,
            sample: 0,
            last_energies: (0.0, 0.0),
            crossings: [Crossing {
                sample: -1,
                before: (0.0, 0.0),
                after: (0.0, 0.0),
            }; 2],
            // Sample n stands for [n − ½, n + ½): a window of w samples
            // ending at n is half past a change at e when n = e + w/2 − ½.
            lag: window as f64 / 2.0 - 0.5,
            framers: vec![Framer::new(
                standard,
                Some(PhaseTracker::new(mark, space, rate, per_bit)),
                per_bit,
            )],
            squelch: 0.0,
            missing: f64::INFINITY,
            hold: CARRIER_HOLD_BITS * per_bit,
        }
        .with_squelch(SQUELCH_DBM0)
    }

    /// The same demodulator deaf to tones weaker than `dbm0`.
    pub fn with_squelch(mut self, dbm0: f64) -> FskDemodulator {
        // A tone of amplitude A puts about A²·n/2 into the bit window.
        let a = crate::dsp::dbm0_to_amplitude(dbm0);
        self.squelch = a * a * self.window.len() as f64 / 2.0;
        self
    }

    /// The same with a second UART beside the coherent one, on the same
    /// correlations, deciding bits by the tones' energies and timing each
    /// character from its own start edge: about 2 dB less in white noise,
    /// but indifferent to a sender whose tones and clock are both a few
    /// per cent off before the phase loop has learnt them. The listener
    /// runs both (each reads what the other misses); [`FskByte::coherent`]
    /// tells whose a byte is.
    pub fn and_by_energy(mut self) -> FskDemodulator {
        let standard = self.framers[0].standard;
        self.framers.push(Framer::new(standard, None, self.per_bit));
        self
    }

    /// Feeds samples; the characters completed among them.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<FskByte>) {
        for &x in samples {
            let x = f64::from(x);
            let (mc, ms) = self.mark.next();
            let (sc, ss) = self.space.next();
            let products = [x * mc, x * ms, x * sc, x * ss, x * x];
            let [mr, mi, sr, si, p] = self.window.push(products);
            let (mark, space) = ((products[0], products[1]), (products[2], products[3]));
            for framer in &mut self.framers {
                if let Some(phase) = &mut framer.phase {
                    phase.record(mark, space);
                }
            }
            let (m, s) = (mr * mr + mi * mi, sr * sr + si * si);
            // Each correlator holds about (A·n/2)² for its tone; the power
            // sum about A²·n/2.
            let tones = 2.0 * (m + s) / self.window.len() as f64;
            // `&`, not `&&`: in noise these change at random, and three
            // comparisons cost less than a mispredicted branch.
            let heard = (p > 1e-9) & (tones > CARRIER * p) & (tones >= self.squelch);
            // Noise at a change of tone can pull one window under the
            // threshold: the carrier is lost only after it has been
            // missing for a while, as a receiver's carrier detect holds.
            self.missing = if heard { 0.0 } else { self.missing + 1.0 };
            let carrier = self.missing < self.hold;
            let last_mark = self.last_energies.0 > self.last_energies.1;
            // In noise the decision changes sides every few samples, at
            // random: each sample is written down as a change, unconditionally,
            // and kept by a swap of slots when it is one, rather than branched
            // on, which the processor would mispredict half the time.
            let crossed = (m > s) != last_mark;
            self.crossings[1] = Crossing {
                sample: self.sample as i64,
                before: self.last_energies,
                after: (m, s),
            };
            let kept = usize::from(crossed);
            self.crossings.swap(0, kept);
            let at = Moment {
                now: self.sample as i64 as f64,
                energies: (m, s),
                last_mark,
                last_crossing: &self.crossings[0],
                carrier,
                heard,
                per_bit: self.per_bit,
                lag: self.lag,
            };
            for framer in &mut self.framers {
                framer.step(&at, out);
            }
            self.last_energies = (m, s);
            self.sample += 1;
        }
    }
}

impl Framer {
    fn new(standard: FskStandard, phase: Option<PhaseTracker>, per_bit: f64) -> Framer {
        Framer {
            standard,
            phase,
            bit_len: per_bit,
            last_stop: None,
            on_clock: false,
            weak_clock: false,
            uart: Uart::Idle { marks: 0.0 },
        }
    }

    fn step(&mut self, at: &Moment, out: &mut Vec<FskByte>) {
        // The carrier is held only inside a message, where a dip would
        // lose the characters after it; in the mark or in noise it is as
        // heard, so noise brushing the threshold frames no more
        // characters than it did (holding it there cost a fifth of the
        // demodulator's speed).
        let in_message = self.last_stop.is_some() || self.on_clock;
        let carrier = if in_message { at.carrier } else { at.heard };
        let now = at.now;
        let mark = at.energies.0 > at.energies.1;
        match &mut self.uart {
            Uart::Idle { marks } => {
                if !carrier {
                    *marks = 0.0;
                    // A new burst may come from another sender's clock.
                    self.bit_len = at.per_bit;
                    self.last_stop = None;
                    if let Some(phase) = &mut self.phase {
                        phase.reset();
                    }
                } else if let (Some(from), Some(phase)) = (self.last_stop, &mut self.phase) {
                    // Between the characters of a message: the next start
                    // bit comes a whole number of bits after the last stop
                    // bit, so each bit of the gap is decided on the clock
                    // (a noise dip in a stop bit cannot pass for an edge).
                    let due = from + self.bit_len;
                    let next = due + self.bit_len;
                    if now + 0.5 < next {
                        return;
                    }
                    match phase.decide(from, due, Some(next)) {
                        Some(d) if !d.one => {
                            let edge = from + d.boundary_error.unwrap_or(0.0) * PHASE_GAIN;
                            self.on_clock = true;
                            self.uart = Uart::Char {
                                edge,
                                bits: 0,
                                next: 1,
                                marks: *marks,
                                previous: false,
                                unchecked: 0,
                                least: d.confidence,
                                doubts: BitDoubts::NONE,
                            };
                        }
                        Some(_) if *marks < MAX_GAP_BITS * at.per_bit && !self.weak_clock => {
                            *marks += self.bit_len;
                            self.last_stop = Some(due);
                        }
                        // A long mark: the next message is timed afresh.
                        _ => self.last_stop = None,
                    }
                } else if mark {
                    *marks += 1.0;
                } else if at.last_mark && *marks >= at.per_bit * 0.5 {
                    // The window's output crosses zero half a window after
                    // the edge itself.
                    let edge = at.last_crossing.at() - at.lag;
                    if let Some(phase) = &mut self.phase {
                        phase.anchor_mark(edge - self.bit_len, edge);
                    }
                    self.on_clock = false;
                    self.uart = Uart::Char {
                        edge,
                        bits: 0,
                        next: 0,
                        marks: *marks,
                        previous: true,
                        unchecked: 0,
                        least: 1.0,
                        doubts: BitDoubts::NONE,
                    };
                }
            }
            Uart::Char {
                edge,
                bits,
                next,
                marks,
                previous,
                unchecked,
                least,
                doubts,
            } => {
                // Bit k's window is wholly inside it at its end.
                let from = *edge + *next as f64 * self.bit_len;
                let due = from + self.bit_len;
                // A coherent decision waits for the next bit, which may
                // settle it (see `coherent::LOOK_AHEAD_BELOW`).
                let ahead = self.phase.is_some().then_some(due + self.bit_len);
                if now + 0.5 < ahead.unwrap_or(due) {
                    return;
                }
                let decision = match &mut self.phase {
                    Some(phase) => phase.decide(from, due, ahead),
                    None => None,
                };
                let (one, confidence, boundary_error) = match decision {
                    Some(d) => (d.one, d.confidence, d.boundary_error),
                    None => (mark, soft(at.energies).abs(), None),
                };
                *least = least.min(confidence);
                *unchecked += 1;
                if *next == 0 {
                    // The start bit's phase against the mark's before it
                    // tells where the edge really was, better than the
                    // energies' zero crossing it was timed from.
                    if let Some(error) = boundary_error.filter(|e| e.abs() < self.bit_len * 0.4) {
                        *edge += START_GAIN * error;
                    }
                }
                if *next > 0 && one != *previous {
                    // A transition between this bit and the last tells how
                    // the sender's clock runs against ours: by the new
                    // tone's phase (coherent decisions), or else by where
                    // the energies' decision crossed zero (half a window
                    // after the boundary).
                    let expected = from + at.lag;
                    let error = boundary_error.unwrap_or_else(|| at.last_crossing.at() - expected);
                    if error.abs() < self.bit_len * 0.4 {
                        *edge += PHASE_GAIN * error;
                        let bit_len = self.bit_len + RATE_GAIN * error / f64::from(*unchecked);
                        self.bit_len = bit_len.clamp(
                            at.per_bit * (1.0 - MAX_CLOCK_ERROR),
                            at.per_bit * (1.0 + MAX_CLOCK_ERROR),
                        );
                        *unchecked = 0;
                    }
                }
                *previous = one;
                match *next {
                    0 if one || !carrier => {
                        // Not a start bit after all: a noise spike in the
                        // mark, which is still there.
                        self.uart = Uart::Idle {
                            marks: if one && carrier { at.per_bit } else { 0.0 },
                        };
                        return;
                    }
                    0 => {}
                    1..=8 => {
                        *bits |= u16::from(one) << (*next - 1);
                        doubts.note(*next as u8 - 1, confidence as f32);
                    }
                    _ => {
                        let start = (*edge).max(0.0) as u64;
                        // Only a character read with confidence sets the
                        // clock the next one is looked for on: one begun
                        // on a noise dip would misframe every character
                        // after it. The coherent UART decides a bit late,
                        // when a start edge right after the stop bit has
                        // passed: after a weak character it decides that
                        // one bit on the clock, then looks for edges.
                        let framed = one && carrier;
                        let sure = *least >= f64::from(WEAK_CHARACTER);
                        self.weak_clock = !sure;
                        self.last_stop = (framed && (sure || self.phase.is_some())).then_some(due);
                        if framed {
                            out.push(FskByte {
                                byte: *bits as u8,
                                offset: start,
                                marks_before: (*marks / at.per_bit) as u32,
                                confidence: *least as f32,
                                doubts: BitDoubts {
                                    reader: match self.phase {
                                        Some(_) => BitReader::Coherent(self.standard),
                                        None => BitReader::ByEnergy,
                                    },
                                    ..*doubts
                                },
                            });
                        }
                        // A framing error drops the character; either way
                        // the next start bit is looked for.
                        self.uart = Uart::Idle {
                            marks: if one { at.per_bit } else { 0.0 },
                        };
                        return;
                    }
                }
                *next += 1;
            }
        }
    }
}

/// Where the energies' decision changed sides: kept raw, and placed
/// between the two samples only when a UART asks (in noise it changes
/// sides every few samples).
#[derive(Clone, Copy)]
struct Crossing {
    /// The first sample on the new side.
    sample: i64,
    before: (f64, f64),
    after: (f64, f64),
}

impl Crossing {
    /// Where the soft decision (m − s)/(m + s) crossed zero, interpolated.
    fn at(&self) -> f64 {
        let (before, after) = (soft(self.before), soft(self.after));
        self.sample as f64 - 1.0 + before / (before - after)
    }
}

/// The energies' soft decision: +1 all mark, −1 all space.
fn soft((m, s): (f64, f64)) -> f64 {
    if m + s > 0.0 {
        (m - s) / (m + s)
    } else {
        0.0
    }
}

/// A reference tone, `e^{-jωn}` sample by sample.
struct Oscillator {
    step: (f64, f64),
    now: (f64, f64),
    count: u32,
}

impl Oscillator {
    fn new(freq: f64, rate: u32) -> Oscillator {
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
        Oscillator {
            step: (w.cos(), -w.sin()),
            now: (1.0, 0.0),
            count: 0,
        }
    }

    /// This sample's value; the oscillator moves on to the next.
    fn next(&mut self) -> (f64, f64) {
        let now = self.now;
        let ((a, b), (c, d)) = (now, self.step);
        self.now = (a * c - b * d, a * d + b * c);
        // Keep the oscillator on the unit circle.
        self.count += 1;
        if self.count % 256 == 0 {
            let r = (self.now.0 * self.now.0 + self.now.1 * self.now.1).sqrt();
            self.now = (self.now.0 / r, self.now.1 / r);
        }
        now
    }
}

/// Running sums of a few values over the last `n` samples: one ring for
/// all of them, so a sample costs one index step, not one per sum.
struct Window {
    values: Vec<[f64; WINDOW_SUMS]>,
    at: usize,
    sums: [f64; WINDOW_SUMS],
    /// Values pushed: every 4096th push the sums are added afresh.
    pushed: u64,
}

/// The mark's and space's correlations (real, imaginary) and the power.
const WINDOW_SUMS: usize = 5;

impl Window {
    fn new(n: usize) -> Window {
        Window {
            values: vec![[0.0; WINDOW_SUMS]; n],
            at: 0,
            sums: [0.0; WINDOW_SUMS],
            pushed: 0,
        }
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    /// Adds this sample's values; the sums over the window ending here.
    fn push(&mut self, v: [f64; WINDOW_SUMS]) -> [f64; WINDOW_SUMS] {
        let old = std::mem::replace(&mut self.values[self.at], v);
        for i in 0..WINDOW_SUMS {
            self.sums[i] += v[i] - old[i];
        }
        self.at += 1;
        if self.at == self.values.len() {
            self.at = 0;
        }
        self.pushed += 1;
        // Add afresh now and then so rounding cannot drift.
        if self.pushed % 4096 == 0 {
            self.sums = [0.0; WINDOW_SUMS];
            for v in &self.values {
                for (sum, v) in self.sums.iter_mut().zip(v) {
                    *sum += v;
                }
            }
        }
        self.sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::cid::{self, FrameScanner, Scanned};

    fn demodulate(standard: FskStandard, rate: u32, samples: &[f32]) -> Vec<u8> {
        let mut d = FskDemodulator::new(standard, rate);
        let mut out = Vec::new();
        for chunk in samples.chunks(160) {
            d.push(chunk, &mut out);
        }
        out.iter().map(|b| b.byte).collect()
    }

    fn sdmf() -> Vec<u8> {
        // The Bellcore example: 1 January 08:00, 555-1234 area 617.
        let mut m = vec![cid::SDMF, 18];
        m.extend(b"01010800");
        m.extend(b"6175551234");
        let sum: u8 = m.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        m.push(0u8.wrapping_sub(sum));
        m
    }

    fn decodes(bytes: &[u8]) -> Option<cid::CallerIdMessage> {
        let mut scanner = FrameScanner::new(10);
        bytes.iter().find_map(|&b| match scanner.push(b) {
            Some(Scanned::Message(m)) => Some(m),
            _ => None,
        })
    }

    #[test]
    fn both_standards_round_trip_at_telephone_and_sound_card_rates() {
        let msg = sdmf();
        for standard in [FskStandard::Bell202, FskStandard::V23] {
            for rate in [8000, 11_025, 16_000, 44_100, 48_000] {
                let signal = FskSignal::new(standard, rate).modulate(&msg);
                let bytes = demodulate(standard, rate, &signal);
                let tail = &bytes[bytes.len() - msg.len()..];
                assert_eq!(tail, &msg[..], "{standard:?} at {rate} Hz: {bytes:02x?}");
                // The seizure reads as 0x55 bytes.
                assert!(bytes.iter().filter(|b| **b == 0x55).count() >= 20);
                let m = decodes(&bytes).expect("a caller ID");
                assert_eq!(m.number.as_deref(), Some("6175551234"));
            }
        }
    }

    #[test]
    fn extra_stop_bits_offsets_and_levels_are_tolerated() {
        let msg = sdmf();
        for standard in [FskStandard::Bell202, FskStandard::V23] {
            for extra in [0, 1, 4, 10] {
                for offset in [-0.015, 0.0, 0.015] {
                    // Loud, −37 dBm0, and just above the squelch.
                    for amplitude in [0.9, 0.01, crate::dsp::dbm0_to_amplitude(-46.0)] {
                        let mut s = FskSignal::new(standard, 8000);
                        s.extra_stop_bits = extra;
                        s.frequency_offset = offset;
                        s.amplitude = amplitude;
                        let bytes = demodulate(standard, 8000, &s.modulate(&msg));
                        let m = decodes(&bytes);
                        assert!(
                            m.is_some(),
                            "{standard:?} extra {extra} offset {offset} amplitude {amplitude}: {bytes:02x?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fsk_below_the_squelch_is_never_heard() {
        let msg = sdmf();
        for standard in [FskStandard::Bell202, FskStandard::V23] {
            for (dbm0, heard) in [
                (-46.0, true),
                (-50.0, false),
                (-60.0, false),
                (-89.0, false),
            ] {
                let mut s = FskSignal::new(standard, 8000);
                s.amplitude = crate::dsp::dbm0_to_amplitude(dbm0);
                let bytes = demodulate(standard, 8000, &s.modulate(&msg));
                assert_eq!(
                    decodes(&bytes).is_some(),
                    heard,
                    "{standard:?} at {dbm0} dBm0"
                );
                assert!(
                    heard || bytes.is_empty(),
                    "not even a character: {bytes:02x?}"
                );
            }
            // A quieter line may lower it.
            let mut s = FskSignal::new(standard, 8000);
            s.amplitude = crate::dsp::dbm0_to_amplitude(-60.0);
            let mut d = FskDemodulator::new(standard, 8000).with_squelch(-70.0);
            let mut out = Vec::new();
            d.push(&s.modulate(&msg), &mut out);
            let bytes: Vec<u8> = out.iter().map(|b| b.byte).collect();
            assert!(
                decodes(&bytes).is_some(),
                "{standard:?} with the squelch at -70"
            );
        }
    }

    #[test]
    fn silence_and_a_steady_tone_give_no_characters() {
        let d = |x: &[f32]| demodulate(FskStandard::Bell202, 8000, x);
        assert!(d(&vec![0.0; 8000]).is_empty());
        let tone: Vec<f32> = (0..8000)
            .map(|i| (0.3 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 8000.0).sin()) as f32)
            .collect();
        assert!(d(&tone).is_empty());
    }
}
