//! Per-call WAV files that stay playable while they grow: the header's
//! sizes are rewritten at every flush (about once a second), so a crash
//! loses at most the last second; and the repair of a file whose process
//! died between flushes (its header sizes are fixed from the file length).

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// How often the header is brought up to date.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// A recording being written: 16-bit mono PCM.
pub struct WavRecorder {
    writer: hound::WavWriter<BufWriter<File>>,
    sample_rate: u32,
    samples: u64,
    flushed_at: Instant,
}

impl WavRecorder {
    /// Creates `path` (and its folders) for `sample_rate` Hz.
    pub fn create(path: &Path, sample_rate: u32) -> Result<WavRecorder, hound::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        Ok(WavRecorder {
            writer: hound::WavWriter::create(path, spec)?,
            sample_rate,
            samples: 0,
            flushed_at: Instant::now(),
        })
    }

    /// Appends samples; the header is updated once `FLUSH_EVERY` has passed.
    pub fn write(&mut self, samples: &[i16]) -> Result<(), hound::Error> {
        let mut w = self.writer.get_i16_writer(samples.len() as u32);
        for s in samples {
            w.write_sample(*s);
        }
        w.flush()?;
        self.samples += samples.len() as u64;
        if self.flushed_at.elapsed() >= FLUSH_EVERY {
            self.writer.flush()?;
            self.flushed_at = Instant::now();
        }
        Ok(())
    }

    /// Audio so far.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples as f64 / f64::from(self.sample_rate))
    }

    /// Bytes of audio so far.
    pub fn data_bytes(&self) -> u64 {
        self.samples * 2
    }

    /// Completes the file; its duration.
    pub fn finish(self) -> Result<Duration, hound::Error> {
        let d = self.duration();
        self.writer.finalize()?;
        Ok(d)
    }
}

/// What repairing a file found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repaired {
    /// Bytes of audio the file holds now.
    pub data_bytes: u64,
    pub sample_rate: u32,
    /// Bytes per sample frame.
    pub block_align: u16,
    /// Whether the header had to be changed (or a partial frame cut).
    pub changed: bool,
}

impl Repaired {
    /// The audio's length.
    pub fn duration(&self) -> Duration {
        let frames = self.data_bytes / u64::from(self.block_align.max(1));
        Duration::from_secs_f64(frames as f64 / f64::from(self.sample_rate.max(1)))
    }
}

/// Why a file cannot be repaired.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("not a WAV file: {0}")]
    NotWav(&'static str),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Where the sizes of a WAV header are and what they should say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// Offset of the data chunk's size field.
    data_size_at: u64,
    data_bytes: u64,
    /// The file's length once a partial frame is cut off.
    file_len: u64,
    sample_rate: u32,
    block_align: u16,
    riff_size: u32,
    data_size: u32,
}

/// Reads the chunk layout from the first bytes of a file of `file_len`.
fn plan(head: &[u8], file_len: u64) -> Result<Plan, RepairError> {
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(RepairError::NotWav("no RIFF/WAVE header"));
    }
    let u32_at = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let mut at = 12usize;
    let mut format: Option<(u32, u16)> = None;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32_at(at + 4) as usize;
        if id == b"fmt " {
            if at + 8 + 16 > head.len() {
                return Err(RepairError::NotWav("a cut fmt chunk"));
            }
            let rate = u32_at(at + 12);
            let align = u16::from_le_bytes([head[at + 20], head[at + 21]]);
            format = Some((rate, align));
        } else if id == b"data" {
            let (sample_rate, block_align) =
                format.ok_or(RepairError::NotWav("data before fmt"))?;
            let data_start = (at + 8) as u64;
            let available = file_len.saturating_sub(data_start);
            let data_bytes = available - available % u64::from(block_align.max(1));
            return Ok(Plan {
                data_size_at: (at + 4) as u64,
                data_bytes,
                file_len: data_start + data_bytes,
                sample_rate,
                block_align,
                riff_size: u32::try_from(data_start + data_bytes - 8).unwrap_or(u32::MAX),
                data_size: u32::try_from(data_bytes).unwrap_or(u32::MAX),
            });
        }
        at += 8 + size + size % 2;
    }
    Err(RepairError::NotWav("no data chunk"))
}

/// Makes the header of `path` match its length: what a crash between two
/// flushes leaves wrong. A file already right is left untouched.
pub fn repair(path: &Path) -> Result<Repaired, RepairError> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let len = file.metadata()?.len();
    let mut head = vec![0u8; 4096.min(len as usize)];
    file.read_exact(&mut head)?;
    let p = plan(&head, len)?;
    let u32_at = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let changed = u32_at(4) != p.riff_size
        || u32_at(p.data_size_at as usize) != p.data_size
        || p.file_len != len;
    if changed {
        if p.file_len != len {
            file.set_len(p.file_len)?;
        }
        file.seek(SeekFrom::Start(4))?;
        file.write_all(&p.riff_size.to_le_bytes())?;
        file.seek(SeekFrom::Start(p.data_size_at))?;
        file.write_all(&p.data_size.to_le_bytes())?;
        file.sync_all()?;
    }
    Ok(Repaired {
        data_bytes: p.data_bytes,
        sample_rate: p.sample_rate,
        block_align: p.block_align,
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| ((i as f64 * 0.05).sin() * 12_000.0) as i16)
            .collect()
    }

    #[test]
    fn a_finished_file_reads_back_and_needs_no_repair() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("2026/11/23/call.wav");
        let mut w = WavRecorder::create(&path, 8000).unwrap();
        w.write(&samples(8000)).unwrap();
        w.write(&samples(4000)).unwrap();
        assert_eq!(w.finish().unwrap(), Duration::from_millis(1500));
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!((r.spec().sample_rate, r.len()), (8000, 12_000));
        let fixed = repair(&path).unwrap();
        assert!(!fixed.changed);
        assert_eq!(fixed.duration(), Duration::from_millis(1500));
    }

    #[test]
    fn a_file_cut_between_flushes_is_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.wav");
        let mut w = WavRecorder::create(&path, 8000).unwrap();
        w.write(&samples(800)).unwrap();
        w.writer.flush().unwrap();
        // The process dies after more audio reached the disk: the header
        // still says 800 samples, and the last write left half a sample.
        std::mem::forget(w);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        for s in samples(1601) {
            f.write_all(&s.to_le_bytes()).unwrap();
        }
        f.write_all(&[0x7f]).unwrap();
        let fixed = repair(&path).unwrap();
        assert!(fixed.changed);
        assert_eq!(fixed.data_bytes, 2 * 2401);
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.len(), 2401);
        let back: Vec<i16> = r.into_samples().map(|s| s.unwrap()).collect();
        assert_eq!(&back[800..], &samples(1601)[..]);
        assert!(!repair(&path).unwrap().changed, "repair is idempotent");
    }

    #[test]
    fn what_is_not_a_wav_file_is_refused() {
        assert!(matches!(
            plan(b"RIFX....WAVE", 12),
            Err(RepairError::NotWav(_))
        ));
        let mut head = b"RIFF\0\0\0\0WAVEdata\0\0\0\0".to_vec();
        assert!(matches!(
            plan(&head, 20),
            Err(RepairError::NotWav("data before fmt"))
        ));
        head.truncate(12);
        assert!(matches!(
            plan(&head, 12),
            Err(RepairError::NotWav("no data chunk"))
        ));
    }
}
