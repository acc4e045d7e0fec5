//! `callpop call`: dial and hang up from the command line, as a user,
//! through the running daemon's own API — the same checks (the user's
//! lines, the dial plan, the hourly allowance), audit and call course as
//! the workspace's click-to-dial. The CLI holds the database, so it opens
//! a session for the user that lives a minute and ends it when done.

use anyhow::{bail, Context, Result};
use callpop::config::Config;
use clap::Subcommand;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Subcommand, Debug)]
pub(crate) enum CallCommand {
    /// Dial a number through a line (the user's own by default), as USER;
    /// the daemon must be running. Prints the call's id.
    Dial {
        /// The number, in any format people write it.
        #[arg(long)]
        number: String,
        /// The line to dial on (default: the user's own, then their team's).
        #[arg(long)]
        line: Option<String>,
        /// Who dials: the call pops on their desktop and counts as theirs.
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// End a call (cancel it while it dials), as USER.
    Hangup {
        /// The call's id, as `call dial` printed it.
        #[arg(long = "call", value_name = "CALL_ID")]
        call_id: String,
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
}

pub(crate) fn run_call(command: CallCommand, config: &Config) -> Result<()> {
    let (user, path, body) = match command {
        CallCommand::Dial { number, line, user } => {
            let body = match line {
                Some(line) => json!({ "number": number, "line": line }),
                None => json!({ "number": number }),
            };
            (user, "/api/calls/dial".to_string(), body)
        }
        CallCommand::Hangup { call_id, user } => {
            (user, format!("/api/calls/{call_id}/hangup"), json!({}))
        }
    };
    if config.server.tls_cert.is_some() {
        bail!("the daemon serves HTTPS only; `callpop call` speaks plain HTTP to it on this machine — dial from the web app or the API instead");
    }
    let store = crate::open_store(config)?;
    let account = store
        .users()
        .user_by_name(&user)?
        .filter(|u| !u.disabled)
        .with_context(|| format!("no active user {user:?}; `callpop users list` shows them"))?;
    let token = callpop::auth::new_token();
    let hash = callpop::auth::token_hash(&token);
    store.users().create_session(
        &hash,
        account.id,
        callpop::store::now_ms() + 60_000,
        Some("cli"),
    )?;
    let mut address = config.server.listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answer = runtime.block_on(post(address, &path, &token, &body));
    let _ = store.users().end_session(&hash);
    let (status, reply) = answer.with_context(|| {
        format!("cannot reach the daemon at http://{address}/ (is `callpop serve` running?)")
    })?;
    match status {
        201 => {
            println!(
                "dialling {} on line {}: call {}",
                reply["digits"].as_str().unwrap_or(""),
                reply["line"].as_str().unwrap_or(""),
                reply["call_id"].as_str().unwrap_or("")
            );
            if let Some(ext) = reply["extension"].as_str() {
                println!("when connected, key in extension {ext}");
            }
            Ok(())
        }
        204 => {
            println!("hung up");
            Ok(())
        }
        _ => {
            let error = &reply["error"];
            bail!(
                "{} ({})",
                error["message"].as_str().unwrap_or("refused"),
                error["code"].as_str().unwrap_or("http")
            )
        }
    }
}

/// One POST with the session's cookie and CSRF token; the status and body.
async fn post(
    address: std::net::SocketAddr,
    path: &str,
    token: &str,
    body: &Value,
) -> std::io::Result<(u16, Value)> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Cookie: callpop_session={token}\r\nX-CSRF-Token: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        callpop::auth::csrf_token(token),
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}
