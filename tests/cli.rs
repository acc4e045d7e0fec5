//! The `callpop` binary as an administrator uses it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn callpop(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_callpop"));
    c.current_dir(dir)
        .env_remove("RUST_LOG")
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("xdg"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CALLPOP_") {
            c.env_remove(k);
        }
    }
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run callpop")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_lists_every_subcommand_and_each_has_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(callpop(dir.path()).arg("--help"));
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in [
        "serve",
        "demo",
        "customers",
        "config",
        "profiles",
        "devices",
        "sim",
        "users",
        "forms",
        "lines",
        "modem",
        "sms",
        "tokens",
    ] {
        assert!(help.contains(sub), "--help lacks {sub}: {help}");
    }
    assert!(help.contains("CALLPOP_"), "env vars are explained");
    for sub in [
        &["serve"][..],
        &["demo"],
        &["customers"],
        &["customers", "import"],
        &["customers", "export"],
        &["customers", "lookup"],
        &["config"],
        &["config", "check"],
        &["config", "show"],
        &["profiles", "list"],
        &["profiles", "show"],
        &["profiles", "check"],
        &["devices", "list"],
        &["users", "add"],
        &["users", "passwd"],
        &["users", "list"],
        &["forms", "list"],
        &["forms", "export"],
        &["forms", "import"],
        &["lines", "bind"],
        &["lines", "unbind"],
        &["lines", "bindings"],
        &["sim", "modem"],
        &["modem", "probe"],
        &["devices", "watch"],
        &["sim", "box"],
        &["sms", "send"],
        &["sms", "inbox"],
        &["sms", "status"],
        &["tokens", "create"],
        &["tokens", "list"],
        &["tokens", "revoke"],
    ] {
        let out = run(callpop(dir.path()).args(sub).arg("--help"));
        assert!(out.status.success(), "{sub:?} --help");
        assert!(text(&out.stdout).contains("Usage"), "{sub:?}");
    }
}

#[test]
fn a_bad_config_names_file_line_and_key_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("callpop.toml");
    std::fs::write(&cfg, "[phone]\nregion = \"CN\"\nsuffix_digits = 99\n").unwrap();
    let out = run(callpop(dir.path())
        .args(["--config"])
        .arg(&cfg)
        .args(["config", "check"]));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains(&cfg.display().to_string()), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("phone.suffix_digits"), "{err}");
    assert!(err.contains("between 4 and 15"), "{err}");

    let out = run(callpop(dir.path())
        .env("CALLPOP_SERVER__LISTEN", "not-an-address")
        .args(["config", "check"]));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("CALLPOP_SERVER__LISTEN") && err.contains("server.listen"),
        "{err}"
    );
}

