//! The customer directory on the web (客户资料): search, the customer's
//! page (details, calls, work orders, notes), edits, soft delete and
//! restore, notes, hand-over. Scope comes from the access table (agents
//! their own customers and those they spoke to, team leads their team's,
//! QA read-only, admins all); numbers are masked by the one rule.

use super::auth::{ApiError, CurrentUser};
use super::body::{Path, Query};
use super::AppState;
use crate::store::{
    CallQuery, CustomerEdit, CustomerQuery, CustomerRow, HandOver, NewPhone, Role, Scope, User,
};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;

/// Masks a customer's numbers for a viewer who may not see them whole:
/// their phones and the custom fields of the phone type (`phone_keys`).
pub(super) fn shown(viewer: &User, mut row: CustomerRow, phone_keys: &[String]) -> CustomerRow {
    if crate::access::must_mask(
        viewer,
        crate::access::owned_by_another(viewer, row.owner_id),
    ) {
        for p in &mut row.phones {
            p.raw = crate::access::mask(&p.raw);
            p.e164 = p.e164.as_deref().map(crate::access::mask);
            p.national = crate::access::mask(&p.national);
        }
        for key in phone_keys {
            if let Some(Value::String(v)) = row.custom_fields.get_mut(key) {
                *v = crate::access::mask(v);
            }
        }
    }
    row
}

/// The keys of the custom fields that hold phone numbers (masked like
/// numbers).
pub(super) async fn phone_keys(state: &AppState) -> Result<Vec<String>, ApiError> {
    let defs = state.store.directory().call(|d| d.field_defs()).await?;
    Ok(defs
        .into_iter()
        .filter(|d| d.field_type == crate::domain::custom_fields::CustomFieldType::Phone)
        .map(|d| d.key)
        .collect())
}

fn not_found(id: i64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "customer_not_found",
        format!("no customer {id}"),
    )
    .with(json!({ "id": id }))
}

/// `GET /api/customers`: a page of the search.
pub async fn search(
    user: CurrentUser,
    State(state): State<AppState>,
    Query(q): Query<CustomerQuery>,
) -> Result<Json<Value>, ApiError> {
    let q = narrowed(&state, &user, q).await?;
    let scope = user.scope().clone();
    let page = state
        .store
        .directory()
        .call(move |d| d.search(&q, &scope))
        .await?;
    let keys = phone_keys(&state).await?;
    let items: Vec<CustomerRow> = page
        .items
        .into_iter()
        .map(|c| shown(&user.0, c, &keys))
        .collect();
    Ok(Json(json!({ "items": items, "next": page.next })))
}

/// A search as the user may make it: number fragments checked (and an
/// agent's finding only their own customers, so masked digits cannot be
/// uncovered one by one), deleted customers for admins only.
pub(super) async fn narrowed(
    state: &AppState,
    user: &CurrentUser,
    mut q: CustomerQuery,
) -> Result<CustomerQuery, ApiError> {
    if let Some(key) = q.field.as_deref().filter(|k| !k.trim().is_empty()) {
        let defs = state.store.directory().call(|d| d.field_defs()).await?;
        let def = defs
            .iter()
            .find(|d| d.key == key && d.searchable)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "field_not_searchable",
                    format!("{key:?} is not a searchable custom field"),
                )
                .with(json!({ "field": key }))
            })?;
        // A number field's prefix would uncover masked digits one by one,
        // as a number fragment would: an agent's find their own.
        if def.field_type == crate::domain::custom_fields::CustomFieldType::Phone {
            super::history::number_filter_allowed(&user.0, q.value.as_deref())?;
            if user.0.role == Role::Agent {
                q.owner = Some(user.0.username.clone());
            }
        }
    }
    super::history::number_filter_allowed(&user.0, q.number.as_deref())?;
    if let Some(n) = q.number.as_deref().filter(|n| !n.trim().is_empty()) {
        if crate::store::number_fragment(n).is_none() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "number_fragment_short",
                format!("{n:?}: give at least 3 digits of the number"),
            )
            .with(json!({ "number": n })));
        }
        // A fragment would uncover the masked digits of the customers an
        // agent only spoke to: an agent's fragments find their own.
        let whole =
            n.chars().filter(char::is_ascii_digit).count() >= super::history::MASKED_SEARCH_DIGITS;
        if user.0.role == Role::Agent && !whole {
            q.owner = Some(user.0.username.clone());
        }
    }
    if q.deleted && user.0.role != Role::Admin {
        q.deleted = false;
    }
    Ok(q)
}

