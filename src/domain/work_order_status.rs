//! A work order's life (工单流转): the statuses a form's orders move
//! through, which moves are allowed, the human-readable numbers
//! (`GD-20261203-0042`) and when an order is overdue. Statuses are data,
//! one list per form (a center adds 待回访 or 已退回 without a recompile);
//! a form that names none gets [`default_statuses`]. Pure: the store and
//! the pages ask the same questions of the same rules.

use serde::{Deserialize, Serialize};

/// One status a form's work orders may be in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusDef {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    /// Still to be worked on: listed on the pop, counted as due or overdue.
    pub open: bool,
    /// The statuses it may move to.
    #[serde(default)]
    pub next: Vec<String>,
}

/// The statuses of a form that names none: 新建 → 处理中 → 已解决 → 已关闭,
/// and back to 处理中 from either end (重开).
pub fn default_statuses() -> Vec<StatusDef> {
    let status = |key: &str, zh: &str, en: &str, open: bool, next: &[&str]| StatusDef {
        key: key.into(),
        label_zh: zh.into(),
        label_en: en.into(),
        open,
        next: next.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        status(
            "open",
            "新建",
            "New",
            true,
            &["in_progress", "resolved", "closed"],
        ),
        status(
            "in_progress",
            "处理中",
            "In progress",
            true,
            &["resolved", "closed"],
        ),
        status(
            "resolved",
            "已解决",
            "Resolved",
            false,
            &["closed", "in_progress"],
        ),
        status("closed", "已关闭", "Closed", false, &["in_progress"]),
    ]
}

/// Why a list of statuses cannot be a form's.
pub fn check_statuses(statuses: &[StatusDef]) -> Result<(), String> {
    let Some(first) = statuses.first() else {
        return Ok(()); // the default list
    };
    if !first.open {
        return Err(format!(
            "the first status ({:?}) is where new orders start and must be open",
            first.key
        ));
    }
    if !statuses.iter().any(|s| !s.open) {
        return Err("at least one status must end the work (not open)".into());
    }
    let mut seen = std::collections::HashSet::new();
    for s in statuses {
        let valid_key = !s.key.is_empty()
            && s.key.len() <= 32
            && s.key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_key {
            return Err(format!(
                "status key {:?}: use 1 to 32 of a-z, 0-9 and _",
                s.key
            ));
        }
        if !seen.insert(s.key.as_str()) {
            return Err(format!("status {:?} appears twice", s.key));
        }
        if s.label_zh.trim().is_empty() || s.label_en.trim().is_empty() {
            return Err(format!(
                "status {:?} needs a label in both languages",
                s.key
            ));
        }
    }
    for s in statuses {
        if let Some(unknown) = s.next.iter().find(|n| !seen.contains(n.as_str())) {
            return Err(format!(
                "status {:?} moves to {unknown:?}, which is not a status",
                s.key
            ));
        }
        if s.next.contains(&s.key) {
            return Err(format!("status {:?} moves to itself", s.key));
        }
    }
    Ok(())
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveRefused {
    /// The form has no such status.
    UnknownStatus(String),
    /// `from` does not lead to `to`.
    NotAllowed { from: String, to: String },
}

impl std::fmt::Display for MoveRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MoveRefused::UnknownStatus(s) => write!(f, "there is no status {s:?}"),
            MoveRefused::NotAllowed { from, to } => {
                write!(f, "a work order cannot move from {from:?} to {to:?}")
            }
        }
    }
}

/// The form's statuses: its own list, or the default.
pub fn statuses_of(own: &[StatusDef]) -> std::borrow::Cow<'_, [StatusDef]> {
    if own.is_empty() {
        std::borrow::Cow::Owned(default_statuses())
    } else {
        std::borrow::Cow::Borrowed(own)
    }
}

/// Where new orders start.
pub fn initial(statuses: &[StatusDef]) -> &StatusDef {
    &statuses[0]
}

