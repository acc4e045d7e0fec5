//! `callpop cid decode` against signals from independent tools, so the
//! decoders are not only checked against our own generator: `minimodem`
//! for Bell 202 and V.23 FSK, `sox` for DTMF tones and resampling, and
//! `espeak-ng` speech for DTMF talk-off. `callpop cid gen` is checked the
//! other way round: `minimodem --rx` must read the bytes it sends.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

fn callpop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_callpop"))
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.stderr(Stdio::piped()).output().expect("the tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn decode(file: &Path, standard: &str) -> Vec<Value> {
    let out = run(callpop()
        .args(["cid", "decode", "--json", "--standard", standard])
        .arg(file));
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Channel seizure, marks, then the Bellcore SDMF example with its checksum.
fn sdmf_bytes() -> Vec<u8> {
    let mut m = vec![0x04u8, 18];
    m.extend(b"01150800");
    m.extend(b"6175551234");
    let sum = m.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    m.push(0u8.wrapping_sub(sum));
    let mut bytes = vec![0x55u8; 30];
    bytes.extend([0xFFu8; 22]);
    bytes.extend(m);
    bytes
}

fn minimodem_tx(dir: &Path, name: &str, rate: u32, tones: &[&str]) -> std::path::PathBuf {
    let out = dir.join(name);
    let bin = dir.join(format!("{name}.bin"));
    std::fs::write(&bin, sdmf_bytes()).unwrap();
    run(Command::new("minimodem")
        .args(["--tx", "--volume", "0.5", "-R", &rate.to_string(), "-f"])
        .arg(&out)
        .args(tones)
        .arg("1200")
        .stdin(std::fs::File::open(&bin).unwrap()));
    out
}

fn sox(args: &[&str]) {
    run(Command::new("sox").args(args));
}

fn assert_sdmf(found: &[Value], standard: &str) {
    assert_eq!(found.len(), 1, "{found:?}");
    let m = &found[0];
    assert_eq!(m["number"], "6175551234", "{m}");
    assert_eq!(m["datetime"], "01-15 08:00", "{m}");
    assert_eq!(m["format"], "sdmf");
    assert_eq!(m["standard"], standard);
    assert_eq!(m["checksum_ok"], true);
}

#[test]
fn minimodem_bell202_and_v23_are_decoded_native_and_resampled_to_8k() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bell = minimodem_tx(d, "bell.wav", 48_000, &[]);
    let v23 = minimodem_tx(d, "v23.wav", 48_000, &["-M", "1300", "-S", "2100"]);
    for (file, standard) in [(&bell, "bell202"), (&v23, "v23")] {
        assert_sdmf(&decode(file, "auto"), standard);
        assert_sdmf(&decode(file, standard), standard);
        // sox's resampler to telephone rate.
        let eight = d.join(format!("{standard}-8k.wav"));
        sox(&[
            file.to_str().unwrap(),
            "-r",
            "8000",
            eight.to_str().unwrap(),
        ]);
        assert_sdmf(&decode(&eight, "auto"), standard);
        // Under noise sox adds (whitenoise at -30 dB full scale).
        let noise = d.join(format!("{standard}-noise.wav"));
        let noisy = d.join(format!("{standard}-noisy.wav"));
        let (eight, noise_s) = (eight.to_str().unwrap(), noise.to_str().unwrap());
        sox(&[eight, noise_s, "synth", "whitenoise", "vol", "0.03"]);
        sox(&["-m", eight, noise_s, noisy.to_str().unwrap()]);
        assert_sdmf(&decode(&noisy, "auto"), standard);
    }
}

#[test]
fn sox_dtmf_keys_are_read_as_a_caller_id() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gap = d.join("gap.wav");
    let mono = ["-n", "-r", "8000", "-c", "1"];
    sox(&[&mono[..], &[gap.to_str().unwrap(), "trim", "0", "0.07"]].concat());
    let mut parts = Vec::new();
    for (i, key) in "D13800138000C".chars().enumerate() {
        let (low, high) = callpop::dsp::dtmf::key_tones(key).unwrap();
        let f = d.join(format!("k{i}.wav"));
        let (low, high) = (low.to_string(), high.to_string());
        let tone = [f.to_str().unwrap(), "synth", "0.07", "sine", &low];
        sox(&[
            &mono[..],
            &tone,
            &["synth", "0.07", "sine", "mix", &high, "vol", "0.4"],
        ]
        .concat());
        parts.push(f.to_str().unwrap().to_string());
        parts.push(gap.to_str().unwrap().to_string());
    }
    let seq = d.join("seq.wav");
    let mut args: Vec<&str> = parts.iter().map(String::as_str).collect();
    args.push(seq.to_str().unwrap());
    sox(&args);
    for standard in ["auto", "dtmf"] {
        let found = decode(&seq, standard);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0]["number"], "13800138000");
        assert_eq!(found[0]["standard"], "dtmf");
        assert_eq!(found[0]["format"], "dtmf");
    }
    // Only FSK asked for: nothing.
    assert!(decode(&seq, "bell202").is_empty());
}