/// `GET /api/customers/{id}`: the customer's page (360°): details, calls
/// with their recordings, work orders, notes, call-backs, and the SMS sent
/// to and received from the customer's numbers.
pub async fn show(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let scope = user.scope().clone();
    let s = scope.clone();
    let customer = state
        .store
        .directory()
        .call(move |d| d.get(id, &s))
        .await?
        .filter(|c| c.deleted_at.is_none() || user.0.role == Role::Admin)
        .ok_or_else(|| not_found(id))?;
    let masked = crate::access::must_mask(
        &user.0,
        crate::access::owned_by_another(&user.0, customer.owner_id),
    );
    // The customer's calls: all of them for whoever reaches the customer.
    let calls = state
        .store
        .calls()
        .call(move |c| {
            c.search_calls(
                &CallQuery {
                    customer_id: Some(id),
                    limit: Some(50),
                    ..CallQuery::default()
                },
                &Scope::All,
            )
        })
        .await?;
    let calls: Vec<_> = calls
        .calls
        .into_iter()
        .map(|mut c| {
            if masked {
                c.number = c.number.as_deref().map(crate::access::mask);
            }
            c
        })
        .collect();
    let viewer = user.0.clone();
    let work_orders = state
        .store
        .workorders()
        .call(move |w| {
            let mut orders = w.customer_work_orders(id, 50)?;
            super::workorders::mask_phone_fields(&w, &viewer, &mut orders)?;
            Ok(orders)
        })
        .await?;
    let notes = state
        .store
        .directory()
        .call(move |d| d.notes(id, 100))
        .await?;
    let mut follow_ups = state
        .store
        .followups()
        .call(move |f| f.of_customer(id, 50))
        .await?;
    let mut sms = state
        .store
        .sms()
        .call(move |s| s.customer_messages(id, 50))
        .await?;
    if masked {
        for f in &mut follow_ups {
            f.number = crate::access::mask(&f.number);
            f.number_national = crate::access::mask(&f.number_national);
        }
        for m in &mut sms {
            m.number = crate::access::mask(&m.number);
        }
    }
    Ok(Json(json!({
        "customer": shown(&user.0, customer, &phone_keys(&state).await?),
        "calls": calls,
        "work_orders": work_orders,
        "notes": notes,
        "follow_ups": follow_ups,
        "sms": sms,
    })))
}

/// A customer as the edit form sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    pub name: String,
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub phones: Vec<PhoneBody>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Absent: the custom values stay as they are.
    #[serde(default)]
    pub custom_fields: Option<Map<String, Value>>,
}

/// One number of the edit form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneBody {
    pub number: String,
    #[serde(default)]
    pub label: Option<String>,
}

/// The edit of `before`: a number the editor was shown masked comes back
/// masked and keeps its value.
fn edit_of(
    state: &AppState,
    before: &CustomerRow,
    body: EditBody,
) -> Result<CustomerEdit, ApiError> {
    if body.name.trim().is_empty() || body.name.chars().count() > 100 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "name_required",
            "a customer's name has 1 to 100 characters".into(),
        ));
    }
    if body.phones.len() > crate::store::MAX_PHONES {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "too_many_phones",
            format!("at most {} numbers", crate::store::MAX_PHONES),
        )
        .with(json!({ "max": crate::store::MAX_PHONES })));
    }
    let mut phones = Vec::new();
    for p in body.phones.iter().filter(|p| !p.number.trim().is_empty()) {
        let kept = before
            .phones
            .iter()
            .find(|old| p.number.contains('*') && crate::access::mask(&old.raw) == p.number.trim());
        let typed = kept.map_or(p.number.as_str(), |old| old.raw.as_str());
        if typed.contains('*') {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "number_masked",
                "a masked number cannot be saved; retype it whole".into(),
            )
            .with(json!({ "number": p.number })));
        }
        let number = state.normalizer.normalize(typed).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "number_invalid",
                format!("{:?} is not a phone number", p.number),
            )
            .with(json!({ "number": p.number }))
        })?;
        phones.push(NewPhone {
            number,
            label: p.label.clone().filter(|l| !l.trim().is_empty()),
        });
    }
    Ok(CustomerEdit {
        name: body.name.trim().to_string(),
        company: body.company.trim().to_string(),
        phones,
        tags: body.tags,
        custom_fields: Map::new(),
    })
}

