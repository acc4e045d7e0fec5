//! Where caller ID from line audio loses messages, and how much is left
//! to win: the questions behind the FSK targets of issue 24, answered on
//! the machine in minutes, so a change to the demodulator or to the
//! scanner's risk model starts from figures rather than guesses.
//!
//! - `bound SNR TRIALS`: callpop's own modulator, whose bits, timing and
//!   phase are known here. An ideal receiver told the true phase and bit
//!   timing decides each data bit by maximum likelihood over a window of
//!   1, 2 or 3 bits (the phase continuity ties a bit to the next); beside
//!   it, callpop's demodulator (bytes read right) and the listener
//!   (caller IDs reported). The gap between the ideal 1-bit window and
//!   callpop's bytes is what phase and clock tracking lose; between the
//!   bytes and the reports, what the risk rule refuses; the wider
//!   windows show what deciding over two bits could win.
//! - `failures bell202|v23 SNR TRIALS`: spandsp's caller IDs, each
//!   outcome counted: reported, read right but refused (the risk rule),
//!   or not read right (a bit error, a lost character), with how the
//!   latter were misread and whether mending one bit, weighed as the
//!   scanner weighs it, would have been right.
//! - `calibration TRIALS`: per data bit of the coherent UART, how often a
//!   bit of each confidence is wrong, by the message's 10th-percentile
//!   confidence, beside the chance the scanner's error model gives it
//!   (`dsp/cid/risk.rs`): where the model is optimistic, a wrong caller
//!   ID can pass; where it is pessimistic, right ones are refused. It
//!   ends with the tables of rates for `risk.rs`, to paste after a change
//!   to the demodulator (`calibration 4000` measured the ones there).
//! - `hunt TRIALS SPANDSP_TRIALS`: wrong-but-accepted caller IDs at
//!   3-8 dB, own and spandsp's signals (the suite's never-wrong test runs
//!   the same question at its own size).
//!
//! cargo run --release --example cid_headroom -- bound 5 300

#[path = "../tests/common/references.rs"]
#[allow(dead_code)]
mod references;
#[path = "../tests/common/spandsp.rs"]
#[allow(dead_code)]
mod spandsp;

use callpop::dsp::cid::risk::{
    bin, low_decile, mend_one_bit, ErrorModel, CONFIDENCE_EDGES, DECILE_EDGES,
};
use callpop::dsp::cid::{decode, encode, BitDoubts, CallerIdMessage, MOST_RISK};
use callpop::dsp::fsk::{FskByte, FskDemodulator, FskSignal};
use callpop::dsp::listener::CidStandard;
use callpop::dsp::signal::CidSignal;
use callpop::dsp::sweep::{caller_ids_in, own_modulator, random_message, sweep, sweep_rendered};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::f64::consts::TAU;

const RATE: u32 = 8000;
const PER_BIT: f64 = 8000.0 / 1200.0;
/// The SNRs a hunt tries, where wrong caller IDs would hide.
const HUNT_LEVELS: [i32; 6] = [3, 4, 5, 6, 7, 8];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: f64| -> f64 {
        args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
    };
    let standard = |i: usize| match args.get(i).map(String::as_str) {
        Some("v23") => CidStandard::V23,
        _ => CidStandard::Bell202,
    };
    match args.first().map(String::as_str) {
        Some("bound") => {
            for s in [CidStandard::Bell202, CidStandard::V23] {
                bound(s, arg(1, 5.0), arg(2, 300.0) as usize);
            }
        }
        Some("failures") => failures(standard(1), arg(2, 5.0), arg(3, 400.0) as usize),
        Some("calibration") => {
            let trials = arg(1, 600.0) as usize;
            calibration(CidStandard::Bell202, &[3.0, 4.0, 5.0, 6.0, 7.0], trials);
            calibration(CidStandard::V23, &[4.0, 5.0, 6.0, 7.0, 8.0], trials);
        }
        Some("hunt") => hunt(arg(1, 1000.0) as u32, arg(2, 300.0) as u32),
        _ => eprintln!(
            "usage: cid_headroom bound SNR TRIALS | failures bell202|v23 SNR TRIALS \
             | calibration TRIALS | hunt TRIALS SPANDSP_TRIALS"
        ),
    }
}

