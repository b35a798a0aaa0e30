//! FirmaLOM's signatures (Art. 6), both directions: `X-FirmaLOM-Timestamp` (Unix seconds)
//! and `X-FirmaLOM-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "x-firmalom-timestamp";
pub const SIGNATURE_HEADER: &str = "x-firmalom-signature";
pub const NOTIFICATION_ID_HEADER: &str = "x-diario-notification-id";

/// `sha256=<hex>` of HMAC-SHA256 over `"{timestamp}.{body}"`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = mac(secret, timestamp);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &[u8], timestamp: i64) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac
}

/// Why a signed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("mancano le intestazioni della firma")]
    Missing,
    #[error("le intestazioni della firma non sono valide")]
    Malformed,
    #[error("l'orario della firma è fuori dalla finestra accettata")]
    Stale,
    #[error("la firma non corrisponde al corpo")]
    Invalid,
}

/// Checks a signature in constant time and that the timestamp is within `window` of `now`.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    window: Duration,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed)?;
    let hex_sig = signature
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let given = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    let mut mac = mac(secret, ts);
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Invalid)?;
    // `abs_diff`: a signed timestamp far in the past (`i64::MIN`) must not overflow.
    let skew = now.timestamp().abs_diff(ts);
    if skew > window.as_secs() {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"segreto-condiviso";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let body = br#"{"a":1}"#;
        let sig = sign(SECRET, 1_800_000_000, body);
        let window = Duration::from_secs(300);
        assert_eq!(
            verify(SECRET, Some("1800000000"), Some(&sig), body, now(), window),
            Ok(())
        );
    }

    #[test]
    fn a_forged_altered_or_stale_message_is_refused() {
        let body = br#"{"a":1}"#;
        let window = Duration::from_secs(300);
        let sig = sign(SECRET, 1_800_000_000, body);
        let forged = sign(b"altro", 1_800_000_000, body);
        assert_eq!(
            verify(
                SECRET,
                Some("1800000000"),
                Some(&forged),
                body,
                now(),
                window
            ),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(
                SECRET,
                Some("1800000000"),
                Some(&sig),
                br#"{"a":2}"#,
                now(),
                window
            ),
            Err(SignatureError::Invalid)
        );
        // The timestamp is signed too: moving it breaks the signature.
        assert_eq!(
            verify(SECRET, Some("1800000001"), Some(&sig), body, now(), window),
            Err(SignatureError::Invalid)
        );
        let old = sign(SECRET, 1_800_000_000 - 301, body);
        assert_eq!(
            verify(SECRET, Some("1799999699"), Some(&old), body, now(), window),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, None, Some(&sig), body, now(), window),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, Some("x"), Some(&sig), body, now(), window),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(
                SECRET,
                Some("1800000000"),
                Some("md5=00"),
                body,
                now(),
                window
            ),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_signed_timestamp_at_the_ends_of_the_range_is_stale_not_a_panic() {
        let body = br#"{"a":1}"#;
        let window = Duration::from_secs(300);
        for ts in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let sig = sign(SECRET, ts, body);
            assert_eq!(
                verify(
                    SECRET,
                    Some(&ts.to_string()),
                    Some(&sig),
                    body,
                    now(),
                    window
                ),
                Err(SignatureError::Stale)
            );
        }
    }
}
