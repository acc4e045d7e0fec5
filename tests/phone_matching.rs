//! The number table: every form a number arrives in, normalised and matched
//! against a real SQLite store, including numbers that must *not* match.

use callpop::phone::{
    MatchOutcome, MatchPolicy, MatchRule, Normalizer, NormalizerSettings, NumberError, NumberKind,
};
use callpop::store::{NewCustomer, NewPhone, Store};
use phonenumber::country;

fn cn() -> Normalizer {
    Normalizer::new(NormalizerSettings::default())
}

use NumberKind::*;

/// (input, E.164, national significant number, kind, extension)
type Case = (
    &'static str,
    Option<&'static str>,
    &'static str,
    NumberKind,
    Option<&'static str>,
);

const NORMALIZE_OK: &[Case] = &[
    // Mobiles in every dress.
    (
        "13812345678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "138 1234 5678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "138-1234-5678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "+86 138 1234 5678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "+86-13812345678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "008613812345678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "0086 138 1234 5678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "8613812345678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "86 13812345678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "013812345678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "１３８１２３４５６７８",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "＋８６１３８１２３４５６７８",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "(+86) 138.1234.5678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "17951 13812345678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "1795113812345678",
        Some("+8613812345678"),
        "13812345678",
        Mobile,
        None,
    ),
    (
        "19912345678",
        Some("+8619912345678"),
        "19912345678",
        Mobile,
        None,
    ),
    (
        "16612345678",
        Some("+8616612345678"),
        "16612345678",
        Mobile,
        None,
    ),
    (
        "14712345678",
        Some("+8614712345678"),
        "14712345678",
        Mobile,
        None,
    ),
    (
        "17012345678",
        Some("+8617012345678"),
        "17012345678",
        Mobile,
        None,
    ),
    // Fixed lines with trunk 0 and area codes of 2 and 3 digits.
    (
        "010-65528888",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        None,
    ),
    (
        "(010)65528888",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        None,
    ),
    (
        "010 6552 8888",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        None,
    ),
    (
        "01065528888",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        None,
    ),
    (
        "+86 10 6552 8888",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        None,
    ),
    (
        "86-10-65528888",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        None,
    ),
    (
        "12593 010 65528888",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        None,
    ),
    (
        "021-64381234",
        Some("+862164381234"),
        "2164381234",
        FixedLine,
        None,
    ),
    (
        "0755-86013388",
        Some("+8675586013388"),
        "75586013388",
        FixedLine,
        None,
    ),
    (
        "（0755）8601-3388",
        Some("+8675586013388"),
        "75586013388",
        FixedLine,
        None,
    ),
    (
        "0571-87654321",
        Some("+8657187654321"),
        "57187654321",
        FixedLine,
        None,
    ),
    (
        "020 8888 6666",
        Some("+862088886666"),
        "2088886666",
        FixedLine,
        None,
    ),
    (
        "0851-5812345",
        Some("+868515812345"),
        "8515812345",
        FixedLine,
        None,
    ),
    // Extensions.
    (
        "0755-86013388-8001",
        Some("+8675586013388"),
        "75586013388",
        FixedLine,
        Some("8001"),
    ),
    (
        "0755-86013388 转 8001",
        Some("+8675586013388"),
        "75586013388",
        FixedLine,
        Some("8001"),
    ),
    (
        "0755-86013388转8001",
        Some("+8675586013388"),
        "75586013388",
        FixedLine,
        Some("8001"),
    ),
    (
        "010-65528888 ext 123",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        Some("123"),
    ),
    (
        "010-65528888 ext. 123",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        Some("123"),
    ),
    (
        "010-65528888x123",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        Some("123"),
    ),
    (
        "010-65528888#8001",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        Some("8001"),
    ),
    (
        "010-65528888,8001",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        Some("8001"),
    ),
    (
        "010-65528888 分机 8001",
        Some("+861065528888"),
        "1065528888",
        FixedLine,
        Some("8001"),
    ),
    // 400 and 800.
    (
        "4008123123",
        Some("+864008123123"),
        "4008123123",
        SharedCost,
        None,
    ),
    (
        "400-812-3123",
        Some("+864008123123"),
        "4008123123",
        SharedCost,
        None,
    ),
    (
        "400 812 3123",
        Some("+864008123123"),
        "4008123123",
        SharedCost,
        None,
    ),
    (
        "8008101234",
        Some("+868008101234"),
        "8008101234",
        TollFree,
        None,
    ),
    (
        "800-810-1234",
        Some("+868008101234"),
        "8008101234",
        TollFree,
        None,
    ),
    // Service numbers have no E.164 form.
    ("95588", None, "95588", Service, None),
    ("10086", None, "10086", Service, None),
    ("12345", None, "12345", Service, None),
    ("110", None, "110", Service, None),
    ("95105105", None, "95105105", Service, None),
    // Foreign numbers.
    (
        "+1 650 253 0000",
        Some("+16502530000"),
        "6502530000",
        FixedLine,
        None,
    ),
    (
        "001 650 253 0000",
        Some("+16502530000"),
        "6502530000",
        FixedLine,
        None,
    ),
    (
        "+852 2123 4567",
        Some("+85221234567"),
        "21234567",
        FixedLine,
        None,
    ),
    (
        "00852 9123 4567",
        Some("+85291234567"),
        "91234567",
        Mobile,
        None,
    ),
    (
        "+886 2 2345 6789",
        Some("+886223456789"),
        "223456789",
        FixedLine,
        None,
    ),
    (
        "+886 912 345 678",
        Some("+886912345678"),
        "912345678",
        Mobile,
        None,
    ),
    (
        "+44 20 7946 0958",
        Some("+442079460958"),
        "2079460958",
        FixedLine,
        None,
    ),
    (
        "+81 3-1234-5678",
        Some("+81312345678"),
        "312345678",
        FixedLine,
        None,
    ),
    // Local numbers without an area code.
    ("65528888", None, "65528888", Local, None),
    ("6552 8888", None, "65528888", Local, None),
    ("8765432", None, "8765432", Local, None),
];

