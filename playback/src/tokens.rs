//! Signed playback tokens: who may open a `signed` channel's streams, pictures and recordings.
//!
//! A token is a JWT carried as `?token=`. Its `sub` is a channel id (everything of the channel)
//! or a session id (that session's catch-up, media, pictures and recording), its `aud` says what
//! it opens ([`Audience`]), `exp` when it stops. Two kinds of key sign them:
//!
//! - an account's playback key (`kid` = `pk_…`): Ed25519, minted by the account itself without
//!   calling us. We hold only the public half, so nobody who reads our log or database can forge
//!   one; the key's account must own the channel.
//! - the deployment's own keys (`kid` = a signing key's id): HS256 under a key derived from the
//!   token signing secret, for `POST /v1/channels/{id}/playback-tokens`.
//!
//! Verifying costs no database or log lookup: the keys are in memory, kept current from the
//! events, and a token already verified is looked up, not verified again (players send the
//! same one with every request), until the cache is full or its key goes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sigma_shared::ids::{AccountId, ChannelId, PlaybackKeyId, SessionId};

/// The longest token read. Real ones are about 300 bytes; anything longer is refused before
/// any decoding. (A signed playlist repeats its token in every URI it lists, so this also
/// bounds what a token adds to a playlist.)
pub const MAX_TOKEN_BYTES: usize = 1024;
/// Verified tokens remembered per process. Past it the expired ones go, and if that is not
/// enough, all of them (each is verified again on its next use).
pub const VERIFIED_KEPT: usize = 20_000;

/// What a token opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Playlists, init segments, segments and parts, live and catch-up.
    Video,
    /// Thumbnails, the storyboard and its sprites.
    Thumbnails,
    /// Source recordings.
    Recordings,
}

impl Audience {
    fn bit(self) -> u8 {
        match self {
            Self::Video => 1,
            Self::Thumbnails => 2,
            Self::Recordings => 4,
        }
    }
}

/// What a request asks to open: a channel's media (of one of its sessions, for a session's
/// routes and media files), for one audience.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub channel: ChannelId,
    pub owner: AccountId,
    pub session: Option<SessionId>,
    pub audience: Audience,
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `token` parameter.
    Missing,
    Expired,
    /// Malformed, too long, an unknown key, a bad signature.
    Invalid,
    /// A genuine token for another channel or session (or another account's key).
    OtherStream,
    /// A genuine token for this stream that does not open this kind of thing.
    OtherAudience,
}

impl Refusal {
    pub fn status(self) -> StatusCode {
        match self {
            Self::Missing | Self::Expired | Self::Invalid => StatusCode::UNAUTHORIZED,
            Self::OtherStream | Self::OtherAudience => StatusCode::FORBIDDEN,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "token_required",
            Self::Expired => "token_expired",
            Self::Invalid => "invalid_token",
            Self::OtherStream => "token_not_for_this_stream",
            Self::OtherAudience => "token_wrong_audience",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "this stream is signed: add ?token= with a playback token",
            Self::Expired => "the playback token has expired",
            Self::Invalid => "the playback token is not valid",
            Self::OtherStream => "the playback token is for another channel or session",
            Self::OtherAudience => "the playback token does not open this kind of resource",
        }
    }
}

/// The `token` parameter of a query string, as sent. Tokens are base64url and dots, so they
/// need no decoding; a percent-encoded one simply fails to verify.
pub fn token_in(query: &str) -> Option<&str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

/// A token's subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Subject {
    Channel(ChannelId),
    Session(SessionId),
}

/// What a verified token says, kept while it is remembered.
#[derive(Clone, Copy, Debug)]
struct Verified {
    subject: Subject,
    audiences: u8,
    expires: i64,
    /// The account playback key that signed it; `None` for the deployment's own.
    key: Option<(PlaybackKeyId, AccountId)>,
}

impl Verified {
    /// Whether it opens `target` at `now` (seconds).
    fn opens(&self, target: &Target, now: i64) -> Result<(), Refusal> {
        if self.expires <= now {
            return Err(Refusal::Expired);
        }
        if self.key.is_some_and(|(_, account)| account != target.owner) {
            return Err(Refusal::OtherStream);
        }
        let subject = match self.subject {
            Subject::Channel(channel) => channel == target.channel,
            Subject::Session(session) => target.session == Some(session),
        };
        if !subject {
            return Err(Refusal::OtherStream);
        }
        if self.audiences & target.audience.bit() == 0 {
            return Err(Refusal::OtherAudience);
        }
        Ok(())
    }
}

