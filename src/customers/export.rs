//! Customer export to CSV or XLSX, in the column layout the importer reads
//! back, so export → import round-trips.

use crate::store::{AuditEntry, Customer, Store, StoreError};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;

/// Export file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

/// XLSX sheets hold 1,048,576 rows, one of which is the header.
const XLSX_MAX_CUSTOMERS: u64 = 1_048_575;

/// Separator between several numbers or tags in one cell; the importer splits on it.
const LIST_SEPARATOR: &str = "; ";

fn header(custom_keys: &[String]) -> Vec<String> {
    let mut h: Vec<String> = ["name", "company", "phone", "tags", "owner"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    h.extend(custom_keys.iter().cloned());
    h
}

fn cells(c: &Customer, custom_keys: &[String]) -> Vec<String> {
    let phones: Vec<&str> = c.phones.iter().map(|p| p.raw.as_str()).collect();
    let mut row = vec![
        c.name.clone(),
        c.company.clone(),
        phones.join(LIST_SEPARATOR),
        c.tags.join(LIST_SEPARATOR),
        c.owner.clone().unwrap_or_default(),
    ];
    row.extend(custom_keys.iter().map(|k| match c.custom_fields.get(k) {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }));
    row
}

/// Writes every customer to `path`; returns how many.
pub fn export(store: &Store, format: ExportFormat, path: &Path) -> Result<u64> {
    let keys = store.custom_field_keys()?;
    let count = match format {
        ExportFormat::Csv => export_csv(store, &keys, path)?,
        ExportFormat::Xlsx => export_xlsx(store, &keys, path)?,
    };
    store.audit(&AuditEntry {
        actor: "cli",
        user_id: None,
        action: "customers.export",
        target: Some(&path.display().to_string()),
        detail: serde_json::json!({ "customers": count, "format": format!("{format:?}").to_lowercase() }),
        remote_addr: None,
    })?;
    Ok(count)
}

fn export_csv(store: &Store, keys: &[String], path: &Path) -> Result<u64> {
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    // A BOM, so Excel on a Chinese Windows opens UTF-8 as UTF-8.
    file.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::Writer::from_writer(file);
    w.write_record(header(keys))?;
    let mut count = 0u64;
    store.for_each_customer(|c| {
        count += 1;
        w.write_record(cells(&c, keys))
            .map_err(|e| StoreError::Invalid(format!("cannot write {}: {e}", path.display())))
    })?;
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(count)
}

fn export_xlsx(store: &Store, keys: &[String], path: &Path) -> Result<u64> {
    let total = store.customer_count()?;
    if total > XLSX_MAX_CUSTOMERS {
        bail!("{total} customers do not fit in one XLSX sheet ({XLSX_MAX_CUSTOMERS} at most); use --format csv");
    }
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory()?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (col, h) in header(keys).iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, h, &bold)?;
    }
    let mut row = 0u32;
    store.for_each_customer(|c| {
        row += 1;
        for (col, v) in cells(&c, keys).iter().enumerate() {
            if !v.is_empty() {
                sheet
                    .write_string(row, col as u16, v)
                    .map_err(|e| StoreError::Invalid(format!("xlsx: {e}")))?;
            }
        }
        Ok(())
    })?;
    book.save(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(row as u64)
}
