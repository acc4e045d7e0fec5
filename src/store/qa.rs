//! Quality checking (质检): scoring forms as data (items with their
//! points, a pass mark, and what they score: recordings, work orders or
//! both), edited in the app by QA and admins; scores given to a recording
//! or a work order, item by item; and the agent's appeal.

use super::{now_ms, Result, Store, StoreError};
use crate::domain::Refusal;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// Quality checking, a view of a [`Store`] from [`Store::qa`].
#[derive(Clone, Copy)]
pub struct Qa<'a> {
    pub(super) store: &'a Store,
}

/// What a form scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppliesTo {
    Recording,
    WorkOrder,
    Both,
}

impl AppliesTo {
    fn as_str(self) -> &'static str {
        match self {
            AppliesTo::Recording => "recording",
            AppliesTo::WorkOrder => "work_order",
            AppliesTo::Both => "both",
        }
    }

    fn parse(s: &str) -> AppliesTo {
        match s {
            "work_order" => AppliesTo::WorkOrder,
            "both" => AppliesTo::Both,
            _ => AppliesTo::Recording,
        }
    }

    /// Whether a form for this scores `target`'s kind.
    pub fn covers(self, target: QaTarget) -> bool {
        matches!(
            (self, target),
            (AppliesTo::Both, _)
                | (AppliesTo::Recording, QaTarget::Recording(_))
                | (AppliesTo::WorkOrder, QaTarget::WorkOrder(_))
        )
    }
}

/// What is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QaTarget {
    Recording(i64),
    WorkOrder(i64),
}

impl QaTarget {
    /// The column and id that name it in `qa_scores`.
    fn column(self) -> (&'static str, i64) {
        match self {
            QaTarget::Recording(id) => ("recording_id", id),
            QaTarget::WorkOrder(id) => ("work_order_id", id),
        }
    }
}

/// A quality-checking form: items with their points, and the pass mark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QaForm {
    pub id: i64,
    pub name: String,
    /// The title in Chinese and in English.
    pub title: String,
    pub title_en: String,
    pub items: Vec<QaItem>,
    pub pass_mark: i64,
    pub applies_to: AppliesTo,
}

/// One line of a form: what is checked, and the most points it gives
/// (its weight in the total).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QaItem {
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub label_en: String,
    pub points: i64,
}

/// A form as the editor sends it.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QaFormEdit {
    pub title: String,
    #[serde(default)]
    pub title_en: String,
    pub items: Vec<QaItem>,
    pub pass_mark: i64,
    pub applies_to: AppliesTo,
}

/// A score given to a recording or a work order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QaScore {
    pub id: i64,
    pub recording_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_order_id: Option<i64>,
    pub form_id: i64,
    pub scorer: Option<String>,
    pub items: BTreeMap<String, i64>,
    pub total: i64,
    pub passed: bool,
    pub comment: String,
    pub created_at: i64,
    pub appeal_note: Option<String>,
    pub appeal_by: Option<String>,
    pub appeal_at: Option<i64>,
}

/// Why a score was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScoreError {
    #[error("no such form")]
    NoForm,
    #[error("this form does not score this")]
    WrongKind,
    #[error("item {0:?} is not on the form")]
    UnknownItem(String),
    #[error("item {key:?}: {given} points given, {max} at most")]
    TooMany { key: String, given: i64, max: i64 },
    #[error("item {0:?} has no points given")]
    Missing(String),
}

/// The total of `items` on `form` and whether it passes: every item given,
/// each within its points, none that is not on the form.
pub fn check_score(
    form: &QaForm,
    items: &BTreeMap<String, i64>,
) -> std::result::Result<(i64, bool), ScoreError> {
    if let Some(k) = items
        .keys()
        .find(|k| !form.items.iter().any(|i| &i.key == *k))
    {
        return Err(ScoreError::UnknownItem(k.clone()));
    }
    let mut total = 0;
    for item in &form.items {
        let Some(&given) = items.get(&item.key) else {
            return Err(ScoreError::Missing(item.key.clone()));
        };
        if !(0..=item.points).contains(&given) {
            return Err(ScoreError::TooMany {
                key: item.key.clone(),
                given,
                max: item.points,
            });
        }
        total += given;
    }
    Ok((total, total >= form.pass_mark))
}

