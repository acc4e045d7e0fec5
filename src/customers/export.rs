//! Customer export to CSV or XLSX, in the column layout the importer reads
//! back, so export → import round-trips.

use crate::store::{AuditEntry, Customer, Store, StoreError};
use anyhow::Result;
use std::path::Path;

pub use crate::sheets::ExportFormat;

/// Separator between several numbers or tags in one cell; the importer splits on it.
const LIST_SEPARATOR: &str = "; ";

/// The first columns, in English (the CLI's) and Chinese (the page's for
/// a Chinese reader): both are headers the importer maps back.
const COLUMNS_EN: [&str; 5] = ["name", "company", "phone", "tags", "owner"];
const COLUMNS_ZH: [&str; 5] = ["客户名称", "公司", "电话", "客户群", "负责人"];

/// The header row; custom fields are headed by their keys, which the
/// importer keeps them under.
pub fn header(custom_keys: &[String], chinese: bool) -> Vec<String> {
    let first = if chinese { COLUMNS_ZH } else { COLUMNS_EN };
    let mut h: Vec<String> = first.iter().map(|s| s.to_string()).collect();
    h.extend(custom_keys.iter().cloned());
    h
}

/// One customer's cells under [`header`].
pub fn cells<'c>(
    name: &str,
    company: &str,
    phones: impl Iterator<Item = &'c str>,
    tags: &[String],
    owner: Option<&str>,
    custom_fields: &serde_json::Map<String, serde_json::Value>,
    custom_keys: &[String],
) -> Vec<String> {
    let mut row = vec![
        name.to_string(),
        company.to_string(),
        phones.collect::<Vec<_>>().join(LIST_SEPARATOR),
        tags.join(LIST_SEPARATOR),
        owner.unwrap_or_default().to_string(),
    ];
    row.extend(custom_keys.iter().map(|k| match custom_fields.get(k) {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }));
    row
}

fn customer_cells(c: &Customer, custom_keys: &[String]) -> Vec<String> {
    cells(
        &c.name,
        &c.company,
        c.phones.iter().map(|p| p.raw.as_str()),
        &c.tags,
        c.owner.as_deref(),
        &c.custom_fields,
        custom_keys,
    )
}

/// Writes every customer to `path`; returns how many.
pub fn export(store: &Store, format: ExportFormat, path: &Path) -> Result<u64> {
    let keys = store.customers().custom_field_keys()?;
    let count = crate::sheets::write_table(
        format,
        path,
        &header(&keys, false),
        Some(store.customers().customer_count()?),
        |sink| {
            store.customers().for_each_customer(|c| {
                sink(&customer_cells(&c, &keys)).map_err(|e| StoreError::Invalid(format!("{e:#}")))
            })?;
            Ok(())
        },
    )?;
    store.users().audit(&AuditEntry {
        actor: "cli",
        user_id: None,
        action: "customers.export",
        target: Some(&path.display().to_string()),
        detail: serde_json::json!({ "customers": count, "format": format!("{format:?}").to_lowercase() }),
        remote_addr: None,
    })?;
    Ok(count)
}
