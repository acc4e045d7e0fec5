//! A firmware profile as a user might write one.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = callpop::devices::profile::parse(text, "fuzz.toml");
    }
});
