//! Thumbnails and storyboards from a real stream: one JPEG of the configured size per interval,
//! `latest.jpg`, and a WebVTT storyboard whose cues cover the session end to end without gaps
//! and point inside its sprite sheets. A passthrough channel without thumbnails runs no ffmpeg.

use std::time::Duration;

use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::probe;
use sigma_tests::process::{children, SigmaConfig};
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::wait::until;

const INTERVAL: f64 = 2.0;
const SECONDS: u32 = 11;

async fn session(api: &Api, token: &str, channel: &str) -> Option<Value> {
    let sessions = api
        .get(&format!("/v1/channels/{channel}/sessions"), token)
        .await
        .ok();
    sessions["data"].as_array()?.first().cloned()
}

async fn fetch(url: &str) -> (u16, Vec<u8>) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// `(start, end, sprite file, x, y, w, h)` of each cue.
fn cues(vtt: &str) -> Vec<(f64, f64, String, u32, u32, u32, u32)> {
    let seconds = |text: &str| -> f64 {
        let parts: Vec<f64> = text.split(':').map(|p| p.parse().unwrap()).collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
    };
    let mut lines = vtt.lines();
    assert_eq!(lines.next(), Some("WEBVTT"));
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        let Some((start, end)) = line.split_once(" --> ") else {
            continue;
        };
        let target = lines.next().unwrap();
        let (file, xywh) = target.split_once("#xywh=").unwrap();
        let n: Vec<u32> = xywh.split(',').map(|v| v.parse().unwrap()).collect();
        out.push((
            seconds(start),
            seconds(end),
            file.to_owned(),
            n[0],
            n[1],
            n[2],
            n[3],
        ));
    }
    out
}

#[tokio::test]
async fn a_session_gets_a_thumbnail_per_interval_and_a_storyboard_covering_it() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path())
        .with("SIGMA_THUMBNAIL_WIDTH", "160")
        .start()
        .await;
    let api = Api::new(&sigma.url);
    let settings = json!({ "name": "cam", "thumbnail_interval_seconds": INTERVAL as u32 });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let id = channel["id"].as_str().unwrap();
    let options = Publish {
        real_time: true,
        ..Publish::default()
    };
    let status = publisher(channel["rtmp_url"].as_str().unwrap(), SECONDS, options)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    until(
        Duration::from_secs(20),
        "the publisher is seen gone",
        || async {
            session(&api, &token, id)
                .await
                .is_some_and(|s| s["publisher_connected"] == false)
        },
    )
    .await;
    let session = session(&api, &token, id).await.unwrap();
    let storyboard_url = session["storyboard_url"].as_str().unwrap();
    // The last pictures are stored when the thumbnailer drains after the publisher left.
    let expected = (f64::from(SECONDS) / INTERVAL).ceil() as usize;
    until(
        Duration::from_secs(10),
        "every thumbnail is announced",
        || async {
            let (status, body) = fetch(storyboard_url).await;
            status == 200 && cues(&String::from_utf8(body).unwrap()).len() >= expected - 1
        },
    )
    .await;

    let vtt = String::from_utf8(fetch(storyboard_url).await.1).unwrap();
    let cues = cues(&vtt);
    assert!(
        (expected - 1..=expected + 1).contains(&cues.len()),
        "{} thumbnails for {SECONDS} s at one per {INTERVAL} s:\n{vtt}",
        cues.len()
    );
    // End to end, without gaps: from 0 to the end of the source playlist.
    let playlist = reqwest::get(format!("{}/live/{id}/source.m3u8", sigma.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let total: f64 = playlist
        .lines()
        .filter_map(|line| line.strip_prefix("#EXTINF:"))
        .map(|d| d.trim_end_matches(',').parse::<f64>().unwrap())
        .sum();
    assert_eq!(cues[0].0, 0.0, "{vtt}");
    for pair in cues.windows(2) {
        assert!(
            (pair[0].1 - pair[1].0).abs() < 0.0005,
            "a gap or overlap:\n{vtt}"
        );
        assert!(pair[0].0 < pair[0].1);
        let step = pair[1].0 - pair[0].0;
        assert!(
            (INTERVAL - 0.1..=INTERVAL + 1.1).contains(&step),
            "{step} s apart:\n{vtt}"
        );
    }
    let last = cues.last().unwrap();
    assert!(
        (last.1 - total).abs() < 0.05,
        "the last cue ends at {} of {total}",
        last.1
    );

    // Every cue points inside a sprite sheet that decodes; every numbered thumbnail is a JPEG
    // of the configured size; `latest.jpg` is the newest.
    let base = storyboard_url.trim_end_matches("storyboard.vtt");
    for (n, (_, _, file, x, y, w, h)) in cues.iter().enumerate() {
        let (status, sheet) = fetch(&format!("{base}{file}")).await;
        assert_eq!(status, 200, "{file}");
        let path = dir.path().join(file);
        std::fs::write(&path, &sheet).unwrap();
        let (sheet_w, sheet_h) = dimensions(&probe::video(&path, "stream=width,height"));
        assert!(
            x + w <= sheet_w && y + h <= sheet_h,
            "{file}#{x},{y},{w},{h} in {sheet_w}x{sheet_h}"
        );
        assert_eq!((*w, *h), (160, 90));
        let (status, picture) = fetch(&format!("{base}{n:06}.jpg")).await;
        assert_eq!(status, 200);
        let path = dir.path().join(format!("{n}.jpg"));
        std::fs::write(&path, &picture).unwrap();
        assert_eq!(
            probe::video(&path, "stream=codec_name,width,height"),
            "mjpeg,160,90"
        );
    }
    let newest = fetch(&format!("{base}{:06}.jpg", cues.len() - 1)).await.1;
    assert_eq!(
        fetch(session["thumbnail_url"].as_str().unwrap()).await,
        (200, newest)
    );
    assert_eq!(fetch(&format!("{base}..%2F..%2Fsigma.db")).await.0, 404);
}

fn dimensions(csv: &str) -> (u32, u32) {
    let (w, h) = csv.split_once(',').unwrap();
    (w.parse().unwrap(), h.parse().unwrap())
}

#[tokio::test]
async fn a_passthrough_channel_without_thumbnails_runs_no_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path()).start().await;
    let api = Api::new(&sigma.url);
    let settings = json!({ "name": "plain", "thumbnail_interval_seconds": 0 });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let id = channel["id"].as_str().unwrap();
    let options = Publish {
        real_time: true,
        ..Publish::default()
    };
    let mut publishing = publisher(channel["rtmp_url"].as_str().unwrap(), 6, options)
        .spawn()
        .unwrap();
    until(Duration::from_secs(20), "the session is live", || async {
        session(&api, &token, id)
            .await
            .is_some_and(|s| s["status"] == "live")
    })
    .await;
    let spawned: Vec<String> = children(sigma.pid())
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    assert!(!spawned.iter().any(|name| name == "ffmpeg"), "{spawned:?}");
    assert!(publishing.wait().await.unwrap().success());
}
