//! Outbound calls (外拨) through every shipped profile that dials, end to
//! end over pseudo-terminals: the engine is asked to dial, the real driver
//! writes the profile's dial command, the simulated device plays the far
//! end in the profile's own words (answered, busy, no answer, no dial tone,
//! refused), and the CDRs land in a real store with the outbound direction,
//! the agent, the outcome and the device's reason.

use callpop::calls::{DialError, DialRequest};
use callpop::config::Config;
use callpop::devices::profile::{load_all, DeviceKind, LoadedProfile};
use callpop::devices::serial::BoxDevice;
use callpop::engine::Engine;
use callpop::event::{CallEvent, DeviceState, Outcome};
use callpop::phone::{MatchPolicy, Normalizer, NormalizerSettings};
use callpop::sim::far_end::{FarEnd, FarSide};
use callpop::sim::{BoxSim, ModemOptions, ModemSim};
use callpop::store::{CallRow, Store, StoreHandle};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// A dialled call nobody answers is given up after this long here.
const NO_ANSWER: Duration = Duration::from_millis(1500);
/// However busy the machine, each step must come within this long.
const PATIENCE: Duration = Duration::from_secs(20);
/// The dialling agent's user id.
const AGENT: i64 = 1;

enum Sim {
    Box(Box<BoxSim>),
    Modem(ModemSim),
}

impl Sim {
    fn far(&self) -> &FarSide {
        match self {
            Sim::Box(b) => b.far(),
            Sim::Modem(m) => m.far(),
        }
    }

    async fn unplug_and_back(&mut self, events: &mut broadcast::Receiver<CallEvent>) {
        // Out, seen gone by the daemon, then back in: a condition waited
        // for, never a head start (a replug the driver had not noticed
        // yet would look like the line hanging up).
        let gone = |e: &CallEvent| {
            matches!(
                e,
                CallEvent::Device {
                    state: DeviceState::Down { .. },
                    ..
                }
            )
        };
        match self {
            Sim::Box(b) => {
                b.pull_out().await;
                wait(events, gone).await;
                b.plug_in().unwrap();
            }
            Sim::Modem(m) => {
                m.unplug();
                wait(events, gone).await;
                m.plug_in().unwrap();
            }
        }
    }
}

struct Rig {
    sim: Sim,
    events: broadcast::Receiver<CallEvent>,
    lines: callpop::lines::Lines,
    store: StoreHandle,
    line: Arc<str>,
    sees_answer: bool,
    dir: tempfile::TempDir,
}

async fn wait<F: Fn(&CallEvent) -> bool>(
    events: &mut broadcast::Receiver<CallEvent>,
    pred: F,
) -> CallEvent {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match events.recv().await {
                Ok(e) if pred(&e) => return e,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("events closed: {e}"),
            }
        }
    })
    .await
    .expect("the event came")
}

fn request(number: &str) -> DialRequest {
    DialRequest {
        digits: number.to_string(),
        number: number.to_string(),
        agent: "li".into(),
        agent_id: AGENT,
    }
}

