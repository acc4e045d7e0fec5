//! Sample data for the demo and the benchmarks: plausible Chinese customers
//! with mobiles, landlines in several cities, 400 numbers, shared company
//! switchboards and tags. Deterministic, so a run can be repeated.

use crate::phone::Normalizer;
use crate::store::{NewCustomer, NewPhone, Store, StoreError};

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "晨", "浩然", "子涵", "欣怡", "宇轩",
];
const COMPANIES: &[&str] = &[
    "华信科技有限公司",
    "东方贸易有限公司",
    "新世纪物流有限公司",
    "鑫源建材有限公司",
    "金桥电子有限公司",
    "恒达机械有限公司",
    "瑞丰食品有限公司",
    "长城软件有限公司",
];
const CITIES: &[(&str, &str)] = &[
    ("010", "北京"),
    ("021", "上海"),
    ("020", "广州"),
    ("0755", "深圳"),
    ("0571", "杭州"),
    ("028", "成都"),
    ("027", "武汉"),
    ("025", "南京"),
];
const MOBILE_PREFIXES: &[&str] = &[
    "138", "139", "135", "137", "150", "158", "186", "188", "177", "199", "131", "153",
];
const TAGS: &[&str] = &["VIP", "新客户", "经销商", "老客户", "投诉"];
const LEVELS: &[&str] = &["A", "B", "C"];

/// A tiny deterministic generator (SplitMix64): sample data needs no crypto.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// One generated customer, as a spreadsheet row would hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleCustomer {
    pub name: String,
    pub company: String,
    /// Raw numbers as people type them: `138 1234 5678`, `(0755)8601-3388`.
    pub phones: Vec<String>,
    pub tags: Vec<String>,
    pub city: String,
    pub level: String,
}

/// An endless, repeatable stream of sample customers.
pub struct SampleCustomers {
    rng: SplitMix,
}

impl SampleCustomers {
    pub fn new(seed: u64) -> Self {
        SampleCustomers {
            rng: SplitMix::new(seed),
        }
    }
}

impl Iterator for SampleCustomers {
    type Item = SampleCustomer;
    fn next(&mut self) -> Option<SampleCustomer> {
        let r = &mut self.rng;
        let name = format!("{}{}", r.pick(SURNAMES), r.pick(GIVEN));
        let (area, city) = CITIES[r.below(CITIES.len())];
        let mobile = format!("{}{}", r.pick(MOBILE_PREFIXES), r.digits(8));
        let mut phones = vec![match r.below(3) {
            0 => mobile.clone(),
            1 => format!("{} {} {}", &mobile[..3], &mobile[3..7], &mobile[7..]),
            _ => format!("+86{mobile}"),
        }];
        let company = if r.below(2) == 0 {
            let landline = format!("{}{}", 2 + r.below(7), r.digits(7));
            phones.push(match r.below(2) {
                0 => format!("{area}-{landline}"),
                _ => format!("({area}){}-{}", &landline[..4], &landline[4..]),
            });
            r.pick(COMPANIES).to_string()
        } else {
            String::new()
        };
        if r.below(20) == 0 {
            phones.push(format!("400{}", r.digits(7)));
        }
        let tags = if r.below(3) == 0 {
            vec![r.pick(TAGS).to_string()]
        } else {
            Vec::new()
        };
        Some(SampleCustomer {
            name,
            company,
            phones,
            tags,
            city: city.to_string(),
            level: r.pick(LEVELS).to_string(),
        })
    }
}

impl SampleCustomer {
    /// Turns the sample into a storable customer; numbers the normaliser
    /// rejects are left out.
    pub fn to_new_customer(&self, normalizer: &Normalizer) -> NewCustomer {
        let mut custom = serde_json::Map::new();
        custom.insert("城市".into(), self.city.clone().into());
        custom.insert("客户等级".into(), self.level.clone().into());
        NewCustomer {
            name: self.name.clone(),
            company: self.company.clone(),
            owner_user_id: None,
            tags: self.tags.clone(),
            custom_fields: custom,
            phones: self
                .phones
                .iter()
                .filter_map(|p| normalizer.normalize(p).ok())
                .map(|number| NewPhone {
                    number,
                    label: None,
                })
                .collect(),
        }
    }
}

