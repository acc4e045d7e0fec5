//! SMS campaigns end to end in one process: simulated modems on
//! pseudo-terminals, the real drivers, workers and campaign runner, a real
//! SQLite file. Covered: a pool of three modems where one SIM fails
//! mid-campaign (every part delivered, none lost, none sent twice), the
//! opt-out round trip (a reply 退订 stops every later message), the sending
//! window, monthly quotas and roles.

mod common;

use callpop::calls::CallPolicy;
use callpop::config::SmsConfig;
use callpop::devices::profile::load_all;
use callpop::devices::serial::BoxDevice;
use callpop::engine::Engine;
use callpop::phone::{MatchPolicy, Normalizer, NormalizerSettings};
use callpop::sim::modem::{ModemOptions, ModemSim, SendFailure, SentPart};
use callpop::sms::campaign::{Draft, Source};
use callpop::sms::rules::Window;
use callpop::sms::{CampaignError, Campaigns, Outbox};
use callpop::store::{CampaignState, NewCustomer, NewPhone, Role, Store, StoreHandle, User};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

static PASSWORD_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| callpop::auth::hash_password(common::PASSWORD).unwrap());

struct Pool {
    store: StoreHandle,
    campaigns: Campaigns,
    sims: Vec<ModemSim>,
    lines: Option<callpop::lines::Lines>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    dir: tempfile::TempDir,
}

fn normalizer() -> Arc<Normalizer> {
    Arc::new(Normalizer::new(NormalizerSettings::default()))
}

fn settings() -> SmsConfig {
    SmsConfig {
        retry_after_secs: 0,
        window: "00:00-00:00".into(),
        modem_rest_secs: 3600,
        campaign_queue_ahead: 20,
        ..SmsConfig::default()
    }
}

/// `customers` customers tagged `vip` with mobiles 1390000xxxx, and users
/// of every role.
fn seed(db: &Path, customers: usize) {
    let store = Store::open(db).unwrap();
    let n = normalizer();
    for i in 0..customers {
        store
            .customers()
            .insert_customer(&NewCustomer {
                name: format!("客户{i}"),
                company: "星辰贸易".into(),
                tags: vec!["vip".into()],
                phones: vec![NewPhone {
                    number: n.normalize(&format!("1390000{i:04}")).unwrap(),
                    label: None,
                }],
                ..NewCustomer::default()
            })
            .unwrap();
    }
    for (name, role) in [
        ("agent1", Role::Agent),
        ("qa1", Role::Qa),
        ("m1", Role::Marketer),
        ("m2", Role::Marketer),
        ("admin", Role::Admin),
    ] {
        store
            .users()
            .add_user(name, name, role, None, Some(&PASSWORD_HASH))
            .unwrap();
    }
}

impl Pool {
    async fn start(modems: usize, customers: usize, sms: SmsConfig) -> Pool {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        seed(&db, customers);
        let profile = load_all(None).unwrap()["simcom-sim800"].clone();
        let options = ModemOptions {
            send_latency: Duration::from_millis(20),
            report_delay: Duration::from_millis(10),
            ..ModemOptions::default()
        };
        let mut sims = Vec::new();
        let mut devices = Vec::new();
        for i in 1..=modems {
            let link = dir.path().join(format!("gsm{i}"));
            sims.push(ModemSim::start(Arc::new(profile.clone()), &link, options.clone()).unwrap());
            devices.push(BoxDevice::new(
                &format!("gsm{i}"),
                link,
                Arc::new(profile.clone()),
            ));
        }
        let store = StoreHandle::spawn(Store::open(&db).unwrap());
        let engine = Engine::new(
            store.clone(),
            normalizer(),
            MatchPolicy::default(),
            CallPolicy::default(),
        )
        .unwrap();
        let lines = callpop::lines::spawn(engine, devices, None).unwrap();
        let outbox = Outbox::new(store.clone(), sms);
        let mut tasks = callpop::sms::start(&outbox, &lines.modems, lines.sms_events.clone())
            .await
            .unwrap();
        let campaigns = Campaigns::new(outbox, normalizer());
        tasks.push(tokio::spawn(
            campaigns.clone().run(lines.sms_events.subscribe()),
        ));
        Pool {
            store,
            campaigns,
            sims,
            lines: Some(lines),
            tasks,
            dir,
        }
    }

    async fn stop(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(lines) = self.lines.take() {
            lines.stop().await;
        }
    }

