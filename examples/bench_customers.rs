//! Customer store benchmark: import rate and lookup latency per match rule.
//!
//! cargo run --release --example bench_customers -- 1000000 [--dir DIR] [--keep] [--reuse] [--cache-mb N]
//!
//! --reuse times lookups on the database a --keep run left in --dir, without
//! importing again; --cache-mb sets the page cache for the lookups.
//!
//! Generates N sample customers as a CSV file (mobiles, landlines in eight
//! cities, 400 numbers, and one customer in 50 with a local number stored
//! without its area code), imports it with the real importer into a fresh
//! database, then times lookups of a raw caller number (normalisation
//! included) for each rule. Targets: import >= 100k rows/s, p99 <= 50 us.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callpop::config::StoreConfig;
use callpop::customers;
use callpop::demo::{SampleCustomers, SplitMix};
use callpop::phone::{MatchPolicy, MatchRule, Normalizer, NormalizerSettings};
use callpop::store::Store;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const QUERIES_PER_RULE: usize = 20_000;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut count: usize = 1_000_000;
    let mut dir: Option<PathBuf> = None;
    let mut keep = false;
    let mut reuse = false;
    let mut cache_mb: Option<u32> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dir" => dir = args.next().map(PathBuf::from),
            "--keep" => keep = true,
            "--reuse" => reuse = true,
            "--cache-mb" => cache_mb = args.next().map(|v| v.parse()).transpose()?,
            n => count = n.replace('_', "").parse()?,
        }
    }
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let csv_path = dir.join(format!("customers-{count}.csv"));
    let db_path = dir.join(format!("bench-{count}.db"));
    if !reuse {
        let _ = std::fs::remove_file(&db_path);
    }

    println!("generating {count} customers into {}", csv_path.display());
    let started = Instant::now();
    let (mobiles, locals) = if reuse {
        generate(count, std::io::sink())?
    } else {
        generate(count, std::fs::File::create(&csv_path)?)?
    };
    println!("  generated in {:.1}s", started.elapsed().as_secs_f64());

    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let normalizer = Normalizer::new(NormalizerSettings::default());
    let store = Store::open(&db_path)?;
    if !reuse {
        let started = Instant::now();
        let report = customers::import_file(&store, &normalizer, &csv_path, Default::default())?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "import: {} rows in {secs:.1}s = {:.0} rows/s ({} new, {} merged, {} errors)",
            report.rows,
            report.rows as f64 / secs,
            report.inserted,
            report.updated + report.unchanged,
            report.errors.len()
        );
        println!(
            "  database {} MB, peak RSS {} MB",
            std::fs::metadata(&db_path)?.len() / 1_000_000,
            peak_rss_mb()
        );
    }
    let policy = MatchPolicy::default();
    let mut rng = SplitMix::new(99);
    let cache = cache_mb.unwrap_or(StoreConfig::default().cache_mb);
    store.set_cache_mb(cache)?;
    let warming = Instant::now();
    store.warm_cache()?;
    println!(
        "page cache {cache} MiB, warmed in {:.1}s as the daemon does at start",
        warming.elapsed().as_secs_f64()
    );
    let sets: Vec<(&str, MatchRule, Vec<String>)> = vec![
        (
            "exact (mobile as +86 ...)",
            MatchRule::Exact,
            (0..QUERIES_PER_RULE)
                .map(|_| format!("+86 {}", mobiles[rng.below(mobiles.len())]))
                .collect(),
        ),
        (
            "national (local number)",
            MatchRule::National,
            (0..QUERIES_PER_RULE)
                .map(|_| locals[rng.below(locals.len())].clone())
                .collect(),
        ),
        (
            "suffix (local number dialled with area code)",
            MatchRule::Suffix,
            (0..QUERIES_PER_RULE)
                .map(|_| format!("0755-{}", locals[rng.below(locals.len())]))
                .collect(),
        ),
        (
            "none (unknown landline, all three rules tried)",
            MatchRule::None,
            (0..QUERIES_PER_RULE)
                .map(|_| format!("0571-9{:07}", rng.below(10_000_000)))
                .collect(),
        ),
    ];
    // Steady state: a daemon has answered calls before this one, so warm the
    // upper index levels with numbers other than the measured ones.
    for _ in 0..QUERIES_PER_RULE {
        let q = match rng.below(3) {
            0 => format!("+86 {}", mobiles[rng.below(mobiles.len())]),
            1 => locals[rng.below(locals.len())].clone(),
            _ => format!("0571-9{:07}", rng.below(10_000_000)),
        };
        let n = normalizer.normalize_lenient(&q).expect("digits");
        store.customers().lookup(&n, &policy)?;
    }
    println!("lookup latency, raw number to result, {QUERIES_PER_RULE} queries per rule after as many to warm up:");
    for (label, rule, queries) in sets {
        let mut times = Vec::with_capacity(queries.len());
        let mut hits = 0;
        for q in &queries {
            let t = Instant::now();
            let n = normalizer.normalize_lenient(q).expect("digits");
            let r = store.customers().lookup(&n, &policy)?;
            times.push(t.elapsed());
            hits += usize::from(r.rule == rule);
        }
        times.sort();
        let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
        println!(
            "  {label:48} p50 {:>6.1} us  p99 {:>6.1} us  max {:>7.1} us  ({:.1}% gave {})",
            us(pct(0.50)),
            us(pct(0.99)),
            us(*times.last().unwrap()),
            100.0 * hits as f64 / queries.len() as f64,
            rule.as_str()
        );
    }
    if keep {
        println!("kept {} and {}", csv_path.display(), db_path.display());
        std::mem::forget(tmp);
    }
    Ok(())
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Writes the CSV; returns a sample of stored mobiles and every local number.
fn generate(count: usize, out: impl Write) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
    writeln!(w, "客户名称,手机,办公电话,其他电话,公司,分组,城市,客户等级")?;
    let mut mobiles = Vec::new();
    let mut locals = Vec::new();
    for (i, c) in SampleCustomers::new(1).take(count).enumerate() {
        let local = if i % 50 == 0 {
            let l = format!("3{:07}", i / 50);
            locals.push(l.clone());
            l
        } else {
            String::new()
        };
        if i % 7 == 0 && mobiles.len() < 200_000 {
            mobiles.push(
                c.phones[0]
                    .replace([' ', '+'], "")
                    .trim_start_matches("86")
                    .to_string(),
            );
        }
        writeln!(
            w,
            "{},{},{},{},{},{},{},{}",
            c.name,
            c.phones[0],
            c.phones.get(1).map(String::as_str).unwrap_or(""),
            local,
            c.company,
            c.tags.join("、"),
            c.city,
            c.level
        )?;
    }
    w.flush()?;
    Ok((mobiles, locals))
}

fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}
