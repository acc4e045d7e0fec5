//! Work-order benchmark (工单查询): the list by status, by assignee, by
//! team, overdue, as an admin, an agent and a team lead, a customer's
//! orders and one order's page, on a store of a million customers and a
//! million work orders.
//!
//! cargo run --release --example bench_customers -- 1000000 --dir /tmp/dir --keep
//! cargo run --release --example bench_workorders -- /tmp/dir/bench-1000000.db [ORDERS]
//!
//! The first command imports the sample customers; this one adds 1,000
//! agents in 20 teams and saves work orders (default 1,000,000, kept in the
//! file for the next run) as the pop does, one transaction each, then
//! moves a third of them on (in progress, resolved, closed), escalates one
//! in twenty to another team and gives one in ten a due date; it prints
//! those rates, then times each kind of list (a first page of 50) and the
//! order page. Targets: lists p99 <= 50 ms.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use callpop::demo::SplitMix;
use callpop::store::{Actor, Assignee, FormDef, Role, Scope, Store, User, WorkOrderQuery};
use common::report_ms as report;
use serde_json::{json, Map};
use std::time::Instant;

const REPEATS: usize = 1_000;
const AGENTS: usize = 1_000;
const TEAMS: usize = 20;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or_else(|| {
        anyhow::anyhow!("usage: bench_workorders DB (kept by bench_customers) [ORDERS]")
    })?;
    let wanted: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let store = Store::open(std::path::Path::new(&path))?;
    store.set_cache_mb(callpop::config::StoreConfig::default().cache_mb)?;
    let customers = store.customers().customer_count()?.max(1) as usize;
    let mut rng = SplitMix::new(11);
    let admin = user(&store, "bench-admin", Role::Admin, None)?;
    let mut agents = Vec::with_capacity(AGENTS);
    for i in 0..AGENTS {
        let team = format!("team{}", i % TEAMS);
        agents.push(user(
            &store,
            &format!("wo-agent{i}"),
            Role::Agent,
            Some(&team),
        )?);
    }
    if store.workorders().form("service")?.is_none() {
        let form: FormDef = toml::from_str(callpop::demo::DEMO_FORM)?;
        store.workorders().put_form(&form)?;
    }
    let have = store
        .workorders()
        .search(
            &WorkOrderQuery {
                limit: Some(1),
                ..Default::default()
            },
            &Scope::All,
            0,
        )?
        .items
        .first()
        .map_or(0, |o| o.id as usize);
    if have < wanted {
        fill(&store, &admin, &agents, customers, have, wanted, &mut rng)?;
    }
    store.warm_cache()?;
    println!(
        "{customers} customers, about {} work orders in {path}",
        have.max(wanted)
    );

    let now = callpop::store::now_ms();
    let all = Scope::All;
    let agent = &agents[7];
    let mine = Scope::Agent(agent.id);
    let team = Scope::Team(agent.team.clone().unwrap_or_default());
    let q = WorkOrderQuery::default;
    let cases: Vec<(&str, WorkOrderQuery, &Scope)> = vec![
        (
            "admin: status = in_progress",
            WorkOrderQuery {
                status: Some("in_progress".into()),
                ..q()
            },
            &all,
        ),
        (
            "admin: status = closed",
            WorkOrderQuery {
                status: Some("closed".into()),
                ..q()
            },
            &all,
        ),
        (
            "admin: open",
            WorkOrderQuery {
                open: Some(true),
                ..q()
            },
            &all,
        ),
        (
            "admin: status = open, assignee",
            WorkOrderQuery {
                status: Some("open".into()),
                assignee: Some(agent.username.clone()),
                ..q()
            },
            &all,
        ),
        (
            "admin: open, team",
            WorkOrderQuery {
                open: Some(true),
                team: agent.team.clone(),
                ..q()
            },
            &all,
        ),
        (
            "admin: overdue",
            WorkOrderQuery {
                overdue: true,
                ..q()
            },
            &all,
        ),
        ("agent: their orders", q(), &mine),
        (
            "agent: status = open",
            WorkOrderQuery {
                status: Some("open".into()),
                ..q()
            },
            &mine,
        ),
        ("team lead: the team's", q(), &team),
        (
            "team lead: status = in_progress",
            WorkOrderQuery {
                status: Some("in_progress".into()),
                ..q()
            },
            &team,
        ),
        (
            "team lead: overdue",
            WorkOrderQuery {
                overdue: true,
                ..q()
            },
            &team,
        ),
    ];
    println!("lists (first page of 50, {REPEATS} runs each):");
    for (label, query, scope) in cases {
        let mut times = Vec::with_capacity(REPEATS);
        let mut found = 0;
        for _ in 0..REPEATS {
            let t = Instant::now();
            let page = store.workorders().search(&query, scope, now)?;
            times.push(t.elapsed());
            found = page.items.len();
        }
        report(label, &mut times, &format!("{found} rows"));
    }
    // Page 100 of the open list costs what page 1 does (keyset).
    let mut query = WorkOrderQuery {
        open: Some(true),
        ..q()
    };
    for _ in 0..100 {
        match store.workorders().search(&query, &all, now)?.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    let mut times = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let t = Instant::now();
        store.workorders().search(&query, &all, now)?;
        times.push(t.elapsed());
    }
    report("admin: open, page 101", &mut times, "");

    let mut times = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let customer = 1 + rng.below(customers) as i64;
        let t = Instant::now();
        store.workorders().customer_work_orders(customer, 50)?;
        store.workorders().open_work_orders(customer, 10)?;
        times.push(t.elapsed());
    }
    report(
        "a customer's orders and open orders (the pop)",
        &mut times,
        "",
    );
    let top = have.max(wanted);
    let mut times = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let id = 1 + rng.below(top) as i64;
        let t = Instant::now();
        let order = store.workorders().get(id, &all)?;
        if let Some(o) = order {
            store.workorders().form(&o.form)?;
            store.workorders().timeline(id)?;
        }
        times.push(t.elapsed());
    }
    report("one order's page (order, form, timeline)", &mut times, "");
    let mut times = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let t = Instant::now();
        store.workorders().counts(&team, now, 86_400_000)?;
        times.push(t.elapsed());
    }
    report("team lead: open / due / overdue counts", &mut times, "");
    Ok(())
}

