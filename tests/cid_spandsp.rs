//! Caller ID from line audio against a modulator that is not callpop's:
//! spandsp's ADSI transmitter (Bell 202 CLASS, ETSI V.23 CLIP, DTMF
//! A…C) builds and sends random Chinese caller IDs; white noise at each
//! SNR, and the sender's clock off by up to ±2.5 %. The reduced sweep
//! (10 trials a level; `examples/bench_cid.rs` runs 30 and more levels)
//! prints callpop beside minimodem, multimon-ng and spandsp's own
//! receiver on the same files and holds callpop to what it must do:
//! never a wrong caller ID, every clean one, and most at the levels it is
//! rated for.

#[path = "common/references.rs"]
mod references;
#[path = "common/spandsp.rs"]
mod spandsp;

use callpop::dsp::cid;
use callpop::dsp::cid::CallerIdMessage;
use callpop::dsp::listener::CidStandard;
use callpop::dsp::sweep::{caller_ids_in, SweepRow};
use references::{Read, Reference};
use spandsp::{sweep_side_by_side, Spandsp};

const RATE: u32 = 8000;
const TRIALS: u32 = 10;

/// One sweep of spandsp's signals at `levels`, with the clock `offset`;
/// prints callpop's and the established decoders' counts side by side.
fn sweep(
    sp: &Spandsp,
    standard: CidStandard,
    levels: &[i32],
    offset: f64,
) -> Vec<(SweepRow, Vec<Read>)> {
    let rows = sweep_side_by_side(sp, standard, levels, TRIALS, 24, offset);
    for (row, read) in &rows {
        let others: Vec<String> = Reference::for_standard(standard)
            .iter()
            .zip(read)
            .map(|(r, n)| format!("{} {:>2}/{}", r.name(), n.exact, n.of))
            .collect();
        println!(
            "spandsp {:<8} clock {:+.1}%  {:>3} dB   callpop {:>2}/{} (wrong {})   {}",
            standard.as_str(),
            offset * 100.0,
            row.snr_db,
            row.exact,
            row.trials,
            row.wrong_accepted,
            others.join("   ")
        );
    }
    rows
}

#[test]
fn spandsp_caller_ids_decode_under_noise_and_never_wrong() {
    let sp = Spandsp::build();
    // (standard, levels high to low, the least exact count at each)
    let plan: [(CidStandard, [i32; 4], [u32; 4]); 3] = [
        (CidStandard::Bell202, [30, 12, 8, 4], [10, 10, 9, 0]),
        (CidStandard::V23, [30, 14, 10, 6], [10, 10, 9, 3]),
        (CidStandard::Dtmf, [30, 10, 4, 0], [10, 10, 10, 2]),
    ];
    for (standard, levels, least) in plan {
        let rows = sweep(&sp, standard, &levels, 0.0);
        for ((row, _), least) in rows.iter().zip(least) {
            assert_eq!(row.wrong_accepted, 0, "{standard:?} {row:?}");
            assert!(row.exact >= least, "{standard:?} {row:?}: at least {least}");
        }
        // The decoders beside callpop really decode: at 30 dB each reads
        // all it can (the comparison is not with a broken tool).
        for read in &rows[0].1 {
            assert!(
                read.of > 0 && read.exact == read.of,
                "{standard:?} {rows:?}"
            );
        }
    }
}

/// A real exchange's clock is not exact: spandsp's signals with the
/// sender's clock ±1 % and ±2.5 % off (tones and baud rate together).
#[test]
fn spandsp_caller_ids_decode_with_the_senders_clock_off() {
    let sp = Spandsp::build();
    for (standard, offsets) in [
        (CidStandard::Bell202, [-0.025, -0.01, 0.01, 0.025]),
        (CidStandard::V23, [-0.025, -0.01, 0.01, 0.025]),
        // Q.24: keys within 1.5 % are accepted, beyond 3.5 % refused.
        (CidStandard::Dtmf, [-0.015, -0.01, 0.01, 0.015]),
    ] {
        for offset in offsets {
            let rows: Vec<SweepRow> = sweep(&sp, standard, &[20, 12], offset)
                .into_iter()
                .map(|(row, _)| row)
                .collect();
            for row in &rows {
                assert_eq!(row.wrong_accepted, 0, "{standard:?} {offset} {row:?}");
            }
            // At 20 dB and at 12 dB (issue 24: 29 of 30 at 12 dB).
            for row in &rows {
                assert!(row.exact >= 9, "{standard:?} {offset} {rows:?}");
            }
        }
    }
}

/// An MDMF caller ID with a date and a name, and a DTMF one.
fn clean_messages() -> (CallerIdMessage, CallerIdMessage) {
    let mut m = CallerIdMessage::number_only("13812345678");
    m.name = Some("ZHANG SAN".into());
    m.datetime = cid::CidDateTime::parse(b"12061430");
    let dtmf = CallerIdMessage {
        format: cid::MessageFormat::Dtmf,
        ..CallerIdMessage::number_only("075512345678")
    };
    (m, dtmf)
}

/// The helper really is another modulator: its bytes carry spandsp's own
/// encoding of the message, which callpop's parser reads back exactly.
#[test]
fn spandsp_messages_are_read_exactly_when_clean() {
    let sp = Spandsp::build();
    let (m, dtmf) = clean_messages();
    for standard in [CidStandard::Bell202, CidStandard::V23] {
        let heard = caller_ids_in(&sp.render(standard, &m), RATE);
        assert_eq!(heard, vec![m.clone()], "{standard:?}");
    }
    assert_eq!(
        caller_ids_in(&sp.render(CidStandard::Dtmf, &dtmf), RATE),
        vec![dtmf]
    );
}

/// And the other way: spandsp's receiver reads callpop's own modulator
/// (the one the sweeps and the never-wrong test use) exactly, so those
/// signals are what the standards say, not only what callpop expects.
#[test]
fn spandsp_reads_callpops_own_caller_ids_exactly() {
    use callpop::dsp::signal::CidSignal;
    let sp = Spandsp::build();
    let (mdmf, dtmf) = clean_messages();
    let sdmf = CallerIdMessage {
        format: cid::MessageFormat::Sdmf,
        ..mdmf.clone()
    };
    for (standard, m) in [
        (CidStandard::Bell202, &mdmf),
        (CidStandard::Bell202, &sdmf),
        (CidStandard::V23, &mdmf),
    ] {
        let samples = CidSignal::new(standard, RATE).render(m);
        // spandsp hands over a message whose checksum it has checked,
        // without the checksum.
        let mut checked = cid::encode(m);
        checked.pop();
        assert_eq!(
            sp.receive(standard, &samples),
            vec![checked],
            "{standard:?} {:?}",
            m.format
        );
    }
    let samples = CidSignal::new(CidStandard::Dtmf, RATE).render(&dtmf);
    assert_eq!(
        sp.receive(CidStandard::Dtmf, &samples),
        vec![callpop::dsp::dtmf_cid::encode(&dtmf).into_bytes()]
    );
}
