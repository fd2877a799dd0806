//! Failover times on the scaled-out topology (`sigma_tests::topology`: tansu, PostgreSQL, an S3
//! server, two control planes, two workers, two playback nodes, a round-robin front), each
//! measured on a fresh topology, three times:
//!
//! - *worker death → playback resumes*: a real-time publisher streams through worker 0; the
//!   worker is SIGKILLed; the encoder reconnects to worker 1 (retrying each second until it is
//!   let in, as OBS does); measured until the live playlist seen through the front lists a
//!   segment of the new connection.
//! - *control-plane takeover*: one of two control planes is SIGKILLed; measured until the
//!   survivor's `sigma_decider_partitions` counts every partition.
//! - *backup input takes the air*: a primary encoder streams through worker 0 and a backup
//!   (`?backup=1`) stands by on worker 1; the primary is SIGKILLed (its connection closes) or
//!   SIGSTOPped (its connection stays open, silent); measured until the live playlist seen
//!   through the front lists a segment after the discontinuity.
//!
//! Run: `cargo run --release -p sigma-bench --bin failover` after `cargo build --release --bins`.
//! Writes its section of docs/BENCHMARKS.md.

use std::time::{Duration, Instant};

use serde_json::json;
use sigma_bench::report::write_section;
use sigma_tests::api::Api;
use sigma_tests::hls::until_listed;
use sigma_tests::metrics::read;
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::topology::{Topology, NODE_TIMEOUT};
use sigma_tests::wait::{until, until_some};

const RUNS: usize = 3;
const PARTITIONS: f64 = 8.0;

/// Segments of the playlist, and how many connections (init sections) it spans.
async fn listed(url: &str) -> (usize, usize) {
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    (
        text.matches("#EXTINF").count(),
        text.matches("#EXT-X-MAP:").count(),
    )
}

/// A real-time camera: 320x180, 30 fps, 1 s GOPs.
const CAMERA: Publish = Publish {
    real_time: true,
    zero_latency: false,
    stamped: false,
};

/// A broadcaster on the topology with a `low` channel (1 s segments) and a minute's reconnect
/// window: its API client, token, channel id and stream key.
async fn broadcaster(topology: &Topology) -> (Api, String, String, String) {
    let api = topology.api(0);
    let (_, token) = api.account_with_token(topology.admin_key(), "bench").await;
    let settings =
        json!({ "name": "bench", "latency_mode": "low", "reconnect_window_seconds": 60 });
    let channel = api.create_channel(&token, settings).await;
    let (id, key) = (
        channel["id"].as_str().unwrap().to_owned(),
        channel["stream_key"].as_str().unwrap().to_owned(),
    );
    (api, token, id, key)
}

async fn worker_death() -> Duration {
    let mut topology = Topology::start().await;
    let (_, _, id, key) = broadcaster(&topology).await;
    let mut first = publisher(&topology.worker_rtmp(0, &key), 120, CAMERA)
        .spawn()
        .unwrap();
    let live = format!("{}/live/{id}/source.m3u8", topology.front.url);
    until_listed(&live, 4, Duration::from_secs(30)).await;
    let killed_at = Instant::now();
    topology.kill_worker(0).await;
    let _ = first.wait().await;
    let second_url = topology.worker_rtmp(1, &key);
    let mut second = until_some(
        Duration::from_secs(60),
        "the other worker takes the publisher",
        || async {
            let mut camera = publisher(&second_url, 60, CAMERA).spawn().unwrap();
            match tokio::time::timeout(Duration::from_secs(1), camera.wait()).await {
                Err(_) => Some(camera),
                Ok(_) => None,
            }
        },
    )
    .await;
    until(
        Duration::from_secs(60),
        "the new connection's media are listed",
        || async {
            let (segments, connections) = listed(&live).await;
            connections >= 2 && segments > 0
        },
    )
    .await;
    let resumed = killed_at.elapsed();
    second.kill().await.ok();
    resumed
}

/// How the primary encoder fails.
#[derive(Clone, Copy)]
enum PrimaryFailure {
    Killed,
    Stalled,
}

async fn backup_takes_the_air(failure: PrimaryFailure) -> Duration {
    let topology = Topology::start().await;
    let (api, token, id, key) = broadcaster(&topology).await;
    let mut primary = publisher(&topology.worker_rtmp(0, &key), 120, CAMERA)
        .spawn()
        .unwrap();
    let live = format!("{}/live/{id}/source.m3u8", topology.front.url);
    until_listed(&live, 2, Duration::from_secs(30)).await;
    let backup_url = topology.worker_rtmp(1, &format!("{key}?backup=1"));
    let mut backup = publisher(&backup_url, 120, CAMERA).spawn().unwrap();
    until(Duration::from_secs(30), "the backup stands by", || async {
        api.first_session(&token, &id).await["backup_connected"] == true
    })
    .await;
    until_listed(&live, 6, Duration::from_secs(30)).await;
    let failed_at = Instant::now();
    match failure {
        PrimaryFailure::Killed => primary.kill().await.unwrap(),
        PrimaryFailure::Stalled => {
            let pid = primary.id().unwrap().to_string();
            std::process::Command::new("kill")
                .args(["-STOP", &pid])
                .status()
                .unwrap();
        }
    }
    until(
        Duration::from_secs(60),
        "the backup's media are listed",
        || async {
            let text = reqwest::get(&live).await.unwrap().text().await.unwrap();
            text.split("#EXT-X-DISCONTINUITY\n")
                .nth(1)
                .is_some_and(|after| after.contains("#EXTINF"))
        },
    )
    .await;
    let resumed = failed_at.elapsed();
    primary.kill().await.ok();
    backup.kill().await.ok();
    resumed
}

