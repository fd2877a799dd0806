//! Backup input on one process: a second encoder publishing with `?backup=1` stands by while
//! the primary streams; when the primary stalls (SIGSTOP: the connection stays open, media stop)
//! the backup takes the air within the stall threshold, and the primary takes it back once its
//! media have flowed again for the recovery hold (SIGCONT) — one session throughout, each
//! switch a discontinuity, and the catch-up plays across both on one timeline.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::hls::{until_final, until_listed};
use sigma_tests::probe;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::wait::{until, until_some};

const CAMERA: Publish = Publish {
    real_time: true,
    zero_latency: false,
    stamped: false,
};
const FPS: usize = 30;
/// `no_media` holds 3 s after the last frame (the worker wakes at that moment).
const STALL_THRESHOLD: Duration = Duration::from_secs(3);
/// The encoders' keyframe interval (`-g 30` at 30 fps): the backup goes on air at its next one.
const KEYFRAME_INTERVAL: Duration = Duration::from_secs(1);
/// How long a stalled input's media must flow again before it counts as recovered (no flapping
/// back on air on the first burst).
const RECOVERY_HOLD: Duration = Duration::from_secs(5);
/// The channel's segment target (`low`).
const SEGMENT: Duration = Duration::from_secs(1);
/// The hops of a switch: the stall reported and decided through the log, the decision reaching
/// the backup's worker, its segment's event reaching the playback nodes, the test's polls.
const HANDOVER: Duration = Duration::from_secs(1);

async fn text(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

fn signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("the encoder runs").to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Segments listed after the `n`th discontinuity of a media playlist.
fn segments_after_discontinuity(playlist: &str, n: usize) -> usize {
    playlist
        .split("#EXT-X-DISCONTINUITY\n")
        .nth(n)
        .map_or(0, |after| {
            after.lines().filter(|line| line.ends_with(".m4s")).count()
        })
}

/// Where presentation times jump by more than two frames (index, gap in the stream's time
/// base): what a failure shows next to the listed durations.
fn jumps(frames: &[i64]) -> Vec<(usize, i64)> {
    let mut deltas: Vec<i64> = frames.windows(2).map(|pair| pair[1] - pair[0]).collect();
    deltas.sort_unstable();
    let typical = deltas.get(deltas.len() / 2).copied().unwrap_or(0);
    frames
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| pair[1] - pair[0] > 2 * typical)
        .map(|(index, pair)| (index, pair[1] - pair[0]))
        .collect()
}

async fn refusal(url: &str) -> String {
    sigma_tests::publish::refusal(url, CAMERA).await
}