/// Fills an empty store with `count` sample customers (a store that already
/// has customers is left alone). Returns how many were added.
pub fn seed_customers(
    store: &Store,
    normalizer: &Normalizer,
    count: usize,
) -> Result<usize, StoreError> {
    if store.customers().customer_count()? > 0 {
        return Ok(0);
    }
    store.in_transaction(|s| {
        for sample in SampleCustomers::new(7).take(count) {
            s.customers()
                .upsert_customer(&sample.to_new_customer(normalizer))?;
        }
        Ok::<_, StoreError>(())
    })?;
    Ok(count)
}

/// The demo's logins: (username, display name, role, team). All share
/// [`DEMO_PASSWORD`].
pub const DEMO_USERS: &[(&str, &str, crate::store::Role, Option<&str>)] = &[
    ("agent1", "王芳", crate::store::Role::Agent, Some("sales")),
    ("agent2", "李强", crate::store::Role::Agent, Some("sales")),
    (
        "lead1",
        "张经理",
        crate::store::Role::TeamLead,
        Some("sales"),
    ),
    ("qa1", "质检员", crate::store::Role::Qa, None),
    ("marketer1", "市场部", crate::store::Role::Marketer, None),
    ("admin", "管理员", crate::store::Role::Admin, None),
];

/// The password of every demo login (never use the demo in production).
pub const DEMO_PASSWORD: &str = "demo1234";

/// The demo's work-order form, as its TOML would be imported by `callpop forms import`.
pub const DEMO_FORM: &str = r#"
key = "service"
name_zh = "客户服务工单"
name_en = "Service request"

[[field]]
key = "category"
label_zh = "类别"
label_en = "Category"
type = "enum"
required = true
default = "inquiry"
options = [
  { value = "inquiry", label_zh = "咨询", label_en = "Inquiry" },
  { value = "complaint", label_zh = "投诉", label_en = "Complaint" },
  { value = "after_sales", label_zh = "售后", label_en = "After-sales" },
  { value = "order", label_zh = "订单", label_en = "Order" },
]

[[field]]
key = "contact"
label_zh = "联系人"
label_en = "Contact"
type = "text"
required = true
prefill_from = "name"

[[field]]
key = "company"
label_zh = "公司"
label_en = "Company"
type = "text"
prefill_from = "company"

[[field]]
key = "phone"
label_zh = "联系电话"
label_en = "Phone"
type = "phone"
prefill_from = "phone"

[[field]]
key = "summary"
label_zh = "问题描述"
label_en = "Summary"
type = "textarea"
required = true

[[field]]
key = "priority"
label_zh = "优先级"
label_en = "Priority"
type = "enum"
default = "normal"
options = [
  { value = "normal", label_zh = "普通", label_en = "Normal" },
  { value = "urgent", label_zh = "紧急", label_en = "Urgent" },
]

[[field]]
key = "follow_up"
label_zh = "回访日期"
label_en = "Follow-up date"
type = "date"
follow_up = true
"#;

/// Adds the demo logins, form and line bindings that are missing; returns
/// the logins added.
pub fn seed_desk(store: &Store, lines: &[(&str, crate::store::Binding)]) -> anyhow::Result<usize> {
    let mut added = 0;
    for (name, display, role, team) in DEMO_USERS {
        if store.users().user_by_name(name)?.is_none() {
            let hash = crate::auth::hash_password(DEMO_PASSWORD)?;
            store
                .users()
                .add_user(name, display, *role, *team, Some(&hash))?;
            added += 1;
        }
    }
    if store.workorders().form("service")?.is_none() {
        let form: crate::store::FormDef = toml::from_str(DEMO_FORM)?;
        store.workorders().put_form(&form)?;
    }
    for (line, binding) in lines {
        store.agents().bind_line(line, binding)?;
    }
    Ok(added)
}

/// Plays calls on a simulated box forever, on every port of `ports` at
/// once: on each, a call every `interval` seconds or so (the first within a
/// few seconds), from a sample customer's number (with some unknown numbers
/// and private callers), two in three answered.
pub async fn place_random_calls(
    sim: crate::sim::BoxSim,
    ports: &[u8],
    interval: f64,
    seed: u64,
) -> std::io::Result<()> {
    let sim = std::sync::Arc::new(tokio::sync::Mutex::new(sim));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, &port) in ports.iter().enumerate() {
        let sim = sim.clone();
        tasks.spawn(calls_on_port(
            sim,
            port,
            interval,
            seed.wrapping_add(i as u64),
        ));
    }
    match tasks.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(e)) => Err(std::io::Error::other(e)),
        None => Ok(()),
    }
}

