//! Call history search and statistics on a year of generated calls
//! (default 5,000,000): a busy center of 60 agents in 6 teams on 40 lines,
//! 80 % inbound (75 % answered, 10 % missed, 12 % abandoned, 3 % unknown).
//! The measured month also has its agent state changes and work orders.
//! Times are the median of 5 runs after a first (cold) one, each on a
//! fresh reader connection as the web server uses.
//!
//! cargo run --release --example bench_reports -- [CALLS] [DB]
//! (an existing DB of the same size is reused)

use callpop::reports::stats::{GroupBy, Period, Settings};
use callpop::reports::Report;
use callpop::store::{CallQuery, Role, Scope, Store};
use chrono::TimeZone;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::time::Instant;

const AGENTS: i64 = 60;
const TEAMS: i64 = 6;
const LINES: i64 = 40;

fn cn() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).unwrap()
}

fn month_start(m: u32) -> i64 {
    cn().with_ymd_and_hms(2026, m, 1, 0, 0, 0)
        .unwrap()
        .timestamp_millis()
}

fn generate(db: &std::path::Path, calls: u64) {
    let store = Store::open(db).unwrap();
    let mut ids = Vec::new();
    for a in 0..AGENTS {
        let team = format!("team{}", a % TEAMS);
        ids.push(
            store
                .users()
                .add_user(&format!("agent{a}"), "", Role::Agent, Some(&team), None)
                .unwrap(),
        );
    }
    drop(store);
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    conn.pragma_update(None, "cache_size", -1_000_000).unwrap();
    let (year_start, year_end) = (
        month_start(1),
        cn().with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp_millis(),
    );
    let (march, april) = (month_start(3), month_start(4));
    let step = (year_end - year_start) / calls as i64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO calls (call_uid, line, device, direction, outcome, raw_number, number_e164,
                    number_national, customer_id, agent_user_id, offered_to, team, ring_count,
                    started_at, first_ring_at, answered_at, ended_at, wrapup_ended_at)
                 VALUES (?1, ?2, 'box', ?3, ?4, ?5, ?6, ?5, NULL, ?7, ?8, ?9, 2, ?10, ?10, ?11, ?12, ?13)",
            )
            .unwrap();
        let mut state = tx
            .prepare("INSERT INTO agent_states (user_id, state, at) VALUES (?1, ?2, ?3)")
            .unwrap();
        let mut order = tx
            .prepare(
                "INSERT INTO work_orders (form_id, agent_user_id, call_uid, fields, created_at, updated_at)
                 VALUES (1, ?1, ?2, '{}', ?3, ?3)",
            )
            .unwrap();
        tx.execute(
            "INSERT INTO work_order_forms (id, key, name_zh, name_en, created_at, updated_at) VALUES (1, 'b', 'b', 'b', 0, 0)",
            [],
        )
        .unwrap();
        for i in 0..calls {
            let start = year_start + i as i64 * step + rng.random_range(0..step.max(1));
            let agent = rng.random_range(0..AGENTS);
            let agent_id = ids[agent as usize];
            let team = format!("team{}", agent % TEAMS);
            let number = format!(
                "13{:09}",
                rng.random_range(0..200_000u64) * 4999 % 1_000_000_000
            );
            let line = format!("box{}/{}", agent % LINES / 4, agent % 4 + 1);
            let roll: f64 = rng.random();
            let (direction, outcome) = match roll {
                r if r < 0.20 => ("outbound", "outbound"),
                r if r < 0.80 => ("inbound", "answered"),
                r if r < 0.88 => ("inbound", "missed"),
                r if r < 0.976 => ("inbound", "abandoned"),
                _ => ("inbound", "unknown"),
            };
            let answered = matches!(outcome, "answered" | "outbound")
                .then(|| start + rng.random_range(2_000..40_000));
            let ended = answered.map_or(start + rng.random_range(3_000..30_000), |a| {
                a + rng.random_range(20_000..600_000)
            });
            let wrap = (outcome == "answered").then(|| ended + rng.random_range(0..120_000));
            let taker = answered.map(|_| agent_id);
            let uid = format!("{start:013}-{i:08}");
            insert
                .execute(rusqlite::params![
                    uid,
                    line,
                    direction,
                    outcome,
                    number,
                    format!("+86{number}"),
                    taker,
                    agent_id,
                    team,
                    start,
                    answered,
                    ended,
                    wrap
                ])
                .unwrap();
            if (march..april).contains(&start) && outcome == "answered" {
                let a = answered.unwrap();
                for (s, t) in [
                    ("on_call", a),
                    ("after_call_work", ended),
                    ("ready", wrap.unwrap()),
                ] {
                    state.execute(rusqlite::params![agent_id, s, t]).unwrap();
                }
                if rng.random_bool(0.3) {
                    order
                        .execute(rusqlite::params![agent_id, uid, wrap.unwrap()])
                        .unwrap();
                }
            }
            if i % 500_000 == 499_999 {
                eprintln!("  {} calls written", i + 1);
            }
        }
    }
    tx.commit().unwrap();
    conn.execute_batch("ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
}