    /// The web server over this pool; its address.
    async fn serve(&self) -> std::net::SocketAddr {
        let listener = callpop::web::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let state = callpop::web::AppState {
            devices: None,
            profile_dir: None,
            logins: Default::default(),
            session_ends: Default::default(),
            imports: Default::default(),
            tickets: Default::default(),
            crm: None,
            dialer: None,
            closing: Default::default(),
            store: self.store.clone(),
            hub: None,
            settings: Arc::new(callpop::web::WebSettings::from_config(&Default::default())),
            normalizer: normalizer(),
            campaigns: Some(self.campaigns.clone()),
            uploads: self.dir.path().join("uploads"),
            metrics: callpop::metrics::Metrics::new(),
            reports: callpop::web::ReportSettings::from_config(&Default::default()),
            recordings: Default::default(),
        };
        tokio::spawn(callpop::web::serve(listener, state, std::future::pending()));
        addr
    }

    async fn user(&self, name: &str) -> User {
        let name = name.to_string();
        self.store
            .users()
            .call(move |s| s.user_by_name(&name))
            .await
            .unwrap()
            .unwrap()
    }

    fn sent(&self) -> Vec<SentPart> {
        self.sims.iter().flat_map(|s| s.sent()).collect()
    }

    async fn state(&self, id: i64) -> CampaignState {
        self.campaigns.get(id).await.unwrap().state
    }

    /// Waits until campaign `id` is done and every part has its outcome.
    async fn finished(&self, id: i64) -> callpop::store::Progress {
        for _ in 0..600 {
            let p = self.campaigns.progress(id).await.unwrap();
            let open: i64 = ["queued", "sending", "sent"]
                .iter()
                .map(|s| p.states.get(*s).copied().unwrap_or(0))
                .sum();
            if self.state(id).await == CampaignState::Done && open == 0 {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "campaign {id} did not finish: {:?} {:?}",
            self.state(id).await,
            self.campaigns.progress(id).await
        );
    }
}

fn draft(name: &str, template: &str) -> Draft {
    Draft {
        name: name.into(),
        template: template.into(),
        suffix: None,
        source: Source::Group("vip".into()),
        filter: None,
        start_at: None,
        window: None,
    }
}

/// Keys of the parts the modems put on the air: (recipient, text of the
/// part, part number), which must never repeat.
fn unique_parts(sent: &[SentPart]) -> HashSet<(String, String, u8)> {
    let mut seen = HashSet::new();
    for p in sent {
        let key = (
            p.to.clone(),
            p.text.clone(),
            p.concat.map(|c| c.seq).unwrap_or(1),
        );
        assert!(seen.insert(key.clone()), "sent twice: {key:?}");
    }
    seen
}

/// Three modems; the third's SIM is barred after a few parts. Its parts go
/// back to the queue untouched and the other two carry the campaign: every
/// part is delivered, none is lost, none goes out twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_modems_one_fails_every_part_delivered_once() {
    let pool = Pool::start(3, 60, settings()).await;
    let m1 = pool.user("m1").await;
    // A system that wants to hear when a campaign ends (no worker runs
    // here: the event waits in the outbox, where it is read below).
    let by = m1.clone();
    pool.store
        .webhooks()
        .call(move |w| {
            let events = ["campaign.finished".to_string()];
            let settings =
                callpop::store::EndpointSettings::webhook("http://crm.test/hook", &events);
            w.add_endpoint(&settings, "whsec_test", &by, None)
        })
        .await
        .unwrap();
    // Long enough for two UCS2 parts with the suffix: 60 messages, 120 parts.
    let template = "尊敬的{name}：{company}会员日全场八折，活动时间本周六上午九点至晚上九点，地址人民路一百号，欢迎光临选购，详情请致电客服热线咨询，凭本短信到店还可领取精美礼品一份。";
    let created = pool
        .campaigns
        .create(&m1, draft("会员日", template))
        .await
        .unwrap();
    assert_eq!((created.recipients, created.parts), (60, 120));
    pool.campaigns.start(&m1, created.id).await.unwrap();
    for _ in 0..400 {
        if pool.sims[2].sent().len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pool.sims[2].fail_every_send(Some(SendFailure::Cms(10)));
    let progress = pool.finished(created.id).await;
    assert_eq!(progress.states.get("delivered"), Some(&120), "{progress:?}");
    assert_eq!(progress.states.len(), 1, "{progress:?}");
    let sent = pool.sent();
    assert_eq!(unique_parts(&sent).len(), 120);
    assert!(pool.sims[0].sent().len() > 10 && pool.sims[1].sent().len() > 10);
    // Each long message left through one SIM, so handsets can join it.
    let mut by_number = std::collections::HashMap::new();
    for (i, sim) in pool.sims.iter().enumerate() {
        for p in sim.sent() {
            by_number
                .entry(p.to.clone())
                .or_insert_with(HashSet::new)
                .insert(i);
        }
    }
    // Only the message the barred SIM was in the middle of was finished by
    // another.
    let split = by_number.values().filter(|m| m.len() > 1).count();
    assert!(split <= 1, "{split} messages split across SIMs");
    // Its end was told once, with its counts, and reads to a group robot
    // in Chinese with a link to the results.
    let due = pool
        .store
        .webhooks()
        .call(|w| w.due(i64::MAX))
        .await
        .unwrap();
    let finished: Vec<_> = due
        .iter()
        .filter(|d| d.event_type == "campaign.finished")
        .collect();
    assert_eq!(finished.len(), 1, "{due:?}");
    let data = &finished[0].data;
    assert_eq!(data["campaign_id"], created.id);
    assert_eq!(data["name"], "会员日");
    assert_eq!(data["state"], "done");
    assert_eq!(
        (
            &data["recipients"],
            &data["sent"],
            &data["delivered"],
            &data["failed"]
        ),
        (
            &serde_json::json!(60),
            &serde_json::json!(120),
            &serde_json::json!(120),
            &serde_json::json!(0)
        ),
        "{data}"
    );
    let ctx = callpop::webhooks::robot::Context {
        console_url: Some("http://callpop.example:8080"),
        zone: chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
        place: None,
    };
    let (title, text) = callpop::webhooks::robot::message("campaign.finished", data, &ctx);
    assert_eq!(title, "短信群发完成");
    for said in [
        "**会员日**".to_string(),
        "- 已发送 120 · 送达 120 · 失败 0".to_string(),
        format!(
            "[查看结果](http://callpop.example:8080/#/sms/campaigns/{})",
            created.id
        ),
    ] {
        assert!(text.contains(&said), "{said:?} in {text}");
    }
    pool.stop().await;
}

/// A recipient replies 退订: they get nothing more, in this campaign or the
/// next, and the skip is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_of_tuiding_stops_every_later_message() {
    let pool = Pool::start(1, 5, settings()).await;
    let m1 = pool.user("m1").await;
    let first = pool
        .campaigns
        .create(&m1, draft("第一期", "{name}您好，新品上市"))
        .await
        .unwrap();
    pool.campaigns.start(&m1, first.id).await.unwrap();
    pool.finished(first.id).await;
    assert_eq!(pool.sent().len(), 5);
    assert!(pool.sent()[0].text.ends_with("回T退订"));

