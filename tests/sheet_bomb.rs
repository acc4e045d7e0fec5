//! An upload bomb: a small `.xlsx` whose sheet claims two million rows
//! (more than Excel allows). It is read row by row and refused past the
//! limit, in bounded memory: this test binary's peak RSS stays low.
//! Alone in its binary, so the peak is this test's.

use callpop::customers::table::{Table, MAX_SHEET_ROWS};

const ROWS: usize = 2_000_000;

/// Writes a minimal workbook of `rows` rows (a number in column A) with
/// Python's zipfile: the same kind of file any script could send.
fn write_bomb(path: &std::path::Path, rows: usize) {
    let script = r#"
import sys, zipfile
path, rows = sys.argv[1], int(sys.argv[2])
ct = '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
rels = '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
wb = '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
wbrels = '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr('[Content_Types].xml', ct)
    z.writestr('_rels/.rels', rels)
    z.writestr('xl/workbook.xml', wb)
    z.writestr('xl/_rels/workbook.xml.rels', wbrels)
    with z.open('xl/worksheets/sheet1.xml', 'w', force_zip64=True) as f:
        f.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:A%d"/><sheetData>' % rows)
        chunk = []
        for r in range(1, rows + 1):
            chunk.append(b'<row r="%d"><c r="A%d"><v>13800000000</v></c></row>' % (r, r))
            if len(chunk) == 10000:
                f.write(b''.join(chunk)); chunk = []
        f.write(b''.join(chunk))
        f.write(b'</sheetData></worksheet>')
"#;
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .arg(rows.to_string())
        .status()
        .expect("python3 (./run test installs it)");
    assert!(status.success());
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

#[test]
fn a_sheet_of_two_million_rows_is_cut_at_excel_s_limit_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.xlsx");
    write_bomb(&path, ROWS);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 16 << 20, "a small file: {size} bytes");
    let before = peak_rss_mb();
    let mut rows = 0usize;
    let mut errors = Vec::new();
    for row in Table::open(&path).unwrap() {
        match row {
            Ok(_) => rows += 1,
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(rows, MAX_SHEET_ROWS, "read up to Excel's limit");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].row, MAX_SHEET_ROWS + 1);
    assert!(errors[0].message.contains("Excel"), "{}", errors[0].message);
    let grew = peak_rss_mb().saturating_sub(before);
    assert!(grew < 120, "reading the sheet took {grew} MB at its peak");
}
