//! Signatures on what callpop sends to other systems, so a receiver can
//! tell a real delivery from a forged or replayed one.
//!
//! Webhooks: `X-Callpop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`,
//! the MAC taken with the endpoint's secret over `<t>.<body>` (the scheme
//! Stripe's webhooks made familiar). A receiver recomputes it, compares in
//! constant time and refuses a timestamp too far from its clock. While a
//! secret is being rotated, deliveries carry one `v1` per live secret.
//!
//! 钉钉 group robots in signed mode: `sign` = URL-encoded base64 of
//! HMAC-SHA256 with the secret over `<timestamp ms>\n<secret>`, sent as
//! query parameters beside `timestamp`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `X-Callpop-Signature` header of `body` sent at `timestamp` (unix
/// seconds), one `v1` per secret (the new one first while rotating).
pub fn header(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mut h = format!("t={t}");
    for secret in secrets {
        h.push_str(",v1=");
        h.push_str(&hex(&mac(secret, &[t.as_bytes(), b".", body])));
    }
    h
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is not t=…,v1=…")]
    Malformed,
    #[error("the signature is {0} s away from now")]
    Stale(i64),
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks a delivery as a receiver would: the header's timestamp within
/// `tolerance_s` of `now` (unix seconds) and one `v1` the MAC of
/// `<t>.<body>` with `secret`, compared in constant time.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > tolerance_s {
        return Err(SignatureError::Stale(now - t));
    }
    let ts = t.to_string();
    for sig in sigs {
        let Some(given) = unhex(&sig) else { continue };
        let mut m = HmacSha256::new_from_slice(secret).expect("any key length");
        m.update(ts.as_bytes());
        m.update(b".");
        m.update(body);
        if m.verify_slice(&given).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// 钉钉's `sign` parameter for `timestamp_ms`, URL-encoded.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    use base64::Engine;
    let to_sign = format!("{timestamp_ms}\n{secret}");
    let digest = mac(secret.as_bytes(), &[to_sign.as_bytes()]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
    percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MAC as openssl computes it (an implementation we did not write).
    fn openssl_hmac_hex(key: &str, data: &[u8]) -> Option<String> {
        use std::io::Write;
        let mut child = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-hmac", key, "-r"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        child.stdin.take()?.write_all(data).ok()?;
        let out = child.wait_with_output().ok()?;
        Some(
            String::from_utf8(out.stdout)
                .ok()?
                .split_whitespace()
                .next()?
                .to_string(),
        )
    }

    #[test]
    fn a_webhook_signature_is_openssls_hmac_and_verifies() {
        let body = br#"{"id":"0190","type":"call.ended"}"#;
        let h = header(&[b"whsec_one"], 1_733_380_000, body);
        let mut signed = b"1733380000.".to_vec();
        signed.extend_from_slice(body);
        let expected = openssl_hmac_hex("whsec_one", &signed).expect("openssl is installed");
        assert_eq!(h, format!("t=1733380000,v1={expected}"));
        assert_eq!(verify(b"whsec_one", &h, body, 1_733_380_100, 300), Ok(()));
        assert_eq!(
            verify(b"whsec_one", &h, b"{}", 1_733_380_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"whsec_one", &h, body, 1_733_381_000, 300),
            Err(SignatureError::Stale(1000))
        );
        assert_eq!(
            verify(b"other", &h, body, 1_733_380_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"x", "v1=00", body, 0, 300),
            Err(SignatureError::Malformed)
        );
        // Rotating: either secret verifies.
        let both = header(&[b"new", b"old"], 5, body);
        assert_eq!(verify(b"old", &both, body, 5, 300), Ok(()));
        assert_eq!(verify(b"new", &both, body, 5, 300), Ok(()));
    }

    #[test]
    fn dingtalks_sign_is_the_documented_hmac() {
        let secret = "SEC0123456789abcdef";
        let ts = 1_733_380_000_123i64;
        let expected_hex =
            openssl_hmac_hex(secret, format!("{ts}\n{secret}").as_bytes()).expect("openssl");
        use base64::Engine;
        let raw = unhex(&expected_hex).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        let encoded = b64
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        assert_eq!(dingtalk_sign(secret, ts), encoded);
    }
}
