//! Import of deliberately messy spreadsheets (GBK CSV, XLSX with a title row,
//! blank rows, bad numbers, duplicates, Chinese headers), re-import without
//! duplicates, and export → import round trips.

use callpop::customers::{self, ExportFormat, ImportReport};
use callpop::phone::{MatchPolicy, MatchRule, Normalizer, NormalizerSettings, NumberKind};
use callpop::store::{Customer, Role, Store};
use std::path::{Path, PathBuf};

/// A GBK CSV as Chinese Excel writes it, with every kind of bad row.
/// Line numbers in the comments are the rows the report must name.
const MESSY_CSV: &str = "客户名称,手机,办公电话,公司,分组,负责人,地址\r
王伟,138 1234 5678,010-65528888,华信科技有限公司,VIP、老客户,lisi,北京市朝阳区\r
李娜,13912345678/13987654321,,东方贸易有限公司,新客户,zhangsan,上海\r
,,,,,,\r
\r
张敏,abc,,,,,\r
陈静,1381234567,,,,,\r
,13700001111,,,,,\r
刘强,,,,,,\r
王伟,13812345678,,华信科技有限公司,VIP,,北京市朝阳区\r
杨洋,0755-86013388 转 8001,,恒达机械有限公司,,,深圳\r
黄磊,1.38123E+10,,,,,\r
赵军,13612345678,abc123,,,,\r
周杰,+852 2123 4567,,,,,\r
吴娟,13512345678,,\"瑞丰食品, 有限公司\",,,\"多行\r
地址\"\r
徐涛,13312345678,,,,,\r
";

fn normalizer() -> Normalizer {
    Normalizer::new(NormalizerSettings::default())
}

fn store_in(dir: &Path, name: &str) -> Store {
    let store = Store::open(&dir.join(name)).unwrap();
    store
        .users()
        .add_user("lisi", "李四", Role::Agent, None, None)
        .unwrap();
    store
}