async fn control_plane_takeover() -> Duration {
    let mut topology = Topology::start().await;
    let survivor = topology.control_planes[1].metrics_url.clone();
    until(
        Duration::from_secs(60),
        "both control planes decide",
        || async {
            read(&survivor, "sigma_decider_partitions ")
                .await
                .unwrap_or(0.0)
                > 0.0
                && read(&survivor, "sigma_decider_partitions ")
                    .await
                    .unwrap_or(0.0)
                    < PARTITIONS
        },
    )
    .await;
    let killed_at = Instant::now();
    topology.control_planes.remove(0).kill().await;
    until(
        Duration::from_secs(60),
        "the survivor owns every partition",
        || async {
            read(&survivor, "sigma_decider_partitions ")
                .await
                .unwrap_or(0.0)
                == PARTITIONS
        },
    )
    .await;
    killed_at.elapsed()
}

fn seconds(runs: &[Duration]) -> String {
    runs.iter()
        .map(|run| format!("{:.1}", run.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() {
    let mut worker = Vec::new();
    let mut takeover = Vec::new();
    let mut killed = Vec::new();
    let mut stalled = Vec::new();
    for run in 1..=RUNS {
        worker.push(worker_death().await);
        takeover.push(control_plane_takeover().await);
        killed.push(backup_takes_the_air(PrimaryFailure::Killed).await);
        stalled.push(backup_takes_the_air(PrimaryFailure::Stalled).await);
        println!(
            "run {run}: worker death → playback {:?}; takeover {:?}; backup after a kill {:?}, after a stall {:?}",
            worker[run - 1],
            takeover[run - 1],
            killed[run - 1],
            stalled[run - 1]
        );
    }
    let body = format!(
        "## Failover on the scaled-out topology\n\n\
         `cargo run --release -p sigma-bench --bin failover` (after `cargo build --release \
         --bins`), {date}. Each run on a fresh topology of real processes on 127.0.0.1: tansu, \
         PostgreSQL, s3s-fs, two control planes, two workers, two playback nodes and a \
         round-robin front; node timeout {timeout} s, heartbeats every 0.5 s; SIGKILL.\n\n\
         | what | runs (s) | worst (s) |\n|---|---|---|\n\
         | worker killed → the encoder, retrying every second, is let in by the other worker and \
         its first segment is listed through the front | {worker} | {worker_worst:.1} |\n\
         | control plane killed → the survivor owns every decider partition | {takeover} | \
         {takeover_worst:.1} |\n\
         | primary encoder killed → the backup (standing by on the other worker) has its first \
         segment listed through the front | {killed} | {killed_worst:.1} |\n\
         | primary encoder stalled (SIGSTOP, connection open) → the backup's first segment \
         listed | {stalled} | {stalled_worst:.1} |\n\n\
         The worker figure is bounded below by the node timeout (the dead worker's session keeps \
         its publisher until the worker is declared lost) plus one segment; the takeover figure \
         is Kafka's group session timeout (6 s) plus tansu's leader workaround (docs/ARCHITECTURE.md). \
         Target for the backup: the stall threshold (3 s) plus one segment (1 s). After a kill \
         the backup is well within it (the connection closes: no threshold to wait); after a \
         stall it is not: after the threshold itself (the worker reports the stall the moment \
         silence reaches it) come the decision through the log, the decision reaching the \
         backup's worker, the backup's next keyframe (up to 1 s with 1 s GOPs), its first \
         segment and that segment's event reaching the playback nodes.",
        date = chrono::Utc::now().format("%Y-%m-%d"),
        timeout = NODE_TIMEOUT.as_secs(),
        worker = seconds(&worker),
        worker_worst = worker.iter().max().unwrap().as_secs_f64(),
        takeover = seconds(&takeover),
        takeover_worst = takeover.iter().max().unwrap().as_secs_f64(),
        killed = seconds(&killed),
        killed_worst = killed.iter().max().unwrap().as_secs_f64(),
        stalled = seconds(&stalled),
        stalled_worst = stalled.iter().max().unwrap().as_secs_f64(),
    );
    write_section("failover", &body).expect("writing docs/BENCHMARKS.md");
    println!("{body}");
}
