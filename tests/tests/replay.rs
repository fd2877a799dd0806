//! `sigma replay` rebuilds the read models from the log: the tables are emptied, replayed, and
//! must equal what the live projector had built — on SQLite with the embedded log, and on
//! PostgreSQL with Kafka (where the test also opens and ends sessions as an edge worker would).

use serde_json::json;
use sigma_event_log::testing::Tansu;
use sigma_shared::command::IngestAction;
use sigma_shared::event::Outcome;
use sigma_shared::ids::{AlertId, SessionId};
use sigma_shared::secret::KeyFingerprint;
use sigma_tests::api::Api;
use sigma_tests::database::{dump_read_models, empty_read_models, TestDatabase};
use sigma_tests::edge::EdgeStandIn;
use sigma_tests::process::SigmaConfig;

/// A varied history: two accounts, channels created, patched, stopped, resumed, re-keyed and
/// deleted. Returns the token of the first account and its surviving channel ids.
async fn make_history(api: &Api, admin_key: &str) -> (String, Vec<String>) {
    let (_, token) = api.account_with_token(admin_key, "first").await;
    let (_, other) = api.account_with_token(admin_key, "second").await;
    // Webhook subscriptions are read models too (filtered to a type this history never has,
    // so nothing is sent): one rotated, one deleted.
    for rotate in [true, false] {
        let hook = api
            .post(
                "/v1/webhooks",
                &token,
                json!({ "url": "https://93.184.216.34/hooks", "event_types": ["recording.ready"] }),
            )
            .await
            .ok();
        let path = format!("/v1/webhooks/{}", hook["id"].as_str().unwrap());
        if rotate {
            api.post(
                &format!("{path}/secret"),
                &token,
                json!({ "overlap_seconds": 60 }),
            )
            .await
            .ok();
        } else {
            assert_eq!(api.delete(&path, &token).await.status, 204);
        }
    }
    let mut kept = Vec::new();
    for n in 0..12 {
        let owner = if n % 3 == 2 { &other } else { &token };
        let id = api
            .create_channel(
                owner,
                json!({ "name": format!("channel {n}"), "latency_mode": "ultra_low" }),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/v1/channels/{id}");
        api.patch(
            &path,
            owner,
            json!({ "dvr_window_seconds": 60 * n, "record_source": n % 2 == 0 }),
        )
        .await
        .ok();
        api.post(&format!("{path}/stop"), owner, json!({}))
            .await
            .ok();
        api.post(&format!("{path}/resume"), owner, json!({}))
            .await
            .ok();
        api.post(&format!("{path}/stream-key"), owner, json!({}))
            .await
            .ok();
        if n % 4 == 3 {
            api.delete(&path, owner).await;
        } else if owner == &token {
            kept.push(id);
        }
    }
    (token, kept)
}

fn replayed_events(output: &str) -> u64 {
    output
        .split('(')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{output}"))
}

/// Account events plus channel events: every event the log holds.
fn event_count(dump: &[(String, Vec<serde_json::Value>)]) -> u64 {
    let rows = |name: &str| {
        dump.iter()
            .find(|(table, _)| table == name)
            .map_or(0, |(_, rows)| rows.len() as u64)
    };
    // Every webhook subscription was created; `make_history` rotates one and deletes one.
    let webhook_events = rows("webhooks") * 2;
    rows("accounts") + rows("channel_events") + webhook_events
}

#[tokio::test]
async fn replay_rebuilds_the_same_read_models_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SigmaConfig::standalone(dir.path());
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let (token, channels) = make_history(&api, &sigma.admin_key).await;
    sigma.kill().await;

    let url = format!("sqlite://{}", dir.path().join("sigma.db").display());
    let before = dump_read_models(&url).await;
    assert!(
        before.iter().all(
            |(table, rows)| ["sessions", "alerts"].contains(&table.as_str()) || !rows.is_empty()
        ),
        "{before:?}"
    );
    empty_read_models(&url).await;
    let output = config.replay().await;
    assert_eq!(
        dump_read_models(&url).await,
        before,
        "replay built different read models"
    );
    assert_eq!(replayed_events(&output), event_count(&before), "{output}");

    // The replayed database serves and continues where the log is.
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let answer = api
        .patch(
            &format!("/v1/channels/{}", channels[0]),
            &token,
            json!({ "name": "after replay" }),
        )
        .await
        .ok();
    assert_eq!(answer["name"], "after replay");
    let history = api
        .get(&format!("/v1/channels/{}/events", channels[0]), &token)
        .await
        .ok();
    assert_eq!(history["data"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn replay_rebuilds_the_same_read_models_on_postgresql_with_kafka() {
    let broker = Tansu::start().await;
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = SigmaConfig::scale_out(dir.path(), &broker.brokers(), &database.url);
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let (token, channels) = make_history(&api, &sigma.admin_key).await;

    // Sessions, as an edge worker drives them: one ended, one still live.
    let edge = EdgeStandIn::connect(&broker.brokers(), 8).await;
    for (index, id) in channels.iter().take(2).enumerate() {
        let channel = api.get(&format!("/v1/channels/{id}"), &token).await.ok();
        let stream_key = KeyFingerprint::of(channel["stream_key"].as_str().unwrap());
        let session_id = SessionId::generate();
        let steps = [
            IngestAction::ConnectPublisher {
                stream_key,
                new_session_id: session_id,
            },
            IngestAction::MediaFlowing { session_id },
            IngestAction::FirstSegment { session_id },
            // One alert cleared, one left open (the failed session's end clears it).
            IngestAction::RaiseAlert {
                session_id,
                alert_id: AlertId::generate(),
                code: "no_media".into(),
                message: "connected but no media for 3 s".into(),
            },
            IngestAction::ClearAlert {
                session_id,
                code: "no_media".into(),
            },
            IngestAction::RaiseAlert {
                session_id,
                alert_id: AlertId::generate(),
                code: "bitrate_low".into(),
                message: "input bitrate 10 kbit/s, down from about 900 kbit/s".into(),
            },
        ];
        for step in steps {
            assert!(matches!(
                edge.submit(id, step).await,
                Outcome::Accepted { .. }
            ));
        }
        if index == 0 {
            let end = IngestAction::FailSession {
                session_id,
                message: "the encoder crashed".into(),
            };
            assert!(matches!(
                edge.submit(id, end).await,
                Outcome::Accepted { .. }
            ));
        }
        // An API write on the channel returns once its partition is projected up to here.
        api.patch(
            &format!("/v1/channels/{id}"),
            &token,
            json!({ "name": format!("synced {index}") }),
        )
        .await
        .ok();
    }
    let sessions = api
        .get(&format!("/v1/channels/{}/sessions", channels[1]), &token)
        .await
        .ok();
    assert_eq!(sessions["data"][0]["status"], "live", "{sessions}");
    sigma.kill().await;

    let before = dump_read_models(&database.url).await;
    assert!(
        before.iter().all(|(_, rows)| !rows.is_empty()),
        "{before:?}"
    );
    empty_read_models(&database.url).await;
    let output = config.replay().await;
    assert_eq!(
        dump_read_models(&database.url).await,
        before,
        "replay built different read models"
    );
    assert_eq!(replayed_events(&output), event_count(&before), "{output}");
}
