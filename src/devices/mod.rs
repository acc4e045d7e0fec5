//! Everything that talks to hardware: firmware profiles, serial drivers and
//! the parsers that turn a device's bytes into line events.

pub mod audio;
pub mod audiobox;
pub mod desk;
pub mod gsm;
pub mod init;
pub mod phonebox;
pub mod profile;
pub mod restart;
pub mod serial;
