//! Every page of the app, for every role, in both languages: the visible
//! text (and placeholders, labels and tooltips) of the Chinese pages holds
//! no English word, and the English pages no Chinese, apart from the data
//! the center typed (customer names, usernames, line names).

mod common;

use callpop::sim::script::Action;
use common::browser::Browser;
use common::*;

/// Latin words the Chinese pages may show: the product's name and the
/// names of file formats, keys and its command line (`callpop --help`).
/// "Excel" names the program an export opens in, and "GD" is the prefix
/// of every work order's number (the placeholder shows one).
const LATIN_ALLOWED: &[&str] = &[
    "callpop", "help", "CSV", "XLSX", "ID", "English", "Ctrl", "Enter", "Alt", "T", "R", "N",
    "USB", "Excel", "GD", "JSON",
];

/// Data of the test center, not words of the app.
const DATA: &[&str] = &[
    "admin",
    "sales",
    "support",
    "service",
    "王伟",
    "华信科技有限公司",
    "孙丽 (华信总机)",
    "周杰 (华信总机)",
    "赵敏",
    "中文",
];

/// Everything a person reads on the page now.
/// (The audit log's details are shown as recorded: machine data, left out.)
const VISIBLE_TEXT: &str = "[(() => {
     const raw = [...document.querySelectorAll('.detail, .data')];
     raw.forEach(e => e.style.display = 'none');
     const text = document.body.innerText;
     raw.forEach(e => e.style.display = '');
     return text;
   })(),
   ...[...document.querySelectorAll('[placeholder]')].map(e => e.getAttribute('placeholder')),
   ...[...document.querySelectorAll('[aria-label]')].map(e => e.getAttribute('aria-label')),
   ...[...document.querySelectorAll('[title]:not(.phone)')].map(e => e.getAttribute('title')),
   ...[...document.querySelectorAll('svg text')].map(e => e.textContent)
  ].join('\\n')";

fn foreign_words(text: &str, lang: &str) -> Vec<String> {
    let mut text = text.to_string();
    for d in DATA {
        text = text.replace(d, " ");
    }
    if lang == "zh-CN" {
        text.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
            // identifiers the center chose: agent1, box1, lead1
            .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
            .filter(|w| !LATIN_ALLOWED.contains(w))
            .map(str::to_string)
            .collect()
    } else {
        text.split(|c: char| !('\u{3400}'..='\u{9fff}').contains(&c))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_mixes_the_languages() {
    let mut s = stack(256).await;
    add_user(&s, "qa1", callpop::store::Role::Qa).await;
    add_user(&s, "mk1", callpop::store::Role::Marketer).await;
    // A morning's calls: answered (recorded), missed, and one to score.
    for (port, number, answer) in [(1, "13812345678", true), (2, "02161234567", false)] {
        ring(&mut s.sim, port, number).await;
        if answer {
            s.sim.act(&Action::Answer { port }).await.unwrap();
        }
        s.sim.act(&Action::Hangup { port }).await.unwrap();
    }
    let mut b = Browser::start().await;
    let mut problems = Vec::new();
    let mut walked = 0;
    for lang in ["zh-CN", "en"] {
        for user in ["agent1", "lead1", "qa1", "mk1", "admin"] {
            let token = login(s.addr, user).await;
            let (_, _, me) = http(s.addr, "GET", "/api/me", Some(&token), None).await;
            b.goto(&format!("http://{}/login", s.addr)).await;
            b.eval(&format!(
                "localStorage.clear(); sessionStorage.clear(); localStorage.setItem('lang', '{lang}'); true"
            ))
            .await;
            b.goto(&format!("http://{}/login", s.addr)).await;
            b.wait_for("document.getElementById('login')").await;
            let text = b.eval(VISIBLE_TEXT).await;
            for w in foreign_words(text.as_str().unwrap(), lang) {
                problems.push(format!("{lang} login: {w:?}"));
            }
            b.log_in(user).await;
            b.wait_for("location.pathname !== '/login'").await;
            for page in me["pages"].as_array().unwrap() {
                let page = page.as_str().unwrap();
                b.goto(&format!("http://{}/{page}", s.addr)).await;
                match page {
                    "workspace" => {
                        b.wait_for("document.querySelector('[data-test=conn]')?.dataset.conn === 'connected'")
                            .await;
                        if me["role"] == "agent" {
                            ring(&mut s.sim, 1, "13812345678").await;
                            b.wait_for("document.querySelector('.cards .pop')").await;
                        }
                    }
                    "history" | "recordings" => {
                        b.wait_for(
                            "document.querySelectorAll('[data-test=rows] tbody tr').length > 0",
                        )
                        .await;
                        b.click("[data-test=rows] tbody tr td").await;
                        if page == "recordings" {
                            b.wait_for("document.querySelector('[data-test=player]')")
                                .await;
                        }
                    }
                    _ => b.wait_for(common::browser::PAGE_READY).await,
                }
                let mut text = b.eval(VISIBLE_TEXT).await.as_str().unwrap().to_string();
                if page == "admin" {
                    // Every tab of the console.
                    for tab in common::browser::ADMIN_TABS {
                        b.open_admin_tab(tab).await;
                        text.push('\n');
                        text.push_str(b.eval(VISIBLE_TEXT).await.as_str().unwrap());
                    }
                }
                let text = serde_json::Value::String(text);
                walked += 1;
                for w in foreign_words(text.as_str().unwrap(), lang) {
                    problems.push(format!("{lang} {user} {page}: {w:?}"));
                }
                if page == "workspace" && me["role"] == "agent" {
                    s.sim.act(&Action::Hangup { port: 1 }).await.unwrap();
                }
            }
            b.eval("fetch('/api/logout', { method: 'POST' }).then(() => true)")
                .await;
        }
    }
    assert!(walked >= 34, "walked {walked} pages");
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{problems:#?}");
    b.assert_no_console_errors();
}
