//! Signal and message processing for caller ID: pure functions over bytes
//! and samples, free of I/O, so they are tested against the standards' own
//! examples.

pub mod cid;
pub mod fsk;