fn write_gbk_csv(dir: &Path) -> PathBuf {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(MESSY_CSV);
    assert!(!unmappable);
    let path = dir.join("客户.csv");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn import(store: &Store, path: &Path) -> ImportReport {
    customers::import_file(store, &normalizer(), path, Default::default()).unwrap()
}

/// Every stored customer in id order. Ids are not dense: a load into an
/// empty store merges a file's repeated customers after storing them.
fn all_customers(store: &Store) -> Vec<Customer> {
    let mut all = Vec::new();
    store
        .customers()
        .for_each_customer(|c| {
            all.push(c);
            Ok(())
        })
        .unwrap();
    all
}

fn named(store: &Store, name: &str) -> Customer {
    let mut found: Vec<Customer> = all_customers(store)
        .into_iter()
        .filter(|c| c.name == name)
        .collect();
    assert_eq!(found.len(), 1, "one customer named {name}");
    found.remove(0)
}

/// Every row of the file is accounted for exactly once.
fn assert_every_row_counted(report: &ImportReport) {
    assert_eq!(
        report.read,
        report.header_rows + report.blank + report.imported() + report.skipped(),
        "{report:#?}"
    );
}

fn error_rows(report: &ImportReport) -> Vec<usize> {
    report.errors.iter().map(|e| e.row).collect()
}

#[test]
fn messy_gbk_csv_imports_good_rows_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "a.db");
    let path = write_gbk_csv(dir.path());
    let report = import(&store, &path);
    assert_eq!(report.encoding, "GBK");
    assert_eq!(
        error_rows(&report),
        vec![6, 7, 8, 9, 12],
        "{:#?}",
        report.errors
    );
    assert!(
        report.errors[0].issue.message.contains("\"abc\""),
        "{:?}",
        report.errors[0]
    );
    assert!(
        report.errors[1].issue.message.contains("11 digits"),
        "{:?}",
        report.errors[1]
    );
    assert_eq!(report.errors[2].issue.message, "no customer name");
    assert_eq!(report.errors[3].issue.message, "no phone number");
    assert!(report.errors[4]
        .issue
        .message
        .contains("scientific notation"));
    // The page words the same rows from codes and parameters.
    let codes: Vec<&str> = report.errors.iter().map(|e| e.issue.code).collect();
    assert_eq!(
        codes,
        [
            "number_character",
            "number_mobile_length",
            "no_name",
            "no_number",
            "number_scientific"
        ]
    );
    assert_eq!(
        report.errors[1].issue.params["digits"], 10,
        "{:?}",
        report.errors[1]
    );
    let warnings: Vec<(usize, bool)> = report
        .warnings
        .iter()
        .map(|w| {
            (
                w.row,
                w.issue.message.contains("zhangsan") || w.issue.message.contains("abc123"),
            )
        })
        .collect();
    assert_eq!(
        warnings,
        vec![(3, true), (13, true)],
        "{:#?}",
        report.warnings
    );
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (7, 0, 1)
    );
    // The `,,,,,,` row and the empty line after it (which the csv reader
    // passes over without a record, yet is a row of the file).
    assert_eq!(report.blank, 2);
    assert_eq!(
        report.read, 16,
        "15 records (one spans two lines) and one empty line"
    );
    assert_every_row_counted(&report);
    assert_eq!(store.customers().customer_count().unwrap(), 7);
    let lines = report.issue_lines();
    assert!(
        lines[0]
            .ends_with("客户.csv:6: bad number \"abc\" in column 手机: unexpected character 'a'"),
        "{lines:?}"
    );

    // What landed is right in every field.
    let wang = named(&store, "王伟");
    assert_eq!(wang.id, 1);
    assert_eq!(wang.company, "华信科技有限公司");
    assert_eq!(wang.owner.as_deref(), Some("lisi"));
    assert_eq!(wang.tags, vec!["VIP", "老客户"]);
    assert_eq!(wang.custom_fields["地址"], "北京市朝阳区");
    let numbers: Vec<_> = wang
        .phones
        .iter()
        .map(|p| (p.raw.as_str(), p.label.as_deref()))
        .collect();
    assert_eq!(
        numbers,
        vec![
            ("138 1234 5678", Some("手机")),
            ("010-65528888", Some("办公电话"))
        ]
    );
    let li = named(&store, "李娜");
    assert_eq!(li.phones.len(), 2, "two numbers in one cell");
    assert_eq!(li.owner, None);
    let wu = named(&store, "吴娟");
    assert_eq!(wu.company, "瑞丰食品, 有限公司");
    assert_eq!(wu.custom_fields["地址"], "多行\n地址");
    let yang = named(&store, "杨洋");
    assert_eq!(yang.phones[0].extension.as_deref(), Some("8001"));

    // The second import changes nothing.
    let again = import(&store, &path);
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 8));
    assert_eq!(error_rows(&again), error_rows(&report));
    assert_eq!(store.customers().customer_count().unwrap(), 7);

    let audit = store.users().recent_audit(5).unwrap();
    assert_eq!(audit[0].action, "customers.import");
    assert_eq!(audit[0].actor, "cli");
    assert_eq!(audit[0].detail["inserted"], 0);
    assert_eq!(audit[1].detail["inserted"], 7);
}

#[test]
fn changed_rows_update_instead_of_duplicating() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "a.db");
    let first = dir.path().join("v1.csv");
    std::fs::write(&first, "name,phone,company\n王伟,13812345678,华信\n").unwrap();
    assert_eq!(import(&store, &first).inserted, 1);
    let second = dir.path().join("v2.csv");
    std::fs::write(
        &second,
        "name,phone,phone 2,company\n王伟,+86 138 1234 5678,13900001111,华信科技\n王伟,13700002222,,别的公司\n",
    )
    .unwrap();
    let report = import(&store, &second);
    // Same name and number: merged. Same name, other number: another person.
    assert_eq!((report.inserted, report.updated), (1, 1));
    let wang = store.customers().customer(1).unwrap().unwrap();
    assert_eq!(wang.company, "华信科技");
    assert_eq!(wang.phones.len(), 2);
}

