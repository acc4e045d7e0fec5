//! The web app: one single-page app for every role (`web/`, built by Vite
//! into `web/dist`), embedded in the binary by `build.rs` so the daemon
//! needs no other web server. The app's own routes all answer its
//! `index.html`; a page the user's role may not open answers it with 403
//! (the app then shows "not allowed"), so the server refuses the page as
//! well as its data.

use super::body::Path;
use super::AppState;
use crate::access;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One file of the built app.
pub struct BuiltFile {
    /// Relative to `web/dist`.
    pub path: &'static str,
    pub bytes: &'static [u8],
    /// Gzipped at build time (text files only).
    pub gz: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The built file at `path` (relative to `web/dist`), and its gzipped form.
pub(super) fn built_file(path: &str) -> Option<(&'static [u8], Option<&'static [u8]>)> {
    WEB_ASSETS
        .iter()
        .find(|f| f.path == path)
        .map(|f| (f.bytes, f.gz))
}

/// The built file at `path`, as it is.
fn built(path: &str) -> Option<&'static [u8]> {
    built_file(path).map(|(bytes, _)| bytes)
}

/// Whether the client takes gzip.
pub(super) fn takes_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

/// The media type of a built file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "json" => "application/json",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

/// A page of the app (`/`, `/login`, `/workspace`, …): its `index.html`,
/// with 403 when a logged-in user's role may not open the page.
pub async fn index(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(html) = built("index.html") else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the web app is not built",
        )
            .into_response();
    };
    let mut status = StatusCode::OK;
    if let Some(page) = access::page_at(uri.path()) {
        if let Ok(user) = super::auth::session_user(&state, &headers).await {
            if !page.roles.contains(&user.role) {
                status = StatusCode::FORBIDDEN;
            }
        }
    }
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // A new build names new assets: the page is always asked again.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

/// A built asset (`/assets/…`): its name carries its content's hash, so a
/// browser keeps it for good.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some((bytes, gz)) = built_file(&format!("assets/{file}")) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let cache = [
        (header::CONTENT_TYPE, content_type(&file)),
        (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        (header::VARY, "Accept-Encoding"),
    ];
    match gz.filter(|_| takes_gzip(&headers)) {
        Some(gz) => (cache, [(header::CONTENT_ENCODING, "gzip")], gz).into_response(),
        None => (cache, bytes).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_is_embedded_with_its_assets() {
        let index = std::str::from_utf8(built("index.html").unwrap()).unwrap();
        // Every asset the page names is embedded.
        for name in index.split('"').filter(|s| s.starts_with("/assets/")) {
            assert!(built(&name[1..]).is_some(), "{name} is not embedded");
        }
        // Text assets come gzipped too, and unzip to themselves.
        let BuiltFile {
            path: name,
            bytes,
            gz,
        } = WEB_ASSETS
            .iter()
            .find(|f| f.path.ends_with(".js"))
            .expect("a script");
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(gz.expect("gzipped")),
            &mut plain,
        )
        .unwrap();
        assert_eq!(&plain, bytes, "{name}");
        assert_eq!(
            content_type("assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
    }
}
