//! Large recordings are streamed, not loaded: fifty viewers downloading a 1 GiB recording at
//! once leave the process's memory near where it was, and the largest byte range a client can
//! write is answered as RFC 9110 says (206, the whole file) rather than overflowing.

use std::time::Duration;

use serde_json::json;
use sigma_tests::api::Api;
use sigma_tests::process::SigmaConfig;

const GIB: u64 = 1 << 30;
const DOWNLOADS: usize = 50;
/// How much of the recording each download reads before it stops reading (and holds on).
const READ_EACH: usize = 16 << 20;
/// How far above its resting RSS the process may go while serving them all.
const RSS_BOUND_KIB: u64 = 256 * 1024;

#[tokio::test]
async fn fifty_downloads_of_a_1_gib_recording_stream_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path()).start().await;
    // A session (playback serves recordings of sessions it knows), and a recording of 1 GiB
    // for it (sparse: it costs no disk) where recordings are kept.
    let api = Api::new(&sigma.url);
    let (token, channel) = api
        .broadcaster_channel(&sigma.admin_key, json!({ "name": "archive" }))
        .await;
    api.broadcast(&token, &channel, &[1]).await;
    let session = api
        .first_session(&token, channel["id"].as_str().unwrap())
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let recordings = dir.path().join("media/recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    let file = std::fs::File::create(recordings.join(format!("{session}.mp4"))).unwrap();
    file.set_len(GIB).unwrap();
    let url = format!("{}/recordings/{session}.mp4", sigma.url);

    let client = reqwest::Client::new();
    let largest = client
        .get(&url)
        .header("range", "bytes=0-18446744073709551615")
        .send()
        .await
        .unwrap();
    assert_eq!(largest.status(), 206);
    assert_eq!(
        largest.headers()["content-range"],
        format!("bytes 0-{}/{GIB}", GIB - 1).as_str()
    );
    assert_eq!(largest.content_length(), Some(GIB));
    drop(largest);

    let pid = sigma.pid();
    let resting = sigma_tests::process::rss_kib(pid);
    let mut downloads = Vec::new();
    for _ in 0..DOWNLOADS {
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.content_length(), Some(GIB));
        let mut body = response;
        let mut read = 0;
        while read < READ_EACH {
            read += body.chunk().await.unwrap().expect("more of the body").len();
        }
        downloads.push((body, read as u64));
    }
    // Every download is open and has stopped reading: the server holds what it has queued.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let serving = sigma_tests::process::rss_kib(pid);
    eprintln!("RSS: {resting} KiB resting, {serving} KiB with {DOWNLOADS} downloads open");
    assert!(
        serving < resting + RSS_BOUND_KIB,
        "{DOWNLOADS} downloads took {} MiB",
        (serving - resting) / 1024
    );
    // Each goes on to the end when read.
    let (mut first, mut total) = downloads.swap_remove(0);
    while let Some(chunk) = first.chunk().await.unwrap() {
        total += chunk.len() as u64;
    }
    assert_eq!(total, GIB, "a download ended early");
}
