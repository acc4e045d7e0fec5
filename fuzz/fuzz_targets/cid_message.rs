//! A caller-ID message (ETSI/Bellcore SDMF/MDMF) as the demodulator hands it over.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = callpop::dsp::cid::decode(data) {
        // What decodes must encode again without a panic.
        let _ = callpop::dsp::cid::encode(&message);
    }
});
