//! Source recordings: a session with a reconnect becomes one MP4 that ffmpeg decodes whole, as
//! long as the session's media; a process killed mid-session leaves pieces that still make a
//! recording up to the last stored one.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::probe;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::wait::until;

const FPS: usize = 30;

/// Downloads the session's recording into `dir`.
async fn download(url: &str, dir: &Path) -> std::path::PathBuf {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.headers()["content-type"], "video/mp4");
    let file = dir.join("recording.mp4");
    std::fs::write(&file, response.bytes().await.unwrap()).unwrap();
    file
}

/// Byte ranges of the recording are the same bytes as the whole, as a seeking player needs.
async fn seeks_by_range(url: &str, whole: &[u8]) {
    let client = reqwest::Client::new();
    let size = whole.len();
    let get = |range: String| client.get(url).header("range", range).send();
    for (range, bytes) in [
        ("bytes=0-99".to_owned(), 0..100),
        (format!("bytes={}-", size - 10), size - 10..size),
        ("bytes=-1000".to_owned(), size - 1000..size),
        (format!("bytes=100-{}", size + 50), 100..size),
    ] {
        let answer = get(range.clone()).await.unwrap();
        assert_eq!(answer.status(), 206, "{range}");
        assert_eq!(
            answer.headers()["content-range"],
            format!("bytes {}-{}/{size}", bytes.start, bytes.end - 1).as_str(),
            "{range}"
        );
        assert_eq!(answer.bytes().await.unwrap(), &whole[bytes], "{range}");
    }
    let past = get(format!("bytes={size}-")).await.unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );
    let plain = client.get(url).send().await.unwrap();
    assert_eq!(plain.headers()["accept-ranges"], "bytes");
}

#[tokio::test]
async fn a_session_with_a_reconnect_is_one_recording_that_decodes_whole() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let settings =
        json!({ "name": "studio", "record_source": true, "reconnect_window_seconds": 3 });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let id = channel["id"].as_str().unwrap();
    api.broadcast(&token, &channel, &[4, 3]).await;
    until(
        Duration::from_secs(30),
        "the recording is ready",
        || async { api.first_session(&token, id).await["recording_url"].is_string() },
    )
    .await;
    let ended = api.first_session(&token, id).await;
    assert_eq!(ended["status"], "ended");
    assert_eq!(
        ended["restream_count"], 1,
        "one session across the reconnect"
    );
    let file = download(ended["recording_url"].as_str().unwrap(), dir.path()).await;
    seeks_by_range(
        ended["recording_url"].as_str().unwrap(),
        &std::fs::read(&file).unwrap(),
    )
    .await;
    assert_eq!(
        probe::decode_errors(&file),
        "",
        "the recording decodes cleanly"
    );
    assert_eq!(probe::video_frames(&file), 7 * FPS, "every published frame");
    let seconds = probe::duration(&file);
    assert!(
        (seconds - 7.0).abs() <= 1.0,
        "7 s published, {seconds} s recorded"
    );
    assert!((ended["recording_seconds"].as_f64().unwrap() - seconds).abs() < 0.01);

    let events = api
        .get(&format!("/v1/channels/{id}/events"), &token)
        .await
        .ok();
    let types: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.last(), Some(&"recording.ready"), "{types:?}");
}

#[tokio::test]
async fn a_process_killed_mid_session_leaves_a_recording_up_to_its_last_piece() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SigmaConfig::standalone(dir.path());
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let settings = json!({ "name": "studio", "record_source": true, "latency_mode": "low" });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let options = Publish {
        real_time: true,
        ..Publish::default()
    };
    let mut publishing = publisher(channel["rtmp_url"].as_str().unwrap(), 30, options)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let playlist = format!("{}/live/{id}/source.m3u8", sigma.url);
    until(
        Duration::from_secs(30),
        "five segments are stored",
        || async {
            let text = reqwest::get(&playlist).await.unwrap().text().await.unwrap();
            text.matches("#EXTINF").count() >= 5
        },
    )
    .await;
    sigma.kill().await;
    let _ = publishing.kill().await;

    // Back up, the owner ends the session; the pieces stored before the crash are recorded.
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    api.post(&format!("/v1/channels/{id}/stop"), &token, json!({}))
        .await
        .ok();
    until(
        Duration::from_secs(30),
        "the recording is ready",
        || async { api.first_session(&token, &id).await["recording_url"].is_string() },
    )
    .await;
    let recording = api.first_session(&token, &id).await;
    assert_eq!(recording["end_reason"], "stopped_by_owner");
    let file = download(recording["recording_url"].as_str().unwrap(), dir.path()).await;
    assert_eq!(
        probe::decode_errors(&file),
        "",
        "the recording decodes cleanly"
    );
    let frames = probe::video_frames(&file);
    assert!(
        frames >= 5 * FPS,
        "at least the five stored seconds: {frames} frames"
    );
}
