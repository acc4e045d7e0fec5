//! API tokens on the whole stack: an admin makes one (shown once, listed
//! without it), another system calls the REST API with it; each scope
//! opens exactly its routes, every other route is refused before its
//! handler; the token reaches and masks as the user it acts as; revoked,
//! expired and disabled-user tokens are refused; all audited.

mod common;

use callpop::access::tokens::{TokenScope, TOKEN_ROUTES};
use callpop::access::{Access, RULES};
use callpop::store::Role;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn make(s: &Stack, admin: &str, body: Value) -> (u16, Value) {
    let (code, _, body) = http(s.addr, "POST", "/api/tokens", Some(admin), Some(body)).await;
    (code, body)
}

async fn token(s: &Stack, admin: &str, user: &str, scopes: &[&str]) -> String {
    let (code, body) = make(
        s,
        admin,
        json!({"name": format!("{user} ({} scopes)", scopes.len()), "user": user, "scopes": scopes}),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    body["token"].as_str().unwrap().to_string()
}

fn names(body: &Value) -> Vec<&str> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_reaches_and_masks_as_its_user_within_its_scopes() {
    let s = stack(64).await;
    add_user(&s, "qa1", Role::Qa).await;
    let [admin, agent1] = login_all(&s, ["admin", "agent1"]).await;

    // Only admins make tokens; bad requests are refused with their codes.
    let body = json!({"name": "CRM", "user": "agent2", "scopes": ["customers:read"]});
    assert_eq!(make(&s, &agent1, body.clone()).await.0, 403);
    for (bad, code) in [
        (
            json!({"name": "", "user": "agent2", "scopes": ["customers:read"]}),
            "token_name",
        ),
        (
            json!({"name": "x", "user": "agent2", "scopes": []}),
            "token_scopes_missing",
        ),
        (
            json!({"name": "x", "user": "agent2", "scopes": ["root"]}),
            "token_scope_unknown",
        ),
        (
            json!({"name": "x", "user": "nobody", "scopes": ["dial"]}),
            "user_not_found",
        ),
        (
            json!({"name": "x", "user": "agent2", "scopes": ["dial"], "expires_at": 1}),
            "token_expiry_past",
        ),
    ] {
        let (status, answer) = make(&s, &admin, bad).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code))
        );
    }
    let crm = token(&s, &admin, "agent2", &["customers:read"]).await;
    assert!(crm.starts_with("cp_") && crm.len() > 40);
    // Listed without the token.
    let (_, _, listed) = http(s.addr, "GET", "/api/tokens", Some(&admin), None).await;
    assert!(!listed.to_string().contains(&crm));
    assert_eq!(listed["tokens"][0]["user"], "agent2");
    assert_eq!(listed["tokens"][0]["prefix"], &crm[..10]);
    assert_eq!(
        listed["scopes"].as_array().unwrap().len(),
        TokenScope::ALL.len()
    );

    // As agent2: their own customer only, numbers whole.
    let (code, body) = http_bearer(s.addr, "GET", "/api/customers", &crm, None).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(names(&body), ["赵敏"]);
    assert_eq!(body["items"][0]["phones"][0]["raw"], "13900001111");
    // A change needs customers:write; the console is closed to tokens.
    let zhao = body["items"][0]["id"].as_i64().unwrap();
    let (code, body) = http_bearer(
        s.addr,
        "PUT",
        &format!("/api/customers/{zhao}"),
        &crm,
        Some(json!({"name": "赵敏", "phones": [{"number": "13900001111"}]})),
    )
    .await;
    assert_eq!(
        (
            code,
            body["error"]["code"].as_str(),
            body["error"]["params"]["needs"].as_str()
        ),
        (403, Some("token_scope"), Some("customers:write"))
    );
    let root = token(
        &s,
        &admin,
        "admin",
        &[
            "customers:read",
            "customers:write",
            "calls:read",
            "workorders:write",
            "dial",
            "webhooks:admin",
        ],
    )
    .await;
    let (code, body) = http_bearer(s.addr, "GET", "/api/users", &root, None).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("token_scope"))
    );
    // With write, the edit lands and is audited under the token's user.
    let writer = token(&s, &admin, "agent2", &["customers:write"]).await;
    let (code, body) = http_bearer(
        s.addr,
        "PUT",
        &format!("/api/customers/{zhao}"),
        &writer,
        Some(json!({"name": "赵敏", "company": "远大集团", "phones": [{"number": "13900001111"}]})),
    )
    .await;
    assert_eq!(code, 200, "{body}");

    // As QA: everyone, numbers masked; fragments refused as for QA.
    let qa = token(&s, &admin, "qa1", &["customers:read"]).await;
    let (_, body) = http_bearer(s.addr, "GET", "/api/customers?name=%E8%B5%B5", &qa, None).await;
    assert_eq!(body["items"][0]["phones"][0]["raw"], "139****1111");
    let (code, body) = http_bearer(s.addr, "GET", "/api/customers?number=0000", &qa, None).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("number_incomplete"))
    );

    // Revoked: refused at once.
    let id = listed["tokens"][0]["id"].as_i64().unwrap();
    assert_eq!(
        status(
            s.addr,
            "DELETE",
            &format!("/api/tokens/{id}"),
            Some(&admin),
            None
        )
        .await,
        204
    );
    let (code, body) = http_bearer(s.addr, "GET", "/api/customers", &crm, None).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (401, Some("token_invalid"))
    );
    assert_eq!(
        status(
            s.addr,
            "DELETE",
            &format!("/api/tokens/{id}"),
            Some(&admin),
            None
        )
        .await,
        404
    );
    // A garbage token and a token of a disabled user are refused alike.
    let (code, _) = http_bearer(s.addr, "GET", "/api/customers", "cp_nonsense", None).await;
    assert_eq!(code, 401);
    disable_user(s.addr, &admin, "agent2", "agent", Some("sales")).await;
    let (code, _) = http_bearer(s.addr, "GET", "/api/customers", &writer, None).await;
    assert_eq!(code, 401);

    // Expiring: works until the moment, then refused (waited for, not slept).
    let soon = callpop::store::now_ms() + 1_500;
    let (code, made) = make(
        &s,
        &admin,
        json!({"name": "short", "user": "admin", "scopes": ["customers:read"], "expires_at": soon}),
    )
    .await;
    assert_eq!(code, 201);
    let short = made["token"].as_str().unwrap().to_string();
    let (code, _) = http_bearer(s.addr, "GET", "/api/customers", &short, None).await;
    assert_eq!(code, 200);
    tokio::time::timeout(Duration::from_secs(30), async {
        while http_bearer(s.addr, "GET", "/api/customers", &short, None)
            .await
            .0
            != 401
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the token expires");

    let (_, _, audit) = http(
        s.addr,
        "GET",
        "/api/audit?action=token.",
        Some(&admin),
        None,
    )
    .await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"token.create") && actions.contains(&"token.revoke"));
    let (_, _, audit) = http(
        s.addr,
        "GET",
        "/api/audit?action=customer.update",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(audit["entries"][0]["actor"], "agent2", "{audit}");
    // ... and names the token it came with: an integration's change is told
    // from the person's own.
    let remote = audit["entries"][0]["remote_addr"]
        .as_str()
        .unwrap_or_default();
    assert!(
        remote.starts_with("127.0.0.1 (API token #") && remote.ends_with(" agent2 (1 scopes))"),
        "{audit}"
    );
}

