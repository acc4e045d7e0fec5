//! Reading status and assignee changes back from a spreadsheet (the export
//! edited in Excel, 批量派单/结单): which columns hold the number, the
//! status and the assignee (in either language, as the export writes them),
//! and what each row asks for. Pure: the web side applies the asks through
//! the store's rules, and a dry run shows them first.

use super::lifecycle::StatusDef;

/// Where the columns are (0-based), from the header row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    pub number: usize,
    pub status: Option<usize>,
    pub assignee: Option<usize>,
    pub note: Option<usize>,
}

/// The header names each column goes by (the export's, in both languages).
const NUMBER: [&str; 3] = ["工单号", "number", "work order"];
const STATUS: [&str; 2] = ["状态", "status"];
const ASSIGNEE: [&str; 2] = ["处理人", "assignee"];
const NOTE: [&str; 4] = ["备注", "note", "处理说明", "comment"];

/// The columns of a header row; `None` without a number column or with
/// neither a status nor an assignee column.
pub fn columns(header: &[String]) -> Option<Columns> {
    let find = |names: &[&str]| {
        header.iter().position(|h| {
            let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
            names.iter().any(|n| h == *n)
        })
    };
    let cols = Columns {
        number: find(&NUMBER)?,
        status: find(&STATUS),
        assignee: find(&ASSIGNEE),
        note: find(&NOTE),
    };
    (cols.status.is_some() || cols.assignee.is_some()).then_some(cols)
}

/// What one row asks of its order (empty cells ask nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowAsk {
    pub number: String,
    /// The status cell as written: a key or a label in either language.
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub note: Option<String>,
}

/// The ask of a row; `None` for a row without a number (a blank line).
pub fn ask(cols: &Columns, cells: &[String]) -> Option<RowAsk> {
    let cell = |i: Option<usize>| {
        i.and_then(|i| cells.get(i))
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
    };
    Some(RowAsk {
        number: cell(Some(cols.number))?.to_ascii_uppercase(),
        status: cell(cols.status),
        assignee: cell(cols.assignee),
        note: cell(cols.note),
    })
}

/// The status a cell names among `statuses`: its key, or its label in
/// either language.
pub fn status_named<'a>(statuses: &'a [StatusDef], cell: &str) -> Option<&'a StatusDef> {
    let cell = cell.trim();
    statuses
        .iter()
        .find(|s| s.key == cell || s.label_zh == cell || s.label_en.eq_ignore_ascii_case(cell))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workorder::lifecycle::default_statuses;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn the_export_s_headers_are_found_in_either_language() {
        let zh = columns(&row(&["\u{feff}工单号", "状态", "处理人", "班组", "备注"])).unwrap();
        assert_eq!(
            zh,
            Columns {
                number: 0,
                status: Some(1),
                assignee: Some(2),
                note: Some(4)
            }
        );
        let en = columns(&row(&["Number", "Status", "Assignee"])).unwrap();
        assert_eq!(en.assignee, Some(2));
        assert!(
            columns(&row(&["工单号", "客户"])).is_none(),
            "nothing to change"
        );
        assert!(columns(&row(&["状态", "处理人"])).is_none(), "no number");
    }

    #[test]
    fn a_row_asks_what_its_filled_cells_say() {
        let cols = columns(&row(&["工单号", "状态", "处理人", "备注"])).unwrap();
        assert_eq!(
            ask(
                &cols,
                &row(&[" gd-20261203-0042 ", "已解决", "", "电话确认"])
            ),
            Some(RowAsk {
                number: "GD-20261203-0042".into(),
                status: Some("已解决".into()),
                assignee: None,
                note: Some("电话确认".into()),
            })
        );
        assert_eq!(ask(&cols, &row(&["", "已解决"])), None);
        assert_eq!(ask(&cols, &row(&["GD-1"])).unwrap().status, None);
    }

    #[test]
    fn a_status_is_named_by_key_or_either_label() {
        let s = default_statuses();
        for cell in ["resolved", "已解决", "Resolved", "RESOLVED"] {
            assert_eq!(status_named(&s, cell).unwrap().key, "resolved", "{cell}");
        }
        assert!(status_named(&s, "done").is_none());
    }
}
