//! An uploaded `.xlsx` (a zip of XML): rows or row errors, never a panic,
//! whatever the bytes.
#![no_main]
use callpop::customers::table::Table;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("callpop-fuzz-{}.xlsx", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(table) = Table::open(&path) {
        for row in table.take(10_000) {
            let _ = row;
        }
    }
});
