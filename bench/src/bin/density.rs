//! Ingest density: how many passthrough streams one standalone process packages in real time,
//! and what each costs. A 720p30, 2.5 Mbit/s H.264/AAC file (1 s GOPs) is made once; N ffmpeg
//! publishers send it in real time with `-c copy` (so the publishers themselves cost little) to
//! N channels (`low` mode, no thumbnails). Once every session is live, the server's CPU time
//! (from `/proc`) and the segments it packaged are measured over a window.
//!
//! Run: `cargo run --release -p sigma-bench --bin density` after `cargo build --release --bins`.
//! Writes its section of docs/BENCHMARKS.md.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sigma_bench::report::write_section;
use sigma_tests::api::Api;
use sigma_tests::metrics::read;
use sigma_tests::process::{Sigma, SigmaConfig};
use sigma_tests::wait::until;

const WINDOW: Duration = Duration::from_secs(20);
const STREAMS: [usize; 3] = [10, 25, 50];

/// 30 s of 720p30 test pattern and tone, encoded once.
fn source(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("source.flv");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", "30", "-c:v", "libx264", "-preset", "veryfast"])
        .args(["-b:v", "2500k", "-g", "30", "-bf", "0", "-c:a", "aac"])
        .arg(&file)
        .status()
        .expect("ffmpeg is installed");
    assert!(status.success(), "the source file was not made");
    file
}

struct Row {
    streams: usize,
    /// Media received per stream, Mbit/s.
    mbits: f64,
    cores: f64,
    segments: f64,
    packaging_ms: f64,
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let file = source(dir.path());
    let sigma = SigmaConfig::standalone(dir.path())
        .with("RUST_LOG", "warn")
        .with("SIGMA_RATE_LIMIT_PER_SECOND", "100000")
        .with("SIGMA_RATE_LIMIT_BURST", "100000")
        // Every publisher comes from 127.0.0.1, and each round's sessions stay open for their
        // reconnect window while the next round starts: the per-address and per-account
        // limits (docs/SECURITY.md) are raised past what the rounds add up to.
        .with("SIGMA_RTMP_MAX_CONNECTIONS_PER_ADDRESS", "1000")
        .with(
            "SIGMA_QUOTA_LIVE_SESSIONS",
            STREAMS.iter().sum::<usize>().to_string(),
        )
        .start()
        .await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "bench").await;
    let mut rows = Vec::new();
    for streams in STREAMS {
        rows.push(measure(&sigma, &api, &token, &file, streams).await);
    }
    write_section("density", &section(&rows)).expect("writing docs/BENCHMARKS.md");
}

/// One round: `streams` channels and publishers, measured over [`WINDOW`] once all are live.
async fn measure(sigma: &Sigma, api: &Api, token: &str, file: &Path, streams: usize) -> Row {
    let mut channels = Vec::new();
    for n in 0..streams {
        let settings = json!({
            "name": format!("density {n}"),
            "latency_mode": "low",
            "thumbnail_interval_seconds": 0
        });
        channels.push(api.create_channel(token, settings).await);
    }
    let mut publishers: Vec<_> = channels
        .iter()
        .map(|channel| {
            tokio::process::Command::new("ffmpeg")
                .args(["-v", "error", "-re", "-stream_loop", "-1", "-i"])
                .arg(file)
                .args(["-c", "copy", "-f", "flv"])
                .arg(channel["rtmp_url"].as_str().unwrap())
                .kill_on_drop(true)
                .spawn()
                .expect("ffmpeg is installed")
        })
        .collect();
    until(Duration::from_secs(60), "every session is live", || async {
        let mut live = 0;
        for channel in &channels {
            let id = channel["id"].as_str().unwrap();
            if api.first_session(token, id).await["status"] == "live" {
                live += 1;
            }
        }
        live == streams
    })
    .await;
    let segment = "sigma_packaged_total{kind=\"segment\"} ";
    let (sum, count) = (
        "sigma_packaging_seconds_sum{kind=\"part\"} ",
        "sigma_packaging_seconds_count{kind=\"part\"} ",
    );
    let received = "sigma_ingest_bytes_total ";
    let bytes_before = read(&sigma.metrics_url, received).await.unwrap_or(0.0);
    let before = (
        sigma_bench::cpu::of(sigma.pid()),
        read(&sigma.metrics_url, segment).await.unwrap_or(0.0),
        read(&sigma.metrics_url, sum).await.unwrap_or(0.0),
        read(&sigma.metrics_url, count).await.unwrap_or(0.0),
    );
    let started = Instant::now();
    tokio::time::sleep(WINDOW).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (sigma_bench::cpu::of(sigma.pid()) - before.0).as_secs_f64();
    let segments = read(&sigma.metrics_url, segment).await.unwrap_or(0.0) - before.1;
    let packaging = (read(&sigma.metrics_url, sum).await.unwrap_or(0.0) - before.2)
        / (read(&sigma.metrics_url, count).await.unwrap_or(0.0) - before.3).max(1.0);
    let bytes = read(&sigma.metrics_url, received).await.unwrap_or(0.0) - bytes_before;
    for publisher in &mut publishers {
        publisher.kill().await.ok();
    }
    let row = Row {
        streams,
        mbits: bytes * 8.0 / elapsed / streams as f64 / 1e6,
        cores: cpu / elapsed,
        segments: segments / elapsed / streams as f64,
        packaging_ms: packaging * 1e3,
    };
    println!(
        "{streams} streams at {:.2} Mbit/s: {:.3} cores, {:.2} segments/s per stream, parts stored and announced in {:.2} ms on average",
        row.mbits, row.cores, row.segments, row.packaging_ms
    );
    row
}

/// The benchmark's section of docs/BENCHMARKS.md (printed too).
fn section(rows: &[Row]) -> String {
    let table: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "| {} | {:.2} | {:.2} | {:.1} | {:.0} | {:.2} | {:.2} |",
                row.streams,
                row.mbits,
                row.cores,
                row.cores * 1000.0 / row.streams as f64,
                row.streams as f64 / row.cores,
                row.segments,
                row.packaging_ms
            )
        })
        .collect();
    let body = format!(
        "## Ingest density (passthrough)\n\n\
         `cargo run --release -p sigma-bench --bin density` (after `cargo build --release \
         --bins`), {date}. N ffmpeg publishers send a 720p30, 2.5 Mbit/s H.264 + AAC file with \
         1 s GOPs in real time (`-re -c copy`) to N `low`-mode channels (1 s segments, no \
         thumbnails, no transcoding) of one standalone release process (embedded log, SQLite, \
         media on local disk); measured over {window} s once every session is live. \
         Segments per second per stream near 1.0 means the process keeps real time.\n\n\
         | streams | received per stream (Mbit/s) | server CPU (cores) | per stream (millicores) | streams per core | segments/s per stream | mean time to store + announce a part (ms) |\n\
         |---|---|---|---|---|---|---|\n{}",
        table.join("\n"),
        date = chrono::Utc::now().format("%Y-%m-%d"),
        window = WINDOW.as_secs(),
    );
    println!("{body}");
    body
}
