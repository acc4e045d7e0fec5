//! A minimal agent desktop on the command line: logs in, prints every pop,
//! acknowledges it, heartbeats, and resumes its session after a drop. A
//! starting point for integrating callpop with another CRM.
//!
//! cargo run --example desk_client -- http://127.0.0.1:8080 agent1 demo1234

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(base), Some(user), Some(password)) = (args.next(), args.next(), args.next()) else {
        anyhow::bail!("usage: desk_client http://HOST:PORT USER PASSWORD");
    };
    let host = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let token = login(&host, &user, &password).await?;
    let mut session: Option<(String, u64)> = None;
    loop {
        if let Err(e) = run(&host, &token, &mut session).await {
            eprintln!("connection lost ({e}); reconnecting in 1 s");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One connection: resumes `session` if there is one, then prints messages.
async fn run(host: &str, token: &str, session: &mut Option<(String, u64)>) -> anyhow::Result<()> {
    let mut req = format!("ws://{host}/ws?csrf={}", callpop::auth::csrf_token(token))
        .into_client_request()?;
    req.headers_mut()
        .insert("cookie", format!("callpop_session={token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    let mut beat = tokio::time::interval(Duration::from_secs(15));
    loop {
        tokio::select! {
            _ = beat.tick() => ws.send(Message::Text(json!({"type": "heartbeat"}).to_string().into())).await?,
            msg = ws.next() => {
                let Some(msg) = msg else { anyhow::bail!("closed") };
                let Message::Text(text) = msg? else { continue };
                let m: Value = serde_json::from_str(&text)?;
                let seq = m["seq"].as_u64().unwrap_or(0);
                match m["type"].as_str().unwrap_or("") {
                    "hello" => {
                        let heartbeat = m["data"]["heartbeat_secs"].as_u64().unwrap_or(15);
                        beat = tokio::time::interval(Duration::from_secs(heartbeat));
                        match session.clone() {
                            Some((id, last)) => {
                                let resume = json!({"type": "resume", "data": {"session_id": id, "last_seq": last}});
                                ws.send(Message::Text(resume.to_string().into())).await?;
                            }
                            None => {
                                let id = m["data"]["session_id"].as_str().unwrap_or_default().to_string();
                                *session = Some((id, seq));
                                println!("connected as {}", m["data"]["user"]["display_name"]);
                            }
                        }
                        continue;
                    }
                    "heartbeat" => {
                        if session.as_ref().is_some_and(|(_, last)| seq > *last) {
                            anyhow::bail!("missed messages");
                        }
                        continue;
                    }
                    "resumed" | "snapshot" => {
                        let id = m["data"]["session_id"].as_str().unwrap_or_default().to_string();
                        *session = Some((id, seq));
                        println!("{}", m["type"]);
                    }
                    "call.ringing" => {
                        let d = &m["data"];
                        let who = d["customers"].as_array().map(|c| {
                            c.iter().map(|c| c["name"].as_str().unwrap_or("?")).collect::<Vec<_>>().join(" / ")
                        });
                        println!(
                            "POP {} line {} from {} ({}): {}",
                            d["call_id"], d["line"], d["number"], d["match"],
                            who.filter(|w| !w.is_empty()).unwrap_or_else(|| "unknown caller".into())
                        );
                        let ack = json!({"type": "ack", "data": {"seq": seq}});
                        ws.send(Message::Text(ack.to_string().into())).await?;
                    }
                    other => println!("{other} {}", m["data"]),
                }
                if let Some((_, last)) = session.as_mut() {
                    *last = seq;
                }
            }
        }
    }
}

/// Logs in over plain HTTP/1.1 and returns the session token.
async fn login(host: &str, user: &str, password: &str) -> anyhow::Result<String> {
    let body = json!({"username": user, "password": password}).to_string();
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!(
        "POST /api/login HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    if !response.starts_with("HTTP/1.1 200") {
        anyhow::bail!("login refused: {}", response.lines().next().unwrap_or(""));
    }
    response
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: callpop_session=")
                .then(|| l.to_string())
        })
        .and_then(|l| {
            l.split_once('=')
                .map(|(_, v)| v.split(';').next().unwrap_or("").to_string())
        })
        .ok_or_else(|| anyhow::anyhow!("no session cookie in the answer"))
}