/// The route table, walked: a token of one scope (acting as an admin, who
/// may use every route) passes the door on exactly its scope's routes and
/// is refused `token_scope` on every other one, before any handler runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scope_opens_exactly_its_routes() {
    let s = stack(64).await;
    let [admin] = login_all(&s, ["admin"]).await;
    for scope in TokenScope::ALL {
        let t = token(&s, &admin, "admin", &[scope.as_str()]).await;
        for rule in RULES {
            if rule.access == Access::Public {
                continue;
            }
            let Some((method, route)) = rule.action.split_once(' ') else {
                continue;
            };
            if !route.starts_with("/api/") {
                continue; // websockets: closed to tokens, and not REST
            }
            let path = route
                .split('/')
                .map(|p| if p.starts_with('{') { "1" } else { p })
                .collect::<Vec<_>>()
                .join("/");
            let body = (method != "GET").then(|| json!({}));
            let (code, answer) = http_bearer(s.addr, method, &path, &t, body).await;
            let refused = code == 403 && answer["error"]["code"] == "token_scope";
            let opened = TOKEN_ROUTES
                .iter()
                .any(|(a, sc)| *a == rule.action && *sc == scope);
            assert_eq!(
                !refused,
                opened,
                "{} with {}: {code} {answer}",
                rule.action,
                scope.as_str()
            );
            assert_ne!(code, 401, "{}: {answer}", rule.action);
        }
    }
}
