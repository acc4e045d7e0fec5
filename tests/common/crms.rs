//! Small stand-ins for real CRMs' APIs, answering as their documentation
//! says: EspoCRM's REST API (`GET /api/v1/Contact` with `X-Api-Key` and a
//! `where` filter) and Odoo's JSON-RPC (`object.execute_kw` on
//! `res.partner`). Each knows one contact, 王伟 at +8613812345678.

use axum::extract::Query;
use axum::http::HeaderMap;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;

/// EspoCRM's `GET /api/v1/Contact` as its REST API answers a search.
pub async fn espo_contacts(
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("espo-key") {
        return (axum::http::StatusCode::UNAUTHORIZED, "").into_response();
    }
    let wanted = q.get("where[0][value]").map(String::as_str);
    let asked_right = q.get("where[0][type]").map(String::as_str) == Some("equals")
        && q.get("where[0][attribute]").map(String::as_str) == Some("phoneNumber");
    if !asked_right {
        return (axum::http::StatusCode::BAD_REQUEST, "").into_response();
    }
    let list = if wanted == Some("+8613812345678") {
        json!([{"id": "5f1a2b3c4d", "name": "王伟", "accountName": "华信科技有限公司",
                "assignedUserName": "李强"}])
    } else {
        json!([])
    };
    let total = list.as_array().unwrap().len();
    axum::Json(json!({"total": total, "list": list})).into_response()
}

/// Odoo's `POST /jsonrpc` for `object.execute_kw(db, uid, key, "res.partner",
/// "search_read", [domain], {fields, limit})`, refusing a wrong key as Odoo
/// does (an `error` member with status 200).
pub async fn odoo_jsonrpc(axum::Json(req): axum::Json<Value>) -> axum::Json<Value> {
    let args = &req["params"]["args"];
    let well_formed = req["jsonrpc"] == "2.0"
        && req["params"]["service"] == "object"
        && req["params"]["method"] == "execute_kw"
        && args[0] == "crm"
        && args[1] == 2
        && args[3] == "res.partner"
        && args[4] == "search_read";
    if !well_formed || args[2] != "odoo-key" {
        return axum::Json(json!({"jsonrpc": "2.0", "id": req["id"], "error": {
            "code": 200, "message": "Odoo Server Error",
            "data": {"name": "odoo.exceptions.AccessDenied", "message": "Access Denied"}}}));
    }
    let domain = &args[5][0][0];
    let result = if domain == &json!(["phone_mobile_search", "=", "+8613812345678"]) {
        json!([{"id": 42, "name": "王伟", "parent_name": "华信科技有限公司", "user_id": [7, "李强"]}])
    } else {
        json!([])
    };
    axum::Json(json!({"jsonrpc": "2.0", "id": req["id"], "result": result}))
}

/// Both, on one local port (EspoCRM's key `espo-key`; Odoo's database
/// `crm`, user 2, key `odoo-key`).
pub async fn start() -> SocketAddr {
    let app = axum::Router::new()
        .route("/api/v1/Contact", axum::routing::get(espo_contacts))
        .route("/jsonrpc", axum::routing::post(odoo_jsonrpc));
    super::serve_local(app).await
}
