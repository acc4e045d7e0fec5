//! Reads a spreadsheet (CSV in any common encoding, or XLSX) as rows of text
//! cells, streaming, with row numbers as the user's editor shows them.

use anyhow::{bail, Context, Result};
use calamine::{Data, Reader};
use encoding_rs::Encoding;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One row: its number as an editor shows it (1-based) and its cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRow {
    pub row: usize,
    pub cells: Vec<String>,
}

/// A row that could not be read at all (bad encoding, broken quoting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReadError {
    pub row: usize,
    pub message: String,
}

/// An open spreadsheet: rows come one at a time; progress is in `units`
/// (bytes for CSV, rows for XLSX) out of `total`.
pub struct Table {
    pub encoding: &'static str,
    pub total: u64,
    done: Arc<AtomicU64>,
    rows: Box<dyn Iterator<Item = Result<SheetRow, RowReadError>> + Send>,
}

impl Table {
    /// Opens `path` by its extension: `.xlsx`/`.xlsm`/`.xls`/`.ods` via
    /// calamine, anything else as delimited text.
    pub fn open(path: &Path) -> Result<Table> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => open_workbook(path),
            _ => open_csv(path),
        }
    }

    /// How much has been read, in the same units as `total`.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// A shared counter of progress, for a progress bar on another thread.
    pub fn progress_counter(&self) -> Arc<AtomicU64> {
        self.done.clone()
    }
}

impl Iterator for Table {
    type Item = Result<SheetRow, RowReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rows.next()
    }
}

/// Counts bytes as they are read, for the progress bar.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Remembers where the newlines of the decoded text are, so that the end of
/// a record becomes the line number an editor shows. The csv crate's own
/// line numbers and record start offsets go wrong around blank lines and
/// CRLF endings; the reader's position after a record is exact. CR bytes are
/// dropped (CRLF becomes LF). Holds only the newlines read ahead of the
/// current record.
struct LineCounting<R> {
    inner: R,
    offset: u64,
    newlines: VecDeque<u64>,
    lines_before: usize,
    last_newline: Option<u64>,
}

impl<R> LineCounting<R> {
    fn new(inner: R) -> Self {
        LineCounting {
            inner,
            offset: 0,
            newlines: VecDeque::new(),
            lines_before: 0,
            last_newline: None,
        }
    }

    /// The 1-based line on which the text ending at `end` (exclusive) ends:
    /// a record that ends with its newline ends on that newline's line.
    /// Offsets must come in increasing order.
    fn line_ending_at(&mut self, end: u64) -> usize {
        let mut last = None;
        while self.newlines.front().is_some_and(|&n| n < end) {
            last = self.newlines.pop_front();
            self.lines_before += 1;
        }
        let ends_with_newline = match last {
            Some(n) => n + 1 == end,
            None => self.last_newline.is_some_and(|n| n + 1 == end),
        };
        if let Some(n) = last {
            self.last_newline = Some(n);
        }
        if ends_with_newline {
            self.lines_before
        } else {
            self.lines_before + 1
        }
    }
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut kept = 0;
            for i in 0..n {
                let b = buf[i];
                if b == b'\r' {
                    continue;
                }
                if b == b'\n' {
                    self.newlines.push_back(self.offset + kept as u64);
                }
                buf[kept] = b;
                kept += 1;
            }
            self.offset += kept as u64;
            // A read of nothing but CRs must not look like the end of the file.
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

/// How much of the file the encoding guess looks at.
const SNIFF_BYTES: usize = 1 << 20;

/// UTF-8 (with or without BOM) when the start of the file is valid UTF-8,
/// otherwise chardetng's guess with a Chinese-language hint (GBK/GB18030,
/// Big5...).
pub fn detect_encoding(head: &[u8], complete: bool) -> &'static Encoding {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return encoding_rs::UTF_8;
    }
    match std::str::from_utf8(head) {
        Ok(_) => return encoding_rs::UTF_8,
        // Only the last character was cut by the sniff window.
        Err(e) if e.error_len().is_none() && !complete => return encoding_rs::UTF_8,
        Err(_) => {}
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(head, complete);
    detector.guess(Some(b"cn"), chardetng::Utf8Detection::Allow)
}

/// Picks the delimiter that splits the first line most: comma, tab or semicolon.
fn sniff_delimiter(head: &str) -> u8 {
    let first = head.lines().next().unwrap_or("");
    [b',', b'\t', b';']
        .into_iter()
        .max_by_key(|d| (first.matches(*d as char).count(), *d == b','))
        .unwrap_or(b',')
}

