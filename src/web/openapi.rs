//! The REST API's OpenAPI 3 document, made from the route table itself so
//! the two cannot disagree: each route's operation is described by its
//! handler's own signature (the extractors it takes and the type it
//! returns, through [`Documented`]), its request types' schemas are derived
//! by utoipa from the Rust types serde reads, and who may call it comes
//! from the access table (`crate::access`). Nothing here is written by hand
//! per route; a route whose path names a parameter its handler does not take
//! (or the other way round) is reported by [`Document::disagreements`].

use super::auth::ApiError;
use super::body::{Body, Path, Query};
use axum::extract::{ConnectInfo, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::Value;
use std::borrow::Cow;
use std::future::Future;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr,
    Required, ResponseBuilder, SecurityRequirement,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// One operation as its handler's signature tells it.
#[derive(Default)]
pub(super) struct OpDoc {
    /// The path parameters' schemas, in the order the path names them.
    path_params: Option<Vec<RefOr<Schema>>>,
    query: Vec<Parameter>,
    body: Option<(&'static str, RefOr<Schema>)>,
    schemas: Vec<(String, RefOr<Schema>)>,
    /// Success responses: status key, what it is, its JSON schema if any.
    responses: Vec<(&'static str, &'static str, Option<RefOr<Schema>>)>,
    /// Whether the handler answers refusals with the API's error body.
    refuses: bool,
}

impl OpDoc {
    fn schema_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        T::schemas(&mut self.schemas);
        let name = T::name();
        if name.is_empty() {
            return T::schema();
        }
        self.schemas.push((name.to_string(), T::schema()));
        RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
    }

    fn success(&mut self, status: &'static str, what: &'static str, schema: Option<RefOr<Schema>>) {
        self.responses.push((status, what, schema));
    }
}

/// What one handler argument says about the request: most say nothing
/// (state, the user, headers); paths, queries and bodies say their shape.
pub(super) trait DocArg {
    /// Adds this argument's part to the operation.
    fn document(_op: &mut OpDoc) {}
}

/// What a handler's return type says about its answers.
pub(super) trait DocReturn {
    /// Adds the responses this type can give.
    fn document(op: &mut OpDoc);
}

/// A handler that can describe itself from its signature: implemented for
/// every async function whose arguments and return are described.
pub(super) trait Documented<Args> {
    /// The handler's operation.
    fn describe() -> OpDoc;
}

macro_rules! documented {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg,)*> Documented<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> Fut,
            Fut: Future,
            Fut::Output: DocReturn,
            $($arg: DocArg,)*
        {
            fn describe() -> OpDoc {
                let mut op = OpDoc::default();
                $(<$arg as DocArg>::document(&mut op);)*
                <Fut::Output as DocReturn>::document(&mut op);
                op
            }
        }
    };
}
documented!();
documented!(A);
documented!(A, B);
documented!(A, B, C);
documented!(A, B, C, D);
documented!(A, B, C, D, E);
documented!(A, B, C, D, E, G);
documented!(A, B, C, D, E, G, H);
documented!(A, B, C, D, E, G, H, I);

/// The description of `handler`, for a route added with a ready-made
/// method router (one with layers of its own).
pub(super) fn describe<H: Documented<D>, D>(_handler: &H) -> fn() -> OpDoc {
    H::describe
}

impl<S> DocArg for State<S> {}
impl<T> DocArg for ConnectInfo<T> {}
impl DocArg for HeaderMap {}
impl DocArg for Request {}
impl DocArg for WebSocketUpgrade {}
impl DocArg for super::CurrentUser {}
impl DocArg for super::Credential {}
impl DocArg for axum::http::Uri {}

impl DocArg for axum::body::Bytes {
    fn document(op: &mut OpDoc) {
        let binary = ObjectBuilder::new().schema_type(Type::String).format(Some(
            utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Binary),
        ));
        op.body = Some((
            "application/octet-stream",
            Schema::Object(binary.build()).into(),
        ));
    }
}

impl<T: ToSchema> DocArg for Body<T> {
    fn document(op: &mut OpDoc) {
        let schema = op.schema_of::<T>();
        op.body = Some(("application/json", schema));
    }
}

impl<T: IntoParams> DocArg for Query<T> {
    fn document(op: &mut OpDoc) {
        op.query = T::into_params(|| Some(ParameterIn::Query));
    }
}

/// The types a path's parameters are read as, in order.
pub(super) trait PathParams {
    /// Their schemas, one per parameter.
    fn schemas() -> Vec<RefOr<Schema>>;
}

impl PathParams for i64 {
    fn schemas() -> Vec<RefOr<Schema>> {
        vec![i64::schema()]
    }
}

impl PathParams for String {
    fn schemas() -> Vec<RefOr<Schema>> {
        vec![String::schema()]
    }
}

impl<A: PathParams, B: PathParams> PathParams for (A, B) {
    fn schemas() -> Vec<RefOr<Schema>> {
        let mut s = A::schemas();
        s.extend(B::schemas());
        s
    }
}

impl<T: PathParams> DocArg for Path<T> {
    fn document(op: &mut OpDoc) {
        op.path_params = Some(T::schemas());
    }
}