/// `aud`: one audience or several.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Audiences {
    One(Audience),
    Many(Vec<Audience>),
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    aud: Audiences,
    exp: i64,
}

/// An account's playback key as verification needs it.
#[derive(Clone)]
pub struct AccountKey {
    pub account: AccountId,
    pub key: DecodingKey,
}

impl AccountKey {
    /// From the public key as events keep it (64 hex digits); `None` if it is not 32 bytes.
    pub fn from_hex(account: AccountId, public_key: &str) -> Option<Self> {
        let bytes = hex::decode(public_key).ok()?;
        (bytes.len() == 32).then(|| Self {
            account,
            key: DecodingKey::from_ed_der(&bytes),
        })
    }
}

/// The deployment's keys for the tokens it mints itself: one per token signing key, derived
/// under a name of their own so no other use of the secret can forge a playback token.
#[derive(Clone)]
pub struct PlatformKeys {
    /// The first signs.
    keys: Vec<(String, [u8; 32])>,
}

impl PlatformKeys {
    /// From the token signing keys (`kid`, secret), the first of which signs.
    pub fn derive<'a>(signing: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let keys = signing
            .into_iter()
            .map(|(kid, secret)| {
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
                mac.update(b"sigma playback tokens v1");
                (kid.to_owned(), mac.finalize().into_bytes().into())
            })
            .collect();
        Self { keys }
    }

    /// A token for `subject` (a channel or session id) opening `audience` until `expires`
    /// (seconds since the epoch).
    pub fn mint(&self, subject: &str, audience: Audience, expires: i64) -> String {
        let (kid, key) = self.keys.first().expect("at least one signing key");
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        let claims = Claims {
            sub: subject.to_owned(),
            aud: Audiences::One(audience),
            exp: expires,
        };
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(key))
            .expect("HS256 signing cannot fail")
    }

    fn decoding(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .iter()
            .find(|(id, _)| id == kid)
            .map(|(_, key)| DecodingKey::from_secret(key))
    }
}

/// Verifies tokens and remembers the verified ones.
pub struct Tokens {
    platform: PlatformKeys,
    verified: Mutex<HashMap<Arc<str>, Verified>>,
    /// Counts the times [`VERIFIED_KEPT`] made it forget every token.
    forgot_all: prometheus::IntCounter,
}

impl Tokens {
    pub fn new(platform: PlatformKeys, forgot_all: prometheus::IntCounter) -> Self {
        Self {
            platform,
            verified: Mutex::default(),
            forgot_all,
        }
    }

    /// Whether `token` opens `target` at `now` (seconds); `keys` finds an account's key.
    pub fn check(
        &self,
        token: Option<&str>,
        target: &Target,
        now: i64,
        keys: impl Fn(&PlaybackKeyId) -> Option<AccountKey>,
    ) -> Result<(), Refusal> {
        let token = token.ok_or(Refusal::Missing)?;
        let remembered = self
            .verified
            .lock()
            .expect("tokens lock")
            .get(token)
            .copied();
        if let Some(verified) = remembered {
            return verified.opens(target, now);
        }
        let verified = self.verify(token, &keys)?;
        verified.opens(target, now)?;
        // Only a token that opened something is remembered: one that opens nothing here
        // (another account's, another audience's) cannot fill the memory of good ones.
        self.remember(token, verified, now);
        Ok(())
    }

    /// A key is gone: the tokens it signed are verified again (and fail).
    pub fn forget_key(&self, key_id: &PlaybackKeyId) {
        self.verified
            .lock()
            .expect("tokens lock")
            .retain(|_, verified| verified.key.is_none_or(|(id, _)| id != *key_id));
    }

    fn remember(&self, token: &str, verified: Verified, now: i64) {
        let mut remembered = self.verified.lock().expect("tokens lock");
        if remembered.len() >= VERIFIED_KEPT {
            remembered.retain(|_, verified| verified.expires > now);
            if remembered.len() >= VERIFIED_KEPT {
                remembered.clear();
                self.forgot_all.inc();
            }
        }
        remembered.insert(Arc::from(token), verified);
    }