#[test]
fn config_check_checks_the_crm_connectors_as_the_daemon_does() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("callpop.toml");
    let check = |crm: &str| {
        std::fs::write(&cfg, crm).unwrap();
        run(callpop(dir.path())
            .env_remove("MY_CRM_TOKEN")
            .arg("--config")
            .arg(&cfg)
            .args(["config", "check"]))
    };
    for (crm, why) in [
        ("[[crm]]\nconnector = \"generic_rest\"\n", "no such connector"),
        (
            "[[crm]]\nconnector = \"generic-rest\"\n[crm.settings]\nbase_url = \"http://crm\"\ntokn = \"t\"\n",
            "no setting \"tokn\"",
        ),
        (
            "[[crm]]\nconnector = \"generic-rest\"\n[crm.settings]\nbase_url = \"http://crm\"\ntoken = \"${MY_CRM_TOKEN}\"\n",
            "${MY_CRM_TOKEN}, which is not set",
        ),
    ] {
        let out = check(crm);
        assert!(!out.status.success(), "{crm}");
        assert!(text(&out.stderr).contains(why), "{}", text(&out.stderr));
    }
    let out = check("[[crm]]\nconnector = \"espocrm\"\n[crm.settings]\nbase_url = \"http://crm\"\napi_key = \"k\"\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("CRM \"EspoCRM\""),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_documented_example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/callpop.toml");
    let out = run(callpop(dir.path())
        .arg("--config")
        .arg(&example)
        .args(["config", "check"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn flags_win_over_environment_over_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("callpop.toml");
    std::fs::write(
        &cfg,
        "[phone]\nsuffix_digits = 6\n[server]\nlisten = \"127.0.0.1:9000\"\n",
    )
    .unwrap();
    let show = |extra: &[&str], env: &[(&str, &str)]| {
        let mut c = callpop(dir.path());
        c.arg("--config").arg(&cfg);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = run(c.args(["config", "show"]).args(extra));
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert!(show(&[], &[]).contains("suffix_digits = 6"));
    assert!(show(&[], &[("CALLPOP_PHONE__SUFFIX_DIGITS", "7")]).contains("suffix_digits = 7"));
    let both = show(
        &["--set", "phone.suffix_digits=9"],
        &[("CALLPOP_PHONE__SUFFIX_DIGITS", "7")],
    );
    assert!(both.contains("suffix_digits = 9"), "{both}");
    assert!(
        show(&["--db", "/tmp/x.db"], &[("CALLPOP_DB", "/tmp/y.db")]).contains("db = \"/tmp/x.db\"")
    );
}

#[test]
fn import_lookup_and_export_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("in.csv"),
        "姓名,手机,公司\n王伟,138 1234 5678,华信科技\n坏行,abc,\n",
    )
    .unwrap();
    let db = d.join("c.db");
    let out = run(callpop(d)
        .arg("--db")
        .arg(&db)
        .args(["customers", "import", "in.csv"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("in.csv:3: bad number \"abc\""), "{report}");
    assert!(report.contains("1 new"), "{report}");

    let out = run(callpop(d).env("CALLPOP_DB", &db).args([
        "customers",
        "lookup",
        "+86 138-1234-5678",
        "--json",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["query"], "+86 138-1234-5678");
    assert_eq!(v["normalized"], "+8613812345678");
    assert_eq!(v["rule"], "exact");
    assert_eq!(v["matches"][0]["name"], "王伟");
    assert_eq!(v["matches"][0]["company"], "华信科技");
    assert_eq!(v["matches"][0]["phone"], "138 1234 5678");
    assert!(v["matches"][0]["id"].is_i64());

    let out =
        run(callpop(d)
            .arg("--db")
            .arg(&db)
            .args(["customers", "lookup", "Private", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["rule"].as_str(), v["normalized"].is_null()),
        (Some("none"), true)
    );

    for format in ["csv", "xlsx"] {
        let file = d.join(format!("out.{format}"));
        let out = run(callpop(d)
            .arg("--db")
            .arg(&db)
            .args(["customers", "export", "--format", format, "-o"])
            .arg(&file));
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("exported 1 customers"));
        assert!(std::fs::metadata(&file).unwrap().len() > 0);
    }
}

#[test]
fn the_demo_with_its_published_passwords_stays_on_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let out = callpop(dir.path())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only on this machine"), "{err}");
    assert!(!dir.path().join("demo").exists(), "nothing started");
}

#[test]
fn demo_starts_seeds_and_answers_health() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = callpop(dir.path())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref().take(10) {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = rest.split('/').next().map(str::to_string);
            break;
        }
    }
    let addr = addr.expect("demo prints where it listens");
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    // Anyone may ask whether it is up, and learns nothing more.
    assert_eq!(v, serde_json::json!({ "status": "ok" }));
    let store = callpop::store::Store::open(&dir.path().join("demo/callpop.db")).unwrap();
    assert_eq!(store.customers().customer_count().unwrap(), 500);
}

#[test]
fn profiles_list_show_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(callpop(dir.path()).args(["profiles", "list", "--json"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "generic-voice-modem",
            "ht9032-fsk-module",
            "huawei-e1752",
            "quectel",
            "siemens-mc35i",
            "simcom-sim800",
            "text-box-4port",
            "usb-audio-cid-box",
            "wavecom-q24",
            "zte-mf"
        ]
    );
    let out = run(callpop(dir.path()).args(["profiles", "show", "ht9032-fsk-module"]));
    assert!(text(&out.stdout).contains("min_seizure = 10"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\nkind = \"text-box\"\n[[grammar]]\npattern = '(('\nevent = \"ring\"\n",
    )
    .unwrap();
    let out = run(callpop(dir.path()).args(["profiles", "check"]).arg(&bad));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("bad.toml:4: bad pattern"),
        "{}",
        text(&out.stderr)
    );
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware-profiles/text-box-4port.toml");
    let out = run(callpop(dir.path()).args(["profiles", "check"]).arg(&good));
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn devices_watch_shows_a_simulated_box_live() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("calls.txt"),
        "wait host\nring\ncid 13812345678\nanswer\nwait 300ms\nhangup\n",
    )
    .unwrap();
    std::fs::write(
        d.join("callpop.toml"),
        format!(
            "[[device]]\nname = \"box1\"\npath = \"{}\"\nprofile = \"text-box-4port\"\n",
            d.join("tty").display()
        ),
    )
    .unwrap();
    let mut sim = callpop(d)
        .args([
            "sim",
            "box",
            "--profile",
            "text-box-4port",
            "--script",
            "calls.txt",
            "--link",
        ])
        .arg(d.join("tty"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The box waits for `watch` to open it (its init command) before it
    // rings; `watch` waits for the box's port to appear.
    let mut watch = callpop(d)
        .args([
            "--config",
            "callpop.toml",
            "--db",
            "w.db",
            "devices",
            "watch",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Should an event never come, the watchdog ends `watch` and the read.
    let pid = watch.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(30));
        let _ = Command::new("kill").arg(&pid).status();
    });
    let expected = [
        "line:ring",
        "line:caller_id",
        "call:caller_identified",
        "call:answered",
        "line:on_hook",
        "call:ended",
    ];
    let mut seen = Vec::new();
    let mut outcome = None;
    // Line and call events are two streams: their relative order may vary.
    // Nothing here may panic before both children are killed: a `watch`
    // left running would outlive the test.
    for line in BufReader::new(watch.stdout.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            seen.push(format!("not JSON: {line}"));
            continue;
        };
        let kind = v["data"]["type"].as_str().unwrap_or("").to_string();
        if kind == "ended" {
            outcome = Some(v["data"]["outcome"].clone());
        }
        seen.push(format!("{}:{kind}", v["event"].as_str().unwrap_or("")));
        if expected.iter().all(|e| seen.iter().any(|s| s == e)) {
            break;
        }
    }
    let _ = watch.kill();
    let _ = sim.kill();
    let _ = (watch.wait(), sim.wait());
    assert_eq!(outcome, Some(serde_json::json!("answered")), "{seen:?}");
    for expected in [
        "line:ring",
        "line:caller_id",
        "call:caller_identified",
        "call:answered",
        "line:on_hook",
        "call:ended",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "{expected} missing from {seen:?}"
        );
    }
}

