//! Delimited text (CSV, TSV, semicolons) read as rows, line by line, so
//! that one broken row cannot swallow the rows after it: a quoted cell
//! may go on over a few lines (an address typed with line breaks) but a
//! quote still open after [`MAX_ROW_LINES`] lines or [`MAX_ROW_BYTES`]
//! bytes is that row's error, and reading resumes on the next line.
//! RFC 4180 quoting otherwise: `""` inside quotes is a quote, a quote in
//! the middle of an unquoted cell is just a character.

use super::table::{RowReadError, SheetRow};
use std::collections::VecDeque;
use std::io::BufRead;

/// The most lines one row may span (a quoted cell with line breaks).
pub const MAX_ROW_LINES: usize = 10;
/// The most bytes one row may hold.
pub const MAX_ROW_BYTES: usize = 64 * 1024;

/// Rows of delimited text from `reader` (already decoded to UTF-8).
pub struct CsvRows<R> {
    reader: R,
    delimiter: char,
    /// Lines read so far (the number of the last one).
    line_no: usize,
    /// Lines read ahead while looking for a closing quote, to read again.
    pending: VecDeque<(usize, String)>,
    failed: bool,
}

/// What splitting some text into cells found.
#[derive(Debug, PartialEq, Eq)]
enum Split {
    Cells(Vec<String>),
    /// A quoted cell is still open at the end of the text.
    OpenQuote,
}

impl<R: BufRead> CsvRows<R> {
    /// Rows of `reader`, cells split on `delimiter`.
    pub fn new(reader: R, delimiter: u8) -> CsvRows<R> {
        CsvRows {
            reader,
            delimiter: delimiter as char,
            line_no: 0,
            pending: VecDeque::new(),
            failed: false,
        }
    }

    /// The next line with its number, without its line ending; `Err` on a
    /// read error.
    fn next_line(&mut self) -> Option<Result<(usize, String), String>> {
        if let Some(l) = self.pending.pop_front() {
            return Some(Ok(l));
        }
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => {
                self.line_no += 1;
                if line.ends_with('\n') {
                    line.pop();
                }
                if line.ends_with('\r') {
                    line.pop();
                }
                Some(Ok((self.line_no, line)))
            }
            Err(e) => Some(Err(e.to_string())),
        }
    }
}

impl<R: BufRead> Iterator for CsvRows<R> {
    type Item = Result<SheetRow, RowReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let (row, first) = loop {
            match self.next_line()? {
                Ok((_, line)) if line.is_empty() => continue,
                Ok(found) => break found,
                Err(e) => return Some(Err(self.fail(e))),
            }
        };
        let mut text = first;
        let mut taken: Vec<(usize, String)> = Vec::new();
        loop {
            if let Split::Cells(cells) = split(&text, self.delimiter) {
                return Some(Ok(SheetRow { row, cells }));
            }
            if taken.len() + 1 >= MAX_ROW_LINES || text.len() >= MAX_ROW_BYTES {
                break;
            }
            match self.next_line() {
                Some(Ok((n, line))) => {
                    text.push('\n');
                    text.push_str(&line);
                    taken.push((n, line));
                }
                Some(Err(e)) => return Some(Err(self.fail(e))),
                None => break,
            }
        }
        // Never closed: this row is an error; the lines after it are rows.
        for l in taken.into_iter().rev() {
            self.pending.push_front(l);
        }
        Some(Err(RowReadError {
            row,
            code: "quote_not_closed",
            params: serde_json::json!({ "lines": MAX_ROW_LINES }),
            message: format!(
                "a quote opened in this row is not closed within {MAX_ROW_LINES} lines: row skipped"
            ),
        }))
    }
}

impl<R> CsvRows<R> {
    fn fail(&mut self, error: String) -> RowReadError {
        self.failed = true;
        RowReadError {
            row: self.line_no + 1,
            code: "read_stopped",
            params: serde_json::json!({ "detail": error }),
            message: format!("read error, import stopped here: {error}"),
        }
    }
}