    fn verify(
        &self,
        token: &str,
        keys: &impl Fn(&PlaybackKeyId) -> Option<AccountKey>,
    ) -> Result<Verified, Refusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Invalid)?;
        let kid = header.kid.ok_or(Refusal::Invalid)?;
        let (algorithm, key, account_key) = match kid.parse::<PlaybackKeyId>() {
            Ok(key_id) => {
                let found = keys(&key_id).ok_or(Refusal::Invalid)?;
                (Algorithm::EdDSA, found.key, Some((key_id, found.account)))
            }
            Err(_) => (
                Algorithm::HS256,
                self.platform.decoding(&kid).ok_or(Refusal::Invalid)?,
                None,
            ),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        // The audience is judged per request (see [`Verified::opens`]).
        validation.validate_aud = false;
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => Refusal::Expired,
                _ => Refusal::Invalid,
            })?
            .claims;
        let subject = match (claims.sub.parse(), claims.sub.parse()) {
            (Ok(channel), _) => Subject::Channel(channel),
            (_, Ok(session)) => Subject::Session(session),
            _ => return Err(Refusal::Invalid),
        };
        let audiences = match claims.aud {
            Audiences::One(audience) => audience.bit(),
            Audiences::Many(all) => all.iter().fold(0, |bits, audience| bits | audience.bit()),
        };
        Ok(Verified {
            subject,
            audiences,
            expires: claims.exp,
            key: account_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::pkcs8::EncodePrivateKey;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn tokens() -> Tokens {
        Tokens::new(
            platform(),
            prometheus::IntCounter::new("forgot", "all").unwrap(),
        )
    }

    fn platform() -> PlatformKeys {
        PlatformKeys::derive([("k1", b"a-token-signing-secret-of-some-length".as_slice())])
    }

    struct Account {
        id: AccountId,
        key_id: PlaybackKeyId,
        signing: ed25519_dalek::SigningKey,
    }

    impl Account {
        fn new() -> Self {
            Self {
                id: AccountId::generate(),
                key_id: PlaybackKeyId::generate(),
                signing: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
            }
        }

        fn key(&self) -> AccountKey {
            AccountKey::from_hex(
                self.id,
                &hex::encode(self.signing.verifying_key().to_bytes()),
            )
            .unwrap()
        }

        fn mint(&self, sub: &str, aud: serde_json::Value, exp: i64) -> String {
            let pem = self
                .signing
                .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                .unwrap();
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(self.key_id.to_string());
            let claims = serde_json::json!({ "sub": sub, "aud": aud, "exp": exp });
            jsonwebtoken::encode(
                &header,
                &claims,
                &EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
            )
            .unwrap()
        }
    }

    fn target(account: &Account, channel: ChannelId, audience: Audience) -> Target {
        Target {
            channel,
            owner: account.id,
            session: None,
            audience,
        }
    }

    #[test]
    fn an_account_key_opens_its_own_channels_for_its_audiences_until_it_expires() {
        let tokens = tokens();
        let account = Account::new();
        let keys = |id: &PlaybackKeyId| (*id == account.key_id).then(|| account.key());
        let channel = ChannelId::generate();
        let token = account.mint(
            &channel.to_string(),
            serde_json::json!(["video", "thumbnails"]),
            NOW + 60,
        );
        let check =
            |token: Option<&str>, target: Target, now: i64| tokens.check(token, &target, now, keys);
        let video = target(&account, channel, Audience::Video);
        assert_eq!(check(Some(&token), video, NOW), Ok(()));
        // Again, from what was remembered.
        assert_eq!(check(Some(&token), video, NOW), Ok(()));
        assert_eq!(
            check(
                Some(&token),
                target(&account, channel, Audience::Thumbnails),
                NOW
            ),
            Ok(())
        );
        assert_eq!(
            check(
                Some(&token),
                target(&account, channel, Audience::Recordings),
                NOW
            ),
            Err(Refusal::OtherAudience)
        );
        assert_eq!(
            check(
                Some(&token),
                target(&account, ChannelId::generate(), Audience::Video),
                NOW
            ),
            Err(Refusal::OtherStream)
        );
        assert_eq!(
            check(Some(&token), video, NOW + 60),
            Err(Refusal::Expired),
            "a remembered token expires too"
        );
        assert_eq!(check(None, video, NOW), Err(Refusal::Missing));
        let other = Account::new();
        assert_eq!(
            check(Some(&token), target(&other, channel, Audience::Video), NOW),
            Err(Refusal::OtherStream),
            "a key opens its own account's channels only"
        );
    }

    #[test]
    fn forged_expired_and_malformed_tokens_are_invalid() {
        let tokens = tokens();
        let account = Account::new();
        let keys = |id: &PlaybackKeyId| (*id == account.key_id).then(|| account.key());
        let channel = ChannelId::generate();
        let video = target(&account, channel, Audience::Video);
        let good = account.mint(&channel.to_string(), serde_json::json!("video"), NOW + 60);
        let impostor = Account {
            key_id: account.key_id,
            ..Account::new()
        };
        let forged = impostor.mint(&channel.to_string(), serde_json::json!("video"), NOW + 60);
        let (head, rest) = good.split_once('.').unwrap();
        let (_, signature) = rest.rsplit_once('.').unwrap();
        let widened = format!(
            "{head}.{}.{signature}",
            base64_url(
                &serde_json::json!({"sub": channel.to_string(), "aud": ["video", "recordings"], "exp": NOW + 60})
            )
        );
        let expired = account.mint(&channel.to_string(), serde_json::json!("video"), 1000);
        let unknown_key =
            Account::new().mint(&channel.to_string(), serde_json::json!("video"), NOW + 60);
        let none_alg = format!(
            "{}.{}.",
            base64_url(&serde_json::json!({"alg": "none", "kid": account.key_id.to_string()})),
            base64_url(
                &serde_json::json!({"sub": channel.to_string(), "aud": "video", "exp": NOW + 60})
            )
        );
        let hs_with_account_kid = {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(account.key_id.to_string());
            jsonwebtoken::encode(
                &header,
                &serde_json::json!({"sub": channel.to_string(), "aud": "video", "exp": NOW + 60}),
                &EncodingKey::from_secret(&account.signing.verifying_key().to_bytes()),
            )
            .unwrap()
        };
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        for (what, token, refusal) in [
            ("another key's signature", forged.as_str(), Refusal::Invalid),
            ("claims changed", &widened, Refusal::Invalid),
            ("an unknown key", &unknown_key, Refusal::Invalid),
            ("alg none", &none_alg, Refusal::Invalid),
            (
                "HS256 keyed by the public key",
                &hs_with_account_kid,
                Refusal::Invalid,
            ),
            ("too long", &long, Refusal::Invalid),
            ("garbage", "not.a.token", Refusal::Invalid),
            ("empty", "", Refusal::Invalid),
            ("expired", &expired, Refusal::Expired),
        ] {
            let mut verdict = None;
            // Twice: a refused token must not be remembered as good.
            for _ in 0..2 {
                verdict = Some(tokens.check(Some(token), &video, NOW, keys));
            }
            assert_eq!(verdict, Some(Err(refusal)), "{what}");
        }
        assert_eq!(tokens.check(Some(&good), &video, NOW, keys), Ok(()));
    }

    #[test]
    fn tokens_the_deployment_mints_open_what_they_name_and_a_removed_key_closes() {
        let tokens = tokens();
        let account = Account::new();
        let channel = ChannelId::generate();
        let session = SessionId::generate();
        let minted = platform().mint(&session.to_string(), Audience::Recordings, NOW + 60);
        let recording = Target {
            session: Some(session),
            ..target(&account, channel, Audience::Recordings)
        };
        let no_keys = |_: &PlaybackKeyId| None;
        assert_eq!(
            tokens.check(Some(&minted), &recording, NOW, no_keys),
            Ok(())
        );
        assert_eq!(
            tokens.check(
                Some(&minted),
                &Target {
                    session: Some(SessionId::generate()),
                    ..recording
                },
                NOW,
                no_keys
            ),
            Err(Refusal::OtherStream)
        );
        let other_deployment =
            PlatformKeys::derive([("k1", b"another-deployment-secret-0123456789".as_slice())]);
        let foreign = other_deployment.mint(&session.to_string(), Audience::Recordings, NOW + 60);
        assert_eq!(
            tokens.check(Some(&foreign), &recording, NOW, no_keys),
            Err(Refusal::Invalid)
        );

        let keyed = account.mint(&channel.to_string(), serde_json::json!("video"), NOW + 60);
        let video = target(&account, channel, Audience::Video);
        let keys = |id: &PlaybackKeyId| (*id == account.key_id).then(|| account.key());
        assert_eq!(tokens.check(Some(&keyed), &video, NOW, keys), Ok(()));
        tokens.forget_key(&account.key_id);
        assert_eq!(
            tokens.check(Some(&keyed), &video, NOW, no_keys),
            Err(Refusal::Invalid),
            "a removed key's tokens stop at once"
        );
    }

    #[test]
    fn the_token_is_found_among_other_parameters() {
        assert_eq!(token_in("pb=x&token=a.b.c&_HLS_msn=3"), Some("a.b.c"));
        assert_eq!(token_in("token=t"), Some("t"));
        assert_eq!(token_in("xtoken=t&pb=1"), None);
        assert_eq!(token_in(""), None);
    }

    fn base64_url(value: &serde_json::Value) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    }
}
