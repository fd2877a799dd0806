//! Secrets as the log, the commands and the read models keep them: never in clear.
//!
//! A stream key is the right to publish on a channel, a webhook secret the right to sign as the
//! platform. Both are drawn by the platform (never chosen by a user) and kept **sealed**:
//! encrypted and authenticated under the deployment's secrets key, which only the control plane
//! holds (its `sealing` module), so a copy of the log, a topic or a database teaches nothing.
//!
//! A stream key is also known by its **fingerprint**, its SHA-256: ingest finds a channel by the
//! fingerprint of the key a publisher presents, and the decider compares fingerprints. A plain
//! digest is enough because a stream key is `sk_` and 32 random letters and digits (190 bits):
//! it can be neither reversed nor guessed from its digest. Keeping the digest unkeyed keeps the
//! decider and the log's upcast free of the secrets key.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The SHA-256 of a stream key, in lower-case hex.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyFingerprint(String);

impl KeyFingerprint {
    pub fn of(stream_key: &str) -> Self {
        Self(hex::encode(Sha256::digest(stream_key.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Only its start: enough to tell two apart in a log line, too little to look one up.
impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFingerprint({}…)", &self.0[..8])
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MalformedSecret {
    #[error("a key fingerprint is 64 lower-case hex digits")]
    Fingerprint,
    #[error(
        "a sealed secret is 1 to {MAX_SEALED_LEN} characters of A-Z, a-z, 0-9, `.`, `_` or `-`"
    )]
    Sealed,
    #[error("a secret is at most {MAX_SECRET_LEN} bytes")]
    TooLong,
}

impl TryFrom<String> for KeyFingerprint {
    type Error = MalformedSecret;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let hex_digits = text.len() == 64
            && text
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
        if hex_digits {
            Ok(Self(text))
        } else {
            Err(MalformedSecret::Fingerprint)
        }
    }
}

impl From<KeyFingerprint> for String {
    fn from(fingerprint: KeyFingerprint) -> Self {
        fingerprint.0
    }
}

/// The longest secret kept: what the platform draws is far shorter (a stream key is 35 bytes, a
/// webhook secret 38), and the releases that kept secrets in clear refused longer keys.
pub const MAX_SECRET_LEN: usize = 256;

/// The longest sealed text accepted: a secret of up to [`MAX_SECRET_LEN`] bytes with its
/// header, nonce and tag.
pub const MAX_SEALED_LEN: usize = 512;

/// A secret sealed under the deployment's secrets key. Opaque here (only the control plane can
/// open it); bounded and plain ASCII, so a hostile record cannot make it anything else.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sealed(String);

impl Sealed {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(…)")
    }
}

impl TryFrom<String> for Sealed {
    type Error = MalformedSecret;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let ok = (1..=MAX_SEALED_LEN).contains(&text.len())
            && text
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(text))
        } else {
            Err(MalformedSecret::Sealed)
        }
    }
}

impl From<Sealed> for String {
    fn from(sealed: Sealed) -> Self {
        sealed.0
    }
}

/// A secret as an event holds it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredSecret {
    /// What this release writes.
    Sealed(Sealed),
    /// A secret in clear, as an event written before secrets were sealed (schema version 1)
    /// holds it: only the upcast makes one, for the control plane to seal as it reads.
    Legacy(LegacySecret),
}

/// A secret in clear from a schema-1 event, at most [`MAX_SECRET_LEN`] bytes: a longer one is
/// no secret any release drew, and would not fit sealed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LegacySecret(String);

impl LegacySecret {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LegacySecret {
    type Error = MalformedSecret;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        if text.len() <= MAX_SECRET_LEN {
            Ok(Self(text))
        } else {
            Err(MalformedSecret::TooLong)
        }
    }
}

impl From<LegacySecret> for String {
    fn from(secret: LegacySecret) -> Self {
        secret.0
    }
}

impl StoredSecret {
    /// The sealed secret; `None` for a legacy one, which the control plane seals before use.
    pub fn sealed(&self) -> Option<&Sealed> {
        match self {
            Self::Sealed(sealed) => Some(sealed),
            Self::Legacy(_) => None,
        }
    }
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sealed(sealed) => sealed.fmt(f),
            Self::Legacy(_) => f.write_str("Legacy(…)"),
        }
    }
}

/// A stream key as the log keeps it: its fingerprint, and the key sealed for its owner's eyes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamKeyAtRest {
    pub fingerprint: KeyFingerprint,
    #[serde(flatten)]
    pub key: StoredSecret,
}

/// A stream key as a command carries it: the platform drew it and sealed it (never legacy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedStreamKey {
    pub fingerprint: KeyFingerprint,
    pub sealed: Sealed,
}

impl SealedStreamKey {
    pub fn at_rest(&self) -> StreamKeyAtRest {
        StreamKeyAtRest {
            fingerprint: self.fingerprint.clone(),
            key: StoredSecret::Sealed(self.sealed.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_the_keys_sha256_and_nothing_else_parses_as_one() {
        let fingerprint = KeyFingerprint::of("sk_abc");
        assert_eq!(
            fingerprint.as_str(),
            "7c8d93f8ffb4cdb85b2a4b0c10886a66959da2eb67707b1c54718850a56d158c"
        );
        let json = serde_json::to_string(&fingerprint).unwrap();
        assert_eq!(
            serde_json::from_str::<KeyFingerprint>(&json).unwrap(),
            fingerprint
        );
        for junk in [
            "",
            "ABCD",
            &"g".repeat(64),
            &"A".repeat(64),
            &"a".repeat(65),
        ] {
            assert!(
                serde_json::from_value::<KeyFingerprint>(junk.into()).is_err(),
                "{junk}"
            );
        }
        assert!(!format!("{fingerprint:?}").contains(fingerprint.as_str()));
    }

    #[test]
    fn a_stored_stream_key_is_its_fingerprint_beside_the_sealed_key() {
        let stored = StreamKeyAtRest {
            fingerprint: KeyFingerprint::of("sk_abc"),
            key: StoredSecret::Sealed(Sealed::try_from("v1.abcd.Zm9v".to_owned()).unwrap()),
        };
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"fingerprint": KeyFingerprint::of("sk_abc"), "sealed": "v1.abcd.Zm9v"})
        );
        assert_eq!(
            serde_json::from_value::<StreamKeyAtRest>(json).unwrap(),
            stored
        );
        for junk in ["", "a b", "x/y", &"a".repeat(MAX_SEALED_LEN + 1)] {
            assert!(Sealed::try_from(junk.to_owned()).is_err(), "{junk}");
        }
        let legacy =
            StoredSecret::Legacy(LegacySecret::try_from("whsec_in_clear".to_owned()).unwrap());
        assert!(!format!("{legacy:?}").contains("whsec"));
        let long = serde_json::json!({ "legacy": "x".repeat(MAX_SECRET_LEN + 1) });
        assert!(serde_json::from_value::<StoredSecret>(long).is_err());
    }
}
