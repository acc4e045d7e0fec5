//! Login, logout and the session check every protected route goes through.

use super::AppState;
use crate::auth::throttle::{Policy, Throttle, Verdict};
use crate::store::{AuditEntry, User};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The cookie that carries the session token.
pub const SESSION_COOKIE: &str = "callpop_session";

/// An API error: a status, a stable code, the parameters the page words
/// it with (its own language), and a message for logs and scripts.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub params: Value,
}

impl ApiError {
    /// An error without parameters.
    pub fn new(status: StatusCode, code: &'static str, message: String) -> ApiError {
        ApiError {
            status,
            code,
            message,
            params: Value::Object(Default::default()),
        }
    }

    /// The same, with what the page needs to word it (`{"field": "to"}`).
    pub fn with(mut self, params: Value) -> ApiError {
        self.params = params;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(super::openapi::ErrorBody {
                error: super::openapi::ErrorDetail {
                    code: self.code,
                    message: &self.message,
                    params: &self.params,
                },
            }),
        )
            .into_response()
    }
}

impl From<crate::domain::Refusal> for ApiError {
    fn from(r: crate::domain::Refusal) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, r.code, r.message).with(r.params)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Invalid(m) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid", m)
            }
            // The database's own words stay in the log: the page says what
            // the user can do.
            other => {
                tracing::error!(error = %other, "a request failed in the store");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the database cannot do this just now (is the disk full?); try again".into(),
                )
            }
        }
    }
}

/// The logged-in user of a request and the scope the access table grants
/// them for it ([`super::gate`] checked both before the handler runs), and
/// the API token the request came with, if one did (audit entries name it).
pub struct CurrentUser(pub User, pub crate::store::Scope, pub Option<TokenLabel>);

/// Which API token a request came with: its id and name.
#[derive(Debug, Clone)]
pub struct TokenLabel {
    pub id: i64,
    pub name: String,
}

/// Who makes a change, owned (for a closure on the store thread): the user
/// and the address the request came from; [`Who::actor`] is what the
/// store's audited changes take.
#[derive(Debug, Clone)]
pub struct Who {
    user: User,
    remote: String,
}

impl Who {
    /// The store's view of who acts.
    pub fn actor(&self) -> crate::store::Actor<'_> {
        crate::store::Actor {
            user: &self.user,
            remote_addr: Some(&self.remote),
        }
    }
}

impl CurrentUser {
    /// Who makes this request's change, from `remote`.
    pub fn who(&self, remote: std::net::SocketAddr) -> Who {
        // Where a change came from: the address, and for another system's
        // request the token it used, so an audit entry tells a person's
        // change from an integration's acting as them.
        let remote = match &self.2 {
            Some(t) => format!("{} (API token #{} {})", remote.ip(), t.id, t.name),
            None => remote.ip().to_string(),
        };
        Who {
            user: self.0.clone(),
            remote,
        }
    }

    /// Whose objects the user may reach with this request (the access
    /// table's reach for their role).
    pub fn scope(&self) -> &crate::store::Scope {
        &self.1
    }

    /// Whether the table gives this request everything (admins, QA).
    pub fn reaches_all(&self) -> bool {
        self.1 == crate::store::Scope::All
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        match parts.extensions.get::<super::gate::Granted>() {
            Some(g) => Ok(CurrentUser(
                g.user.clone(),
                g.scope.clone(),
                g.token.clone(),
            )),
            // Only a public route lacks a grant, and none asks for a user.
            None => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no_access_rule",
                "this route asks for a user but is public in the access table".into(),
            )),
        }
    }
}

/// The user of the session the request's cookie names (marked used), or
/// 401 when there is none, it expired or it sat idle too long.
pub async fn session_user(state: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    let token = session_token(headers).ok_or_else(unauthorized)?;
    use_session(state, crate::auth::token_hash(&token))
        .await?
        .ok_or_else(unauthorized)
}

