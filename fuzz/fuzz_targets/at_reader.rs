//! Whatever a modem's port sends, in any chunking, while a command waits.
#![no_main]
use callpop::devices::gsm::at::AtSession;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut session = AtSession::new(
        vec!["ERROR".into(), "+CME ERROR".into(), "+CMS ERROR".into()],
        vec!["+CMTI".into(), "+CDS".into(), "+CLIP".into(), "RING".into()],
    );
    let _ = session.start("AT+CMGL=4");
    let split = data.first().map_or(1, |b| (*b as usize % 7) + 1);
    for chunk in data.chunks(split) {
        let _ = session.feed(chunk);
        if !session.busy() {
            let _ = session.start("AT");
        }
    }
    let _ = session.take_stray();
});
