//! `callpop sms`: send one message (straight through a modem, or queued for
//! the daemon's modems), read the inbox, follow a queued message's parts.

use crate::{devices::gsm_profile_for, normalizer, open_store};
use anyhow::Result;
use callpop::config::Config;
use callpop::devices::gsm::pdu::Encoding;
use callpop::devices::gsm::port::{AtPort, SendError};
use callpop::lines;
use callpop::sms::outbox;
use clap::Subcommand;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(crate) enum SmsCommand {
    /// Send one message, split into parts as needed (UCS2 for Chinese).
    /// With --port it goes straight through that modem (which the daemon
    /// must not be driving) and each part's reference or error is printed;
    /// without, it is queued for the running daemon's modems.
    Send {
        /// The modem's port, best a /dev/serial/by-id path.
        #[arg(long)]
        port: Option<PathBuf>,
        /// The modem's profile (default: the best match for the port's USB ids).
        #[arg(long, requires = "port")]
        profile: Option<String>,
        /// The recipient: 13812345678, +8613812345678, 10086...
        #[arg(long)]
        to: String,
        /// The message; `-` reads it from standard input.
        #[arg(long)]
        text: String,
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// An SMS campaign (群发) to a customer group, a sheet or everyone:
    /// preview it with --dry-run, or start it and follow its progress. The
    /// daemon's modems send it, inside the sending window.
    Blast(crate::campaigns::BlastArgs),
    /// List, follow and control campaigns; export their results.
    Campaigns {
        #[command(subcommand)]
        command: Option<crate::campaigns::CampaignsCommand>,
    },
    /// Received messages, newest first.
    Inbox {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print them as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Delivery reports that matched no sent part (by modem, reference,
    /// recipient and send time), kept for a person, newest first.
    Reports {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print them as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Settles a part whose outcome is unknown (the modem or callpop died
    /// while sending it), once a person knows better.
    Settle {
        /// The part's id (`callpop sms status MESSAGE --json` shows it).
        part: i64,
        /// What became of it.
        #[arg(long, value_enum)]
        to: SettleTo,
        /// Why, for the record (kept as the part's note).
        #[arg(long, default_value = "settled by hand")]
        note: String,
    },
    /// A queued message's parts: state, modem, reference, error.
    Status {
        /// The id `callpop sms send` printed.
        id: i64,
        /// Print the parts as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// What a person found out about an unknown part.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum SettleTo {
    /// It arrived.
    Delivered,
    /// It did not, and is not to be sent again.
    Failed,
    /// Send it again (it may arrive twice).
    Resend,
}

pub(crate) fn run_sms(command: SmsCommand, config: Config) -> Result<()> {
    match command {
        SmsCommand::Send {
            port,
            profile,
            to,
            text,
            json,
        } => {
            let text = if text == "-" {
                std::io::read_to_string(std::io::stdin())?
                    .trim_end_matches(['\r', '\n'])
                    .to_string()
            } else {
                text
            };
            // Normalised once, here: the queue, the blacklist and the modem
            // all see the same form; letters and slips are refused.
            let to = callpop::phone::address::destination(&normalizer(&config), &to)?;
            match port {
                Some(port) => send_direct(&config, &port, profile.as_deref(), &to, &text, json),
                None => queue(&config, &to, &text, json),
            }
        }
        SmsCommand::Blast(args) => crate::campaigns::run_blast(config, args),
        SmsCommand::Campaigns { command } => crate::campaigns::run_campaigns(config, command),
        SmsCommand::Inbox { limit, json } => inbox(&config, limit, json),
        SmsCommand::Reports { limit, json } => unmatched_reports(&config, limit, json),
        SmsCommand::Status { id, json } => status(&config, id, json),
        SmsCommand::Settle { part, to, note } => {
            let state = match to {
                SettleTo::Delivered => callpop::store::PartState::Delivered,
                SettleTo::Failed => callpop::store::PartState::Failed,
                SettleTo::Resend => callpop::store::PartState::Queued,
            };
            let store = open_store(&config)?;
            store.sms().settle_unknown(part, state, &note)?;
            store.users().audit(&callpop::store::AuditEntry {
                actor: "cli",
                user_id: None,
                action: "sms.part.settle",
                target: Some(&part.to_string()),
                detail: serde_json::json!({ "to": state.as_str(), "note": note }),
                remote_addr: None,
            })?;
            println!("part {part} is now {}", state.as_str());
            Ok(())
        }
    }
}

/// What became of one part of a direct send.
#[derive(Debug, Serialize)]
struct PartReport {
    part: usize,
    /// `sent`, `failed` (certainly not sent), `unknown` (may have left),
    /// or `skipped` (not tried after an earlier part failed).
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct SendReport {
    to: String,
    encoding: &'static str,
    characters: usize,
    parts: Vec<PartReport>,
}

fn encoding_name(e: Encoding) -> &'static str {
    match e {
        Encoding::Gsm7 => "gsm7",
        Encoding::Eight => "8bit",
        Encoding::Ucs2 => "ucs2",
    }
}

fn send_direct(
    config: &Config,
    port: &std::path::Path,
    profile: Option<&str>,
    to: &str,
    text: &str,
    json: bool,
) -> Result<()> {
    let profiles = lines::profiles(config)?;
    let profile = gsm_profile_for(&profiles, port, profile)?;
    let reference = (callpop::store::now_ms() % 256) as u8;
    let pdus = outbox::encode(&config.sms, to, text, reference)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let parts = runtime.block_on(async {
        let mut at = AtPort::open(port, profile.clone())?;
        at.init().await?;
        let mut parts = Vec::new();
        let mut failed = false;
        for (i, pdu) in pdus.iter().enumerate() {
            let report = if failed {
                PartReport {
                    part: i + 1,
                    state: "skipped",
                    reference: None,
                    error: None,
                }
            } else {
                match at.send_pdu(&pdu.hex, pdu.tpdu_len).await {
                    Ok(r) => PartReport {
                        part: i + 1,
                        state: "sent",
                        reference: Some(r),
                        error: None,
                    },
                    Err(e) => {
                        failed = true;
                        let (state, e) = match e {
                            SendError::NotSent(e) => ("failed", e),
                            SendError::Unknown(e) => ("unknown", e),
                        };
                        PartReport {
                            part: i + 1,
                            state,
                            reference: None,
                            error: Some(e.reason()),
                        }
                    }
                }
            };
            if !json {
                print_part(&report, pdus.len());
            }
            parts.push(report);
        }
        anyhow::Ok(parts)
    })?;
    let ok = parts.iter().all(|p| p.state == "sent");
    if json {
        let report = SendReport {
            to: to.to_string(),
            encoding: encoding_name(pdus[0].encoding),
            characters: text.chars().count(),
            parts,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if !ok {
        anyhow::bail!("the message was not sent whole");
    }
    Ok(())
}

fn print_part(p: &PartReport, total: usize) {
    match (p.reference, &p.error) {
        (Some(r), _) => println!("part {}/{total}  sent     reference {r}", p.part),
        (None, Some(e)) => println!("part {}/{total}  {:<8} {e}", p.part, p.state),
        (None, None) => println!("part {}/{total}  {}", p.part, p.state),
    }
}

fn queue(config: &Config, to: &str, text: &str, json: bool) -> Result<()> {
    let store = open_store(config)?;
    let pdus = outbox::encode(
        &config.sms,
        to,
        text,
        (callpop::store::now_ms() % 256) as u8,
    )?;
    let encoding = encoding_name(pdus[0].encoding);
    let id = store.sms().queue_sms(&callpop::store::NewSms {
        to,
        text,
        encoding: if encoding == "gsm7" { "gsm7" } else { "ucs2" },
        parts: pdus.iter().map(|p| (p.hex.clone(), p.tpdu_len)).collect(),
        created_by: None,
    })?;
    if json {
        println!(
            "{}",
            serde_json::json!({"id": id, "parts": pdus.len(), "encoding": encoding})
        );
    } else {
        println!(
            "message {id} queued: {} part(s), {encoding}; the daemon's modems send it \
             (`callpop sms status {id}` follows it)",
            pdus.len()
        );
    }
    Ok(())
}

fn inbox(config: &Config, limit: u32, json: bool) -> Result<()> {
    let store = open_store(config)?;
    let messages = store.sms().sms_inbox(limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&messages)?);
        return Ok(());
    }
    if messages.is_empty() {
        println!("no messages received");
    }
    for m in messages {
        if let (Some(pdu), Some(error)) = (&m.pdu, &m.error) {
            println!(
                "{:>5}  undecodable PDU from {:<10} {error}\n       {pdu}",
                m.id, m.modem
            );
            continue;
        }
        let missing = if m.missing.is_empty() {
            String::new()
        } else {
            format!(
                "  [parts missing: {}]",
                m.missing
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        println!(
            "{:>5}  {}  {:<16} {:<10} {}{missing}",
            m.id, m.sent_at, m.sender, m.modem, m.text
        );
    }
    Ok(())
}

fn unmatched_reports(config: &Config, limit: u32, json: bool) -> Result<()> {
    let reports = open_store(config)?.sms().sms_unmatched_reports(limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    if reports.is_empty() {
        println!("every delivery report matched its part");
    }
    for r in reports {
        println!(
            "{:>5}  {:<10} reference {:<3} to {:<16} status 0x{:02x}  sent {}  {}",
            r.id, r.modem, r.reference, r.recipient, r.status, r.submitted_at, r.reason
        );
    }
    Ok(())
}

fn status(config: &Config, id: i64, json: bool) -> Result<()> {
    let store = open_store(config)?;
    let parts = store.sms().sms_parts(id)?;
    if parts.is_empty() {
        anyhow::bail!("no message {id}");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&parts)?);
        return Ok(());
    }
    for p in parts {
        println!(
            "part {:>3}  {:<9} modem {:<10} reference {:<4} tries {}  {}",
            p.seq,
            p.state.as_str(),
            p.modem.as_deref().unwrap_or("-"),
            p.reference
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
            p.attempts,
            p.error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
