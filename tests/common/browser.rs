//! A headless Chromium driven over the DevTools protocol, for the tests
//! of the web pages.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message;

use super::Ws;

/// A headless Chromium and one page of it.
pub struct Browser {
    _process: tokio::process::Child,
    page: Ws,
    next_id: u64,
    _profile: tempfile::TempDir,
    /// Errors the page logged or threw (with `Runtime` enabled).
    pub console_errors: Vec<String>,
    /// The last lines chromium wrote to stderr.
    said: Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
}

impl Browser {
    pub async fn start() -> Browser {
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
                "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1440,900",
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
        // Chromium's last words, for when the page goes away.
        let said = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let keep = said.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut said = keep.lock().unwrap();
                if said.len() == 30 {
                    said.pop_front();
                }
                said.push_back(line);
            }
        });
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
        let mut b = Browser {
            _process: process,
            page,
            next_id: 1,
            _profile: profile,
            console_errors: Vec::new(),
            said,
        };
        b.call("Runtime.enable", json!({})).await;
        b
    }

    pub async fn call(&mut self, method: &str, params: Value) -> Value {
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
            let next = self.page.next().await;
            let Some(Ok(Message::Text(t))) = next else {
                let said: Vec<String> = self.said.lock().unwrap().iter().cloned().collect();
                panic!(
                    "the page went away ({next:?}); chromium said:\n{}",
                    said.join("\n")
                )
            };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == id {
                return v;
            }
            self.note_error(&v);
        }
    }

    /// Keeps an error the page logged or threw.
    fn note_error(&mut self, event: &Value) {
        let p = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.exceptionThrown") => self.console_errors.push(format!(
                "{} {}",
                p["exceptionDetails"]["text"], p["exceptionDetails"]["exception"]["description"]
            )),
            Some("Runtime.consoleAPICalled") if p["type"] == "error" => {
                self.console_errors.push(p["args"].to_string())
            }
            _ => {}
        }
    }

    /// Fails when the page logged or threw an error so far.
    pub fn assert_no_console_errors(&self) {
        assert!(
            self.console_errors.is_empty(),
            "the page logged errors: {:#?}",
            self.console_errors
        );
    }

    /// Sets the window's size (CSS pixels).
    pub async fn resize(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    }

    /// Saves what the page shows now as a PNG.
    pub async fn screenshot(&mut self, path: &std::path::Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let data = shot["result"]["data"].as_str().expect("a screenshot");
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Opens `url` in the page.
    pub async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
    }

    /// Types `text` into the element `selector` as a person would: focus
    /// it, select what it holds, and insert the text (input events and all).
    pub async fn fill(&mut self, selector: &str, text: &str) {
        self.wait_for(&format!("document.querySelector({selector:?})"))
            .await;
        self.eval(&format!(
            "const e = document.querySelector({selector:?}); e.focus(); e.select && e.select(); true"
        ))
        .await;
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Clicks the element `selector` (waiting for it first).
    pub async fn click(&mut self, selector: &str) {
        self.wait_for(&format!("document.querySelector({selector:?})"))
            .await;
        self.eval(&format!(
            "document.querySelector({selector:?}).click(); true"
        ))
        .await;
    }

    /// The visible text of the element `selector` ("" when there is none).
    pub async fn text(&mut self, selector: &str) -> String {
        self.eval(&format!(
            "const e = document.querySelector({selector:?}); e ? e.innerText.trim() : ''"
        ))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Evaluates `js` in the page: its value, or the exception it threw.
    pub async fn try_eval(&mut self, js: &str) -> Result<Value, Value> {
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

    pub async fn eval(&mut self, js: &str) -> Value {
        self.try_eval(js)
            .await
            .unwrap_or_else(|e| panic!("{js}: {e}"))
    }

    /// Waits until `js` is truthy in the page (10 s at most); until then
    /// it may also throw (the page is still loading).
    pub async fn wait_for(&mut self, js: &str) {
        for _ in 0..200 {
            let v = self.try_eval(js).await.unwrap_or(Value::Null);
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let seen = self
            .try_eval("document.body ? document.body.innerText.slice(0, 3000) : ''")
            .await
            .unwrap_or_default();
        panic!(
            "timed out waiting for {js}\nthe page shows:\n{}\nerrors: {:#?}",
            seen.as_str().unwrap_or_default(),
            self.console_errors
        );
    }

    /// Picks the option whose text contains `text` in an Element Plus select.
    pub async fn pick(&mut self, select: &str, text: &str) {
        self.click(&format!("{select} .el-select__wrapper")).await;
        let option = format!(
            "[...document.querySelectorAll('.el-select-dropdown__item')].find(o => o.offsetParent && o.innerText.includes('{text}'))"
        );
        self.wait_for(&option).await;
        self.eval(&format!("{option}.click(); true")).await;
    }

    /// Opens a tab of the admin console and waits for its content.
    pub async fn open_admin_tab(&mut self, tab: &str) {
        self.click(&format!("#tab-{tab}")).await;
        // The tab stays chosen (the address keeps it) and shows its content.
        self.wait_for(&format!(
            "document.querySelector('#tab-{tab}')?.classList.contains('is-active') && new URLSearchParams(location.search).get('tab') === '{tab}' && document.querySelector('#pane-{tab}')?.innerText.length > 0"
        ))
        .await;
    }

    /// Answers "yes" to the confirmation box that is opening.
    pub async fn confirm(&mut self) {
        self.wait_for("document.querySelector('.el-message-box')?.offsetParent")
            .await;
        self.click(".el-message-box__btns .el-button--primary")
            .await;
    }

    /// Opens the app at `addr`, logs `user` in and waits until they have left
    /// the login page (for the page their role lands on).
    pub async fn open_as(&mut self, addr: std::net::SocketAddr, user: &str) {
        self.goto(&format!("http://{addr}/")).await;
        self.wait_for("document.getElementById('login')").await;
        self.log_in(user).await;
        self.wait_for("location.pathname !== '/login'").await;
    }

    /// Logs in on a page's login form (the same ids on every callpop page).
    pub async fn log_in(&mut self, user: &str) {
        self.fill("#username", user).await;
        self.fill("#password", super::PASSWORD).await;
        self.eval("document.getElementById('login').requestSubmit(); true")
            .await;
    }
}

/// A condition (JS) true once the app's page at the current path shows its
/// data: the workspace connected with the agent's state, the reports with
/// table and charts, the wallboard with a picture, the SMS page live.
pub const PAGE_READY: &str = "(() => { const p = location.pathname; const q = (s) => document.querySelector(s);
  if (p === '/workspace') return q('[data-test=conn]')?.dataset.conn === 'connected' && (!q('[data-test=state]') || q('[data-test=state]').dataset.state !== 'offline');
  if (p === '/reports') return !!(q('[data-test=chart-totals] svg path') || q('[data-test=error]'));
  if (p === '/wallboard') return Number(q('.wallboard')?.dataset.updates) >= 1;
  if (p === '/sms') return q('[data-test=live]')?.classList.contains('el-tag--success');
  if (p === '/workorders') return q('.orders')?.dataset.state === 'ready';
  return true; })()";

/// The admin console's tabs after the first (users), as the page names them.
pub const ADMIN_TABS: [&str; 15] = [
    "teams",
    "lines",
    "devices",
    "profiles",
    "forms",
    "customer_fields",
    "call_blacklist",
    "tokens",
    "api",
    "webhooks",
    "robots",
    "crm",
    "sms",
    "retention",
    "audit",
];
