//! Glass-to-glass latency with a real player: ffmpeg publishes a real-time test pattern with
//! its wall clock drawn into every picture; hls.js in headless Chromium plays the channel and
//! reads the stamp back from each displayed frame. Nothing in Sigma reports its own latency.
//! Per latency mode: latency p50/p90, stalls and stall time, time to first frame; then the
//! same stream through nginx-rtmp's HLS, side by side.
//!
//! Run: `make bench` (or `cargo run --release -p sigma-bench --bin latency` after
//! `cargo build --release --bins`; `BENCH_SECONDS` sets the watch time, default 120).
//! Writes its section of docs/BENCHMARKS.md.

use std::time::Duration;

use serde_json::json;
use sigma_bench::nginx::Nginx;
use sigma_bench::report::write_section;
use sigma_tests::api::Api;
use sigma_tests::browser::{watch, Viewing, Watch};
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::wait::until;

/// One stream watched: its latencies and what the viewer saw.
struct Run {
    p50: f64,
    p90: f64,
    frames: usize,
    viewing: Viewing,
}

impl Run {
    fn row(&self, name: &str, target: &str, met: &str) -> String {
        format!(
            "| {name} | {:.2} s | {:.2} s | {} | {} | {:.2} s | {} | {target} | {met} |\n",
            self.p50,
            self.p90,
            self.frames,
            self.viewing.stalls,
            self.viewing.stall_seconds,
            self.viewing
                .first_frame_seconds
                .map_or("none".into(), |s| format!("{s:.2} s")),
        )
    }
}

/// Publishes a stamped real-time stream to `rtmp`, waits until `media` lists a segment, and
/// watches `playback` for `seconds`.
async fn measure(rtmp: &str, playback: &str, media: &str, seconds: u32, low_latency: bool) -> Run {
    let options = Publish {
        real_time: true,
        zero_latency: true,
        stamped: true,
    };
    let mut publisher = publisher(rtmp, seconds + 40, options)
        .spawn()
        .expect("ffmpeg");
    until(Duration::from_secs(60), "the stream is listed", || async {
        match reqwest::get(media).await {
            Ok(response) => response
                .text()
                .await
                .unwrap_or_default()
                .contains("#EXTINF"),
            Err(_) => false,
        }
    })
    .await;
    let how = Watch {
        low_latency,
        stamped: true,
        switching: false,
    };
    let viewing = watch(playback, seconds, how).await;
    let _ = publisher.kill().await;
    let mut latencies = viewing.latencies.clone();
    latencies.sort_by(f64::total_cmp);
    let run = Run {
        p50: percentile(&latencies, 50.0),
        p90: percentile(&latencies, 90.0),
        frames: latencies.len(),
        viewing,
    };
    println!(
        "{playback}: p50 {:.2} s p90 {:.2} s over {} frames, {} stalls, fatal {:?}",
        run.p50, run.p90, run.frames, run.viewing.stalls, run.viewing.fatal
    );
    run
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((p / 100.0) * sorted.len() as f64)
        .ceil()
        .clamp(1.0, sorted.len() as f64) as usize
        - 1]
}

#[tokio::main]
async fn main() {
    let seconds: u32 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let dir = tempfile::tempdir().expect("a temporary dir");
    let sigma = SigmaConfig::standalone(dir.path())
        .with("RUST_LOG", "warn")
        .start()
        .await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "bench").await;

    let mut body = format!(
        "## Glass-to-glass latency (hls.js in headless Chromium, stamps read from displayed frames)\n\n\
         Command: `cargo run --release -p sigma-bench --bin latency` (part of `make bench`), {seconds} s of \
         watching per mode, measured {} on this 2-core machine with publisher (ffmpeg, x264 veryfast \
         zerolatency, 320x180 at 30 fps, 1 s GOP), Sigma and Chromium all on it. Latency = the page's clock \
         when a frame is displayed minus the publisher's clock drawn into that frame.\n\n\
         | server, mode | latency p50 | p90 | frames measured | stalls | stall time | first frame | target | met |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let mut results = Vec::new();
    for (mode, target, low_latency) in [
        ("ultra_low", 2.0, true),
        ("low", 5.0, false),
        ("normal", 15.0, false),
    ] {
        let channel = api
            .create_channel(&token, json!({ "name": mode, "latency_mode": mode }))
            .await;
        let playback = channel["playback_url"].as_str().unwrap().to_owned();
        let media = playback.replace("index.m3u8", "source.m3u8");
        let run = measure(
            channel["rtmp_url"].as_str().unwrap(),
            &playback,
            &media,
            seconds,
            low_latency,
        )
        .await;
        let met = if run.p50 <= target
            && (mode != "normal" || run.viewing.stalls == 0)
            && run.viewing.fatal.is_empty()
        {
            "yes"
        } else {
            "no"
        };
        body.push_str(&run.row(
            &format!("Sigma `{mode}`"),
            &format!(
                "p50 ≤ {target} s{}",
                if mode == "normal" { ", no stalls" } else { "" }
            ),
            met,
        ));
        results.push((mode, run.p50));
    }
    let nginx_dir = tempfile::tempdir().expect("a temporary dir");
    let nginx = Nginx::start(nginx_dir.path());
    let key = "bench";
    let rtmp = format!("rtmp://127.0.0.1:{}/live/{key}", nginx.rtmp_port);
    let playlist = format!("http://127.0.0.1:{}/hls/{key}.m3u8", nginx.http_port);
    let peer = measure(&rtmp, &playlist, &playlist, seconds, false).await;
    body.push_str(&peer.row("nginx-rtmp HLS (1 s fragments, 3 s playlist)", "peer", "—"));
    body.push_str("\nRatios of Sigma's p50 to nginx-rtmp's: ");
    let ratios: Vec<String> = results
        .iter()
        .map(|(mode, p50)| format!("`{mode}` {:.2}×", p50 / peer.p50))
        .collect();
    body.push_str(&ratios.join(", "));
    body.push_str(". nginx-rtmp serves MPEG-TS HLS with no parts; hls.js plays it with its default (not low-latency) settings.\n");
    write_section("latency", &body).expect("writing docs/BENCHMARKS.md");
}