fn write_messy_xlsx(dir: &Path) -> PathBuf {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "客户名单（2026年11月）").unwrap();
    for (col, h) in ["姓名", "联系电话", "公司名称", "标签", "备注"]
        .iter()
        .enumerate()
    {
        sheet.write_string(2, col as u16, *h).unwrap();
    }
    // Row 4: the phone typed into a number cell.
    sheet.write_string(3, 0, "王伟").unwrap();
    sheet.write_number(3, 1, 13812345678.0).unwrap();
    sheet.write_string(3, 2, "华信科技有限公司").unwrap();
    sheet.write_string(3, 3, "VIP").unwrap();
    // Row 5 blank. Row 6: a bad number.
    sheet.write_string(5, 0, "张敏").unwrap();
    sheet.write_string(5, 1, "12-34").unwrap();
    // Row 7: full-width digits and a landline.
    sheet.write_string(6, 0, "李娜").unwrap();
    sheet
        .write_string(6, 1, "０２１－６４３８１２３４")
        .unwrap();
    sheet.write_number(6, 4, 42.0).unwrap();
    // Row 8: duplicate of row 4 in another format.
    sheet.write_string(7, 0, "王伟").unwrap();
    sheet.write_string(7, 1, "+86 138-1234-5678").unwrap();
    // Row 9: no name.
    sheet.write_number(8, 1, 13900001111.0).unwrap();
    // Row 10: good.
    sheet.write_string(9, 0, "Alice Chan").unwrap();
    sheet.write_string(9, 1, "+852 9123 4567").unwrap();
    let path = dir.join("messy.xlsx");
    book.save(&path).unwrap();
    path
}

#[test]
fn messy_xlsx_imports_good_rows_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "x.db");
    let path = write_messy_xlsx(dir.path());
    let report = import(&store, &path);
    assert_eq!(error_rows(&report), vec![6, 9], "{:#?}", report.errors);
    assert_eq!((report.inserted, report.unchanged), (3, 1));
    assert_eq!(
        report.warnings.len(),
        1,
        "the title row: {:#?}",
        report.warnings
    );
    assert_eq!(report.warnings[0].row, 1);
    let wang = store.customers().customer(1).unwrap().unwrap();
    assert_eq!(wang.phones[0].e164.as_deref(), Some("+8613812345678"));
    let li = store.customers().customer(2).unwrap().unwrap();
    assert_eq!(li.phones[0].e164.as_deref(), Some("+862164381234"));
    assert_eq!(li.custom_fields["备注"], "42");
    let again = import(&store, &path);
    assert_eq!(again.inserted, 0);
    assert_eq!(store.customers().customer_count().unwrap(), 3);
}

#[test]
fn export_then_import_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = store_in(d, "source.db");
    import(&source, &write_gbk_csv(d));
    // The sheet's 王伟 has the CSV's 王伟's number: merged, so 7 + 2 customers.
    let from_sheet = import(&source, &write_messy_xlsx(d));
    assert_eq!(
        (
            from_sheet.inserted,
            from_sheet.updated,
            from_sheet.unchanged
        ),
        (2, 0, 2)
    );
    let csv1 = d.join("export1.csv");
    let xlsx1 = d.join("export1.xlsx");
    assert_eq!(
        customers::export(&source, ExportFormat::Csv, &csv1).unwrap(),
        9
    );
    assert_eq!(
        customers::export(&source, ExportFormat::Xlsx, &xlsx1).unwrap(),
        9
    );

    for (name, file) in [("from_csv.db", &csv1), ("from_xlsx.db", &xlsx1)] {
        let copy = store_in(d, name);
        let report = import(&copy, file);
        assert!(report.errors.is_empty(), "{name}: {:#?}", report.errors);
        assert!(report.warnings.is_empty(), "{name}: {:#?}", report.warnings);
        assert_eq!(report.inserted, 9);
        let csv2 = d.join(format!("{name}.csv"));
        customers::export(&copy, ExportFormat::Csv, &csv2).unwrap();
        assert_eq!(
            std::fs::read_to_string(&csv1).unwrap(),
            std::fs::read_to_string(&csv2).unwrap(),
            "{name}"
        );
        let records = |s: &Store| {
            all_customers(s)
                .into_iter()
                .map(|c| {
                    (
                        c.name,
                        c.company,
                        c.owner,
                        c.tags,
                        c.custom_fields,
                        c.phones
                            .iter()
                            .map(|p| (p.e164.clone(), p.national.clone(), p.extension.clone()))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(records(&source), records(&copy), "{name}");
    }
    // Importing the export into its own source changes nothing.
    let report = import(&source, &csv1);
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (0, 0, 9)
    );
}

#[test]
fn a_file_without_the_needed_columns_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "a.db");
    let path = dir.path().join("wrong.csv");
    std::fs::write(&path, "编号,地址\n1,北京\n").unwrap();
    let e = customers::import_file(&store, &normalizer(), &path, Default::default()).unwrap_err();
    assert!(e.to_string().contains("no header row"), "{e}");
    assert_eq!(store.customers().customer_count().unwrap(), 0);
}

