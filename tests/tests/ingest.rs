//! Live ingest in the standalone process, from the outside: ffmpeg publishes to a channel's
//! `rtmp_url`; the session goes init → preview → live → ended through the log; the stored
//! media decode frame for frame. Wrong keys, stopped channels and a second publisher are
//! refused and leave the channel untouched.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::Publish;
use sigma_tests::wait::until;

/// ffmpeg publishes `seconds` of test pattern and tone (in real time when `live`).
fn publisher(url: &str, seconds: u32, live: bool) -> tokio::process::Command {
    sigma_tests::publish::publisher(
        url,
        seconds,
        Publish {
            real_time: live,
            ..Publish::default()
        },
    )
}

async fn sessions(api: &Api, token: &str, channel: &str) -> Vec<Value> {
    api.get(&format!("/v1/channels/{channel}/sessions"), token)
        .await
        .ok()["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn history(api: &Api, token: &str, channel: &str) -> Vec<String> {
    api.history(token, channel)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// The stored init segment followed by every stored segment, in order.
fn stored_stream(media: &Path) -> Vec<u8> {
    let mut files: Vec<_> = walk(media);
    files.sort();
    let init = files
        .iter()
        .find(|f| f.ends_with("init.mp4"))
        .expect("an init segment")
        .clone();
    let mut segments: Vec<(u64, std::path::PathBuf)> = files
        .iter()
        .filter_map(|f| {
            let name = f.file_name()?.to_str()?;
            let number = name.strip_suffix(".m4s")?;
            (!number.contains('.'))
                .then(|| (number.parse().ok(), f.clone()))
                .and_then(|(n, f)| Some((n?, f)))
        })
        .collect();
    segments.sort();
    let mut stream = std::fs::read(init).unwrap();
    for (_, file) in segments {
        stream.extend(std::fs::read(file).unwrap());
    }
    stream
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn a_published_stream_becomes_a_session_that_goes_live_and_ends() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (_, token) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let channel = api
        .create_channel(
            &token,
            json!({ "name": "stage", "reconnect_window_seconds": 1 }),
        )
        .await;
    let id = channel["id"].as_str().unwrap();

    let status = publisher(channel["rtmp_url"].as_str().unwrap(), 3, false)
        .status()
        .await
        .unwrap();
    assert!(
        status.success(),
        "ffmpeg could not publish to {}",
        channel["rtmp_url"]
    );

    until(
        Duration::from_secs(30),
        "the session ends after the reconnect window",
        || async {
            sessions(&api, &token, id)
                .await
                .first()
                .is_some_and(|s| s["status"] == "ended")
        },
    )
    .await;
    let session = &sessions(&api, &token, id).await[0];
    assert_eq!(session["end_reason"], "publisher_gone", "{session}");
    assert!(
        session["live_at"].is_string(),
        "the session went live: {session}"
    );
    // Thumbnail and storyboard readiness interleave as the pictures come; the lifecycle is
    // strictly ordered.
    let lifecycle: Vec<String> = history(&api, &token, id)
        .await
        .into_iter()
        .filter(|event_type| event_type.starts_with("session."))
        .collect();
    assert_eq!(
        lifecycle,
        [
            "session.init",
            "session.preview",
            "session.live",
            "session.publisher_disconnected",
            "session.ended"
        ]
    );
    let channel_now = api.get(&format!("/v1/channels/{id}"), &token).await.ok();
    assert_eq!(channel_now["status"], "idle");

    // What was stored decodes frame for frame.
    let stream = stored_stream(&dir.path().join("media").join("live").join(id));
    let file = dir.path().join("stored.mp4");
    std::fs::write(&file, stream).unwrap();
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout)
            .trim()
            .trim_end_matches(','),
        "90"
    );
}

