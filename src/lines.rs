//! Starts the configured devices and the call engine: the "Lines" part of
//! the daemon, shared by `serve`, `demo` and `devices watch`.

use crate::calls::CallPolicy;
use crate::config::Config;
use crate::devices::profile::{self, LoadedProfile};
use crate::devices::serial::{run_box, BoxDevice, PortLocator};
use crate::engine::Engine;
use crate::event::{CallEvent, LineEvent};
use crate::phone::{MatchPolicy, Normalizer};
use crate::store::StoreHandle;
use anyhow::{anyhow, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// The running line side: call events to subscribe to.
pub struct Lines {
    pub events: broadcast::Sender<CallEvent>,
}

/// Devices a config names, resolved against the profiles; errors name the device.
pub fn configured_devices(
    config: &Config,
    profiles: &BTreeMap<String, LoadedProfile>,
) -> Result<Vec<BoxDevice>> {
    config
        .devices
        .iter()
        .map(|d| {
            let p = profiles.get(&d.profile).ok_or_else(|| {
                anyhow!(
                    "device {:?}: no profile {:?} (known: {})",
                    d.name,
                    d.profile,
                    profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })?;
            let port = match (&d.path, &d.usb_serial) {
                (Some(path), _) => PortLocator::Path(path.clone()),
                (None, Some(serial)) => PortLocator::UsbSerial(serial.clone()),
                (None, None) => {
                    return Err(anyhow!("device {:?}: give path or usb_serial", d.name))
                }
            };
            Ok(BoxDevice::located(&d.name, port, Arc::new(p.clone())))
        })
        .collect()
}

/// A line's call policy: config, with the ring timeout of its device's profile.
pub fn policy_for(config: &Config, profile: &LoadedProfile) -> CallPolicy {
    CallPolicy {
        missed_after_rings: config.calls.missed_after_rings,
        ring_timeout: Duration::from_millis(profile.profile.quirks.ring_timeout_ms),
        max_call: Duration::from_secs(config.calls.max_call_secs),
    }
}

/// Starts `devices` and the engine. With `tap`, every line event is also
/// sent there (for `devices watch`).
pub fn start(
    config: &Config,
    devices: Vec<BoxDevice>,
    store: StoreHandle,
    tap: Option<mpsc::Sender<LineEvent>>,
) -> Lines {
    let normalizer = Arc::new(Normalizer::new(config.normalizer_settings()));
    let match_policy = MatchPolicy {
        suffix_digits: config.phone.suffix_digits,
        suffix_max_matches: config.phone.suffix_max_matches,
    };
    let default_policy = CallPolicy {
        missed_after_rings: config.calls.missed_after_rings,
        max_call: Duration::from_secs(config.calls.max_call_secs),
        ..CallPolicy::default()
    };
    let mut engine = Engine::new(store, normalizer, match_policy, default_policy);
    for d in &devices {
        for line in &d.lines {
            engine.set_policy(line, policy_for(config, &d.profile));
        }
    }
    let events = engine.sender();
    let (to_engine, rx) = mpsc::channel::<LineEvent>(4096);
    tokio::spawn(engine.run(rx));
    // Drivers send straight to the engine: every task hop costs latency on
    // the way to the pop. Only a tap puts a copying task in between.
    let from_devices = match tap {
        None => to_engine,
        Some(tap) => {
            let (from_devices, mut device_rx) = mpsc::channel::<LineEvent>(4096);
            tokio::spawn(async move {
                while let Some(e) = device_rx.recv().await {
                    let _ = tap.send(e.clone()).await;
                    if to_engine.send(e).await.is_err() {
                        break;
                    }
                }
            });
            from_devices
        }
    };
    for d in devices {
        tokio::spawn(run_box(d, from_devices.clone()));
    }
    Lines { events }
}

/// All profiles, shipped and from `profile_dir`.
pub fn profiles(config: &Config) -> Result<BTreeMap<String, LoadedProfile>> {
    Ok(profile::load_all(config.profile_dir.as_deref())?)
}
