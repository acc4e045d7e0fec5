//! Every shipped box profile end to end over real pseudo-terminals: the
//! simulator plays calls, the real driver, parser and call engine handle
//! them, and the CDRs land in a real SQLite store exactly as expected.

use callpop::calls::CallPolicy;
use callpop::devices::profile::load_all;
use callpop::devices::serial::BoxDevice;
use callpop::engine::Engine;
use callpop::event::{CallEvent, DeviceState};
use callpop::phone::{MatchPolicy, Normalizer, NormalizerSettings};
use callpop::sim::script::parse;
use callpop::sim::BoxSim;
use callpop::store::{CallRow, NewCustomer, NewPhone, Store, StoreHandle};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

const RING_TIMEOUT: Duration = Duration::from_millis(700);

/// One scenario after the other, each ending with silence well past the
/// ring timeout (a busy CI machine may delay the driver by a few hundred ms).
const SCRIPT: &str = "
# 1 answered call from a known customer
ring
cid 13812345678
ring
answer
wait 200ms
hangup
wait 1500ms
# 2 missed: three rings, nobody answers
ring
cid 13900000001
ring
ring
wait 1500ms
# 3 private number, caller gives up after one ring
ring
private
wait 1500ms
# 4 number only, garbage between events
garbage 40
ring
garbage 25
cid 01065528888
wait 1500ms
# 5 a caller ID the device mangles: never a number
ring
badcid 13700000000
wait 1500ms
# 6 unplug and replug in the middle of an answered call: it ends at the unplug
ring
cid 13812345678
answer
unplug 1s
wait 1500ms
hangup
wait 1500ms
";

async fn wait_for_up(events: &mut broadcast::Receiver<CallEvent>, n: usize) {
    let mut ups = 0;
    tokio::time::timeout(Duration::from_secs(10), async {
        while ups < n {
            if let Ok(CallEvent::Device {
                state: DeviceState::Up,
                ..
            }) = events.recv().await
            {
                ups += 1;
            }
        }
    })
    .await
    .expect("device came up");
}

/// A simulated device on a pseudo-terminal, the real driver and engine, and
/// a store holding one customer (王伟, 13812345678).
struct Rig {
    sim: BoxSim,
    events: broadcast::Receiver<CallEvent>,
    lines: callpop::lines::Lines,
    store: StoreHandle,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// Starts the rig; the device refuses `refused` commands.
    fn start(profile_name: &str, refused: &[&str]) -> Rig {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("lines.db")).unwrap();
        let normalizer = Arc::new(Normalizer::new(NormalizerSettings::default()));
        store
            .customers()
            .insert_customer(&NewCustomer {
                name: "王伟".into(),
                phones: vec![NewPhone {
                    number: normalizer.normalize("13812345678").unwrap(),
                    label: None,
                }],
                ..NewCustomer::default()
            })
            .unwrap();
        let store = StoreHandle::spawn(store);
        let profile = Arc::new(load_all(None).unwrap()[profile_name].clone());
        let link = dir.path().join("ttyBOX");
        let sim = BoxSim::start_refusing(profile.clone(), &link, refused).unwrap();
        let policy = CallPolicy {
            missed_after_rings: 3,
            ring_timeout: RING_TIMEOUT,
            max_call: Duration::from_secs(3600),
            sees_answer: profile.profile.quirks.reports_off_hook,
            repeats_cid: false,
            dial: None,
            rejects_calls: false,
        };
        let engine =
            Engine::new(store.clone(), normalizer, MatchPolicy::default(), policy).unwrap();
        let events = engine.subscribe();
        let lines =
            callpop::lines::spawn(engine, vec![BoxDevice::new("box1", link, profile)], None)
                .unwrap();
        Rig {
            sim,
            events,
            lines,
            store,
            _dir: dir,
        }
    }
}

async fn run(profile_name: &str) -> Vec<CallRow> {
    let mut rig = Rig::start(profile_name, &[]);
    wait_for_up(&mut rig.events, 1).await;
    let actions = parse(SCRIPT).unwrap();
    rig.sim.play(&actions).await.unwrap();
    tokio::time::sleep(RING_TIMEOUT * 2).await;
    // Stopping ends what is still open and waits for the CDRs.
    rig.lines.stop().await;
    rig.store.calls().call(|s| s.recent(100)).await.unwrap()
}