/// Splits one row's text into cells.
fn split(text: &str, delimiter: char) -> Split {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut at_start = true;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cell.push('"');
                } else {
                    quoted = false;
                    // A closed quoted cell ends here: anything but the
                    // delimiter or the end means the quote was not the
                    // cell's end (`"北京\n王五,...,"上海"`), so the row
                    // is not trusted.
                    match chars.peek() {
                        None => {}
                        Some(&d) if d == delimiter => {}
                        Some(_) => return Split::OpenQuote,
                    }
                }
            } else {
                cell.push(c);
            }
        } else if c == delimiter {
            cells.push(std::mem::take(&mut cell));
            at_start = true;
            continue;
        } else if c == '"' && at_start {
            quoted = true;
        } else {
            cell.push(c);
        }
        at_start = false;
    }
    if quoted {
        return Split::OpenQuote;
    }
    cells.push(cell);
    Split::Cells(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Got = Result<(usize, Vec<String>), (usize, String)>;

    fn rows(text: &str) -> Vec<Got> {
        CsvRows::new(text.as_bytes(), b',')
            .map(|r| r.map(|r| (r.row, r.cells)).map_err(|e| (e.row, e.message)))
            .collect()
    }

    fn cells(row: usize, c: &[&str]) -> Got {
        Ok((row, c.iter().map(|s| s.to_string()).collect()))
    }

    #[test]
    fn cells_split_the_rfc_4180_way() {
        assert_eq!(
            split(r#"a,"b,c","d ""e""",f"g,"#, ','),
            Split::Cells(
                ["a", "b,c", "d \"e\"", "f\"g", ""]
                    .map(String::from)
                    .to_vec()
            )
        );
        assert_eq!(split("\"open,x", ','), Split::OpenQuote);
        assert_eq!(
            split("x\ty", '\t'),
            Split::Cells(vec!["x".into(), "y".into()])
        );
    }

    #[test]
    fn line_numbers_survive_crlf_blank_lines_and_quoted_line_breaks() {
        let data = "h1,h2\r\nA,1\r\n,,\r\n\r\nC,\"x\r\ny\"\r\nD,4";
        assert_eq!(
            rows(data),
            [
                cells(1, &["h1", "h2"]),
                cells(2, &["A", "1"]),
                cells(3, &["", "", ""]),
                cells(5, &["C", "x\ny"]),
                cells(7, &["D", "4"]),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_loses_its_row_only() {
        let mut data = String::from("姓名,电话\n");
        data.push_str("\"张三 / 李四 / 王五 / 赵六,13800000001\n");
        for i in 2..40 {
            data.push_str(&format!("客户{i},1380000{i:04}\n"));
        }
        let got = rows(&data);
        assert_eq!(got.len(), 40, "header, the broken row, 38 good rows");
        assert_eq!(got[1].as_ref().unwrap_err().0, 2);
        assert!(got[1].as_ref().unwrap_err().1.contains("not closed"));
        assert_eq!(got[2], cells(3, &["客户2", "13800000002"]));
        assert_eq!(got[39], cells(40, &["客户39", "13800000039"]));
    }

    #[test]
    fn a_quote_inside_an_unquoted_cell_is_a_character() {
        let got = rows("张三 / \"李四 / 王五,13800000001\n赵六,13900000002\n");
        assert_eq!(
            got,
            [
                cells(1, &["张三 / \"李四 / 王五", "13800000001"]),
                cells(2, &["赵六", "13900000002"])
            ]
        );
    }

    #[test]
    fn a_quote_closed_by_the_next_cell_s_quote_is_not_trusted() {
        let got = rows("李四,\"北京\n王五,13800000003\n赵六,\"上海\",x\n");
        assert!(
            matches!(&got[0], Err((1, m)) if m.contains("not closed")),
            "{got:?}"
        );
        assert_eq!(got[1], cells(2, &["王五", "13800000003"]));
        assert_eq!(got[2], cells(3, &["赵六", "上海", "x"]));
    }

    #[test]
    fn a_quote_closed_a_few_lines_on_is_one_row() {
        let got = rows("a,\"line 1\nline 2\nline 3\",b\nc,d\n");
        assert_eq!(
            got,
            [
                cells(1, &["a", "line 1\nline 2\nline 3", "b"]),
                cells(4, &["c", "d"])
            ]
        );
    }
}
