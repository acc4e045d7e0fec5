//! The agent desktop page: plain HTML, CSS and one script, built into the
//! binary so the daemon needs no other web server.

use axum::http::header;
use axum::response::IntoResponse;

/// The page.
pub async fn page() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("desktop/index.html"),
    )
}

/// Its script.
pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("desktop/app.js"),
    )
}

/// Its style.
pub async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("desktop/app.css"),
    )
}
