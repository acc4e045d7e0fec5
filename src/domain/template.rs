//! Message templates with merge fields: `尊敬的{name}，{company}...`.
//! Parsed once when a campaign is created, so a misspelt field is an error
//! for the marketer then, not an empty gap in a million messages.
//! `{{` and `}}` stand for literal braces.

use std::collections::BTreeSet;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(String),
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template is empty")]
    Empty,
    #[error("a `{{` at character {0} is never closed")]
    Unclosed(usize),
    #[error("a `}}` at character {0} closes nothing (write `}}}}` for a brace)")]
    StrayClose(usize),
    #[error("an empty field `{{}}` at character {0}")]
    EmptyField(usize),
    #[error("unknown merge field {{{0}}}; known here: {1}")]
    UnknownField(String, String),
}

impl Template {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        if text.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::StrayClose(i + 1)),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, c)) => name.push(c),
                            None => return Err(TemplateError::Unclosed(i + 1)),
                        }
                    }
                    let name = name.trim().to_string();
                    if name.is_empty() {
                        return Err(TemplateError::EmptyField(i + 1));
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(name));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// The merge fields it uses.
    pub fn fields(&self) -> BTreeSet<&str> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Field(f) => Some(f.as_str()),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// Refuses fields the recipients cannot have.
    pub fn check_fields(&self, known: &BTreeSet<String>) -> Result<(), TemplateError> {
        match self.fields().into_iter().find(|f| !known.contains(*f)) {
            None => Ok(()),
            Some(f) => Err(TemplateError::UnknownField(
                f.to_string(),
                known.iter().cloned().collect::<Vec<_>>().join(", "),
            )),
        }
    }

    /// The text for one recipient: `value` gives each field's value (a
    /// missing value leaves the field empty), `suffix` is appended.
    pub fn render<'a>(&self, value: impl Fn(&str) -> Option<&'a str>, suffix: &str) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(f) => out.push_str(value(f).unwrap_or("").trim()),
            }
        }
        out.push_str(suffix);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(fields: &[&str]) -> BTreeSet<String> {
        fields.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn renders_fields_braces_and_suffix() {
        let t = Template::parse("尊敬的{name}，{ company }会员日{{8折}}").unwrap();
        assert_eq!(
            t.fields().into_iter().collect::<Vec<_>>(),
            ["company", "name"]
        );
        let text = t.render(
            |f| match f {
                "name" => Some("张三"),
                "company" => Some(" 星辰贸易 "),
                _ => None,
            },
            "回T退订",
        );
        assert_eq!(text, "尊敬的张三，星辰贸易会员日{8折}回T退订");
        assert_eq!(t.render(|_| None, ""), "尊敬的，会员日{8折}");
    }

    #[test]
    fn bad_templates_say_where() {
        assert_eq!(Template::parse("  "), Err(TemplateError::Empty));
        assert_eq!(Template::parse("hi {name"), Err(TemplateError::Unclosed(4)));
        assert_eq!(Template::parse("a } b"), Err(TemplateError::StrayClose(3)));
        assert_eq!(Template::parse("x{ }"), Err(TemplateError::EmptyField(2)));
        let t = Template::parse("{nmae}").unwrap();
        let e = t.check_fields(&known(&["name", "company"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown merge field {nmae}; known here: company, name"
        );
        assert!(Template::parse("{name}")
            .unwrap()
            .check_fields(&known(&["name"]))
            .is_ok());
    }
}