/// The token of an `Authorization: Bearer …` header (another system's
/// request).
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = value.trim().split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The user an API token acts as, when the token is live and its scopes
/// open `action`: 401 `token_invalid` for an unknown, revoked or expired
/// token (or a disabled user), 403 `token_scope` for a route its scopes
/// do not open.
pub async fn token_user(
    state: &AppState,
    token: &str,
    action: &str,
) -> Result<crate::store::LiveToken, ApiError> {
    let hash = crate::auth::token_hash(token);
    let found = state
        .store
        .users()
        .call(move |s| s.use_token(&hash, crate::store::now_ms()))
        .await?;
    let Some(live) = found else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_invalid",
            "this API token is unknown, revoked or expired".into(),
        ));
    };
    if !crate::access::tokens::token_may(action, &live.scopes) {
        let needed = crate::access::tokens::scope_of(action).map(|s| s.as_str());
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "token_scope",
            match needed {
                Some(s) => format!("{action} needs the token scope {s}"),
                None => format!("{action} is not open to API tokens"),
            },
        )
        .with(json!({ "action": action, "needs": needed })));
    }
    Ok(live)
}

/// The user called `name`, unless there is none or they are disabled.
pub async fn active_user(state: &AppState, name: &str) -> Result<Option<User>, ApiError> {
    let name = name.to_string();
    Ok(state
        .store
        .users()
        .call(move |u| u.user_by_name(&name))
        .await?
        .filter(|u| !u.disabled))
}

/// 'no active user': the code `user_not_found` with the name, at `status`.
pub fn no_active_user(status: StatusCode, name: &str) -> ApiError {
    ApiError::new(status, "user_not_found", format!("no active user {name:?}"))
        .with(json!({ "name": name }))
}

/// Marks the session `token_hash` used now; its user while it lives.
pub async fn use_session(state: &AppState, token_hash: String) -> Result<Option<User>, ApiError> {
    let idle_ms = (state.settings.session_idle_minutes * 60_000) as i64;
    Ok(state
        .store
        .users()
        .call(move |s| s.use_session(&token_hash, crate::store::now_ms(), idle_ms))
        .await?)
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "log in first".into(),
    )
}

/// What a request proved who it is with. A websocket stays tied to it:
/// when the session ends or the token is revoked, the socket closes
/// (4003), whoever's desktop it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session: the hash of its token, and its user.
    Session { hash: String, owner: i64 },
    /// An API token: its hash, and the user it acts as.
    Token { hash: String, owner: i64 },
}

impl Credential {
    /// The user the credential belongs to (told when their sessions or
    /// tokens end: [`super::SessionEnds`]).
    pub fn owner(&self) -> i64 {
        match self {
            Credential::Session { owner, .. } | Credential::Token { owner, .. } => *owner,
        }
    }

    /// Whether it still holds, marking it used (a session's idle time
    /// starts again; a token's last use is kept). `None` when the store
    /// did not answer, which is not a reason to cut anyone off.
    pub async fn still_holds(&self, state: &AppState) -> Option<bool> {
        match self.clone() {
            Credential::Session { hash, .. } => {
                use_session(state, hash).await.ok().map(|u| u.is_some())
            }
            Credential::Token { hash, .. } => state
                .store
                .users()
                .call(move |s| s.use_token(&hash, crate::store::now_ms()))
                .await
                .ok()
                .map(|t| t.is_some()),
        }
    }

    /// Whether it still exists, without marking it used.
    pub(super) async fn exists(&self, store: &crate::store::StoreHandle) -> Option<bool> {
        let now = crate::store::now_ms();
        match self.clone() {
            Credential::Session { hash, .. } => store
                .users()
                .call(move |s| s.session_user(&hash))
                .await
                .ok()
                .map(|u| u.is_some()),
            Credential::Token { hash, .. } => store
                .users()
                .call(move |s| s.token_user(&hash, now))
                .await
                .ok()
                .map(|u| u.is_some()),
        }
    }
}

impl FromRequestParts<AppState> for Credential {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Credential>()
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "no_access_rule",
                    "this route asks for a credential but is public in the access table".into(),
                )
            })
    }
}

/// What the store keeps of the request's session token ("" without one).
pub fn session_hash(headers: &HeaderMap) -> String {
    session_token(headers)
        .map(|t| crate::auth::token_hash(&t))
        .unwrap_or_default()
}

