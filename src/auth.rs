//! Passwords and session tokens. Passwords are kept as argon2 hashes; a
//! session token is random, given to the browser once, and stored only as
//! its SHA-256.

pub mod throttle;
pub mod tickets;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Why a password is refused; one policy for the CLI and the API, whose
/// pages word it from [`WeakPassword::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters besides spaces")]
    TooShort,
    #[error("that password is among the most common ones; choose another")]
    Common,
    #[error("a password may not be the username")]
    Username,
}

impl WeakPassword {
    /// The error code the API answers with.
    pub fn code(self) -> &'static str {
        match self {
            WeakPassword::TooShort => "password_too_short",
            WeakPassword::Common => "password_common",
            WeakPassword::Username => "password_is_username",
        }
    }
}

/// The shipped list of passwords nobody may choose (data/common-passwords.txt).
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Checks `password` against the policy for user `username`: long enough
/// without counting spaces, not one of the most common passwords, not the
/// username (ignoring case and surrounding spaces).
pub fn check_password(password: &str, username: &str) -> Result<(), WeakPassword> {
    if password.chars().filter(|c| !c.is_whitespace()).count() < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::TooShort);
    }
    let folded = password.trim().to_lowercase();
    if folded == username.trim().to_lowercase() {
        return Err(WeakPassword::Username);
    }
    let common = COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l.eq_ignore_ascii_case(&folded));
    if common {
        return Err(WeakPassword::Common);
    }
    Ok(())
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The argon2id hash of `password`, in PHC string form.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?
        .to_string())
}

/// Whether `password` matches the stored hash; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new session token: 256 random bits, URL-safe.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The CSRF token of a session: derived from the session token (which
/// lives in an HttpOnly cookie), handed to the session's pages in a JSON
/// body that only same-origin scripts can read, and asked back in the
/// `X-CSRF-Token` header of every request that changes something. A page
/// of another site, or of another port of this host, can make the browser
/// send the cookie but cannot learn this token.
pub fn csrf_token(session_token: &str) -> String {
    let digest = Sha256::digest(format!("callpop-csrf\0{session_token}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..18])
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_policy_refuses_short_blank_common_and_username() {
        for (password, why) in [
            ("short", WeakPassword::TooShort),
            ("        ", WeakPassword::TooShort),
            ("a b c d e f g", WeakPassword::TooShort),
            ("12345678", WeakPassword::Common),
            ("password", WeakPassword::Common),
            ("PassWord1", WeakPassword::Common),
            ("woaini1314", WeakPassword::Common),
            ("Agent-Seven", WeakPassword::Username),
        ] {
            assert_eq!(
                check_password(password, "agent-seven"),
                Err(why),
                "{password:?}"
            );
        }
        assert!(check_password("correct horse battery", "agent-seven").is_ok());
        assert!(
            check_password("  5201314woaini  ", "agent-seven").is_ok(),
            "only whole matches"
        );
        assert_eq!(WeakPassword::Common.code(), "password_common");
        // The list is read as data: comments and blanks are not passwords.
        assert!(check_password("# Passwords refused by callpop", "x").is_ok());
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("秘密 secret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("秘密 secret", &h));
        assert!(!verify_password("secret", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