/// Any JSON value: what an untyped answer is documented as.
fn any_json() -> RefOr<Schema> {
    Schema::default().into()
}

impl DocReturn for Json<Value> {
    fn document(op: &mut OpDoc) {
        op.success("200", "The answer, as JSON.", Some(any_json()));
    }
}

/// Answers with a schema of their own: documented as that type.
macro_rules! typed_answers {
    ($($t:ty),*) => {$(
        impl DocReturn for Json<$t> {
            fn document(op: &mut OpDoc) {
                let schema = op.schema_of::<$t>();
                op.success("200", "The answer, as JSON.", Some(schema));
            }
        }
        impl DocReturn for (StatusCode, Json<$t>) {
            fn document(op: &mut OpDoc) {
                let schema = op.schema_of::<$t>();
                op.success("2XX", "Done (created or accepted), as JSON.", Some(schema));
            }
        }
    )*};
}
typed_answers!(
    crate::store::FormDef,
    crate::reports::Report,
    crate::outbound::Started
);

impl DocReturn for (StatusCode, Json<Value>) {
    fn document(op: &mut OpDoc) {
        op.success(
            "2XX",
            "Done (created or accepted), as JSON.",
            Some(any_json()),
        );
    }
}

impl DocReturn for StatusCode {
    fn document(op: &mut OpDoc) {
        op.success("2XX", "Done; no body.", None);
    }
}

impl DocReturn for Response {
    fn document(op: &mut OpDoc) {
        op.success("2XX", "The answer (a file, a page or JSON).", None);
    }
}

impl<T: DocReturn> DocReturn for Result<T, ApiError> {
    fn document(op: &mut OpDoc) {
        T::document(op);
        op.refuses = true;
    }
}

/// The body of every refusal: a code the pages word, an English message
/// and the parameters the wording needs (`ApiError` sends exactly this).
#[derive(serde::Serialize, ToSchema)]
pub(super) struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

/// The refusal itself.
#[derive(serde::Serialize, ToSchema)]
pub(super) struct ErrorDetail<'a> {
    /// Stable, e.g. `customer_not_found`, `body_invalid`, `csrf`.
    pub code: &'a str,
    /// For people reading logs; pages word `code` in the viewer's language.
    pub message: &'a str,
    /// What the wording needs, e.g. `{"field": "to"}`.
    #[schema(value_type = Object)]
    pub params: &'a Value,
}

/// One route as the router declares it.
pub(super) struct DocRoute {
    pub method: Method,
    pub path: &'static str,
    pub handler: &'static str,
    pub describe: fn() -> OpDoc,
}

/// The document and what it found wrong while making it.
pub struct Document {
    pub openapi: OpenApi,
    /// Routes whose path and handler disagree, in words.
    pub disagreements: Vec<String>,
}

/// The names in a route's path, in order (`/a/{id}/b/{x}` → id, x).
pub(super) fn path_names(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// `callpop::web::directory::search` → (`directory`, `directory_search`).
fn names_of(handler: &str) -> (String, String) {
    let mut parts = handler.rsplit("::");
    let function = parts.next().unwrap_or(handler);
    let module = parts.next().unwrap_or("api");
    (module.to_string(), format!("{module}_{function}"))
}

fn http_method(method: &Method) -> Option<HttpMethod> {
    Some(match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        Method::PATCH => HttpMethod::Patch,
        _ => return None,
    })
}

/// Who may use an action: in words for any reader (the description) and
/// as data for the app's reference page, which words it in the viewer's
/// language (`x-callpop-roles`: role and reach; `x-callpop-token-scope`);
/// and whether it needs a login at all.
struct WhoMay {
    words: String,
    roles: Vec<Value>,
    token_scope: Option<&'static str>,
    needs_login: bool,
}

