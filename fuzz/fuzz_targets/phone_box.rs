//! Bytes from a caller-ID box, through each shipped box profile's parser.
#![no_main]
use callpop::devices::phonebox::BoxParser;
use callpop::devices::profile::{load_all, DeviceKind};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fn profiles() -> &'static Vec<Arc<callpop::devices::profile::LoadedProfile>> {
    static P: OnceLock<Vec<Arc<callpop::devices::profile::LoadedProfile>>> = OnceLock::new();
    P.get_or_init(|| {
        load_all(None)
            .expect("the shipped profiles")
            .into_values()
            .filter(|p| matches!(p.profile.kind, DeviceKind::TextBox | DeviceKind::FskModule | DeviceKind::VoiceModem))
            .map(Arc::new)
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    for profile in profiles() {
        let mut parser = BoxParser::new(profile.clone());
        let mut out = Vec::new();
        for chunk in data.chunks(5) {
            parser.push(chunk, &mut out);
        }
        parser.flush(&mut out);
    }
});
