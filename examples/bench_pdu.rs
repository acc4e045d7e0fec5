//! SMS PDU codec throughput: messages encoded and decoded per second, for a
//! short English text, a 300-character Chinese text (5 UCS2 parts) and a
//! 500-character GSM 7-bit text (4 parts with headers).
//!
//! cargo run --release --example bench_pdu -- [ROUNDS]

use callpop::devices::gsm::pdu::{decode, encode_submit, Incoming, Submit};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let chinese: String = "尊敬的客户您好，您预约的售后服务已安排，工程师将于明天上午九点到十一点上门，请保持电话畅通。回T退订"
        .chars()
        .cycle()
        .take(300)
        .collect();
    let english = "Your order 1234 has shipped and will arrive tomorrow. Reply STOP to opt out.";
    let long_gsm: String = "The quick brown fox jumps over the lazy dog [1] {2} ~3~ €4. "
        .chars()
        .cycle()
        .take(500)
        .collect();
    for (name, text) in [
        ("short GSM 7-bit", english.to_string()),
        ("300-char Chinese (UCS2)", chinese),
        ("500-char GSM 7-bit", long_gsm),
    ] {
        let msg = Submit {
            to: "+8613800138000",
            text: &text,
            status_report: true,
            validity_minutes: Some(1440),
            smsc: None,
        };
        let parts = encode_submit(&msg, 1).unwrap();
        let n = (rounds / parts.len()).max(1);
        let t = Instant::now();
        for i in 0..n {
            black_box(encode_submit(black_box(&msg), i as u8).unwrap());
        }
        let enc = n as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..n {
            for p in &parts {
                match black_box(decode(black_box(&p.hex)).unwrap()) {
                    Incoming::Submit { .. } => {}
                    other => panic!("{other:?}"),
                }
            }
        }
        let dec = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "{name}: {} part(s); encode {:.0} messages/s ({:.0} parts/s), decode {:.0} messages/s ({:.0} parts/s)",
            parts.len(),
            enc,
            enc * parts.len() as f64,
            dec,
            dec * parts.len() as f64
        );
    }
}