fn open_csv(path: &Path) -> Result<Table> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = Vec::with_capacity(SNIFF_BYTES.min(total as usize));
    (&mut file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let complete = (head.len() as u64) >= total;
    let encoding = detect_encoding(&head, complete);
    let (decoded_head, _, _) = encoding.decode(&head);
    let delimiter = sniff_delimiter(decoded_head.trim_start_matches('\u{feff}'));
    let done = Arc::new(AtomicU64::new(0));
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let counting = Counting {
        inner: BufReader::with_capacity(1 << 16, file),
        count: done.clone(),
    };
    let decoder = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding))
        .bom_override(true)
        .build(counting);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(1 << 16)
        .from_reader(LineCounting::new(decoder));
    let mut record = csv::StringRecord::new();
    let mut failed = false;
    let rows = std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match reader.read_record(&mut record) {
            Ok(false) => None,
            Ok(true) => {
                // The line the record ends on, less the newlines inside its
                // quoted cells, is the line it starts on.
                let end = reader.position().byte();
                let inner: usize = record.iter().map(|c| c.matches('\n').count()).sum();
                let row = reader.get_mut().line_ending_at(end) - inner;
                Some(Ok(SheetRow {
                    row,
                    cells: record.iter().map(str::to_string).collect(),
                }))
            }
            Err(e) => {
                let end = reader.position().byte();
                let row = reader.get_mut().line_ending_at(end);
                let message = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => {
                        "not valid text in the file's encoding; row skipped".to_string()
                    }
                    csv::ErrorKind::Io(io) => {
                        failed = true;
                        format!("read error, import stopped here: {io}")
                    }
                    other => format!("{other:?}"),
                };
                Some(Err(RowReadError { row, message }))
            }
        }
    });
    Ok(Table {
        encoding: encoding.name(),
        total,
        done,
        rows: Box::new(rows),
    })
}

fn open_workbook(path: &Path) -> Result<Table> {
    let mut book = calamine::open_workbook_auto(path)
        .with_context(|| format!("cannot open workbook {}", path.display()))?;
    let Some(sheet) = book.sheet_names().first().cloned() else {
        bail!("{} has no sheets", path.display());
    };
    let range = book
        .worksheet_range(&sheet)
        .with_context(|| format!("cannot read sheet {sheet:?} of {}", path.display()))?;
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let first_col = range.start().map(|(_, c)| c as usize).unwrap_or(0);
    let total = range.height() as u64;
    let done = Arc::new(AtomicU64::new(0));
    let counter = done.clone();
    let rows: Vec<SheetRow> = range
        .rows()
        .enumerate()
        .map(|(i, cells)| SheetRow {
            row: first_row + i + 1,
            cells: std::iter::repeat_n(String::new(), first_col)
                .chain(cells.iter().map(cell_text))
                .collect(),
        })
        .collect();
    drop(book);
    Ok(Table {
        encoding: "xlsx",
        total,
        done,
        rows: Box::new(rows.into_iter().map(move |r| {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(r)
        })),
    })
}

/// Cell text as a person sees it; whole numbers without `.0`, so a phone
/// number typed into a number cell survives.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d
            .as_datetime()
            .map(|dt| dt.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| d.to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_gbk() {
        let (bytes, _, _) =
            encoding_rs::GBK.encode("姓名,电话\n张三,13812345678\n李四,13912345678\n");
        assert_eq!(detect_encoding(&bytes, true).name(), "GBK");
    }

    #[test]
    fn utf8_cut_mid_character_is_still_utf8() {
        let text = "姓名,电话\n张三".as_bytes();
        assert_eq!(
            detect_encoding(&text[..text.len() - 1], false),
            encoding_rs::UTF_8
        );
    }

    #[test]
    fn line_numbers_survive_crlf_blank_lines_and_quoted_newlines() {
        let data = "h1,h2\r\nA,1\r\n,,\r\n\r\nC,\"x\r\ny\"\r\nD,4";
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LineCounting::new(data.as_bytes()));
        let mut record = csv::StringRecord::new();
        let mut lines = Vec::new();
        while reader.read_record(&mut record).unwrap() {
            let end = reader.position().byte();
            let inner: usize = record.iter().map(|c| c.matches('\n').count()).sum();
            let line = reader.get_mut().line_ending_at(end) - inner;
            lines.push((record[0].to_string(), line));
        }
        let expect = [("h1", 1), ("A", 2), ("", 3), ("C", 5), ("D", 7)];
        assert_eq!(lines, expect.map(|(a, b)| (a.to_string(), b)));
    }

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter("name\tphone\n"), b'\t');
        assert_eq!(sniff_delimiter("name;phone;company\n"), b';');
        assert_eq!(sniff_delimiter("name,phone\n"), b',');
    }
}