/// The status `to` when an order in `from` may move there.
pub fn check_move<'a>(
    statuses: &'a [StatusDef],
    from: &str,
    to: &str,
) -> Result<&'a StatusDef, MoveRefused> {
    let target = statuses
        .iter()
        .find(|s| s.key == to)
        .ok_or_else(|| MoveRefused::UnknownStatus(to.to_string()))?;
    // An order in a status the form no longer has may go to any status.
    let allowed = match statuses.iter().find(|s| s.key == from) {
        Some(current) => current.next.iter().any(|n| n == to),
        None => from != to,
    };
    if allowed {
        Ok(target)
    } else {
        Err(MoveRefused::NotAllowed {
            from: from.to_string(),
            to: to.to_string(),
        })
    }
}

/// Whether a status is open (unknown ones are: nothing is hidden by a
/// form's edit).
pub fn is_open(statuses: &[StatusDef], key: &str) -> bool {
    statuses
        .iter()
        .find(|s| s.key == key)
        .is_none_or(|s| s.open)
}

/// A work order's number: `GD-` the local day and its sequence that day.
pub fn number(day: chrono::NaiveDate, sequence: u32) -> String {
    format!("GD-{}-{sequence:04}", day.format("%Y%m%d"))
}

/// The day key of [`number`]'s counter.
pub fn day_key(day: chrono::NaiveDate) -> String {
    day.format("%Y%m%d").to_string()
}

/// Whether an order is overdue at `now_ms`: open, with a due time passed.
pub fn overdue(open: bool, due_at: Option<i64>, now_ms: i64) -> bool {
    open && due_at.is_some_and(|due| due < now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_lifecycle_moves_forward_and_reopens() {
        let s = default_statuses();
        check_statuses(&s).unwrap();
        assert_eq!(initial(&s).key, "open");
        for (from, to) in [
            ("open", "in_progress"),
            ("open", "resolved"),
            ("in_progress", "resolved"),
            ("resolved", "closed"),
            ("resolved", "in_progress"),
            ("closed", "in_progress"),
        ] {
            assert_eq!(check_move(&s, from, to).unwrap().key, to, "{from} → {to}");
        }
        for (from, to) in [
            ("closed", "open"),
            ("closed", "resolved"),
            ("in_progress", "open"),
            ("open", "open"),
        ] {
            assert_eq!(
                check_move(&s, from, to),
                Err(MoveRefused::NotAllowed {
                    from: from.into(),
                    to: to.into()
                }),
                "{from} → {to}"
            );
        }
        assert_eq!(
            check_move(&s, "open", "archived"),
            Err(MoveRefused::UnknownStatus("archived".into()))
        );
        assert!(is_open(&s, "in_progress"));
        assert!(!is_open(&s, "resolved"));
        assert!(!is_open(&s, "closed"));
    }

    #[test]
    fn an_order_in_a_status_the_form_dropped_can_move_anywhere_else() {
        let s = default_statuses();
        assert!(check_move(&s, "waiting_parts", "closed").is_ok());
        assert!(is_open(&s, "waiting_parts"));
    }

    #[test]
    fn a_form_s_own_statuses_are_checked() {
        let mut s = default_statuses();
        s[0].open = false;
        assert!(check_statuses(&s).unwrap_err().contains("must be open"));
        let mut s = default_statuses();
        s[1].next.push("nowhere".into());
        assert!(check_statuses(&s).unwrap_err().contains("nowhere"));
        let mut s = default_statuses();
        s[2].key = "open".into();
        assert!(check_statuses(&s).unwrap_err().contains("twice"));
        let mut s = default_statuses();
        s[3].key = "Closed!".into();
        assert!(check_statuses(&s).unwrap_err().contains("a-z"));
        let all_open: Vec<_> = default_statuses()
            .into_iter()
            .map(|mut s| {
                s.open = true;
                s
            })
            .collect();
        assert!(check_statuses(&all_open)
            .unwrap_err()
            .contains("end the work"));
        assert!(check_statuses(&[]).is_ok());
        assert_eq!(statuses_of(&[]).len(), 4);
    }

    #[test]
    fn numbers_read_as_the_day_and_its_sequence() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert_eq!(number(day, 42), "GD-20261203-0042");
        assert_eq!(number(day, 12345), "GD-20261203-12345");
        assert_eq!(day_key(day), "20261203");
    }

    #[test]
    fn overdue_means_open_and_past_due() {
        assert!(overdue(true, Some(999), 1000));
        assert!(!overdue(true, Some(1000), 1000));
        assert!(!overdue(false, Some(1), 1000));
        assert!(!overdue(true, None, 1000));
    }
}