/// The session token from the Cookie header.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Failed logins, per username and per address ([`Throttle`]), shared
/// by the server's handlers.
#[derive(Clone)]
pub struct Logins(Arc<Mutex<LoginGuards>>);

struct LoginGuards {
    users: Throttle,
    addresses: Throttle,
}

impl Default for Logins {
    fn default() -> Self {
        Logins::new(Policy::USER)
    }
}

impl Logins {
    /// Usernames judged by `users`; addresses by [`Policy::ADDRESS`].
    pub fn new(users: Policy) -> Logins {
        Logins(Arc::new(Mutex::new(LoginGuards {
            users: Throttle::new(users, 100_000),
            addresses: Throttle::new(Policy::ADDRESS, 100_000),
        })))
    }

    /// From `[screen_pop]`'s `login_*` settings.
    pub fn from_config(c: &crate::config::ScreenPopConfig) -> Logins {
        Logins::new(Policy {
            free_failures: c.login_free_failures,
            lock_after: (c.login_lock_after > 0).then_some(c.login_lock_after),
            lock_ms: (c.login_lock_minutes * 60_000) as i64,
            ..Policy::USER
        })
    }

    fn guards(&self) -> std::sync::MutexGuard<'_, LoginGuards> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `username` may try from `address` now (the stricter of the
    /// two verdicts). An attempt let through is counted as a failure at
    /// once, under the same lock, so concurrent guesses cannot all slip
    /// in before the first is judged; a right password takes it back
    /// ([`Logins::succeeded`]). With `Allow` comes the end of a lock this
    /// attempt started, if it did (the attempt itself still goes ahead).
    pub fn attempt(&self, username: &str, address: &str, now_ms: i64) -> (Verdict, Option<i64>) {
        let mut g = self.guards();
        let verdict = match (
            g.users.check(username, now_ms),
            g.addresses.check(address, now_ms),
        ) {
            (Verdict::Locked(u), _) | (_, Verdict::Locked(u)) => Verdict::Locked(u),
            (Verdict::Wait(a), Verdict::Wait(b)) => Verdict::Wait(a.max(b)),
            (Verdict::Wait(a), _) | (_, Verdict::Wait(a)) => Verdict::Wait(a),
            _ => Verdict::Allow,
        };
        if verdict != Verdict::Allow {
            return (verdict, None);
        }
        g.addresses.failed(address, now_ms);
        (verdict, g.users.failed(username, now_ms))
    }

    /// The attempt was right: the user's failures are forgotten and the
    /// address's up-front count taken back.
    pub fn succeeded(&self, username: &str, address: &str) {
        let mut g = self.guards();
        g.users.clear(username);
        g.addresses.forgive_one(address);
    }

    /// The usernames locked now, with when each lock ends (for admins).
    pub fn locked(&self, now_ms: i64) -> Vec<(String, i64)> {
        self.guards().users.locked(now_ms)
    }

