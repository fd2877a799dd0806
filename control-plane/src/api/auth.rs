//! Who is calling: the admin key, or an account's JWT — and how often they may.
//!
//! Tokens are HS256 JWTs whose header names the key id (`kid`) that signed them, so signing
//! keys can rotate: the first key of the ring signs, every key verifies. Each token (and the
//! admin key) has its own rate limit, and each remote address a budget of failed
//! authentications, past which failures are answered 429.
//!
//! A token carries the generation of its account's tokens it was minted under (`gen`);
//! revoking an account's tokens moves the generation on, and [`Revocations`] (a fold of
//! `tokens.revoked` kept in memory) refuses the older ones without a database round trip.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};

use actix_web::{web, FromRequest, HttpRequest};
use chrono::{DateTime, Duration, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use prometheus::IntCounter;
use serde::{Deserialize, Serialize};
use sigma_shared::event::{Event, EventEnvelope};
use sigma_shared::ids::AccountId;

use super::error::ApiError;
use super::AppState;

pub const ISSUER: &str = "sigma-live";
/// The shortest secret accepted: HS256 needs at least 256 bits.
const MIN_SECRET_BYTES: usize = 32;

/// What a token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    ChannelsRead,
    ChannelsWrite,
    WebhooksRead,
    WebhooksWrite,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::ChannelsRead,
        Scope::ChannelsWrite,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChannelsRead => "channels:read",
            Self::ChannelsWrite => "channels:write",
            Self::WebhooksRead => "webhooks:read",
            Self::WebhooksWrite => "webhooks:write",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub scopes: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub iss: String,
    /// The account's token generation the token was minted under (0 in tokens minted before
    /// revocation existed).
    #[serde(default)]
    pub gen: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("signing keys must be `kid:secret` pairs separated by commas, with secrets of at least {MIN_SECRET_BYTES} characters")]
    Malformed,
}

/// The signing keys: the first signs, all verify.
pub struct Keyring {
    signing_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
}

impl Keyring {
    /// Parses `kid:secret[,kid:secret…]`.
    pub fn parse(spec: &str) -> Result<Self, KeyringError> {
        let pairs = Self::pairs(spec)?;
        let (signing_kid, signing_secret) =
            pairs.first().cloned().ok_or(KeyringError::Malformed)?;
        Ok(Self {
            signing_kid,
            encoding: EncodingKey::from_secret(&signing_secret),
            decoding: pairs
                .into_iter()
                .map(|(kid, secret)| (kid, DecodingKey::from_secret(&secret)))
                .collect(),
        })
    }

    /// The (`kid`, secret) pairs of `kid:secret[,kid:secret…]`, the signing one first: what
    /// keys derived for other uses (playback tokens) are derived from.
    pub fn pairs(spec: &str) -> Result<Vec<(String, Vec<u8>)>, KeyringError> {
        let mut pairs = Vec::new();
        for pair in spec
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let (kid, secret) = pair.split_once(':').ok_or(KeyringError::Malformed)?;
            if kid.is_empty() || secret.len() < MIN_SECRET_BYTES {
                return Err(KeyringError::Malformed);
            }
            pairs.push((kid.to_owned(), secret.as_bytes().to_vec()));
        }
        if pairs.is_empty() {
            return Err(KeyringError::Malformed);
        }
        Ok(pairs)
    }

    /// A fresh key spec for a new installation.
    pub fn generate_spec() -> String {
        format!(
            "k{}:{}",
            Utc::now().format("%Y%m%d"),
            crate::secrets::random_text(48)
        )
    }

    pub fn mint(
        &self,
        account_id: AccountId,
        scopes: &[Scope],
        ttl: Duration,
        generation: u32,
    ) -> (String, DateTime<Utc>) {
        let now = Utc::now();
        let expires_at = now + ttl;
        let claims = Claims {
            sub: account_id.to_string(),
            scopes: scopes
                .iter()
                .map(|scope| scope.as_str().to_owned())
                .collect(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iss: ISSUER.to_owned(),
            gen: generation,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing_kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, expires_at)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let invalid = |why: &str| {
            ApiError::unauthorized("invalid_token", format!("the token is not valid: {why}"))
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed"))?;
        let kid = header.kid.ok_or_else(|| invalid("no key id"))?;
        let key = self
            .decoding
            .get(&kid)
            .ok_or_else(|| invalid("unknown key id"))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("token_expired", "the token has expired; mint a new one")
                }
                jsonwebtoken::errors::ErrorKind::InvalidSignature => invalid("bad signature"),
                _ => invalid("malformed"),
            })
    }
}