/// Users, forms and line bindings from the command line, against a real store.
#[test]
fn users_forms_and_lines_are_administered_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("admin.db");
    let with_stdin = |args: &[&str], input: &str| {
        let mut child = callpop(dir.path())
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = with_stdin(
        &[
            "users",
            "add",
            "agent7",
            "--role",
            "agent",
            "--team",
            "sales",
            "--display-name",
            "小李",
            "--password-stdin",
        ],
        "long-enough\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let short = with_stdin(
        &["users", "add", "x", "--role", "agent", "--password-stdin"],
        "short\n",
    );
    assert!(!short.status.success());
    assert!(
        text(&short.stderr).contains("at least 8"),
        "{}",
        text(&short.stderr)
    );
    let again = with_stdin(
        &["users", "add", "agent7", "--role", "qa", "--password-stdin"],
        "long-enough\n",
    );
    assert!(text(&again.stderr).contains("already exists"));
    let list = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["users", "list"]));
    assert!(
        text(&list.stdout).contains("agent7"),
        "{}",
        text(&list.stdout)
    );
    assert!(text(&list.stdout).contains("小李"));
    // The stored hash checks the password (and is not the password).
    let store = callpop::store::Store::open(&db).unwrap();
    let (_, hash) = store.users().login_user("agent7").unwrap().unwrap();
    let hash = hash.unwrap();
    assert!(callpop::auth::verify_password("long-enough", &hash));
    assert!(!hash.contains("long-enough"));
    drop(store);

    // A form: import, list, export, import the export back.
    let form = dir.path().join("form.toml");
    std::fs::write(&form, callpop::demo::DEMO_FORM).unwrap();
    let out = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["forms", "import"])
        .arg(&form));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["forms", "list"]));
    assert!(
        text(&out.stdout).contains("service"),
        "{}",
        text(&out.stdout)
    );
    let exported = dir.path().join("exported.toml");
    let out = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["forms", "export", "service", "-o"])
        .arg(&exported));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let back: callpop::store::FormDef =
        toml::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    let original: callpop::store::FormDef = toml::from_str(callpop::demo::DEMO_FORM).unwrap();
    assert_eq!(back, original);
    std::fs::write(&form, "key = \"broken\"\nname_zh = \"坏\"\nname_en = \"x\"\n[[field]]\nkey = \"a\"\nlabel_zh = \"a\"\nlabel_en = \"a\"\ntype = \"colour\"\n").unwrap();
    let out = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["forms", "import"])
        .arg(&form));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("line 8"),
        "{}",
        text(&out.stderr)
    );

    // Lines.
    let out = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["lines", "bind", "box1/1", "--agent", "agent7"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["lines", "bind", "box1/2", "--agent", "ghost"]));
    assert!(
        text(&out.stderr).contains("no user \"ghost\""),
        "{}",
        text(&out.stderr)
    );
    let out = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["lines", "bind", "box1/3", "--team", "sales"]));
    assert!(out.status.success());
    let out = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["lines", "bindings"]));
    let listing = text(&out.stdout);
    assert!(
        listing.contains("box1/1") && listing.contains("agent7"),
        "{listing}"
    );
    assert!(listing.contains("team  sales"), "{listing}");
    let out = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["lines", "unbind", "box1/3"]));
    assert!(out.status.success());
    let out = run(callpop(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["lines", "unbind", "box1/3"]));
    assert!(!out.status.success());
}

