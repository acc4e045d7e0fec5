//! The desktop websocket: one task per connection moves frames between the
//! socket and the pop hub. The hub numbers and keeps every server message;
//! this side parses client messages, answers what needs the store (work
//! orders), and drops a desktop that stops heartbeating.

use super::auth::{ApiError, Credential, CurrentUser};
use super::AppState;
use crate::pop::command::{Action, CommandError, WorkOrderDraft};
use crate::pop::protocol::{self, ClientMessage};
use crate::pop::HubHandle;
use crate::store::User;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Close code for a desktop that could not keep up (it should resume).
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Close code for a desktop that stopped heartbeating.
pub const CLOSE_SILENT: u16 = 4001;
/// Close code when the server stops: 1001 "going away", reason
/// "server restarting" (reconnect and resume).
pub const CLOSE_RESTARTING: u16 = 1001;

/// Close code when the user's session was ended elsewhere (a password
/// change or reset, a logout): log in again.
pub const CLOSE_SESSION_ENDED: u16 = 4003;

/// Upgrades an authenticated request to the desktop protocol.
pub async fn upgrade(
    user: CurrentUser,
    credential: Credential,
    State(state): State<AppState>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Small buffers: a desktop sends and gets a few KiB at a time, and the
    // 128 KiB defaults would cost a thousand idle desktops 250 MiB.
    Ok(ws
        .max_message_size(1 << 20)
        .read_buffer_size(8 << 10)
        .write_buffer_size(8 << 10)
        .on_upgrade(move |socket| run(socket, user.0, credential, state)))
}

async fn run(socket: WebSocket, user: User, credential: Credential, state: AppState) {
    let _counted = state.metrics.ws_session("desktop");
    let _open = state.closing.open();
    let (mut sink, mut stream) = socket.split();
    let Some(hub) = state.hub.clone() else {
        close(&mut sink, 1013, "no pop hub in this process").await;
        return;
    };
    // Room for a whole replay on top of the usual backlog: a resume must fit.
    let capacity = state.settings.send_queue + state.settings.replay_log;
    let (out_tx, mut out_rx) = mpsc::channel::<Arc<str>>(capacity);
    let conn = hub.connect(user.clone(), out_tx).await;
    let silence = Duration::from_secs(state.settings.heartbeat_secs * 3);
    // Why the connection ends, and the close frame it gets (if any).
    let writer = async {
        while let Some(frame) = out_rx.recv().await {
            // Cut off by the hub: what is still queued would only be
            // replayed again after the resume.
            if out_rx.is_closed() {
                break;
            }
            match tokio::time::timeout(silence, sink.send(Message::Text((&*frame).into()))).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return None,
                // The socket has not taken a frame for this long: too slow.
                Err(_) => break,
            }
        }
        Some((CLOSE_TOO_SLOW, "too slow; reconnect and resume"))
    };
    let reader = async {
        // An open desktop is a used session (or token): marked so once a
        // minute, and closed when it is gone (expired, idle, ended, revoked).
        let mut used_at = std::time::Instant::now();
        loop {
            if used_at.elapsed() >= Duration::from_secs(60) {
                used_at = std::time::Instant::now();
                if credential.still_holds(&state).await == Some(false) {
                    return Some((CLOSE_SESSION_ENDED, "session ended; log in again"));
                }
                // Opened for this user with another's credential: the
                // user must still be there too.
                if credential.owner() != user.id
                    && matches!(
                        super::auth::active_user(&state, &user.username).await,
                        Ok(None)
                    )
                {
                    return Some((CLOSE_SESSION_ENDED, "session ended; log in again"));
                }
            }
            let msg = match tokio::time::timeout(silence, stream.next()).await {
                Err(_) => {
                    tracing::info!(user = %user.username, "desktop silent: closing");
                    return Some((CLOSE_SILENT, "no heartbeat"));
                }
                Ok(None) | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(text) => handle(&hub, &state, conn, &user, text.as_str()).await,
                Message::Binary(_) => {
                    hub.error(
                        conn,
                        "bad_message",
                        "binary frames are not part of the protocol".into(),
                        None,
                    )
                    .await
                }
                Message::Close(_) => return None,
                Message::Ping(_) | Message::Pong(_) => {}
            }
        }
    };
    let ending = tokio::select! {
        why = writer => why,
        why = reader => why,
        _ = state.closing.wait() => Some((CLOSE_RESTARTING, "server restarting")),
        _ = state.session_ends.wait_gone(&state.store, &credential) => {
            Some((CLOSE_SESSION_ENDED, "session ended; log in again"))
        }
        _ = async {
            if credential.owner() == user.id {
                std::future::pending::<()>().await
            }
            state.session_ends.wait_disabled(&state.store, user.id, &user.username).await
        } => Some((CLOSE_SESSION_ENDED, "session ended; log in again")),
    };
    if let Some((code, reason)) = ending {
        tracing::debug!(code, reason, "closing a desktop");
        close(&mut sink, code, reason).await;
    }
    hub.disconnect(conn).await;
}

