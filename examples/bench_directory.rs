//! Customer directory benchmark (客户查询): search latency by number
//! fragment, name prefix, group and owner, as an admin, an agent and a
//! team lead, and the customer page, on a store of a million customers.
//!
//! cargo run --release --example bench_customers -- 1000000 --dir /tmp/dir --keep
//! cargo run --release --example bench_directory -- /tmp/dir/bench-1000000.db
//!
//! The first command imports the sample customers (and prints the import
//! rate, now with the number-fragment index built at its end); this one
//! gives 5 agents of one team 300 customers each, then times each kind of
//! search (a first page of 50) and the customer page. Targets: searches
//! p99 <= 50 ms, the customer page <= 100 ms. The first run also adds
//! 100,000 customers with a searchable custom field (合同号, values
//! `HT-000000`…) and 100,000 SMS to random customers' numbers, so the
//! field search and the page's SMS list have something to find.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callpop::customers::fields::{CustomFieldDef, CustomFieldType};
use callpop::demo::SplitMix;
use callpop::store::{
    Actor, CallQuery, CustomerQuery, HandOver, NewCustomer, NewPhone, NewSms, Role, Scope, Store,
};
mod common;

use common::report_ms as report;
use std::time::Instant;

const REPEATS: usize = 1_000;
const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "黄", "赵"];
const GROUPS: &[&str] = &["VIP", "新客户", "经销商", "老客户", "投诉"];

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: bench_directory DB (kept by bench_customers)"))?;
    let store = Store::open(std::path::Path::new(&path))?;
    store.set_cache_mb(callpop::config::StoreConfig::default().cache_mb)?;
    store.warm_cache()?;
    let total = store.customers().customer_count()? as usize;
    println!("{total} customers in {path}");
    let mut rng = SplitMix::new(7);
    // One team of five agents, 300 customers each.
    let admin = match store.users().user_by_name("bench-admin")? {
        Some(u) => u,
        None => {
            store
                .users()
                .add_user("bench-admin", "admin", Role::Admin, None, None)?;
            store.users().user_by_name("bench-admin")?.expect("added")
        }
    };
    let mut agents = Vec::new();
    for i in 0..5 {
        let name = format!("bench-agent{i}");
        if store.users().user_by_name(&name)?.is_none() {
            store
                .users()
                .add_user(&name, &name, Role::Agent, Some("bench"), None)?;
            let ids: Vec<i64> = (0..300).map(|_| 1 + rng.below(total) as i64).collect();
            let agent = store.users().user_by_name(&name)?.expect("added");
            store.directory().hand_over(
                &HandOver::Customers(ids),
                agent.id,
                Actor {
                    user: &admin,
                    remote_addr: None,
                },
            )?;
        }
        agents.push(store.users().user_by_name(&name)?.expect("added"));
    }
    // A searchable custom field and customers holding it; SMS to numbers.
    let defs = store.directory().field_defs()?;
    if !defs.iter().any(|d| d.key == "contract") {
        let mut with = defs.clone();
        with.push(CustomFieldDef {
            key: "contract".into(),
            label_zh: "合同号".into(),
            label_en: "Contract".into(),
            field_type: CustomFieldType::Text,
            required: false,
            options: Vec::new(),
            in_pop: false,
            searchable: true,
            birthday: false,
            in_sms: true,
        });
        let actor = Actor {
            user: &admin,
            remote_addr: None,
        };
        store.directory().put_field_defs(&with, actor)?;
        let normalizer =
            callpop::phone::Normalizer::new(callpop::phone::NormalizerSettings::default());
        let mut load = store.customers().load_customers_live()?;
        for i in 0..100_000u32 {
            let mut fields = serde_json::Map::new();
            fields.insert("contract".into(), format!("HT-{i:06}").into());
            load.add(&NewCustomer {
                name: format!("合同客户{i}"),
                phones: vec![NewPhone {
                    number: normalizer.normalize(&format!("1770{i:07}"))?,
                    label: None,
                }],
                custom_fields: fields,
                ..NewCustomer::default()
            })?;
        }
        load.finish()?;
        let sample = store.directory().search(
            &CustomerQuery {
                limit: Some(200),
                ..CustomerQuery::default()
            },
            &Scope::All,
        )?;
        let e164s: Vec<String> = sample
            .items
            .iter()
            .flat_map(|c| c.phones.iter().filter_map(|p| p.e164.clone()))
            .collect();
        for i in 0..100_000usize {
            let to = if i % 10 == 0 {
                e164s[i / 10 % e164s.len()].clone()
            } else {
                format!("+86139{:08}", rng.below(100_000_000))
            };
            store.sms().queue_sms(&NewSms {
                to: &to,
                text: "会员日全场八折",
                encoding: "ucs2",
                parts: vec![("00".into(), 1)],
                created_by: None,
            })?;
        }
        println!("added 100,000 customers with a contract number and 100,000 SMS");
    }
    let total = store.customers().customer_count()? as usize;
    // Whole numbers to take fragments of.
    let sample = store.directory().search(
        &CustomerQuery {
            limit: Some(200),
            ..CustomerQuery::default()
        },
        &Scope::All,
    )?;
    let numbers: Vec<String> = sample
        .items
        .iter()
        .flat_map(|c| c.phones.iter().map(|p| p.national.clone()))
        .collect();
    let all = Scope::All;
    let agent = Scope::Agent(agents[0].id);
    let team = Scope::Team("bench".into());
    type Make = Box<dyn Fn(&mut SplitMix) -> CustomerQuery>;
    let q = CustomerQuery::default;
    let cases: Vec<(&str, &Scope, Make)> = vec![
        ("newest (no filter), admin", &all, Box::new(move |_| q())),
        (
            "number, 4 digits anywhere, admin",
            &all,
            Box::new(|r| CustomerQuery {
                number: Some(format!("{:04}", r.below(10_000))),
                ..CustomerQuery::default()
            }),
        ),
        (
            "number, 7 digits of a real one, admin",
            &all,
            Box::new({
                let numbers = numbers.clone();
                move |r| {
                    let n = &numbers[r.below(numbers.len())];
                    let start = r.below(n.len().saturating_sub(7) + 1);
                    CustomerQuery {
                        number: Some(n[start..(start + 7).min(n.len())].to_string()),
                        ..CustomerQuery::default()
                    }
                }
            }),
        ),
        (
            "name prefix, 1 character, admin",
            &all,
            Box::new(|r| CustomerQuery {
                name: Some(SURNAMES[r.below(SURNAMES.len())].to_string()),
                ..CustomerQuery::default()
            }),
        ),
        (
            "group, admin",
            &all,
            Box::new(|r| CustomerQuery {
                tag: Some(GROUPS[r.below(GROUPS.len())].to_string()),
                ..CustomerQuery::default()
            }),
        ),
        (
            "owner, admin",
            &all,
            Box::new(|r| CustomerQuery {
                owner: Some(format!("bench-agent{}", r.below(5))),
                ..CustomerQuery::default()
            }),
        ),
        ("an agent's own (no filter)", &agent, Box::new(move |_| q())),
        (
            "an agent's own by name prefix",
            &agent,
            Box::new(|r| CustomerQuery {
                name: Some(SURNAMES[r.below(SURNAMES.len())].to_string()),
                ..CustomerQuery::default()
            }),
        ),
        (
            "a team lead's team (no filter)",
            &team,
            Box::new(move |_| q()),
        ),
        (
            "searchable custom field, 4-digit prefix, admin",
            &all,
            Box::new(|r| CustomerQuery {
                field: Some("contract".into()),
                value: Some(format!("HT-{:04}", r.below(1_000))),
                ..CustomerQuery::default()
            }),
        ),
        (
            "searchable custom field with a name prefix, admin",
            &all,
            Box::new(|r| CustomerQuery {
                field: Some("contract".into()),
                value: Some(format!("HT-{:02}", r.below(10))),
                name: Some("合同".into()),
                ..CustomerQuery::default()
            }),
        ),
    ];
    println!("first page of 50, {REPEATS} searches each:");
    for (label, scope, make) in &cases {
        let mut times = Vec::with_capacity(REPEATS);
        let mut found = 0usize;
        for _ in 0..REPEATS {
            let query = make(&mut rng);
            let t = Instant::now();
            let page = store.directory().search(&query, scope)?;
            times.push(t.elapsed());
            found += page.items.len();
        }
        report(
            label,
            &mut times,
            &format!("{:.1} rows a page", found as f64 / REPEATS as f64),
        );
    }
    // The customer page: details, notes, work orders, 50 calls, 50 SMS.
    let mut times = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let id = 1 + rng.below(total) as i64;
        let t = Instant::now();
        store.directory().get(id, &Scope::All)?;
        store.directory().notes(id, 100)?;
        store.workorders().customer_work_orders(id, 50)?;
        store.calls().search_calls(
            &CallQuery {
                customer_id: Some(id),
                limit: Some(50),
                ..CallQuery::default()
            },
            &Scope::All,
        )?;
        store.sms().customer_messages(id, 50)?;
        times.push(t.elapsed());
    }
    report(
        "customer page (details, notes, work orders, calls, SMS)",
        &mut times,
        "",
    );
    Ok(())
}
