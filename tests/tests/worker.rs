//! Edge workers as their own processes (`sigma worker`, given no database): a publisher that
//! leaves one worker and comes back through another within the reconnect window continues the
//! same session, with one playlist across both connections, served by a platform process that
//! ingested none of the first.

use std::time::Duration;

use serde_json::{json, Value};
use sigma_event_log::testing::Tansu;
use sigma_tests::api::Api;
use sigma_tests::database::TestDatabase;
use sigma_tests::hls::validate_media;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::wait::until;

async fn session(api: &Api, token: &str, channel: &str) -> Option<Value> {
    let answer = api
        .get(&format!("/v1/channels/{channel}/sessions"), token)
        .await
        .ok();
    answer["data"].as_array().and_then(|s| s.first().cloned())
}

async fn publish(url: &str, seconds: u32) {
    let status = publisher(url, seconds, Publish::default())
        .status()
        .await
        .expect("ffmpeg is installed");
    assert!(status.success(), "the publisher to {url} failed");
}

#[tokio::test]
async fn a_publisher_moving_to_another_worker_continues_the_same_session() {
    let broker = Tansu::start().await;
    let database = TestDatabase::create().await;
    let (platform_dir, worker_dir, media) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let store = format!("file://{}", media.path().display());
    let platform = SigmaConfig::scale_out(platform_dir.path(), &broker.brokers(), &database.url)
        .with("SIGMA_OBJECT_STORE_URL", &store)
        .start()
        .await;
    // No database at all: with none given, a process that opened one would make a SQLite file
    // in its data dir.
    let mut worker_config =
        SigmaConfig::scale_out(worker_dir.path(), &broker.brokers(), &database.url)
            .with("SIGMA_OBJECT_STORE_URL", &store)
            .without("SIGMA_DATABASE_URL");
    let worker = worker_config.start_worker().await;

    // The worker serves health and metrics, and no API.
    for (path, status) in [("/healthz", 200), ("/readyz", 200), ("/v1/channels", 404)] {
        let answer = reqwest::get(format!("{}{path}", worker.url)).await.unwrap();
        assert_eq!(answer.status().as_u16(), status, "{path} on the worker");
    }
    assert!(
        !worker_dir.path().join("sigma.db").exists(),
        "a worker opens no database"
    );

    let api = Api::new(&platform.url);
    let (_, token) = api
        .account_with_token(&platform.admin_key, "broadcaster")
        .await;
    let settings =
        json!({ "name": "stage", "latency_mode": "low", "reconnect_window_seconds": 60 });
    let channel = api.create_channel(&token, settings).await;
    let id = channel["id"].as_str().unwrap();
    let key = channel["stream_key"].as_str().unwrap();

    publish(&worker_config.rtmp_url(key), 4).await;
    until(
        Duration::from_secs(30),
        "the session is live and its publisher gone",
        || async {
            session(&api, &token, id)
                .await
                .is_some_and(|s| s["status"] == "live" && s["publisher_connected"] == false)
        },
    )
    .await;
    let first = session(&api, &token, id).await.unwrap();

    publish(channel["rtmp_url"].as_str().unwrap(), 3).await;
    until(
        Duration::from_secs(30),
        "the second connection is recorded and gone",
        || async {
            session(&api, &token, id)
                .await
                .is_some_and(|s| s["restream_count"] == 1 && s["publisher_connected"] == false)
        },
    )
    .await;

    let sessions = api
        .get(&format!("/v1/channels/{id}/sessions"), &token)
        .await
        .ok();
    let sessions = sessions["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "one session across both workers");
    assert_eq!(sessions[0]["id"], first["id"]);
    assert_eq!(sessions[0]["status"], "live");

    // The platform plays both connections: the worker's media through the shared store.
    let playlist = reqwest::get(format!("{}/live/{id}/source.m3u8", platform.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let summary = validate_media(&playlist, false).unwrap_or_else(|errors| {
        panic!("invalid playlist: {errors:?}\n{playlist}");
    });
    assert!(
        summary.segments >= 6,
        "7 s of 1 s segments listed, got {}:\n{playlist}",
        summary.segments
    );
    assert_eq!(playlist.matches("#EXT-X-DISCONTINUITY\n").count(), 1);
    assert_eq!(playlist.matches("#EXT-X-MAP:").count(), 2, "{playlist}");
    let first_segment = playlist
        .lines()
        .find(|line| line.ends_with(".m4s"))
        .expect("a segment");
    let bytes = reqwest::get(format!("{}/live/{id}/{first_segment}", platform.url))
        .await
        .unwrap();
    assert_eq!(bytes.status().as_u16(), 200, "{first_segment}");
    assert!(!bytes.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_killed_worker_is_declared_lost_and_its_publisher_continues_on_another_node() {
    const NODE_TIMEOUT_MS: u64 = 4_000;
    let broker = Tansu::start().await;
    let database = TestDatabase::create().await;
    let (platform_dir, worker_dir, media) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let store = format!("file://{}", media.path().display());
    let scale_out = |dir: &std::path::Path| {
        SigmaConfig::scale_out(dir, &broker.brokers(), &database.url)
            .with("SIGMA_OBJECT_STORE_URL", &store)
            .with("SIGMA_HEARTBEAT_INTERVAL_MS", "500")
            .with("SIGMA_NODE_TIMEOUT_MS", NODE_TIMEOUT_MS.to_string())
    };
    let platform = scale_out(platform_dir.path()).start().await;
    let mut worker_config = scale_out(worker_dir.path()).without("SIGMA_DATABASE_URL");
    let worker = worker_config.start_worker().await;

    let api = Api::new(&platform.url);
    let (_, token) = api
        .account_with_token(&platform.admin_key, "broadcaster")
        .await;
    let settings =
        json!({ "name": "stage", "latency_mode": "low", "reconnect_window_seconds": 60 });
    let channel = api.create_channel(&token, settings).await;
    let id = channel["id"].as_str().unwrap();
    let key = channel["stream_key"].as_str().unwrap();

    let camera = Publish {
        real_time: true,
        ..Publish::default()
    };
    let mut first = publisher(&worker_config.rtmp_url(key), 60, camera)
        .spawn()
        .unwrap();
    until(Duration::from_secs(30), "the session is live", || async {
        session(&api, &token, id)
            .await
            .is_some_and(|s| s["status"] == "live")
    })
    .await;
    // Let a couple of heartbeats carry the session, then the worker dies without a word.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed_at = chrono::Utc::now();
    worker.kill().await;
    let _ = first.wait().await;

    until(
        Duration::from_secs(30),
        "the node is declared lost and the session's publisher gone",
        || async {
            let history = api.history(&token, id).await;
            history
                .iter()
                .any(|e| e["type"] == "session.publisher_disconnected")
                && history
                    .iter()
                    .any(|e| e["type"] == "alert.raised" && e["data"]["code"] == "node_lost")
        },
    )
    .await;
    let history = api.history(&token, id).await;
    let alert = history
        .iter()
        .find(|e| e["data"]["code"] == "node_lost")
        .unwrap();
    let raised_at: chrono::DateTime<chrono::Utc> =
        alert["occurred_at"].as_str().unwrap().parse().unwrap();
    let after = (raised_at - killed_at).to_std().unwrap();
    eprintln!("node_lost raised {after:?} after the kill (timeout {NODE_TIMEOUT_MS} ms)");
    assert!(
        after < Duration::from_millis(NODE_TIMEOUT_MS + 3_000),
        "declared lost {after:?} after the kill"
    );
    let metrics = reqwest::get(format!("{}/metrics", platform.metrics_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("sigma_nodes_lost_total 1"), "{metrics}");

    // The publisher comes back through another node: the same session goes on.
    publish(channel["rtmp_url"].as_str().unwrap(), 3).await;
    until(Duration::from_secs(30), "the session continues", || async {
        session(&api, &token, id)
            .await
            .is_some_and(|s| s["restream_count"] == 1 && s["status"] == "live")
    })
    .await;
    let sessions = api
        .get(&format!("/v1/channels/{id}/sessions"), &token)
        .await
        .ok();
    assert_eq!(sessions["data"].as_array().unwrap().len(), 1, "one session");
    assert!(api
        .history(&token, id)
        .await
        .iter()
        .any(|e| e["type"] == "session.restream"));
}
