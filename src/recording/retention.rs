//! Retention: recordings older than the configured days are deleted, or
//! moved to the archive folder, unless held for quality checking. Each
//! removal is logged and written to the audit log; the index row stays,
//! saying when the file went and how.

use crate::store::{RecordingRow, Recordings, StoreError};
use std::path::Path;

/// One recording retention removed (or, in a dry run, would remove).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Removal {
    pub recording: RecordingRow,
    /// `deleted` or `archived`.
    pub how: &'static str,
    /// Why the file could not be removed (the row is then left as it was).
    pub error: Option<String>,
}

/// Removes recordings started more than `days` days before `now_ms`.
pub fn purge(
    store: Recordings<'_>,
    root: &Path,
    archive: Option<&Path>,
    days: u32,
    now_ms: i64,
    dry_run: bool,
) -> Result<Vec<Removal>, StoreError> {
    let cutoff = now_ms - i64::from(days) * 86_400_000;
    let how = if archive.is_some() {
        "archived"
    } else {
        "deleted"
    };
    let mut out = Vec::new();
    for r in store.recordings_due_for_removal(cutoff)? {
        let error = if dry_run {
            None
        } else {
            remove_file(
                &root.join(&r.path),
                archive.map(|a| a.join(&r.path)).as_deref(),
            )
            .err()
        };
        if !dry_run && error.is_none() {
            store.recording_removed(&r, how, days)?;
            tracing::info!(recording = r.id, file = %r.path, how, "retention removed a recording");
        }
        if let Some(e) = &error {
            tracing::error!(recording = r.id, file = %r.path, error = %e, "retention could not remove a recording");
        }
        out.push(Removal {
            recording: r,
            how,
            error,
        });
    }
    Ok(out)
}

/// Applies retention at start-up and every hour after; `days` 0 keeps
/// everything.
pub async fn run(
    store: crate::store::StoreHandle,
    root: std::path::PathBuf,
    archive: Option<std::path::PathBuf>,
    days: u32,
) {
    if days == 0 {
        return;
    }
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let (root, archive) = (root.clone(), archive.clone());
        let done = store
            .recordings()
            .call(move |s| {
                purge(
                    s,
                    &root,
                    archive.as_deref(),
                    days,
                    crate::store::now_ms(),
                    false,
                )
            })
            .await;
        if let Err(e) = done {
            tracing::error!(error = %e, "retention could not run");
        }
    }
}

/// Deletes `file`, or moves it to `to`; a file already gone counts as done.
fn remove_file(file: &Path, to: Option<&Path>) -> Result<(), String> {
    if !file.exists() {
        return Ok(());
    }
    match to {
        None => std::fs::remove_file(file).map_err(|e| format!("{}: {e}", file.display())),
        Some(to) => {
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            if std::fs::rename(file, to).is_ok() {
                return Ok(());
            }
            // Another file system: copy, then delete.
            std::fs::copy(file, to)
                .map_err(|e| format!("{} → {}: {e}", file.display(), to.display()))?;
            std::fs::remove_file(file).map_err(|e| format!("{}: {e}", file.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn old_recordings_go_held_ones_stay_and_archives_keep_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rec");
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let mut ids = Vec::new();
        for (i, name) in ["2026/01/01/a.wav", "2026/01/01/b.wav", "2026/01/02/c.wav"]
            .iter()
            .enumerate()
        {
            std::fs::create_dir_all(root.join(name).parent().unwrap()).unwrap();
            std::fs::write(root.join(name), b"RIFF").unwrap();
            let id = store
                .recordings()
                .recording_started(&format!("call-{i}"), "box/1", name, 8000)
                .unwrap();
            store
                .recordings()
                .recording_finished(id, "done", 1000, 8000, None)
                .unwrap();
            ids.push(id);
        }
        store.recordings().set_recording_held(ids[1], true).unwrap();
        let now = crate::store::now_ms();
        // Nothing is older than a day yet.
        assert!(purge(store.recordings(), &root, None, 1, now, false)
            .unwrap()
            .is_empty());
        let later = now + 3 * 86_400_000;
        let dry = purge(store.recordings(), &root, None, 1, later, true).unwrap();
        assert_eq!(dry.len(), 2);
        assert!(root.join("2026/01/01/a.wav").exists());
        let archive = dir.path().join("archive");
        let done = purge(store.recordings(), &root, Some(&archive), 1, later, false).unwrap();
        assert_eq!(
            done.iter().map(|r| r.recording.id).collect::<Vec<_>>(),
            [ids[0], ids[2]]
        );
        assert!(!root.join("2026/01/01/a.wav").exists());
        assert!(archive.join("2026/01/01/a.wav").exists());
        assert!(root.join("2026/01/01/b.wav").exists(), "held");
        assert_eq!(
            store
                .recordings()
                .recording(ids[0])
                .unwrap()
                .unwrap()
                .removed_how
                .as_deref(),
            Some("archived")
        );
        // Each removal is in the audit log, and a second run finds nothing.
        assert_eq!(
            store
                .users()
                .recent_audit(10)
                .unwrap()
                .iter()
                .filter(|a| a.action == "recording.archived")
                .count(),
            2
        );
        assert!(purge(store.recordings(), &root, None, 1, later, false)
            .unwrap()
            .is_empty());
    }
}