/// The coherent UART's characters in `samples`.
fn characters(standard: CidStandard, samples: &[f32]) -> Vec<FskByte> {
    let fsk = standard.fsk().expect("an FSK standard");
    let mut demodulator = FskDemodulator::new(fsk, RATE);
    let mut out = Vec::new();
    demodulator.push(samples, &mut out);
    out
}

/// Whether the characters hold the message's bytes in a row.
fn read_right(characters: &[FskByte], bytes: &[u8]) -> bool {
    let read: Vec<u8> = characters.iter().map(|c| c.byte).collect();
    read.windows(bytes.len()).any(|w| w == bytes)
}

fn reported(samples: &[f32], sent: &CallerIdMessage) -> bool {
    caller_ids_in(samples, RATE).iter().any(|m| m == sent)
}

/// Where callpop's modulator starts the message (after the seizure and
/// the marks), in bits, and the silence before the burst, in samples.
fn layout(standard: CidStandard) -> (usize, usize) {
    let fsk = FskSignal::new(standard.fsk().expect("FSK"), RATE);
    let pad = CidSignal::new(standard, RATE).pad_ms as usize * RATE as usize / 1000;
    (fsk.seizure_bits + fsk.mark_bits, pad)
}

fn bound(standard: CidStandard, snr: f64, trials: usize) {
    let (mark, space) = standard.fsk().expect("FSK").tones();
    let tone = |one: bool| TAU * if one { mark } else { space } / f64::from(RATE);
    let (message_start, pad) = layout(standard);
    let mut render = own_modulator(standard, RATE);
    let mut rng = StdRng::seed_from_u64(777);
    let mut ideal = [0usize; 3];
    let (mut bytes_right, mut reports) = (0, 0);
    for _ in 0..trials {
        let (sent, noisy) = render(random_message(standard, &mut rng), snr, rng.random());
        let amplitude = CidSignal::new(standard, RATE).render(&sent)[pad..]
            .iter()
            .take(4000)
            .fold(0.0f64, |a, x| a.max(f64::from(x.abs())));
        let bytes = encode(&sent);
        let bits = FskSignal::new(standard.fsk().expect("FSK"), RATE).line_bits(&bytes);
        // Byte i's data bit j, after its start bit.
        let data =
            (0..bytes.len()).flat_map(|i| (0..8).map(move |j| message_start + 10 * i + 1 + j));
        let bit_at = |n: usize| ((n as f64 / PER_BIT) as usize).min(bits.len() - 1);
        let total = (bits.len() as f64 * PER_BIT).round() as usize;
        let first_sample = |k: usize| (0..total).find(|&n| bit_at(n) >= k).unwrap_or(total);
        // The sender's phase before each sample, as the modulator runs it.
        let mut phase_before = Vec::with_capacity(total);
        let mut phase = 0.0;
        for n in 0..total {
            phase_before.push(phase);
            phase += tone(bits[bit_at(n)]);
        }
        for (w, right) in ideal.iter_mut().enumerate() {
            let window = w + 1;
            let all_right = data.clone().all(|k| {
                let (from, to) = (first_sample(k), first_sample(k + window));
                let mut best = (f64::NEG_INFINITY, false);
                for h in 0..1u32 << window {
                    let mut phase = phase_before[from];
                    let mut metric = 0.0;
                    for n in from..to {
                        phase += tone(h >> (bit_at(n) - k) & 1 == 1);
                        let y = amplitude * phase.sin();
                        metric += 2.0 * f64::from(noisy[pad + n]) * y - y * y;
                    }
                    if metric > best.0 {
                        best = (metric, h & 1 == 1);
                    }
                }
                best.1 == bits[k]
            });
            *right += usize::from(all_right);
        }
        bytes_right += usize::from(read_right(&characters(standard, &noisy), &bytes));
        reports += usize::from(reported(&noisy, &sent));
    }
    println!(
        "{standard:?} at {snr} dB, {trials} messages: ideal receiver, windows of 1/2/3 bits: \
         {}/{}/{} read right; callpop's demodulator {bytes_right} read right, {reports} reported",
        ideal[0], ideal[1], ideal[2]
    );
}

