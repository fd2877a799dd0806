//! Catch-up: a session is replayable while it runs (an `EVENT` playlist) and after it ended (a
//! `VOD` playlist with `EXT-X-ENDLIST`); with one reconnect, ffmpeg reads the VOD playlist from
//! start to end and decodes every frame, and its duration matches the session's within a
//! segment. (The returning publisher's timeline continues where the session left off, so the
//! replay is one timeline: players that ignore timestamp resets lose nothing.)

use std::time::Duration;

use serde_json::json;
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::hls::until_final;
use sigma_tests::probe;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::wait::until;

const FPS: usize = 30;

async fn text(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// Publishes one 3-second session to `channel` and returns it once it has ended.
async fn broadcast_once(api: &Api, token: &str, channel: &serde_json::Value) -> serde_json::Value {
    let id = channel["id"].as_str().unwrap();
    api.broadcast(token, channel, &[3]).await;
    until(Duration::from_secs(30), "the session ends", || async {
        api.first_session(token, id).await["status"] == "ended"
    })
    .await;
    api.first_session(token, id).await
}

#[tokio::test]
async fn a_session_with_a_reconnect_replays_whole_after_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let settings = json!({ "name": "replay", "reconnect_window_seconds": 3 });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let (id, rtmp_url) = (
        channel["id"].as_str().unwrap(),
        channel["rtmp_url"].as_str().unwrap(),
    );
    let publish = |seconds| publisher(rtmp_url, seconds, Publish::default()).status();
    assert!(publish(4).await.unwrap().success());
    until(
        Duration::from_secs(20),
        "the publisher is seen gone",
        || async { api.first_session(&token, id).await["publisher_connected"] == false },
    )
    .await;
    let url = api.first_session(&token, id).await["catchup_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let running = text(&url.replace("index.m3u8", "source.m3u8")).await;
    assert!(running.contains("#EXT-X-PLAYLIST-TYPE:EVENT"), "{running}");
    assert!(!running.contains("#EXT-X-ENDLIST"));

    assert!(publish(3).await.unwrap().success());
    until(Duration::from_secs(30), "the session ends", || async {
        api.first_session(&token, id).await["status"] == "ended"
    })
    .await;
    let media = url.replace("index.m3u8", "source.m3u8");
    let vod = until_final(&media, Duration::from_secs(10)).await;
    assert!(vod.contains("#EXT-X-PLAYLIST-TYPE:VOD"), "{vod}");
    assert_eq!(vod.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{vod}");
    let listed: f64 = vod
        .lines()
        .filter_map(|line| line.strip_prefix("#EXTINF:"))
        .map(|d| d.trim_end_matches(',').parse::<f64>().unwrap())
        .sum();
    assert!(
        (listed - 7.0).abs() <= 1.0,
        "7 s published, {listed} s listed"
    );

    let frames = probe::play_frames(&["-i", &url], &[]).await;
    assert_eq!(
        frames.len(),
        7 * FPS,
        "every published frame, start to end:\n{vod}"
    );
}

/// Playback holds no ended session's timeline for long: the recorder stores the final
/// playlists (`vod/{session}/`), playback lets the session go and serves the same playlists
/// from the store, after a restart too.
#[tokio::test]
async fn an_ended_session_s_catch_up_is_served_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SigmaConfig::standalone(dir.path());
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let settings = json!({ "name": "stored", "reconnect_window_seconds": 1 });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let held =
        || sigma_tests::metrics::read(&sigma.metrics_url, "sigma_playback_catchup_sessions ");
    let session = broadcast_once(&api, &token, &channel).await;
    let session_id = session["id"].as_str().unwrap().to_owned();
    let index_url = session["catchup_url"].as_str().unwrap().to_owned();
    let media_url = index_url.replace("index.m3u8", "source.m3u8");
    let vod = until_final(&media_url, Duration::from_secs(10)).await;

    until(
        Duration::from_secs(20),
        "playback lets the ended session go",
        || async { held().await == Some(0.0) },
    )
    .await;
    let stored = dir.path().join("media/vod").join(&session_id);
    assert_eq!(
        std::fs::read_to_string(stored.join("source.m3u8")).unwrap(),
        vod,
        "the recorder stored what playback served"
    );
    assert!(stored.join("index.m3u8").is_file());
    assert_eq!(text(&media_url).await, vod, "served from the store");
    let index = text(&index_url).await;
    assert!(index.contains("\nsource.m3u8\n"), "{index}");
    let missing = index_url.replace("index.m3u8", "720p.m3u8");
    assert_eq!(reqwest::get(&missing).await.unwrap().status(), 404);
    let odd = index_url.replace("index.m3u8", "..%2Findex.m3u8");
    assert_eq!(reqwest::get(&odd).await.unwrap().status(), 404);

    sigma.kill().await;
    let sigma = config.start().await;
    until(
        Duration::from_secs(20),
        "the restarted playback holds no ended session",
        || async {
            sigma_tests::metrics::read(&sigma.metrics_url, "sigma_playback_catchup_sessions ").await
                == Some(0.0)
        },
    )
    .await;
    assert_eq!(text(&media_url).await, vod, "after a restart");
    let frames = probe::play_frames(&["-i", &index_url], &[]).await;
    assert_eq!(
        frames.len(),
        3 * FPS,
        "every frame, from the stored playlists"
    );
}

#[tokio::test]
async fn catch_up_media_are_deleted_when_their_retention_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(
        SigmaConfig::standalone(dir.path()).with("SIGMA_CATCHUP_RETENTION_SECONDS", "4"),
    )
    .await;
    let api = Api::new(&sigma.url);
    let settings = json!({ "name": "short-lived", "reconnect_window_seconds": 1 });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let id = channel["id"].as_str().unwrap();
    let session = broadcast_once(&api, &token, &channel).await;
    let session_id = session["id"].as_str().unwrap().to_owned();
    let catchup_url = session["catchup_url"].as_str().unwrap().to_owned();
    let media_dir = dir.path().join("media/live").join(id).join(&session_id);
    let thumbs_dir = dir.path().join("media/thumbs").join(&session_id);
    let vod_dir = dir.path().join("media/vod").join(&session_id);
    assert!(media_dir.is_dir(), "the session's media are stored");
    assert_eq!(reqwest::get(&catchup_url).await.unwrap().status(), 200);

    until(Duration::from_secs(40), "the media expire", || async {
        api.history(&token, id)
            .await
            .iter()
            .any(|event| event["type"] == "session.media_expired")
    })
    .await;
    let session = api.first_session(&token, id).await;
    assert!(session["catchup_url"].is_null(), "{session}");
    assert!(
        !media_dir.exists(),
        "segments, parts and source pieces are deleted"
    );
    assert!(
        !thumbs_dir.exists(),
        "thumbnails and sprite sheets are deleted"
    );
    assert!(!vod_dir.exists(), "the stored playlists are deleted");
    until(
        Duration::from_secs(5),
        "playback forgets the session",
        || async { reqwest::get(&catchup_url).await.unwrap().status() == 404 },
    )
    .await;
}
