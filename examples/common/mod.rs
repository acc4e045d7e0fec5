//! What the benchmarks share: how a latency distribution is printed, the
//! process's memory and CPU time as Linux reports them, and where the
//! daemon binary is.

use std::time::Duration;

/// Prints `what` with p50/p90/p99/max of `times` in microseconds.
#[allow(dead_code)]
pub fn report(what: &str, times: &[Duration]) {
    let mut t = times.to_vec();
    t.sort();
    let us = |q: f64| t[((t.len() as f64 * q) as usize).min(t.len() - 1)].as_secs_f64() * 1e6;
    println!(
        "{what}: {} samples, p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us",
        t.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(1.0)
    );
}

/// Prints one line of a store benchmark: `label`, then p50, p99 and max
/// of `times` in milliseconds, then `extra`.
#[allow(dead_code)]
pub fn report_ms(label: &str, times: &mut [Duration], extra: &str) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "  {label:52} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  {extra}",
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(*times.last().unwrap())
    );
}

/// A line of /proc/self/status in KiB (`VmRSS`, `VmHWM`...).
#[allow(dead_code)]
pub fn rss_kib(key: &str) -> u64 {
    status_kib("self", key).unwrap_or(0)
}

/// A line of /proc/<pid>/status in KiB (`VmRSS`, `VmHWM`...) of another
/// process (a daemon the benchmark started); None once it is gone.
#[allow(dead_code)]
pub fn pid_status_kib(pid: u32, key: &str) -> Option<u64> {
    status_kib(&pid.to_string(), key)
}

fn status_kib(process: &str, key: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .trim_start_matches(':')
                .trim()
                .strip_suffix(" kB")?
                .trim()
                .parse()
                .ok()
        })
}

/// CPU time (user + system, every thread) of another process.
#[allow(dead_code)]
pub fn pid_cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// The `q` quantile (0..=1) of sorted `t` in microseconds (0 when empty).
#[allow(dead_code)]
pub fn quantile_us(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
    sorted[i].as_secs_f64() * 1e6
}

/// CPU time this process has used, user and system together (every
/// thread), from /proc/self/stat in clock ticks of 10 ms.
#[allow(dead_code)]
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// CPU time of the threads of process `pid` named `name` (their
/// scheduler run time, in nanoseconds, from /proc/…/schedstat): what one
/// thread's work costs, whatever else the machine is doing.
#[allow(dead_code)]
pub fn thread_cpu_time(pid: u32, name: &str) -> Option<Duration> {
    let mut total = None;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let sched = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        let ns: u64 = sched.split_whitespace().next()?.parse().ok()?;
        *total.get_or_insert(0) += ns;
    }
    total.map(Duration::from_nanos)
}

/// The `callpop` binary built beside this example (`cargo build --release`
/// first): the benchmarks that measure the real daemon start it.
#[allow(dead_code)]
pub fn daemon_binary() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("callpop"))
        .filter(|p| p.exists())
        .ok_or_else(|| anyhow::anyhow!("build the daemon first: cargo build --release"))
}

/// Writes a daemon config for the benchmarks that drive the real daemon:
/// the database `db`, a free port on 127.0.0.1, a text box `box1` at
/// `link`, and `extra` TOML sections. The config's path and the port.
#[allow(dead_code)]
pub fn box_daemon_config(
    dir: &std::path::Path,
    db: &std::path::Path,
    link: &std::path::Path,
    extra: &str,
) -> anyhow::Result<(std::path::PathBuf, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.join("callpop.toml");
    std::fs::write(
        &config,
        format!(
            "db = {db:?}\nlog = \"warn\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n{extra}\
             [[device]]\nname = \"box1\"\npath = {link:?}\nprofile = \"text-box-4port\"\n"
        ),
    )?;
    Ok((config, port))
}
