//! A webhook subscription's target and filter as an API caller sends them: accepted only when
//! shaped as an absolute http(s) URL with a host, no credentials, no fragment and no spaces or
//! control characters, and kept in a normal form that parses to itself; refused otherwise,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigma_shared::aggregate::Aggregate;
use sigma_shared::command::{ToWebhook, WebhookCommand};
use sigma_shared::event::Event;
use sigma_shared::ids::{AccountId, WebhookId};
use sigma_shared::secret::Sealed;
use sigma_shared::webhook::{normalize_url, WebhookState};

fuzz_target!(|input: (&str, Vec<String>)| {
    let (url, event_types) = input;
    let command = ToWebhook {
        webhook_id: WebhookId::generate(),
        account_id: AccountId::generate(),
        command: WebhookCommand::Create {
            url: url.to_owned(),
            event_types,
            secret: Sealed::try_from("v1.fuzz.sealed".to_owned()).expect("a sealed shape"),
        },
    };
    let accepted = WebhookState::Absent.decide(&command, chrono::DateTime::UNIX_EPOCH);
    if let Ok(events) = accepted {
        let Event::WebhookCreated { url: kept, .. } = &events[0] else {
            panic!("a creation: {events:?}");
        };
        // The kept form is normal: parsing it again changes nothing.
        assert_eq!(normalize_url(kept).as_deref(), Ok(kept.as_str()));
        let (scheme, rest) = kept.split_once("://").expect("a scheme");
        assert!(scheme == "http" || scheme == "https");
        let authority = rest.split(['/', '?', '#']).next().unwrap();
        assert!(!authority.is_empty() && !authority.contains('@'));
        assert!(!kept.contains('#'));
        assert!(!kept.chars().any(|c| c.is_control() || c.is_whitespace()));
    }
});
