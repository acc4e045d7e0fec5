//! Where a message may go. Every entry that queues or sends an SMS (the
//! CLI, the outbox behind the API, a campaign's sheet or customer list)
//! passes the recipient through [`destination`] once, so the queue holds
//! one canonical form per number and the blacklist and opt-out list, which
//! hold the same form, cannot be slipped past by writing a number another
//! way (`13800138000`, `+86 138 0013 8000`, `8613800138000`,
//! `013800138000` are one subscriber).
//!
//! A destination is digits with an optional leading `+` (spaces, dashes,
//! dots and brackets are only separators) and a plausible length. Letters
//! are refused: an alphanumeric address is something a sender may show
//! (`95588银行`), never something a network can deliver to. MMI codes
//! (`*#06#`) are refused too: they are for the handset, not for SMS.

use crate::phone::{Normalizer, NumberError, NumberKind};

/// Fewest digits a destination can have: the shortest service codes that
/// take SMS (`10086`, `95588`, and abroad 3-4 digit short codes) have 3 or
/// more; `0` or `12` are typing slips.
pub const MIN_DIGITS: usize = 3;
/// E.164 caps a number at 15 digits.
pub const MAX_DIGITS: usize = 15;

/// Why a text is not somewhere an SMS can go; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("no recipient: give a phone number such as 13812345678 or +8613812345678")]
    Empty,
    #[error(
        "{0:?} is not a phone number: letters are allowed only in a sender's name, \
         a destination must be digits with an optional leading +"
    )]
    Alphanumeric(String),
    #[error("{0:?} is a handset code (* and #), not a phone number an SMS can be sent to")]
    Mmi(String),
    #[error("{raw:?} contains {found:?}: a destination is digits with an optional leading +")]
    BadCharacter { raw: String, found: char },
    #[error("{raw:?} has {digits} digit(s): a destination has {MIN_DIGITS} to {MAX_DIGITS}")]
    Length { raw: String, digits: usize },
    #[error("{0:?} has an extension: an extension cannot receive SMS")]
    Extension(String),
    #[error("{raw:?} is not a complete number ({why}): add its area or country code")]
    Incomplete { raw: String, why: String },
    #[error("{raw:?} is not a valid phone number: {why}")]
    Invalid { raw: String, why: String },
}

/// A number as the queue keeps it: E.164 where the number has one,
/// otherwise the digits of a service code (`10086`).
pub fn destination(normalizer: &Normalizer, raw: &str) -> Result<String, AddressError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(AddressError::Empty);
    }
    check_characters(text)?;
    let digits = text.chars().filter(|c| fold(*c).is_some()).count();
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
        return Err(AddressError::Length {
            raw: text.to_string(),
            digits,
        });
    }
    let n = normalizer.normalize(text).map_err(|e| match e {
        NumberError::TooShort(_) | NumberError::Empty => AddressError::Length {
            raw: text.to_string(),
            digits,
        },
        other => AddressError::Invalid {
            raw: text.to_string(),
            why: other.to_string(),
        },
    })?;
    if n.extension.is_some() {
        return Err(AddressError::Extension(text.to_string()));
    }
    match (n.e164, n.kind) {
        (Some(e164), _) => Ok(e164),
        (None, NumberKind::Service) => Ok(n.national),
        (None, kind) => Err(AddressError::Incomplete {
            raw: text.to_string(),
            why: format!("a {} number", kind.as_str().replace('_', " ")),
        }),
    }
}

/// The character rules, before any normalisation: which mistake it is.
fn check_characters(text: &str) -> Result<(), AddressError> {
    if text.chars().any(|c| matches!(c, '*' | '#' | '＊' | '＃')) {
        return Err(AddressError::Mmi(text.to_string()));
    }
    if text.chars().any(char::is_alphabetic) {
        return Err(AddressError::Alphanumeric(text.to_string()));
    }
    for (i, c) in text.chars().enumerate() {
        let ok = fold(c).is_some()
            || matches!(
                c,
                ' ' | '-' | '.' | '(' | ')' | '\u{3000}' | '－' | '（' | '）'
            )
            || (i == 0 && matches!(c, '+' | '＋'));
        if !ok {
            return Err(AddressError::BadCharacter {
                raw: text.to_string(),
                found: c,
            });
        }
    }
    Ok(())
}

/// An ASCII or full-width digit.
fn fold(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::NormalizerSettings;

    fn cn() -> Normalizer {
        Normalizer::new(NormalizerSettings::default())
    }

    #[test]
    fn every_way_of_writing_one_mobile_is_one_destination() {
        for raw in [
            "13800138000",
            "+8613800138000",
            "+86 138 0013 8000",
            "8613800138000",
            "013800138000",
            "0086 13800138000",
            "138-0013-8000",
            "＋８６１３８００１３８０００",
        ] {
            assert_eq!(
                destination(&cn(), raw).as_deref(),
                Ok("+8613800138000"),
                "{raw}"
            );
        }
    }

    #[test]
    fn service_codes_and_fixed_lines_keep_their_canonical_form() {
        assert_eq!(destination(&cn(), "10086").as_deref(), Ok("10086"));
        assert_eq!(
            destination(&cn(), "010-62345678").as_deref(),
            Ok("+861062345678")
        );
        assert_eq!(
            destination(&cn(), "+852 9123 4567").as_deref(),
            Ok("+85291234567")
        );
    }

    #[test]
    fn letters_codes_and_slips_are_refused_with_what_to_fix() {
        let e = |raw: &str| destination(&cn(), raw).unwrap_err();
        assert_eq!(e("abc"), AddressError::Alphanumeric("abc".into()));
        assert_eq!(
            e("95588银行"),
            AddressError::Alphanumeric("95588银行".into())
        );
        assert_eq!(e("*#06#"), AddressError::Mmi("*#06#".into()));
        assert!(matches!(e("0"), AddressError::Length { digits: 1, .. }));
        assert!(matches!(e(""), AddressError::Empty));
        assert!(matches!(e("  "), AddressError::Empty));
        assert!(matches!(
            e("1380013800012345678"),
            AddressError::Length { digits: 19, .. }
        ));
        assert!(matches!(
            e("138+00138000"),
            AddressError::BadCharacter { found: '+', .. }
        ));
        assert!(matches!(
            e("138_0013_8000"),
            AddressError::BadCharacter { .. }
        ));
        // The messages name the rule, never a "sender name".
        for raw in ["abc", "0", "*#06#", "138_0013_8000"] {
            let msg = e(raw).to_string();
            assert!(!msg.contains("sender name"), "{msg}");
            assert!(msg.contains(raw), "{msg}");
        }
        assert!(e("abc").to_string().contains("only in a sender's name"));
    }
}
