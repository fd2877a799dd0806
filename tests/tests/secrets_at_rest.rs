//! Secrets never in clear at rest, in events or in logs, on one machine: after channels are
//! created, keys and webhook secrets rotated, a broadcast made and webhooks delivered, no byte
//! of the data dir (log, SQLite and its journal, media, the process's own log) holds a stream
//! key or a webhook secret, nor does the events API or any webhook body. The scale-out
//! counterpart (topics and PostgreSQL tables) is in tests/tests/topology.rs. And an upgrade
//! from a release that kept them in clear seals them, and they go on working.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use sigma_event_log::LogConfig;
use sigma_migrations::{Migrator, MigratorTrait};
use sigma_shared::event::{Decision, Event, EventEnvelope, Outcome};
use sigma_shared::ids::{AccountId, ChannelId, CommandId, EventId, WebhookId};
use sigma_shared::log::{partition_for, EVENTS_TOPIC};
use sigma_shared::secret::{KeyFingerprint, StoredSecret, StreamKeyAtRest};
use sigma_shared::settings::{ChannelSettings, LatencyMode};
use sigma_tests::api::Api;
use sigma_tests::database::{every_row_as_text, TestDatabase};
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::live;
use sigma_tests::receiver::{verify, Behaviour, Receiver};
use sigma_tests::secrets::{any_file_shows, files_showing, histories, mint_and_use};
use sigma_tests::wait::{until, until_some};

#[tokio::test]
async fn no_stream_key_or_webhook_secret_is_stored_or_shown_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(Behaviour::default()).await;
    let mut config = SigmaConfig::standalone(dir.path()).with("SIGMA_WEBHOOK_ALLOW_PRIVATE", "1");
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let minted = mint_and_use(&api, &sigma.admin_key, &receiver).await;
    assert_eq!(minted.stream_keys.len(), 3);
    assert_eq!(minted.webhook_secrets.len(), 3);

    // The history tells of every key and secret change, and shows none.
    let events = histories(&api, &minted).await;
    let types: Vec<&Value> = events.iter().map(|event| &event["type"]).collect();
    assert!(types.contains(&&Value::from("channel.stream_key_rotated")));
    let shown = serde_json::to_vec(&events).unwrap();
    assert_eq!(
        minted.shown_in(&shown),
        Vec::<&str>::new(),
        "the events API"
    );
    for one in receiver.received() {
        assert_eq!(
            minted.shown_in(&one.raw),
            Vec::<&str>::new(),
            "a webhook body"
        );
    }
    // A read-only token reads the channel without its key (the right to publish).
    let reader = api
        .post(
            "/v1/tokens",
            &sigma.admin_key,
            json!({ "account_id": minted.account_id, "scopes": ["channels:read"] }),
        )
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = &minted.channel_ids[0];
    let read = api.get(&format!("/v1/channels/{id}"), &reader).await.ok();
    assert!(read.get("stream_key").is_none(), "{read}");
    assert!(read.get("rtmp_url").is_none(), "{read}");
    assert_eq!(
        minted.shown_in(read.to_string().as_bytes()),
        Vec::<&str>::new()
    );

    // The search looks where the events are: their data (a key's fingerprint) is found.
    let fingerprint = KeyFingerprint::of(&minted.stream_keys[0]);
    assert!(
        any_file_shows(&dir.path().join("log"), fingerprint.as_str()),
        "the log has the channels' events"
    );
    assert_eq!(files_showing(dir.path(), &minted), vec![], "while running");

    // Killed (nothing flushed or tidied) and restarted: still nothing in clear, and the owner
    // reads back the key it was given, opened with the secrets key kept in the data dir.
    sigma.kill().await;
    assert_eq!(files_showing(dir.path(), &minted), vec![], "after a kill");
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let read = api
        .get(&format!("/v1/channels/{id}"), &minted.token)
        .await
        .ok();
    assert_eq!(read["stream_key"], minted.stream_keys[2].as_str());
    let key_file = dir.path().join("secrets-key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", key_file.display());
}

/// A decision of an older release: its one event at schema version 1, with the secret in
/// `field` in clear.
fn v1_decision(stream: &str, envelope: EventEnvelope, field: Option<(&str, &str)>) -> Vec<u8> {
    let decision = Decision {
        command_id: envelope.command_id,
        stream: stream.to_owned(),
        outcome: Outcome::Accepted {
            events: vec![envelope],
        },
    };
    let mut json = serde_json::to_value(&decision).unwrap();
    let event = &mut json["events"][0];
    event["schema_version"] = 1.into();
    if let Some((field, clear)) = field {
        event["data"][field] = clear.into();
    }
    serde_json::to_vec(&json).unwrap()
}

fn envelope(account_id: AccountId, channel_id: Option<ChannelId>, event: Event) -> EventEnvelope {
    EventEnvelope {
        id: EventId::generate(),
        account_id,
        channel_id,
        session_id: None,
        sequence: 1,
        occurred_at: Utc::now(),
        command_id: CommandId::generate(),
        schema_version: 1,
        event,
    }
}

