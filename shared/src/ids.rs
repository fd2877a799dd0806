//! Typed identifiers: a channel id can never be passed where a session id is expected.
//!
//! Ids are UUIDv7 (time-ordered, so they index well) shown with a short prefix that tells a
//! human what they are looking at (`ch_…`, `se_…`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The error for a string that is not an id of the expected kind.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}` followed by a UUID)")]
pub struct ParseIdError {
    kind: &'static str,
    prefix: &'static str,
    value: String,
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (for tests and for decoding stored rows).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", Self::PREFIX, self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                // One form only, the one ids are written in: 32 hex digits.
                value
                    .strip_prefix(Self::PREFIX)
                    .filter(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|rest| Uuid::try_parse(rest).ok())
                    .map(Self)
                    .ok_or_else(|| ParseIdError {
                        kind: $kind,
                        prefix: Self::PREFIX,
                        value: value.chars().take(80).collect(),
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!("A ", $kind, " id: `", $prefix, "` followed by 32 hex digits.")))
                    .pattern(Some(concat!("^", $prefix, "[0-9a-fA-F]{32}$")))
                    .examples([concat!($prefix, "0192b6a4c1f87d3a9e4b2f6c8d0e1a2b")])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

typed_id!(
    /// An account: the tenant that owns channels and mints tokens.
    AccountId, "ac_", "account"
);
typed_id!(
    /// A channel: a broadcaster's long-lived stream endpoint.
    ChannelId, "ch_", "channel"
);
typed_id!(
    /// A session: one continuous broadcast of a channel.
    SessionId, "se_", "session"
);
typed_id!(
    /// A command, so a retried or redelivered command is decided once.
    CommandId, "cm_", "command"
);
typed_id!(
    /// An event, stable across replays (webhooks and history carry it).
    EventId, "ev_", "event"
);
typed_id!(
    /// A webhook subscription.
    WebhookId, "wh_", "webhook"
);
typed_id!(
    /// An alert, from its raising to its clearing.
    AlertId, "al_", "alert"
);
typed_id!(
    /// One event's delivery to one webhook subscription.
    DeliveryId, "dl_", "delivery"
);
typed_id!(
    /// A playback session: one player's viewing, from its multivariant request on. Playback
    /// puts it in the rendition URLs it hands out, so every reload carries it.
    PlaybackId, "pb_", "playback"
);
typed_id!(
    /// A playback signing key: an account's Ed25519 public key that signed playback tokens are
    /// verified with (the token header's `kid`).
    PlaybackKeyId, "pk_", "playback key"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = ChannelId::generate();
        let text = id.to_string();
        assert!(text.starts_with("ch_"));
        assert_eq!(text.parse::<ChannelId>().unwrap(), id);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
    }

    #[test]
    fn an_id_of_another_kind_is_refused() {
        let session = SessionId::generate().to_string();
        let error = session.parse::<ChannelId>().unwrap_err();
        assert!(error.to_string().contains("channel id"));
        assert!("ch_../../etc/passwd".parse::<ChannelId>().is_err());
    }
}