/// Failed authentications one remote address (an IPv6 /64) may make: a burst of 50, then one
/// a second; past it a failure is answered 429 instead of 401. A credential that verifies is
/// never refused (the keys are 256-bit: what the budget slows is floods, and refusing good
/// credentials would let anyone sharing an address — a proxy, a NAT — lock everyone out), and
/// a request without one is not counted.
const FAILURES_BURST: u32 = 50;
const FAILURES_PER_SECOND: u32 = 1;

/// Authentication and rate limiting, shared by every request.
pub struct Auth {
    admin_key: String,
    pub keyring: Keyring,
    limiter: DefaultKeyedRateLimiter<String>,
    failures: DefaultKeyedRateLimiter<IpAddr>,
    /// `sigma_limits_hit_total{limit="auth_failures"}`.
    failures_limited: IntCounter,
    /// Shared with the process's fold of the events, which keeps it current.
    pub revocations: Arc<Revocations>,
}

/// Each account's token generation, for those that revoked their tokens (the others are at
/// 0): what a token's `gen` must reach to be accepted.
#[derive(Default)]
pub struct Revocations(RwLock<HashMap<AccountId, u32>>);

impl Revocations {
    pub fn generation(&self, account: &AccountId) -> u32 {
        let generations = self.0.read().expect("revocations lock");
        generations.get(account).copied().unwrap_or(0)
    }

    /// Takes in an account's generation: the later of the one known and `generation`, so
    /// hearing a revocation twice (from its own request and from the events) changes nothing.
    pub fn raise(&self, account: AccountId, generation: u32) {
        let mut generations = self.0.write().expect("revocations lock");
        let known = generations.entry(account).or_default();
        *known = (*known).max(generation);
    }

    pub fn apply(&self, envelope: &EventEnvelope) {
        if let Event::TokensRevoked { generation } = envelope.event {
            self.raise(envelope.account_id, generation);
        }
    }
}

impl Auth {
    pub fn new(
        admin_key: String,
        keyring: Keyring,
        per_second: u32,
        burst: u32,
        failures_limited: IntCounter,
    ) -> Self {
        let per_second = NonZeroU32::new(per_second.max(1)).expect("at least one");
        let burst = NonZeroU32::new(burst.max(1)).expect("at least one");
        let failures = Quota::per_second(NonZeroU32::new(FAILURES_PER_SECOND).expect("nonzero"))
            .allow_burst(NonZeroU32::new(FAILURES_BURST).expect("nonzero"));
        Self {
            admin_key,
            keyring,
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            failures: RateLimiter::keyed(failures),
            failures_limited,
            revocations: Arc::default(),
        }
    }

    /// Counts a failed authentication against its address: the failure itself, or a 429 once
    /// the address is over its budget.
    fn failed(&self, address: IpAddr, failure: ApiError) -> ApiError {
        if failure.code == "missing_token" {
            return failure;
        }
        match self.failures.check_key(&address) {
            Ok(()) => failure,
            Err(not_until) => {
                self.failures_limited.inc();
                too_many_failures(not_until.wait_time_from(DefaultClock::default().now()))
            }
        }
    }

    /// Checks a request's credential with `check`, counting failures by remote address.
    fn authenticate<T>(
        &self,
        request: &HttpRequest,
        check: impl FnOnce() -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        // Forwarded headers can be forged, so they are not trusted: behind a proxy every
        // caller's failures share the proxy's budget (and only failures are ever refused).
        let address = request
            .peer_addr()
            .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |peer| {
                budget_key(peer.ip())
            });
        check().map_err(|error| {
            if error.status == actix_web::http::StatusCode::UNAUTHORIZED {
                self.failed(address, error)
            } else {
                error
            }
        })
    }

    fn limit(&self, key: &str) -> Result<(), ApiError> {
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                ApiError::rate_limited(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            })
    }

    /// Forgets limiter state of tokens and addresses not seen lately, so memory stays
    /// bounded.
    pub fn forget_idle_limits(&self) {
        self.limiter.retain_recent();
        self.failures.retain_recent();
    }
}

