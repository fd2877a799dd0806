//! Secrets at rest, as an attacker with a copy of the disks would look for them: mint stream
//! keys and webhook secrets through the API, use them (a broadcast, signed deliveries), then
//! search every byte the deployment stored for any of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::api::Api;
use crate::publish::live;
use crate::receiver::{verify, Receiver};
use crate::wait::until;

/// Every secret a run of [`mint_and_use`] made, in clear, as the API showed them once.
pub struct Minted {
    pub account_id: String,
    /// The owner's token (with every scope).
    pub token: String,
    pub channel_ids: Vec<String>,
    pub stream_keys: Vec<String>,
    pub webhook_secrets: Vec<String>,
}

impl Minted {
    /// Every secret, stream keys and webhook secrets alike.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.stream_keys
            .iter()
            .chain(&self.webhook_secrets)
            .map(String::as_str)
    }

    /// The secrets `text` shows.
    pub fn shown_in<'a>(&'a self, text: &'a [u8]) -> Vec<&'a str> {
        self.all()
            .filter(|secret| contains(text, secret.as_bytes()))
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Two channels (one key rotated), two webhooks to `receiver` (one secret rotated), and a few
/// seconds of broadcast with the rotated key; returns once the receiver has every event of
/// the broadcast's start, each signed by a secret the API handed out.
pub async fn mint_and_use(api: &Api, admin_key: &str, receiver: &Receiver) -> Minted {
    let (account_id, token) = api.account_with_token(admin_key, "keeper").await;
    let mut webhook_secrets = Vec::new();
    let mut hooks = Vec::new();
    for _ in 0..2 {
        let hook = api
            .post("/v1/webhooks", &token, json!({ "url": receiver.url() }))
            .await
            .ok();
        webhook_secrets.push(hook["secret"].as_str().unwrap().to_owned());
        hooks.push(hook["id"].as_str().unwrap().to_owned());
    }
    let rotated = api
        .post(
            &format!("/v1/webhooks/{}/secret", hooks[0]),
            &token,
            json!({ "overlap_seconds": 0 }),
        )
        .await
        .ok();
    webhook_secrets.push(rotated["secret"].as_str().unwrap().to_owned());

    let mut stream_keys = Vec::new();
    let mut channels = Vec::new();
    for name in ["first", "second"] {
        let channel = api
            .create_channel(&token, json!({ "name": name, "latency_mode": "low" }))
            .await;
        stream_keys.push(channel["stream_key"].as_str().unwrap().to_owned());
        channels.push(channel);
    }
    let id = channels[0]["id"].as_str().unwrap().to_owned();
    let rotated = api
        .post(&format!("/v1/channels/{id}/stream-key"), &token, json!({}))
        .await
        .ok();
    stream_keys.push(rotated["stream_key"].as_str().unwrap().to_owned());
    let read = api.get(&format!("/v1/channels/{id}"), &token).await.ok();
    assert_eq!(
        read["stream_key"], rotated["stream_key"],
        "the owner reads the key back"
    );

    // A broadcast with the rotated key: ingest finds the channel by it.
    let _publisher = live(&rotated, 30);
    until(Duration::from_secs(30), "the broadcast is live", || async {
        api.history(&token, &id)
            .await
            .iter()
            .any(|event| event["type"] == "session.live")
    })
    .await;
    until(
        Duration::from_secs(30),
        "both webhooks have the session's going live",
        || async {
            receiver
                .received()
                .iter()
                .filter(|one| one.body["type"] == "session.live")
                .count()
                >= 2
        },
    )
    .await;
    // Each delivery is signed by a secret that was handed out: the dispatcher opened the
    // sealed secrets.
    for one in receiver.received() {
        assert!(
            webhook_secrets.iter().any(|secret| verify(&one, secret).0),
            "a delivery signed by no secret handed out: {}",
            one.signature
        );
    }
    Minted {
        account_id,
        token,
        channel_ids: channels
            .iter()
            .map(|channel| channel["id"].as_str().unwrap().to_owned())
            .collect(),
        stream_keys,
        webhook_secrets,
    }
}

/// The files under `dir` that hold any of the secrets, with the secrets found.
pub fn files_showing(dir: &Path, minted: &Minted) -> Vec<(PathBuf, Vec<String>)> {
    every_file(dir)
        .into_iter()
        .filter_map(|(path, bytes)| {
            let shown = minted.shown_in(&bytes);
            (!shown.is_empty()).then(|| (path, shown.into_iter().map(str::to_owned).collect()))
        })
        .collect()
}

/// Whether any file under `dir` holds `text`: a search that finds no secret is worth
/// something only where it finds what was stored beside them.
pub fn any_file_shows(dir: &Path, text: &str) -> bool {
    every_file(dir)
        .iter()
        .any(|(_, bytes)| contains(bytes, text.as_bytes()))
}

/// Every readable file under `dir`, with its bytes.
fn every_file(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files.push((path, bytes));
            }
        }
    }
    files
}

/// What the API and the webhooks show of the channels' histories: every event's data.
pub async fn histories(api: &Api, minted: &Minted) -> Vec<Value> {
    let mut events = Vec::new();
    for id in &minted.channel_ids {
        events.extend(api.history(&minted.token, id).await);
    }
    events
}