    pool.sims[0].receive("+8613900000003", "退订").await;
    let store = pool.store.clone();
    for _ in 0..200 {
        if store
            .sms()
            .call(|s| s.is_opted_out("+8613900000003"))
            .await
            .unwrap()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(store
        .sms()
        .call(|s| s.is_opted_out("+8613900000003"))
        .await
        .unwrap());

    let second = pool
        .campaigns
        .create(&m1, draft("第二期", "{name}您好，会员日"))
        .await
        .unwrap();
    pool.campaigns.start(&m1, second.id).await.unwrap();
    let progress = pool.finished(second.id).await;
    assert_eq!(progress.skipped.get("opted_out"), Some(&1), "{progress:?}");
    assert_eq!(progress.states.get("delivered"), Some(&4));
    let to_them: Vec<_> = pool
        .sent()
        .into_iter()
        .filter(|p| p.to == "+8613900000003" || p.to == "8613900000003")
        .collect();
    assert_eq!(
        to_them.len(),
        1,
        "only the first campaign's message: {to_them:?}"
    );
    pool.stop().await;
}

/// Outside its window a campaign waits and sends nothing; a campaign whose
/// window is open sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_its_window_a_campaign_waits() {
    let pool = Pool::start(1, 3, settings()).await;
    let m1 = pool.user("m1").await;
    let now = chrono::Local::now().time();
    let closed = Window {
        from: now + chrono::Duration::hours(2),
        to: now + chrono::Duration::hours(3),
    };
    let mut d = draft("夜间不发", "{name}您好");
    d.window = Some(closed);
    let waiting = pool.campaigns.create(&m1, d).await.unwrap();
    pool.campaigns.start(&m1, waiting.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pool.state(waiting.id).await, CampaignState::Waiting);
    assert!(pool.sent().is_empty(), "sent outside the window");

