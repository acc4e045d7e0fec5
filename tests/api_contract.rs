//! The REST API against its own contract: the OpenAPI document served at
//! `/api/openapi.json` is made from the route table, names every `/api/`
//! route once with the parameters its handler reads, and the API is then
//! fuzzed against it by schemathesis (an independent tool from PyPI that
//! generates requests from the document): no answer may be a server error,
//! a status the document does not list, or a body that breaks its schema.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// Where `./run test` installs schemathesis (a virtualenv of its own).
fn schemathesis() -> std::path::PathBuf {
    std::env::var_os("CALLPOP_SCHEMATHESIS")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/tools/schemathesis/bin/st")
        })
}

#[test]
fn the_document_and_the_routes_agree() {
    let doc = callpop::web::api_document();
    assert!(
        doc.disagreements.is_empty(),
        "routes whose path and handler disagree:\n{}",
        doc.disagreements.join("\n")
    );
    let json: Value = serde_json::from_str(&doc.openapi.to_json().unwrap()).unwrap();
    assert!(json["openapi"].as_str().unwrap().starts_with("3."));
    // Every /api/ route declared is documented, with its method; nothing else.
    let declared: BTreeSet<String> = callpop::web::declared_routes()
        .into_iter()
        .filter(|r| r.split(' ').nth(1).is_some_and(|p| p.starts_with("/api/")))
        .collect();
    let mut documented = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (path, item) in json["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_string()),
                "operation ids are unique: {}",
                op["operationId"]
            );
            // Each {name} of the path is a required path parameter.
            let params: BTreeSet<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let named: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(params, named, "{method} {path}");
        }
    }
    assert_eq!(declared, documented);
    assert!(declared.len() > 100, "{}", declared.len());

    // Typed request bodies: a customer's body names its fields.
    let add = &json["paths"]["/api/customers"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"];
    let name = add.as_str().unwrap().rsplit('/').next().unwrap();
    let schema = &json["components"]["schemas"][name];
    assert!(schema["properties"]["name"].is_object(), "{schema}");
    // Queries are parameters, routes that need a login say so, and every
    // refusal has the error body.
    let history = &json["paths"]["/api/history"]["get"];
    assert!(history["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["in"] == "query"));
    assert!(history["description"]
        .as_str()
        .unwrap()
        .contains("calls:read"));
    assert!(history["security"].is_array());
    assert_eq!(
        history["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    assert!(json["paths"]["/api/login"]["post"]["security"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_one_made_from_the_routes() {
    let s = stack(64).await;
    let (code, _, served) = http(s.addr, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(code, 200);
    let made: Value =
        serde_json::from_str(&callpop::web::api_document().openapi.to_json().unwrap()).unwrap();
    assert_eq!(served, made);
}

/// The demo (`callpop demo`: every part running, simulated boxes and GSM
/// modems ringing and texting meanwhile) on a free port, once it listens.
async fn demo(dir: &std::path::Path) -> (tokio::process::Child, std::net::SocketAddr) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = common::daemon::callpop(dir)
        .arg("--data-dir")
        .arg(dir)
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split('/').next().unwrap().parse().unwrap();
            // Keep reading what it prints, so it never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return (child, addr);
        }
    }
    panic!("the demo stopped before it listened");
}

/// schemathesis against the demo daemon, logged in as its admin (who may
/// use every route): a fixed seed, deterministic generation and a bounded
/// number of examples per operation keep the run reproducible and short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_holds_to_its_contract_under_fuzzing() {
    let st = schemathesis();
    assert!(
        st.exists(),
        "schemathesis is not installed at {} (./run test installs it; or set CALLPOP_SCHEMATHESIS)",
        st.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, addr) = demo(dir.path()).await;
    let (code, admin, _) = http(
        addr,
        "POST",
        "/api/login",
        None,
        Some(serde_json::json!({"username": "admin", "password": callpop::demo::DEMO_PASSWORD})),
    )
    .await;
    assert_eq!(code, 200);
    let admin = admin.expect("a session cookie");
    let report = tempfile::tempdir().unwrap();
    let csrf = callpop::auth::csrf_token(&admin);
    // CALLPOP_FUZZ_EXAMPLES=50 for a longer hunt by hand.
    let examples = std::env::var("CALLPOP_FUZZ_EXAMPLES").unwrap_or_else(|_| "6".into());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(st)
            .arg("run")
            .arg(format!("http://{addr}/api/openapi.json"))
            .args(["--url", &format!("http://{addr}")])
            // One worker: CPython 3.11's `ast.parse` is not safe across
            // threads ("AST constructor recursion depth mismatch"), and
            // hypothesis parses lambdas' sources while it draws.
            .args(["--max-examples", &examples, "--workers", "1"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--seed", "20261206", "--generation-deterministic", "--no-shrink"])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["--request-timeout", "30"])
            // Logging out would end the fuzzer's own session.
            .args(["--exclude-path", "/api/logout"])
            .args(["-H", &format!("Cookie: callpop_session={admin}")])
            .args(["-H", &format!("X-CSRF-Token: {csrf}")])
            .args(["--report", "junit"])
            .arg("--report-dir")
            .arg(report.path())
            .args(["--no-color", "--output-truncate", "true"])
            .env("HOME", dir.path())
            // Its crash cache (.schemathesis/) goes with the run.
            .current_dir(report.path())
            .output()
            .expect("schemathesis runs")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found the API breaking its contract:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It really ran: every operation was tried.
    assert!(text.contains("Tested: "), "{text}");
}