/// Whose failure budget an address spends: an IPv4 address (IPv4-mapped ones too), or the
/// /64 an IPv6 address is in (one subscriber's usual allocation).
fn budget_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
        v4 => v4,
    }
}

fn too_many_failures(wait: std::time::Duration) -> ApiError {
    ApiError::rate_limited(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
}

fn bearer(request: &HttpRequest) -> Result<&str, ApiError> {
    let missing =
        || ApiError::unauthorized("missing_token", "send `Authorization: Bearer <token>`");
    let value = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(missing)
}

fn state(request: &HttpRequest) -> &web::Data<AppState> {
    request
        .app_data::<web::Data<AppState>>()
        .expect("the app state is registered")
}

/// Equal in time whatever the inputs, so the admin key cannot be guessed byte by byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// The caller presented the admin key.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let auth = &state(request).auth;
        ready(
            auth.authenticate(request, || {
                let token = bearer(request)?;
                if constant_time_eq(token.as_bytes(), auth.admin_key.as_bytes()) {
                    Ok(())
                } else {
                    Err(ApiError::unauthorized(
                        "invalid_admin_key",
                        "this endpoint needs the admin key",
                    ))
                }
            })
            .and_then(|()| auth.limit("admin"))
            .map(|()| Admin),
        )
    }
}

/// The caller presented a valid token of an account.
pub struct Caller {
    pub account_id: AccountId,
    scopes: Vec<String>,
}

impl Caller {
    pub fn holds(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|granted| granted == scope.as_str())
    }

    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.holds(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this token lacks the `{}` scope",
                scope.as_str()
            )))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let auth = &state(request).auth;
        ready(
            auth.authenticate(request, || {
                let claims = auth.keyring.verify(bearer(request)?)?;
                let account_id: AccountId = claims.sub.parse().map_err(|_| {
                    ApiError::unauthorized("invalid_token", "the token names no account")
                })?;
                if claims.gen < auth.revocations.generation(&account_id) {
                    return Err(ApiError::unauthorized(
                        "token_revoked",
                        "the token was revoked; ask for a new one",
                    ));
                }
                Ok((account_id, claims))
            })
            .and_then(|(account_id, claims)| {
                auth.limit(&claims.jti)?;
                Ok(Caller {
                    account_id,
                    scopes: claims.scopes,
                })
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "k1:0123456789abcdef0123456789abcdef,k0:fedcba9876543210fedcba9876543210";

    #[test]
    fn a_minted_token_verifies_and_carries_its_claims() {
        let keyring = Keyring::parse(SPEC).unwrap();
        let account = AccountId::generate();
        let (token, _) = keyring.mint(account, &[Scope::ChannelsRead], Duration::minutes(5), 0);
        let claims = keyring.verify(&token).unwrap();
        assert_eq!(claims.sub, account.to_string());
        assert_eq!(claims.scopes, ["channels:read"]);
    }

    #[test]
    fn tokens_of_a_retired_signing_key_verify_while_it_is_in_the_ring() {
        let old = Keyring::parse("k0:fedcba9876543210fedcba9876543210").unwrap();
        let (token, _) = old.mint(AccountId::generate(), &Scope::ALL, Duration::minutes(5), 0);
        assert!(Keyring::parse(SPEC).unwrap().verify(&token).is_ok());
        let without_k0 = Keyring::parse("k1:0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(without_k0.verify(&token).unwrap_err().code, "invalid_token");
    }

    #[test]
    fn expired_and_forged_tokens_are_refused() {
        let keyring = Keyring::parse(SPEC).unwrap();
        let (expired, _) =
            keyring.mint(AccountId::generate(), &Scope::ALL, Duration::seconds(-5), 0);
        assert_eq!(keyring.verify(&expired).unwrap_err().code, "token_expired");
        let (token, _) = keyring.mint(AccountId::generate(), &Scope::ALL, Duration::minutes(5), 0);
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(keyring.verify(&forged).unwrap_err().code, "invalid_token");
        assert!(keyring.verify("not.a.jwt").is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(Keyring::parse("k:short").is_err());
        assert!(Keyring::parse("").is_err());
    }
}
