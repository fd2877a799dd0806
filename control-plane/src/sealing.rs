//! The deployment's secrets key, and the sealing of the secrets it guards: stream keys and
//! webhook secrets are kept only sealed (see [`sigma_shared::secret`]).
//!
//! A sealed secret is `v1.{key id}.{base64url(nonce ‖ ciphertext ‖ tag)}`: ChaCha20-Poly1305
//! with a random 96-bit nonce (a deployment seals a few secrets per channel and webhook, far
//! below the 2³² seals where random nonces would start to risk a repeat). The associated data
//! names what the secret is for — the stream key of this channel, the secret of this webhook —
//! so a sealed value copied onto another channel or webhook does not open. The key id (the
//! start of the key's SHA-256) makes a process given the wrong key say so, instead of failing
//! every opening as a forgery.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use sha2::{Digest, Sha256};
use sigma_shared::event::{Decision, Event, Outcome};
use sigma_shared::ids::{ChannelId, WebhookId};
use sigma_shared::secret::{
    KeyFingerprint, MalformedSecret, Sealed, SealedStreamKey, StoredSecret, MAX_SECRET_LEN,
};

/// The format version a sealed text starts with.
const FORMAT: &str = "v1";
/// Hex digits of the key's SHA-256 a sealed text names its key by.
const KEY_ID_LEN: usize = 8;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealingError {
    #[error("SIGMA_SECRETS_KEY must be 64 hex digits (32 random bytes; `openssl rand -hex 32` makes one)")]
    BadKey,
    #[error("a sealed secret is not of the form v1.KEYID.DATA")]
    Malformed,
    #[error("this secret was sealed under the secrets key {sealed_with}, and this process has the key {have}: every process of a deployment needs the same SIGMA_SECRETS_KEY")]
    WrongKey { sealed_with: String, have: String },
    #[error("a sealed secret failed authentication: it was altered, or sealed for something else")]
    Forged,
}

impl From<MalformedSecret> for SealingError {
    fn from(_: MalformedSecret) -> Self {
        Self::Malformed
    }
}

/// What a secret is sealed for: the associated data of its sealing.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    StreamKey(ChannelId),
    WebhookSecret(WebhookId),
}

impl Purpose {
    fn associated_data(self) -> String {
        match self {
            Self::StreamKey(channel) => format!("stream_key:{channel}"),
            Self::WebhookSecret(webhook) => format!("webhook_secret:{webhook}"),
        }
    }
}

/// The key that seals and opens a deployment's secrets.
pub struct SecretsKey {
    key: LessSafeKey,
    id: String,
}