fn failures(standard: CidStandard, snr: f64, trials: usize) {
    let sp = spandsp::Spandsp::build();
    let mut render = sp.noisy(standard, 0.0);
    let mut rng = StdRng::seed_from_u64(1234);
    let (mut ok, mut refused, mut wrong) = (0, 0, 0);
    let mut misread = std::collections::BTreeMap::new();
    for _ in 0..trials {
        let (sent, noisy) = render(random_message(standard, &mut rng), snr, rng.random());
        if reported(&noisy, &sent) {
            ok += 1;
        } else {
            let read = characters(standard, &noisy);
            let bytes = encode(&sent);
            if read_right(&read, &bytes) {
                refused += 1;
            } else {
                wrong += 1;
                *misread.entry(misreading(&read, &bytes)).or_insert(0) += 1;
                *misread.entry(correction(&read, &bytes)).or_insert(0) += 1;
            }
        }
    }
    println!(
        "spandsp {standard:?} at {snr} dB, {trials} messages: {ok} reported, \
         {refused} read right but refused, {wrong} not read right"
    );
    let mut kinds: Vec<_> = misread.into_iter().collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
    for (kind, n) in kinds {
        println!("  {n:>5}  {kind}");
    }
}

/// Whether a message read with one bit wrong would have been mended by
/// the scanner's own `dsp::cid::risk::mend_one_bit` within the limit (the
/// scanner adds the mended message's pair risk), and rightly.
fn correction(read: &[FskByte], bytes: &[u8]) -> String {
    let Some(start) = (0..read.len()).find(|&o| {
        o + bytes.len() <= read.len()
            && (0..bytes.len())
                .filter(|&i| read[o + i].byte != bytes[i])
                .count()
                == 1
    }) else {
        return "correction: not one byte wrong".into();
    };
    let chars = &read[start..start + bytes.len()];
    let got: Vec<u8> = chars.iter().map(|c| c.byte).collect();
    let doubts: Vec<BitDoubts> = chars.iter().map(|c| c.doubts).collect();
    let Some(mended) = mend_one_bit(&got, &doubts, |b| decode(b).is_ok()) else {
        return "correction: none plausible".into();
    };
    match (mended.risk <= MOST_RISK, mended.bytes == bytes) {
        (true, true) => "correction: right".into(),
        (true, false) => format!("correction: WRONG (risk {:.1e})", mended.risk),
        (false, right) => format!(
            "correction: refused, risk 1e{:.0} (right {right})",
            mended.risk.log10().round()
        ),
    }
}

/// How a message was not read right: the characters lined up with its
/// bytes where most agree, then which went wrong (a few wrong bytes, a
/// character lost or one too many from some byte on).
fn misreading(read: &[FskByte], bytes: &[u8]) -> String {
    let read: Vec<u8> = read.iter().map(|c| c.byte).collect();
    let agree = |o: isize| {
        (0..bytes.len())
            .filter(|&i| {
                let j = o + i as isize;
                j >= 0 && (j as usize) < read.len() && read[j as usize] == bytes[i]
            })
            .count()
    };
    let Some(best) = (-(bytes.len() as isize)..read.len() as isize).max_by_key(|&o| agree(o))
    else {
        return "nothing read".into();
    };
    let wrong: Vec<usize> = (0..bytes.len())
        .filter(|&i| {
            let j = best + i as isize;
            !(j >= 0 && (j as usize) < read.len() && read[j as usize] == bytes[i])
        })
        .collect();
    let first = wrong.first().copied().unwrap_or(0);
    let tail = wrong.len() == bytes.len() - first && wrong.len() > 2;
    let at = match first {
        0 => "the type byte".to_string(),
        1 => "the length".to_string(),
        i if i + 1 == bytes.len() => "the checksum".to_string(),
        _ => "a later byte".to_string(),
    };
    match (tail, wrong.len()) {
        (true, _) => format!("misframed from {at} on"),
        (false, 1) => format!("one byte wrong: {at}"),
        (false, n) => format!("{n} bytes wrong, the first {at}"),
    }
}