/// An audio box with no sound to listen to, or given a serial port, is
/// refused with the reason and the fix.
#[test]
fn an_audio_box_without_audio_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    std::fs::write(
        profiles.join("audio.toml"),
        "name = \"usb-audio-box\"\nkind = \"audio-box\"\ndescription = \"a sound card on the line\"\n",
    )
    .unwrap();
    let config = dir.path().join("callpop.toml");
    for (device, expect) in [
        ("", "[[audio]] line = \"audio1/1\""),
        ("path = \"/dev/serial/by-id/usb-x\"\n", "has no serial port"),
    ] {
        std::fs::write(
            &config,
            format!(
                "profile_dir = {:?}\n[[device]]\nname = \"audio1\"\n{device}profile = \"usb-audio-box\"\n",
                profiles.display().to_string()
            ),
        )
        .unwrap();
        let out = run(callpop(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["devices", "watch"]));
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains("audio1") && err.contains(expect), "{err}");
    }
}

/// `callpop sim modem` answers AT commands and takes a message, as a new
/// user would try it with a terminal program.
#[test]
fn sim_modem_answers_at_commands() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let mut sim = callpop(dir.path())
        .args([
            "sim",
            "modem",
            "--profile",
            "quectel",
            "--send-latency-ms",
            "0",
            "--link",
        ])
        .arg(&link)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if link.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut port = tokio_serial::new(link.to_string_lossy(), 115_200)
        .timeout(std::time::Duration::from_millis(200))
        .open()
        .expect("the simulated modem's terminal");
    let mut talk = |bytes: &[u8], until: &str| {
        port.write_all(bytes).unwrap();
        let mut got = String::new();
        let mut buf = [0u8; 256];
        for _ in 0..50 {
            if let Ok(n) = port.read(&mut buf) {
                got.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            if got.contains(until) {
                return got;
            }
        }
        panic!("no {until:?} in {got:?}");
    };
    talk(b"ATE0\r", "OK");
    assert!(talk(b"AT+CSQ\r", "OK").contains("+CSQ: 21,99"));
    talk(b"AT+CMGS=19\r", "> ");
    let answer = talk(b"0011000D91683108108300F00008AA044F60597D\x1a", "OK");
    assert!(answer.contains("+CMGS: 0"), "{answer}");
    assert!(talk(b"AT+NOPE\r", "ERROR").contains("ERROR"));
    drop(port);
    // `callpop modem probe` against it.
    let out = run(callpop(dir.path())
        .args(["modem", "probe", "--profile", "quectel", "--json", "--port"])
        .arg(&link));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["imei"], "867567030512345");
    assert_eq!(info["operator"], "CHINA MOBILE");
    assert_eq!(info["registration"], "registered (home)");
    assert_eq!(info["signal_dbm"], -71);
    assert_eq!(info["smsc"], "+8613800100500");
    assert_eq!(info["sim"], "READY");
    sim.kill().unwrap();
    let _ = sim.wait();
}

