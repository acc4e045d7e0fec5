//! A phone number as people type it, and a sheet cell holding several.
#![no_main]
use callpop::phone::{Normalizer, NormalizerSettings};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static N: OnceLock<Normalizer> = OnceLock::new();
    let n = N.get_or_init(|| Normalizer::new(NormalizerSettings::default()));
    let text = String::from_utf8_lossy(data);
    if let Ok(number) = n.normalize(&text) {
        // A normalised number normalises to itself.
        let again = n.normalize(number.canonical()).expect("a normalised number is valid");
        assert_eq!(again.canonical(), number.canonical());
    }
    let _ = n.normalize_lenient(&text);
    let _ = n.normalize_cell(&text);
});
