//! Call recording (录音): per-call WAV files under the recordings root
//! (`recordings/YYYY/MM/DD/<call-uid>.wav`), kept playable while they grow,
//! indexed in the store, and repaired after a crash.

pub mod recorder;
pub mod resample;
pub mod retention;
/// Audio sources live with the devices; the recorder opens them.
pub use crate::devices::audio as source;
pub mod wav;

use crate::store::{RecordingRow, Recordings, StoreError};
use std::path::Path;

/// Where a call's recording goes, relative to the recordings root.
pub fn relative_path(call_uid: &str, started: chrono::DateTime<chrono::Local>) -> String {
    // Call ids are ours, but a path is built from them: keep it to a name.
    let name: String = call_uid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}/{name}.wav", started.format("%Y/%m/%d"))
}

/// What became of one unfinished recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub recording: RecordingRow,
    /// `repaired` (with the audio's length) or `failed` (with why).
    pub state: &'static str,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// At start-up: the recordings a dead process left unfinished get their
/// WAV headers repaired and their index rows completed.
pub fn recover(store: Recordings<'_>, root: &Path) -> Result<Vec<Recovered>, StoreError> {
    let mut out = Vec::new();
    for r in store.unfinished_recordings()? {
        let path = root.join(&r.path);
        let (state, duration_ms, bytes, error) = match wav::repair(&path) {
            Ok(fixed) => (
                "repaired",
                fixed.duration().as_millis() as i64,
                fixed.data_bytes as i64,
                None,
            ),
            Err(e) => ("failed", 0, 0, Some(format!("{}: {e}", path.display()))),
        };
        store.recording_finished(r.id, state, duration_ms, bytes, error.as_deref())?;
        match &error {
            None => {
                tracing::warn!(recording = r.id, file = %path.display(), duration_ms, "an interrupted recording was repaired")
            }
            Some(e) => {
                tracing::error!(recording = r.id, error = %e, "an interrupted recording could not be repaired")
            }
        }
        out.push(Recovered {
            recording: r,
            state,
            duration_ms,
            error,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn paths_are_by_day_and_safe() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 3)
            .unwrap()
            .and_hms_opt(9, 5, 0)
            .unwrap()
            .and_local_timezone(chrono::Local)
            .unwrap();
        assert_eq!(relative_path("0193a-b2", t), "2026/11/03/0193a-b2.wav");
        assert_eq!(relative_path("../etc/x", t), "2026/11/03/___etc_x.wav");
    }

    #[test]
    fn unfinished_recordings_are_repaired_and_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let root = dir.path().join("recordings");
        let rel = "2026/11/23/call-1.wav";
        let mut w = wav::WavRecorder::create(&root.join(rel), 8000).unwrap();
        w.write(&vec![100i16; 4000]).unwrap();
        w.finish().unwrap();
        let ok = store
            .recordings()
            .recording_started("call-1", "box1/1", rel, 8000)
            .unwrap();
        let gone = store
            .recordings()
            .recording_started("call-2", "box1/2", "2026/11/23/call-2.wav", 8000)
            .unwrap();
        let done = recover(store.recordings(), &root).unwrap();
        assert_eq!(done.len(), 2);
        assert_eq!((done[0].state, done[0].duration_ms), ("repaired", 500));
        assert_eq!(done[1].state, "failed");
        let rows = store.recordings().recent(10).unwrap();
        let row = |id| rows.iter().find(|r| r.id == id).unwrap();
        assert_eq!((row(ok).state.as_str(), row(ok).bytes), ("repaired", 8000));
        assert_eq!(row(gone).state, "failed");
        assert!(recover(store.recordings(), &root).unwrap().is_empty());
    }
}
