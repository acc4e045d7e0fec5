//! A desktop's websocket message: parsed into a typed command or refused
//! with a code.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = callpop::pop::protocol::parse(text);
    }
});