/// The user `name`, added when missing.
fn user(store: &Store, name: &str, role: Role, team: Option<&str>) -> anyhow::Result<User> {
    if let Some(u) = store.users().user_by_name(name)? {
        return Ok(u);
    }
    store.users().add_user(name, name, role, team, None)?;
    Ok(store.users().user_by_name(name)?.expect("just added"))
}

/// Saves orders up to `wanted` as the pop does, then moves some on.
fn fill(
    store: &Store,
    admin: &User,
    agents: &[User],
    customers: usize,
    have: usize,
    wanted: usize,
    rng: &mut SplitMix,
) -> anyhow::Result<()> {
    let w = store.workorders();
    let started = Instant::now();
    let mut fields = Map::new();
    fields.insert("category".into(), json!("after_sales"));
    fields.insert("contact".into(), json!("王伟"));
    fields.insert("summary".into(), json!("打印机卡纸，需要上门"));
    let mut ids = Vec::with_capacity(wanted - have);
    // A thousand saves a transaction (each its own savepoint).
    for batch in (have..wanted).collect::<Vec<_>>().chunks(1_000) {
        store.in_transaction(|s| -> anyhow::Result<()> {
            for i in batch {
                let agent = &agents[rng.below(agents.len())];
                let customer = 1 + rng.below(customers) as i64;
                let saved = s.workorders().save_work_order(
                    "service",
                    Some(customer),
                    None,
                    agent.id,
                    &format!("bench-{i}"),
                    &fields,
                )?;
                ids.push(saved.id);
            }
            Ok(())
        })?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "saved {} work orders in {secs:.1} s ({:.0} a second, a thousand a transaction)",
        ids.len(),
        ids.len() as f64 / secs
    );
    let started = Instant::now();
    let actor = Actor {
        user: admin,
        remote_addr: None,
    };
    let now = callpop::store::now_ms();
    let mut changes = 0;
    for batch in ids.chunks(1_000) {
        store.in_transaction(|_| -> anyhow::Result<()> {
            for &id in batch {
                changes += move_on(&w, id, actor, now, rng)?;
            }
            Ok(())
        })?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "made {changes} changes (status, assignment, due) in {secs:.1} s ({:.0} a second)",
        changes as f64 / secs
    );
    Ok(())
}

/// Moves one order on as people would: a third of them change status,
/// one in fifteen is escalated, one in ten gets a due date; how many
/// changes.
fn move_on(
    w: &callpop::store::WorkOrders<'_>,
    id: i64,
    actor: Actor<'_>,
    now: i64,
    rng: &mut SplitMix,
) -> anyhow::Result<u32> {
    let mut changes = 0;
    {
        let roll = rng.below(30);
        let to: &[&str] = match roll {
            0..=3 => &["in_progress"],
            4..=6 => &["resolved"],
            7..=9 => &["resolved", "closed"],
            _ => &[],
        };
        for status in to {
            w.change_status(id, status, None, &Scope::All, actor)?;
            changes += 1;
        }
        if roll % 20 == 0 {
            let team = format!("team{}", rng.below(TEAMS));
            w.assign(id, &Assignee::Team(team), Some("升级"), &Scope::All, actor)?;
            changes += 1;
        }
        if roll % 10 == 1 {
            let due = now + (rng.below(14 * 24) as i64 - 7 * 24) * 3_600_000;
            w.set_due(id, Some(due), &Scope::All, actor)?;
            changes += 1;
        }
    }
    Ok(changes)
}
