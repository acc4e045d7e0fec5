//! A PDU as a modem hands it over (`+CMGL`/`+CMT`/`+CDS` hex): decoded or
//! refused with an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = callpop::devices::gsm::pdu::decode(&text);
    // Also as raw bytes turned into hex, which reaches the deeper fields.
    let hex: String = data.iter().map(|b| format!("{b:02X}")).collect();
    let _ = callpop::devices::gsm::pdu::decode(&hex);
});