impl SecretsKey {
    /// From 64 hex digits, as `SIGMA_SECRETS_KEY` or the data dir's `secrets-key` holds it.
    pub fn parse(spec: &str) -> Result<Self, SealingError> {
        let bytes = hex::decode(spec.trim()).map_err(|_| SealingError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SealingError::BadKey);
        }
        let id = hex::encode(Sha256::digest(&bytes))[..KEY_ID_LEN].to_owned();
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| SealingError::BadKey)?;
        Ok(Self {
            key: LessSafeKey::new(key),
            id,
        })
    }

    /// The start of the key's SHA-256, which sealed texts name their key by.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A new random key (for a deployment's first start, tests and benchmarks).
    pub fn generate() -> Self {
        Self::parse(&Self::generate_spec()).expect("a generated key parses")
    }

    /// A new random key, in the form [`SecretsKey::parse`] reads.
    pub fn generate_spec() -> String {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    /// Seals `clear`: a secret the platform drew, or a [`sigma_shared::secret::LegacySecret`]
    /// — both at most [`MAX_SECRET_LEN`] bytes, which is what makes the sealed text fit.
    pub fn seal(&self, clear: &str, purpose: Purpose) -> Sealed {
        assert!(
            clear.len() <= MAX_SECRET_LEN,
            "only secrets of at most {MAX_SECRET_LEN} bytes are sealed"
        );
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let mut data = clear.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.associated_data()),
                &mut data,
            )
            .expect("ChaCha20-Poly1305 seals any secret this short");
        let mut body = nonce.to_vec();
        body.extend_from_slice(&data);
        let text = format!("{FORMAT}.{}.{}", self.id, URL_SAFE_NO_PAD.encode(body));
        Sealed::try_from(text).expect("a sealed secret of at most MAX_SECRET_LEN bytes fits")
    }

    pub fn open(&self, sealed: &Sealed, purpose: Purpose) -> Result<String, SealingError> {
        let mut parts = sealed.as_str().splitn(3, '.');
        let (Some(FORMAT), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealingError::Malformed);
        };
        if key_id != self.id {
            return Err(SealingError::WrongKey {
                sealed_with: key_id.to_owned(),
                have: self.id.clone(),
            });
        }
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealingError::Malformed)?;
        if body.len() < NONCE_LEN {
            return Err(SealingError::Malformed);
        }
        let (nonce, data) = body.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealingError::Malformed)?;
        let mut data = data.to_vec();
        let clear = self
            .key
            .open_in_place(nonce, Aad::from(purpose.associated_data()), &mut data)
            .map_err(|_| SealingError::Forged)?;
        String::from_utf8(clear.to_vec()).map_err(|_| SealingError::Forged)
    }

    /// The secret in clear, whether the event sealed it or (written before sealing) did not.
    pub fn reveal(&self, stored: &StoredSecret, purpose: Purpose) -> Result<String, SealingError> {
        match stored {
            StoredSecret::Sealed(sealed) => self.open(sealed, purpose),
            StoredSecret::Legacy(clear) => Ok(clear.as_str().to_owned()),
        }
    }

    /// The secret sealed: as the event has it, or sealed now if the event kept it in clear.
    pub fn protect(&self, stored: &StoredSecret, purpose: Purpose) -> Sealed {
        match stored {
            StoredSecret::Sealed(sealed) => sealed.clone(),
            StoredSecret::Legacy(clear) => self.seal(clear.as_str(), purpose),
        }
    }

    /// The decision with every secret its events kept in clear (they were written before
    /// secrets were sealed) sealed now, so no projection ever sees one in clear.
    pub fn seal_legacy<'a>(&self, decision: &'a Decision) -> Cow<'a, Decision> {
        if !decision.events().iter().any(|e| holds_legacy(&e.event)) {
            return Cow::Borrowed(decision);
        }
        let mut decision = decision.clone();
        let Outcome::Accepted { events } = &mut decision.outcome else {
            return Cow::Owned(decision);
        };
        for envelope in events {
            match (&mut envelope.event, envelope.channel_id) {
                (
                    Event::ChannelCreated { stream_key, .. }
                    | Event::StreamKeyRotated { stream_key },
                    Some(channel),
                ) => {
                    let sealed = self.protect(&stream_key.key, Purpose::StreamKey(channel));
                    stream_key.key = StoredSecret::Sealed(sealed);
                }
                (
                    Event::WebhookCreated {
                        webhook_id, secret, ..
                    }
                    | Event::WebhookSecretRotated {
                        webhook_id, secret, ..
                    },
                    _,
                ) => {
                    let sealed = self.protect(secret, Purpose::WebhookSecret(*webhook_id));
                    *secret = StoredSecret::Sealed(sealed);
                }
                _ => {}
            }
        }
        Cow::Owned(decision)
    }

    /// A stream key the platform drew, as the command that gives it to `channel` carries it.
    pub fn seal_stream_key(&self, clear: &str, channel: ChannelId) -> SealedStreamKey {
        SealedStreamKey {
            fingerprint: KeyFingerprint::of(clear),
            sealed: self.seal(clear, Purpose::StreamKey(channel)),
        }
    }
}

