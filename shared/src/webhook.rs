//! The webhook aggregate: one subscription of an account to its channels' events.
//!
//! A subscription has a target URL, an event-type filter and one or two signing secrets: after a
//! rotation the previous secret stays valid until the end of the overlap the owner asked for, so
//! receivers can switch without dropping a delivery. Secrets are drawn by the caller (like stream
//! keys) and sealed, so `decide` stays pure; the URL's *reachability* rules (no private ranges) need DNS and
//! are checked by the API before the command is issued and by the delivery at every connection
//! — here only its shape is, and the URL is kept in its one normal form ([`normalize_url`]).

use chrono::{DateTime, Duration, Utc};

use crate::aggregate::Aggregate;
use crate::command::{ToWebhook, WebhookCommand};
use crate::event::{Event, EventEnvelope};
use crate::ids::{AccountId, WebhookId};
use crate::rejection::Rejection;
use crate::secret::StoredSecret;

/// The event types a subscription may ask for: everything that happens to a channel and its
/// sessions. An empty filter means all of them.
pub const EVENT_TYPES: &[&str] = &[
    "channel.created",
    "channel.updated",
    "channel.deleted",
    "channel.stopped",
    "channel.resumed",
    "channel.stream_key_rotated",
    "session.init",
    "session.preview",
    "session.live",
    "session.publisher_disconnected",
    "session.restream",
    "session.backup_connected",
    "session.backup_disconnected",
    "session.failover",
    "session.error",
    "session.ended",
    "session.media_expired",
    "session.media_deleted",
    "alert.raised",
    "alert.cleared",
    "recording.ready",
    "thumbnail.ready",
    "storyboard.ready",
];

/// Longest target URL accepted.
const MAX_URL_CHARS: usize = 2_000;
/// Longest overlap a rotation may keep the previous secret valid for.
pub const MAX_OVERLAP_SECONDS: u32 = 7 * 24 * 3600;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WebhookState {
    #[default]
    Absent,
    Exists(Webhook),
    Deleted {
        account_id: AccountId,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub account_id: AccountId,
    pub url: String,
    pub event_types: Vec<String>,
}

impl Aggregate for WebhookState {
    type Command = ToWebhook;

    fn decide(&self, to: &ToWebhook, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
        decide(self, to.webhook_id, to.account_id, &to.command, now)
    }

    /// The caller: `decide` accepts nothing from anyone else.
    fn owner(&self, to: &ToWebhook) -> Option<AccountId> {
        Some(to.account_id)
    }

    fn evolve(self, event: &EventEnvelope) -> Self {
        evolve(self, event.account_id, &event.event)
    }
}

fn decide(
    state: &WebhookState,
    webhook_id: WebhookId,
    account_id: AccountId,
    command: &WebhookCommand,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    // Another account's subscription is indistinguishable from a missing one.
    let not_found = || Rejection::not_found("webhook");
    match (state, command) {
        (
            WebhookState::Absent,
            WebhookCommand::Create {
                url,
                event_types,
                secret,
            },
        ) => {
            let url = normalize_url(url)?;
            validate_event_types(event_types)?;
            Ok(vec![Event::WebhookCreated {
                webhook_id,
                url,
                event_types: event_types.clone(),
                secret: StoredSecret::Sealed(secret.clone()),
            }])
        }
        (WebhookState::Exists(webhook), command) if webhook.account_id == account_id => {
            match command {
                WebhookCommand::Create { .. } => Err(Rejection::AlreadyExists {
                    what: "webhook".into(),
                }),
                WebhookCommand::RotateSecret {
                    secret,
                    overlap_seconds,
                } => {
                    if *overlap_seconds > MAX_OVERLAP_SECONDS {
                        return Err(Rejection::Invalid {
                            field: "overlap_seconds".into(),
                            message: format!("must be at most {MAX_OVERLAP_SECONDS} (7 days)"),
                        });
                    }
                    Ok(vec![Event::WebhookSecretRotated {
                        webhook_id,
                        secret: StoredSecret::Sealed(secret.clone()),
                        previous_valid_until: now + Duration::seconds(i64::from(*overlap_seconds)),
                    }])
                }
                WebhookCommand::Delete => Ok(vec![Event::WebhookDeleted { webhook_id }]),
            }
        }
        (WebhookState::Deleted { .. } | WebhookState::Exists(_), WebhookCommand::Create { .. }) => {
            Err(Rejection::AlreadyExists {
                what: "webhook".into(),
            })
        }
        _ => Err(not_found()),
    }
}

fn evolve(state: WebhookState, account_id: AccountId, event: &Event) -> WebhookState {
    match event {
        Event::WebhookCreated {
            url, event_types, ..
        } => WebhookState::Exists(Webhook {
            account_id,
            url: url.clone(),
            event_types: event_types.clone(),
        }),
        Event::WebhookDeleted { .. } => WebhookState::Deleted { account_id },
        _ => state,
    }
}

/// Whether a subscription with this filter wants events of `event_type`.
pub fn wants(event_types: &[String], event_type: &str) -> bool {
    event_types.is_empty() || event_types.iter().any(|wanted| wanted == event_type)
}

fn invalid(field: &str, message: impl Into<String>) -> Rejection {
    Rejection::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Parses a target URL as browsers and HTTP clients do (WHATWG URL) and returns its one
/// normal form, which is what is stored and what is later fetched, so the checks and the
/// delivery read the same host: scheme and host in lower case, numeric and hex IPv4 forms
/// (`2130706433`, `0x7f.1`) as dotted quads, IPv6 compressed. Refused: anything but absolute
/// http(s) with a host, credentials, a fragment, spaces or control characters. Whether the
/// host may be reached is the API's and the delivery's check (it needs DNS).
pub fn normalize_url(url: &str) -> Result<String, Rejection> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(invalid(
            "url",
            format!("must be at most {MAX_URL_CHARS} characters"),
        ));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(
            "url",
            "must not contain spaces or control characters",
        ));
    }
    let parsed = url::Url::parse(url)
        .map_err(|_| invalid("url", "must be an absolute http:// or https:// URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            "url",
            "only http:// and https:// targets are supported",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("url", "must name a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "url",
            "must not carry credentials; sign with the secret instead",
        ));
    }
    if parsed.fragment().is_some() {
        return Err(invalid("url", "must not have a fragment"));
    }
    Ok(parsed.into())
}

