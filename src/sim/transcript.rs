//! A device that only replays a transcript, on a pseudo-terminal: each
//! command it hears gets the reply written down for it (from a modem's
//! documented answers, not from our own simulator's idea of them), and
//! bytes can be queued in the port before anyone opens it, as a modem that
//! spoke while nobody listened leaves them. Tests use it to check the real
//! drivers against what real devices say.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// What the device says, and when.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    /// Written into the port before it is handed over: stale answers,
    /// unsolicited codes, garbage.
    pub stale: Vec<u8>,
    /// Command (as heard, upper-cased) and the reply's lines, joined with
    /// `\r\n`; each reply goes out as `\r\n<reply>\r\n`.
    pub replies: Vec<(String, String)>,
    /// The reply to any other command (`ERROR`).
    pub otherwise: String,
    /// Whether commands are echoed until `ATE0` (real modems start so).
    pub echo: bool,
    /// How long the device takes to answer a command (real modems take a
    /// few ms; zero answers at once).
    pub latency: std::time::Duration,
}

/// A running transcript device, reachable at its link path.
pub struct TranscriptDevice {
    link: PathBuf,
    heard: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl TranscriptDevice {
    /// Creates the pseudo-terminal, queues the stale bytes in it (they are
    /// in the port when this returns), points `link` at it and starts
    /// answering.
    pub async fn start(link: &Path, transcript: Transcript) -> std::io::Result<TranscriptDevice> {
        let (mut master, slave) =
            tokio_serial::SerialStream::pair().map_err(std::io::Error::other)?;
        let slave_path = tokio_serial::SerialPort::name(&slave)
            .ok_or_else(|| std::io::Error::other("pseudo-terminal without a name"))?;
        master.write_all(&transcript.stale).await?;
        master.flush().await?;
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&slave_path, link)?;
        let heard = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(serve(master, slave, transcript, heard.clone()));
        Ok(TranscriptDevice {
            link: link.to_path_buf(),
            heard,
            task,
        })
    }

    /// The path a driver opens.
    pub fn link(&self) -> &Path {
        &self.link
    }

    /// Every command heard so far, in order.
    pub fn heard(&self) -> Vec<String> {
        self.heard.lock().unwrap().clone()
    }
}

impl Drop for TranscriptDevice {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut master: tokio_serial::SerialStream,
    // Held open, so the port keeps its queued bytes until the driver opens it.
    _slave: tokio_serial::SerialStream,
    transcript: Transcript,
    heard: Arc<Mutex<Vec<String>>>,
) {
    let mut echo = transcript.echo;
    let mut line = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let n = match master.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut out = String::new();
        for &b in &buf[..n] {
            if b != b'\r' && b != b'\n' {
                if line.len() < 1024 {
                    line.push(b);
                }
                continue;
            }
            let cmd = String::from_utf8_lossy(&line).trim().to_string();
            line.clear();
            // ESC (a half-typed PDU abandoned) and blank lines get no answer.
            let cmd = cmd.trim_start_matches('\x1b').to_string();
            if cmd.is_empty() {
                continue;
            }
            heard.lock().unwrap().push(cmd.clone());
            if echo {
                out.push_str(&cmd);
                out.push('\r');
            }
            let upper = cmd.to_ascii_uppercase();
            match upper.as_str() {
                "ATE0" => echo = false,
                "ATE1" => echo = true,
                _ => {}
            }
            let reply = transcript
                .replies
                .iter()
                .find(|(c, _)| *c == upper)
                .map(|(_, r)| r.as_str())
                .unwrap_or(transcript.otherwise.as_str());
            out.push_str(&format!("\r\n{reply}\r\n"));
        }
        if !out.is_empty() && !transcript.latency.is_zero() {
            tokio::time::sleep(transcript.latency).await;
        }
        if !out.is_empty() && master.write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
}
