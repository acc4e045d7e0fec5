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

use axum::extract::Request;
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
/// and adds the security headers to every answer.
pub async fn same_origin_only(request: Request, next: Next) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let upgrade = request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if (changes || upgrade) && !from_own_origin(request.headers()) {
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