fn validate_event_types(event_types: &[String]) -> Result<(), Rejection> {
    match event_types
        .iter()
        .find(|wanted| !EVENT_TYPES.contains(&wanted.as_str()))
    {
        Some(unknown) => Err(invalid(
            "event_types",
            format!(
                "unknown event type `{}`; known: {}",
                unknown.chars().take(80).collect::<String>(),
                EVENT_TYPES.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::testing::Given;
    use crate::secret::Sealed;

    fn sealed(text: &str) -> Sealed {
        Sealed::try_from(text.to_owned()).unwrap()
    }

    fn hook() -> WebhookId {
        WebhookId::from_uuid(uuid::Uuid::from_u128(7))
    }

    /// `command` to the subscription [`hook`], asked by `caller`.
    fn by(caller: AccountId, command: WebhookCommand) -> ToWebhook {
        ToWebhook {
            webhook_id: hook(),
            account_id: caller,
            command,
        }
    }

    fn create(caller: AccountId, url: &str, event_types: &[&str]) -> ToWebhook {
        by(
            caller,
            WebhookCommand::Create {
                url: url.into(),
                event_types: event_types.iter().map(|t| t.to_string()).collect(),
                secret: sealed("sealed_one"),
            },
        )
    }

    fn now() -> DateTime<Utc> {
        "2026-11-24T12:00:00Z".parse().unwrap()
    }

    fn absent(owner: AccountId) -> Given<WebhookState> {
        Given::absent(owner, None)
    }

    #[test]
    fn a_subscription_is_created_with_its_filter_and_secret() {
        let account = AccountId::generate();
        let create = create(
            account,
            "https://example.com/hooks",
            &["session.live", "session.ended"],
        );
        assert_eq!(
            absent(account).when(&create, now()),
            Ok(vec![Event::WebhookCreated {
                webhook_id: hook(),
                url: "https://example.com/hooks".into(),
                event_types: vec!["session.live".into(), "session.ended".into()],
                secret: StoredSecret::Sealed(sealed("sealed_one")),
            }])
        );
    }

    #[test]
    fn bad_targets_and_unknown_types_are_invalid() {
        let account = AccountId::generate();
        for url in [
            "ftp://example.com/x",
            "example.com/hooks",
            "https://",
            "https://user:pw@example.com/",
            "https://example.com/a b",
            "https://example.com/#frag",
        ] {
            let refused = absent(account).when(&create(account, url, &[]), now());
            assert!(
                matches!(refused, Err(Rejection::Invalid { ref field, .. }) if field == "url"),
                "{url}: {refused:?}"
            );
        }
        let unknown_type = create(account, "https://example.com/", &["session.everything"]);
        let refused = absent(account).when(&unknown_type, now());
        assert!(
            matches!(refused, Err(Rejection::Invalid { ref field, .. }) if field == "event_types")
        );
    }

    #[test]
    fn targets_are_kept_in_one_normal_form() {
        for (given, kept) in [
            ("HTTPS://Example.COM/Hooks", "https://example.com/Hooks"),
            ("HTTP://127.0.0.1", "http://127.0.0.1/"),
            ("http://2130706433/", "http://127.0.0.1/"),
            ("http://0x7f.1:8080/x", "http://127.0.0.1:8080/x"),
            ("http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
            ("https://example.com:443/a", "https://example.com/a"),
        ] {
            assert_eq!(normalize_url(given).as_deref(), Ok(kept), "{given}");
            assert_eq!(
                normalize_url(kept).as_deref(),
                Ok(kept),
                "{kept} is already normal"
            );
        }
        let account = AccountId::generate();
        let created = absent(account)
            .when(&create(account, "HTTP://2130706433:9000/in", &[]), now())
            .unwrap();
        assert!(
            matches!(&created[0], Event::WebhookCreated { url, .. } if url == "http://127.0.0.1:9000/in")
        );
    }

    #[test]
    fn a_rotation_keeps_the_previous_secret_for_the_overlap() {
        let account = AccountId::generate();
        let hook_of_account =
            absent(account).accept(&create(account, "https://e.com/", &[]), now());
        let rotate = by(
            account,
            WebhookCommand::RotateSecret {
                secret: sealed("sealed_two"),
                overlap_seconds: 3600,
            },
        );
        assert_eq!(
            hook_of_account.when(&rotate, now()),
            Ok(vec![Event::WebhookSecretRotated {
                webhook_id: hook(),
                secret: StoredSecret::Sealed(sealed("sealed_two")),
                previous_valid_until: now() + Duration::hours(1),
            }])
        );
        let too_long = by(
            account,
            WebhookCommand::RotateSecret {
                secret: sealed("sealed_two"),
                overlap_seconds: MAX_OVERLAP_SECONDS + 1,
            },
        );
        assert!(matches!(
            hook_of_account.when(&too_long, now()),
            Err(Rejection::Invalid { .. })
        ));
    }

    #[test]
    fn another_account_sees_no_subscription_and_a_deleted_one_is_gone() {
        let owner = AccountId::generate();
        let owned = absent(owner).accept(&create(owner, "https://e.com/", &[]), now());
        let stranger = AccountId::generate();
        assert!(matches!(
            owned.when(&by(stranger, WebhookCommand::Delete), now()),
            Err(Rejection::NotFound { .. })
        ));
        let deleted = absent(owner).given(&[
            Event::WebhookCreated {
                webhook_id: hook(),
                url: "https://e.com/".into(),
                event_types: vec![],
                secret: StoredSecret::Sealed(sealed("s")),
            },
            Event::WebhookDeleted { webhook_id: hook() },
        ]);
        assert!(matches!(
            deleted.when(&by(owner, WebhookCommand::Delete), now()),
            Err(Rejection::NotFound { .. })
        ));
    }

    #[test]
    fn an_empty_filter_wants_everything() {
        assert!(wants(&[], "session.live"));
        assert!(wants(&["session.live".into()], "session.live"));
        assert!(!wants(&["session.live".into()], "session.ended"));
    }
}
