//! `callpop serve` and `callpop demo`: the daemon.

use crate::{normalizer, open_store};
use anyhow::{Context, Result};
use callpop::config::Config;
use callpop::store::StoreHandle;
use callpop::{demo, lines, web};

/// Sample customers the demo seeds into an empty store.
const DEMO_CUSTOMERS: usize = 500;

pub(crate) fn run_demo(mut config: Config, reset: bool) -> Result<()> {
    let dir = config.data_dir().join("demo");
    if reset && dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot delete {}", dir.display()))?;
    }
    if config.db.is_none() {
        config.db = Some(dir.join("callpop.db"));
    }
    let store = open_store(&config)?;
    let added = demo::seed_customers(&store, &normalizer(&config), DEMO_CUSTOMERS)?;
    let total = store.customer_count()?;
    drop(store);
    println!(
        "callpop demo: database {} with {total} customers ({added} seeded now)",
        config.db_path().display()
    );
    run_daemon(config, Some("demo"))
}

pub(crate) fn run_daemon(config: Config, mode: Option<&str>) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let store = StoreHandle::spawn(open_store(&config)?);
        let profiles = lines::profiles(&config)?;
        let devices = lines::configured_devices(&config, &profiles)?;
        let _lines = lines::start(&config, devices, store.clone(), None)?;
        // Warm in the background of the store thread: requests queue behind
        // it for at most a few seconds on a store of millions.
        let warming = store.clone();
        tokio::spawn(async move {
            if let Err(e) = warming.call(|s| s.warm_cache()).await {
                tracing::warn!(error = %e, "could not warm the store cache");
            }
        });
        let listener = web::bind(config.server.listen).await?;
        let addr = listener.local_addr()?;
        println!(
            "callpop{} listening on http://{addr}/ (health: http://{addr}/healthz); Ctrl-C stops it",
            mode.map(|m| format!(" {m}")).unwrap_or_default()
        );
        tracing::info!(%addr, db = %config.db_path().display(), "callpop started");
        web::serve(listener, web::AppState { store }, shutdown_signal()).await?;
        tracing::info!("callpop stopped");
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
