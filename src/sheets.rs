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
            w.write_record(header)?;
            let mut count = 0u64;
            fill(&mut |cells: &[String]| {
                count += 1;
                w.write_record(cells)
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