#[tokio::test]
async fn wrong_keys_stopped_channels_and_second_publishers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path()).start().await;
    let api = Api::new(&sigma.url);
    let (_, token) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let channel = api.create_channel(&token, json!({ "name": "stage" })).await;
    let id = channel["id"].as_str().unwrap();
    let rtmp_url = channel["rtmp_url"].as_str().unwrap().to_owned();
    let base = rtmp_url.rsplit_once('/').unwrap().0.to_owned();

    // A wrong key, and a key rotated away.
    assert!(
        !publisher(&format!("{base}/sk_not_a_key_000000000000"), 1, false)
            .status()
            .await
            .unwrap()
            .success()
    );
    api.post(&format!("/v1/channels/{id}/stream-key"), &token, json!({}))
        .await
        .ok();
    assert!(
        !publisher(&rtmp_url, 1, false)
            .status()
            .await
            .unwrap()
            .success(),
        "a rotated-away key was accepted"
    );
    let rotated = api.get(&format!("/v1/channels/{id}"), &token).await.ok();
    let rtmp_url = rotated["rtmp_url"].as_str().unwrap().to_owned();

    // A stopped channel.
    api.post(&format!("/v1/channels/{id}/stop"), &token, json!({}))
        .await
        .ok();
    assert!(
        !publisher(&rtmp_url, 1, false)
            .status()
            .await
            .unwrap()
            .success(),
        "a stopped channel took a publisher"
    );
    assert!(
        sessions(&api, &token, id).await.is_empty(),
        "a refused publisher opened a session"
    );
    api.post(&format!("/v1/channels/{id}/resume"), &token, json!({}))
        .await
        .ok();

    // A second publisher while the first is live.
    let mut first = publisher(&rtmp_url, 8, true).spawn().unwrap();
    until(
        Duration::from_secs(30),
        "the first publisher is live",
        || async {
            sessions(&api, &token, id)
                .await
                .first()
                .is_some_and(|s| s["status"] == "live")
        },
    )
    .await;
    assert!(
        !publisher(&rtmp_url, 1, false)
            .status()
            .await
            .unwrap()
            .success(),
        "a second publisher was accepted"
    );
    let live = &sessions(&api, &token, id).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["status"], "live", "the live session was disturbed");
    assert!(
        first.wait().await.unwrap().success(),
        "the first publisher was cut off"
    );

    // Garbage instead of an RTMP handshake; then every refusal shows in the metrics.
    let rtmp_addr = rtmp_url
        .trim_start_matches("rtmp://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut garbage = tokio::net::TcpStream::connect(&rtmp_addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut garbage, &[0x42; 4096])
        .await
        .unwrap();
    let metrics_url = format!("{}/metrics", sigma.metrics_url);
    let count = |text: &str, reason: &str| -> u64 {
        let prefix = format!("sigma_ingest_dropped_total{{reason=\"{reason}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    until(
        Duration::from_secs(10),
        "the garbage connection is counted",
        || async {
            count(
                &reqwest::get(&metrics_url)
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap(),
                "handshake",
            ) == 1
        },
    )
    .await;
    let metrics = reqwest::get(&metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(count(&metrics, "refused_unknown_key"), 2, "{metrics}");
    assert_eq!(count(&metrics, "refused_channel_stopped"), 1);
    assert_eq!(count(&metrics, "refused_already_publishing"), 1);
}

#[tokio::test]
async fn stopping_the_channel_disconnects_the_publisher_and_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (_, token) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let channel = api.create_channel(&token, json!({ "name": "stage" })).await;
    let id = channel["id"].as_str().unwrap();
    let mut publisher = publisher(channel["rtmp_url"].as_str().unwrap(), 60, true)
        .spawn()
        .unwrap();
    until(Duration::from_secs(30), "the session is live", || async {
        sessions(&api, &token, id)
            .await
            .first()
            .is_some_and(|s| s["status"] == "live")
    })
    .await;

    api.post(&format!("/v1/channels/{id}/stop"), &token, json!({}))
        .await
        .ok();
    let exited = tokio::time::timeout(Duration::from_secs(10), publisher.wait()).await;
    assert!(
        exited.is_ok(),
        "the publisher was not disconnected within 10 s of the stop"
    );
    let session = &sessions(&api, &token, id).await[0];
    assert_eq!(session["status"], "ended");
    assert_eq!(session["end_reason"], "stopped_by_owner");
    assert_eq!(
        api.get(&format!("/v1/channels/{id}"), &token).await.ok()["status"],
        "stopped"
    );
}

#[tokio::test]
async fn a_publisher_returning_within_the_window_continues_the_same_session() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (_, token) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let settings =
        json!({ "name": "stage", "latency_mode": "ultra_low", "reconnect_window_seconds": 60 });
    let channel = api.create_channel(&token, settings).await;
    let id = channel["id"].as_str().unwrap();
    let rtmp_url = channel["rtmp_url"].as_str().unwrap();

    assert!(publisher(rtmp_url, 3, false)
        .status()
        .await
        .unwrap()
        .success());
    until(
        Duration::from_secs(30),
        "the publisher is seen gone",
        || async {
            sessions(&api, &token, id)
                .await
                .first()
                .is_some_and(|s| s["publisher_connected"] == false)
        },
    )
    .await;
    assert!(publisher(rtmp_url, 3, false)
        .status()
        .await
        .unwrap()
        .success());
    until(
        Duration::from_secs(30),
        "the publisher is seen gone again",
        || async {
            sessions(&api, &token, id)
                .await
                .first()
                .is_some_and(|s| s["publisher_connected"] == false && s["restream_count"] == 1)
        },
    )
    .await;

    let all = sessions(&api, &token, id).await;
    assert_eq!(
        all.len(),
        1,
        "a reconnect within the window is the same session"
    );
    assert_eq!(all[0]["status"], "live");
    let events = history(&api, &token, id).await;
    assert_eq!(events.iter().filter(|e| *e == "session.init").count(), 1);
    assert_eq!(
        events.iter().filter(|e| *e == "session.restream").count(),
        1,
        "{events:?}"
    );
    let playlist = reqwest::get(format!("{}/live/{id}/source.m3u8", sigma.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        playlist.matches("#EXT-X-DISCONTINUITY\n").count(),
        1,
        "{playlist}"
    );
    assert_eq!(
        playlist.matches("#EXT-X-MAP:").count(),
        2,
        "one init segment per connection:\n{playlist}"
    );
}

#[tokio::test]
async fn the_maximum_duration_ends_the_session_and_disconnects_the_publisher() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (_, token) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    // 30 s is the shortest maximum a channel accepts.
    let channel = api
        .create_channel(
            &token,
            json!({ "name": "stage", "max_session_seconds": 30 }),
        )
        .await;
    let id = channel["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    let mut publisher = publisher(channel["rtmp_url"].as_str().unwrap(), 120, true)
        .spawn()
        .unwrap();
    let exited = tokio::time::timeout(Duration::from_secs(60), publisher.wait()).await;
    assert!(
        exited.is_ok(),
        "the publisher was not disconnected at the maximum duration"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(29) && elapsed < Duration::from_secs(45),
        "disconnected after {elapsed:?}"
    );
    let session = &sessions(&api, &token, id).await[0];
    assert_eq!(session["status"], "ended");
    assert_eq!(session["end_reason"], "max_duration");
}