#[tokio::test]
async fn a_stalled_primary_hands_the_air_to_the_backup_and_takes_it_back_when_it_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let settings = json!({ "name": "dual", "latency_mode": "low", "reconnect_window_seconds": 60 });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let primary_url = channel["rtmp_url"].as_str().unwrap().to_owned();
    let backup_url = format!("{primary_url}?backup=1");
    let session = || async { api.first_session(&token, &id).await };

    assert!(
        refusal(&backup_url)
            .await
            .contains("no broadcast to back up"),
        "a backup with no broadcast to back up is refused"
    );
    let mut primary = publisher(&primary_url, 120, CAMERA).spawn().unwrap();
    let live = format!("{}/live/{id}/source.m3u8", sigma.url);
    until_listed(&live, 2, Duration::from_secs(30)).await;
    let mut backup = publisher(&backup_url, 120, CAMERA).spawn().unwrap();
    until(Duration::from_secs(20), "the backup stands by", || async {
        session().await["backup_connected"] == true
    })
    .await;
    assert!(
        refusal(&backup_url)
            .await
            .contains("already has a backup publisher"),
        "one backup at a time"
    );
    until_listed(&live, 5, Duration::from_secs(30)).await;
    assert!(
        !text(&live).await.contains("#EXT-X-DISCONTINUITY"),
        "a backup on standby changes nothing for players"
    );

    signal(&primary, "STOP");
    let stalled_at = Instant::now();
    until(
        Duration::from_secs(20),
        "the backup takes the air",
        || async { session().await["on_air_input"] == "backup" },
    )
    .await;
    let switched = stalled_at.elapsed();
    until(
        Duration::from_secs(20),
        "the backup's media are listed",
        || async { segments_after_discontinuity(&text(&live).await, 1) >= 1 },
    )
    .await;
    let resumed = stalled_at.elapsed();
    println!(
        "primary stalled: failover decided after {:.1} s, the backup's first segment listed after {:.1} s",
        switched.as_secs_f64(),
        resumed.as_secs_f64()
    );
    assert!(
        resumed <= STALL_THRESHOLD + KEYFRAME_INTERVAL + SEGMENT + HANDOVER,
        "playback continues within the threshold, a keyframe, a segment and the handover: {resumed:?}"
    );

    signal(&primary, "CONT");
    let switched_back = until(
        Duration::from_secs(30),
        "the recovered primary takes the air back",
        || async {
            let now = session().await;
            now["on_air_input"] == "primary" && now["failover_count"] == 2
        },
    )
    .await;
    println!(
        "primary resumed: back on air after {:.1} s",
        switched_back.as_secs_f64()
    );
    assert!(
        switched_back >= RECOVERY_HOLD,
        "the primary's media flow for the hold before it takes the air back: {switched_back:?}"
    );
    until(
        Duration::from_secs(20),
        "the primary's media are listed again",
        || async { segments_after_discontinuity(&text(&live).await, 2) >= 2 },
    )
    .await;

    let types: Vec<String> = api
        .history(&token, &id)
        .await
        .iter()
        .map(|event| event["type"].as_str().unwrap().to_owned())
        .collect();
    let count = |name: &str| types.iter().filter(|t| *t == name).count();
    assert_eq!(count("session.init"), 1, "one session: {types:?}");
    assert_eq!(count("session.backup_connected"), 1, "{types:?}");
    assert_eq!(count("session.failover"), 2, "{types:?}");
    let failovers: Vec<Value> = api
        .history(&token, &id)
        .await
        .into_iter()
        .filter(|event| event["type"] == "session.failover")
        .collect();
    assert_eq!(failovers[0]["data"]["input"], "backup");
    assert_eq!(failovers[1]["data"]["input"], "primary");
    assert!(
        failovers[1]["data"]["resume_at_ms"].as_u64()
            > failovers[0]["data"]["resume_at_ms"].as_u64(),
        "the timeline goes on: {failovers:?}"
    );

    // The broadcast ends; its catch-up replays across both switches on one timeline.
    api.post(&format!("/v1/channels/{id}/stop"), &token, json!({}))
        .await
        .ok();
    let _ = tokio::join!(primary.wait(), backup.wait());
    let url = until_some(Duration::from_secs(30), "the session ends", || async {
        let ended = session().await;
        (ended["status"] == "ended").then(|| ended["catchup_url"].as_str().map(str::to_owned))?
    })
    .await;
    let vod = until_final(
        &url.replace("index.m3u8", "source.m3u8"),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(vod.matches("#EXT-X-DISCONTINUITY\n").count(), 2, "{vod}");
    let listed: f64 = vod
        .lines()
        .filter_map(|line| line.strip_prefix("#EXTINF:"))
        .map(|d| d.trim_end_matches(',').parse::<f64>().unwrap())
        .sum();
    let frames = probe::play_frames(&["-i", &url], &[]).await;
    assert!(
        frames.windows(2).all(|pair| pair[0] < pair[1]),
        "presentation times only go forward across the switches"
    );
    let expected = listed * FPS as f64;
    println!(
        "catch-up: {} frames decoded for {listed:.2} s listed ({expected:.0} frames)",
        frames.len()
    );
    // Each input takes over exactly where the other's stored media end; the hand-back from a
    // backup still streaming is decided from an estimate of where it got to, which half a
    // second covers (see docs/ARCHITECTURE.md, backup inputs).
    assert!(
        (frames.len() as f64 - expected).abs() <= (FPS / 2) as f64,
        "{} frames decoded for {listed:.2} s listed; where the frames jump: {:?}\n{vod}",
        frames.len(),
        jumps(&frames)
    );
}
