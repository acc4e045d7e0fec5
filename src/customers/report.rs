//! What an import did, row by row and in total: every row the file holds is
//! counted exactly once, so nothing is lost without a line saying so.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// Issues of each kind kept with their text; beyond this only counted, so
/// a file of ten million bad rows cannot fill memory.
pub const MAX_LISTED_ISSUES: usize = 10_000;

/// What is wrong with a row, twice: a code with parameters that the web
/// page words in the reader's language, and the English sentence the CLI
/// prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub code: &'static str,
    pub params: serde_json::Value,
    pub message: String,
}

impl Issue {
    /// An issue from its code, parameters and English wording.
    pub fn new(code: &'static str, params: serde_json::Value, message: impl Into<String>) -> Issue {
        Issue {
            code,
            params,
            message: message.into(),
        }
    }
}

/// Something wrong with the whole file (it cannot be opened, it has no
/// header): the import stops before any row; the page words the issue.
#[derive(Debug, Clone)]
pub struct FileProblem(pub Issue);

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for FileProblem {}

/// How one header of the file was understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedColumn {
    pub header: String,
    /// `name`, `company`, `phone`, `tags`, `owner`, `custom` or `ignore`.
    pub kind: &'static str,
}

/// A problem with one row, addressed as the user's editor shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowIssue {
    pub row: usize,
    #[serde(flatten)]
    pub issue: Issue,
}

/// What an import did; printed for the user and written to the audit log.
/// `read` = `header_rows` + `blank` + `imported()` + `skipped()`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub file: String,
    pub encoding: String,
    /// The header row as read: what each column was taken for.
    pub columns: Vec<MappedColumn>,
    /// Every row of the file: header, rows above it, blank and data rows.
    pub read: u64,
    /// The header row and the rows above it (titles, dates).
    pub header_rows: u64,
    /// Data rows (imported or skipped).
    pub rows: u64,
    pub blank: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows skipped, with why (the first [`MAX_LISTED_ISSUES`]).
    pub errors: Vec<RowIssue>,
    /// Rows skipped, all of them.
    pub error_count: u64,
    /// Rows imported with something left out or doubtful (a bad second
    /// number, a service number, an unknown owner); the first
    /// [`MAX_LISTED_ISSUES`].
    pub warnings: Vec<RowIssue>,
    /// Warnings, all of them.
    pub warning_count: u64,
    #[serde(skip)]
    pub elapsed: Duration,
}

impl ImportReport {
    /// Rows that reached the store (new, merged or already there).
    pub fn imported(&self) -> u64 {
        self.inserted + self.updated + self.unchanged
    }

    /// Rows skipped with an error.
    pub fn skipped(&self) -> u64 {
        self.error_count
    }

    /// Records a skipped row.
    pub fn error(&mut self, row: usize, issue: Issue) {
        self.error_count += 1;
        if self.errors.len() < MAX_LISTED_ISSUES {
            self.errors.push(RowIssue { row, issue });
        }
    }

    /// Records a doubt about an imported row.
    pub fn warning(&mut self, row: usize, issue: Issue) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_LISTED_ISSUES {
            self.warnings.push(RowIssue { row, issue });
        }
    }

    /// `file:row: reason` lines for every listed error, then every listed
    /// warning, and how many more there were.
    pub fn issue_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .errors
            .iter()
            .map(|i| format!("{}:{}: {}", self.file, i.row, i.issue.message))
            .collect();
        let unlisted = self.error_count - self.errors.len() as u64;
        if unlisted > 0 {
            lines.push(format!(
                "{}: {unlisted} more rows skipped, not listed",
                self.file
            ));
        }
        lines.extend(
            self.warnings
                .iter()
                .map(|i| format!("{}:{}: warning: {}", self.file, i.row, i.issue.message)),
        );
        let unlisted = self.warning_count - self.warnings.len() as u64;
        if unlisted > 0 {
            lines.push(format!(
                "{}: {unlisted} more warnings, not listed",
                self.file
            ));
        }
        lines
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} rows read ({}): {} new, {} updated, {} unchanged, {} skipped with errors, {} blank, {} header; {} warnings; in {:.1}s",
            self.file,
            self.read,
            self.encoding,
            self.inserted,
            self.updated,
            self.unchanged,
            self.error_count,
            self.blank,
            self.header_rows,
            self.warning_count,
            self.elapsed.as_secs_f64()
        )
    }
}