impl Rig {
    async fn start(name: &str) -> Rig {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("outbound.db")).unwrap();
        let agent = store
            .users()
            .add_user("li", "李娜", callpop::store::Role::Agent, None, None)
            .unwrap();
        assert_eq!(agent, AGENT);
        let store = StoreHandle::spawn(store);
        let mut profile: LoadedProfile = load_all(None).unwrap()[name].clone();
        if let Some(d) = profile.dialer.as_mut() {
            d.settings.no_answer_ms = NO_ANSWER.as_millis() as u64;
        }
        let sees_answer = profile.dialer.as_ref().unwrap().settings.sees_answer;
        let profile = Arc::new(profile);
        let link = dir.path().join("ttyDEV");
        let sim = match profile.profile.kind {
            DeviceKind::GsmModem => Sim::Modem(
                ModemSim::start(
                    profile.clone(),
                    &link,
                    ModemOptions {
                        echo: false,
                        ..ModemOptions::default()
                    },
                )
                .unwrap(),
            ),
            _ => Sim::Box(Box::new(BoxSim::start(profile.clone(), &link).unwrap())),
        };
        let normalizer = Arc::new(Normalizer::new(NormalizerSettings::default()));
        let mut engine = Engine::new(
            store.clone(),
            normalizer,
            MatchPolicy::default(),
            Default::default(),
        )
        .unwrap();
        let device = BoxDevice::new("dev", link, profile.clone());
        for l in &device.lines {
            engine.set_policy(l, callpop::lines::policy_for(&Config::default(), &profile));
        }
        let mut events = engine.subscribe();
        let lines = callpop::lines::spawn(engine, vec![device], None).unwrap();
        wait(&mut events, |e| {
            matches!(
                e,
                CallEvent::Device {
                    state: DeviceState::Up,
                    ..
                }
            )
        })
        .await;
        Rig {
            sim,
            events,
            lines,
            store,
            line: "dev/1".into(),
            sees_answer,
            dir,
        }
    }

    async fn dial(&mut self, number: &str) -> Result<Arc<str>, DialError> {
        self.lines.control.dial(&self.line, request(number)).await
    }

    /// Waits for the end of `call`: its outcome and reason.
    async fn ended(&mut self, call: &str) -> (Outcome, Option<String>) {
        match wait(
            &mut self.events,
            |e| matches!(e, CallEvent::Ended { call_id, .. } if &**call_id == call),
        )
        .await
        {
            CallEvent::Ended {
                outcome, reason, ..
            } => (outcome, reason),
            _ => unreachable!(),
        }
    }

    async fn alerting(&mut self, call: &str) {
        wait(
            &mut self.events,
            |e| matches!(e, CallEvent::Alerting { call_id, .. } if &**call_id == call),
        )
        .await;
    }

    async fn answered(&mut self, call: &str) {
        wait(
            &mut self.events,
            |e| matches!(e, CallEvent::Answered { call_id, .. } if &**call_id == call),
        )
        .await;
    }
}

