//! Re-checks the assumption behind the Chinese fast path in `src/phone.rs`:
//! libphonenumber's type for a +86 number depends only on the 7-digit segment
//! of a mobile, or on the length and first 6 digits of any other number.
//! Run after upgrading the `phonenumber` crate (about a minute):
//!
//! cargo run --release --example verify_cn_prefixes

use callpop::demo::SplitMix;
use phonenumber::{metadata::DATABASE, Type};

fn type_of(text: &str) -> Type {
    phonenumber::parse(None, text)
        .map(|n| n.number_type(&DATABASE))
        .unwrap_or(Type::Unknown)
}

/// Types of three numbers sharing `prefix` and `len`: lowest, highest, random.
fn agree(prefix: &str, len: usize, rng: &mut SplitMix) -> bool {
    let rest = len - prefix.len();
    let top = 10u64.pow(rest as u32);
    let t = |n: u64| type_of(&format!("+86{prefix}{n:0rest$}"));
    let first = t(0);
    first == t(top - 1) && first == t(rng.next_u64() % top)
}

fn main() {
    let mut rng = SplitMix::new(5);
    let mut checked = 0u64;
    let mut disagree = Vec::new();
    for segment in 0..1_000_000u32 {
        let prefix = format!("1{segment:06}");
        checked += 1;
        if !agree(&prefix, 11, &mut rng) {
            disagree.push(prefix);
        }
    }
    for len in 9..=11 {
        for p in 100_000..1_000_000u32 {
            let prefix = p.to_string();
            if len == 11 && prefix.starts_with('1') {
                continue; // mobiles, checked above by segment
            }
            checked += 1;
            if !agree(&prefix, len, &mut rng) {
                disagree.push(format!("{prefix} (length {len})"));
            }
        }
    }
    println!("{checked} prefixes checked, {} disagree", disagree.len());
    for d in disagree.iter().take(20) {
        println!("  {d}");
    }
    std::process::exit(i32::from(!disagree.is_empty()));
}
