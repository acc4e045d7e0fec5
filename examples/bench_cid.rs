//! Caller ID from line audio: the SNR sweep and the decoding speed.
//!
//! The sweep sends TRIALS random caller IDs (Chinese numbers, SDMF and
//! MDMF, with dates and names) per SNR level from 30 dB down to -4 dB in
//! white noise over the whole 0-4 kHz band, for Bell 202, V.23 and DTMF,
//! through the listener listening for all of them, and counts exact
//! decodes and wrong-but-accepted ones. When `minimodem` (FSK) and
//! `multimon-ng` (DTMF) are installed, the same signals go through them
//! too, side by side (exact = the message bytes, or the keys, all there).
//!
//! Then the same sweep with spandsp's caller IDs (its ADSI transmitter,
//! through `tests/emulators/spandsp_cid.c`: a modulator that is not
//! callpop's), callpop beside minimodem / multimon-ng on the very same
//! files, and spandsp's signals with the sender's clock ±2.5 % off at
//! 12 dB.
//!
//! The speed: a minute of line audio with caller IDs in it, decoded on one
//! core with every decoder on, as a multiple of real time.
//!
//! cargo run --release --example bench_cid -- [TRIALS] [--only own|spandsp|speed]
//! (TRIALS default 30; `--only` runs one of the three parts)

#[path = "../tests/common/spandsp.rs"]
mod spandsp;

use callpop::dsp::cid;
use callpop::dsp::dtmf_cid;
use callpop::dsp::listener::{CidStandard, ListenFor, Listener};
use callpop::dsp::signal::CidSignal;
use callpop::dsp::sweep::{random_message, sweep};
use rand::{Rng, SeedableRng};
use std::process::Command;
use std::time::Instant;

const RATE: u32 = 8000;
const LEVELS: [i32; 20] = [
    30, 20, 16, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1, -2, -3, -4,
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let trials: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(30);
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let part = |name: &str| only.is_none_or(|o| o == name);
    if part("own") {
        own_sweep(trials);
    }
    if part("spandsp") {
        spandsp_sweeps(trials);
    }
    if part("speed") {
        speed();
    }
}

/// callpop's own modulator, beside minimodem / multimon-ng.
fn own_sweep(trials: u32) {
    let have = |tool: &str| Command::new(tool).arg("--help").output().is_ok();
    let (minimodem, multimon) = (have("minimodem"), have("multimon-ng"));
    println!("SNR sweep: {trials} trials a level, white noise over 0-4 kHz, {RATE} Hz");
    for standard in [CidStandard::Bell202, CidStandard::V23, CidStandard::Dtmf] {
        let ours = sweep(standard, RATE, &LEVELS, trials, 42);
        let reference = match standard {
            CidStandard::Dtmf if multimon => Some("multimon-ng"),
            CidStandard::Bell202 | CidStandard::V23 if minimodem => Some("minimodem"),
            _ => None,
        };
        println!("\n{}", standard.as_str());
        print!("  SNR dB   callpop exact  wrong-accepted");
        if let Some(r) = reference {
            print!("   {r} exact");
        }
        println!();
        for row in &ours {
            print!(
                "  {:>6}   {:>7}/{:<5} {:>9}",
                row.snr_db, row.exact, row.trials, row.wrong_accepted
            );
            if let Some(r) = reference {
                print!(
                    "   {:>9}/{}",
                    reference_exact(r, standard, row.snr_db, trials),
                    trials
                );
            }
            println!();
        }
    }
}

/// spandsp's signals through callpop and the established decoders, side
/// by side on the same files.
fn spandsp_sweeps(trials: u32) {
    use spandsp::{reference_tool, sweep_side_by_side, Spandsp};
    let sp = Spandsp::build();
    println!("\nspandsp's caller IDs ({trials} trials a level, same files through each decoder)");
    for standard in [CidStandard::Bell202, CidStandard::V23, CidStandard::Dtmf] {
        let tool = reference_tool(standard);
        println!(
            "\n{} (spandsp)\n  clock     SNR dB   callpop exact  wrong-accepted   {tool} exact",
            standard.as_str()
        );
        let runs: Vec<(f64, Vec<i32>)> = vec![
            (0.0, LEVELS.to_vec()),
            (-0.025, vec![12]),
            (0.025, vec![12]),
        ];
        for (offset, levels) in runs {
            for (row, read) in sweep_side_by_side(&sp, standard, &levels, trials, 77, offset) {
                println!(
                    "  {:+5.1}%   {:>6}   {:>7}/{:<5} {:>9}   {:>9}/{}",
                    offset * 100.0,
                    row.snr_db,
                    row.exact,
                    row.trials,
                    row.wrong_accepted,
                    read,
                    trials
                );
            }
        }
    }
}

/// The same kind of signals through an established decoder.
fn reference_exact(tool: &str, standard: CidStandard, snr_db: i32, trials: u32) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + snr_db as u64);
    let mut exact = 0;
    for _ in 0..trials {
        let sent = random_message(standard, &mut rng);
        let signal = CidSignal {
            snr_db: Some(f64::from(snr_db)),
            seed: rng.random(),
            ..CidSignal::new(standard, RATE)
        };
        let wav = dir.path().join("t.wav");
        callpop::dsp::signal::write_wav(&wav, RATE, &signal.render(&sent)).unwrap();
        let out = match (tool, standard) {
            ("multimon-ng", _) => Command::new("multimon-ng")
                .args(["-q", "-t", "wav", "-a", "DTMF"])
                .arg(&wav)
                .output(),
            (_, CidStandard::V23) => Command::new("minimodem")
                .args(["--rx", "-q", "-M", "1300", "-S", "2100", "-f"])
                .arg(&wav)
                .arg("1200")
                .output(),
            _ => Command::new("minimodem")
                .args(["--rx", "-q", "-f"])
                .arg(&wav)
                .arg("1200")
                .output(),
        };
        let Ok(out) = out else { continue };
        let ok = match standard {
            CidStandard::Dtmf => {
                let keys: String = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| l.strip_prefix("DTMF: "))
                    .collect();
                keys == dtmf_cid::encode(&sent)
            }
            _ => {
                let want = cid::encode(&sent);
                out.stdout.windows(want.len()).any(|w| w == want)
            }
        };
        exact += u32::from(ok);
    }
    exact
}

/// A minute of line audio: caller IDs of each standard under 20 dB noise,
/// silence between, decoded with every decoder on.
fn speed() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut audio = Vec::new();
    while audio.len() < 60 * RATE as usize {
        for standard in [CidStandard::Bell202, CidStandard::V23, CidStandard::Dtmf] {
            let signal = CidSignal {
                snr_db: Some(20.0),
                pad_ms: 1000,
                seed: rng.random(),
                ..CidSignal::new(standard, RATE)
            };
            audio.extend(signal.render(&random_message(standard, &mut rng)));
        }
    }
    let seconds = audio.len() as f64 / f64::from(RATE);
    let what = ListenFor {
        tones: callpop::dsp::tones::plan("cn"),
        ..ListenFor::caller_id()
    };
    let mut best = f64::MAX;
    let mut found = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let mut listener = Listener::new(RATE, &what);
        let mut heard = Vec::new();
        for block in audio.chunks(160) {
            listener.push(block, &mut heard);
        }
        best = best.min(start.elapsed().as_secs_f64());
        found = heard.len();
    }
    println!(
        "\nspeed: {seconds:.0} s of audio (FSK Bell 202 + V.23, DTMF, tones) in {:.1} ms on one core: {:.0}x real time ({found} things heard)",
        best * 1000.0,
        seconds / best
    );
}