#[test]
fn normalizes_every_form() {
    let n = cn();
    for (input, e164, national, kind, ext) in NORMALIZE_OK {
        let got = n
            .normalize(input)
            .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
        assert_eq!(got.e164.as_deref(), *e164, "E.164 of {input:?}");
        assert_eq!(got.national, *national, "national of {input:?}");
        assert_eq!(got.kind, *kind, "kind of {input:?}");
        assert_eq!(got.extension.as_deref(), *ext, "extension of {input:?}");
        assert_eq!(got.raw, *input, "raw of {input:?} is kept");
    }
}

#[test]
fn rejects_what_is_not_a_number() {
    let cases: &[(&str, NumberError)] = &[
        ("", NumberError::Empty),
        ("   ", NumberError::Empty),
        ("abc", NumberError::InvalidCharacter('a')),
        ("1381234567", NumberError::MobileLength(10)),
        ("138123456789", NumberError::MobileLength(12)),
        ("1065528888", NumberError::MobileLength(10)),
        ("12", NumberError::TooShort(2)),
        ("13812345678 13987654321", NumberError::TooLong(22)),
        (
            "010-65528888 ext abc",
            NumberError::BadExtension("abc".into()),
        ),
        ("138 1234 5678 转", NumberError::BadExtension("".into())),
    ];
    for (input, expected) in cases {
        assert_eq!(&cn().normalize(input).unwrap_err(), expected, "{input:?}");
    }
    for input in [
        "1.38123E+10",
        "+86 123",
        "0000000",
        "+1 555",
        "10000000000",
        "12012345678",
    ] {
        let e = cn().normalize(input).unwrap_err();
        assert!(!e.to_string().is_empty(), "{input:?} has a reason");
    }
    assert!(matches!(
        cn().normalize("1.38123E+10"),
        Err(NumberError::ScientificNotation(_))
    ));
}

