//! Memory against history: a channel with a 2 h DVR window keeps one process's memory bounded
//! by that window, not by the sessions it has had. One standalone release process, one channel
//! (`dvr_window_seconds: 7200`, passthrough, thumbnails on); the publisher sends a small
//! 320x180 H.264/AAC stream faster than real time (`-readrate`), which the window, measured in
//! media seconds, cannot tell from real time:
//!
//! 1. a 2 h session: RSS when it ends holds a full window (the baseline);
//! 2. ten 12-minute sessions, each ended before the next (2 h of history);
//! 3. another 2 h session: RSS when it ends, to set against the baseline;
//! 4. a restart: RSS once playback has read the log back.
//!
//! Run: `cargo run --release -p sigma-bench --bin history` after `cargo build --release --bins`
//! (about 20 minutes). Writes its section of docs/BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sigma_bench::report::write_section;
use sigma_tests::api::Api;
use sigma_tests::metrics::read;
use sigma_tests::process::{rss_kib, Sigma, SigmaConfig};
use sigma_tests::wait::until;

/// How many times faster than real time the publisher sends.
const SPEED: u32 = 40;
const WINDOW_SECONDS: u32 = 7_200;
const ENDED_SESSIONS: usize = 10;
const SHORT_SESSION_SECONDS: u32 = 720;

/// A minute of 320x180, 15 fps test pattern (1 s GOPs) and tone, encoded once and looped.
fn source(dir: &Path) -> PathBuf {
    let file = dir.join("source.flv");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args(["-t", "60", "-c:v", "libx264", "-preset", "veryfast"])
        .args([
            "-b:v", "200k", "-g", "15", "-bf", "0", "-c:a", "aac", "-b:a", "32k",
        ])
        .arg(&file)
        .status()
        .expect("ffmpeg is installed");
    assert!(status.success(), "the source file was not made");
    file
}

/// Sends `seconds` of the looped source, `SPEED` times faster than real time, and waits for the
/// publisher to finish.
async fn publish(file: &Path, rtmp_url: &str, seconds: u32) {
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-stream_loop", "-1"])
        .args(["-readrate", &SPEED.to_string(), "-i"])
        .arg(file)
        .args([
            "-t",
            &seconds.to_string(),
            "-c",
            "copy",
            "-f",
            "flv",
            rtmp_url,
        ])
        .kill_on_drop(true)
        .status()
        .await
        .expect("ffmpeg is installed");
    assert!(status.success(), "the publisher failed");
}

/// The newest session's status.
async fn status(api: &Api, token: &str, channel: &str) -> Value {
    api.first_session(token, channel).await["status"].clone()
}

async fn ended(api: &Api, token: &str, channel: &str) {
    until(Duration::from_secs(120), "the session ends", || async {
        status(api, token, channel).await == "ended"
    })
    .await;
}

/// Waits until playback holds no session: every ended one is let go.
async fn all_let_go(sigma: &Sigma) {
    until(
        Duration::from_secs(120),
        "playback lets the ended sessions go",
        || async {
            read(&sigma.metrics_url, "sigma_playback_catchup_sessions ").await == Some(0.0)
        },
    )
    .await;
}

/// One measurement: the process's resident memory and the sessions playback holds.
struct Reading {
    what: String,
    rss_mib: f64,
    held: f64,
}

async fn reading(sigma: &Sigma, what: &str) -> Reading {
    let reading = Reading {
        what: what.to_owned(),
        rss_mib: rss_kib(sigma.pid()) as f64 / 1024.0,
        held: read(&sigma.metrics_url, "sigma_playback_catchup_sessions ")
            .await
            .unwrap_or(f64::NAN),
    };
    println!(
        "{}: RSS {:.1} MiB, {} sessions held by playback",
        reading.what, reading.rss_mib, reading.held
    );
    reading
}

/// Publishes one long session and reads the process while it is still open (the publisher
/// has just left; the reconnect window keeps the session and its whole DVR window).
async fn long_session(sigma: &Sigma, file: &Path, rtmp_url: &str, what: &str) -> Reading {
    publish(file, rtmp_url, WINDOW_SECONDS).await;
    reading(sigma, what).await
}