    let mut d = draft("白天发", "{name}您好");
    d.window = Some(Window {
        from: now - chrono::Duration::hours(1),
        to: now + chrono::Duration::hours(1),
    });
    let open = pool.campaigns.create(&m1, d).await.unwrap();
    pool.campaigns.start(&m1, open.id).await.unwrap();
    pool.finished(open.id).await;
    assert_eq!(pool.sent().len(), 3);
    assert_eq!(pool.state(waiting.id).await, CampaignState::Waiting);
    pool.stop().await;
}

/// A marketer cannot start more parts in a month than their quota; an
/// admin sets it; admins have none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monthly_quotas_hold() {
    let pool = Pool::start(
        1,
        4,
        SmsConfig {
            monthly_quota: 6,
            ..settings()
        },
    )
    .await;
    let (m1, admin) = (pool.user("m1").await, pool.user("admin").await);
    let a = pool
        .campaigns
        .create(&m1, draft("a", "{name}"))
        .await
        .unwrap();
    pool.campaigns.start(&m1, a.id).await.unwrap();
    let b = pool
        .campaigns
        .create(&m1, draft("b", "{name}"))
        .await
        .unwrap();
    let refused = pool.campaigns.start(&m1, b.id).await.unwrap_err();
    assert!(
        matches!(
            refused,
            CampaignError::OverQuota {
                needed: 4,
                left: 2,
                quota: 6
            }
        ),
        "{refused}"
    );
    assert_eq!(pool.state(b.id).await, CampaignState::Draft);
    let m1_id = m1.id;
    pool.store
        .campaigns()
        .call(move |s| s.set_quota(m1_id, 8, None))
        .await
        .unwrap();
    pool.campaigns.start(&m1, b.id).await.unwrap();
    let c = pool
        .campaigns
        .create(&admin, draft("c", "{name}"))
        .await
        .unwrap();
    pool.campaigns.start(&admin, c.id).await.unwrap();
    pool.stop().await;
}

/// Only marketers and admins create, start and control campaigns, and a
/// marketer only their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_marketers_and_admins_send_blasts() {
    let pool = Pool::start(1, 2, settings()).await;
    for name in ["agent1", "qa1"] {
        let u = pool.user(name).await;
        let e = pool
            .campaigns
            .create(&u, draft("x", "{name}"))
            .await
            .unwrap_err();
        assert!(matches!(e, CampaignError::Forbidden(_)), "{name}: {e}");
    }
    let m1 = pool.user("m1").await;
    let mut d = draft("later", "{name}");
    d.start_at = Some(callpop::store::now_ms() + 3_600_000);
    let c = pool.campaigns.create(&m1, d).await.unwrap();
    let agent = pool.user("agent1").await;
    assert!(matches!(
        pool.campaigns.start(&agent, c.id).await.unwrap_err(),
        CampaignError::Forbidden(_)
    ));
    pool.campaigns.start(&m1, c.id).await.unwrap();
    let m2 = pool.user("m2").await;
    assert!(matches!(
        pool.campaigns.cancel(&m2, c.id).await.unwrap_err(),
        CampaignError::Forbidden(_)
    ));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(pool.state(c.id).await, CampaignState::Scheduled);
    pool.campaigns
        .cancel(&pool.user("admin").await, c.id)
        .await
        .unwrap();
    assert_eq!(pool.state(c.id).await, CampaignState::Cancelled);
    assert!(pool.sent().is_empty());
    pool.stop().await;
}