fn who_may(action: &str) -> WhoMay {
    use crate::access::{Access, Reach, RULES};
    let grants = match RULES.iter().find(|r| r.action == action).map(|r| r.access) {
        None => &[][..],
        Some(Access::Public) => {
            return WhoMay {
                words: "Public: no login needed.".into(),
                roles: Vec::new(),
                token_scope: None,
                needs_login: false,
            }
        }
        Some(Access::Roles(grants)) => grants,
    };
    let roles: Vec<Value> = grants
        .iter()
        .map(|(role, reach)| {
            let reach = match reach {
                Reach::Own => "own",
                Reach::Team => "team",
                Reach::All => "all",
            };
            serde_json::json!({ "role": role.as_str(), "reach": reach })
        })
        .collect();
    let token_scope = crate::access::tokens::scope_of(action).map(|s| s.as_str());
    let listed = roles
        .iter()
        .map(|r| {
            format!(
                "{} ({})",
                r["role"].as_str().unwrap_or(""),
                r["reach"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let words = match (listed.is_empty(), token_scope) {
        (true, _) => "Not in the access table: refused to everyone.".to_string(),
        (false, Some(scope)) => format!("Roles: {listed}. API tokens with the scope `{scope}`."),
        (false, None) => format!("Roles: {listed}. Not open to API tokens."),
    };
    WhoMay {
        words,
        roles,
        token_scope,
        needs_login: true,
    }
}

/// Builds the document of every `/api/` route in `routes`.
pub(super) fn document(routes: &[DocRoute]) -> Document {
    let mut paths = PathsBuilder::new();
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    let mut disagreements = Vec::new();
    let mut seen_ids = std::collections::BTreeSet::new();
    for route in routes.iter().filter(|r| r.path.starts_with("/api/")) {
        let Some(method) = http_method(&route.method) else {
            disagreements.push(format!(
                "{} {}: method not documentable",
                route.method, route.path
            ));
            continue;
        };
        let action = super::gate::action_of(&route.method, route.path);
        let mut op = (route.describe)();
        let names = path_names(route.path);
        let types = op.path_params.take().unwrap_or_default();
        if names.len() != types.len() {
            disagreements.push(format!(
                "{action}: the path names {} parameter(s), the handler {} reads {}",
                names.len(),
                route.handler,
                types.len()
            ));
        }
        let (tag, id) = names_of(route.handler);
        let id = if seen_ids.insert(id.clone()) {
            id
        } else {
            format!("{id}_{}", method_word(&route.method))
        };
        let who = who_may(&action);
        let mut extensions = ExtensionsBuilder::new().add("x-callpop-roles", who.roles);
        if let Some(scope) = who.token_scope {
            extensions = extensions.add("x-callpop-token-scope", scope);
        }
        let mut builder = OperationBuilder::new()
            .operation_id(Some(id))
            .summary(Some(summary_of(route.handler)))
            .description(Some(who.words))
            .extensions(Some(extensions.build()))
            .tag(tag);
        for (name, schema) in names.iter().zip(types) {
            builder = builder.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(schema)),
            );
        }
        for p in op.query.drain(..) {
            builder = builder.parameter(p);
        }
        if let Some((content_type, schema)) = op.body.take() {
            builder = builder.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        content_type,
                        ContentBuilder::new().schema(Some(schema)).build(),
                    )
                    .build(),
            ));
        }
        for (status, what, schema) in op.responses.drain(..) {
            let mut response = ResponseBuilder::new().description(what);
            if let Some(schema) = schema {
                response = response.content(
                    "application/json",
                    ContentBuilder::new().schema(Some(schema)).build(),
                );
            }
            builder = builder.response(status, response.build());
        }
        // Every route may be refused at the door (login, role, CSRF, size,
        // rate) with the error body, whatever its handler returns.
        let _ = op.refuses;
        let error = RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody"));
        for (status, what) in [
            ("4XX", "Refused: the error's code says why."),
            (
                "503",
                "A part the request needs is not running (the store is busy, no modem).",
            ),
            ("507", "The disk is full: nothing was written."),
        ] {
            builder = builder.response(
                status,
                ResponseBuilder::new()
                    .description(what)
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(error.clone())).build(),
                    )
                    .build(),
            );
        }
        if who.needs_login {
            builder = builder
                .security(SecurityRequirement::new("token", Vec::<String>::new()))
                .security(SecurityRequirement::new("session", Vec::<String>::new()));
        }
        schemas.append(&mut op.schemas);
        paths = paths.path(route.path, PathItem::new(method, builder.build()));
    }
    ErrorBody::schemas(&mut schemas);
    schemas.push((ErrorBody::name().into(), ErrorBody::schema()));
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token made by an admin (Admin → API tokens), sent as \
                         `Authorization: Bearer cp_…`; its scopes open the routes listed.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::SESSION_COOKIE,
                "The web app's login session; requests that change something also send \
                 the session's `X-CSRF-Token` header.",
            ))),
        )
        .build();
    let openapi = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("callpop API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Every route of callpop's REST API, made from the server's own route \
                     table. Refusals carry `{\"error\": {\"code\", \"message\", \"params\"}}`. \
                     Desktops receive pops over the websocket `/ws` (PROTOCOL.md).",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build();
    Document {
        openapi,
        disagreements,
    }
}

fn method_word(method: &Method) -> String {
    method.as_str().to_ascii_lowercase()
}

/// `callpop::web::directory::add_note` → `Add note (directory)`.
fn summary_of(handler: &str) -> String {
    let (module, _) = names_of(handler);
    let function = handler.rsplit("::").next().unwrap_or(handler);
    let words = function.replace('_', " ");
    let mut chars = words.chars();
    let first: Cow<str> = match chars.next() {
        Some(c) => format!("{}{}", c.to_uppercase(), chars.as_str()).into(),
        None => "".into(),
    };
    format!("{first} ({module})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_names_in_order() {
        assert_eq!(path_names("/api/a/{id}/b/{event}/c"), vec!["id", "event"]);
        assert!(path_names("/api/a").is_empty());
    }

    #[test]
    fn handler_names_give_tag_id_and_summary() {
        assert_eq!(
            names_of("callpop::web::directory::add_note"),
            ("directory".into(), "directory_add_note".into())
        );
        assert_eq!(
            summary_of("callpop::web::directory::add_note"),
            "Add note (directory)"
        );
    }
}
