//! Writes tables people open in Excel: CSV (UTF-8 with a BOM, so a Chinese
//! Windows Excel reads it right) or XLSX (streamed, constant memory). Every
//! export of callpop goes through here.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;

/// Export file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    /// From a file name's extension; CSV unless it says `.xlsx`.
    pub fn from_path(path: &Path) -> ExportFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("xlsx") => ExportFormat::Xlsx,
            _ => ExportFormat::Csv,
        }
    }

    /// `csv` or `xlsx`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

/// XLSX sheets hold 1,048,576 rows, one of which is the header.
pub const XLSX_MAX_ROWS: u64 = 1_048_575;

/// Receives the rows of a table being written.
pub type RowSink<'a> = dyn FnMut(&[String]) -> Result<()> + 'a;

/// Writes `header` and the rows `fill` hands to its sink into `path`;
/// returns how many rows. `expected` (if known) is checked against the
/// XLSX row limit before anything is written.
pub fn write_table(
    format: ExportFormat,
    path: &Path,
    header: &[String],
    expected: Option<u64>,
    fill: impl FnOnce(&mut RowSink<'_>) -> Result<()>,
) -> Result<u64> {
    match format {
        ExportFormat::Csv => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            );
            file.write_all("\u{feff}".as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            let mut w = csv::Writer::from_writer(file);
            write_csv_row(&mut w, header)?;
            let mut count = 0u64;
            fill(&mut |cells: &[String]| {
                count += 1;
                write_csv_row(&mut w, cells)
                    .with_context(|| format!("cannot write {}", path.display()))
            })?;
            w.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(count)
        }
        ExportFormat::Xlsx => {
            if let Some(n) = expected.filter(|n| *n > XLSX_MAX_ROWS) {
                bail!("{n} rows do not fit in one XLSX sheet ({XLSX_MAX_ROWS} at most); use CSV");
            }
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet_with_constant_memory()?;
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (col, h) in header.iter().enumerate() {
                sheet.write_string_with_format(0, col as u16, h, &bold)?;
            }
            let mut row = 0u32;
            fill(&mut |cells: &[String]| {
                if u64::from(row) >= XLSX_MAX_ROWS {
                    bail!("more rows than one XLSX sheet holds ({XLSX_MAX_ROWS}); use CSV");
                }
                row += 1;
                for (col, v) in cells.iter().enumerate() {
                    if !v.is_empty() {
                        sheet.write_string(row, col as u16, v)?;
                    }
                }
                Ok(())
            })?;
            book.save(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(u64::from(row))
        }
    }
}

/// One CSV record, every cell [`neutralised`].
fn write_csv_row<W: std::io::Write>(w: &mut csv::Writer<W>, cells: &[String]) -> csv::Result<()> {
    for cell in cells {
        w.write_field(neutralised(cell).as_bytes())?;
    }
    w.write_record(None::<&[u8]>)
}

/// A CSV cell as a spreadsheet may open it without running it: text that
/// starts like a formula (`=`, `+`, `-`, `@`, a tab or a carriage return,
/// as OWASP's CSV-injection advice lists) gets a leading `'`, which
/// spreadsheets take as "this is text" and do not show. Caller-ID names
/// come from the telephone network and customers' fields from anyone, so
/// every exported cell passes here. A plain number (`+86 138 0013 8000`,
/// `-12.5`) is left as it is: it cannot call anything, and people sort and
/// dial what they export. XLSX cells are written as strings and need none
/// of this.
pub fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    let formula_like = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let plain_number = cell.len() > 1
        && cell.starts_with(['+', '-'])
        && cell[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '.')
        && cell[1..].chars().any(|c| c.is_ascii_digit());
    if formula_like && !plain_number {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_numbers_kept() {
        for attack in [
            "=cmd|' /C calc'!A0",
            "=HYPERLINK(\"http://x\",\"y\")",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "+cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "\t=1+1",
            "\r=1+1",
            "+",
            "-",
        ] {
            assert_eq!(neutralised(attack), format!("'{attack}"), "{attack:?}");
        }
        for kept in [
            "+86 138 0013 8000",
            "+8613800138000",
            "-12.5",
            "周杰",
            "13800138000",
            "",
            "a=b",
        ] {
            assert_eq!(neutralised(kept), kept);
        }
    }

    #[test]
    fn a_csv_export_carries_no_live_formula() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        let header = vec!["name".to_string(), "number".to_string()];
        write_table(ExportFormat::Csv, &path, &header, None, |sink| {
            sink(&["=cmd|' /C calc'!A0".into(), "+8613800138000".into()])
        })
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let row = rows.records().next().unwrap().unwrap();
        assert_eq!(&row[0], "'=cmd|' /C calc'!A0");
        assert_eq!(&row[1], "+8613800138000");
    }
}