/// Sends a close frame, giving up after a second.
pub(super) async fn close<S>(sink: &mut S, code: u16, reason: &'static str)
where
    S: futures_util::Sink<Message> + Unpin,
{
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(frame)).await;
}

async fn handle(hub: &HubHandle, state: &AppState, conn: u64, user: &User, text: &str) {
    match protocol::parse(text) {
        Err(e) => hub.error(conn, e.code, e.message, e.id).await,
        Ok(ClientMessage::Heartbeat) => {}
        Ok(ClientMessage::Ack { seq }) => hub.ack(conn, seq).await,
        Ok(ClientMessage::Resume {
            session_id,
            last_seq,
        }) => hub.resume(conn, session_id, last_seq).await,
        Ok(ClientMessage::Command(cmd)) => {
            let scope = match crate::access::grant(&format!("ws {}", cmd.action.name()), user) {
                Ok(scope) => scope,
                Err(_) => {
                    let refused = CommandError::new(
                        "forbidden",
                        format!("your role may not use {}", cmd.action.name()),
                    );
                    hub.reply(conn, cmd.id, Err(refused), None).await;
                    return;
                }
            };
            match cmd.action {
                Action::Dial { number, line } => {
                    let result = super::dial::command_dial(state, user, scope, number, line).await;
                    hub.reply(conn, cmd.id, result, None).await;
                }
                Action::HangUp { call_id } => {
                    let result = super::dial::command_hang_up(state, user, scope, &call_id).await;
                    hub.reply(conn, cmd.id, result, None).await;
                }
                Action::SaveWorkOrder(draft) => {
                    let call = draft.call_id.clone();
                    let result = save_work_order(state, hub, user, &scope, &cmd.id, draft).await;
                    let saved = result.is_ok().then_some(call).flatten();
                    hub.reply(conn, cmd.id, result, saved).await;
                }
                _ => hub.command(conn, cmd).await,
            }
        }
    }
}

/// Whether `user`, reaching `scope`, may save a work order on call
/// `call_id` for customer `customer_id`: the call must be one offered to
/// them or taken by them (or, for a supervisor, one of their scope's), the
/// customer one the caller's number matched, the call's own, or one their
/// scope owns. Open calls are asked of the hub, ended ones of the store.
async fn may_save(
    state: &AppState,
    hub: &HubHandle,
    scope: &crate::store::Scope,
    call_id: Option<&str>,
    customer_id: Option<i64>,
) -> Result<(), CommandError> {
    use crate::access::{covers, covers_call};
    let mut callers: Vec<i64> = Vec::new();
    let mut number: Option<String> = None;
    if let Some(call_id) = call_id {
        let live = hub.call_parties(call_id.to_string()).await;
        let (users, team) = match live {
            Some(live) => {
                callers = live.candidates;
                (live.users, live.team)
            }
            None => {
                let uid = call_id.to_string();
                let stored = state
                    .store
                    .calls()
                    .call(move |s| s.call_reach(&uid))
                    .await
                    .map_err(store_failed)?
                    .ok_or_else(|| {
                        CommandError::new("not_found", format!("no call {call_id:?}"))
                    })?;
                callers.extend(stored.customer_id);
                number = stored.number_national;
                (stored.users, stored.team)
            }
        };
        if !covers_call(scope, &users, team.as_deref()) {
            return Err(CommandError::new(
                "forbidden",
                "this call was not offered to you",
            ));
        }
    }
    let Some(customer_id) = customer_id else {
        return Ok(());
    };
    let reach = state
        .store
        .customers()
        .call(move |s| s.customer_reach(customer_id, number.as_deref()))
        .await
        .map_err(store_failed)?;
    let Some(crate::store::CustomerReach { owner, has_number }) = reach else {
        return Err(CommandError::new(
            "not_found",
            format!("no customer {customer_id}"),
        ));
    };
    let owner = owner.as_ref().map(|(id, team)| (*id, team.as_deref()));
    if callers.contains(&customer_id) || has_number || covers(scope, owner) {
        Ok(())
    } else {
        Err(CommandError::new(
            "forbidden",
            "this customer is neither the caller's nor yours",
        ))
    }
}

fn store_failed(e: crate::store::StoreError) -> CommandError {
    tracing::error!(error = %e, "could not check a work order's call and customer");
    CommandError::new("store", "the work order could not be checked; try again")
}

