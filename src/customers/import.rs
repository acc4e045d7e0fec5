//! Customer import: a messy spreadsheet in, every good row stored once,
//! every bad row reported as `file:row: reason` without stopping the rest.
//!
//! Streaming in bounded memory: one thread reads, decodes and normalises
//! rows in batches, the caller's thread writes them through a
//! [`CustomerLoad`] (large transactions, prepared statements, indexes built
//! after a load into an empty store), so the two cores share the work and
//! only a few batches are ever in flight.

use super::headers::{expected_headers, map_headers, Column};
use super::report::{FileProblem, ImportReport, Issue, MappedColumn};
use super::rows::{Parsed, RowMapper};
use super::table::{RowReadError, SheetRow, Table};
use crate::phone::Normalizer;
use crate::store::{Actor, AuditEntry, CustomerLoad, Store, StoreError, UpsertOutcome};
use anyhow::Result;
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Rows handed from the reading thread to the writing one at a time.
const BATCH_ROWS: usize = 2_000;
/// Batches in flight between the threads: bounds memory whichever is slower.
const BATCHES_IN_FLIGHT: usize = 4;
/// How many non-blank rows may stand above the header (titles, dates).
const HEADER_SEARCH_ROWS: usize = 20;

/// One row read and parsed, with where it was.
struct Item {
    row: usize,
    parsed: Result<Parsed, Issue>,
}

/// Counts the blank lines the reader passes over without a row (the csv
/// reader skips empty lines), from the gaps between row numbers.
#[derive(Default)]
struct LineGaps {
    next_row: usize,
}

impl LineGaps {
    /// Blank lines before `row`, which spans `lines` lines.
    fn before(&mut self, row: usize, lines: usize) -> u64 {
        let gap = row.saturating_sub(self.next_row.max(1));
        self.next_row = self.next_row.max(row + lines.max(1));
        gap as u64
    }
}

fn lines_of(row: &SheetRow) -> usize {
    1 + row
        .cells
        .iter()
        .map(|c| c.matches('\n').count())
        .sum::<usize>()
}

/// The file has no row naming a name and a phone column.
fn no_header(message: String) -> anyhow::Error {
    anyhow::Error::new(FileProblem(Issue::new(
        "header_not_found",
        json!({ "rows": HEADER_SEARCH_ROWS }),
        message,
    )))
}

/// Finds the header: the first row naming a name and a phone column;
/// exports often put a title or a date above it. Counts what it passes.
fn find_header(
    table: &mut Table,
    report: &mut ImportReport,
    gaps: &mut LineGaps,
) -> Result<(SheetRow, Vec<Column>)> {
    let file = report.file.clone();
    let mut above: Vec<SheetRow> = Vec::new();
    let (header, columns) = loop {
        match table.next() {
            None => {
                return Err(no_header(format!(
                    "{file}: no header row found; the first rows should include {}",
                    expected_headers()
                )))
            }
            Some(Err(e)) => {
                let gap = gaps.before(e.row, 1);
                report.read += 1 + gap;
                report.blank += gap;
                report.error(e.row, e.issue());
                report.rows += 1;
            }
            Some(Ok(r)) => {
                let gap = gaps.before(r.row, lines_of(&r));
                report.read += 1 + gap;
                report.blank += gap;
                if r.cells.iter().all(|c| c.trim().is_empty()) {
                    report.blank += 1;
                    continue;
                }
                let columns = map_headers(&r.cells);
                if columns.contains(&Column::Name)
                    && columns.iter().any(|c| matches!(c, Column::Phone(_)))
                {
                    break (r, columns);
                }
                above.push(r);
                if above.len() >= HEADER_SEARCH_ROWS {
                    let first = &above[0];
                    return Err(no_header(format!(
                        "{file}:{}: no header row in the first {HEADER_SEARCH_ROWS} rows (first row: {:?}); the header should include {}",
                        first.row,
                        first.cells,
                        expected_headers()
                    )));
                }
            }
        }
    };
    report.header_rows = above.len() as u64 + 1;
    for r in above {
        let text = r.cells.join(" ").trim().to_string();
        report.warning(
            r.row,
            Issue::new(
                "above_header",
                json!({ "header_row": header.row, "text": text }),
                format!("above the header row {}, ignored: {text:?}", header.row),
            ),
        );
    }
    Ok((header, columns))
}

