//! Getting customers in and out of callpop: spreadsheet import with header
//! mapping and per-row errors, and export in the same layout.

pub mod csv_rows;
pub mod export;
/// Customers' custom fields (kept in [`crate::domain`], below the store).
pub use crate::domain::custom_fields as fields;
pub mod headers;
pub mod import;
pub mod report;
pub mod rows;
pub mod table;

pub use export::{export, ExportFormat};
pub use import::{import_file, import_named, ImportRun, Mode as ImportMode, Progress};
pub use report::{FileProblem, ImportReport, Issue, MappedColumn, RowIssue};