#[test]
fn default_area_code_completes_local_numbers() {
    let n = Normalizer::new(NormalizerSettings {
        default_area_code: Some("010".into()),
        ..NormalizerSettings::default()
    });
    let got = n.normalize("6552 8888").unwrap();
    assert_eq!(got.e164.as_deref(), Some("+861065528888"));
}

#[test]
fn other_regions() {
    let hk = Normalizer::new(NormalizerSettings {
        region: country::Id::HK,
        ..NormalizerSettings::default()
    });
    assert_eq!(
        hk.normalize("2123 4567").unwrap().e164.as_deref(),
        Some("+85221234567")
    );
    let us = Normalizer::new(NormalizerSettings {
        region: country::Id::US,
        ..NormalizerSettings::default()
    });
    assert_eq!(
        us.normalize("(650) 253-0000").unwrap().e164.as_deref(),
        Some("+16502530000")
    );
}

#[test]
fn lenient_keeps_digits_of_odd_caller_ids() {
    let n = cn();
    let odd = n.normalize_lenient("12012345678").unwrap();
    assert_eq!(odd.kind, Unknown);
    assert_eq!(odd.national, "12012345678");
    assert!(n.normalize_lenient("Private").is_none());
    assert!(n.normalize_lenient("").is_none());
}

/// Customers of the match fixture: (name, numbers).
const FIXTURE: &[(&str, &[&str])] = &[
    ("王伟", &["13812345678"]),
    ("李娜", &["010-65528888"]),
    ("张敏", &["021-65528888"]),
    ("华信前台", &["0755-86013388"]),
    ("华信销售", &["0755-86013388-8001"]),
    ("华信财务", &["0755-86013388 转 8002"]),
    ("陈静", &["87654321"]),
    ("刘强", &["95588"]),
    ("杨洋", &["+1 650 253 0000"]),
    ("黄磊", &["400-812-3123"]),
    ("赵军", &["+852 2123 4567"]),
    ("周杰", &["13912345678", "0571-87654321"]),
    ("吴娟", &["13712340000"]),
    ("徐涛", &["137 1234 0000"]),
    ("孙一", &["33445566"]),
    ("孙二", &["33445566"]),
    ("孙三", &["33445566"]),
    ("孙四", &["33445566"]),
    ("马超", &["+886 912 345 678"]),
];

fn fixture_store(dir: &tempfile::TempDir) -> Store {
    let store = Store::open(&dir.path().join("match.db")).unwrap();
    let n = cn();
    for (name, numbers) in FIXTURE {
        store
            .customers()
            .insert_customer(&NewCustomer {
                name: name.to_string(),
                phones: numbers
                    .iter()
                    .map(|raw| NewPhone {
                        number: n.normalize(raw).unwrap(),
                        label: None,
                    })
                    .collect(),
                ..NewCustomer::default()
            })
            .unwrap();
    }
    store
}