/// A template naming a field the recipients lack is refused with the
/// fields they have, and no draft is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_merge_field_is_refused() {
    let pool = Pool::start(1, 2, settings()).await;
    let m1 = pool.user("m1").await;
    let e = pool
        .campaigns
        .create(&m1, draft("x", "{nmae}您好"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown merge field {nmae}"), "{e}");
    assert!(e.to_string().contains("company, name"), "{e}");
    assert!(pool
        .store
        .campaigns()
        .call(|s| s.list(false))
        .await
        .unwrap()
        .is_empty());
    pool.stop().await;
}

/// Custom fields offered to SMS are merge fields and filters of customer
/// campaigns; one an admin keeps out of SMS is neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_fields_offered_to_sms_merge_and_filter() {
    use callpop::customers::fields::{CustomFieldDef, CustomFieldType};
    let pool = Pool::start(1, 0, settings()).await;
    let admin = pool.user("admin").await;
    let m1 = pool.user("m1").await;
    let def = |key: &str, in_sms: bool| CustomFieldDef {
        key: key.into(),
        label_zh: key.into(),
        label_en: key.into(),
        field_type: CustomFieldType::Text,
        required: false,
        options: Vec::new(),
        in_pop: false,
        searchable: false,
        birthday: false,
        in_sms,
    };
    let defs = vec![def("level", true), def("debt", false)];
    let n = normalizer();
    pool.store
        .directory()
        .call(move |d| {
            d.put_field_defs(
                &defs,
                callpop::store::Actor {
                    user: &admin,
                    remote_addr: None,
                },
            )
        })
        .await
        .unwrap();
    pool.store
        .customers()
        .call(move |c| {
            for (i, level) in ["gold", "silver", "gold"].iter().enumerate() {
                let mut custom = serde_json::Map::new();
                custom.insert("level".into(), (*level).into());
                custom.insert("debt".into(), "5000".into());
                c.insert_customer(&NewCustomer {
                    name: format!("会员{i}"),
                    tags: vec!["members".into()],
                    phones: vec![NewPhone {
                        number: n.normalize(&format!("1370000{i:04}")).unwrap(),
                        label: None,
                    }],
                    custom_fields: custom,
                    ..NewCustomer::default()
                })?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let group = |template: &str, filter: &str| {
        let mut d = draft("会员", template);
        d.source = Source::Group("members".into());
        d.filter = Some(callpop::sms::rules::Filter::parse(filter).unwrap());
        d
    };
    let created = pool
        .campaigns
        .create(&m1, group("{name}：您的{level}会员权益", "level=gold"))
        .await
        .unwrap();
    assert_eq!(created.recipients, 2);
    assert!(created.fields.contains(&"level".to_string()));
    assert!(
        !created.fields.contains(&"debt".to_string()),
        "{:?}",
        created.fields
    );
    let e = pool
        .campaigns
        .create(&m1, group("{name}您好", "debt!=0"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, CampaignError::FilterField { field, known } if field == "debt" && known == "name, company, level"),
        "{e}"
    );
    let e = pool
        .campaigns
        .create(&m1, group("{name}您欠款{debt}元", "level=gold"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown merge field {debt}"), "{e}");
    pool.stop().await;
}

/// Recipients from a sheet: the phone column found by its header, the
/// other columns merge fields; bad and repeated numbers kept as skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_from_a_sheet_with_their_own_fields() {
    let pool = Pool::start(1, 0, settings()).await;
    let sheet = pool.dir.path().join("名单.csv");
    std::fs::write(
        &sheet,
        "姓名,手机号码,城市\n张三,13800138000,杭州\n李四,not a number,上海\n王五,+86 138-0013-8000,北京\n赵六,18612345678,深圳\n",
    )
    .unwrap();
    let m1 = pool.user("m1").await;
    let mut d = draft("门店开业", "{name}您好，{城市}新店开业");
    d.source = Source::File(sheet);
    let created = pool.campaigns.create(&m1, d).await.unwrap();
    assert_eq!(
        (created.recipients, created.invalid, created.duplicate),
        (2, 1, 1)
    );
    assert!((created.cost - (0.05 + 0.035)).abs() < 1e-9, "{created:?}");
    let preview = pool.campaigns.preview(created.id, 10).await.unwrap();
    assert_eq!(
        preview[0].text.as_deref(),
        Some("张三您好，杭州新店开业回T退订")
    );
    assert_eq!(preview[1].skip.as_deref(), Some("invalid"));
    assert_eq!(preview[2].skip.as_deref(), Some("duplicate"));
    assert_eq!(
        preview[3].estimate.as_ref().unwrap().carrier.as_deref(),
        Some("China Unicom")
    );
    pool.campaigns.start(&m1, created.id).await.unwrap();
    pool.finished(created.id).await;
    let export = pool.dir.path().join("results.csv");
    let reader = callpop::store::Store::open_reader(pool.store.path()).unwrap();
    let rows = callpop::sms::campaign::export_results(
        &reader,
        created.id,
        callpop::sheets::ExportFormat::Csv,
        &export,
        false,
    )
    .unwrap();
    assert_eq!(rows, 4);
    let csv = std::fs::read_to_string(&export).unwrap();
    assert!(
        csv.contains("1,13800138000,张三,delivered,1,gsm1,"),
        "{csv}"
    );
    assert!(
        csv.contains("2,not a number,李四,skipped,0,,invalid,"),
        "{csv}"
    );
    pool.stop().await;
}

/// The marketers' page in a real browser: a marketer writes a campaign for
/// a group (what is typed survives a reload), previews it (texts, parts,
/// cost), gives the preview up (no draft is left), previews again, confirms
/// the count and cost, starts it and watches it finish live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marketer_runs_a_campaign_from_the_page_in_a_browser() {
    let pool = Pool::start(2, 6, settings()).await;
    let addr = pool.serve().await;
    let m1 = common::login(addr, "m1").await;
    let drafts = || async {
        let (_, _, list) = common::http(addr, "GET", "/api/sms/campaigns", Some(&m1), None).await;
        list["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["campaign"]["state"] == "draft")
            .count()
    };
    let mut b = common::browser::Browser::start().await;
    b.goto(&format!("http://{addr}/sms")).await;
    b.wait_for("document.getElementById('login')").await;
    b.log_in("m1").await;
    b.wait_for("location.pathname === '/sms' && ['实时', 'Live'].includes(document.querySelector('[data-test=live]')?.innerText)")
        .await;
    b.fill("input[data-test=name]", "会员日").await;
    // The name merged in where the cursor is, by a click.
    b.fill("textarea[data-test=template]", "您好，会员日全场八折")
        .await;
    b.eval("document.querySelector('textarea[data-test=template]').setSelectionRange(0, 0); true")
        .await;
    b.click("[data-test=merge-fields] [data-key=name]").await;
    b.wait_for("document.querySelector('textarea[data-test=template]').value === '{name}您好，会员日全场八折'")
        .await;
    // A reload mid-form loses nothing.
    b.eval("window.beforeReload = true; location.reload(); true")
        .await;
    b.wait_for("!window.beforeReload && document.querySelector('input[data-test=name]')?.value === '会员日'")
        .await;
    assert_eq!(
        b.eval("document.querySelector('textarea[data-test=template]').value")
            .await,
        "{name}您好，会员日全场八折"
    );
    b.pick("[data-test=group]", "vip").await;
    // The filter on a customer field, picked from the page's lists.
    let zh = b
        .eval("document.querySelector('[data-test=live]').innerText === '实时'")
        .await
        == true;
    b.pick("[data-test=filter-field]", if zh { "姓名" } else { "Name" })
        .await;
    b.pick(
        "[data-test=filter-op]",
        if zh { "包含" } else { "contains" },
    )
    .await;
    b.fill("[data-test=filter] input[data-test=filter-value]", "客户")
        .await;
    b.click("[data-test=preview]").await;
    b.wait_for("document.querySelector('[data-test=draft-rows] tbody tr')")
        .await;
    let first = b
        .eval("document.querySelector('[data-test=draft-rows] tbody tr').innerText")
        .await;
    assert!(
        first
            .as_str()
            .unwrap()
            .contains("客户0您好，会员日全场八折回T退订"),
        "{first}"
    );
    let summary = b
        .eval("document.querySelector('[data-test=draft-summary]').innerText")
        .await;
    assert!(summary.as_str().unwrap().contains('6'), "{summary}");
    assert_eq!(drafts().await, 1);
    // Given up: the draft goes, the form stays.
    b.click("[data-test=draft-drop]").await;
    b.wait_for("!document.querySelector('[data-test=draft-rows]')?.offsetParent")
        .await;
    let mut waited = 0;
    while drafts().await != 0 {
        waited += 1;
        assert!(waited < 200, "the discarded draft stays");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        b.eval("document.querySelector('input[data-test=name]').value")
            .await,
        "会员日"
    );
    b.click("[data-test=preview]").await;
    b.wait_for("document.querySelector('[data-test=draft-rows]')?.offsetParent")
        .await;
    b.click("[data-test=draft-start]").await;
    // The confirmation says how many and how much.
    b.wait_for("document.querySelector('.el-message-box')?.offsetParent")
        .await;
    let confirm = b
        .eval("document.querySelector('.el-message-box__message').innerText")
        .await;
    let confirm = confirm.as_str().unwrap();
    assert!(confirm.contains('6') && confirm.contains('¥'), "{confirm}");
    b.click(".el-message-box__btns .el-button--primary").await;
    b.wait_for("document.querySelector('[data-test=campaigns] [data-state=done]')")
        .await;
    let row = b
        .eval("document.querySelector('[data-test=campaigns] tbody tr').innerText")
        .await;
    assert!(row.as_str().unwrap().contains("6/6"), "{row}");
    assert_eq!(pool.sent().len(), 6);
    // Started, the form is empty for the next one.
    assert_eq!(
        b.eval("document.querySelector('input[data-test=name]').value")
            .await,
        ""
    );
    b.assert_no_console_errors();
    pool.stop().await;
}

/// The marketers' API as the page uses it: roles enforced on the server,
/// a draft with its preview, start, live progress on /ws/sms until done,
/// and an audited export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marketers_page_api_and_live_progress() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let pool = Pool::start(1, 5, settings()).await;
    let addr = pool.serve().await;

    let agent = common::login(addr, "agent1").await;
    for path in ["/api/sms/campaigns", "/api/sms/groups"] {
        assert_eq!(
            common::status(addr, "GET", path, Some(&agent), None).await,
            403
        );
    }
    let body = serde_json::json!({"name": "x", "template": "{name}", "group": "vip"});
    assert_eq!(
        common::status(
            addr,
            "POST",
            "/api/sms/campaigns",
            Some(&agent),
            Some(body.clone())
        )
        .await,
        403
    );
    assert_eq!(
        common::status(addr, "GET", "/api/sms/campaigns", None, None).await,
        401
    );

    let m1 = common::login(addr, "m1").await;
    // A misspelt field is refused with what the page needs to say so.
    let misspelt = serde_json::json!({"name": "x", "template": "{nmae}您好", "group": "vip"});
    let (status, _, refused) = common::http(
        addr,
        "POST",
        "/api/sms/campaigns",
        Some(&m1),
        Some(misspelt),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["code"], "template_unknown_field");
    assert_eq!(refused["error"]["params"]["field"], "nmae");
    assert!(refused["error"]["params"]["known"]
        .as_str()
        .unwrap()
        .contains("name"));
    let (status, _, groups) = common::http(addr, "GET", "/api/sms/groups", Some(&m1), None).await;
    assert_eq!(
        (status, groups["groups"][0]["name"].as_str()),
        (200, Some("vip"))
    );
    let (status, _, created) =
        common::http(addr, "POST", "/api/sms/campaigns", Some(&m1), Some(body)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["preview"].as_array().unwrap().len(), 5);
    assert_eq!(created["preview"][0]["estimate"]["parts"], 1);
    let shown = created["preview"][0]["number"].as_str().unwrap();
    assert!(
        shown.contains("****"),
        "a marketer sees numbers masked: {shown}"
    );
    let id = created["campaign"]["id"].as_i64().unwrap();

    let mut req = common::ws_url(&format!("ws://{addr}/ws/sms"), Some(&m1))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", format!("callpop_session={m1}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    // One recipient's number no longer exists.
    pool.sims[0].fail_next_send(SendFailure::Cms(1));
    let (status, _, started) = common::http(
        addr,
        "POST",
        &format!("/api/sms/campaigns/{id}/start"),
        Some(&m1),
        None,
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let done = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = ws.next().await else {
                panic!("progress feed ended");
            };
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            let c = v["campaigns"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["campaign"]["id"] == id)
                .cloned();
            if let Some(c) = c {
                let states = &c["progress"]["states"];
                if c["campaign"]["state"] == "done"
                    && states["delivered"] == 4
                    && states["failed"] == 1
                {
                    return c;
                }
            }
        }
    })
    .await
    .expect("the page saw the campaign finish");
    assert_eq!(done["settled"], 5);
    let (status, _, failures) = common::http(
        addr,
        "GET",
        &format!("/api/sms/campaigns/{id}/failures"),
        Some(&m1),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let reason = failures["reasons"][0][0].as_str().unwrap();
    assert!(
        reason.contains("+CMS ERROR: 1") && reason.contains("空号"),
        "{failures}"
    );
    assert_eq!(failures["parts"].as_array().unwrap().len(), 1);

    let path = format!("/api/sms/campaigns/{id}/export?format=csv");
    assert_eq!(
        common::status(addr, "GET", &path, Some(&agent), None).await,
        403
    );
    // Another marketer neither lists nor opens, exports or starts it: to
    // them it does not exist. An admin sees it.
    let m2 = common::login(addr, "m2").await;
    let (_, _, theirs) = common::http(addr, "GET", "/api/sms/campaigns", Some(&m2), None).await;
    assert!(
        theirs["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["campaign"]["id"] != id),
        "{theirs}"
    );
    for (method, other) in [
        ("GET", format!("/api/sms/campaigns/{id}")),
        ("GET", format!("/api/sms/campaigns/{id}/preview")),
        ("GET", format!("/api/sms/campaigns/{id}/failures")),
        ("GET", path.clone()),
        ("POST", format!("/api/sms/campaigns/{id}/pause")),
    ] {
        assert_eq!(
            common::status(addr, method, &other, Some(&m2), None).await,
            404,
            "{method} {other} as m2"
        );
    }
    let admin = common::login(addr, "admin").await;
    assert_eq!(
        common::status(
            addr,
            "GET",
            &format!("/api/sms/campaigns/{id}"),
            Some(&admin),
            None
        )
        .await,
        200
    );
    assert_eq!(
        common::status(addr, "GET", &path, Some(&m1), None).await,
        200
    );
    let audit = pool
        .store
        .users()
        .call(|s| s.recent_audit(10))
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "sms.campaign.export" && a.actor == "m1"),
        "{audit:?}"
    );
    pool.stop().await;
}

/// A filter narrows the group; a blacklisted number is skipped; a SIM's
/// daily cap stops its modem for the day with the campaign still running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_blacklist_and_daily_caps() {
    let pool = Pool::start(
        1,
        20,
        SmsConfig {
            daily_cap: 3,
            ..settings()
        },
    )
    .await;
    pool.store
        .sms()
        .call(|s| s.blacklist("+8613900000011", "complained", None))
        .await
        .unwrap();
    let m1 = pool.user("m1").await;
    let mut d = draft("筛选", "{name}您好");
    d.filter = Some(callpop::sms::rules::Filter::parse("name~客户1").unwrap());
    let created = pool.campaigns.create(&m1, d).await.unwrap();
    // 客户1 and 客户10..客户19.
    assert_eq!(created.recipients, 11);
    pool.campaigns.start(&m1, created.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pool.sent().len(), 3, "the SIM's daily cap");
    assert_eq!(pool.state(created.id).await, CampaignState::Running);
    let p = pool.campaigns.progress(created.id).await.unwrap();
    assert_eq!(p.skipped.get("blacklisted"), Some(&1), "{p:?}");
    assert!(pool.sent().iter().all(|s| s.to != "+8613900000011"));
    pool.stop().await;
}