fn calibration(standard: CidStandard, snrs: &[f64], trials: usize) {
    let (message_start, pad) = layout(standard);
    let mut render = own_modulator(standard, RATE);
    // By decile and confidence: bits, wrong ones, the model's sum.
    let mut table =
        vec![vec![(0u64, 0u64, 0.0f64); CONFIDENCE_EDGES.len() - 1]; DECILE_EDGES.len() - 1];
    let mut rng = StdRng::seed_from_u64(4242);
    for &snr in snrs {
        for _ in 0..trials {
            let (sent, noisy) = render(random_message(standard, &mut rng), snr, rng.random());
            let bytes = encode(&sent);
            let read = characters(standard, &noisy);
            // Each byte's character, by where its start bit begins.
            let start = |i: usize| pad as f64 + ((message_start + 10 * i) as f64 * PER_BIT).ceil();
            let matched: Vec<(u8, &FskByte)> = bytes
                .iter()
                .enumerate()
                .filter_map(|(i, &b)| {
                    read.iter()
                        .find(|c| (c.offset as f64 - start(i)).abs() < PER_BIT / 2.0)
                        .map(|c| (b, c))
                })
                .collect();
            if matched.len() < bytes.len() {
                continue; // a character lost: not what the model weighs
            }
            let doubts: Vec<BitDoubts> = matched.iter().map(|(_, c)| c.doubts).collect();
            let model = ErrorModel::for_message(&doubts);
            let row = &mut table[bin(&DECILE_EDGES, low_decile(&doubts))];
            for (byte, c) in &matched {
                for (j, &confidence) in c.doubts.confidence.iter().enumerate() {
                    let cell = &mut row[bin(&CONFIDENCE_EDGES, confidence)];
                    cell.0 += 1;
                    cell.1 += u64::from((byte ^ c.byte) >> j & 1);
                    cell.2 += model.chance(confidence);
                }
            }
        }
    }
    println!(
        "\n{standard:?}, coherent UART, {trials} messages at each of {snrs:?} dB: \
         bits wrong / bits and the model's chance over the observed rate, by the message's \
         low decile (rows) and the bit's confidence (columns)"
    );
    print!("{:>10}", "");
    for w in CONFIDENCE_EDGES.windows(2) {
        print!(" {:>16}", format!("{:.2}-{:.2}", w[0], w[1].min(1.0)));
    }
    println!();
    for (d, row) in table.iter().enumerate() {
        print!(
            "{:>10}",
            format!("{:.2}-{:.2}", DECILE_EDGES[d], DECILE_EDGES[d + 1].min(1.0))
        );
        for &(bits, wrong, model) in row {
            let cell = if bits == 0 {
                "-".to_string()
            } else {
                let over = model / (wrong.max(1) as f64);
                format!("{wrong}/{bits} {over:.1}x")
            };
            print!(" {cell:>16}");
        }
        println!();
    }
    let rates = upper_rates(&table);
    println!("\nThe rates for dsp/cid/risk.rs:\n[");
    for row in rates {
        let cells: Vec<String> = row.iter().map(|r| format!("{r:.1e}")).collect();
        println!("    [{}],", cells.join(", "));
    }
    println!("]");
}

/// The scanner's table from measured (bits, wrong) cells: each cell's
/// upper estimate, (wrong + 2.3) / bits (the 90 % bound when none was
/// wrong), raised to a surer bin's, at least 10⁻⁵ and at most one half.
fn upper_rates(table: &[Vec<(u64, u64, f64)>]) -> Vec<Vec<f64>> {
    let mut rates: Vec<Vec<f64>> = table
        .iter()
        .map(|row| {
            row.iter()
                .map(|&(bits, wrong, _)| match bits {
                    0 => 0.5,
                    n => ((wrong as f64 + 2.3) / n as f64).clamp(1e-5, 0.5),
                })
                .collect()
        })
        .collect();
    for row in &mut rates {
        for i in (0..row.len() - 1).rev() {
            row[i] = row[i].max(row[i + 1]);
        }
    }
    rates
}

fn hunt(own_trials: u32, spandsp_trials: u32) {
    let sp = spandsp::Spandsp::build();
    for standard in [CidStandard::Bell202, CidStandard::V23] {
        let own = sweep(standard, RATE, &HUNT_LEVELS, own_trials, 5);
        let theirs = sweep_rendered(
            standard,
            RATE,
            &HUNT_LEVELS,
            spandsp_trials,
            6,
            sp.noisy(standard, 0.0),
        );
        for (own, theirs) in own.iter().zip(&theirs) {
            println!(
                "{standard:?} at {} dB: own {}/{own_trials} ({} wrong), spandsp {}/{spandsp_trials} ({} wrong)",
                own.snr_db, own.exact, own.wrong_accepted, theirs.exact, theirs.wrong_accepted
            );
        }
    }
}