/// Why an edited form cannot be saved.
/// Why a scoring form cannot be saved. Codes: `qa_form_name_invalid`,
/// `qa_form_title_missing`, `qa_form_items_count`, `qa_item_unlabelled`,
/// `qa_item_twice`, `qa_item_points_range`, `qa_pass_mark_range`.
pub fn check_form(name: &str, f: &QaFormEdit) -> std::result::Result<(), Refusal> {
    let valid_name = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        return Err(Refusal::new(
            "qa_form_name_invalid",
            json!({ "name": name }),
            format!("form name {name:?}: use 1 to 32 of a-z, 0-9 and _"),
        ));
    }
    if f.title.trim().is_empty() {
        return Err(Refusal::new(
            "qa_form_title_missing",
            json!({}),
            "a scoring form needs a title",
        ));
    }
    if f.items.is_empty() || f.items.len() > 50 {
        return Err(Refusal::new(
            "qa_form_items_count",
            json!({ "max": 50 }),
            "a scoring form has 1 to 50 items",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for item in &f.items {
        if item.key.trim().is_empty() || item.label.trim().is_empty() {
            return Err(Refusal::new(
                "qa_item_unlabelled",
                json!({ "item": item.key }),
                "every item needs a key and a label",
            ));
        }
        if !seen.insert(item.key.as_str()) {
            return Err(Refusal::new(
                "qa_item_twice",
                json!({ "item": item.key }),
                format!("item {:?} appears twice", item.key),
            ));
        }
        if !(1..=100).contains(&item.points) {
            return Err(Refusal::new(
                "qa_item_points_range",
                json!({ "item": item.key, "max": 100 }),
                format!("item {:?}: 1 to 100 points", item.key),
            ));
        }
    }
    let most: i64 = f.items.iter().map(|i| i.points).sum();
    if !(0..=most).contains(&f.pass_mark) {
        return Err(Refusal::new(
            "qa_pass_mark_range",
            json!({ "max": most }),
            format!("the pass mark is 0 to {most} (all the points)"),
        ));
    }
    Ok(())
}

impl Qa<'_> {
    /// The active scoring forms.
    pub fn forms(&self) -> Result<Vec<QaForm>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT id, name, title, items, pass_mark, title_en, applies_to FROM qa_forms
              WHERE active = 1 ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let items: String = r.get(3)?;
            let title: String = r.get(2)?;
            let title_en: String = r.get(5)?;
            let applies_to: String = r.get(6)?;
            Ok(QaForm {
                id: r.get(0)?,
                name: r.get(1)?,
                title_en: if title_en.is_empty() {
                    title.clone()
                } else {
                    title_en
                },
                title,
                items: serde_json::from_str(&items).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        3,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
                pass_mark: r.get(4)?,
                applies_to: AppliesTo::parse(&applies_to),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The active forms that score `target`'s kind.
    pub fn forms_for(&self, target: QaTarget) -> Result<Vec<QaForm>> {
        Ok(self
            .forms()?
            .into_iter()
            .filter(|f| f.applies_to.covers(target))
            .collect())
    }

    /// Creates or replaces the form `name` (the scores given on it keep
    /// their points); the form as saved.
    pub fn put_form(&self, name: &str, edit: &QaFormEdit) -> Result<QaForm> {
        check_form(name, edit).map_err(|r| StoreError::Invalid(r.message))?;
        let items = serde_json::to_string(&edit.items)
            .map_err(|e| StoreError::Invalid(format!("items: {e}")))?;
        self.store
            .conn
            .prepare_cached(
                "INSERT INTO qa_forms (name, title, title_en, items, pass_mark, applies_to, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)
                 ON CONFLICT(name) DO UPDATE SET title = excluded.title,
                     title_en = excluded.title_en, items = excluded.items,
                     pass_mark = excluded.pass_mark, applies_to = excluded.applies_to,
                     active = 1",
            )?
            .execute(params![
                name,
                edit.title.trim(),
                edit.title_en.trim(),
                items,
                edit.pass_mark,
                edit.applies_to.as_str()
            ])?;
        self.forms()?
            .into_iter()
            .find(|f| f.name == name)
            .ok_or_else(|| StoreError::Invalid(format!("form {name:?} vanished")))
    }

    /// Scores `target` on a form; every item must be given, within its
    /// points. The score's id, or why it was refused.
    pub fn add_score(
        &self,
        target: QaTarget,
        form_id: i64,
        scorer_id: i64,
        items: &BTreeMap<String, i64>,
        comment: &str,
    ) -> Result<std::result::Result<i64, ScoreError>> {
        let Some(form) = self.forms()?.into_iter().find(|f| f.id == form_id) else {
            return Ok(Err(ScoreError::NoForm));
        };
        if !form.applies_to.covers(target) {
            return Ok(Err(ScoreError::WrongKind));
        }
        let (total, passed) = match check_score(&form, items) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let (recording, work_order) = match target {
            QaTarget::Recording(id) => (Some(id), None),
            QaTarget::WorkOrder(id) => (None, Some(id)),
        };
        self.store.conn.execute(
            "INSERT INTO qa_scores (recording_id, work_order_id, form_id, scorer_id, items, total,
                 passed, comment, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                recording,
                work_order,
                form_id,
                scorer_id,
                serde_json::to_string(items).expect("a map of numbers"),
                total,
                passed,
                comment,
                now_ms()
            ],
        )?;
        Ok(Ok(self.store.conn.last_insert_rowid()))
    }

    /// The scores of `target`, oldest first.
    pub fn scores(&self, target: QaTarget) -> Result<Vec<QaScore>> {
        let (column, id) = target.column();
        let mut stmt = self.store.conn.prepare_cached(&format!(
            "SELECT s.id, s.recording_id, s.work_order_id, s.form_id, u.username, s.items,
                    s.total, s.passed, s.comment, s.created_at, s.appeal_note, a.username,
                    s.appeal_at
             FROM qa_scores s LEFT JOIN users u ON u.id = s.scorer_id
             LEFT JOIN users a ON a.id = s.appeal_by
             WHERE s.{column} = ?1 ORDER BY s.id"
        ))?;
        let rows = stmt.query_map([id], |r| {
            let items: String = r.get(5)?;
            Ok(QaScore {
                id: r.get(0)?,
                recording_id: r.get(1)?,
                work_order_id: r.get(2)?,
                form_id: r.get(3)?,
                scorer: r.get(4)?,
                items: serde_json::from_str(&items).unwrap_or_default(),
                total: r.get(6)?,
                passed: r.get(7)?,
                comment: r.get(8)?,
                created_at: r.get(9)?,
                appeal_note: r.get(10)?,
                appeal_by: r.get(11)?,
                appeal_at: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The agent's appeal against a score; false if the score is not one
    /// of `target`'s.
    pub fn appeal(&self, target: QaTarget, score_id: i64, by: i64, note: &str) -> Result<bool> {
        let (column, id) = target.column();
        Ok(self.store.conn.execute(
            &format!(
                "UPDATE qa_scores SET appeal_note = ?3, appeal_by = ?4, appeal_at = ?5
                 WHERE id = ?2 AND {column} = ?1"
            ),
            params![id, score_id, note, by, now_ms()],
        )? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    fn item(key: &str, points: i64) -> QaItem {
        QaItem {
            key: key.into(),
            label: format!("{key}项"),
            label_en: key.into(),
            points,
        }
    }

    #[test]
    fn work_orders_are_scored_on_their_own_forms_and_appealed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("q.db")).unwrap();
        store
            .users()
            .add_user("a1", "a1", Role::Agent, None, None)
            .unwrap();
        let agent = store.users().user_by_name("a1").unwrap().unwrap();
        store
            .workorders()
            .put_form(&crate::store::workorders::plain_form("service"))
            .unwrap();
        let order = store
            .workorders()
            .save_work_order("service", None, None, agent.id, "k", &Default::default())
            .unwrap()
            .id;
        let qa = store.qa();
        let target = QaTarget::WorkOrder(order);
        let forms = qa.forms_for(target).unwrap();
        assert_eq!(forms.len(), 1, "the shipped work-order form");
        let form = &forms[0];
        // The recording form does not score work orders.
        let recording_form = qa.forms_for(QaTarget::Recording(1)).unwrap()[0].id;
        let full: BTreeMap<String, i64> = form
            .items
            .iter()
            .map(|i| (i.key.clone(), i.points))
            .collect();
        assert_eq!(
            qa.add_score(target, recording_form, agent.id, &full, "")
                .unwrap(),
            Err(ScoreError::WrongKind)
        );
        let mut low = full.clone();
        let first = form.items[0].key.clone();
        low.insert(first.clone(), form.items[0].points + 1);
        assert!(matches!(
            qa.add_score(target, form.id, agent.id, &low, "").unwrap(),
            Err(ScoreError::TooMany { .. })
        ));
        let id = qa
            .add_score(target, form.id, agent.id, &full, "记录完整")
            .unwrap()
            .unwrap();
        let scores = qa.scores(target).unwrap();
        assert_eq!(scores.len(), 1);
        assert!(scores[0].passed);
        assert_eq!(scores[0].total, 100);
        assert_eq!(scores[0].work_order_id, Some(order));
        assert!(qa.scores(QaTarget::Recording(order)).unwrap().is_empty());
        assert!(!qa
            .appeal(QaTarget::Recording(order), id, agent.id, "?")
            .unwrap());
        assert!(qa.appeal(target, id, agent.id, "我有异议").unwrap());
    }

    #[test]
    fn forms_are_edited_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("q.db")).unwrap();
        let qa = store.qa();
        let edit = QaFormEdit {
            title: "投诉工单质检".into(),
            title_en: "Complaint orders".into(),
            items: vec![item("apology", 40), item("fix", 60)],
            pass_mark: 70,
            applies_to: AppliesTo::Both,
        };
        let saved = qa.put_form("complaints", &edit).unwrap();
        assert_eq!(saved.items.len(), 2);
        assert!(saved.applies_to.covers(QaTarget::Recording(1)));
        assert!(saved.applies_to.covers(QaTarget::WorkOrder(1)));
        let mut changed = edit.clone();
        changed.items.push(item("follow_up", 20));
        changed.pass_mark = 90;
        assert_eq!(qa.put_form("complaints", &changed).unwrap().items.len(), 3);
        for (bad, why) in [
            (
                QaFormEdit {
                    pass_mark: 101,
                    ..edit.clone()
                },
                "pass mark",
            ),
            (
                QaFormEdit {
                    items: vec![item("a", 10), item("a", 10)],
                    ..edit.clone()
                },
                "twice",
            ),
            (
                QaFormEdit {
                    items: vec![item("a", 0)],
                    pass_mark: 0,
                    ..edit.clone()
                },
                "points",
            ),
            (
                QaFormEdit {
                    items: Vec::new(),
                    ..edit.clone()
                },
                "items",
            ),
        ] {
            let e = qa.put_form("complaints", &bad).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
        assert!(qa.put_form("Bad Name", &edit).is_err());
    }
}
