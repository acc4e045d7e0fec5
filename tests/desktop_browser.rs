//! The agent desktop in a real browser (headless Chromium, driven over the
//! DevTools protocol): log in, get a pop from a simulated call, pick one of
//! several customers, fill and save the work order, and find it in the
//! store; then an unknown caller, added as a new customer from the pop.

mod common;

use callpop::sim::script::Action;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message;

/// A headless Chromium and one page of it.
struct Browser {
    _process: tokio::process::Child,
    page: Ws,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut process = tokio::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--lang=zh-CN",
                "--accept-lang=zh-CN",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium is installed (./run test installs it)");
        let mut lines = tokio::io::BufReader::new(process.stderr.take().unwrap()).lines();
        let browser_url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return url.trim().to_string();
                }
            }
            panic!("chromium exited before listening");
        })
        .await
        .expect("chromium starts within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        // The page target's own socket: ws://host:port/devtools/page/<id>.
        let host = browser_url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let (mut browser, _) = tokio_tungstenite::connect_async(&browser_url)
            .await
            .unwrap();
        browser
            .send(Message::Text(
                json!({"id": 1, "method": "Target.getTargets"})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        let target = loop {
            let Some(Ok(Message::Text(t))) = browser.next().await else {
                panic!("no answer from chromium")
            };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == 1 {
                break v["result"]["targetInfos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|t| t["type"] == "page")
                    .expect("a page")["targetId"]
                    .as_str()
                    .unwrap()
                    .to_string();
            }
        };
        let (page, _) =
            tokio_tungstenite::connect_async(format!("ws://{host}/devtools/page/{target}"))
                .await
                .unwrap();
        Browser {
            _process: process,
            page,
            next_id: 1,
            _profile: profile,
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.page
            .send(Message::Text(
                json!({"id": id, "method": method, "params": params})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        loop {
            let Some(Ok(Message::Text(t))) = self.page.next().await else {
                panic!("the page went away")
            };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == id {
                return v;
            }
        }
    }

    /// Evaluates `js` in the page: its value, or the exception it threw.
    async fn try_eval(&mut self, js: &str) -> Result<Value, Value> {
        let r = self
            .call(
                "Runtime.evaluate",
                // A block, so each snippet's `const`s are its own.
                json!({"expression": format!("{{ {js} }}"), "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        match r["result"].get("exceptionDetails") {
            Some(e) => Err(e.clone()),
            None => Ok(r["result"]["result"]["value"].clone()),
        }
    }

    async fn eval(&mut self, js: &str) -> Value {
        self.try_eval(js)
            .await
            .unwrap_or_else(|e| panic!("{js}: {e}"))
    }

    /// Waits until `js` is truthy in the page (10 s at most); until then
    /// it may also throw (the page is still loading).
    async fn wait_for(&mut self, js: &str) {
        for _ in 0..200 {
            let v = self.try_eval(js).await.unwrap_or(Value::Null);
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {js}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_calls_and_saves_work_orders_in_the_browser() {
    let mut s = stack(256).await;
    let mut b = Browser::start().await;
    b.call("Emulation.setLocaleOverride", json!({"locale": "zh-CN"}))
        .await;
    b.call(
        "Page.navigate",
        json!({"url": format!("http://{}/", s.addr)}),
    )
    .await;
    b.wait_for("!document.getElementById('login').hidden").await;
    // Chinese from the browser's language.
    assert_eq!(
        b.eval("document.querySelector('#login h1').textContent")
            .await,
        "坐席登录"
    );
    b.eval(&format!(
        "document.getElementById('username').value = 'agent1';
         document.getElementById('password').value = '{PASSWORD}';
         document.getElementById('login').requestSubmit(); true"
    ))
    .await;
    b.wait_for("document.getElementById('conn').textContent === '已连接'")
        .await;
    b.wait_for("document.getElementById('state').textContent === '就绪'")
        .await;

    // A company switchboard: two customers match, the agent picks one.
    ring(&mut s.sim, 1, "02161234567").await;
    b.wait_for("document.querySelectorAll('.pop .choose').length === 2")
        .await;
    let chosen = b
        .eval("const c = document.querySelectorAll('.pop .choose')[1]; c.click(); Number(c.dataset.id)")
        .await;
    b.wait_for("document.querySelector('.pop .customer') && document.querySelector('.pop .customer').textContent.includes('周杰')").await;
    // The form is prefilled from the chosen customer.
    assert_eq!(
        b.eval("document.querySelector('.pop form.workorder [name=contact]').value")
            .await,
        "周杰 (华信总机)"
    );
    // Saving without a summary shows the field's error; then it saves.
    b.eval("document.querySelector('.pop form.workorder').requestSubmit(); true")
        .await;
    b.wait_for("[...document.querySelectorAll('.pop .field .error')].some(e => e.textContent.includes('问题描述必填'))").await;
    b.eval(
        "const f = document.querySelector('.pop form.workorder');
         f.querySelector('[name=summary]').value = '打印机卡纸';
         f.querySelector('[name=category]').value = 'after_sales';
         f.requestSubmit(); true",
    )
    .await;
    b.wait_for(
        "document.querySelector('.pop form.workorder .notice').textContent.includes('工单已保存')",
    )
    .await;
    let call_id = b.eval("document.querySelector('.pop').id.slice(4)").await;
    let uid = call_id.as_str().unwrap().to_string();
    let orders = s
        .store
        .call(move |st| st.call_work_orders(&uid))
        .await
        .unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].customer_id, chosen.as_i64());
    assert_eq!(orders[0].fields["summary"], "打印机卡纸");
    assert_eq!(orders[0].fields["category"], "after_sales");
    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
    b.wait_for("document.querySelector('.pop .notice').textContent.includes('通话结束')")
        .await;

    // The connection drops; the page reconnects and resumes by itself.
    b.eval("desk.ws.close(); true").await;
    b.wait_for("document.getElementById('conn').textContent === '重连中…'")
        .await;
    b.wait_for("document.getElementById('conn').textContent === '已连接'")
        .await;

    // An unknown caller: the pop offers a new-customer form with the number.
    ring(&mut s.sim, 1, "13700001234").await;
    b.wait_for("document.querySelector('.pop form.new-customer')")
        .await;
    assert_eq!(
        b.eval("document.querySelector('.pop form.new-customer [name=phone]').value")
            .await,
        "13700001234"
    );
    b.eval(
        "const n = document.querySelector('.pop form.new-customer');
         n.querySelector('[name=name]').value = '新客户甲';
         n.requestSubmit(); true",
    )
    .await;
    b.wait_for("document.querySelector('.pop .customer') && document.querySelector('.pop .customer').textContent.includes('新客户甲')").await;
    b.eval(
        "const f = document.querySelector('.pop form.workorder');
         f.querySelector('[name=summary]').value = '咨询价格';
         f.requestSubmit(); true",
    )
    .await;
    b.wait_for(
        "document.querySelector('.pop form.workorder .notice').textContent.includes('工单已保存')",
    )
    .await;
    let call_id = b.eval("document.querySelector('.pop').id.slice(4)").await;
    let uid = call_id.as_str().unwrap().to_string();
    let (orders, customer) = s
        .store
        .call(move |st| {
            let orders = st.call_work_orders(&uid)?;
            let id = orders[0].customer_id.unwrap();
            Ok((orders, st.customer(id)?.unwrap()))
        })
        .await
        .unwrap();
    assert_eq!(orders[0].fields["summary"], "咨询价格");
    assert_eq!(customer.name, "新客户甲");
    assert_eq!(customer.owner.as_deref(), Some("agent1"));
    assert_eq!(customer.phones[0].raw, "13700001234");

    // English on request.
    b.eval("document.getElementById('lang').click(); true")
        .await;
    assert_eq!(
        b.eval("document.getElementById('state').textContent").await,
        "Ready"
    );
}
