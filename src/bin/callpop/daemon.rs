//! `callpop serve` and `callpop demo`: the daemon.

use crate::{normalizer, open_store};
use anyhow::{bail, Context, Result};
use callpop::config::Config;
use callpop::pop::HubSettings;
use callpop::store::{Binding, StoreHandle};
use callpop::{demo, lines, web};

/// Sample customers the demo seeds into an empty store.
const DEMO_CUSTOMERS: usize = 500;

pub(crate) fn run_demo(mut config: Config, reset: bool) -> Result<()> {
    // Its logins' passwords are in the README: nobody else may reach them.
    if !config.server.listen.ip().is_loopback() {
        bail!(
            "the demo listens only on this machine (127.0.0.1 or ::1), not {}: its logins' \
             passwords are published. To serve other machines, run `callpop serve` with your \
             own users",
            config.server.listen
        );
    }
    let dir = config.data_dir().join("demo");
    if reset && dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot delete {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if config.db.is_none() {
        config.db = Some(dir.join("callpop.db"));
    }
    // A simulated four-port box on a pseudo-terminal, as if plugged in:
    // lines 1 and 2 pop on one agent each, line 3 on the whole sales team.
    let link = dir.join("demo-box.tty");
    config.devices.push(callpop::config::DeviceConfig {
        name: "demo-box".into(),
        path: Some(link.clone()),
        usb_serial: None,
        profile: "text-box-4port".into(),
        sms_rate_per_minute: None,
        sms_daily_cap: None,
    });
    // Two simulated GSM modems (短信猫) for SMS campaigns: a part takes
    // them about as long as a real network.
    let modem_links: Vec<_> = (1..=2)
        .map(|i| (format!("demo-gsm{i}"), dir.join(format!("demo-gsm{i}.tty"))))
        .collect();
    for (name, link) in &modem_links {
        config.devices.push(callpop::config::DeviceConfig {
            name: name.clone(),
            path: Some(link.clone()),
            usb_serial: None,
            profile: "simcom-sim800".into(),
            sms_rate_per_minute: None,
            sms_daily_cap: None,
        });
    }
    // The sales team calls back through the modems when its box lines are
    // busy with the demo's callers (a GSM pool for 外拨, as centers have).
    if config.dial_pools.is_empty() {
        config.dial_pools.push(callpop::config::DialPoolConfig {
            team: "sales".into(),
            lines: modem_links
                .iter()
                .map(|(name, _)| format!("{name}/1"))
                .collect(),
        });
    }
    // Callers get an apology, a receipt and a survey by SMS (the demo's
    // callers answer the surveys).
    demo::after_call_texts(&mut config.sms.after_call);
    // Every demo line "hears" a looped tune, so its calls are recorded.
    let tune = dir.join("demo-line.wav");
    demo::write_demo_audio(&tune).with_context(|| format!("cannot write {}", tune.display()))?;
    for port in 1..=4 {
        config.audio.push(callpop::config::AudioConfig {
            line: format!("demo-box/{port}"),
            capture: None,
            file: Some(tune.clone()),
            rate: None,
            channel: 0,
            pace: callpop::config::Pace::Realtime,
            looped: true,
        });
    }
    let bindings = [
        ("demo-box/1", Binding::Agent("agent1".into())),
        ("demo-box/2", Binding::Agent("agent2".into())),
        ("demo-box/3", Binding::Team("sales".into())),
    ];
    let store = open_store(&config)?;
    let added = demo::seed_customers(&store, &normalizer(&config), DEMO_CUSTOMERS)?;
    demo::seed_desk(&store, &bindings)?;
    let total = store.customers().customer_count()?;
    drop(store);
    println!(
        "callpop demo: database {} with {total} customers ({added} seeded now)",
        config.db_path().display()
    );
    let profiles = lines::profiles(&config)?;
    let profile = std::sync::Arc::new(
        profiles
            .get("text-box-4port")
            .context("the shipped text-box-4port profile is missing")?
            .clone(),
    );
    let modem_profile = std::sync::Arc::new(
        profiles
            .get("simcom-sim800")
            .context("the shipped simcom-sim800 profile is missing")?
            .clone(),
    );
    let logins: Vec<String> = demo::DEMO_USERS
        .iter()
        .map(|(name, display, role, _)| format!("  {name:<10} {} ({display})", role.as_str()))
        .collect();
    let banner = format!(
        "demo logins (password {}):\n{}\nsimulated calls arrive every ~20 s on each of demo-box/1 (agent1), /2 (agent2) and /3 (team sales);\ncall-backs (回拨): the workspace's 待回拨 list and the phone icon beside numbers dial through demo-box (the far end answers, is busy or does not answer, at random);\nSMS campaigns: http://<address>/sms as marketer1, sent through two simulated GSM modems;\ncall recordings: http://<address>/recordings as qa1 or lead1 (every demo call is recorded);\ncall history, statistics and the wallboard: http://<address>/history, /reports, /wallboard as lead1 or admin",
        demo::DEMO_PASSWORD,
        logins.join("\n")
    );
    run(config, Some("demo"), move || {
        let sim = callpop::sim::BoxSim::start(profile, &link);
        let options = callpop::sim::modem::ModemOptions {
            send_latency: std::time::Duration::from_millis(1500),
            ..Default::default()
        };
        let modems: std::io::Result<Vec<_>> = modem_links
            .iter()
            .map(|(_, link)| {
                callpop::sim::modem::ModemSim::start(modem_profile.clone(), link, options.clone())
            })
            .collect();
        Box::pin(async move {
            let sim = sim?;
            let modems = modems?;
            // The demo's lines dial out too: its far ends answer, or are
            // busy, or do not answer, at random.
            sim.far().set(callpop::sim::far_end::FarEnd::Random);
            for m in &modems {
                m.far().set(callpop::sim::far_end::FarEnd::Random);
            }
            let seed = std::process::id() as u64;
            tokio::spawn(demo::answer_surveys(modems, seed));
            println!("{banner}");
            demo::place_random_calls(sim, &[1, 2, 3], 20.0, seed).await
        })
    })
}

pub(crate) fn run_daemon(config: Config, mode: Option<&str>) -> Result<()> {
    run(config, mode, || Box::pin(std::future::pending()))
}

type Extra = std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>>;

/// The daemon: store, lines and pop hub on the line thread, web server;
/// `extra` runs beside them (the demo's simulated box).
fn run(config: Config, mode: Option<&str>, extra: impl FnOnce() -> Extra) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        // The CRMs' connectors and settings are checked before anything starts.
        let crm = callpop::crm::Crm::new(
            callpop::crm::configure(&config.crms).map_err(|e| anyhow::anyhow!(e))?,
        );
        let store = StoreHandle::spawn(open_store(&config)?);
        for b in &config.bindings {
            let binding = match (&b.agent, &b.team) {
                (Some(a), _) => Binding::Agent(a.clone()),
                (None, Some(t)) => Binding::Team(t.clone()),
                (None, None) => continue,
            };
            let line = b.line.clone();
            store
                .agents().call(move |s| s.bind_line(&line, &binding))
                .await
                .with_context(|| format!("[[binding]] of line {:?}", b.line))?;
        }
        // `[[dial_pool]]` sets its teams' pools; the console edits them after.
        for pool in &config.dial_pools {
            let p = pool.clone();
            store
                .agents()
                .call(move |s| s.set_dial_pool(&p.team, &p.lines))
                .await
                .with_context(|| format!("[[dial_pool]] of team {:?}", pool.team))?;
        }
        let dial_pools = store.agents().call(|s| s.dial_pools()).await?;
        // Recordings a crashed process left unfinished are repaired first.
        let root = config.recordings_root();
        store
            .recordings()
            .call(move |s| callpop::recording::recover(s, &root))
            .await
            .context("repairing interrupted recordings")?;
        let profiles = lines::profiles(&config)?;
        // Audio boxes publish what they hear here; the recorder listens.
        let taps = callpop::devices::audio::Taps::default();
        let devices = lines::configured_devices(&config, &profiles, &taps)?;
        // The demo's simulated box is plugged in before the lines start.
        let extra = extra();
        let lines = lines::start(&config, devices, store.clone(), None)?;
        let numbers = std::sync::Arc::new(normalizer(&config));
        let outbox = callpop::sms::Outbox::new(store.clone(), config.sms.clone())
            .with_devices(&config.devices)
            .with_normalizer(numbers.clone());
        let mut sms_workers = callpop::sms::start(&outbox, &lines.modems, lines.sms_events.clone()).await?;
        let campaigns = callpop::sms::Campaigns::new(outbox.clone(), numbers);
        sms_workers.push(tokio::spawn(campaigns.clone().run(lines.sms_events.subscribe())));
        let recorder = tokio::spawn(callpop::recording::recorder::run(
            callpop::recording::recorder::RecorderSettings {
                root: config.recordings_root(),
                sample_rate: config.recording.sample_rate,
                start: config.recording.start,
                sources: callpop::recording::recorder::sources_from_config(&config, &profiles)?,
                taps,
            },
            store.clone(),
            lines.events.subscribe(),
            lines.events.downgrade(),
        ));
        let retention = tokio::spawn(callpop::recording::retention::run(
            store.clone(),
            config.recordings_root(),
            config.recording.archive.clone(),
            config.recording.retention_days,
        ));
        // Devices that reported before these subscribed are replayed to
        // them; one that has not reported yet counts as down.
        let metrics = callpop::metrics::Metrics::new();
        for d in &config.devices {
            metrics.device(&d.name, false);
        }
        let (devices_now, events) = lines.subscribe_with_devices();
        devices_now.iter().for_each(|e| metrics.on_call_event(e));
        tokio::spawn(metrics.clone().run(events));
        let hub_handle = callpop::pop::start(
            &store,
            HubSettings::from_config(&config.screen_pop),
            metrics.clone(),
            lines.runtime(),
            || lines.subscribe_with_devices(),
        )
        .await?;
        // Lookups in the center's own CRMs amend pops; never on the line thread.
        tokio::spawn(crm.clone().run(hub_handle.clone(), lines.events.subscribe()));
        // Their call journals are endpoints of the webhook outbox.
        let journals: Vec<String> = crm
            .connectors()
            .iter()
            .filter(|c| c.connector.journal.is_some())
            .map(|c| c.label.clone())
            .collect();
        store.webhooks().call(move |w| w.keep_crm_journals(&journals)).await?;
        // SMS on call events (apology, receipt, survey) too.
        let after_call = callpop::sms::after_call::AfterCall::new(
            outbox.clone(),
            callpop::sms::after_call::Rules::from_config(&config.sms).map_err(anyhow::Error::msg)?,
            std::sync::Arc::new(normalizer(&config)),
        );
        let wanted = after_call.rules().texts.endpoints();
        store.webhooks().call(move |w| w.keep_internal("sms:", &wanted)).await?;
        // Webhook deliveries from the outbox (nothing to do without endpoints).
        tokio::spawn(callpop::webhooks::worker::run(
            store.clone(),
            callpop::webhooks::worker::WorkerSettings::from_config(&config.webhooks)
                .with_normalizer(std::sync::Arc::new(normalizer(&config)))
                .with_crm(crm.clone())
                .with_after_call(after_call),
        ));
        // Warm in the background of the store thread: requests queue behind
        // it for at most a few seconds on a store of millions.
        let warming = store.clone();
        tokio::spawn(async move {
            if let Err(e) = warming.warm_cache().await {
                tracing::warn!(error = %e, "could not warm the store cache");
            }
        });
        let tls = match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(cert), Some(key)) => Some(web::tls::acceptor(cert, key)?),
            _ => None,
        };
        let listener = web::bind(config.server.listen).await?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        if tls.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "serving plain HTTP on a network address: passwords, sessions and callers' numbers \
                 cross the network unencrypted; give --tls-cert and --tls-key"
            );
        }
        println!(
            "callpop{} listening on {scheme}://{addr}/ (health: {scheme}://{addr}/healthz); Ctrl-C stops it",
            mode.map(|m| format!(" {m}")).unwrap_or_default()
        );
        tracing::info!(%addr, db = %config.db_path().display(), "callpop started");
        let state = web::AppState {
            devices: Some(lines.desk.clone()),
            profile_dir: config.profile_dir.clone(),
            logins: web::Logins::from_config(&config.screen_pop),
            session_ends: Default::default(),
            imports: Default::default(),
            tickets: Default::default(),
            crm: Some(crm.clone()),
            dialer: Some(callpop::outbound::Dialer::new(
                lines.control.clone(),
                hub_handle.clone(),
                config.dial_plan.clone(),
                std::sync::Arc::new(normalizer(&config)),
                lines.dialling_lines.clone(),
                dial_pools,
            )),
            closing: Default::default(),
            store: store.clone(),
            hub: Some(hub_handle),
            settings: std::sync::Arc::new(web::WebSettings {
                secure_cookies: tls.is_some(),
                allowed_origins: config.api.allowed_origins.clone(),
                ..web::WebSettings::from_config(&config.screen_pop)
            }),
            normalizer: std::sync::Arc::new(normalizer(&config)),
            campaigns: Some(campaigns),
            metrics: metrics.clone(),
            reports: web::ReportSettings::from_config(&config.reports),
            recordings: web::RecordingFiles {
                root: config.recordings_root(),
                archive: config.recording.archive.clone(),
                retention_days: config.recording.retention_days,
            },
            uploads: config
                .db_path()
                .parent()
                .map(|p| p.join("uploads"))
                .unwrap_or_else(|| config.data_dir().join("uploads")),
        };
        tokio::spawn(async move {
            if let Err(e) = extra.await {
                tracing::error!(error = %e, "the simulated box stopped");
            }
        });
        match tls {
            Some(tls) => web::serve_tls(listener, tls, state, shutdown_signal()).await?,
            None => web::serve(listener, state, shutdown_signal()).await?,
        }
        for worker in sms_workers {
            worker.abort();
        }
        retention.abort();
        lines.stop().await;
        // The recordings under way are finished before the process ends.
        if tokio::time::timeout(std::time::Duration::from_secs(10), recorder).await.is_err() {
            tracing::warn!("recordings did not finish within 10 s; they are repaired at the next start");
        }
        // Every write queued so far (the last CDRs, agent states, the
        // recordings' rows) is in the database before the process ends.
        if let Err(e) = store.drain().await {
            tracing::error!(error = %e, "could not finish the store's writes");
        }
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