    /// Lifts a user's lock (an admin's decision); true if there was one.
    pub fn unlock(&self, username: &str) -> bool {
        self.guards().users.clear(username)
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    username: String,
    password: String,
}

/// Checks the password and sets the session cookie. Wrong names and wrong
/// passwords get the same answer; both are audited.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    super::body::Body(body): super::body::Body<Login>,
) -> Result<Response, ApiError> {
    let remote = remote.ip().to_string();
    let started = crate::store::now_ms();
    let (verdict, locked) = state.logins.attempt(&body.username, &remote, started);
    match verdict {
        Verdict::Allow => {}
        Verdict::Wait(ms) => {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "login_throttled",
                format!(
                    "too many failed logins: try again in {} s",
                    (ms + 999) / 1000
                ),
            ))
        }
        Verdict::Locked(until) => {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "login_locked",
                format!(
                    "this account is locked after repeated failed logins for {} more minutes",
                    (until - started + 59_999) / 60_000
                ),
            ))
        }
    }
    let name = body.username.clone();
    let found = state
        .store
        .users()
        .call(move |s| s.login_user(&name))
        .await?;
    // Verify even for unknown users, so timing does not tell names apart.
    let (user, hash) = match found {
        Some((u, Some(h))) => (Some(u), h),
        _ => (None, DUMMY_HASH.clone()),
    };
    let password = body.password.clone();
    let ok = tokio::task::spawn_blocking(move || crate::auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let username = body.username.clone();
    let user = match (user, ok) {
        (Some(u), true) => {
            state.logins.succeeded(&u.username, &remote);
            u
        }
        _ => {
            let r = remote.clone();
            state
                .store
                .users()
                .call(move |s| {
                    s.audit(&AuditEntry {
                        actor: &username,
                        user_id: None,
                        action: "login.failed",
                        target: None,
                        detail: json!({}),
                        remote_addr: Some(&r),
                    })?;
                    match locked {
                        Some(until) => s.audit(&AuditEntry {
                            actor: "system",
                            user_id: None,
                            action: "login.locked",
                            target: Some(&username),
                            detail: json!({ "until": until }),
                            remote_addr: Some(&r),
                        }),
                        None => Ok(()),
                    }
                })
                .await?;
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_login",
                "wrong username or password".into(),
            ));
        }
    };
    let token = crate::auth::new_token();
    let hash = crate::auth::token_hash(&token);
    let hours = state.settings.session_hours;
    let expires = crate::store::now_ms() + (hours * 3600 * 1000) as i64;
    let u = user.clone();
    state
        .store
        .users()
        .call(move |s| {
            s.create_session(&hash, u.id, expires, Some(&remote))?;
            s.audit(&AuditEntry {
                actor: &u.username,
                user_id: Some(u.id),
                action: "login",
                target: None,
                detail: json!({}),
                remote_addr: Some(&remote),
            })
        })
        .await?;
    let secure = if state.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        hours * 3600
    );
    let csrf = crate::auth::csrf_token(&token);
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "user": user, "csrf_token": csrf })),
    )
        .into_response())
}

/// Ends the session and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = session_token(&headers) {
        let hash = crate::auth::token_hash(&token);
        let h = hash.clone();
        let user = state
            .store
            .users()
            .call(move |s| s.session_user(&h))
            .await?;
        state
            .store
            .users()
            .call(move |s| s.end_session(&hash))
            .await?;
        if let Some(user) = user {
            state.session_ends.ended(user.id);
        }
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

/// Who is logged in, with the session's CSRF token for the page to send
/// back on every change ([`crate::auth::csrf_token`]).
pub async fn me(
    user: CurrentUser,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Json<serde_json::Value> {
    let mut me = json!(user.0);
    me["pages"] = json!(crate::access::pages_for(user.0.role));
    // Whether the page offers click-to-dial: a line to dial on, and the
    // role to use it.
    let may_dial = crate::access::grant("ws call.dial", &user.0).is_ok();
    me["can_dial"] = json!(match (&state.dialer, may_dial) {
        (Some(d), true) => d.can_dial(&user.0).await,
        _ => false,
    });
    if let Some(token) = session_token(&headers) {
        me["csrf_token"] = json!(crate::auth::csrf_token(&token));
    }
    Json(me)
}

/// A hash of a random password, verified against when the user does not
/// exist, so that costs as much as a real check.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::auth::hash_password(&crate::auth::new_token()).unwrap_or_default()
});

/// The accounts locked now after repeated failed logins (admins).
pub async fn locked_logins(State(state): State<AppState>) -> Json<serde_json::Value> {
    let locked: Vec<_> = state
        .logins
        .locked(crate::store::now_ms())
        .into_iter()
        .map(|(username, until)| json!({ "username": username, "until": until }))
        .collect();
    Json(json!({ "locked": locked }))
}

/// Lifts an account's login lock (admins); audited.
pub async fn unlock_login(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    super::body::Path(name): super::body::Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.logins.unlock(&name) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{name:?} is not locked"),
        ));
    }
    super::audit::record(
        &state,
        &user.0,
        "login.unlocked",
        Some(name),
        json!({}),
        Some(remote),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