/// Whether the event keeps a secret in clear (it was written before secrets were sealed).
fn holds_legacy(event: &Event) -> bool {
    match event {
        Event::ChannelCreated { stream_key, .. } | Event::StreamKeyRotated { stream_key } => {
            stream_key.key.sealed().is_none()
        }
        Event::WebhookCreated { secret, .. } | Event::WebhookSecretRotated { secret, .. } => {
            secret.sealed().is_none()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretsKey {
        SecretsKey::generate()
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_purpose_and_under_its_key() {
        let key = key();
        let channel = ChannelId::generate();
        let sealed = key.seal("sk_the_key", Purpose::StreamKey(channel));
        assert!(!sealed.as_str().contains("sk_the_key"));
        assert_eq!(
            key.open(&sealed, Purpose::StreamKey(channel)).unwrap(),
            "sk_the_key"
        );
        // Two sealings of one secret differ (fresh nonce).
        assert_ne!(key.seal("sk_the_key", Purpose::StreamKey(channel)), sealed);
        assert_eq!(
            key.open(&sealed, Purpose::StreamKey(ChannelId::generate())),
            Err(SealingError::Forged)
        );
        assert_eq!(
            key.open(&sealed, Purpose::WebhookSecret(WebhookId::generate())),
            Err(SealingError::Forged)
        );
        assert!(matches!(
            self::key().open(&sealed, Purpose::StreamKey(channel)),
            Err(SealingError::WrongKey { .. })
        ));
    }

    #[test]
    fn an_altered_or_malformed_sealed_secret_is_refused() {
        let key = key();
        let channel = ChannelId::generate();
        let sealed = key.seal("sk_the_key", Purpose::StreamKey(channel));
        let text = sealed.as_str();
        let last = text.chars().last().unwrap();
        let flipped = format!(
            "{}{}",
            &text[..text.len() - 1],
            if last == 'A' { 'B' } else { 'A' }
        );
        let prefix = &text[..text.rfind('.').unwrap()];
        for junk in [
            flipped,
            "v1".into(),
            "v2.00000000.AAAA".into(),
            format!("{prefix}.AAAA"),
            format!("{prefix}.!!"),
        ] {
            let Ok(junk) = Sealed::try_from(junk.clone()) else {
                continue;
            };
            assert!(
                key.open(&junk, Purpose::StreamKey(channel)).is_err(),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn the_longest_secret_kept_fits_sealed() {
        let key = key();
        let longest = "x".repeat(MAX_SECRET_LEN);
        let webhook = Purpose::WebhookSecret(WebhookId::generate());
        assert_eq!(
            key.open(&key.seal(&longest, webhook), webhook).unwrap(),
            longest
        );
    }

    #[test]
    fn only_32_bytes_of_hex_make_a_key() {
        for spec in [
            "",
            "00",
            &"zz".repeat(32),
            &"00".repeat(31),
            &"00".repeat(33),
        ] {
            assert!(SecretsKey::parse(spec).is_err(), "{spec}");
        }
        assert!(SecretsKey::parse(&format!("{}\n", "ab".repeat(32))).is_ok());
    }

    #[test]
    fn a_legacy_secret_is_revealed_as_is_and_sealed_when_protected() {
        let key = key();
        let webhook = WebhookId::generate();
        let legacy = StoredSecret::Legacy("whsec_old".to_owned().try_into().unwrap());
        assert_eq!(
            key.reveal(&legacy, Purpose::WebhookSecret(webhook))
                .unwrap(),
            "whsec_old"
        );
        let sealed = key.protect(&legacy, Purpose::WebhookSecret(webhook));
        assert_eq!(
            key.open(&sealed, Purpose::WebhookSecret(webhook)).unwrap(),
            "whsec_old"
        );
        let stored = StoredSecret::Sealed(sealed.clone());
        assert_eq!(
            key.protect(&stored, Purpose::WebhookSecret(webhook)),
            sealed
        );
    }

    #[test]
    fn a_decision_s_legacy_secrets_are_sealed_and_a_sealed_one_is_left_as_is() {
        use chrono::Utc;
        use sigma_shared::ids::{AccountId, CommandId, EventId};
        use sigma_shared::secret::StreamKeyAtRest;
        use sigma_shared::settings::ChannelSettings;

        let key = key();
        let (channel, webhook) = (ChannelId::generate(), WebhookId::generate());
        let envelope = |channel_id, event| sigma_shared::event::EventEnvelope {
            id: EventId::generate(),
            account_id: AccountId::generate(),
            channel_id,
            session_id: None,
            sequence: 1,
            occurred_at: Utc::now(),
            command_id: CommandId::generate(),
            schema_version: 2,
            event,
        };
        let legacy = Decision {
            command_id: CommandId::generate(),
            stream: channel.to_string(),
            outcome: Outcome::Accepted {
                events: vec![
                    envelope(
                        Some(channel),
                        Event::ChannelCreated {
                            name: "old".into(),
                            settings: ChannelSettings::default(),
                            stream_key: StreamKeyAtRest {
                                fingerprint: KeyFingerprint::of("sk_old"),
                                key: StoredSecret::Legacy("sk_old".to_owned().try_into().unwrap()),
                            },
                        },
                    ),
                    envelope(
                        None,
                        Event::WebhookSecretRotated {
                            webhook_id: webhook,
                            secret: StoredSecret::Legacy(
                                "whsec_old".to_owned().try_into().unwrap(),
                            ),
                            previous_valid_until: Utc::now(),
                        },
                    ),
                ],
            },
        };
        let sealed = key.seal_legacy(&legacy);
        assert!(matches!(sealed, Cow::Owned(_)));
        let Event::ChannelCreated { stream_key, .. } = &sealed.events()[0].event else {
            panic!()
        };
        let opened = key.reveal(&stream_key.key, Purpose::StreamKey(channel));
        assert_eq!(
            stream_key.key.sealed().map(|_| opened),
            Some(Ok("sk_old".into()))
        );
        assert_eq!(stream_key.fingerprint, KeyFingerprint::of("sk_old"));
        let Event::WebhookSecretRotated { secret, .. } = &sealed.events()[1].event else {
            panic!()
        };
        let opened = key.reveal(secret, Purpose::WebhookSecret(webhook));
        assert_eq!(
            secret.sealed().map(|_| opened),
            Some(Ok("whsec_old".into()))
        );

        // Nothing legacy: the decision itself, not a copy.
        let again = key.seal_legacy(&sealed);
        assert!(matches!(again, Cow::Borrowed(_)));
    }
}
