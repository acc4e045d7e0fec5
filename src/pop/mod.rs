//! Screen-pops: the websocket protocol, the hub that routes call events to
//! agent desktops, and what a pop carries.

pub mod content;
pub mod hub;
pub mod protocol;
pub mod wallboard;

pub use hub::{Hub, HubHandle, HubSettings};
