//! Maps spreadsheet column headers, Chinese or English, to customer fields.
//! CRMs and hand-made sheets name the same column a dozen ways; the aliases
//! below are data, extended by adding a word, not by new logic.

/// What a column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Name,
    Company,
    /// A phone column; its header becomes the number's label.
    Phone(String),
    Tags,
    Owner,
    /// Anything else is kept as a custom field under its header.
    Custom(String),
    Ignore,
}

impl Column {
    /// What the column holds, as a word the page translates.
    pub fn kind(&self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Company => "company",
            Column::Phone(_) => "phone",
            Column::Tags => "tags",
            Column::Owner => "owner",
            Column::Custom(_) => "custom",
            Column::Ignore => "ignore",
        }
    }
}

/// Name columns, best first: in a B2B sheet 客户名称 is the customer and
/// 联系人 the contact, so when both are present the first one here wins.
const NAME: &[&str] = &[
    "客户名称",
    "客户姓名",
    "客户名",
    "姓名",
    "名称",
    "名字",
    "customer name",
    "customer",
    "name",
    "full name",
    "联系人",
    "联系人姓名",
    "contact name",
    "contact",
];
const COMPANY: &[&str] = &[
    "公司",
    "公司名称",
    "单位",
    "单位名称",
    "工作单位",
    "企业",
    "企业名称",
    "所属公司",
    "company",
    "company name",
    "organization",
    "organisation",
    "org",
    "employer",
];
const PHONE: &[&str] = &[
    "电话",
    "手机",
    "手机号",
    "手机号码",
    "联系电话",
    "电话号码",
    "联系方式",
    "固话",
    "固定电话",
    "座机",
    "办公电话",
    "公司电话",
    "家庭电话",
    "移动电话",
    "号码",
    "其他电话",
    "其它电话",
    "备用电话",
    "phone",
    "phones",
    "phone number",
    "mobile",
    "mobile phone",
    "cell",
    "cellphone",
    "cell phone",
    "tel",
    "telephone",
    "work phone",
    "home phone",
    "office phone",
    "other phone",
];
const TAGS: &[&str] = &[
    "分组",
    "客户分组",
    "标签",
    "客户标签",
    "客户群",
    "群组",
    "分类",
    "客户分类",
    "group",
    "groups",
    "tag",
    "tags",
    "segment",
    "category",
];
const OWNER: &[&str] = &[
    "负责人",
    "所属坐席",
    "客户经理",
    "归属人",
    "所属人",
    "跟进人",
    "坐席",
    "owner",
    "agent",
    "account manager",
    "assigned to",
];

/// Folds a header for comparison: trims, drops BOMs, required-marks and
/// colons, lowercases, collapses spaces and underscores.
fn fold(header: &str) -> String {
    let cleaned: String = header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, '*' | '＊' | ':' | '：'))
        .map(|c| if c == '_' { ' ' } else { c })
        .collect();
    cleaned
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Phone headers often carry a number: 电话1, phone 2, 手机2.
fn strip_index(folded: &str) -> &str {
    folded.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ')
}

/// Maps a header row to columns. Only the best name column is `Name`; the
/// other name-like columns become custom fields, so nothing is dropped.
pub fn map_headers(headers: &[String]) -> Vec<Column> {
    let folded: Vec<String> = headers.iter().map(|h| fold(h)).collect();
    let best_name = folded
        .iter()
        .enumerate()
        .filter_map(|(i, f)| NAME.iter().position(|a| a == f).map(|rank| (rank, i)))
        .min()
        .map(|(_, i)| i);
    let mut seen_company = false;
    let mut seen_owner = false;
    folded
        .iter()
        .zip(headers)
        .enumerate()
        .map(|(i, (f, original))| {
            let label = original.trim().trim_start_matches('\u{feff}').to_string();
            if f.is_empty() {
                Column::Ignore
            } else if Some(i) == best_name {
                Column::Name
            } else if COMPANY.contains(&f.as_str()) && !seen_company {
                seen_company = true;
                Column::Company
            } else if PHONE.contains(&strip_index(f)) {
                Column::Phone(label)
            } else if TAGS.contains(&f.as_str()) {
                Column::Tags
            } else if OWNER.contains(&f.as_str()) && !seen_owner {
                seen_owner = true;
                Column::Owner
            } else {
                Column::Custom(label)
            }
        })
        .collect()
}

/// The header words accepted for names and phones, for error messages.
pub fn expected_headers() -> String {
    format!(
        "a name column ({}) and a phone column ({})",
        NAME[..6].join("/"),
        PHONE[..6].join("/")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chinese_headers() {
        let cols = map_headers(&h(&[
            "\u{feff}姓名",
            "手机*",
            "电话2",
            "公司：",
            "分组",
            "负责人",
            "地址",
        ]));
        assert_eq!(
            cols,
            vec![
                Column::Name,
                Column::Phone("手机*".into()),
                Column::Phone("电话2".into()),
                Column::Company,
                Column::Tags,
                Column::Owner,
                Column::Custom("地址".into())
            ]
        );
    }

    #[test]
    fn english_headers_any_case() {
        let cols = map_headers(&h(&["Full_Name", "Phone Number", "Company", " TAGS "]));
        assert_eq!(cols[0], Column::Name);
        assert_eq!(cols[1], Column::Phone("Phone Number".into()));
        assert_eq!(cols[2], Column::Company);
        assert_eq!(cols[3], Column::Tags);
    }

    #[test]
    fn best_name_wins_and_other_is_kept() {
        let cols = map_headers(&h(&["联系人", "客户名称", "电话"]));
        assert_eq!(cols[0], Column::Custom("联系人".into()));
        assert_eq!(cols[1], Column::Name);
    }
}
