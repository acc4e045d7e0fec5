//! Webhook deliveries per second from the durable outbox to a local
//! receiver (axum on 127.0.0.1, answering 200 at once): the store, the
//! worker and the signatures are the real ones. Events are written first
//! (as facts would write them), then the worker is started and the clock
//! runs until the receiver has every delivery. One endpoint gets its
//! events strictly one after another (its order); several endpoints are
//! served in parallel.
//!
//! flock /tmp/cargo.lock cargo run --release --example bench_webhooks -- [EVENTS] [ENDPOINTS]

use axum::extract::State;
use axum::http::StatusCode;
use callpop::store::{EndpointSettings, Role, Store, StoreHandle};
use callpop::webhooks::worker::{run, WorkerSettings};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn receive(State(n): State<Arc<AtomicUsize>>) -> StatusCode {
    n.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let arg = |i: usize, default: usize| -> anyhow::Result<usize> {
        Ok(std::env::args()
            .nth(i)
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let events = arg(1, 5000)?;
    let endpoints = arg(2, 1)?;

    let received = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("bench.db"))?;
    store
        .users()
        .add_user("admin", "Admin", Role::Admin, None, None)?;
    let admin = store.users().user_by_name("admin")?.expect("just added");
    let all = ["*".to_string()];
    for _ in 0..endpoints {
        store.webhooks().add_endpoint(
            &EndpointSettings::webhook(&url, &all),
            "whsec_bench",
            &admin,
            None,
        )?;
    }
    let written = Instant::now();
    for i in 0..events {
        store.webhooks().emit(
            "customer.updated",
            &serde_json::json!({ "id": i, "name": "周杰", "phones": ["+8613812345678"] }),
        )?;
    }
    println!(
        "{events} events for {endpoints} endpoint(s) written in {:.2} s",
        written.elapsed().as_secs_f64()
    );
    let store = StoreHandle::spawn(store);
    let want = events * endpoints;
    let start = Instant::now();
    tokio::spawn(run(
        store.clone(),
        WorkerSettings {
            poll: Duration::from_millis(20),
            ..WorkerSettings::default()
        },
    ));
    while received.load(Ordering::Relaxed) < want {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{want} deliveries in {secs:.2} s: {:.0} deliveries/s ({:.0} per endpoint/s)",
        want as f64 / secs,
        want as f64 / secs / endpoints as f64
    );
    Ok(())
}
