//! Audience at scale: 10,000 simulated viewers on loopback follow one live channel's playlist
//! (reloading it every half target duration, as players do; no segment downloads, so what is
//! measured is the request path). Two runs on the release binary, standalone:
//!
//! 1. *anonymous*: the viewers reload the rendition playlist without a playback session — no
//!    analytics work at all (the baseline);
//! 2. *tracked*: the viewers open playback sessions through the multivariant playlist, so each
//!    reload is noted, reported every 5 s and projected into the viewer spans.
//!
//! The server's CPU time (from `/proc`) per request in each run gives the added cost of
//! analytics per request; the tracked run's analytics must report 10,000 concurrent viewers
//! (±1%) for every step in which all of them were watching, 10,000 views, and the watch time the
//! clients measured (±1%).
//!
//! Run: `cargo run --release -p sigma-bench --bin audience` after `cargo build --release --bins`.
//! Writes its section of docs/BENCHMARKS.md.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sigma_bench::report::write_section;
use sigma_tests::api::Api;
use sigma_tests::hls::until_listed;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::Publish;
use sigma_tests::viewer::{watch, Viewing, Watched};
use sigma_tests::wait::until_some;

const VIEWERS: usize = 10_000;
/// Viewers join evenly over this long…
const RAMP: Duration = Duration::from_secs(15);
/// …and each watches this long.
const WATCH: Duration = Duration::from_secs(60);
const STEP_MS: i64 = 5_000;

/// Lets this process (and the server it starts) hold a socket per viewer.
fn raise_open_files() {
    // SAFETY: getrlimit/setrlimit read and write the struct they are given.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

struct Run {
    watched: Vec<Watched>,
    requests: usize,
    cpu: Duration,
    wall: Duration,
}

impl Run {
    fn cpu_per_request_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests as f64
    }
}

/// `VIEWERS` viewers of `url`, joining over the ramp; CPU is counted until `settled` holds
/// (which, for the tracked run, waits for the analytics to take in the last report).
async fn run<F, Fut>(pid: u32, url: String, tracked: bool, settled: F) -> Run
where
    F: FnOnce(Vec<Watched>) -> Fut,
    Fut: std::future::Future<Output = Vec<Watched>>,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(VIEWERS)
        .build()
        .unwrap();
    let cpu_before = sigma_bench::cpu::of(pid);
    let started = tokio::time::Instant::now();
    let viewers: Vec<_> = (0..VIEWERS)
        .map(|n| {
            let (client, url) = (client.clone(), url.clone());
            let join = started + RAMP.mul_f64(n as f64 / VIEWERS as f64);
            tokio::spawn(async move {
                tokio::time::sleep_until(join).await;
                let viewing = Viewing {
                    watch: WATCH,
                    fetch_segments: false,
                };
                watch(&client, &url, viewing).await
            })
        })
        .collect();
    let mut watched = Vec::with_capacity(VIEWERS);
    for viewer in viewers {
        watched.push(viewer.await.expect("a viewer finished"));
    }
    let watched = settled(watched).await;
    let requests = watched
        .iter()
        .map(|w| w.reloads + usize::from(tracked))
        .sum();
    Run {
        watched,
        requests,
        cpu: sigma_bench::cpu::of(pid) - cpu_before,
        wall: started.elapsed(),
    }
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::main]
async fn main() {
    raise_open_files();
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path())
        .with("RUST_LOG", "warn")
        .start()
        .await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "bench").await;
    let channel = api
        .create_channel(&token, json!({ "name": "bench", "latency_mode": "normal" }))
        .await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let options = Publish {
        real_time: true,
        zero_latency: false,
        stamped: false,
    };
    let seconds = 2 * (RAMP + WATCH).as_secs() as u32 + 120;
    let mut publisher =
        sigma_tests::publish::publisher(channel["rtmp_url"].as_str().unwrap(), seconds, options)
            .spawn()
            .expect("ffmpeg is installed");
    let media = format!("{}/live/{id}/source.m3u8", sigma.url);
    until_listed(&media, 2, Duration::from_secs(30)).await;
    let pid = sigma.pid();

    println!("anonymous run: {VIEWERS} viewers reloading {media}");
    let anonymous = run(pid, media.clone(), false, |watched| async { watched }).await;

    println!("tracked run: {VIEWERS} viewers through the multivariant playlist");
    let top = format!("{}/live/{id}/index.m3u8", sigma.url);
    let mut answer = Value::Null;
    let tracked = run(pid, top, true, |watched| {
        let (api, token, id) = (&api, &token, &id);
        let answer = &mut answer;
        async move {
            let first = watched.iter().map(|w| w.first_ms).min().unwrap();
            let last = watched.iter().map(|w| w.last_ms).max().unwrap();
            let query = format!(
                "from={}&to={}&step=5",
                rfc3339((first / STEP_MS) * STEP_MS),
                rfc3339((last / STEP_MS + 1) * STEP_MS)
            );
            let expected: i64 = watched.iter().map(Watched::watch_ms).sum();
            *answer = until_some(
                Duration::from_secs(120),
                "the analytics take in every report",
                || async {
                    let answer = api
                        .get(&format!("/v1/channels/{id}/analytics?{query}"), token)
                        .await
                        .ok();
                    let reported = answer["watch_time_seconds"].as_f64().unwrap_or(0.0) * 1e3;
                    (reported >= expected as f64 * 0.99).then_some(answer)
                },
            )
            .await;
            watched
        }
    })
    .await;
    publisher.kill().await.ok();

    let counted = Counted::of(&tracked, &answer);
    println!(
        "CCU in the {} full steps: {:?}; worst error {:.3}%; views {}; watch time error {:.3}%",
        counted.full.len(),
        counted.full,
        counted.worst * 100.0,
        counted.views,
        counted.watch_error * 100.0
    );
    assert!(counted.worst <= 0.01, "CCU off by more than 1%");
    assert!(
        counted.watch_error <= 0.01,
        "watch time off by more than 1%"
    );
    assert_eq!(counted.views, VIEWERS as u64);

    let body = section(&anonymous, &tracked, &counted);
    write_section("audience", &body).expect("writing docs/BENCHMARKS.md");
    println!("{body}");
}

