//! The supervisors' wallboard (监控大屏) feed: one websocket per viewer,
//! a whole picture of the center first, then what changed (the page is the
//! web app's `/wallboard`).

use super::auth::{ApiError, CurrentUser};
use super::AppState;
use crate::store::User;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Upgrades a supervisor's request to the wallboard feed.
pub async fn upgrade(
    user: CurrentUser,
    credential: super::auth::Credential,
    State(state): State<AppState>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    Ok(ws
        .max_message_size(64 << 10)
        .on_upgrade(move |socket| run(socket, user.0, credential, state)))
}

async fn run(socket: WebSocket, user: User, credential: super::auth::Credential, state: AppState) {
    let _counted = state.metrics.ws_session("wallboard");
    let _open = state.closing.open();
    let store = state.store.clone();
    let session_gone = state.session_ends.wait_gone(&store, &credential);
    tokio::pin!(session_gone);
    // A session that expires, idles out or ends in another process (the
    // CLI) is noticed within a minute.
    let mut still_valid = tokio::time::interval(std::time::Duration::from_secs(60));
    still_valid.tick().await;
    let (mut sink, mut stream) = socket.split();
    let Some(hub) = state.hub.clone() else {
        let _ = sink.send(Message::Close(None)).await;
        return;
    };
    // A few pictures of backlog: each one replaces the one before, so a
    // wallboard that falls further behind is dropped and reconnects.
    let (tx, mut rx) = mpsc::channel::<Arc<str>>(8);
    hub.wallboard(user, tx).await;
    loop {
        tokio::select! {
            frame = rx.recv() => match frame {
                Some(f) => {
                    if sink.send(Message::Text((&*f).into())).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = sink.send(Message::Close(None)).await;
                    return;
                }
            },
            msg = stream.next() => match msg {
                // The page sends nothing but pings; anything else is ignored.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = state.closing.wait() => {
                super::ws::close(&mut sink, super::ws::CLOSE_RESTARTING, "server restarting").await;
                return;
            }
            _ = still_valid.tick() => {
                if credential.still_holds(&state).await == Some(false) {
                    super::ws::close(&mut sink, super::ws::CLOSE_SESSION_ENDED, "session ended; log in again").await;
                    return;
                }
            }
            _ = &mut session_gone => {
                super::ws::close(&mut sink, super::ws::CLOSE_SESSION_ENDED, "session ended; log in again").await;
                return;
            }
        }
    }
}
