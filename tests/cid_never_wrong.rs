//! A wrong caller ID pops the wrong customer on an agent's screen, so the
//! listener must never report one: 10,200 random caller IDs (Bell 202,
//! V.23 and DTMF alike) at SNRs from 30 dB down to −5 dB, levels from −40
//! to −5 dBm0, a sender's clock off in its tones, its baud rate or both
//! (±2.5 %; DTMF ±1.5 %, Q.24's acceptance), with or without channel
//! seizure, extra stop bits, and the level stepping up or down mid-message
//! now and then. Whatever is reported must be exactly what was sent; most
//! are simply missed at the lowest levels, which is what a receiver should
//! do with a signal it cannot read.

use callpop::dsp::cid::{self, CallerIdMessage};
use callpop::dsp::fsk::FskSignal;
use callpop::dsp::listener::CidStandard;
use callpop::dsp::signal::{with_clock_offset, with_noise, CidSignal};
use callpop::dsp::sweep::{caller_ids_in, random_message};
use rand::{Rng, SeedableRng};

const RATE: u32 = 8000;
/// CALLPOP_CID_TRIALS=100000 for a longer hunt by hand.
fn trials() -> u64 {
    std::env::var("CALLPOP_CID_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(10_200)
}

/// CALLPOP_CID_FROM=N starts at trial N (with CALLPOP_CID_TRIALS=N+1,
/// one trial a hunt reported, again).
fn first() -> u64 {
    std::env::var("CALLPOP_CID_FROM")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}
const STANDARDS: [CidStandard; 3] = [CidStandard::Bell202, CidStandard::V23, CidStandard::Dtmf];

/// How the sender's clock is off.
#[derive(Debug, Clone, Copy)]
enum Offset {
    None,
    Tones(f64),
    Baud(f64),
    Both(f64),
}

/// One trial's line audio: the message, then the line's faults.
fn line_audio(
    standard: CidStandard,
    sent: &CallerIdMessage,
    rng: &mut impl Rng,
) -> (Vec<f32>, String) {
    let level = rng.random_range(-40.0..=-5.0);
    let snr = f64::from(rng.random_range(-5..=30));
    let limit = if standard == CidStandard::Dtmf {
        0.015
    } else {
        0.025
    };
    let x = rng.random_range(-limit..=limit);
    let offset = match (standard, rng.random_range(0..4)) {
        (_, 0) => Offset::None,
        // A DTMF sender's keys keep their pace; only its tones are off.
        (CidStandard::Dtmf, _) | (_, 1) => Offset::Tones(x),
        (_, 2) => Offset::Baud(x),
        _ => Offset::Both(x),
    };
    let tones = match offset {
        Offset::Tones(x) => x,
        // Resampled below, which moves the tones too: put them back.
        Offset::Baud(x) => 1.0 / (1.0 + x) - 1.0,
        _ => 0.0,
    };
    let pad = vec![0.0f32; RATE as usize / 10];
    let mut samples = pad.clone();
    let mut framing = String::new();
    match standard.fsk() {
        Some(fsk) => {
            let mut s = FskSignal::new(fsk, RATE);
            s.amplitude = callpop::dsp::dbm0_to_amplitude(level);
            s.frequency_offset = tones;
            s.extra_stop_bits = [0, 0, 1, 3][rng.random_range(0..4)];
            // Full seizure, a short one, or none (call-waiting caller ID:
            // 80 mark bits only).
            s.seizure_bits = [300, 300, 30, 0][rng.random_range(0..4)];
            s.mark_bits = if s.seizure_bits == 0 { 80 } else { 180 };
            framing = format!("seizure {} stop +{}", s.seizure_bits, s.extra_stop_bits);
            samples.extend(s.modulate(&cid::encode(sent)));
        }
        None => {
            let signal = CidSignal {
                level_dbm0: level,
                frequency_offset: tones,
                pad_ms: 0,
                ..CidSignal::new(standard, RATE)
            };
            samples.extend(signal.render(sent));
        }
    }
    samples.extend(&pad);
    if let Offset::Baud(x) | Offset::Both(x) = offset {
        samples = with_clock_offset(&samples, x);
    }
    let mut step = 0.0;
    if rng.random_bool(0.25) {
        // The line's level steps by up to 6 dB somewhere in the message.
        step = rng.random_range(-6.0..=6.0);
        let at = rng.random_range(pad.len()..samples.len() - pad.len());
        let gain = 10f32.powf(step / 20.0);
        samples[at..]
            .iter_mut()
            .for_each(|x| *x = (*x * gain).clamp(-1.0, 1.0));
    }
    let samples = with_noise(samples, snr, rng.random());
    let what = format!("{snr} dB, {level:.1} dBm0, {offset:?}, step {step:+.1} dB, {framing}");
    (samples, what)
}

/// Trials `from, from + step, …` below `trials`: exact count, and every
/// wrong report with what made it.
fn run(from: u64, step: u64, trials: u64) -> (u64, Vec<String>) {
    let mut exact = 0;
    let mut wrong = Vec::new();
    let mut trial = from;
    while trial < trials {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x24_0000 + trial);
        let standard = STANDARDS[(trial % 3) as usize];
        let sent = random_message(standard, &mut rng);
        let (samples, what) = line_audio(standard, &sent, &mut rng);
        for heard in caller_ids_in(&samples, RATE) {
            if heard == sent {
                exact += 1;
            } else {
                wrong.push(format!(
                    "trial {trial} {standard:?} ({what}): sent {sent:?}, heard {heard:?}"
                ));
            }
        }
        trial += step;
    }
    (exact, wrong)
}

#[test]
fn ten_thousand_caller_ids_under_noise_offsets_and_level_steps_and_never_a_wrong_one() {
    let (first, trials) = (first(), trials());
    // Both cores: the trials are independent.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run(first, 2, trials));
        let b = s.spawn(|| run(first + 1, 2, trials));
        (a.join().unwrap(), b.join().unwrap())
    });
    let exact = a.0 + b.0;
    let wrong: Vec<String> = a.1.into_iter().chain(b.1).collect();
    println!(
        "{} trials: {exact} exact, {} wrong",
        trials.saturating_sub(first),
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "wrong caller IDs accepted:\n{}",
        wrong.join("\n")
    );
    // It really listened: above about 8 dB (two thirds of the trials)
    // nearly everything is read.
    assert!(exact > trials / 2, "only {exact} of {trials} read exactly");
}