#[test]
fn foreign_keys_are_enforced_again_after_a_bulk_import() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "fk.db");
    // Into an empty store: the bulk path, with its checks off while it writes.
    import(&store, &write_gbk_csv(dir.path()));
    let orphan = callpop::store::NewCustomer {
        name: "孤儿".into(),
        owner_user_id: Some(999),
        ..Default::default()
    };
    assert!(
        store.customers().insert_customer(&orphan).is_err(),
        "an owner that does not exist is refused"
    );
}

fn write_csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The rows the issue measured: a full-width slash between two numbers
/// rejected the row, a Beijing 010-8001xxxx landline was refused as a short
/// mobile, and 12345 was stored as the customer's own without a word.
#[test]
fn full_width_separators_beijing_landlines_and_service_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "a.db");
    let path = write_csv(
        dir.path(),
        "numbers.csv",
        "姓名,电话,备用电话\n\
         王伟,13912345678／0571-87654321,\n\
         李娜,010-80012345,\n\
         张敏,13812345678,12345\n\
         刘强,13712345678 13612345678；13512345678、13312345678，13212345678,\n\
         赵军,95588,\n",
    );
    let report = import(&store, &path);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(report.inserted, 5);
    assert_every_row_counted(&report);

    let wang = named(&store, "王伟");
    let kinds: Vec<_> = wang
        .phones
        .iter()
        .map(|p| (p.national.as_str(), p.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("13912345678", NumberKind::Mobile),
            ("57187654321", NumberKind::FixedLine)
        ]
    );
    let li = named(&store, "李娜");
    assert_eq!(li.phones[0].kind, NumberKind::FixedLine);
    assert_eq!(li.phones[0].e164.as_deref(), Some("+861080012345"));
    assert_eq!(named(&store, "刘强").phones.len(), 5);

    let zhang = named(&store, "张敏");
    assert_eq!(zhang.phones[1].kind, NumberKind::Service);
    let warned: Vec<usize> = report
        .warnings
        .iter()
        .filter(|w| w.issue.message.contains("service number"))
        .map(|w| w.row)
        .collect();
    assert_eq!(warned, vec![4, 6], "{:#?}", report.warnings);
    assert!(report.warnings[0].issue.message.contains("12345"));
    assert_eq!(report.warning_count, 2);

    // The screen pop finds them by the numbers as they arrive on the line.
    let n = normalizer();
    let policy = MatchPolicy::default();
    for (caller, who) in [
        ("057187654321", "王伟"),
        ("01080012345", "李娜"),
        ("+8613212345678", "刘强"),
    ] {
        let found = store
            .customers()
            .lookup(&n.normalize_lenient(caller).unwrap(), &policy)
            .unwrap();
        assert_eq!(found.rule, MatchRule::Exact, "{caller}");
        assert_eq!(found.matches[0].name, who, "{caller}");
    }
}

