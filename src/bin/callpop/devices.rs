//! `callpop profiles|devices|sim ...`: device models, ports and simulators.

use crate::daemon::shutdown_signal;
use crate::{open_store, ProfilesCommand};
use anyhow::{Context, Result};
use callpop::config::Config;
use callpop::lines;
use callpop::store::StoreHandle;
use std::path::PathBuf;

pub(crate) fn run_profiles(command: ProfilesCommand, config: &Config) -> Result<()> {
    match command {
        ProfilesCommand::List { json } => {
            let all = lines::profiles(config)?;
            if json {
                let list: Vec<_> = all
                    .values()
                    .map(|p| {
                        serde_json::json!({
                            "name": p.profile.name, "kind": p.profile.kind,
                            "description": p.profile.description, "origin": p.origin,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for p in all.values() {
                    println!(
                        "{:24} {:12} {}",
                        p.profile.name,
                        format!("{:?}", p.profile.kind),
                        p.profile.description
                    );
                }
            }
        }
        ProfilesCommand::Show { name } => {
            let all = lines::profiles(config)?;
            let p = all.get(&name).ok_or_else(|| {
                anyhow::anyhow!("no profile {name:?}; `callpop profiles list` shows them")
            })?;
            println!("# {}", p.origin);
            print!("{}", toml::to_string_pretty(&p.profile)?);
        }
        ProfilesCommand::Check { file } => {
            let p = callpop::devices::profile::load_file(&file)?;
            let dials = match &p.profile.dial {
                Some(d) => format!(
                    "; dials with {:?} ({} replies, {} the answer)",
                    d.command,
                    d.replies.len(),
                    if d.sees_answer { "sees" } else { "cannot see" }
                ),
                None => String::new(),
            };
            println!(
                "{}: profile {:?} ({:?}) is valid: {} init steps, {} grammar rules{dials}",
                file.display(),
                p.profile.name,
                p.profile.kind,
                p.profile.init.len(),
                p.grammar.len()
            );
        }
    }
    Ok(())
}

pub(crate) fn devices_list(config: &Config, json: bool) -> Result<()> {
    use callpop::devices::profile::candidates;
    let profiles = lines::profiles(config)?;
    let by_id: std::collections::HashMap<PathBuf, PathBuf> = std::fs::read_dir("/dev/serial/by-id")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| Some((std::fs::canonicalize(e.path()).ok()?, e.path())))
                .collect()
        })
        .unwrap_or_default();
    let ports = tokio_serial::available_ports().unwrap_or_default();
    let mut rows = Vec::new();
    for port in ports {
        let usb = callpop::devices::serial::usb_info(&port.port_type);
        let stable = by_id
            .get(&PathBuf::from(&port.port_name))
            .map(|p| p.display().to_string());
        rows.push(serde_json::json!({
            "port": port.port_name,
            "stable_path": stable,
            "usb": usb,
            "profiles": candidates(&profiles, &usb),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if rows.is_empty() {
        println!(
            "no serial ports found (a USB box or modem shows up as /dev/ttyUSBn or /dev/ttyACMn)"
        );
    } else {
        for r in &rows {
            println!(
                "{}  {}  usb {}  serial {}  {} {}  profiles: {}",
                r["port"].as_str().unwrap_or(""),
                r["stable_path"].as_str().unwrap_or("(no stable path)"),
                r["usb"]["id"].as_str().unwrap_or("-"),
                r["usb"]["serial_number"].as_str().unwrap_or("-"),
                r["usb"]["manufacturer"].as_str().unwrap_or(""),
                r["usb"]["product"].as_str().unwrap_or(""),
                r["profiles"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default(),
            );
        }
    }
    Ok(())
}

pub(crate) fn devices_watch(config: Config, json: bool) -> Result<()> {
    let profiles = lines::profiles(&config)?;
    let devices = lines::configured_devices(&config, &profiles, &Default::default())?;
    if devices.is_empty() {
        anyhow::bail!(
            "no [[device]] configured; add one to the config file (see examples/callpop.toml)"
        );
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let store = StoreHandle::spawn(open_store(&config)?);
        let (tap, mut line_events) = tokio::sync::mpsc::channel(1024);
        let running = lines::start(&config, devices, store, Some(tap))?;
        let mut calls = running.events.subscribe();
        let print = |v: serde_json::Value, text: String| {
            if json {
                println!("{v}");
            } else {
                println!("{text}");
            }
        };
        loop {
            tokio::select! {
                Some(e) = line_events.recv() => {
                    let kind = match &e.kind {
                        callpop::event::LineEventKind::Signal(s) => serde_json::to_value(s)?,
                        callpop::event::LineEventKind::Device(d) => serde_json::to_value(d)?,
                    };
                    let time = chrono::DateTime::from_timestamp_millis(e.at_ms).unwrap_or_default().with_timezone(&chrono::Local).format("%H:%M:%S%.3f");
                    print(
                        serde_json::json!({"event": "line", "at_ms": e.at_ms, "line": e.line, "device": e.device, "data": kind}),
                        format!("{time} line {:10} {}", e.line, kind),
                    );
                }
                Ok(c) = calls.recv() => {
                    let v = serde_json::to_value(&c)?;
                    let time = chrono::Local::now().format("%H:%M:%S%.3f");
                    print(serde_json::json!({"event": "call", "data": v}), format!("{time} call {v}"));
                }
                _ = shutdown_signal() => break,
            }
        }
        Ok(())
    })
}

pub(crate) fn sim_box(
    config: &Config,
    profile: &str,
    link: &std::path::Path,
    script: Option<&std::path::Path>,
    random: Option<f64>,
    far_end: callpop::sim::far_end::FarEnd,
) -> Result<()> {
    use callpop::sim::script::parse;
    let profiles = lines::profiles(config)?;
    let p = profiles.get(profile).ok_or_else(|| {
        anyhow::anyhow!("no profile {profile:?}; `callpop profiles list` shows them")
    })?;
    let actions = match script {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?
        }
        None => Vec::new(),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let link = link.to_path_buf();
    let profile_name = p.profile.name.clone();
    let profile = std::sync::Arc::new(p.clone());
    runtime.block_on(async move {
        let mut sim = callpop::sim::BoxSim::start(profile, &link)?;
        sim.far().set(far_end);
        println!(
            "simulated {profile_name} at {} (Ctrl-C stops it)",
            sim.link().display()
        );
        let play = async move {
            sim.play(&actions).await?;
            match random {
                Some(interval) => {
                    let seed = std::process::id() as u64;
                    callpop::demo::place_random_calls(sim, &[1], interval, seed).await
                }
                None => {
                    // Stays plugged in until stopped.
                    let _plugged = sim;
                    std::future::pending::<std::io::Result<()>>().await
                }
            }
        };
        tokio::select! {
            r = play => r?,
            _ = shutdown_signal() => {}
        }
        Ok(())
    })
}

/// How `callpop sim modem` behaves.
pub(crate) struct SimModemArgs {
    pub send_latency_ms: u64,
    pub incoming: Option<f64>,
    pub starting: f64,
    /// How the far end of calls it dials behaves.
    pub far_end: callpop::sim::far_end::FarEnd,
}

pub(crate) fn sim_modem(
    config: &Config,
    profile: &str,
    link: &std::path::Path,
    args: SimModemArgs,
) -> Result<()> {
    let SimModemArgs {
        send_latency_ms,
        incoming,
        starting,
        far_end,
    } = args;
    if !(0.0..=3600.0).contains(&starting) {
        anyhow::bail!("--starting must be between 0 and 3600 seconds");
    }
    let profiles = lines::profiles(config)?;
    let profile = gsm_profile_for(&profiles, link, Some(profile))?;
    let link = link.to_path_buf();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let options = callpop::sim::ModemOptions {
            send_latency: std::time::Duration::from_millis(send_latency_ms),
            starting_for: std::time::Duration::from_secs_f64(starting),
            ..Default::default()
        };
        let sim = callpop::sim::ModemSim::start(profile.clone(), &link, options)?;
        sim.far().set(far_end);
        println!(
            "simulated {} modem at {} (Ctrl-C stops it)",
            profile.profile.name,
            sim.link().display()
        );
        let messages = async {
            let Some(every) = incoming else {
                return std::future::pending::<()>().await;
            };
            let mut rng = callpop::demo::SplitMix::new(std::process::id() as u64);
            let texts = [
                "您好，请问你们的售后电话是多少？",
                "T",
                "收到，谢谢！明天下午三点可以上门吗？我家地址是朝阳区建国路88号，麻烦师傅来之前先打个电话。",
                "Please call me back about order 1234.",
            ];
            loop {
                let wait = every * (0.5 + rng.below(100) as f64 / 100.0);
                tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
                let from = format!("+86138{:08}", rng.below(100_000_000));
                sim.receive(&from, texts[rng.below(texts.len())]).await;
            }
        };
        tokio::select! {
            _ = messages => {}
            _ = shutdown_signal() => {}
        }
        Ok(())
    })
}

/// The GSM profile for a port: the one named, else the best match for its
/// USB ids, else SIMCom's (plain 27.005/27.007 commands).
pub(crate) fn gsm_profile_for(
    profiles: &std::collections::BTreeMap<String, callpop::devices::profile::LoadedProfile>,
    port: &std::path::Path,
    named: Option<&str>,
) -> Result<std::sync::Arc<callpop::devices::profile::LoadedProfile>> {
    use callpop::devices::profile::{candidates, DeviceKind};
    let name = match named {
        Some(n) => n.to_string(),
        None => {
            let real = std::fs::canonicalize(port).unwrap_or_else(|_| port.to_path_buf());
            let usb = tokio_serial::available_ports()
                .unwrap_or_default()
                .into_iter()
                .find(|p| {
                    std::fs::canonicalize(&p.port_name).ok().as_deref() == Some(real.as_path())
                })
                .map(|p| callpop::devices::serial::usb_info(&p.port_type))
                .unwrap_or_default();
            candidates(profiles, &usb)
                .into_iter()
                .find(|n| profiles[*n].profile.kind == DeviceKind::GsmModem)
                .unwrap_or("simcom-sim800")
                .to_string()
        }
    };
    let p = profiles.get(&name).ok_or_else(|| {
        anyhow::anyhow!("no profile {name:?}; `callpop profiles list` shows them")
    })?;
    if p.profile.kind != DeviceKind::GsmModem {
        anyhow::bail!("profile {name:?} is not a gsm-modem");
    }
    Ok(std::sync::Arc::new(p.clone()))
}

pub(crate) fn modem_probe(
    config: &Config,
    port: &std::path::Path,
    profile: Option<&str>,
    json: bool,
) -> Result<()> {
    let profiles = lines::profiles(config)?;
    let profile = gsm_profile_for(&profiles, port, profile)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let info = runtime.block_on(async {
        let mut at = callpop::devices::gsm::port::AtPort::open(port, profile.clone())?;
        callpop::devices::gsm::port::probe(&mut at).await
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!(
        "port          {} (profile {})",
        port.display(),
        profile.profile.name
    );
    println!("manufacturer  {}", show(&info.manufacturer));
    println!("model         {}", show(&info.model));
    println!("firmware      {}", show(&info.firmware));
    println!("IMEI          {}", show(&info.imei));
    println!("IMSI          {}", show(&info.imsi));
    println!("SIM           {}", show(&info.sim));
    println!("operator      {}", show(&info.operator));
    println!("registration  {}", show(&info.registration));
    println!(
        "signal        {}",
        info.signal_dbm
            .map(|d| format!("{d} dBm"))
            .unwrap_or_else(|| "-".into())
    );
    println!("SMSC          {}", show(&info.smsc));
    Ok(())
}
