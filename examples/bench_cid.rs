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
//! Talk-off: about half an hour of synthetic speech (espeak-ng: six
//! languages, two texts each, four pitches, three speeds) through the
//! listener and multimon-ng: the DTMF keys each hears in speech alone,
//! and the caller IDs callpop reports (there must be none).
//!
//! cargo run --release --example bench_cid -- [TRIALS] [--only own|spandsp|speed|talkoff]
//! (TRIALS default 30; `--only` runs one of the four parts)

#[path = "../tests/common/spandsp.rs"]
mod spandsp;

use callpop::dsp::cid;
use callpop::dsp::dtmf_cid;
use callpop::dsp::listener::{CidStandard, Heard, ListenFor, Listener};
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
    if part("talkoff") {
        talk_off();
    }
}

/// Keys heard in speech alone, callpop beside multimon-ng.
fn talk_off() {
    let texts = [
        ("cmn", "您好，欢迎致电客户服务中心。请问有什么可以帮您？我们的营业时间是早上九点到晚上六点。请按一号键查询账户余额，按二号键转人工服务，按零号键重听。"),
        ("cmn", "您的订单已经发货，预计三天内送达。如需修改收货地址，请提供订单号码和手机号码，我们的客服人员会尽快为您处理。感谢您的耐心等待。"),
        ("en-us", "Hello and thank you for calling. Please listen carefully as our menu options have changed. Press one for billing, two for technical support, or stay on the line for an operator."),
        ("en-us", "Your call is important to us. All of our representatives are currently assisting other customers. The estimated waiting time is four minutes. You may also visit our website."),
        ("de", "Guten Tag und vielen Dank für Ihren Anruf. Bitte haben Sie einen Moment Geduld, der nächste freie Mitarbeiter ist gleich für Sie da. Für Rechnungsfragen drücken Sie die Eins."),
        ("de", "Ihre Bestellung wurde versandt und wird voraussichtlich morgen zugestellt. Wenn Sie die Lieferadresse ändern möchten, halten Sie bitte Ihre Kundennummer bereit."),
        ("fr", "Bonjour et merci de votre appel. Veuillez patienter, un conseiller va prendre votre appel. Pour le service facturation, appuyez sur la touche un."),
        ("fr", "Votre commande a été expédiée et sera livrée demain. Pour modifier votre adresse de livraison, munissez-vous de votre numéro de client."),
        ("es", "Hola y gracias por llamar. Por favor, escuche atentamente porque nuestras opciones han cambiado. Para facturación, pulse uno; para soporte técnico, pulse dos."),
        ("es", "Su pedido ha sido enviado y llegará mañana. Si desea cambiar la dirección de entrega, tenga a mano su número de cliente y su teléfono."),
        ("ru", "Здравствуйте, спасибо за звонок. Пожалуйста, оставайтесь на линии, оператор ответит вам в ближайшее время. Для оплаты нажмите один."),
        ("ru", "Ваш заказ отправлен и будет доставлен завтра. Чтобы изменить адрес доставки, подготовьте номер заказа и номер телефона."),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut speech: Vec<f32> = Vec::new();
    for (i, (voice, text)) in texts.iter().enumerate() {
        for pitch in ["15", "40", "65", "90"] {
            for speed in ["130", "175", "220"] {
                let raw = dir.path().join(format!("{i}-{pitch}-{speed}.wav"));
                let narrow = dir.path().join("8k.wav");
                let ok = Command::new("espeak-ng")
                    .args(["-v", voice, "-p", pitch, "-s", speed, "-w"])
                    .arg(&raw)
                    .arg(text)
                    .status()
                    .is_ok_and(|s| s.success())
                    && Command::new("sox")
                        .arg(&raw)
                        .args(["-r", "8000", "-c", "1", "-b", "16"])
                        .arg(&narrow)
                        .args(["norm", "-6"])
                        .status()
                        .is_ok_and(|s| s.success());
                if !ok {
                    println!("\ntalk-off: needs espeak-ng and sox");
                    return;
                }
                let mut reader = hound::WavReader::open(&narrow).unwrap();
                speech.extend(
                    reader
                        .samples::<i16>()
                        .map(|s| f32::from(s.unwrap()) / 32768.0),
                );
            }
        }
    }
    let minutes = speech.len() as f64 / f64::from(RATE) / 60.0;
    let mut listener = Listener::new(RATE, &ListenFor::caller_id());
    let mut heard = Vec::new();
    for block in speech.chunks(160) {
        listener.push(block, &mut heard);
    }
    let keys = heard
        .iter()
        .filter(|h| matches!(h, Heard::Key { .. }))
        .count();
    let caller_ids = heard
        .iter()
        .filter(|h| matches!(h, Heard::CallerId { .. }))
        .count();
    let wav = dir.path().join("speech.wav");
    callpop::dsp::signal::write_wav(&wav, RATE, &speech).unwrap();
    let multimon = spandsp::reference_output(CidStandard::Dtmf, &wav)
        .map(|out| spandsp::dtmf_keys(&out).chars().count().to_string())
        .unwrap_or_else(|| "-".into());
    println!(
        "\ntalk-off: {minutes:.1} min of speech (espeak-ng, 6 languages, 12 texts, 4 pitches, 3 speeds): callpop {keys} keys, multimon-ng {multimon} keys; callpop caller IDs: {caller_ids}"
    );
}

/// callpop's own modulator, beside minimodem / multimon-ng.
fn own_sweep(trials: u32) {
    let have = |tool: &str| Command::new(tool).arg("--help").output().is_ok();
    println!("SNR sweep: {trials} trials a level, white noise over 0-4 kHz, {RATE} Hz");
    for standard in [CidStandard::Bell202, CidStandard::V23, CidStandard::Dtmf] {
        let ours = sweep(standard, RATE, &LEVELS, trials, 42);
        let tool = spandsp::reference_tool(standard);
        let reference = have(tool).then_some(tool);
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
            if reference.is_some() {
                print!(
                    "   {:>9}/{}",
                    reference_exact(standard, row.snr_db, trials),
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
fn reference_exact(standard: CidStandard, snr_db: i32, trials: u32) -> u32 {
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
        let Some(out) = spandsp::reference_output(standard, &wav) else {
            continue;
        };
        let ok = match standard {
            CidStandard::Dtmf => spandsp::dtmf_keys(&out) == dtmf_cid::encode(&sent),
            _ => {
                let want = cid::encode(&sent);
                out.windows(want.len()).any(|w| w == want)
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
