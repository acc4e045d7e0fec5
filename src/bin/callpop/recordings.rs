//! `callpop recordings`: the recordings index, and the repair of files a
//! crashed process left with stale WAV headers.

use crate::open_store;
use anyhow::Result;
use callpop::config::Config;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub(crate) enum RecordingsCommand {
    /// The newest recordings.
    List {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print them as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Repairs and indexes recordings a crashed process left unfinished
    /// (the daemon also does this when it starts).
    Repair,
}

pub(crate) fn run_recordings(command: RecordingsCommand, config: Config) -> Result<()> {
    let store = open_store(&config)?;
    match command {
        RecordingsCommand::List { limit, json } => {
            let rows = store.recordings(limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            if rows.is_empty() {
                println!("no recordings");
            }
            for r in rows {
                let when = chrono::DateTime::from_timestamp_millis(r.started_at)
                    .map(|t| {
                        t.with_timezone(&chrono::Local)
                            .format("%Y-%m-%d %H:%M:%S")
                            .to_string()
                    })
                    .unwrap_or_default();
                println!(
                    "{:>6}  {when}  {:<10} {:>7.1} s  {:<9} {}{}",
                    r.id,
                    r.line,
                    r.duration_ms as f64 / 1000.0,
                    r.state,
                    r.path,
                    r.error.map(|e| format!("  ({e})")).unwrap_or_default()
                );
            }
            Ok(())
        }
        RecordingsCommand::Repair => {
            let root = config.recordings_root();
            let done = callpop::recording::recover(&store, &root)?;
            if done.is_empty() {
                println!("no unfinished recordings under {}", root.display());
            }
            for r in done {
                match r.error {
                    None => println!(
                        "{}  repaired: {:.1} s of audio",
                        r.recording.path,
                        r.duration_ms as f64 / 1000.0
                    ),
                    Some(e) => println!("{}  failed: {e}", r.recording.path),
                }
            }
            Ok(())
        }
    }
}