/// Every scenario of the issue on one device, in order; the CDRs checked
/// at the end.
async fn scenarios(name: &str) {
    let mut rig = Rig::start(name).await;
    let far = |rig: &Rig, f: FarEnd| rig.sim.far().set(f);
    let mut expected: Vec<(&str, Option<&str>)> = Vec::new();

    // 1. Dialled, the far end rings and answers; the agent hangs up.
    far(
        &rig,
        FarEnd::Answer {
            after: Duration::from_millis(200),
            talk: None,
        },
    );
    let call = rig.dial("13912345678").await.unwrap();
    assert_eq!(rig.sim.far().dialled(1).await[0].1, "13912345678");
    if rig.sees_answer {
        rig.answered(&call).await;
    } else {
        // Nothing more will be said than that the digits are out.
        rig.alerting(&call).await;
    }
    rig.lines.control.hang_up(&call).await.unwrap();
    let answered = if rig.sees_answer {
        Outcome::Answered
    } else {
        Outcome::Unknown
    };
    assert_eq!(rig.ended(&call).await, (answered, None), "{name}: answered");
    rig.sim.far().hung_up(1).await;
    expected.push((answered.as_str(), None));

    // 2. Busy.
    far(&rig, FarEnd::Busy);
    let call = rig.dial("13912345679").await.unwrap();
    assert_eq!(rig.ended(&call).await.0, Outcome::Busy, "{name}: busy");
    expected.push(("busy", None));

    // 3. No answer: given up after the profile's time, and hung up.
    far(&rig, FarEnd::NoAnswer { after: None });
    let call = rig.dial("13912345680").await.unwrap();
    if rig.sees_answer {
        assert_eq!(
            rig.ended(&call).await.0,
            Outcome::NoAnswer,
            "{name}: no answer"
        );
        rig.sim.far().hung_up(2).await;
        expected.push(("no_answer", None));
    } else {
        // A device blind to answers cannot tell no answer from a talk.
        rig.alerting(&call).await;
        rig.lines.control.hang_up(&call).await.unwrap();
        assert_eq!(rig.ended(&call).await.0, Outcome::Unknown);
        expected.push(("unknown", None));
    }

    // 4. No dial tone.
    far(&rig, FarEnd::NoDialTone);
    let call = rig.dial("13912345681").await.unwrap();
    let (outcome, reason) = rig.ended(&call).await;
    assert_eq!(outcome, Outcome::Failed, "{name}: no dial tone");
    assert_eq!(reason.as_deref(), Some("no dial tone"), "{name}");
    expected.push(("failed", Some("no dial tone")));

    // 5. The device refuses the dial (a GSM modem's +CME ERROR).
    far(&rig, FarEnd::Fail);
    let call = rig.dial("13912345682").await.unwrap();
    let (outcome, reason) = rig.ended(&call).await;
    assert_eq!(outcome, Outcome::Failed, "{name}: refused");
    let reason = reason.expect("the device's words");
    let said = match name {
        "text-box-4port" => "LINE FAULT",
        "generic-voice-modem" => "ERROR",
        _ => "30",
    };
    assert_eq!(reason, said, "{name}");
    expected.push(("failed", Some(said)));

    // 6. Cancelled while it dials; a second dial on the busy line is refused.
    far(&rig, FarEnd::NoAnswer { after: None });
    let call = rig.dial("13912345683").await.unwrap();
    if !rig.sees_answer {
        rig.alerting(&call).await;
    }
    assert!(
        matches!(
            rig.dial("13912345684").await,
            Err(DialError::LineBusy { .. })
        ),
        "{name}: a second dial on a busy line"
    );
    let hangups = rig.sim.far().hung_up(0).await.len();
    rig.lines.control.hang_up(&call).await.unwrap();
    let cancelled = if rig.sees_answer {
        "cancelled"
    } else {
        "unknown"
    };
    assert_eq!(
        rig.ended(&call).await.0.as_str(),
        cancelled,
        "{name}: cancel"
    );
    rig.sim.far().hung_up(hangups + 1).await;
    expected.push((cancelled, None));

    // 7. The device vanishes mid-dial: the call fails, the line recovers.
    let call = rig.dial("13912345685").await.unwrap();
    rig.sim.far().dialled(7).await;
    let mut events = rig.events.resubscribe();
    rig.sim.unplug_and_back(&mut events).await;
    let (outcome, reason) = rig.ended(&call).await;
    if rig.sees_answer {
        assert_eq!(outcome, Outcome::Failed, "{name}: vanished");
        assert_eq!(reason.as_deref(), Some("the device went away"));
        expected.push(("failed", Some("the device went away")));
    } else {
        // The voice modem had said its digits were out: the agent's
        // handset may be talking, so what happened is not known.
        assert_eq!(outcome, Outcome::Unknown, "{name}: vanished");
        expected.push(("unknown", None));
    }
    wait(&mut rig.events, |e| {
        matches!(
            e,
            CallEvent::Device {
                state: DeviceState::Up,
                ..
            }
        )
    })
    .await;
    far(
        &rig,
        FarEnd::Answer {
            after: Duration::from_millis(100),
            talk: Some(Duration::from_millis(300)),
        },
    );
    let call = rig.dial("13912345686").await.unwrap();
    if rig.sees_answer {
        // The far end hangs up after talking.
        assert_eq!(
            rig.ended(&call).await.0,
            Outcome::Answered,
            "{name}: after replug"
        );
        expected.push(("answered", None));
    } else {
        rig.alerting(&call).await;
        rig.lines.control.hang_up(&call).await.unwrap();
        assert_eq!(rig.ended(&call).await.0, Outcome::Unknown);
        expected.push(("unknown", None));
    }

    rig.lines.stop().await;
    let calls: Vec<CallRow> = rig.store.calls().call(|s| s.recent(100)).await.unwrap();
    let got: Vec<(String, Option<String>)> = calls
        .iter()
        .map(|c| (c.outcome.clone().unwrap_or_default(), c.failure.clone()))
        .collect();
    let want: Vec<(String, Option<String>)> = expected
        .iter()
        .map(|(o, f)| (o.to_string(), f.map(str::to_string)))
        .collect();
    assert_eq!(got, want, "{name}: {calls:#?}");
    for c in &calls {
        assert_eq!(c.direction, "outbound", "{name}");
        assert_eq!(c.agent_user_id, Some(1), "{name}: the dialling agent");
        assert!(c
            .raw_number
            .as_deref()
            .is_some_and(|n| n.starts_with("139")));
        assert!(c.ended_at.unwrap() >= c.started_at);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_box_dials() {
    scenarios("text-box-4port").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_modem_dials() {
    scenarios("generic-voice-modem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_gsm_profile_dials() {
    let profiles = load_all(None).unwrap();
    let gsm: Vec<String> = profiles
        .values()
        .filter(|p| p.profile.kind == DeviceKind::GsmModem)
        .map(|p| p.profile.name.clone())
        .collect();
    assert!(gsm.len() >= 6, "{gsm:?}");
    for name in gsm {
        assert!(profiles[&name].dialer.is_some(), "{name} has no [dial]");
        scenarios(&name).await;
    }
}

/// A blacklisted caller on a GSM line: the modem is told to hang up, the
/// call pops nowhere (no pop event is sent as refused), ends `rejected`
/// with the list's reason, is audited and opens no call-back item; a caller
/// not on the list rings as ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blacklisted_caller_on_a_gsm_line_is_hung_up() {
    let mut rig = Rig::start("simcom-sim800").await;
    put_block(&rig, "170", true, true).await;
    let Sim::Modem(modem) = &rig.sim else {
        unreachable!("a GSM profile")
    };
    modem.ring(Some("17012345678")).await;
    let caller = match wait(&mut rig.events, |e| {
        matches!(e, CallEvent::CallerIdentified { .. })
    })
    .await
    {
        CallEvent::CallerIdentified {
            caller, call_id, ..
        } => (caller, call_id),
        _ => unreachable!(),
    };
    let blocked = caller.0.blocked.expect("on the list");
    assert!(blocked.rejected);
    assert_eq!(blocked.reason, "骚扰电话");
    rig.sim.far().hung_up(1).await; // ATH reached the modem
    modem.hang_up().await; // NO CARRIER
    let id = caller.1.clone();
    let ended = wait(
        &mut rig.events,
        |e| matches!(e, CallEvent::Ended { call_id, .. } if *call_id == id),
    )
    .await;
    assert!(
        matches!(
            ended,
            CallEvent::Ended {
                outcome: Outcome::Rejected,
                ..
            }
        ),
        "{ended:?}"
    );
    // Someone else rings as ever.
    modem.ring(Some("13812345678")).await;
    let other = match wait(&mut rig.events, |e| {
        matches!(e, CallEvent::CallerIdentified { .. })
    })
    .await
    {
        CallEvent::CallerIdentified { caller, .. } => caller,
        _ => unreachable!(),
    };
    assert_eq!(other.blocked, None);
    modem.hang_up().await;
    rig.lines.stop().await;
    let calls = rig.store.calls().call(|c| c.recent(10)).await.unwrap();
    assert_eq!(calls[0].outcome.as_deref(), Some("rejected"));
    let audit = rig
        .store
        .users()
        .call(|u| u.recent_audit(10))
        .await
        .unwrap();
    assert!(
        audit.iter().any(|a| a.action == "call.rejected"),
        "{audit:?}"
    );
    let queue = rig
        .store
        .followups()
        .call(|f| f.list(&["dev/1".to_string()], 0, 0, 10))
        .await
        .unwrap();
    assert!(
        queue.iter().all(|f| f.number_national != "17012345678"),
        "a blacklisted caller is not called back: {queue:?}"
    );
    // The day's report counts it, outside the calls offered to agents.
    let reader = Store::open_reader(&rig.dir.path().join("outbound.db")).unwrap();
    let now = callpop::store::now_ms();
    let settings = callpop::reports::stats::Settings {
        period: callpop::reports::stats::Period::Total,
        group: callpop::reports::stats::GroupBy::Calls,
        offset: chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
        service_level_secs: 20,
        from: now - 3_600_000,
        to: now + 60_000,
    };
    let report = callpop::reports::Report::build(&reader, &settings, now).unwrap();
    let all = &report.totals[0];
    assert_eq!(
        (all.rejected, all.blacklisted, all.offered),
        (1, 1, 1),
        "{all:?}"
    );
}

/// The pop hub on the same lines: a refused blacklisted caller pops on no
/// desktop, the next caller does, with their number in the work order as
/// people write it (not +86…).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_caller_pops_nowhere() {
    let rig = Rig::start("quectel").await;
    put_block(&rig, "17012345678", false, true).await;
    rig.store
        .agents()
        .call(|a| a.bind_line("dev/1", &callpop::store::Binding::Agent("li".into())))
        .await
        .unwrap();
    rig.store
        .workorders()
        .call(|w| w.put_form(&toml::from_str(callpop::demo::DEMO_FORM).unwrap()))
        .await
        .unwrap();
    let hub = callpop::pop::start(
        &rig.store,
        callpop::pop::HubSettings::from_config(&Default::default()),
        callpop::metrics::Metrics::new(),
        rig.lines.runtime(),
        || rig.lines.subscribe_with_devices(),
    )
    .await
    .unwrap();
    let user = rig
        .store
        .users()
        .call(|u| u.user_by_name("li"))
        .await
        .unwrap()
        .unwrap();
    let (tx, mut frames) = tokio::sync::mpsc::channel(64);
    hub.connect(user, tx).await;
    let Sim::Modem(modem) = &rig.sim else {
        unreachable!("a GSM profile")
    };
    modem.ring(Some("17012345678")).await;
    rig.sim.far().hung_up(1).await;
    modem.hang_up().await;
    modem.ring(Some("+8613812345678")).await;
    modem.ring(Some("+8613812345678")).await;
    // The first pop the desktop gets is the second caller's.
    let pop = tokio::time::timeout(PATIENCE, async {
        loop {
            let frame = frames.recv().await.expect("the hub is up");
            let v: serde_json::Value = serde_json::from_str(&frame).unwrap();
            if v["type"] == "call.ringing" {
                return v;
            }
        }
    })
    .await
    .expect("a pop came");
    assert_eq!(pop["data"]["number"], "+8613812345678", "{pop}");
    // The work order's phone field has it as people write it.
    assert_eq!(pop["data"]["prefill"]["phone"], "13812345678", "{pop}");
}

/// Puts `number` (a whole number, or a prefix) on the inbound blacklist
/// as a nuisance caller, refused where the device can (`reject`).
async fn put_block(rig: &Rig, number: &'static str, prefix: bool, reject: bool) {
    rig.store
        .calls()
        .call(move |c| {
            c.put_call_block(
                &callpop::store::NewCallBlock {
                    number: number.into(),
                    prefix,
                    reason: "骚扰电话".into(),
                    reject,
                },
                None,
                0,
            )
        })
        .await
        .unwrap();
}

/// The engine holds the blacklist in memory: a caller put on it, then
/// taken off it (through another connection, as the console and the CLI
/// write), is judged by the list as it is at each call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blacklist_counts_as_it_is_at_each_call() {
    let mut rig = Rig::start("simcom-sim800").await;
    let Sim::Modem(modem) = &rig.sim else {
        unreachable!("a GSM profile")
    };
    let mut blocked_now = Vec::new();
    for listed in [false, true, false] {
        if listed {
            put_block(&rig, "17012345678", false, false).await;
        } else {
            rig.store
                .calls()
                .call(|c| {
                    for b in c.call_blocks()? {
                        c.remove_call_block(b.id)?;
                    }
                    Ok(())
                })
                .await
                .unwrap();
        }
        modem.ring(Some("17012345678")).await;
        let caller = match wait(&mut rig.events, |e| {
            matches!(e, CallEvent::CallerIdentified { .. })
        })
        .await
        {
            CallEvent::CallerIdentified { caller, .. } => caller,
            _ => unreachable!(),
        };
        blocked_now.push(caller.blocked.clone().map(|b| b.reason));
        modem.hang_up().await;
        wait(&mut rig.events, |e| matches!(e, CallEvent::Ended { .. })).await;
    }
    assert_eq!(blocked_now, [None, Some("骚扰电话".to_string()), None]);
    rig.lines.stop().await;
}
