//! The answers to `+CMGS`, `+CREG`, `+CSQ`, `+COPS`, `+CMGL`, `+CMGR`,
//! `+CPIN`, `+CSCA` as lines from a modem.
#![no_main]
use callpop::devices::gsm::replies;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let _ = replies::cmgs_reference(&lines);
    let _ = replies::cmgl(&lines);
    let _ = replies::cmgr_pdu(&lines);
    for line in &lines {
        let _ = replies::creg(line);
        let _ = replies::csq(line);
        let _ = replies::cops_operator(line);
        let _ = replies::cpin(line);
        let _ = replies::csca(line);
    }
});