/// What the analytics counted of the tracked run, against what its clients measured.
struct Counted {
    /// The CCU of each step in which every viewer watched.
    full: Vec<u64>,
    /// The largest error of those, as a fraction of the viewers.
    worst: f64,
    views: u64,
    expected_watch_ms: i64,
    reported_watch_ms: f64,
    watch_error: f64,
}

impl Counted {
    fn of(tracked: &Run, answer: &Value) -> Self {
        // Every viewer watches from its join to its join + WATCH: all of them in the steps
        // between the last join and the first departure.
        let last_join = tracked.watched.iter().map(|w| w.first_ms).max().unwrap();
        let first_leave = tracked.watched.iter().map(|w| w.last_ms).min().unwrap();
        let full: Vec<u64> = answer["ccu"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|point| {
                let at = point["at"]
                    .as_str()
                    .unwrap()
                    .parse::<DateTime<Utc>>()
                    .unwrap()
                    .timestamp_millis();
                at >= last_join && at + STEP_MS <= first_leave
            })
            .map(|point| point["ccu"].as_u64().unwrap())
            .collect();
        assert!(!full.is_empty(), "no step had every viewer: {answer}");
        let worst = full
            .iter()
            .map(|ccu| (*ccu as f64 - VIEWERS as f64).abs() / VIEWERS as f64)
            .fold(0.0, f64::max);
        let expected_watch_ms: i64 = tracked.watched.iter().map(Watched::watch_ms).sum();
        let reported_watch_ms = answer["watch_time_seconds"].as_f64().unwrap() * 1e3;
        Self {
            full,
            worst,
            views: answer["views"].as_u64().unwrap(),
            expected_watch_ms,
            reported_watch_ms,
            watch_error: (reported_watch_ms - expected_watch_ms as f64).abs()
                / expected_watch_ms as f64,
        }
    }
}

/// The benchmark's section of docs/BENCHMARKS.md.
fn section(anonymous: &Run, tracked: &Run, counted: &Counted) -> String {
    let added = tracked.cpu_per_request_us() - anonymous.cpu_per_request_us();
    let row = |name: &str, run: &Run| {
        format!(
            "| {name} | {} | {:.0} | {:.1} | {:.1} |",
            run.requests,
            run.requests as f64 / run.wall.as_secs_f64(),
            run.cpu.as_secs_f64(),
            run.cpu_per_request_us()
        )
    };
    format!(
        "## Audience analytics at 10,000 viewers\n\n\
         `cargo run --release -p sigma-bench --bin audience` (after `cargo build --release --bins`), \
         {date}. {VIEWERS} simulated viewers on loopback, joining over {ramp} s and each watching \
         {watch} s, reload one live channel's playlist (`normal` mode, 4 s segments) every half target duration; \
         the server is the standalone release binary. CPU is the server process's user + system \
         time over the run (the tracked run until the analytics had taken in the last report, so \
         it includes reporting and projecting).\n\n\
         | run | requests | requests/s | server CPU (s) | CPU per request (µs) |\n\
         |---|---|---|---|---|\n{}\n{}\n\n\
         Added CPU per request for analytics: **{added:.1} µs** ({pct:.1}% of an anonymous \
         request).\n\n\
         Correctness of the tracked run: CCU in each of the {steps} five-second steps during which \
         all {VIEWERS} viewers watched: {min}–{max} (worst error {worst:.3}%, target ±1%); views \
         {views} of {VIEWERS}; watch time {reported:.0} s reported against {expected:.0} s measured \
         by the clients ({watch_error:.3}%).",
        row("anonymous (no playback session)", anonymous),
        row("tracked (playback sessions)", tracked),
        date = Utc::now().format("%Y-%m-%d"),
        ramp = RAMP.as_secs(),
        watch = WATCH.as_secs(),
        pct = 100.0 * added / anonymous.cpu_per_request_us(),
        steps = counted.full.len(),
        min = counted.full.iter().min().unwrap(),
        max = counted.full.iter().max().unwrap(),
        worst = counted.worst * 100.0,
        views = counted.views,
        reported = counted.reported_watch_ms / 1e3,
        expected = counted.expected_watch_ms as f64 / 1e3,
        watch_error = counted.watch_error * 100.0,
    )
}
