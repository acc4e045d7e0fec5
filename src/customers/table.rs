//! Reads a spreadsheet (CSV in any common encoding, or XLSX) as rows of text
//! cells, streaming, with row numbers as the user's editor shows them.

use anyhow::{bail, Context, Result};
use calamine::{Data, Reader};
use encoding_rs::Encoding;
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
    /// What went wrong, for the page to word (see [`super::report::Issue`]).
    pub code: &'static str,
    pub params: serde_json::Value,
    pub message: String,
}

impl RowReadError {
    /// The error as a row issue of an import report.
    pub fn issue(&self) -> super::report::Issue {
        super::report::Issue::new(self.code, self.params.clone(), self.message.clone())
    }
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
    let rows = super::csv_rows::CsvRows::new(BufReader::with_capacity(1 << 16, decoder), delimiter);
    Ok(Table {
        encoding: encoding.name(),
        total,
        done,
        rows: Box::new(rows),
    })
}

/// The most rows a sheet may have (Excel's own limit): a crafted file
/// with more is read this far and then refused, in bounded memory.
pub const MAX_SHEET_ROWS: usize = 1_048_576;
/// The most columns a sheet may have (Excel's own limit, XFD).
pub const MAX_SHEET_COLUMNS: usize = 16_384;

fn open_workbook(path: &Path) -> Result<Table> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "xlsx" || ext == "xlsm" {
        return open_xlsx_streaming(path);
    }
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

/// An `.xlsx` sheet read cell by cell on a thread of its own, a bounded
/// number of rows ahead of the importer: memory stays flat however many
/// rows the sheet claims, and at most [`MAX_SHEET_ROWS`] are read.
fn open_xlsx_streaming(path: &Path) -> Result<Table> {
    use calamine::Xlsx;
    let mut book: Xlsx<_> = calamine::open_workbook(path)
        .with_context(|| format!("cannot open workbook {}", path.display()))?;
    let Some(sheet) = book.sheet_names().first().cloned() else {
        bail!("{} has no sheets", path.display());
    };
    let total = {
        let reader = book
            .worksheet_cells_reader(&sheet)
            .with_context(|| format!("cannot read sheet {sheet:?} of {}", path.display()))?;
        let d = reader.dimensions();
        (d.end.0.saturating_sub(d.start.0) as u64 + 1).min(MAX_SHEET_ROWS as u64)
    };
    let done = Arc::new(AtomicU64::new(0));
    let counter = done.clone();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<SheetRow, RowReadError>>(1024);
    let name = path.display().to_string();
    std::thread::Builder::new()
        .name("xlsx-reader".into())
        .spawn(move || {
            let mut reader = match book.worksheet_cells_reader(&sheet) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(RowReadError {
                        row: 1,
                        code: "sheet_unreadable",
                        params: serde_json::json!({ "sheet": sheet, "detail": e.to_string() }),
                        message: format!("cannot read sheet {sheet:?} of {name}: {e}"),
                    }));
                    return;
                }
            };
            let mut current: Option<SheetRow> = None;
            loop {
                let cell = match reader.next_cell() {
                    Ok(Some(cell)) => cell,
                    Ok(None) => break,
                    Err(e) => {
                        let row = current.as_ref().map_or(1, |r| r.row + 1);
                        let _ = tx.send(Err(RowReadError {
                            row,
                            code: "read_stopped",
                            params: serde_json::json!({ "detail": e.to_string() }),
                            message: format!("read error, import stopped here: {e}"),
                        }));
                        return;
                    }
                };
                let (r, c) = cell.get_position();
                let (row, col) = (r as usize + 1, c as usize);
                if col >= MAX_SHEET_COLUMNS {
                    let _ = tx.send(Err(RowReadError {
                        row,
                        code: "past_last_column",
                        params: serde_json::json!({ "columns": MAX_SHEET_COLUMNS }),
                        message: format!(
                            "a cell lies past column {MAX_SHEET_COLUMNS} (Excel's limit): the rest is not read"
                        ),
                    }));
                    return;
                }
                if current.as_ref().is_some_and(|cur| cur.row != row) {
                    let done_row = current.take().expect("a row");
                    counter.fetch_add(1, Ordering::Relaxed);
                    if tx.send(Ok(done_row)).is_err() {
                        return;
                    }
                }
                if row > MAX_SHEET_ROWS {
                    let _ = tx.send(Err(RowReadError {
                        row,
                        code: "past_last_row",
                        params: serde_json::json!({ "rows": MAX_SHEET_ROWS }),
                        message: format!(
                            "the sheet goes on past {MAX_SHEET_ROWS} rows (Excel's limit): the rest is not read"
                        ),
                    }));
                    return;
                }
                let text = cell_text(&calamine::Data::from(cell.get_value().clone()));
                let cur = current.get_or_insert_with(|| SheetRow {
                    row,
                    cells: Vec::new(),
                });
                if text.is_empty() {
                    continue;
                }
                if cur.cells.len() <= col {
                    cur.cells.resize(col + 1, String::new());
                }
                cur.cells[col] = text;
            }
            if let Some(last) = current {
                counter.fetch_add(1, Ordering::Relaxed);
                let _ = tx.send(Ok(last));
            }
        })
        .context("cannot start the sheet reader")?;
    Ok(Table {
        encoding: "xlsx",
        total,
        done,
        rows: Box::new(rx.into_iter().filter(|r| match r {
            // A row of only empty cells is a blank line, as in a CSV.
            Ok(row) => !row.cells.is_empty(),
            Err(_) => true,
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
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter("name\tphone\n"), b'\t');
        assert_eq!(sniff_delimiter("name;phone;company\n"), b';');
        assert_eq!(sniff_delimiter("name,phone\n"), b',');
    }
}
