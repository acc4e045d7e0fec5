//! Simulated devices on pseudo-terminals, for tests and the demo: they speak
//! each profile's protocol, so the real drivers can be tested end to end.

pub mod boxsim;
pub mod far_end;
pub mod modem;
pub mod script;
pub mod transcript;

pub use boxsim::BoxSim;
pub use modem::{ModemOptions, ModemSim};