/// Median of 5 timed runs after a cold one: (cold ms, median ms, result size).
fn time<T>(mut f: impl FnMut() -> (T, usize)) -> (f64, f64, usize) {
    let t = Instant::now();
    let (_, n) = f();
    let cold = t.elapsed().as_secs_f64() * 1000.0;
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    (cold, runs[2], n)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let calls: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let keep = args.next().map(PathBuf::from);
    let dir = tempfile::tempdir().unwrap();
    let db = keep.clone().unwrap_or_else(|| dir.path().join("bench.db"));
    let existing = Store::open(&db)
        .ok()
        .and_then(|s| s.calls().recent(1).ok().map(|c| c.len()))
        .unwrap_or(0);
    if existing == 0 {
        let t = Instant::now();
        eprintln!("generating {calls} calls in {}", db.display());
        generate(&db, calls);
        eprintln!("generated in {:.0} s", t.elapsed().as_secs_f64());
    }
    let bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let reader = || Store::open_reader(&db).unwrap();
    let (march, april) = (month_start(3), month_start(4));
    let agent7 = reader().users().user_by_name("agent7").unwrap().unwrap().id;
    let page = |q: CallQuery, scope: Scope| {
        move || {
            let p = reader().calls().search_calls(&q, &scope).unwrap();
            let n = p.calls.len();
            (p, n)
        }
    };
    let mut results: Vec<(&str, (f64, f64, usize))> = vec![
        (
            "history: newest 50, all calls (admin)",
            time(page(CallQuery::default(), Scope::All)),
        ),
        (
            "history: newest 50 of one agent",
            time(page(CallQuery::default(), Scope::Agent(agent7))),
        ),
        (
            "history: a team lead's team, March",
            time(page(
                CallQuery {
                    from: Some(march),
                    to: Some(april),
                    ..Default::default()
                },
                Scope::Team("team3".into()),
            )),
        ),
        (
            "history: abandoned in March",
            time(page(
                CallQuery {
                    from: Some(march),
                    to: Some(april),
                    outcome: Some("abandoned".into()),
                    ..Default::default()
                },
                Scope::All,
            )),
        ),
        (
            "history: one line, March",
            time(page(
                CallQuery {
                    from: Some(march),
                    to: Some(april),
                    line: Some("box2/3".into()),
                    ..Default::default()
                },
                Scope::All,
            )),
        ),
        (
            "history: by a customer's number",
            time(page(
                CallQuery {
                    number_national: Some("13000004999".into()),
                    ..Default::default()
                },
                Scope::All,
            )),
        ),
    ];
    // The worst case of walking the index: nothing in scope, so the whole
    // month is read to say so.
    results.push((
        "history: agent with no calls, March",
        time(page(
            CallQuery {
                from: Some(march),
                to: Some(april),
                ..Default::default()
            },
            Scope::Agent(-1),
        )),
    ));
    // Page 100 through the cursor: the cost of a deep page.
    let mut after = None;
    for _ in 0..99 {
        let p = reader()
            .calls()
            .search_calls(
                &CallQuery {
                    after: after.clone(),
                    ..Default::default()
                },
                &Scope::All,
            )
            .unwrap();
        after = p.next;
    }
    results.push((
        "history: page 100 (keyset)",
        time(page(
            CallQuery {
                after,
                ..Default::default()
            },
            Scope::All,
        )),
    ));
    for (name, group, period) in [
        ("month agent report, per day", GroupBy::Agents, Period::Day),
        (
            "month agent report, per 15 min",
            GroupBy::Agents,
            Period::Min15,
        ),
        ("month team report, total", GroupBy::Teams, Period::Total),
        ("month line report, per day", GroupBy::Lines, Period::Day),
    ] {
        let settings = Settings {
            period,
            group,
            offset: cn(),
            service_level_secs: 20,
            from: march,
            to: april,
        };
        results.push((
            name,
            time(|| {
                let r = Report::build(&reader(), &settings, april).unwrap();
                let n = r.rows.len();
                (r, n)
            }),
        ));
    }
    results.push((
        "  of which: read March's calls",
        time(|| {
            let mut n = 0;
            reader()
                .reports()
                .each_call_fact(march, april, |_| n += 1)
                .unwrap();
            ((), n)
        }),
    ));
    results.push((
        "  of which: read March's state changes",
        time(|| {
            let mut n = 0;
            reader()
                .reports()
                .each_state_span(march, april, april, |_| n += 1)
                .unwrap();
            ((), n)
        }),
    ));
    let month_calls = {
        let mut n = 0;
        reader()
            .reports()
            .each_call_fact(march, april, |_| n += 1)
            .unwrap();
        n
    };
    println!(
        "{calls} calls, database {:.2} GB; March: {month_calls} calls",
        bytes as f64 / 1e9
    );
    println!(
        "{:<40} {:>9} {:>11} {:>7}",
        "query", "cold ms", "median ms", "rows"
    );
    for (name, (cold, median, n)) in results {
        println!("{name:<40} {cold:>9.1} {median:>11.1} {n:>7}");
    }
    if keep.is_none() {
        eprintln!("(pass a DB path as the second argument to keep the generated store)");
    }
}
