//! A configuration file as a user might write one (loaded from a file,
//! as the daemon does).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("callpop-fuzz-{}.toml", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        let _ = callpop::config::load(Some(&path), Vec::<(String, String)>::new(), &[]);
    }
});
