//! Starts the configured devices and the call engine: the "Lines" part of
//! the daemon, shared by `serve`, `demo` and `devices watch`.
//!
//! The drivers and the engine run on a single-threaded runtime of their own
//! thread. The way from a caller-ID byte to its `CallEvent` then never waits
//! for another thread to wake (each such wake-up costs tens of microseconds),
//! and the engine's synchronous store lookups never hold up a web worker.
//! Consumers on other runtimes subscribe to the broadcast as usual.
//!
//! GSM modems run here too: their calls are lines like any box's, and the
//! [`ModemHandle`]s let the SMS workers hand them parts.

use crate::calls::CallPolicy;
use crate::config::Config;
use crate::devices::audiobox::run_audio_box;
use crate::devices::gsm::driver::{self, GsmDevice, ModemDriver, ModemHandle};
use crate::devices::profile::{self, LoadedProfile};
use crate::devices::serial::{run_box, BoxDevice, PortLocator};
use crate::engine::Engine;
use crate::event::{CallEvent, LineEvent, SmsEvent};
use crate::phone::{MatchPolicy, Normalizer};
use crate::store::StoreHandle;
use anyhow::{anyhow, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// The running line side: call events to subscribe to. Dropping it stops
/// the line side without waiting; [`Lines::stop`] waits.
pub struct Lines {
    pub events: broadcast::Sender<CallEvent>,
    /// The GSM modems among the devices, for the SMS workers.
    pub modems: Vec<ModemHandle>,
    /// What the modems received and what became of sent parts.
    pub sms_events: broadcast::Sender<SmsEvent>,
    /// Each device's latest state (events before a subscription are gone).
    pub device_states: crate::engine::DeviceStates,
    /// The devices as the admin console lists and restarts them.
    pub desk: crate::devices::desk::DeviceDesk,
    /// Dialling and hanging up through the engine.
    pub control: crate::engine::EngineControl,
    /// The lines whose devices can dial, in configuration order.
    pub dialling_lines: Vec<Arc<str>>,
    runtime: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    stopped: Option<oneshot::Receiver<()>>,
}

impl Lines {
    /// The line thread's runtime: a consumer that must see call events
    /// first (the screen-pop hub) runs here, with no thread wake-up between
    /// it and the engine.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// Subscribes to the call events and, first, replays each device's
    /// current state as if it had just reported: a consumer that starts
    /// late still knows which devices are up.
    pub fn subscribe_with_devices(&self) -> (Vec<CallEvent>, broadcast::Receiver<CallEvent>) {
        let rx = self.events.subscribe();
        let states = self
            .device_states
            .lock()
            .map(|s| {
                s.iter()
                    .map(|(device, state)| CallEvent::Device {
                        device: device.clone(),
                        state: state.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        (states, rx)
    }

    /// Stops the drivers, ends the calls still open and returns once their
    /// CDRs are in the store.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
    }
}

/// Devices a config names, resolved against the profiles; errors name the device.
pub fn configured_devices(
    config: &Config,
    profiles: &BTreeMap<String, LoadedProfile>,
    taps: &crate::devices::audio::Taps,
) -> Result<Vec<BoxDevice>> {
    let mut audio_sources = crate::recording::recorder::device_sources(config, profiles)?;
    let tones = config.call_progress.tones()?;
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
            if p.profile.kind == profile::DeviceKind::AudioBox {
                if d.path.is_some() || d.usb_serial.is_some() {
                    return Err(anyhow!(
                        "device {:?} is an audio box, which has no serial port: remove path and usb_serial, and give its sound card with [[audio]]",
                        d.name
                    ));
                }
                let line = crate::devices::serial::line_name(&d.name, 1);
                let source = audio_sources.remove(&line).ok_or_else(|| {
                    anyhow!(
                        "device {:?} is an audio box: give its audio with [[audio]] line = {line:?} (capture or file), or a profile naming its capture device",
                        d.name
                    )
                })?;
                let port = PortLocator::Audio {
                    source,
                    tones: tones.clone(),
                    taps: taps.clone(),
                };
                return Ok(BoxDevice::located(&d.name, port, Arc::new(p.clone())));
            }
            let port = match (&d.path, &d.usb_serial) {
                (Some(path), _) => PortLocator::Path(path.clone()),
                (None, Some(serial)) => PortLocator::UsbSerial(serial.clone()),
                (None, None) => {
                    return Err(anyhow!(
                        "device {:?} needs path or usb_serial to find its port",
                        d.name
                    ))
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
        sees_answer: profile.profile.quirks.reports_off_hook,
        repeats_cid: profile.profile.quirks.repeats_cid,
        rejects_calls: profile
            .dialer
            .as_ref()
            .is_some_and(|d| d.settings.rejects_calls),
        dial: profile.dialer.as_ref().map(|d| crate::calls::DialPolicy {
            sees_answer: d.settings.sees_answer,
            no_answer: Duration::from_millis(d.settings.no_answer_ms),
            confirms_hangup: d.settings.confirms_hangup,
        }),
    }
}

/// Starts `devices` and the engine. With `tap`, every line event is also
/// sent there (for `devices watch`).
pub fn start(
    config: &Config,
    devices: Vec<BoxDevice>,
    store: StoreHandle,
    tap: Option<mpsc::Sender<LineEvent>>,
) -> Result<Lines> {
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
    let mut engine = Engine::new(store, normalizer, match_policy, default_policy)?;
    engine.set_callback_within(Duration::from_secs(config.calls.callback_within_mins * 60));
    for d in &devices {
        for line in &d.lines {
            engine.set_policy(line, policy_for(config, &d.profile));
        }
    }
    spawn(engine, devices, tap)
}

/// Runs `engine` and a driver per device on the line thread. With `tap`,
/// every line event is also sent there.
pub fn spawn(
    mut engine: Engine,
    devices: Vec<BoxDevice>,
    tap: Option<mpsc::Sender<LineEvent>>,
) -> Result<Lines> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let events = engine.sender();
    let device_states = engine.device_states();
    let control = engine.control();
    // A command channel for every device that dials, its lines told to
    // the engine.
    let mut commands: std::collections::HashMap<Arc<str>, crate::devices::serial::Commands> =
        Default::default();
    let mut dialling_lines = Vec::new();
    for d in devices.iter().filter(|d| d.profile.dialer.is_some()) {
        let (tx, rx) = mpsc::channel(crate::engine::DEVICE_COMMANDS);
        for line in &d.lines {
            engine.add_dialer(line, &d.name, tx.clone());
            dialling_lines.push(line.clone());
        }
        commands.insert(d.name.clone(), rx);
    }
    let (sms_events, _) = broadcast::channel(1024);
    let desk = crate::devices::desk::DeviceDesk::new(
        devices
            .iter()
            .map(|d| crate::devices::desk::Entry {
                name: d.name.clone(),
                profile: d.profile.profile.name.clone(),
                kind: d.profile.profile.kind,
                port: d.port.clone(),
                lines: d.lines.clone(),
                restart: (d.profile.profile.kind != profile::DeviceKind::AudioBox)
                    .then(|| d.restart.clone()),
            })
            .collect(),
        device_states.clone(),
    );
    let (gsm, devices): (Vec<_>, Vec<_>) = devices
        .into_iter()
        .partition(|d| d.profile.profile.kind == profile::DeviceKind::GsmModem);
    let (audio_boxes, devices): (Vec<_>, Vec<_>) = devices
        .into_iter()
        .partition(|d| d.profile.profile.kind == profile::DeviceKind::AudioBox);
    let (modems, modem_drivers): (Vec<_>, Vec<_>) = gsm
        .into_iter()
        .map(|d| {
            let mut device = GsmDevice::new(&d.name, d.port, d.profile);
            device.restart = d.restart;
            let (handle, driver) = driver::modem(device, engine.store().sms(), sms_events.clone());
            let mut driver = driver.with_normalizer(engine.normalizer().clone());
            if let Some(rx) = commands.remove(&handle.name) {
                driver = driver.with_commands(rx);
            }
            (handle, driver)
        })
        .unzip();
    let handle = runtime.handle().clone();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let (stopped_tx, stopped) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("callpop-lines".into())
        .spawn(move || {
            runtime.block_on(run_lines(
                engine,
                devices,
                commands,
                audio_boxes,
                modem_drivers,
                tap,
                stop_rx,
            ));
            let _ = stopped_tx.send(());
        })?;
    Ok(Lines {
        events,
        device_states,
        desk,
        control,
        dialling_lines,
        modems,
        sms_events,
        runtime: handle,
        stop: Some(stop),
        stopped: Some(stopped),
    })
}

/// The line thread's work: until told to stop (or its `Lines` is dropped).
async fn run_lines(
    engine: Engine,
    devices: Vec<BoxDevice>,
    mut commands: std::collections::HashMap<Arc<str>, crate::devices::serial::Commands>,
    audio_boxes: Vec<BoxDevice>,
    modems: Vec<ModemDriver>,
    tap: Option<mpsc::Sender<LineEvent>>,
    stop: oneshot::Receiver<()>,
) {
    let (to_engine, rx) = mpsc::channel::<LineEvent>(4096);
    let engine = tokio::spawn(engine.run(rx));
    // Drivers send straight to the engine; only a tap puts a copying task
    // in between.
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
    let mut drivers: Vec<_> = devices
        .into_iter()
        .map(|d| {
            let rx = commands.remove(&d.name);
            tokio::spawn(run_box(d, from_devices.clone(), rx))
        })
        .collect();
    drivers.extend(
        audio_boxes
            .into_iter()
            .map(|d| tokio::spawn(run_audio_box(d, from_devices.clone()))),
    );
    drivers.extend(
        modems
            .into_iter()
            .map(|m| tokio::spawn(m.run(from_devices.clone()))),
    );
    drop(from_devices);
    let _ = stop.await;
    for driver in drivers {
        driver.abort();
        let _ = driver.await;
    }
    // With every sender gone the engine ends open calls and stores them.
    if let Err(e) = engine.await {
        tracing::error!(error = %e, "the call engine failed");
    }
}

/// All profiles, shipped and from `profile_dir`.
pub fn profiles(config: &Config) -> Result<BTreeMap<String, LoadedProfile>> {
    Ok(profile::load_all(config.profile_dir.as_deref())?)
}
