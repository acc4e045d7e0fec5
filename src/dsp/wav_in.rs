//! WAV audio read as files are found, not as they ought to be: a header
//! whose data size is 0 or 0xFFFFFFFF (a file another program is still
//! writing) is read to its end; a file cut short yields every sample it
//! has and then says how much was missing; PCM of 8 to 32 bits, 32-bit
//! float and the telephone's own G.711 A-law and μ-law, also inside
//! WAVE_FORMAT_EXTENSIBLE. `hound` refuses or stops early on all but the
//! first of these, and a recording's caller ID must not be lost for it.

use std::io::Read;

/// Why a file cannot be read as WAV audio.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("not a WAV file: {0}")]
    NotWav(&'static str),
    #[error("unsupported WAV encoding (format tag {tag:#06x}, {bits} bits)")]
    Unsupported { tag: u16, bits: u16 },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How the samples are coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// Little-endian PCM of 1 to 4 bytes (8 bits unsigned, more signed).
    Pcm(u16),
    Float32,
    ALaw,
    MuLaw,
}

/// A WAV file's audio, read frame by frame.
pub struct WavIn<R> {
    input: R,
    pub rate: u32,
    pub channels: u16,
    pub coding: Coding,
    /// Bytes of the data chunk the header promises; `None`: to the end.
    declared: Option<u64>,
    /// Bytes of audio read so far.
    read: u64,
    /// A frame cut by the end of the file (its bytes are not audio).
    cut_frame: bool,
}

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_ALAW: u16 = 6;
const FORMAT_MULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

impl<R: Read> WavIn<R> {
    /// Reads the header up to the start of the audio.
    pub fn new(mut input: R) -> Result<WavIn<R>, WavError> {
        let mut riff = [0u8; 12];
        read_exact_or(&mut input, &mut riff, "shorter than a WAV header")?;
        if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
            return Err(WavError::NotWav("no RIFF/WAVE header"));
        }
        let mut format: Option<(u16, u16, u32, u16)> = None;
        loop {
            let mut head = [0u8; 8];
            read_exact_or(&mut input, &mut head, "no data chunk")?;
            let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            match &head[0..4] {
                b"fmt " => {
                    if !(16..=1024).contains(&size) {
                        return Err(WavError::NotWav("a fmt chunk of an impossible size"));
                    }
                    let mut fmt = vec![0u8; size as usize + (size as usize % 2)];
                    read_exact_or(&mut input, &mut fmt, "a cut fmt chunk")?;
                    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
                    let mut tag = u16_at(0);
                    if tag == FORMAT_EXTENSIBLE && size >= 26 {
                        // The sub-format GUID starts with the plain tag.
                        tag = u16_at(24);
                    }
                    let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
                    format = Some((tag, u16_at(2), rate, u16_at(14)));
                }
                b"data" => {
                    let (tag, channels, rate, bits) =
                        format.ok_or(WavError::NotWav("audio before its format"))?;
                    let coding = match (tag, bits) {
                        (FORMAT_PCM, 8 | 16 | 24 | 32) => Coding::Pcm(bits / 8),
                        (FORMAT_FLOAT, 32) => Coding::Float32,
                        (FORMAT_ALAW, 8) => Coding::ALaw,
                        (FORMAT_MULAW, 8) => Coding::MuLaw,
                        _ => return Err(WavError::Unsupported { tag, bits }),
                    };
                    if channels == 0 || rate == 0 {
                        return Err(WavError::NotWav("no channels or no sample rate"));
                    }
                    // 0 and 0xFFFFFFFF: the writer has not said yet.
                    let declared = (size != 0 && size != u32::MAX).then_some(u64::from(size));
                    return Ok(WavIn {
                        input,
                        rate,
                        channels,
                        coding,
                        declared,
                        read: 0,
                        cut_frame: false,
                    });
                }
                _ => {
                    // Another chunk (LIST, fact...): skipped, padded to even.
                    let skip = u64::from(size) + u64::from(size % 2);
                    let skipped =
                        std::io::copy(&mut (&mut input).take(skip), &mut std::io::sink())?;
                    if skipped < skip {
                        return Err(WavError::NotWav("no data chunk"));
                    }
                }
            }
        }
    }

    fn sample_bytes(&self) -> usize {
        match self.coding {
            Coding::Pcm(b) => usize::from(b),
            Coding::Float32 => 4,
            Coding::ALaw | Coding::MuLaw => 1,
        }
    }

    /// Appends up to `max` samples of `channel` (0-based) to `out`, as
    /// floats in [-1, 1]; how many. 0: the audio is over.
    pub fn read_channel(
        &mut self,
        channel: usize,
        max: usize,
        out: &mut Vec<f32>,
    ) -> Result<usize, WavError> {
        let width = self.sample_bytes();
        let frame = width * usize::from(self.channels);
        let mut want = (max * frame) as u64;
        if let Some(d) = self.declared {
            want = want.min(d.saturating_sub(self.read));
        }
        let mut bytes = vec![0u8; want as usize];
        let got = read_full(&mut self.input, &mut bytes)?;
        self.read += got as u64;
        let whole = got - got % frame;
        if whole < got {
            // The file ends inside a frame: what is there is not a sample.
            self.cut_frame = true;
        }
        let before = out.len();
        for f in bytes[..whole].chunks_exact(frame) {
            let s = &f[channel * width..(channel + 1) * width];
            out.push(self.decode(s));
        }
        Ok(out.len() - before)
    }

    fn decode(&self, s: &[u8]) -> f32 {
        match self.coding {
            Coding::Pcm(1) => (f32::from(s[0]) - 128.0) / 128.0,
            Coding::Pcm(2) => f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0,
            Coding::Pcm(3) => (i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8) as f32 / 8_388_608.0,
            Coding::Pcm(_) => i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as f32 / 2_147_483_648.0,
            Coding::Float32 => f32::from_le_bytes([s[0], s[1], s[2], s[3]]).clamp(-1.0, 1.0),
            Coding::ALaw => f32::from(alaw(s[0])) / 32768.0,
            Coding::MuLaw => f32::from(mulaw(s[0])) / 32768.0,
        }
    }

    /// Once the audio is over: how it ended short of what the header
    /// promised, if it did (seconds read, seconds promised).
    pub fn shortfall(&self) -> Option<(f64, f64)> {
        let frame = (self.sample_bytes() * usize::from(self.channels)) as f64;
        let secs = |bytes: u64| bytes as f64 / frame / f64::from(self.rate);
        match self.declared {
            Some(d) if self.read < d => Some((secs(self.read), secs(d))),
            None if self.cut_frame => Some((
                secs(self.read),
                secs(self.read) + 1.0 / f64::from(self.rate),
            )),
            _ => None,
        }
    }
}