/// Whether the user reaches customer `id` (and it is not deleted).
pub(super) async fn reach(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<CustomerRow, ApiError> {
    let scope = user.scope().clone();
    state
        .store
        .directory()
        .call(move |d| d.get(id, &scope))
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or_else(|| not_found(id))
}

/// `PUT /api/customers/{id}`: saves the edit form.
pub async fn update(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    super::body::Body(mut body): super::body::Body<EditBody>,
) -> Result<Json<Value>, ApiError> {
    let before = reach(&state, &user, id).await?;
    let custom = match body.custom_fields.take() {
        Some(mut values) => {
            // A phone field the editor was shown masked comes back masked
            // and keeps its value.
            for key in phone_keys(&state).await? {
                let kept = before.custom_fields.get(&key).and_then(Value::as_str);
                if let (Some(Value::String(typed)), Some(old)) = (values.get(&key), kept) {
                    if typed.contains('*') && crate::access::mask(old) == *typed {
                        values.insert(key, Value::String(old.to_string()));
                    }
                }
            }
            super::customer_fields::checked(&state, values).await?
        }
        None => before.custom_fields.clone(),
    };
    let mut edit = edit_of(&state, &before, body)?;
    edit.custom_fields = custom;
    let who = user.who(remote);
    let after = state
        .store
        .directory()
        .call(move |d| d.update(id, &edit, who.actor()))
        .await?
        .ok_or_else(|| not_found(id))?;
    let keys = phone_keys(&state).await?;
    Ok(Json(json!({ "customer": shown(&user.0, after, &keys) })))
}

/// `DELETE /api/customers/{id}`: soft delete (admins restore).
pub async fn delete(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    reach(&state, &user, id).await?;
    set_deleted(&state, &user, remote, id, true).await
}

/// `POST /api/customers/{id}/restore` (admins).
pub async fn restore(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    set_deleted(&state, &user, remote, id, false).await
}

async fn set_deleted(
    state: &AppState,
    user: &CurrentUser,
    remote: SocketAddr,
    id: i64,
    deleted: bool,
) -> Result<StatusCode, ApiError> {
    let who = user.who(remote);
    let changed = state
        .store
        .directory()
        .call(move |d| d.set_deleted(id, deleted, who.actor()))
        .await?;
    if changed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(id))
    }
}

/// A note as the page sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub body: String,
    #[serde(default)]
    pub call_uid: Option<String>,
}

/// `POST /api/customers/{id}/notes`: adds a note (跟进记录).
pub async fn add_note(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    super::body::Body(body): super::body::Body<NoteBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    reach(&state, &user, id).await?;
    if body.body.trim().is_empty() || body.body.chars().count() > 4000 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "note_length",
            "a note has 1 to 4,000 characters".into(),
        )
        .with(json!({ "max": 4000 })));
    }
    let author = user.0.clone();
    let note = state
        .store
        .directory()
        .call(move |d| d.add_note(id, &body.body, body.call_uid.as_deref(), &author))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "note": note }))))
}

/// A hand-over as the page sends it: to whom, and either the customers
/// or the user whose customers all go.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOverBody {
    pub to: String,
    #[serde(default)]
    pub customers: Vec<i64>,
    #[serde(default)]
    pub from: Option<String>,
}

/// `POST /api/customers/hand-over` (交接): team leads within their team,
/// admins anyone's.
pub async fn hand_over(
    user: CurrentUser,
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    super::body::Body(body): super::body::Body<HandOverBody>,
) -> Result<Json<Value>, ApiError> {
    let users = state.store.users().call(|u| u.all()).await?;
    let named = |name: &str| {
        users
            .iter()
            .find(|u| u.username == name)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "user_unknown",
                    format!("no user {name:?}"),
                )
                .with(json!({ "user": name }))
            })
    };
    let to = named(&body.to)?;
    if !matches!(to.role, Role::Agent | Role::TeamLead | Role::Admin) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "heir_not_call_taker",
            format!(
                "{} does not take calls and cannot own customers",
                to.username
            ),
        )
        .with(json!({ "user": to.username })));
    }
    if to.disabled {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "user_disabled",
            format!("{} is disabled", to.username),
        )
        .with(json!({ "user": to.username })));
    }
    let in_team = |u: &User| match user.scope() {
        Scope::All => true,
        Scope::Team(t) => u.team.as_deref() == Some(t.as_str()),
        _ => false,
    };
    let not_in_team = |u: &User| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "user_not_in_team",
            format!("{} is not in your team", u.username),
        )
        .with(json!({ "user": u.username }))
    };
    if !in_team(&to) {
        return Err(not_in_team(&to));
    }
    let what = match (&body.from, body.customers.is_empty()) {
        (Some(from), true) => {
            let from = named(from)?;
            if !in_team(&from) {
                return Err(not_in_team(&from));
            }
            HandOver::AllOf(from.id)
        }
        (None, false) => {
            for id in &body.customers {
                reach(&state, &user, *id).await?;
            }
            HandOver::Customers(body.customers.clone())
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "hand_over_what",
                "give either the customers or the user whose customers all go".into(),
            ))
        }
    };
    let who = user.who(remote);
    let from = match what {
        HandOver::AllOf(from) => Some(from),
        HandOver::Customers(_) => None,
    };
    let by = who.clone();
    let moved = state
        .store
        .directory()
        .call(move |d| d.hand_over(&what, to.id, by.actor()))
        .await?;
    // A leaver's open work orders go with their customers (a second step:
    // run again, it moves what is left).
    let orders = match from {
        Some(from) => {
            state
                .store
                .workorders()
                .call(move |w| w.hand_over_open(from, to.id, who.actor()))
                .await?
        }
        None => 0,
    };
    Ok(Json(json!({ "moved": moved, "work_orders": orders })))
}