/// Validates and stores a work order; per-field errors come back in the
/// error's `fields`.
async fn save_work_order(
    state: &AppState,
    hub: &HubHandle,
    user: &User,
    scope: &crate::store::Scope,
    key: &str,
    draft: WorkOrderDraft,
) -> Result<Value, CommandError> {
    let WorkOrderDraft {
        form,
        call_id,
        customer_id,
        fields: values,
    } = draft;
    may_save(state, hub, scope, call_id.as_deref(), customer_id).await?;
    let form_key = form.unwrap_or_else(|| state.settings.form.clone());
    let agent = user.clone();
    let key = key.to_string();
    let outcome = state
        .store
        .workorders()
        .call(move |s| {
            let Some(form) = s.form(&form_key)? else {
                return Ok(Err(CommandError::new(
                    "no_form",
                    format!("no form {form_key:?}"),
                )));
            };
            let clean = match crate::workorder::validate(&form, &values) {
                Ok(v) => v,
                Err(fields) => {
                    let mut e = CommandError::new("invalid", "some fields are not right");
                    e.fields = Some(json!(fields));
                    return Ok(Err(e));
                }
            };
            let saved = s.save_work_order(
                &form_key,
                customer_id,
                call_id.as_deref(),
                agent.id,
                &key,
                &clean,
            )?;
            let ask = crate::workorder::follow_up_of(&form, &clean);
            Ok(Ok((saved, form_key, call_id, agent, ask)))
        })
        .await;
    // A follow-up date asks for a call-back (回访) on the agent's list.
    if let Ok(Ok((saved, _, call_id, agent, Some(ask)))) = &outcome {
        schedule_follow_up(
            state,
            saved.id,
            agent.id,
            call_id.clone(),
            customer_id,
            ask.clone(),
        )
        .await;
    }
    let outcome = outcome
        .map(|r| r.map(|(saved, form_key, call_id, agent, _)| (saved, form_key, call_id, agent)));
    // A new order's audit entry, then the reply; a failure of either is
    // the store's.
    let outcome = match outcome {
        Ok(Ok((saved, form_key, call_id, agent))) if saved.created => {
            let target = format!("workorder:{}", saved.number);
            let id = saved.id;
            state
            .store
            .users()
            .call(move |s| {
                s.audit(&crate::store::AuditEntry {
                    actor: &agent.username,
                    user_id: Some(agent.id),
                    action: "workorder.save",
                    target: Some(&target),
                    detail: json!({ "id": id, "form": form_key, "call_id": call_id, "customer_id": customer_id }),
                    remote_addr: None,
                })
            })
            .await
            .map(|()| Ok(saved))
        }
        Ok(Ok((saved, ..))) => Ok(Ok(saved)),
        Ok(Err(e)) => Ok(Err(e)),
        Err(e) => Err(e),
    }
    .map(|r| {
        r.map(|saved| {
            json!({ "work_order_id": saved.id, "number": saved.number, "created": saved.created })
        })
    });
    match outcome {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "could not save a work order");
            Err(CommandError::new(
                "store",
                "the work order could not be saved; try again",
            ))
        }
    }
}

/// Puts a work order's follow-up date on its agent's call-back list (or
/// takes it off when the date was cleared): the number typed in the form,
/// else the call's caller, else the customer's first number. A failure is
/// logged; the work order is saved either way.
async fn schedule_follow_up(
    state: &AppState,
    workorder_id: i64,
    agent: i64,
    call_id: Option<String>,
    customer_id: Option<i64>,
    ask: crate::workorder::FollowUpAsk,
) {
    let mut number = ask.phone;
    if let (None, Some(uid)) = (&number, call_id) {
        // An ended call's caller (a call still under way has no row yet).
        number = state
            .store
            .calls()
            .call(move |c| c.call_reach(&uid))
            .await
            .ok()
            .flatten()
            .and_then(|r| r.callback_number);
    }
    if let (None, Some(id)) = (&number, customer_id) {
        number = state
            .store
            .customers()
            .call(move |c| c.customer(id))
            .await
            .ok()
            .flatten()
            .and_then(|c| {
                c.phones
                    .first()
                    .map(|p| p.e164.clone().unwrap_or_else(|| p.raw.clone()))
            });
    }
    let Some(normalized) = number.and_then(|n| state.normalizer.normalize_lenient(&n)) else {
        tracing::info!(
            workorder_id,
            "a follow-up date without a number to call back"
        );
        return;
    };
    let scheduled = crate::store::Scheduled {
        workorder_id,
        agent,
        number: normalized.canonical().to_string(),
        national: normalized.national.clone(),
        customer_id,
        due_ms: ask.date.and_then(crate::workorder::follow_up_due_ms),
    };
    let now = crate::store::now_ms();
    if let Err(e) = state
        .store
        .followups()
        .call(move |f| f.schedule(&scheduled, now))
        .await
    {
        tracing::error!(error = %e, workorder_id, "could not schedule the follow-up call-back");
    }
}