/// API tokens from the command line: made by an admin (printed once, the
/// store keeps only its hash), listed, refused to a non-admin and for an
/// unknown scope, revoked.
#[test]
fn api_tokens_are_made_listed_and_revoked_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tokens.db");
    {
        let store = callpop::store::Store::open(&db).unwrap();
        let u = store.users();
        u.add_user("boss", "Boss", callpop::store::Role::Admin, None, None)
            .unwrap();
        u.add_user(
            "crm",
            "CRM",
            callpop::store::Role::Agent,
            Some("sales"),
            None,
        )
        .unwrap();
    }
    let tokens = |args: &[&str]| {
        run(callpop(dir.path())
            .arg("--db")
            .arg(&db)
            .arg("tokens")
            .args(args))
    };
    let out = tokens(&[
        "create",
        "--as",
        "boss",
        "--name",
        "CRM",
        "--user",
        "crm",
        "--scope",
        "customers:read",
        "--scope",
        "dial",
        "--expires",
        "2999-12-31",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    assert!(token.starts_with("cp_"), "{token}");
    assert!(text(&out.stderr).contains("not shown again"));
    {
        let store = callpop::store::Store::open(&db).unwrap();
        let hash = callpop::auth::token_hash(&token);
        let live = store.users().use_token(&hash, 0).unwrap().unwrap();
        let (user, scopes) = (live.user, live.scopes);
        assert_eq!((user.username.as_str(), scopes.len()), ("crm", 2));
    }
    let list = tokens(&["list"]);
    let listed = text(&list.stdout);
    assert!(
        listed.contains("CRM") && listed.contains("live") && !listed.contains(&token),
        "{listed}"
    );
    for (args, says) in [
        (
            &[
                "create", "--as", "crm", "--name", "x", "--user", "crm", "--scope", "dial",
            ][..],
            "not an active admin",
        ),
        (
            &[
                "create", "--as", "boss", "--name", "x", "--user", "crm", "--scope", "root",
            ][..],
            "no scope \"root\"",
        ),
        (&["revoke", "99", "--as", "boss"][..], "no live token 99"),
    ] {
        let out = tokens(args);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = tokens(&["revoke", "1", "--as", "boss"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&tokens(&["list"]).stdout).contains("revoked"));
}
