//! Customer import: a messy spreadsheet in, every good row stored once,
//! every bad row reported as `file:row: reason` without stopping the rest.
//!
//! Reading and number normalisation run on one thread, the store writes on
//! the caller's, so the two cores share the work.

use super::headers::{expected_headers, map_headers, Column};
use super::table::{SheetRow, Table};
use crate::phone::Normalizer;
use crate::store::{AuditEntry, NewCustomer, NewPhone, Store, StoreError, UpsertOutcome};
use anyhow::{bail, Result};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Rows handed from the reading thread to the writing one at a time.
const BATCH_ROWS: usize = 5_000;
/// Rows written per transaction. Random inserts into the match index dirty a
/// page each, so few large commits write far less than many small ones; a
/// crash loses at most this many rows, and re-importing the file is safe.
const COMMIT_ROWS: usize = 500_000;
/// How many non-blank rows may stand above the header (titles, dates).
const HEADER_SEARCH_ROWS: usize = 20;

/// A problem with one row, addressed as the user's editor shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowIssue {
    pub row: usize,
    pub message: String,
}

/// What an import did; printed for the user and written to the audit log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub file: String,
    pub encoding: String,
    pub rows: u64,
    pub blank: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows skipped, with why.
    pub errors: Vec<RowIssue>,
    /// Rows imported with something left out (a bad second number, an unknown owner).
    pub warnings: Vec<RowIssue>,
    #[serde(skip)]
    pub elapsed: Duration,
}

impl ImportReport {
    /// Rows that reached the store (new, merged or already there).
    pub fn imported(&self) -> u64 {
        self.inserted + self.updated + self.unchanged
    }

    /// `file:row: reason` lines for every error, then every warning.
    pub fn issue_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .errors
            .iter()
            .map(|i| format!("{}:{}: {}", self.file, i.row, i.message))
            .collect();
        lines.extend(
            self.warnings
                .iter()
                .map(|i| format!("{}:{}: warning: {}", self.file, i.row, i.message)),
        );
        lines
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} rows ({}), {} new, {} updated, {} unchanged, {} skipped with errors, {} warnings, {} blank, in {:.1}s",
            self.file,
            self.rows,
            self.encoding,
            self.inserted,
            self.updated,
            self.unchanged,
            self.errors.len(),
            self.warnings.len(),
            self.blank,
            self.elapsed.as_secs_f64()
        )
    }
}

/// A row turned into a customer, or the reason it cannot be one.
enum Parsed {
    Blank,
    Customer {
        row: usize,
        customer: NewCustomer,
        owner: Option<String>,
        warnings: Vec<String>,
    },
    Bad(RowIssue),
}

/// Turns cells into customers using the header mapping.
struct RowMapper<'a> {
    columns: Vec<Column>,
    headers: Vec<String>,
    normalizer: &'a Normalizer,
}

impl RowMapper<'_> {
    fn parse(&self, row: SheetRow) -> Parsed {
        if row.cells.iter().all(|c| c.trim().is_empty()) {
            return Parsed::Blank;
        }
        let mut c = NewCustomer::default();
        let mut owner = None;
        let mut warnings = Vec::new();
        let mut bad_numbers = Vec::new();
        for (i, cell) in row.cells.iter().enumerate() {
            let value = cell.trim();
            if value.is_empty() {
                continue;
            }
            match self.columns.get(i).unwrap_or(&Column::Ignore) {
                Column::Name => c.name = value.to_string(),
                Column::Company => c.company = value.to_string(),
                Column::Owner => owner = Some(value.to_string()),
                Column::Tags => {
                    for tag in split_list(value, &[',', '，', ';', '；', '、', '|']) {
                        if !c.tags.iter().any(|t| t == tag) {
                            c.tags.push(tag.to_string());
                        }
                    }
                }
                Column::Phone(label) => {
                    for piece in split_numbers(value) {
                        match self.normalizer.normalize(&piece) {
                            Ok(number) => {
                                let dup = c.phones.iter().any(|p| {
                                    p.number.national_rev() == number.national_rev()
                                        && p.number.extension == number.extension
                                });
                                if !dup {
                                    c.phones.push(NewPhone {
                                        number,
                                        label: Some(label.clone()),
                                    });
                                }
                            }
                            Err(e) => bad_numbers
                                .push(format!("bad number {piece:?} in column {label}: {e}")),
                        }
                    }
                }
                Column::Custom(key) => {
                    c.custom_fields
                        .insert(key.clone(), serde_json::Value::String(value.to_string()));
                }
                Column::Ignore => {}
            }
        }
        if row.cells.len() > self.headers.len()
            && row.cells[self.headers.len()..]
                .iter()
                .any(|c| !c.trim().is_empty())
        {
            warnings.push(format!(
                "{} cells beyond the {} header columns were ignored",
                row.cells.len() - self.headers.len(),
                self.headers.len()
            ));
        }
        if c.name.is_empty() {
            return bad(row.row, "no customer name");
        }
        if c.phones.is_empty() {
            return match bad_numbers.is_empty() {
                true => bad(row.row, "no phone number"),
                false => bad(row.row, &bad_numbers.join("; ")),
            };
        }
        warnings.extend(bad_numbers);
        Parsed::Customer {
            row: row.row,
            customer: c,
            owner,
            warnings,
        }
    }
}

