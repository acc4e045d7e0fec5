//! Requests from other sites are refused before any handler runs, and
//! every answer tells the browser how the pages may be used.
//!
//! The session cookie is `SameSite=Strict`, but a page on another port of
//! the same host is the *same site* to a browser, so the cookie rides along
//! on its forms and websockets. A browser always names where a request
//! comes from (`Origin`, and `Sec-Fetch-Site` in current browsers), so every
//! request that changes something (any method but GET/HEAD/OPTIONS) and
//! every websocket upgrade must come from callpop's own origin. Programs
//! (the CLI, scripts, integrations) send neither header and are not
//! browsers a third party can drive, so they pass.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What the pages may load and who may frame them: scripts only from
/// callpop itself, no framing (clickjacking), no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Refuses cross-origin writes and websocket upgrades (403 `cross_origin`)
/// and adds the security headers to every answer. The pages of origins
/// named in `[api] allowed_origins` pass only with a token or a desktop
/// ticket: never on the strength of a cookie.
pub async fn same_origin_only(
    State(allowed): State<std::sync::Arc<Vec<String>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let upgrade = request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let by_token = if upgrade {
        super::gate::query_param(request.uri().query(), "ticket").is_some()
    } else {
        super::auth::bearer_token(request.headers()).is_some()
    };
    if (changes || upgrade)
        && !from_own_origin(request.headers())
        && !(by_token && from_allowed_origin(request.headers(), &allowed))
    {
        tracing::warn!(
            method = %request.method(),
            path = request.uri().path(),
            origin = ?request.headers().get(header::ORIGIN),
            "refused a request from another origin"
        );
        let body = axum::Json(serde_json::json!({ "error": {
            "code": "cross_origin",
            "message": "requests that change something must come from callpop's own pages",
        }}));
        return with_security_headers((StatusCode::FORBIDDEN, body).into_response());
    }
    if !from_own_origin(request.headers()) && from_allowed_origin(request.headers(), &allowed) {
        // Another system's page: its token or ticket speaks, never a cookie
        // the browser happens to hold for this host.
        request.headers_mut().remove(header::COOKIE);
    }
    with_security_headers(next.run(request).await)
}

/// Whether a request comes from callpop's own pages, or from a program
/// that is not a browser (no `Origin`, no `Sec-Fetch-Site`).
pub fn from_own_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: typed into the address bar or a bookmark.
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    // Scheme and authority; the authority must be the Host the browser
    // asked this server under.
    origin.split_once("://").is_some_and(|(scheme, authority)| {
        matches!(scheme, "http" | "https") && authority.eq_ignore_ascii_case(host)
    })
}

/// Whether a browser's request comes from a page of one of `allowed`.
pub fn from_allowed_origin(headers: &HeaderMap, allowed: &[String]) -> bool {
    headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|origin| allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)))
}

/// Answers other systems' pages' preflights and lets them read answers:
/// the origins of `[api] allowed_origins`, with a token in the
/// `Authorization` header, never with cookies.
pub fn cors(allowed: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if allowed.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = allowed
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_callpops_own_pages_and_programs_pass() {
        let own = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ];
        assert!(from_own_origin(&headers(&own)));
        assert!(
            from_own_origin(&headers(&[("host", "pbx.example:8080")])),
            "a program"
        );
        assert!(from_own_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ])));
        for foreign in [
            vec![
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:9999"),
            ],
            vec![
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example"),
            ],
            vec![("host", "127.0.0.1:8080"), ("origin", "null")],
            vec![("host", "127.0.0.1:8080"), ("sec-fetch-site", "same-site")],
            vec![("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")],
            vec![("origin", "http://127.0.0.1:8080")],
        ] {
            assert!(!from_own_origin(&headers(&foreign)), "{foreign:?}");
        }
    }
}
