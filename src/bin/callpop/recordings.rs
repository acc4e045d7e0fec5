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
    /// Removes recordings older than DAYS days (deleted, or moved to
    /// `recording.archive` if set), except those held for quality checking.
    Purge {
        /// Age in days beyond which recordings go.
        #[arg(long, value_name = "DAYS")]
        older_than: u32,
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Print the result as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run_recordings(command: RecordingsCommand, config: Config) -> Result<()> {
    let store = open_store(&config)?;
    match command {
        RecordingsCommand::List { limit, json } => {
            let rows = store.recordings().recent(limit)?;
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
        RecordingsCommand::Purge {
            older_than,
            dry_run,
            json,
        } => {
            let root = config.recordings_root();
            let removed = callpop::recording::retention::purge(
                store.recordings(),
                &root,
                config.recording.archive.as_deref(),
                older_than,
                callpop::store::now_ms(),
                dry_run,
            )?;
            let failed = removed.iter().filter(|r| r.error.is_some()).count();
            if json {
                println!("{}", serde_json::to_string_pretty(&removed)?);
            } else {
                for r in &removed {
                    let verb = match (dry_run, r.how) {
                        (true, "archived") => "would archive",
                        (true, _) => "would delete",
                        (false, how) => how,
                    };
                    match &r.error {
                        None => println!("{verb}  {}", r.recording.path),
                        Some(e) => println!("FAILED  {}: {e}", r.recording.path),
                    }
                }
                println!(
                    "{} recording(s) older than {older_than} days{}",
                    removed.len() - failed,
                    if dry_run {
                        " would go (dry run)"
                    } else {
                        " removed"
                    }
                );
            }
            if failed > 0 {
                anyhow::bail!("{failed} recording(s) could not be removed");
            }
            Ok(())
        }
        RecordingsCommand::Repair => {
            let root = config.recordings_root();
            let done = callpop::recording::recover(store.recordings(), &root)?;
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
