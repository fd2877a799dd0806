//! Live DVR: the live playlists carry the channel's `dvr_window_seconds` of segments, and a
//! player reading from 60 s behind the live edge of a 10-minute window — while the stream goes
//! on in real time — sees every frame, in order, with no decode errors.

use std::time::Duration;

use serde_json::json;
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::hls::validate_media;
use sigma_tests::probe;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::wait::until;

const FPS: usize = 30;

/// A `low` channel with `window` seconds of DVR that received `seconds` of media (pushed faster
/// than real time); returns its source playlist URL once the publisher is gone.
async fn published(sigma: &Deployment, window: u32, seconds: u32) -> String {
    let api = Api::new(&sigma.url);
    let settings = json!({ "name": "dvr", "latency_mode": "low", "dvr_window_seconds": window });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let id = channel["id"].as_str().unwrap();
    let status = publisher(
        channel["rtmp_url"].as_str().unwrap(),
        seconds,
        Publish::default(),
    )
    .status()
    .await
    .unwrap();
    assert!(status.success());
    until(
        Duration::from_secs(30),
        "the publisher is seen gone",
        || async {
            let sessions = api
                .get(&format!("/v1/channels/{id}/sessions"), &token)
                .await
                .ok();
            sessions["data"][0]["publisher_connected"] == false
        },
    )
    .await;
    format!("{}/live/{id}/source.m3u8", sigma.url)
}

#[tokio::test]
async fn a_player_sixty_seconds_behind_a_moving_live_edge_sees_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let settings = json!({ "name": "dvr", "latency_mode": "low", "dvr_window_seconds": 600 });
    let (_, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let url = format!(
        "{}/live/{}/source.m3u8",
        sigma.url,
        channel["id"].as_str().unwrap()
    );
    // A camera: paced in real time, still live while the player reads.
    let options = Publish {
        real_time: true,
        ..Publish::default()
    };
    let mut camera = publisher(channel["rtmp_url"].as_str().unwrap(), 110, options)
        .spawn()
        .unwrap();
    let segments = || async {
        let playlist = reqwest::get(&url).await.unwrap().text().await.unwrap();
        validate_media(&playlist, false).map_or(0, |summary| summary.segments)
    };
    until(
        Duration::from_secs(120),
        "65 s of the stream are live",
        || async { segments().await >= 65 },
    )
    .await;
    // Start 60 segments (60 s) behind the live edge and read 75 s: the first minute from the
    // window, the rest as the edge moves on.
    let frames = probe::play_frames(&["-live_start_index", "-60", "-i", &url], &["-t", "75"]).await;
    // `-t` cuts at a presentation time: a couple of B-frames either side of it may fall out.
    assert!(
        frames.len().abs_diff(75 * FPS) <= 3,
        "every frame of 75 s: {}",
        frames.len()
    );
    let steps: std::collections::BTreeSet<i64> = frames.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        steps.len(),
        1,
        "continuous timestamps, no gap or jump: {steps:?}"
    );
    assert!(
        camera.try_wait().unwrap().is_none(),
        "the stream was still live when the player caught up"
    );
    camera.kill().await.unwrap();
}

#[tokio::test]
async fn the_live_playlist_keeps_only_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let url = published(&sigma, 20, 45).await;
    let playlist = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let summary = validate_media(&playlist, false).unwrap_or_else(|e| panic!("{e:?}\n{playlist}"));
    assert_eq!(summary.segments, 20, "{playlist}");
    assert_eq!(
        summary.media_sequence, 25,
        "the sequence moved past the dropped segments"
    );
}