/// Told how far an import has read (in the table's units, see [`Table`]):
/// the CLI's progress bar, the page's import job.
pub trait Progress: Sync {
    /// The file's size in units, once known.
    fn total(&self, units: u64);
    /// How far the import has come.
    fn at(&self, units: u64);
}

impl Progress for indicatif::ProgressBar {
    fn total(&self, units: u64) {
        self.set_length(units);
    }
    fn at(&self, units: u64) {
        self.set_position(units);
    }
}

/// How an import writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// From the CLI: large transactions, and into an empty store by append.
    #[default]
    Bulk,
    /// Beside the running daemon: row by row in short transactions.
    Live,
    /// Reads and checks every row, stores nothing: `inserted` counts the
    /// rows that would be new customers, `updated` those that would merge
    /// into one already stored.
    DryRun,
}

/// Who imports and how.
#[derive(Default, Clone, Copy)]
pub struct ImportRun<'a> {
    /// The user importing, for the audit log; `None` is the CLI.
    pub by: Option<Actor<'a>>,
    pub progress: Option<&'a dyn Progress>,
    pub mode: Mode,
}

/// Where parsed rows go.
enum Sink<'l> {
    Store(Box<CustomerLoad<'l>>),
    /// A dry run: only told whether each row matches a stored customer.
    Check,
}

/// The writing side: stores parsed rows and counts what happened to each.
struct Writer<'s, 'l> {
    store: &'s Store,
    sink: Sink<'l>,
    owners: HashMap<String, Option<i64>>,
    gaps: LineGaps,
}

