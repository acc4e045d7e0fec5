//! `callpop report` (statistics as a table, CSV, XLSX or JSON) and
//! `callpop backup` (a consistent copy of the live database).

use crate::open_store;
use anyhow::{bail, Context, Result};
use callpop::config::Config;
use callpop::reports::stats::{GroupBy, Period, Settings};
use callpop::reports::Report;
use callpop::sheets::{write_table, ExportFormat};
use chrono::{FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub(crate) struct ReportArgs {
    /// calls: the whole center; agents, teams or lines: a row each.
    #[arg(value_enum)]
    group: GroupBy,
    /// First day (YYYY-MM-DD) or moment (YYYY-MM-DD HH:MM) included, local time.
    #[arg(long)]
    from: String,
    /// Last day included (YYYY-MM-DD), or the moment the report stops
    /// before (YYYY-MM-DD HH:MM); default: now.
    #[arg(long)]
    to: Option<String>,
    /// Interval of a row.
    #[arg(long, value_enum, default_value = "day")]
    period: Period,
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
    /// Output file (default: stdout; needed for xlsx).
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// Service level threshold T in seconds (default: reports.service_level_secs).
    #[arg(long)]
    sl_secs: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    Table,
    Csv,
    Xlsx,
    Json,
}

/// Reads `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` or RFC 3339; a bare date
/// as its midnight, or (`end_of_day`) the next midnight.
pub(crate) fn parse_time(s: &str, offset: FixedOffset, end_of_day: bool) -> Result<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    let local = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        d.and_hms_opt(0, 0, 0).expect("midnight exists")
    } else {
        [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .with_context(|| format!("{s:?} is not a date: give YYYY-MM-DD or YYYY-MM-DD HH:MM"))?
    };
    Ok(offset
        .from_local_datetime(&local)
        .single()
        .context("no such local time")?
        .timestamp_millis())
}

pub(crate) fn run_report(args: ReportArgs, config: &Config) -> Result<()> {
    let offset = config
        .reports
        .offset()
        .map_err(|e| anyhow::anyhow!("reports.utc_offset: {e}"))?;
    let now = callpop::store::now_ms();
    let from = parse_time(&args.from, offset, false)?;
    let to = match &args.to {
        Some(t) => parse_time(t, offset, true)?,
        None => now,
    };
    if to <= from {
        bail!("--to must be after --from");
    }
    let settings = Settings {
        period: args.period,
        group: args.group,
        offset,
        service_level_secs: args.sl_secs.unwrap_or(config.reports.service_level_secs),
        from,
        to,
    };
    let store = open_store(config)?;
    let report = Report::build(&store, &settings, now)?;
    match args.format {
        ReportFormat::Table => emit(&args.output, report.to_table()),
        ReportFormat::Json => emit(&args.output, serde_json::to_string_pretty(&report)? + "\n"),
        ReportFormat::Csv | ReportFormat::Xlsx => {
            let format = if args.format == ReportFormat::Csv {
                ExportFormat::Csv
            } else {
                ExportFormat::Xlsx
            };
            let path = match &args.output {
                Some(p) => p.clone(),
                None if format == ExportFormat::Csv => PathBuf::from("/dev/stdout"),
                None => bail!("an XLSX report needs -o FILE"),
            };
            write_table(format, &path, &report.header(), None, |sink| {
                for r in &report.rows {
                    sink(&report.cells(r, true))?;
                }
                for r in &report.totals {
                    sink(&report.cells(r, false))?;
                }
                Ok(())
            })?;
            if let Some(p) = &args.output {
                eprintln!(
                    "{} rows and {} totals written to {}",
                    report.rows.len(),
                    report.totals.len(),
                    p.display()
                );
            }
            Ok(())
        }
    }
}

fn emit(output: &Option<PathBuf>, text: String) -> Result<()> {
    match output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

pub(crate) fn run_backup(output: &std::path::Path, config: &Config) -> Result<()> {
    let store = open_store(config)?;
    let summary = store.backup_to(output)?;
    println!(
        "backup of {} written to {} ({} bytes, schema {}, {} calls, {} customers; integrity ok)",
        config.db_path().display(),
        output.display(),
        summary.bytes,
        summary.schema,
        summary.calls,
        summary.customers
    );
    Ok(())
}