/// (caller number, rule, customers expected in id order)
const MATCHES: &[(&str, MatchRule, &[&str])] = &[
    ("13812345678", MatchRule::Exact, &["王伟"]),
    ("+86 138 1234 5678", MatchRule::Exact, &["王伟"]),
    ("008613812345678", MatchRule::Exact, &["王伟"]),
    ("8613812345678", MatchRule::Exact, &["王伟"]),
    ("013812345678", MatchRule::Exact, &["王伟"]),
    ("17951 13812345678", MatchRule::Exact, &["王伟"]),
    ("１３８１２３４５６７８", MatchRule::Exact, &["王伟"]),
    ("010-65528888", MatchRule::Exact, &["李娜"]),
    ("+86 10 6552 8888", MatchRule::Exact, &["李娜"]),
    ("021-65528888", MatchRule::Exact, &["张敏"]),
    ("+862165528888", MatchRule::Exact, &["张敏"]),
    // Without an area code the caller could be in either city: a chooser.
    ("65528888", MatchRule::Suffix, &["李娜", "张敏"]),
    // A company switchboard shared by three contacts, extensions ignored.
    (
        "0755-86013388",
        MatchRule::Exact,
        &["华信前台", "华信销售", "华信财务"],
    ),
    (
        "075586013388",
        MatchRule::Exact,
        &["华信前台", "华信销售", "华信财务"],
    ),
    (
        "+86 755 8601 3388",
        MatchRule::Exact,
        &["华信前台", "华信销售", "华信财务"],
    ),
    // Stored without an area code, called with one.
    ("010-87654321", MatchRule::Suffix, &["陈静"]),
    ("87654321", MatchRule::National, &["陈静"]),
    // Exact wins over the suffix the local number would also give.
    ("0571-87654321", MatchRule::Exact, &["周杰"]),
    ("13912345678", MatchRule::Exact, &["周杰"]),
    ("95588", MatchRule::National, &["刘强"]),
    ("+16502530000", MatchRule::Exact, &["杨洋"]),
    ("001 650 253 0000", MatchRule::Exact, &["杨洋"]),
    // A US number presented without its country code.
    ("6502530000", MatchRule::National, &["杨洋"]),
    ("4008123123", MatchRule::Exact, &["黄磊"]),
    ("400-812-3123", MatchRule::Exact, &["黄磊"]),
    ("+852 2123 4567", MatchRule::Exact, &["赵军"]),
    ("00886912345678", MatchRule::Exact, &["马超"]),
    ("13712340000", MatchRule::Exact, &["吴娟", "徐涛"]),
    // Must not match.
    ("13812345679", MatchRule::None, &[]),
    ("13887654321", MatchRule::None, &[]), // tail of 陈静's local number: a mobile is never incomplete
    ("12345678", MatchRule::None, &[]),    // tail of 王伟's mobile
    ("21234567", MatchRule::None, &[]),    // Hong Kong digits, but a Chinese local number
    ("020-65528888", MatchRule::None, &[]), // same subscriber digits, third city
    ("+8613812345678999", MatchRule::None, &[]),
    ("010-33445566", MatchRule::None, &[]), // four customers share the suffix: not unique enough
    ("10086", MatchRule::None, &[]),
    ("+886 2 1234 5678", MatchRule::None, &[]),
    ("0755-86013389", MatchRule::None, &[]),
    ("4008123124", MatchRule::None, &[]),
    ("5528888", MatchRule::None, &[]), // shorter than the suffix length
];

#[test]
fn matches_the_right_customers() {
    let dir = tempfile::tempdir().unwrap();
    let store = fixture_store(&dir);
    let n = cn();
    let policy = MatchPolicy::default();
    for (query, rule, names) in MATCHES {
        let number = n.normalize_lenient(query).expect("has digits");
        let result = store.customers().lookup(&number, &policy).unwrap();
        let got: Vec<&str> = result.matches.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            (result.rule, got.as_slice()),
            (*rule, *names),
            "lookup of {query:?} ({})",
            number.canonical()
        );
        assert_eq!(result.outcome, MatchOutcome::of(names.len()), "{query:?}");
    }
}

#[test]
fn suffix_length_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let store = fixture_store(&dir);
    let number = cn().normalize_lenient("5528888").unwrap();
    let seven = MatchPolicy {
        suffix_digits: 7,
        ..MatchPolicy::default()
    };
    let result = store.customers().lookup(&number, &seven).unwrap();
    assert_eq!(result.rule, MatchRule::Suffix);
    assert_eq!(result.matches.len(), 2);
    let strict = MatchPolicy {
        suffix_max_matches: 1,
        ..MatchPolicy::default()
    };
    let number = cn().normalize_lenient("65528888").unwrap();
    assert_eq!(
        store.customers().lookup(&number, &strict).unwrap().rule,
        MatchRule::None
    );
}