/// A modem's rate limit spaces its parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modems_rate_limit_spaces_its_parts() {
    let pool = Pool::start(
        1,
        4,
        SmsConfig {
            rate_per_minute: 120,
            ..settings()
        },
    )
    .await;
    let m1 = pool.user("m1").await;
    let created = pool
        .campaigns
        .create(&m1, draft("慢", "{name}"))
        .await
        .unwrap();
    let start = std::time::Instant::now();
    pool.campaigns.start(&m1, created.id).await.unwrap();
    pool.finished(created.id).await;
    // Four parts at one per half second: at least 1.5 s from first to last.
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(pool.sent().len(), 4);
    pool.stop().await;
}

/// An admin's restart of a GSM modem: it goes down for the restart, runs
/// its init again, comes back, and the next campaign goes through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_modem_comes_back_and_sends() {
    use callpop::event::{CallEvent, DeviceState};
    let pool = Pool::start(1, 3, settings()).await;
    let lines = pool.lines.as_ref().unwrap();
    let (now, mut events) = lines.subscribe_with_devices();
    let is_up = |e: &CallEvent| {
        matches!(
            e,
            CallEvent::Device {
                state: DeviceState::Up,
                ..
            }
        )
    };
    if !now.iter().any(is_up) {
        wait_for_device(&mut events, is_up).await;
    }
    lines.desk.restart("gsm1").unwrap();
    wait_for_device(&mut events, |e| {
        matches!(e, CallEvent::Device { state: DeviceState::Down { reason }, .. } if reason == callpop::devices::restart::RESTARTED)
    })
    .await;
    // Up again only once the profile's init succeeded on the reopened port.
    wait_for_device(&mut events, is_up).await;
    assert_eq!(
        lines.desk.restart("nosuch"),
        Err(callpop::devices::desk::RestartError::Unknown(
            "nosuch".into()
        ))
    );

    let m1 = pool.user("m1").await;
    let c = pool
        .campaigns
        .create(&m1, draft("重启后", "{name}您好"))
        .await
        .unwrap();
    pool.campaigns.start(&m1, c.id).await.unwrap();
    let progress = pool.finished(c.id).await;
    assert_eq!(progress.states.get("delivered"), Some(&3), "{progress:?}");
    pool.stop().await;
}

async fn wait_for_device(
    events: &mut tokio::sync::broadcast::Receiver<callpop::event::CallEvent>,
    wanted: impl Fn(&callpop::event::CallEvent) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.recv().await {
                Ok(e) if wanted(&e) => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("the events ended: {e}"),
            }
        }
    })
    .await
    .expect("the device event within 20 s")
}
