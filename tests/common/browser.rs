//! A headless Chromium driven over the DevTools protocol, for the tests
//! of the web pages.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::process::Stdio;
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
        panic!("timed out waiting for {js}");
    }

    /// Logs in on a page's login form (the same on every callpop page).
    pub async fn log_in(&mut self, user: &str) {
        self.eval(&format!(
            "document.getElementById('username').value = '{user}';
             document.getElementById('password').value = '{}';
             document.getElementById('login').requestSubmit(); true",
            super::PASSWORD
        ))
        .await;
    }
}