#[tokio::test]
async fn an_upgrade_seals_the_secrets_an_older_release_kept_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create().await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let (account, channel, webhook) = (
        AccountId::generate(),
        ChannelId::generate(),
        WebhookId::generate(),
    );
    let legacy_key = format!("sk_{}", uuid::Uuid::new_v4().simple());
    let legacy_secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());

    // What the older release left in the log: its records, secrets in clear.
    let log_config = LogConfig::Embedded {
        dir: dir.path().join("log"),
        partitions: 8,
    };
    let log = sigma_event_log::open(&log_config).await.unwrap();
    log.ensure_topic(EVENTS_TOPIC).await.unwrap();
    let records = [
        (
            account.to_string(),
            v1_decision(
                &account.to_string(),
                envelope(account, None, Event::AccountCreated { name: "old".into() }),
                None,
            ),
        ),
        (
            channel.to_string(),
            v1_decision(
                &channel.to_string(),
                envelope(
                    account,
                    Some(channel),
                    Event::ChannelCreated {
                        name: "from before".into(),
                        settings: ChannelSettings {
                            latency_mode: LatencyMode::Low,
                            ..ChannelSettings::default()
                        },
                        stream_key: StreamKeyAtRest {
                            fingerprint: KeyFingerprint::of(&legacy_key),
                            key: StoredSecret::Legacy(legacy_key.clone().try_into().unwrap()),
                        },
                    },
                ),
                Some(("stream_key", &legacy_key)),
            ),
        ),
        (
            webhook.to_string(),
            v1_decision(
                &webhook.to_string(),
                envelope(
                    account,
                    None,
                    Event::WebhookCreated {
                        webhook_id: webhook,
                        url: receiver.url(),
                        event_types: vec![],
                        secret: StoredSecret::Legacy(legacy_secret.clone().try_into().unwrap()),
                    },
                ),
                Some(("secret", &legacy_secret)),
            ),
        ),
    ];
    let mut ends = Vec::new();
    for (stream, payload) in &records {
        log.append(EVENTS_TOPIC, stream, payload).await.unwrap();
        let partition = partition_for(stream, log.partitions());
        ends.push((
            partition,
            log.end_offset(EVENTS_TOPIC, partition).await.unwrap(),
        ));
    }
    drop(log);

    // …and in its read models (schema of migration 11): the secrets in clear, and the
    // projection done up to the log's end.
    let db = Database::connect(&database.url).await.unwrap();
    Migrator::up(&db, Some(11)).await.unwrap();
    db.execute_unprepared(&format!(
        "INSERT INTO channels VALUES ('{channel}', '{account}', 'from before', 'idle', \
         '{legacy_key}', 'low', 'passthrough', 0, false, 0, 0, 0, 'public', NULL, now(), now())"
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        "INSERT INTO webhooks VALUES ('{webhook}', '{account}', '{}', '[]', '{legacy_secret}', \
         NULL, NULL, now(), NULL)",
        receiver.url()
    ))
    .await
    .unwrap();
    for (partition, end) in ends {
        db.execute_unprepared(&format!(
            "INSERT INTO projection_offsets VALUES ('read_models', {partition}, {end}) \
             ON CONFLICT DO NOTHING"
        ))
        .await
        .unwrap();
    }
    db.close().await.unwrap();

    // The new release starts on them: migration 12 empties the read models, the projector
    // rebuilds them from the log and seals the secrets it finds in clear.
    let sigma = SigmaConfig::standalone(dir.path())
        .with("SIGMA_DATABASE_URL", &database.url)
        .with("SIGMA_WEBHOOK_ALLOW_PRIVATE", "1")
        .start()
        .await;
    let api = Api::new(&sigma.url);
    let path = format!("/v1/channels/{channel}");
    let read = until_some(
        Duration::from_secs(20),
        "the read models are rebuilt",
        || async {
            let minted = api
                .post(
                    "/v1/tokens",
                    &sigma.admin_key,
                    json!({ "account_id": account.to_string() }),
                )
                .await;
            let token = minted.body["token"].as_str()?.to_owned();
            let answer = api.get(&path, &token).await;
            (answer.status == 200).then_some(answer.body)
        },
    )
    .await;
    assert_eq!(
        read["stream_key"],
        legacy_key.as_str(),
        "the owner still reads the key"
    );
    let rows = every_row_as_text(&database.url).await;
    assert!(rows.contains(&channel.to_string()), "{rows}");
    assert!(
        !rows.contains(&legacy_key),
        "a stream key in clear in the tables: {rows}"
    );
    assert!(
        !rows.contains(&legacy_secret),
        "a webhook secret in clear in the tables"
    );

    // The key still publishes (found by its fingerprint), and the webhook still signs with
    // its secret (opened from the form it was sealed in).
    let _publisher = live(&read, 20);
    until(
        Duration::from_secs(30),
        "the legacy webhook hears of the broadcast",
        || async {
            receiver
                .received()
                .iter()
                .any(|one| one.body["type"] == "session.live")
        },
    )
    .await;
    for one in receiver.received() {
        assert!(verify(&one, &legacy_secret).0, "{}", one.signature);
    }
}