fn bad(row: usize, message: &str) -> Parsed {
    Parsed::Bad(RowIssue {
        row,
        message: message.to_string(),
    })
}

fn split_list<'a>(value: &'a str, seps: &[char]) -> impl Iterator<Item = &'a str> + 'a {
    let seps = seps.to_vec();
    value
        .split(move |c: char| seps.contains(&c))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Splits a cell holding several numbers (`138.../139...`, `a；b`, one per
/// line). A short piece after a comma is an extension (`010-65528888,8001`),
/// not a number of its own.
pub fn split_numbers(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in value.split(['/', ';', '；', '、', '|', '\n', '\r']) {
        for (i, part) in piece.split([',', '，']).enumerate() {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let digits = part.chars().filter(|c| c.is_ascii_digit()).count();
            match out.last_mut() {
                Some(prev) if i > 0 && digits <= 5 => {
                    prev.push(',');
                    prev.push_str(part);
                }
                _ => out.push(part.to_string()),
            }
        }
    }
    out
}

/// Stores one parsed row and counts what happened to it.
fn write_item(
    s: &Store,
    item: Result<Parsed, RowIssue>,
    report: &mut ImportReport,
    owners: &mut HashMap<String, Option<i64>>,
    seen: Option<&mut HashMap<u64, i64>>,
) -> Result<(), StoreError> {
    let (row, mut customer, owner, warnings) = match item {
        Ok(Parsed::Blank) => {
            report.blank += 1;
            return Ok(());
        }
        Err(issue) | Ok(Parsed::Bad(issue)) => {
            report.rows += 1;
            report.errors.push(issue);
            return Ok(());
        }
        Ok(Parsed::Customer {
            row,
            customer,
            owner,
            warnings,
        }) => (row, customer, owner, warnings),
    };
    report.rows += 1;
    if let Some(name) = owner {
        let id = match owners.get(&name) {
            Some(id) => *id,
            None => {
                let id = s.user_by_name(&name)?.map(|u| u.id);
                owners.insert(name.clone(), id);
                id
            }
        };
        if id.is_none() {
            report.warnings.push(RowIssue {
                row,
                message: format!("owner {name:?} is not a callpop user; imported without owner"),
            });
        }
        customer.owner_user_id = id;
    }
    for w in warnings {
        report.warnings.push(RowIssue { row, message: w });
    }
    let outcome = match seen {
        None => s.upsert_customer(&customer)?,
        Some(seen) => upsert_in_memory(s, &customer, seen)?,
    };
    match outcome {
        UpsertOutcome::Inserted(_) => report.inserted += 1,
        UpsertOutcome::Updated(_) => report.updated += 1,
        UpsertOutcome::Unchanged(_) => report.unchanged += 1,
    }
    Ok(())
}

/// Dedupe key of a customer's number: name, national number, country.
fn dedupe_key(name: &str, number: &crate::phone::Normalized) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (name, &number.national, number.country_code).hash(&mut h);
    h.finish()
}

/// `upsert_customer` for a load without the match index: the store was
/// empty, so a duplicate can only be an earlier row of this file, found in
/// `seen` (a hash hit is checked against that customer's own rows).
fn upsert_in_memory(
    s: &Store,
    customer: &NewCustomer,
    seen: &mut HashMap<u64, i64>,
) -> Result<UpsertOutcome, StoreError> {
    let keys: Vec<u64> = customer
        .phones
        .iter()
        .map(|p| dedupe_key(&customer.name, &p.number))
        .collect();
    let mut existing = None;
    for (key, phone) in keys.iter().zip(&customer.phones) {
        if let Some(&id) = seen.get(key) {
            if s.customer_has(id, &customer.name, &phone.number)? {
                existing = Some(id);
                break;
            }
        }
    }
    let outcome = match existing {
        Some(id) => s.merge_customer(id, customer)?,
        None => UpsertOutcome::Inserted(s.insert_customer(customer)?),
    };
    for key in keys {
        seen.entry(key).or_insert(outcome.id());
    }
    Ok(outcome)
}

/// Imports `path` into `store`. Row problems land in the report; only a file
/// that cannot be read at all, or a store failure, is an error.
pub fn import_file(
    store: &Store,
    normalizer: &Normalizer,
    path: &Path,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<ImportReport> {
    let started = Instant::now();
    let mut table = Table::open(path)?;
    let file = path.display().to_string();
    let mut report = ImportReport {
        file: file.clone(),
        encoding: table.encoding.to_string(),
        ..ImportReport::default()
    };
    // The header is the first row naming a name and a phone column; exports
    // often put a title or a date above it.
    let mut skipped_above = Vec::new();
    let (header, columns) = loop {
        match table.next() {
            None => bail!(
                "{file}: no header row found; the first rows should include {}",
                expected_headers()
            ),
            Some(Err(e)) => report.errors.push(RowIssue {
                row: e.row,
                message: e.message,
            }),
            Some(Ok(r)) if r.cells.iter().all(|c| c.trim().is_empty()) => report.blank += 1,
            Some(Ok(r)) => {
                let columns = map_headers(&r.cells);
                if columns.contains(&Column::Name)
                    && columns.iter().any(|c| matches!(c, Column::Phone(_)))
                {
                    break (r, columns);
                }
                skipped_above.push(r);
                if skipped_above.len() >= HEADER_SEARCH_ROWS {
                    let first = &skipped_above[0];
                    bail!(
                        "{file}:{}: no header row in the first {HEADER_SEARCH_ROWS} rows (first row: {:?}); the header should include {}",
                        first.row,
                        first.cells,
                        expected_headers()
                    );
                }
            }
        }
    };
    for r in skipped_above {
        report.warnings.push(RowIssue {
            row: r.row,
            message: format!(
                "above the header row {}, ignored: {:?}",
                header.row,
                r.cells.join(" ").trim()
            ),
        });
    }
    if let Some(p) = progress {
        p.set_length(table.total);
    }
    let counter = table.progress_counter();
    let mapper = RowMapper {
        columns,
        headers: header.cells,
        normalizer,
    };
    let mut owners: HashMap<String, Option<i64>> = HashMap::new();
    // Into an empty store, load without the match index and find duplicates
    // within the file in memory; see Store::bulk_writes.
    let bulk = store.bulk_writes(store.customer_count()? == 0)?;
    let mut seen: Option<HashMap<u64, i64>> = bulk.index_deferred().then(HashMap::new);
    let mut writer_busy = Duration::ZERO;
    let mut reader_blocked = Duration::ZERO;
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Vec<Result<Parsed, RowIssue>>>(4);
        let mapper = &mapper;
        let reader = scope.spawn(move || {
            let mut blocked = Duration::ZERO;
            let mut batch = Vec::with_capacity(BATCH_ROWS);
            for item in table {
                batch.push(item.map(|r| mapper.parse(r)).map_err(|e| RowIssue {
                    row: e.row,
                    message: e.message,
                }));
                if batch.len() == BATCH_ROWS {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                    let sending = Instant::now();
                    if tx.send(full).is_err() {
                        break;
                    }
                    blocked += sending.elapsed();
                }
            }
            let _ = tx.send(batch);
            blocked
        });
        let mut batches = rx.into_iter().peekable();
        while batches.peek().is_some() {
            store.in_transaction(|s| -> Result<(), StoreError> {
                let mut rows = 0;
                while rows < COMMIT_ROWS {
                    let Some(batch) = batches.next() else { break };
                    let writing = Instant::now();
                    rows += batch.len();
                    for item in batch {
                        write_item(s, item, &mut report, &mut owners, seen.as_mut())?;
                    }
                    writer_busy += writing.elapsed();
                    if let Some(p) = progress {
                        p.set_position(counter.load(std::sync::atomic::Ordering::Relaxed));
                    }
                }
                Ok(())
            })?;
        }
        reader_blocked = reader.join().unwrap_or_default();
        Ok(())
    })?;
    let checkpoint = Instant::now();
    bulk.finish()?;
    tracing::debug!(
        total_s = started.elapsed().as_secs_f64(),
        writer_busy_s = writer_busy.as_secs_f64(),
        reader_blocked_s = reader_blocked.as_secs_f64(),
        index_and_checkpoint_s = checkpoint.elapsed().as_secs_f64(),
        "import finished (a reader blocked on the writer means the store is the bottleneck)"
    );
    report.errors.sort_by_key(|i| i.row);
    report.elapsed = started.elapsed();
    store.audit(&AuditEntry {
        actor: "cli",
        user_id: None,
        action: "customers.import",
        target: Some(&file),
        detail: serde_json::json!({
            "rows": report.rows,
            "inserted": report.inserted,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "errors": report.errors.len(),
            "warnings": report.warnings.len(),
        }),
        remote_addr: None,
    })?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cells_with_several_numbers() {
        assert_eq!(
            split_numbers("13812345678/13987654321；010-65528888"),
            vec!["13812345678", "13987654321", "010-65528888"]
        );
        assert_eq!(
            split_numbers("010-65528888,8001"),
            vec!["010-65528888,8001"]
        );
        assert_eq!(
            split_numbers("13812345678,13987654321"),
            vec!["13812345678", "13987654321"]
        );
    }
}