async fn calls_on_port(
    sim: std::sync::Arc<tokio::sync::Mutex<crate::sim::BoxSim>>,
    port: u8,
    interval: f64,
    seed: u64,
) -> std::io::Result<()> {
    use crate::sim::script::Action;
    use std::time::Duration;
    let mut rng = SplitMix::new(seed);
    let numbers: Vec<String> = SampleCustomers::new(7)
        .take(50)
        .map(|c| c.phones[0].replace(' ', ""))
        .collect();
    let mut first = true;
    loop {
        let wait = if first {
            Duration::from_secs(2 + rng.below(5) as u64)
        } else {
            Duration::from_secs_f64(interval * (0.5 + rng.below(100) as f64 / 100.0))
        };
        first = false;
        let number = match rng.below(10) {
            0 => "P".to_string(),
            1 => format!("1390000{:04}", rng.below(10_000)),
            _ => numbers[rng.below(numbers.len())].clone(),
        };
        let ring = Action::Ring { port };
        let mut call = vec![
            Action::Wait(wait),
            ring.clone(),
            Action::Cid {
                port,
                number,
                name: None,
            },
            Action::Wait(Duration::from_secs(3)),
            ring.clone(),
            Action::Wait(Duration::from_secs(3)),
            ring.clone(),
        ];
        if rng.below(3) > 0 {
            call.extend([
                Action::Answer { port },
                Action::Wait(Duration::from_secs(10 + rng.below(20) as u64)),
                Action::Hangup { port },
            ]);
        } else {
            for _ in 0..3 {
                call.extend([Action::Wait(Duration::from_secs(3)), ring.clone()]);
            }
        }
        for action in &call {
            match action {
                Action::Wait(d) => tokio::time::sleep(*d).await,
                other => {
                    sim.lock().await.act(other).await?;
                }
            }
        }
    }
}

/// Writes the demo lines' audio: a few seconds of a tune in the telephone
/// band, looped by the demo so every simulated call has something to
/// record and play back.
pub fn write_demo_audio(path: &std::path::Path) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    // 茉莉花's opening phrase, a note every 400 ms.
    let notes = [
        659.3, 659.3, 784.0, 880.0, 1046.5, 1046.5, 880.0, 784.0, 784.0, 880.0, 784.0, 0.0,
    ];
    for f in notes {
        let n = 3200;
        for i in 0..n {
            let t = f64::from(i) / 8000.0;
            let envelope = (f64::from(i.min(n - i)) / 400.0).min(1.0);
            let s = 9000.0 * envelope * (2.0 * std::f64::consts::PI * f * t).sin();
            w.write_sample(s as i16)?;
        }
    }
    w.finalize()
}

/// The demo's SMS on call events: what a center would write.
pub fn after_call_texts(c: &mut crate::config::AfterCallConfig) {
    if c.apology.is_empty() {
        c.apology = "{name}您好，很抱歉刚才未能接听您的来电，我们会尽快给您回电。".into();
        c.apology_after_secs = 120;
    }
    if c.receipt.is_empty() {
        c.receipt = "您的工单{work_order}已受理，我们会尽快处理，感谢来电。".into();
    }
    if c.survey.is_empty() {
        c.survey = "请回复1-5为{agent}本次服务评分（5为非常满意），感谢您的来电。".into();
    }
}

/// The demo's callers answer the satisfaction surveys the simulated modems
/// carry: most within a minute with 4 or 5, some lower, a few never.
pub async fn answer_surveys(modems: Vec<crate::sim::modem::ModemSim>, seed: u64) {
    use std::time::Duration;
    let mut rng = SplitMix::new(seed);
    let mut seen = vec![0usize; modems.len()];
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        for (m, seen) in modems.iter().zip(seen.iter_mut()) {
            let sent = m.sent();
            for part in sent.iter().skip(*seen) {
                if !part.text.contains("服务评分") || rng.below(5) == 0 {
                    continue;
                }
                let score = match rng.below(10) {
                    0 => "2",
                    1 | 2 => "3",
                    3..=5 => "4",
                    6 => "５",
                    _ => "5",
                };
                m.receive(&part.to, score).await;
            }
            *seen = sent.len();
        }
    }
}