/// G.711 A-law to 16-bit linear.
fn alaw(a: u8) -> i16 {
    let a = a ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = i16::from(a & 0x0F);
    let magnitude = match exponent {
        0 => (mantissa << 4) + 8,
        e => ((mantissa << 4) + 0x108) << (e - 1),
    };
    if a & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// G.711 μ-law to 16-bit linear.
fn mulaw(u: u8) -> i16 {
    let u = !u;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

fn read_exact_or(input: &mut impl Read, buf: &mut [u8], why: &'static str) -> Result<(), WavError> {
    if read_full(input, buf)? < buf.len() {
        return Err(WavError::NotWav(why));
    }
    Ok(())
}

/// Reads until `buf` is full or the input ends; how much was read.
pub fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header for `data` bytes (the size field as given).
    fn wav(tag: u16, channels: u16, bits: u16, size_field: u32, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(b"RIFF");
        v.extend(&(36 + data.len() as u32).to_le_bytes());
        v.extend(b"WAVEfmt ");
        v.extend(&16u32.to_le_bytes());
        v.extend(&tag.to_le_bytes());
        v.extend(&channels.to_le_bytes());
        v.extend(&8000u32.to_le_bytes());
        let align = channels * bits / 8;
        v.extend(&(8000 * u32::from(align)).to_le_bytes());
        v.extend(&align.to_le_bytes());
        v.extend(&bits.to_le_bytes());
        v.extend(b"LIST");
        v.extend(&3u32.to_le_bytes());
        v.extend(b"abc\0");
        v.extend(b"data");
        v.extend(&size_field.to_le_bytes());
        v.extend(data);
        v
    }

    fn all(bytes: &[u8], channel: usize) -> (Vec<f32>, Option<(f64, f64)>) {
        let mut w = WavIn::new(bytes).unwrap();
        let mut out = Vec::new();
        while w.read_channel(channel, 3, &mut out).unwrap() > 0 {}
        (out, w.shortfall())
    }

    #[test]
    fn sizes_as_writers_leave_them() {
        let pcm: Vec<u8> = [1000i16, -1000, 16384, -32768]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let want = vec![1000.0 / 32768.0, -1000.0 / 32768.0, 0.5, -1.0];
        // Right; still being written (0, 0xFFFFFFFF): to the end, no fault.
        for size in [8, 0, u32::MAX] {
            let (got, short) = all(&wav(1, 1, 16, size, &pcm), 0);
            assert_eq!((got, short), (want.clone(), None), "size {size:#x}");
        }
        // Trailing chunks after the data are not audio.
        let mut trailing = wav(1, 1, 16, 4, &pcm);
        trailing.truncate(trailing.len() - 4);
        trailing.extend(b"LIST");
        let (got, _) = all(&trailing, 0);
        assert_eq!(got, want[..2]);
        // Cut short: every sample there, then the shortfall.
        let (got, short) = all(&wav(1, 1, 16, 16, &pcm), 0);
        assert_eq!(got, want);
        assert_eq!(short, Some((4.0 / 8000.0, 8.0 / 8000.0)));
        // Cut inside a sample.
        let (got, short) = all(&wav(1, 1, 16, 0, &pcm[..7]), 0);
        assert_eq!(got, want[..3]);
        assert!(short.is_some());
    }

    #[test]
    fn encodings_and_channels() {
        let stereo: Vec<u8> = [100i16, -200, 300, -400]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        assert_eq!(
            all(&wav(1, 2, 16, 8, &stereo), 1).0,
            vec![-200.0 / 32768.0, -400.0 / 32768.0]
        );
        assert_eq!(
            all(&wav(1, 1, 8, 2, &[128, 255]), 0).0,
            vec![0.0, 127.0 / 128.0]
        );
        let f: Vec<u8> = [0.25f32, -2.0]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        assert_eq!(all(&wav(3, 1, 32, 8, &f), 0).0, vec![0.25, -1.0]);
        // G.711's quiet and loud codes (ITU-T G.711 tables).
        let a = all(&wav(6, 1, 8, 2, &[0xD5, 0x2A]), 0).0;
        assert_eq!((a[0] * 32768.0, a[1] * 32768.0), (8.0, -32256.0));
        let u = all(&wav(7, 1, 8, 2, &[0xFF, 0x00]), 0).0;
        assert_eq!((u[0] * 32768.0, u[1] * 32768.0), (0.0, -32124.0));
        assert!(matches!(
            WavIn::new(&wav(2, 1, 4, 0, &[])[..]),
            Err(WavError::Unsupported { tag: 2, bits: 4 })
        ));
        assert!(matches!(
            WavIn::new(&b"RIFX0000WAVE"[..]),
            Err(WavError::NotWav(_))
        ));
    }
}
