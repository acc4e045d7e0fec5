//! `callpop cid`: caller ID in recorded line audio, and test signals.

use anyhow::{anyhow, bail, Context, Result};
use callpop::dsp::cid::{Absence, CallerIdMessage, CidDateTime, MessageFormat};
use callpop::dsp::listener::{CidStandard, Heard, ListenFor, Listener};
use callpop::dsp::signal::CidSignal;
use callpop::dsp::tones;
use callpop::dsp::wav_in::WavIn;
use clap::{Subcommand, ValueEnum};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub(crate) enum CidCommand {
    /// Prints every caller-ID message and DTMF string in a WAV file, one a
    /// line (messages failing their checksum go to stderr, never stdout).
    Decode {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Standard::Auto)]
        standard: Standard,
        /// Also report call-progress tones of this plan (cn, us, etsi).
        #[arg(long, value_name = "PLAN")]
        tones: Option<String>,
        /// Which channel of a multi-channel file (1-based).
        #[arg(long, default_value_t = 1)]
        channel: u16,
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
        /// FSK weaker than this (dBm0) is ignored as line noise.
        #[arg(long, value_name = "DBM0", default_value_t = callpop::dsp::fsk::SQUELCH_DBM0, allow_hyphen_values = true)]
        squelch: f64,
    },
    /// Writes a caller-ID test signal to a WAV file (16-bit mono).
    Gen {
        #[arg(long, value_enum)]
        standard: GenStandard,
        /// The caller's number; leave out with --absent.
        #[arg(long)]
        number: Option<String>,
        /// Why there is no number.
        #[arg(long, value_enum)]
        absent: Option<AbsentArg>,
        /// The caller's name (MDMF only).
        #[arg(long)]
        name: Option<String>,
        /// Date and time as MMDDHHMM (FSK only).
        #[arg(long)]
        datetime: Option<String>,
        /// FSK message format (MDMF when a name is given).
        #[arg(long, value_enum, default_value_t = FormatArg::Sdmf)]
        format: FormatArg,
        /// Signal level in dBm0 (each tone's, for DTMF); default -13 for
        /// FSK, -9 for DTMF.
        #[arg(long, allow_hyphen_values = true)]
        level_dbm0: Option<f64>,
        /// Add white noise this many dB below the signal.
        #[arg(long, allow_hyphen_values = true)]
        snr_db: Option<f64>,
        /// Shift every tone by this many percent (a sender's clock error).
        #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
        offset_percent: f64,
        /// Extra stop bits after each FSK character.
        #[arg(long, default_value_t = 0)]
        extra_stop_bits: usize,
        #[arg(long, default_value_t = 8000)]
        rate: u32,
        /// Seed of the noise.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standard {
    Auto,
    Bell202,
    V23,
    Dtmf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GenStandard {
    Bell202,
    V23,
    Dtmf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FormatArg {
    Sdmf,
    Mdmf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AbsentArg {
    Private,
    Unavailable,
}

pub(crate) fn run_cid(command: CidCommand) -> Result<()> {
    match command {
        CidCommand::Decode {
            file,
            standard,
            tones,
            channel,
            json,
            squelch,
        } => decode(&file, standard, tones.as_deref(), channel, json, squelch),
        CidCommand::Gen {
            standard,
            number,
            absent,
            name,
            datetime,
            format,
            level_dbm0,
            snr_db,
            offset_percent,
            extra_stop_bits,
            rate,
            seed,
            output,
        } => {
            let datetime = match datetime {
                Some(d) => Some(
                    CidDateTime::parse(d.as_bytes())
                        .ok_or_else(|| anyhow!("--datetime {d:?}: give MMDDHHMM"))?,
                ),
                None => None,
            };
            if number.is_none() == absent.is_none() {
                bail!("give either --number or --absent");
            }
            if let Some(n) = &number {
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    bail!("--number {n:?}: digits only");
                }
            }
            let standard = match standard {
                GenStandard::Bell202 => CidStandard::Bell202,
                GenStandard::V23 => CidStandard::V23,
                GenStandard::Dtmf => CidStandard::Dtmf,
            };
            let message = CallerIdMessage {
                format: match (format, &name) {
                    (_, Some(_)) | (FormatArg::Mdmf, _) => MessageFormat::Mdmf,
                    (FormatArg::Sdmf, None) => MessageFormat::Sdmf,
                },
                datetime,
                number,
                number_absent: absent.map(|a| match a {
                    AbsentArg::Private => Absence::Private,
                    AbsentArg::Unavailable => Absence::Unavailable,
                }),
                name,
                name_absent: None,
                other: Vec::new(),
            };
            if rate < 8000 {
                bail!("--rate {rate}: 8000 Hz or more");
            }
            let mut signal = CidSignal::new(standard, rate);
            if let Some(l) = level_dbm0 {
                signal.level_dbm0 = l;
            }
            signal.snr_db = snr_db;
            signal.frequency_offset = offset_percent / 100.0;
            signal.extra_stop_bits = extra_stop_bits;
            signal.seed = seed;
            let samples = signal.render(&message);
            callpop::dsp::signal::write_wav(&output, rate, &samples)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!(
                "wrote {} ({:.2} s at {rate} Hz)",
                output.display(),
                samples.len() as f64 / f64::from(rate)
            );
            Ok(())
        }
    }
}

fn decode(
    file: &Path,
    standard: Standard,
    plan: Option<&str>,
    channel: u16,
    json: bool,
    squelch_dbm0: f64,
) -> Result<()> {
    let opened = std::fs::File::open(file).with_context(|| format!("{}", file.display()))?;
    let mut reader = WavIn::new(std::io::BufReader::new(opened))
        .with_context(|| format!("{}", file.display()))?;
    if channel == 0 || channel > reader.channels {
        bail!(
            "{}: --channel {channel}: the file has {} channel(s)",
            file.display(),
            reader.channels
        );
    }
    if reader.rate < 8000 {
        bail!(
            "{}: {} Hz is below telephone audio's 8000",
            file.display(),
            reader.rate
        );
    }
    let tone_plan = match plan {
        Some(p) => Some(tones::plan(p).ok_or_else(|| {
            anyhow!("--tones {p:?}: known plans are {}", tones::PLANS.join(", "))
        })?),
        None => None,
    };
    let standards: &[CidStandard] = match standard {
        Standard::Auto => &CidStandard::ALL,
        Standard::Bell202 => &[CidStandard::Bell202],
        Standard::V23 => &[CidStandard::V23],
        Standard::Dtmf => &[CidStandard::Dtmf],
    };
    let what = ListenFor {
        tones: tone_plan,
        squelch_dbm0,
        ..ListenFor::standards(standards)
    };
    let rate = reader.rate;
    let mut listener = Listener::new(rate, &what);
    let mut heard = Vec::new();
    // Hours of audio in little memory: a tenth of a second at a time. A
    // read that fails keeps what was heard before it.
    let mut block = Vec::with_capacity(rate as usize / 10);
    let failed = loop {
        block.clear();
        match reader.read_channel(usize::from(channel) - 1, rate as usize / 10, &mut block) {
            Ok(0) => break None,
            Ok(_) => listener.push(&block, &mut heard),
            Err(e) => break Some(e),
        }
    };
    listener.finish(&mut heard);
    let ms = |offset: u64| offset * 1000 / u64::from(rate);
    for h in &heard {
        match h {
            Heard::CallerId {
                offset,
                standard,
                message,
            } => {
                if json {
                    println!(
                        "{}",
                        json!({
                            "offset_ms": ms(*offset),
                            "standard": standard.as_str(),
                            "format": message.format.as_str(),
                            "number": message.number,
                            "name": message.name,
                            "datetime": message.datetime.map(|d| d.to_string()),
                            "reason_absent": message.number_absent,
                            "checksum_ok": true,
                        })
                    );
                } else {
                    println!("{}", describe(ms(*offset), *standard, message));
                }
            }
            Heard::Keys { offset, keys } => {
                if json {
                    println!(
                        "{}",
                        json!({
                            "offset_ms": ms(*offset),
                            "standard": "dtmf",
                            "format": "dtmf",
                            "digits": keys,
                            "number": null,
                        })
                    );
                } else {
                    println!(
                        "{:>9.3} s  dtmf     keys  {keys}",
                        ms(*offset) as f64 / 1000.0
                    );
                }
            }
            Heard::Tone { offset, kind } => {
                if json {
                    println!(
                        "{}",
                        json!({"offset_ms": ms(*offset), "tone": kind.as_str()})
                    );
                } else {
                    println!(
                        "{:>9.3} s  tone     {}",
                        ms(*offset) as f64 / 1000.0,
                        kind.as_str()
                    );
                }
            }
            Heard::Rejected {
                offset,
                standard,
                error,
            } => eprintln!(
                "{:.3} s {}: a message was framed but rejected: {error}",
                ms(*offset) as f64 / 1000.0,
                standard.as_str()
            ),
            Heard::Key { .. } => {}
        }
    }
    if let Some(e) = failed {
        bail!("{}: reading stopped: {e}", file.display());
    }
    if let Some((read, promised)) = reader.shortfall() {
        bail!(
            "{}: the audio ends after {read:.3} s, short of the {promised:.3} s its header \
             promises (a cut or unfinished file); what it holds was decoded above",
            file.display()
        );
    }
    Ok(())
}

fn describe(ms: u64, standard: CidStandard, m: &CallerIdMessage) -> String {
    let mut line = format!(
        "{:>9.3} s  {:<8} {:<5} ",
        ms as f64 / 1000.0,
        standard.as_str(),
        m.format.as_str()
    );
    match (&m.number, m.number_absent) {
        (Some(n), _) => line.push_str(n),
        (None, Some(Absence::Private)) => line.push_str("(private)"),
        (None, _) => line.push_str("(unavailable)"),
    }
    if let Some(name) = &m.name {
        line.push_str(&format!("  {name:?}"));
    }
    if let Some(d) = m.datetime {
        line.push_str(&format!("  {d}"));
    }
    line
}
