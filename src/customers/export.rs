//! Customer export to CSV or XLSX, in the column layout the importer reads
//! back, so export → import round-trips.

use crate::store::{AuditEntry, Customer, Store, StoreError};
use anyhow::Result;
use std::path::Path;

pub use crate::sheets::ExportFormat;

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
    let keys = store.customers().custom_field_keys()?;
    let count = crate::sheets::write_table(
        format,
        path,
        &header(&keys),
        Some(store.customers().customer_count()?),
        |sink| {
            store.customers().for_each_customer(|c| {
                sink(&cells(&c, &keys)).map_err(|e| StoreError::Invalid(format!("{e:#}")))
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