/// Media bytes and stored playlists under the data dir's `media/`.
fn stored_bytes(dir: &Path) -> u64 {
    fn walk(path: &Path) -> u64 {
        std::fs::read_dir(path).map_or(0, |entries| {
            entries
                .flatten()
                .map(|entry| match entry.file_type() {
                    Ok(kind) if kind.is_dir() => walk(&entry.path()),
                    _ => entry.metadata().map_or(0, |meta| meta.len()),
                })
                .sum()
        })
    }
    walk(&dir.join("media"))
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let file = source(dir.path());
    let mut config = SigmaConfig::standalone(dir.path()).with("RUST_LOG", "warn");
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let settings = json!({
        "name": "history",
        "dvr_window_seconds": WINDOW_SECONDS,
        "reconnect_window_seconds": 5,
    });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let (id, rtmp_url) = (
        channel["id"].as_str().unwrap().to_owned(),
        channel["rtmp_url"].as_str().unwrap().to_owned(),
    );
    let started = Instant::now();
    let mut readings = vec![reading(&sigma, "started, no session yet").await];

    readings.push(long_session(&sigma, &file, &rtmp_url, "first 2 h session, at its end").await);
    ended(&api, &token, &id).await;
    for _ in 0..ENDED_SESSIONS {
        publish(&file, &rtmp_url, SHORT_SESSION_SECONDS).await;
        ended(&api, &token, &id).await;
    }
    readings.push(reading(&sigma, "after ten more 12-minute sessions, all ended").await);
    readings.push(
        long_session(
            &sigma,
            &file,
            &rtmp_url,
            "second 2 h session (11 ended before it), at its end",
        )
        .await,
    );
    ended(&api, &token, &id).await;
    all_let_go(&sigma).await;
    readings.push(reading(&sigma, "every session ended and let go").await);
    let elapsed = started.elapsed();
    sigma.kill().await;

    let restarted_at = Instant::now();
    let sigma = config.start().await;
    let restart_seconds = restarted_at.elapsed().as_secs_f64();
    all_let_go(&sigma).await;
    readings.push(reading(&sigma, "restarted, the log read back").await);
    let stored = stored_bytes(dir.path()) as f64 / (1024.0 * 1024.0);

    let baseline = readings[1].rss_mib;
    let table: Vec<String> = readings
        .iter()
        .map(|reading| {
            format!(
                "| {} | {:.1} | {:+.1} | {} |",
                reading.what,
                reading.rss_mib,
                reading.rss_mib - baseline,
                reading.held
            )
        })
        .collect();
    let body = format!(
        "## Memory against history (2 h DVR window, ten ended sessions)\n\n\
         `cargo run --release -p sigma-bench --bin history` (after `cargo build --release \
         --bins`), {date}. One standalone release process (embedded log, SQLite, media on local \
         disk), one passthrough channel with a {window} s DVR window and thumbnails; a \
         320x180 15 fps H.264 + AAC stream (about 240 kbit/s, 1 s GOPs) is sent {speed}x faster \
         than real time (`-readrate`; the window counts media seconds). A 2 h session, ten \
         12-minute sessions, another 2 h session: {hours:.0} h of media in {minutes:.1} min, \
         {stored:.0} MiB stored. Playback holds a session's timeline while it runs and lets it \
         go once the recorder has stored its final playlists (`vod/{{session}}/`); a restarted \
         process reads the log from a little before the earliest running session. Target: \
         memory bounded by the window, not the history — the second 2 h session ends with \
         RSS near the first's, though eleven sessions ended before it. The restart took \
         {restart_seconds:.1} s to answer.\n\n\
         | when | RSS (MiB) | against the first 2 h session (MiB) | sessions playback holds |\n\
         |---|---|---|---|\n{}",
        table.join("\n"),
        date = chrono::Utc::now().format("%Y-%m-%d"),
        window = WINDOW_SECONDS,
        speed = SPEED,
        hours =
            f64::from(2 * WINDOW_SECONDS + ENDED_SESSIONS as u32 * SHORT_SESSION_SECONDS) / 3600.0,
        minutes = elapsed.as_secs_f64() / 60.0,
    );
    write_section("history", &body).expect("writing docs/BENCHMARKS.md");
    println!("{body}");
    sigma.kill().await;
}
