//! Prometheus metrics (`GET /metrics`): devices up or down, calls by
//! outcome, pops delivered and how long they took, websocket sessions,
//! SMS parts by state and recordings by state. Live figures are counted
//! as they happen; the store's (SMS parts, recordings) are read at each
//! scrape, so they survive restarts.

use crate::event::{CallEvent, DeviceState};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use tokio::sync::broadcast;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    device: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

/// Pop latency buckets, seconds: a pop should reach a desktop in well
/// under a second; the tail up to 10 s shows a struggling desktop.
const POP_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0,
];

struct Inner {
    registry: Registry,
    device_up: Family<DeviceLabels, Gauge>,
    calls: Family<OutcomeLabels, Counter>,
    pops: Counter,
    pop_latency: Histogram,
    ws_sessions: Family<KindLabels, Gauge>,
    sms_parts: Family<StateLabels, Gauge>,
    recordings: Family<StateLabels, Gauge>,
}

/// The daemon's metrics; cheap to clone, shared by every part that counts.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric (all start at zero).
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("callpop");
        let device_up = Family::<DeviceLabels, Gauge>::default();
        registry.register(
            "device_up",
            "Whether a configured device is working (1) or not (0)",
            device_up.clone(),
        );
        let calls = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "calls",
            "Finished calls by outcome (answered, missed, abandoned, outbound, unknown)",
            calls.clone(),
        );
        let pops = Counter::default();
        registry.register(
            "pops_delivered",
            "Screen-pops acknowledged by an agent desktop",
            pops.clone(),
        );
        let pop_latency = Histogram::new(POP_BUCKETS);
        registry.register(
            "pop_latency_seconds",
            "From the caller being known (or the second ring) to the desktop's acknowledgement",
            pop_latency.clone(),
        );
        let ws_sessions = Family::<KindLabels, Gauge>::default();
        registry.register(
            "websocket_sessions",
            "Open websocket connections by kind (desktop, wallboard, sms)",
            ws_sessions.clone(),
        );
        let sms_parts = Family::<StateLabels, Gauge>::default();
        registry.register(
            "sms_parts",
            "SMS parts in the store by state",
            sms_parts.clone(),
        );
        let recordings = Family::<StateLabels, Gauge>::default();
        registry.register(
            "recordings",
            "Recordings in the store by state; failed and repaired ones are recording errors",
            recordings.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                device_up,
                calls,
                pops,
                pop_latency,
                ws_sessions,
                sms_parts,
                recordings,
            }),
        }
    }

    /// Counts what a call event tells: a device's state, a finished call.
    pub fn on_call_event(&self, e: &CallEvent) {
        match e {
            CallEvent::Device { device, state } => {
                let up = i64::from(matches!(state, DeviceState::Up));
                self.device(device, up == 1);
            }
            CallEvent::Ended { outcome, .. } => {
                self.inner
                    .calls
                    .get_or_create(&OutcomeLabels {
                        outcome: outcome.as_str().into(),
                    })
                    .inc();
            }
            _ => {}
        }
    }

    /// Sets a device up or down (also for devices configured but never seen).
    pub fn device(&self, device: &str, up: bool) {
        self.inner
            .device_up
            .get_or_create(&DeviceLabels {
                device: device.into(),
            })
            .set(i64::from(up));
    }

    /// A desktop acknowledged a pop `secs` after the hub had it.
    pub fn pop_delivered(&self, secs: f64) {
        self.inner.pops.inc();
        self.inner.pop_latency.observe(secs);
    }

    /// Counts an open websocket of `kind` until the guard is dropped.
    pub fn ws_session(&self, kind: &str) -> SessionGuard {
        let gauge = self
            .inner
            .ws_sessions
            .get_or_create(&KindLabels { kind: kind.into() })
            .clone();
        gauge.inc();
        SessionGuard(gauge)
    }

    /// The exposition in OpenMetrics (what Prometheus asks for), with the
    /// store's figures as of now.
    pub fn render(&self, sms_parts: &[(String, i64)], recordings: &[(String, i64)]) -> String {
        for (family, rows) in [
            (&self.inner.sms_parts, sms_parts),
            (&self.inner.recordings, recordings),
        ] {
            family.clear();
            for (state, n) in rows {
                family
                    .get_or_create(&StateLabels {
                        state: state.clone(),
                    })
                    .set(*n);
            }
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }

    /// Follows the call events until they end.
    pub async fn run(self, mut events: broadcast::Receiver<CallEvent>) {
        loop {
            match events.recv().await {
                Ok(e) => self.on_call_event(&e),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "metrics fell behind the call events");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}

/// The same exposition in the Prometheus text format 0.0.4, for clients
/// that do not ask for OpenMetrics (curl, promtool): a counter's HELP and
/// TYPE name its `_total` series, and there is no `# EOF`.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64);
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{p}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Holds one websocket session in the gauge.
pub struct SessionGuard(Gauge);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_exposition() {
        let m = Metrics::new();
        m.device("box1", true);
        m.on_call_event(&CallEvent::Device {
            device: "gsm1".into(),
            state: DeviceState::Down {
                reason: "unplugged".into(),
            },
        });
        m.on_call_event(&CallEvent::Ended {
            call_id: "c".into(),
            line: "box1/1".into(),
            outcome: crate::event::Outcome::Missed,
            reason: None,
        });
        m.pop_delivered(0.042);
        let guard = m.ws_session("desktop");
        let text = m.render(&[("delivered".into(), 7)], &[("failed".into(), 1)]);
        for line in [
            "callpop_device_up{device=\"box1\"} 1",
            "callpop_device_up{device=\"gsm1\"} 0",
            "callpop_calls_total{outcome=\"missed\"} 1",
            "callpop_pops_delivered_total 1",
            "callpop_pop_latency_seconds_bucket{le=\"0.05\"} 1",
            "callpop_pop_latency_seconds_bucket{le=\"0.025\"} 0",
            "callpop_websocket_sessions{kind=\"desktop\"} 1",
            "callpop_sms_parts{state=\"delivered\"} 7",
            "callpop_recordings{state=\"failed\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing from\n{text}"
            );
        }
        let text04 = to_prometheus_text(&text);
        assert!(text04.contains("# TYPE callpop_calls_total counter\n"));
        assert!(text04.contains("# HELP callpop_calls_total Finished calls"));
        assert!(text04.contains("# TYPE callpop_device_up gauge\n"));
        assert!(!text04.contains("# EOF"));
        drop(guard);
        assert!(m
            .render(&[], &[])
            .contains("callpop_websocket_sessions{kind=\"desktop\"} 0"));
    }
}