/// A load into an empty store finds a file's repeated customer however far
/// apart the rows are, without a per-row map: merged after the load, as
/// a row-by-row upsert would have, and every row counted.
#[test]
fn a_customer_repeated_far_down_a_load_is_merged() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path(), "a.db");
    let mut text = String::from("name,phone,company,tags\n");
    text.push_str("王伟,13800000000,华信,VIP\n");
    for i in 1..3_000 {
        text.push_str(&format!("客户{i},139{i:08},,\n"));
    }
    text.push_str("王伟,13800000000 / 010-65528888,华信科技,老客户\n");
    text.push_str("王伟,010-65528888,,\n");
    text.push_str("王芳,13800000000,,\n");
    let report = import(&store, &write_csv(dir.path(), "big.csv", &text));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (3_001, 1, 1),
        "王芳 shares the number but not the name: another person"
    );
    assert_every_row_counted(&report);
    assert_eq!(store.customers().customer_count().unwrap(), 3_001);
    let wang = named(&store, "王伟");
    assert_eq!(wang.id, 1);
    assert_eq!(wang.company, "华信科技", "the later row wins");
    assert_eq!(wang.tags, vec!["VIP", "老客户"]);
    assert_eq!(wang.phones.len(), 2);
    let found = store
        .customers()
        .lookup(
            &normalizer().normalize("010-65528888").unwrap(),
            &MatchPolicy::default(),
        )
        .unwrap();
    assert_eq!(found.matches.len(), 1);
    assert_eq!(found.matches[0].id, 1);
    // Importing it again finds them all through the index.
    let again = import(&store, &write_csv(dir.path(), "big.csv", &text));
    assert_eq!(again.imported(), 3_003);
    assert_eq!(again.inserted, 0);
    assert_eq!(store.customers().customer_count().unwrap(), 3_001);
}

/// The issue's file: 100,000 rows, 200 of them with a quoted cell that
/// never closes (`"张三 / 李四 / 王五 / 赵六`), and 200 with a quote inside
/// a cell (`张三 / "李四`, an ordinary character). Each unclosed row is an
/// error with its line number; every other row is imported; every line is
/// counted.
#[test]
fn unclosed_quotes_lose_only_their_own_rows_at_100_000_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("姓名,电话,公司\n");
    let mut broken = Vec::new();
    for i in 0..100_000u32 {
        let line = i as usize + 2;
        if i % 500 == 250 {
            broken.push(line);
            text.push_str(&format!("\"张三 / 李四 / 王五 / 赵六,139{i:08},华信\n"));
        } else if i % 500 == 100 {
            text.push_str(&format!("张三 / \"李四{i},137{i:08},华信\n"));
        } else {
            text.push_str(&format!("客户{i},138{i:08},公司{}\n", i % 97));
        }
    }
    let path = write_csv(dir.path(), "quotes.csv", &text);
    let store = store_in(dir.path(), "quotes.db");
    let report = import(&store, &path);
    assert_every_row_counted(&report);
    assert_eq!(report.read, 100_001, "every line of the file");
    assert_eq!(error_rows(&report), broken);
    assert!(
        report.errors[0].issue.message.contains("not closed"),
        "{:?}",
        report.errors[0]
    );
    assert_eq!(report.imported(), 99_800);
    assert_eq!(store.customers().customer_count().unwrap(), 99_800);
    let longest = all_customers(&store)
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap();
    assert!(
        longest < 20,
        "no name swallowed other rows: {longest} chars"
    );
}

/// Every code a row issue can carry (in the importer, the sheet readers
/// and the number normaliser) is worded by the page in both languages.
#[test]
fn every_row_issue_code_is_worded_in_both_languages() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = [
        "src/customers/rows.rs",
        "src/customers/import.rs",
        "src/customers/table.rs",
        "src/customers/csv_rows.rs",
        "src/phone.rs",
    ];
    let pattern = regex::Regex::new(r#"(?:Issue::new\(\s*|code: |=> \()"([a-z_]+)""#).unwrap();
    let mut codes: Vec<String> = Vec::new();
    for file in sources {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        codes.extend(pattern.captures_iter(&text).map(|c| c[1].to_string()));
    }
    codes.sort();
    codes.dedup();
    // The file-level problems are server errors, worded under errors.*.
    let file_level = ["header_not_found", "file_unreadable"];
    assert!(codes.len() >= 20, "{codes:?}");
    for lang in ["en", "zh-CN"] {
        let text = std::fs::read_to_string(root.join(format!("web/src/i18n/{lang}.ts"))).unwrap();
        let issues = &text[text.find("import_issues: {").unwrap()..];
        let issues = &issues[..issues.find("\n    },").unwrap()];
        for code in &codes {
            let worded = match file_level.contains(&code.as_str()) {
                true => text.contains(&format!("\n    {code}: \"")),
                false => issues.contains(&format!("\n      {code}: \"")),
            };
            assert!(worded, "{lang}.ts does not word the import issue {code:?}");
        }
    }
}
