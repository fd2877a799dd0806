//! Command round trip, whole system: an HTTP write is appended to the log, decided by the
//! partition's decider, projected into the read model, and answered with the new state read
//! back from it. Measured on the release binary, standalone (embedded log + SQLite) and scaled
//! out (tansu Kafka-protocol broker + PostgreSQL), one client and eight concurrent clients.
//!
//! Run: `make bench` (or `cargo run --release -p sigma-bench --bin roundtrip` after
//! `cargo build --release --bins`). Writes its section of docs/BENCHMARKS.md.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use sigma_bench::report::write_section;
use sigma_bench::stats::Latencies;
use sigma_event_log::testing::Tansu;
use sigma_tests::api::Api;
use sigma_tests::database::TestDatabase;
use sigma_tests::process::SigmaConfig;

const CHANNELS: usize = 16;
const WARM_UP: usize = 200;
const SEQUENTIAL: usize = 2_000;
const CLIENTS: usize = 8;
const PER_CLIENT: usize = 250;

struct Run {
    setup: &'static str,
    sequential: Latencies,
    concurrent: Latencies,
    concurrent_per_second: f64,
}

/// Renames a channel and checks the answer carries the new name (the read model's state).
async fn rename(api: &Api, token: &str, channel: &str, name: String) -> Duration {
    let started = Instant::now();
    let answer = api
        .patch(
            &format!("/v1/channels/{channel}"),
            token,
            json!({ "name": name }),
        )
        .await
        .ok();
    let elapsed = started.elapsed();
    assert_eq!(
        answer["name"], name,
        "the write was not visible in its answer"
    );
    elapsed
}

async fn measure(setup: &'static str, config: SigmaConfig) -> Run {
    let mut config = config
        .with("SIGMA_RATE_LIMIT_PER_SECOND", "1000000")
        .with("SIGMA_RATE_LIMIT_BURST", "1000000")
        .with("RUST_LOG", "warn");
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "bench").await;
    let mut channels = Vec::new();
    for n in 0..CHANNELS {
        channels.push(
            api.create_channel(&token, json!({ "name": format!("bench {n}") }))
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for i in 0..WARM_UP {
        rename(&api, &token, &channels[i % CHANNELS], format!("warm {i}")).await;
    }

    let mut sequential = Vec::with_capacity(SEQUENTIAL);
    for i in 0..SEQUENTIAL {
        sequential.push(rename(&api, &token, &channels[i % CHANNELS], format!("seq {i}")).await);
        if i % 100 == 0 {
            // A separate read sees the write too (read-your-writes is not only in the answer).
            let read = api
                .get(&format!("/v1/channels/{}", channels[i % CHANNELS]), &token)
                .await
                .ok();
            assert_eq!(read["name"], format!("seq {i}"));
        }
    }

    let started = Instant::now();
    let clients = (0..CLIENTS).map(|client| {
        let (api, token, channels) = (api.clone(), token.clone(), channels.clone());
        async move {
            let mut samples = Vec::with_capacity(PER_CLIENT);
            for i in 0..PER_CLIENT {
                // Each client has its own channels, as separate integrators would.
                let channel = &channels[(client + i * CLIENTS) % CHANNELS];
                samples.push(rename(&api, &token, channel, format!("c{client} {i}")).await);
            }
            samples
        }
    });
    let concurrent: Vec<Duration> = join_all(clients).await.into_iter().flatten().collect();
    let concurrent_per_second = concurrent.len() as f64 / started.elapsed().as_secs_f64();
    sigma.kill().await;
    Run {
        setup,
        sequential: Latencies::new(sequential),
        concurrent: Latencies::new(concurrent),
        concurrent_per_second,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{} cores ({cpu})",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("a temporary dir");
    let embedded = measure(
        "embedded log + SQLite",
        SigmaConfig::standalone(&dir.path().join("embedded")),
    )
    .await;

    let broker = Tansu::start().await;
    let database = TestDatabase::create().await;
    let kafka = measure(
        "Kafka (tansu) + PostgreSQL",
        SigmaConfig::scale_out(&dir.path().join("kafka"), &broker.brokers(), &database.url),
    )
    .await;

    let mut body = format!(
        "## Command round trip (HTTP write → log → decider → projection → answer)\n\n\
         Command: `cargo run --release -p sigma-bench --bin roundtrip` (part of `make bench`). \
         Measured {} on {}, release build, everything on 127.0.0.1. Each sample is one `PATCH \
         /v1/channels/{{id}}` whose answer must already carry the new name, read from the read model; \
         {SEQUENTIAL} sequential samples after {WARM_UP} warm-up, then {CLIENTS} clients × {PER_CLIENT} concurrently.\n\n\
         | setup | sequential p50 | p99 | max | concurrent p50 | p99 | max | concurrent commands/s | target p99 | met |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        machine(),
    );
    for (run, target_ms) in [(&embedded, 20.0), (&kafka, 50.0)] {
        let [p50, p99, max] = run.sequential.summary_ms();
        let [c50, c99, cmax] = run.concurrent.summary_ms();
        let met = if p99 <= target_ms { "yes" } else { "no" };
        body.push_str(&format!(
            "| {} | {p50:.2} ms | {p99:.2} ms | {max:.2} ms | {c50:.2} ms | {c99:.2} ms | {cmax:.2} ms | {:.0} | ≤ {target_ms} ms | {met} |\n",
            run.setup, run.concurrent_per_second
        ));
        println!("{}: sequential p50 {p50:.2} ms p99 {p99:.2} ms ({} samples); concurrent p99 {c99:.2} ms, {:.0}/s", run.setup, run.sequential.count(), run.concurrent_per_second);
    }
    write_section("roundtrip", &body).expect("writing docs/BENCHMARKS.md");
}
