//! The running devices as the admin console sees them: each configured
//! device with its profile, port, lines, live state and USB identity, and
//! a way to restart it. Built by the line side when it starts; read from
//! the web workers (the live states are the engine's, behind a mutex).

use super::profile::{DeviceKind, UsbInfo};
use super::restart::Restart;
use super::serial::PortLocator;
use crate::engine::DeviceStates;
use crate::event::DeviceState;
use serde::Serialize;
use std::sync::Arc;

/// The configured devices and their live states.
#[derive(Clone)]
pub struct DeviceDesk {
    entries: Arc<Vec<Entry>>,
    states: DeviceStates,
}

/// One configured device as started.
#[derive(Clone)]
pub struct Entry {
    pub name: Arc<str>,
    pub profile: String,
    pub kind: DeviceKind,
    pub port: PortLocator,
    pub lines: Vec<Arc<str>>,
    /// `None` for a device that has no port to reopen (an audio box).
    pub restart: Option<Restart>,
}

/// How a device's port is found, for people.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum PortView {
    Path(String),
    UsbSerial(String),
    Audio,
}

/// A device as the console lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceStatus {
    pub name: String,
    pub profile: String,
    pub kind: DeviceKind,
    pub port: PortView,
    pub lines: Vec<String>,
    /// `None` until the driver first reports.
    pub up: Option<bool>,
    /// Why it is down (the last error), while it is.
    pub error: Option<String>,
    pub restartable: bool,
    /// What the system says of its USB side, when its port is plugged in.
    pub usb: Option<UsbInfo>,
}

/// Why a restart was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RestartError {
    #[error("no device {0:?}")]
    Unknown(String),
    #[error("device {0:?} has no port to reopen")]
    NotRestartable(String),
}

impl DeviceDesk {
    /// A desk over `entries`, whose states the engine keeps in `states`.
    pub fn new(entries: Vec<Entry>, states: DeviceStates) -> DeviceDesk {
        DeviceDesk {
            entries: Arc::new(entries),
            states,
        }
    }

    /// The devices as started, in configuration order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every device, in configuration order, with its state now. Looks the
    /// ports up among the system's serial ports (a blocking call: run it
    /// off the async workers).
    pub fn status(&self) -> Vec<DeviceStatus> {
        let ports = tokio_serial::available_ports().unwrap_or_default();
        let states = self.states.lock().map(|s| s.clone()).unwrap_or_default();
        self.entries
            .iter()
            .map(|e| {
                let state = states.get(&e.name);
                DeviceStatus {
                    name: e.name.to_string(),
                    profile: e.profile.clone(),
                    kind: e.kind,
                    port: match &e.port {
                        PortLocator::Path(p) => PortView::Path(p.display().to_string()),
                        PortLocator::UsbSerial(s) => PortView::UsbSerial(s.clone()),
                        PortLocator::Audio { .. } => PortView::Audio,
                    },
                    lines: e.lines.iter().map(|l| l.to_string()).collect(),
                    up: state.map(|s| *s == DeviceState::Up),
                    error: match state {
                        Some(DeviceState::Down { reason }) => Some(reason.clone()),
                        _ => None,
                    },
                    restartable: e.restart.is_some(),
                    usb: usb_of(&e.port, &ports),
                }
            })
            .collect()
    }

    /// Asks `name`'s driver to reopen its port.
    pub fn restart(&self, name: &str) -> Result<(), RestartError> {
        let entry = self
            .entries
            .iter()
            .find(|e| &*e.name == name)
            .ok_or_else(|| RestartError::Unknown(name.to_string()))?;
        let restart = entry
            .restart
            .as_ref()
            .ok_or_else(|| RestartError::NotRestartable(name.to_string()))?;
        restart.request();
        Ok(())
    }
}

/// The USB side of the port `port` finds now, if it is a plugged-in USB port.
fn usb_of(port: &PortLocator, ports: &[tokio_serial::SerialPortInfo]) -> Option<UsbInfo> {
    let found = match port {
        PortLocator::Path(path) => {
            let wanted = std::fs::canonicalize(path).ok()?;
            ports.iter().find(|p| {
                std::fs::canonicalize(&p.port_name).is_ok_and(|name| name == wanted)
            })?
        }
        PortLocator::UsbSerial(serial) => ports.iter().find(|p| {
            matches!(&p.port_type, tokio_serial::SerialPortType::UsbPort(u) if u.serial_number.as_deref() == Some(serial.as_str()))
        })?,
        PortLocator::Audio { .. } => return None,
    };
    let usb = super::serial::usb_info(&found.port_type);
    usb.id.is_some().then_some(usb)
}
