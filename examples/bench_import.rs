//! Import at scale: callpop's customer import beside SQLite's own CSV import
//! of the same file, with peak memory.
//!
//! cargo run --release --example bench_import -- 1000000 [--dir DIR] [--keep]
//!
//! Generates N rows of realistic, messy customers (Chinese names and
//! companies; mobiles as `138 1234 5678`, `+86...` or full-width digits;
//! landlines with area codes; Beijing `010-8001xxxx`; 400 numbers; local
//! numbers; cells with two numbers split by `/`, `／`, `；`, `、`, `，` or a
//! space; service numbers that earn a warning; repeated customers that merge;
//! a few bad rows), then:
//!
//! 1. imports it with `customers::import_file` (what `callpop customers
//!    import` runs) in a child process, so its peak RSS (VmHWM) is its own;
//! 2. runs `sqlite3 DB '.import --csv FILE t'` on the same file;
//!
//! and prints rows/s of both, their ratio and both peaks. Targets: callpop at
//! least 0.5x sqlite3's rate, peak RSS at most 256 MB at 10M rows.
//!
//! Measured (2 shared cores, other work running; run to run the same binary
//! varies by up to 1.6x here, so compare within one run):
//!
//! | rows | build                   | callpop      | sqlite3 .import | ratio     | callpop peak RSS |
//! |------|-------------------------|--------------|-----------------|-----------|------------------|
//! | 1M   | f648b16 (before)        | 68.5k rows/s | 464k rows/s     | 0.15      | 206 MB           |
//! | 1M   | grouped merge scan      | 66.7-71.2k   | 434-481k        | 0.14-0.16 | 207-208 MB       |
//! | 10M  | f648b16 (last session)  | 66k rows/s   |                 | 0.16-0.19 | 210 MB           |
//! | 10M  | grouped merge scan      | 73.5k rows/s | 563k rows/s     | 0.13      | 209 MB           |
//! | 1M   | 4f29ebb (number-fragment index, custom fields) | 30.0k | 590k | 0.05 | 211 MB |
//! | 1M   | statement journals in memory while loading | 41.4k | 661k  | 0.06      | 210 MB           |
//! | 1M   | insert triggers set aside while loading | 52.8k | 507k | 0.10     | 210 MB           |
//!
//! Where the 10M run's 136 s go (`RUST_LOG=callpop=debug`): ~85 s reading,
//! normalising and inserting (the writer busy 77 s, the reader waiting on
//! it 29 s: the store is the bottleneck), 23 s building the match index,
//! 27 s merging the 151k repeated customers, 1 s checkpointing. At 1M the
//! merge went from 2.9 s to 1.8 s with the grouped scan (the file grows
//! 324 -> 338 MB: the merged-away rows are deleted together at the end and
//! leave free pages). `PRAGMA threads`
//! for the index sort saved ~1 s at 10M but raised the peak to 275 MB, so
//! it is off. Still to try: fewer stored copies of each number (`national`
//! is `national_rev` reversed; `kind` and `label` as text on every row),
//! tags keyed by customer during the load, merges as a few set-based
//! statements instead of a read and rewrite per merged customer, and the
//! CN prefix memo warmed from a table (a cold 1M-row run asks
//! libphonenumber for ~400k mobile segments).

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callpop::customers;
use callpop::demo::{SampleCustomers, SplitMix};
use callpop::phone::{Normalizer, NormalizerSettings};
use callpop::store::Store;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RSS_TARGET_MB: u64 = 256;
const RATIO_TARGET: f64 = 0.5;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child-import") {
        return child_import(Path::new(&args[1]), Path::new(&args[2]));
    }
    let mut count: usize = 1_000_000;
    let mut dir: Option<PathBuf> = None;
    let mut keep = false;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dir" => dir = it.next().map(PathBuf::from),
            "--keep" => keep = true,
            n => count = n.replace('_', "").parse()?,
        }
    }
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let csv_path = dir.join(format!("import-{count}.csv"));
    let db_path = dir.join(format!("callpop-{count}.db"));
    let sqlite_path = dir.join(format!("sqlite-{count}.db"));
    for p in [&db_path, &sqlite_path] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
        }
    }

    let started = Instant::now();
    let lines = generate(count, &csv_path)?;
    println!(
        "generated {count} customers ({lines} lines, {} MB) into {} in {:.1}s",
        std::fs::metadata(&csv_path)?.len() / 1_000_000,
        csv_path.display(),
        started.elapsed().as_secs_f64()
    );

    // Our import, in a child so that its peak memory is its own.
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let child = Command::new(exe)
        .arg("--child-import")
        .arg(&csv_path)
        .arg(&db_path)
        .stdout(Stdio::piped())
        .spawn()?;
    let (output, polled_kib) = wait_with_peak(child)?;
    let ours = started.elapsed().as_secs_f64();
    let out = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "callpop import failed: {out}");
    let result = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| anyhow::anyhow!("no result from the import child: {out}"))?;
    print!("{}", out.replace("RESULT ", "  "));
    let own_kib: u64 = field(result, "peak_kib").unwrap_or(0);
    let ours_mb = own_kib.max(polled_kib) / 1024;
    let rows: u64 = field(result, "read").unwrap_or(0);
    println!(
        "callpop import: {rows} rows in {ours:.1}s = {:.0} rows/s, peak RSS {ours_mb} MB, database {} MB",
        rows as f64 / ours,
        std::fs::metadata(&db_path)?.len() / 1_000_000
    );

    // SQLite's shell importing the same file into one table, no checks.
    let started = Instant::now();
    let child = Command::new("sqlite3")
        .arg(&sqlite_path)
        .arg(format!(".import --csv {} t", csv_path.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run sqlite3 ({e}); apt-get install -y sqlite3"))?;
    let (output, sqlite_kib) = wait_with_peak(child)?;
    let theirs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        output.status.success(),
        "sqlite3 .import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counted = Command::new("sqlite3")
        .arg(&sqlite_path)
        .arg("SELECT count(*) FROM t")
        .output()?;
    let sqlite_rows: u64 = String::from_utf8_lossy(&counted.stdout).trim().parse()?;
    println!(
        "sqlite3 .import: {sqlite_rows} rows in {theirs:.1}s = {:.0} rows/s, peak RSS {} MB, database {} MB",
        sqlite_rows as f64 / theirs,
        sqlite_kib / 1024,
        std::fs::metadata(&sqlite_path)?.len() / 1_000_000
    );
    let ratio = (rows as f64 / ours) / (sqlite_rows as f64 / theirs);
    println!(
        "ratio callpop/sqlite3 = {ratio:.2} (target >= {RATIO_TARGET}: {}); peak RSS {ours_mb} MB (target <= {RSS_TARGET_MB} MB: {})",
        verdict(ratio >= RATIO_TARGET),
        verdict(ours_mb <= RSS_TARGET_MB)
    );
    if keep {
        println!("kept {}", dir.display());
        std::mem::forget(tmp);
    }
    Ok(())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

/// `key=value` out of the child's result line.
fn field<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// The child: imports as the CLI does, then reports counts and its VmHWM.
fn child_import(csv: &Path, db: &Path) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let normalizer = Normalizer::new(NormalizerSettings::default());
    let store = Store::open(db)?;
    let started = Instant::now();
    let report = customers::import_file(&store, &normalizer, csv, Default::default())?;
    let secs = started.elapsed().as_secs_f64();
    println!("{report}");
    for line in report.issue_lines().iter().take(3) {
        println!("  e.g. {line}");
    }
    println!(
        "RESULT read={} inserted={} merged={} skipped={} warnings={} secs={secs:.2} peak_kib={}",
        report.read,
        report.inserted,
        report.updated + report.unchanged,
        report.skipped(),
        report.warning_count,
        vm_hwm_kib(std::process::id())
    );
    Ok(())
}

/// Waits for `child`, sampling its VmHWM (peak RSS) until it exits; the
/// last sample is within a few milliseconds of its end.
fn wait_with_peak(child: Child) -> anyhow::Result<(std::process::Output, u64)> {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let mut peak = 0;
    loop {
        peak = peak.max(vm_hwm_kib(pid));
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(output) => return Ok((output?, peak)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => anyhow::bail!("waiting for the child: {e}"),
        }
    }
}

fn vm_hwm_kib(pid: u32) -> u64 {
    common::pid_status_kib(pid, "VmHWM").unwrap_or(0)
}

/// Separators people put between two numbers in one cell.
const SEPARATORS: &[&str] = &["/", "／", "; ", "；", "、", "，", " ", "\n"];

/// Writes the CSV (UTF-8, as the csv crate quotes it); returns its lines.
fn generate(count: usize, path: &Path) -> anyhow::Result<u64> {
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut w = csv::Writer::from_writer(file);
    w.write_record([
        "客户名称",
        "手机",
        "办公电话",
        "其他电话",
        "公司",
        "分组",
        "城市",
        "客户等级",
        "备注",
    ])?;
    let mut lines = 1u64;
    let mut rng = SplitMix::new(2024);
    let mut recent: Vec<(String, String)> = Vec::with_capacity(1024);
    for (i, c) in SampleCustomers::new(11).take(count).enumerate() {
        let roll = rng.below(1000);
        let mut name = c.name.clone();
        let mut mobile = c.phones[0].clone();
        // 1%: a customer seen before comes again (merged, not duplicated).
        if roll < 10 && !recent.is_empty() {
            (name, mobile) = recent[rng.below(recent.len())].clone();
        } else if recent.len() < 1024 {
            recent.push((name.clone(), mobile.clone()));
        } else {
            recent[i % 1024] = (name.clone(), mobile.clone());
        }
        // 3%: typed with full-width digits by an IME.
        if (10..40).contains(&roll) {
            mobile = full_width(&mobile);
        }
        // 5%: a second mobile in the same cell.
        if (40..90).contains(&roll) {
            let sep = SEPARATORS[rng.below(SEPARATORS.len())];
            let prefix = ["138", "139", "186", "150", "177"][rng.below(5)];
            mobile = format!("{mobile}{sep}{prefix}{:08}", rng.below(100_000_000));
        }
        let office = c.phones.get(1).cloned().unwrap_or_default();
        let other = match roll {
            // 2%: Beijing numbers of the 8001 range.
            100..=119 => format!("010-8001{:04}", rng.below(10_000)),
            // 2%: local numbers without their area code.
            120..=139 => format!("{}{:07}", 2 + rng.below(8), rng.below(10_000_000)),
            // 0.5%: a service number, which cannot be the customer's own.
            140..=144 => ["95588", "12345", "10086", "95105105"][rng.below(4)].to_string(),
            _ => c.phones.get(2).cloned().unwrap_or_default(),
        };
        // 0.1% each: no name, and a mobile missing a digit.
        if roll == 998 {
            name.clear();
        }
        if roll == 999 {
            mobile = format!("13{:08}", rng.below(100_000_000));
        }
        let note = if rng.below(4) == 0 {
            format!("{}年{}月来电咨询", 2015 + rng.below(11), 1 + rng.below(12))
        } else {
            String::new()
        };
        w.write_record([
            name.as_str(),
            &mobile,
            &office,
            &other,
            &c.company,
            &c.tags.join("、"),
            &c.city,
            &c.level,
            &note,
        ])?;
        lines += 1 + mobile.matches('\n').count() as u64;
    }
    w.flush()?;
    Ok(lines)
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap_or(c),
            '+' => '＋',
            c => c,
        })
        .collect()
}
