//! Turns one spreadsheet row into a customer, using the header mapping:
//! the pure middle of an import, with every doubt about the row in words.

use super::headers::Column;
use super::report::Issue;
use super::table::SheetRow;
use crate::phone::Normalizer;
use crate::store::{NewCustomer, NewPhone};
use serde_json::json;

/// A row turned into a customer, or the reason it cannot be one.
#[derive(Debug)]
pub enum Parsed {
    Blank,
    Customer {
        customer: NewCustomer,
        /// The owner's username, resolved by the writer (it needs the store).
        owner: Option<String>,
        warnings: Vec<Issue>,
    },
    Bad(Issue),
}

/// Separators between tags in one cell.
const TAG_SEPARATORS: &[char] = &[',', '，', ';', '；', '、', '|'];

/// Turns cells into customers using the header mapping.
pub struct RowMapper<'a> {
    pub columns: Vec<Column>,
    pub headers: Vec<String>,
    pub normalizer: &'a Normalizer,
}

impl RowMapper<'_> {
    /// Reads `row`. A row needs a name and at least one good number; a bad
    /// number beside a good one, or a service number, is a warning.
    pub fn parse(&self, row: &SheetRow) -> Parsed {
        if row.cells.iter().all(|c| c.trim().is_empty()) {
            return Parsed::Blank;
        }
        let mut c = NewCustomer::default();
        let mut owner = None;
        let mut warnings = Vec::new();
        let mut bad_numbers = Vec::new();
        for (i, cell) in row.cells.iter().enumerate() {
            let value = cell.trim();
            if value.is_empty() {
                continue;
            }
            match self.columns.get(i).unwrap_or(&Column::Ignore) {
                Column::Name => c.name = value.to_string(),
                Column::Company => c.company = value.to_string(),
                Column::Owner => owner = Some(value.to_string()),
                Column::Tags => {
                    for tag in value.split(TAG_SEPARATORS).map(str::trim) {
                        if !tag.is_empty() && !c.tags.iter().any(|t| t == tag) {
                            c.tags.push(tag.to_string());
                        }
                    }
                }
                Column::Phone(label) => {
                    for piece in self.normalizer.normalize_cell(value) {
                        match piece.number {
                            Ok(number) => {
                                let dup = c.phones.iter().any(|p| {
                                    p.number.national == number.national
                                        && p.number.extension == number.extension
                                });
                                if dup {
                                    continue;
                                }
                                if let Some(why) = number.not_own_number() {
                                    warnings.push(Issue::new(
                                        "service_number",
                                        json!({ "column": label, "number": number.national }),
                                        format!("column {label}: {why}"),
                                    ));
                                }
                                c.phones.push(NewPhone {
                                    number,
                                    label: Some(label.clone()),
                                });
                            }
                            Err(e) => {
                                let (code, mut params) = e.code();
                                params["column"] = json!(label);
                                params["text"] = json!(piece.text);
                                bad_numbers.push(Issue::new(
                                    code,
                                    params,
                                    format!("bad number {:?} in column {label}: {e}", piece.text),
                                ))
                            }
                        }
                    }
                }
                Column::Custom(key) => {
                    c.custom_fields
                        .insert(key.clone(), serde_json::Value::String(value.to_string()));
                }
                Column::Ignore => {}
            }
        }
        if row.cells.len() > self.headers.len()
            && row.cells[self.headers.len()..]
                .iter()
                .any(|c| !c.trim().is_empty())
        {
            let extra = row.cells.len() - self.headers.len();
            let columns = self.headers.len();
            warnings.push(Issue::new(
                "cells_beyond_header",
                json!({ "cells": extra, "columns": columns }),
                format!("{extra} cells beyond the {columns} header columns were ignored"),
            ));
        }
        if c.name.is_empty() {
            return Parsed::Bad(Issue::new("no_name", json!({}), "no customer name"));
        }
        if c.phones.is_empty() {
            // The first bad number says why; the sentence names them all.
            return Parsed::Bad(match bad_numbers.first() {
                None => Issue::new("no_number", json!({}), "no phone number"),
                Some(first) => Issue {
                    message: bad_numbers
                        .iter()
                        .map(|i| i.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                    ..first.clone()
                },
            });
        }
        warnings.extend(bad_numbers);
        Parsed::Customer {
            customer: c,
            owner,
            warnings,
        }
    }
}