/// (outcome, raw number, presentation, ring count, matched customer)
type Expected = (
    &'static str,
    Option<&'static str>,
    &'static str,
    u32,
    Option<i64>,
);

fn check(calls: &[CallRow], expected: &[Expected]) {
    let got: Vec<Expected> = calls
        .iter()
        .map(|c| {
            (
                leak(c.outcome.clone().unwrap_or_default()),
                c.raw_number.clone().map(leak),
                leak(c.presentation.clone()),
                c.ring_count,
                c.customer_id,
            )
        })
        .collect();
    assert_eq!(got, expected, "{calls:#?}");
    for c in calls {
        let ended = c.ended_at.expect("every call ended");
        assert!(ended >= c.started_at);
        if let Some(a) = c.answered_at {
            assert!(a <= ended && a >= c.started_at);
        }
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_box_calls_become_exact_cdrs() {
    let calls = run("text-box-4port").await;
    check(
        &calls,
        &[
            ("answered", Some("13812345678"), "available", 2, Some(1)),
            ("missed", Some("13900000001"), "available", 3, None),
            ("abandoned", None, "private", 1, None),
            ("abandoned", Some("01065528888"), "available", 1, None),
            ("abandoned", None, "available", 1, None),
            ("answered", Some("13812345678"), "available", 1, Some(1)),
        ],
    );
    // The call answered when the box was unplugged ends at the unplug (the
    // box can no longer tell), not at the hang-up 2.5 s later after the
    // replug, which finds no call and adds none.
    let last = calls.last().unwrap();
    assert!(
        last.ended_at.unwrap() - last.answered_at.unwrap() < 2000,
        "{last:?}"
    );
    assert_eq!(calls[0].number_e164.as_deref(), Some("+8613812345678"));
    assert_eq!(calls[0].match_rule.as_deref(), Some("exact"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsk_module_calls_become_exact_cdrs() {
    let calls = run("ht9032-fsk-module").await;
    check(
        &calls,
        &[
            ("answered", Some("13812345678"), "available", 2, Some(1)),
            ("missed", Some("13900000001"), "available", 3, None),
            ("abandoned", None, "private", 1, None),
            ("abandoned", Some("01065528888"), "available", 1, None),
            // The bad-checksum frame was rejected: the call has no number.
            ("abandoned", None, "available", 1, None),
            ("answered", Some("13812345678"), "available", 1, Some(1)),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_modem_calls_become_exact_cdrs() {
    // A voice modem cannot see an extension answer (reports_off_hook =
    // false): its calls end when the rings stop, and nobody knows whether
    // they were answered.
    let calls = run("generic-voice-modem").await;
    check(
        &calls,
        &[
            ("unknown", Some("13812345678"), "available", 2, Some(1)),
            ("unknown", Some("13900000001"), "available", 3, None),
            ("unknown", None, "private", 1, None),
            ("unknown", Some("01065528888"), "available", 1, None),
            ("unknown", None, "available", 1, None),
            ("unknown", Some("13812345678"), "available", 1, Some(1)),
        ],
    );
}

async fn first_state(events: &mut broadcast::Receiver<CallEvent>) -> DeviceState {
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let Ok(CallEvent::Device { state, .. }) = events.recv().await {
                return state;
            }
        }
    })
    .await
    .expect("the device reported a state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_falls_back_when_a_command_is_refused() {
    // Chipsets without AT+VCID take AT#CID=1: the modem still comes up.
    let mut rig = Rig::start("generic-voice-modem", &["AT+VCID=1"]);
    assert_eq!(first_state(&mut rig.events).await, DeviceState::Up);
    rig.lines.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_refusing_a_required_step_is_reported_down() {
    let mut rig = Rig::start("generic-voice-modem", &["ATZ"]);
    match first_state(&mut rig.events).await {
        DeviceState::Down { reason } => assert!(reason.contains("ATZ"), "{reason}"),
        DeviceState::Up => panic!("a modem refusing ATZ came up"),
    }
    rig.lines.stop().await;
}
