//! A customer sheet as delimited text: rows or row errors, never a panic,
//! and every line accounted for.
#![no_main]
use callpop::customers::csv_rows::CsvRows;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for delimiter in [b',', b'\t', b';'] {
        let mut last = 0;
        for row in CsvRows::new(text.as_bytes(), delimiter) {
            let n = match row {
                Ok(r) => r.row,
                Err(e) => e.row,
            };
            assert!(n > last, "rows come in order, once each");
            last = n;
        }
    }
});