impl Writer<'_, '_> {
    fn write(&mut self, item: Item, report: &mut ImportReport) -> Result<(), StoreError> {
        let Item { row, parsed } = item;
        let (mut customer, owner, warnings) = match parsed {
            Ok(Parsed::Blank) => {
                report.blank += 1;
                return Ok(());
            }
            Err(message) | Ok(Parsed::Bad(message)) => {
                report.rows += 1;
                report.error(row, message);
                return Ok(());
            }
            Ok(Parsed::Customer {
                customer,
                owner,
                warnings,
            }) => (customer, owner, warnings),
        };
        report.rows += 1;
        if let Some(name) = owner {
            let id = match self.owners.get(&name) {
                Some(id) => *id,
                None => {
                    let id = self.store.users().user_by_name(&name)?.map(|u| u.id);
                    self.owners.insert(name.clone(), id);
                    id
                }
            };
            if id.is_none() {
                report.warning(
                    row,
                    Issue::new(
                        "owner_unknown",
                        json!({ "owner": name }),
                        format!("owner {name:?} is not a callpop user; imported without owner"),
                    ),
                );
            }
            customer.owner_user_id = id;
        }
        for w in warnings {
            report.warning(row, w);
        }
        let outcome = match &mut self.sink {
            Sink::Store(load) => load.add(&customer),
            Sink::Check => Ok(match self.store.customers().import_match(&customer)? {
                Some(id) => UpsertOutcome::Updated(id),
                None => UpsertOutcome::Inserted(0),
            }),
        };
        match outcome {
            Ok(UpsertOutcome::Inserted(_)) => report.inserted += 1,
            Ok(UpsertOutcome::Updated(_)) => report.updated += 1,
            Ok(UpsertOutcome::Unchanged(_)) => report.unchanged += 1,
            // The store refused this row (not the disk): the row is skipped.
            Err(StoreError::Invalid(why)) => report.error(
                row,
                Issue::new("row_refused", json!({ "detail": why }), why.clone()),
            ),
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// Imports `path` into `store`. Row problems land in the report; only a file
/// that cannot be read at all, or a store failure, is an error.
pub fn import_file(
    store: &Store,
    normalizer: &Normalizer,
    path: &Path,
    run: ImportRun<'_>,
) -> Result<ImportReport> {
    import_named(store, normalizer, path, &path.display().to_string(), run)
}

/// [`import_file`] for a file whose name for people (an upload's) is not
/// its path.
pub fn import_named(
    store: &Store,
    normalizer: &Normalizer,
    path: &Path,
    file: &str,
    run: ImportRun<'_>,
) -> Result<ImportReport> {
    let started = Instant::now();
    let mut table = Table::open(path).map_err(|e| {
        let message = format!("{e:#}");
        anyhow::Error::new(FileProblem(Issue::new(
            "file_unreadable",
            json!({ "detail": message }),
            message,
        )))
    })?;
    let file = file.to_string();
    let progress = run.progress;
    let mut report = ImportReport {
        file: file.clone(),
        encoding: table.encoding.to_string(),
        ..ImportReport::default()
    };
    let mut gaps = LineGaps::default();
    let (header, columns) = find_header(&mut table, &mut report, &mut gaps)?;
    report.columns = header
        .cells
        .iter()
        .zip(&columns)
        .map(|(h, c)| MappedColumn {
            header: h.clone(),
            kind: c.kind(),
        })
        .collect();
    if let Some(p) = progress {
        p.total(table.total);
    }
    let counter = table.progress_counter();
    let mapper = RowMapper {
        columns,
        headers: header.cells,
        normalizer,
    };
    let mut writer = Writer {
        store,
        sink: match run.mode {
            Mode::Bulk => Sink::Store(Box::new(store.customers().load_customers()?)),
            Mode::Live => Sink::Store(Box::new(store.customers().load_customers_live()?)),
            Mode::DryRun => Sink::Check,
        },
        owners: HashMap::new(),
        gaps,
    };
    let mut writer_busy = Duration::ZERO;
    let mut reader_blocked = Duration::ZERO;
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Vec<(u64, Item)>>(BATCHES_IN_FLIGHT);
        let mapper = &mapper;
        let reader = scope.spawn(move || {
            let mut blocked = Duration::ZERO;
            let mut batch = Vec::with_capacity(BATCH_ROWS);
            for read in table {
                batch.push(parse(mapper, read));
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
        for batch in rx {
            let writing = Instant::now();
            for (lines, item) in batch {
                let gap = writer.gaps.before(item.row, lines as usize);
                report.read += 1 + gap;
                report.blank += gap;
                writer.write(item, &mut report)?;
            }
            writer_busy += writing.elapsed();
            if let Some(p) = progress {
                p.at(counter.load(std::sync::atomic::Ordering::Relaxed));
            }
        }
        reader_blocked = reader.join().unwrap_or_default();
        Ok(())
    })?;
    let finishing = Instant::now();
    if let Sink::Store(load) = writer.sink {
        let merges = load.finish()?;
        report.inserted -= merges.updated + merges.unchanged;
        report.updated += merges.updated;
        report.unchanged += merges.unchanged;
    }
    tracing::debug!(
        total_s = started.elapsed().as_secs_f64(),
        writer_busy_s = writer_busy.as_secs_f64(),
        reader_blocked_s = reader_blocked.as_secs_f64(),
        indexes_merges_checkpoint_s = finishing.elapsed().as_secs_f64(),
        "import finished (a reader blocked on the writer means the store is the bottleneck)"
    );
    report.errors.sort_by_key(|i| i.row);
    report.elapsed = started.elapsed();
    if run.mode == Mode::DryRun {
        return Ok(report);
    }
    store.users().audit(&AuditEntry {
        actor: run.by.map_or("cli", |a| a.user.username.as_str()),
        user_id: run.by.map(|a| a.user.id),
        action: "customers.import",
        target: Some(&file),
        detail: serde_json::json!({
            "read": report.read,
            "rows": report.rows,
            "inserted": report.inserted,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "errors": report.error_count,
            "warnings": report.warning_count,
        }),
        remote_addr: run.by.and_then(|a| a.remote_addr),
    })?;
    Ok(report)
}

/// Parses one row off the reading thread; carries how many lines it spans.
fn parse(mapper: &RowMapper<'_>, read: Result<SheetRow, RowReadError>) -> (u64, Item) {
    match read {
        Ok(r) => (
            lines_of(&r) as u64,
            Item {
                row: r.row,
                parsed: Ok(mapper.parse(&r)),
            },
        ),
        Err(e) => (
            1,
            Item {
                row: e.row,
                parsed: Err(e.issue()),
            },
        ),
    }
}