#[test]
fn our_generator_is_read_by_minimodem() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("gen.wav");
    run(callpop()
        .args([
            "cid",
            "gen",
            "--standard",
            "bell202",
            "--number",
            "02088886666",
            "--rate",
            "48000",
            "-o",
        ])
        .arg(&wav));
    let out = run(Command::new("minimodem")
        .args(["--rx", "-q", "-f"])
        .arg(&wav)
        .arg("1200"));
    // minimodem prints the message bytes; the number is in them as ASCII.
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("02088886666"), "{text:?}");
}

#[test]
fn speech_does_not_talk_off_the_dtmf_detector() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut parts = Vec::new();
    let texts = [
        ("zh", "您好，欢迎致电客户服务中心。请问有什么可以帮您？我们的营业时间是早上九点到晚上六点，一二三四五六七八九十。请按一号键查询账户余额，按二号键转人工服务。"),
        ("en-us", "Hello and thank you for calling. Please listen carefully as our menu options have changed. Press one for billing, two for technical support, or stay on the line for an operator."),
    ];
    for (voice, text) in texts {
        for pitch in ["20", "50", "80", "99"] {
            let f = d.join(format!("{voice}-{pitch}.wav"));
            run(Command::new("espeak-ng")
                .args(["-v", voice, "-p", pitch, "-w"])
                .arg(&f)
                .arg(text));
            parts.push(f.to_str().unwrap().to_string());
        }
    }
    let speech = d.join("speech.wav");
    let mut args: Vec<&str> = parts.iter().map(String::as_str).collect();
    args.extend([
        "-r",
        "8000",
        "-c",
        "1",
        speech.to_str().unwrap(),
        "norm",
        "-6",
    ]);
    sox(&args);
    let found = decode(&speech, "dtmf");
    // Over about three minutes of speech at eight voices.
    assert!(found.len() <= 2, "talk-off: {found:?}");
    assert!(found.iter().all(|f| f["number"].is_null()), "{found:?}");
}

/// Files as they are found: a recording still being written (data size 0
/// or 0xFFFFFFFF in its header), one cut off after its caller ID, one in
/// G.711 μ-law as telephone systems write them. Each caller ID is found;
/// a cut file then names itself and what is missing.
#[test]
fn unfinished_cut_and_mulaw_files_give_their_caller_id() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bell = minimodem_tx(d, "bell.wav", 48_000, &[]);
    let eight = d.join("bell-8k.wav");
    // A second of silence after the caller ID, as on a line.
    sox(&[
        bell.to_str().unwrap(),
        "-r",
        "8000",
        "-b",
        "16",
        eight.to_str().unwrap(),
        "pad",
        "0",
        "1",
    ]);
    let wav = std::fs::read(&eight).unwrap();
    let data = wav.windows(4).position(|w| w == b"data").unwrap();
    let with_size = |size: u32| {
        let mut v = wav.clone();
        v[data + 4..data + 8].copy_from_slice(&size.to_le_bytes());
        v
    };
    for (name, bytes) in [
        ("zero.wav", with_size(0)),
        ("ffff.wav", with_size(u32::MAX)),
    ] {
        let path = d.join(name);
        std::fs::write(&path, bytes).unwrap();
        assert_sdmf(&decode(&path, "auto"), "bell202");
    }
    // Cut half a second into the silence: the caller ID, then the fault.
    let cut = d.join("cut.wav");
    std::fs::write(&cut, &wav[..wav.len() - 8000]).unwrap();
    let out = callpop()
        .args(["cid", "decode", "--json"])
        .arg(&cut)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let found: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_sdmf(&found, "bell202");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(cut.to_str().unwrap()) && err.contains("ends after"),
        "{err}"
    );
    // μ-law, as sox writes it.
    let ulaw = d.join("ulaw.wav");
    sox(&[
        eight.to_str().unwrap(),
        "-e",
        "mu-law",
        ulaw.to_str().unwrap(),
    ]);
    assert_sdmf(&decode(&ulaw, "auto"), "bell202");
    // A file that is not audio names itself.
    let text = d.join("notes.wav");
    std::fs::write(&text, "not audio").unwrap();
    let out = callpop()
        .args(["cid", "decode"])
        .arg(&text)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        !out.status.success() && err.contains(text.to_str().unwrap()),
        "{err}"
    );
}
