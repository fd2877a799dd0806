//! Audience analytics, from the outside: simulated viewers — real HTTP clients following the
//! playlists as players do, some leaving mid-way — watch a live channel; the channel's and the
//! session's analytics must report the CCU of each step, the peak, the views and the watch time
//! those clients actually produced.
//!
//! Tolerance: the server stamps requests on arrival and the clients just before sending, so each
//! client's interval is known to within network and scheduling slack. Every CCU figure must lie
//! between what the clients' intervals give when each is shrunk by [`SLACK_MS`] and when it is
//! widened by it; watch time must be within `SLACK_MS` per end per viewer.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::hls::until_listed;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::Publish;
use sigma_tests::viewer::{watch, Viewing, Watched};
use sigma_tests::wait::until_some;

/// Each viewer's (start offset, watch) in seconds: they join over 22 s and leave from 3 s to
/// 40 s after joining. The 3-second viewer is not a view (views need 5 s).
const SCHEDULE: [(f64, f64); 10] = [
    (0.0, 40.0),
    (0.2, 12.0),
    (1.1, 26.0),
    (4.3, 31.0),
    (7.4, 9.0),
    (10.6, 20.0),
    (13.5, 3.0),
    (16.7, 14.0),
    (19.8, 21.0),
    (22.9, 11.0),
];
const SLACK_MS: i64 = 250;
const STEP_MS: i64 = 5_000;
/// How close the reported watch time must come before every report is taken as projected.
const LAST_REPORTS_MS: i64 = 300;
/// Views need this much watch time (the documented rule).
const VIEW_MIN_MS: i64 = 5_000;

/// Concurrency at `instant` of the given intervals.
fn concurrency(intervals: &[(i64, i64)], instant: i64) -> usize {
    intervals
        .iter()
        .filter(|(start, end)| *start <= instant && instant <= *end)
        .count()
}

/// The peak concurrency within `[from, to)`: it is reached at the step's start or at an
/// interval's start inside the step.
fn peak_within(intervals: &[(i64, i64)], from: i64, to: i64) -> usize {
    std::iter::once(from)
        .chain(
            intervals
                .iter()
                .map(|(start, _)| *start)
                .filter(|start| (from..to).contains(start)),
        )
        .map(|instant| concurrency(intervals, instant))
        .max()
        .unwrap_or(0)
}

fn resized(watched: &[Watched], by: i64) -> Vec<(i64, i64)> {
    watched
        .iter()
        .map(|w| (w.first_ms - by, (w.last_ms + by).max(w.first_ms - by)))
        .collect()
}

fn ms(value: &Value) -> i64 {
    value
        .as_str()
        .and_then(|text| text.parse::<DateTime<Utc>>().ok())
        .expect("a timestamp")
        .timestamp_millis()
}

/// Checks an analytics answer against what the viewers did.
fn check(answer: &Value, watched: &[Watched]) {
    let (narrow, wide) = (resized(watched, -SLACK_MS), resized(watched, SLACK_MS));
    let points = answer["ccu"].as_array().expect("a CCU series");
    assert!(!points.is_empty(), "{answer}");
    for point in points {
        let at = ms(&point["at"]);
        let ccu = point["ccu"].as_u64().unwrap() as usize;
        let (low, high) = (
            peak_within(&narrow, at, at + STEP_MS),
            peak_within(&wide, at, at + STEP_MS),
        );
        assert!(
            (low..=high).contains(&ccu),
            "CCU {ccu} at {} is outside {low}..={high}: {answer}",
            point["at"]
        );
    }
    let peak = answer["peak_ccu"].as_u64().unwrap() as usize;
    let everywhere = |intervals: &[(i64, i64)]| {
        intervals
            .iter()
            .map(|(start, _)| concurrency(intervals, *start))
            .max()
            .unwrap_or(0)
    };
    let (low, high) = (everywhere(&narrow), everywhere(&wide));
    assert!(
        (low..=high).contains(&peak),
        "peak {peak} outside {low}..={high}"
    );
    assert!(
        peak >= 5,
        "the schedule overlaps at least five viewers: {peak}"
    );

    let views = watched
        .iter()
        .filter(|w| w.watch_ms() >= VIEW_MIN_MS)
        .count();
    assert_eq!(answer["views"], views as u64, "{answer}");
    assert_eq!(views, SCHEDULE.len() - 1, "the 3-second viewer is no view");

    let expected: i64 = watched.iter().map(Watched::watch_ms).sum();
    let reported = (answer["watch_time_seconds"].as_f64().unwrap() * 1_000.0) as i64;
    let tolerance = 2 * SLACK_MS * watched.len() as i64;
    assert!(
        (reported - expected).abs() <= tolerance,
        "watch time {reported} ms, the clients watched {expected} ms (± {tolerance})"
    );
}

#[tokio::test]
async fn simulated_viewers_are_counted_as_they_watched() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path())
        .with("SIGMA_VIEWER_REPORT_MS", "1000")
        .start()
        .await;
    let api = Api::new(&sigma.url);
    let (_, token) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let channel = api
        .create_channel(&token, json!({ "name": "stage", "latency_mode": "low" }))
        .await;
    let channel_id = channel["id"].as_str().unwrap().to_owned();
    let options = Publish {
        real_time: true,
        zero_latency: false,
        stamped: false,
    };
    let mut publisher =
        sigma_tests::publish::publisher(channel["rtmp_url"].as_str().unwrap(), 90, options)
            .spawn()
            .expect("ffmpeg is installed");
    let top = format!("{}/live/{channel_id}/index.m3u8", sigma.url);
    let client = reqwest::Client::new();
    let media_url = format!("{}/live/{channel_id}/source.m3u8", sigma.url);
    until_listed(&media_url, 2, Duration::from_secs(30)).await;

    // The live audience gauge, and the channel's `viewers` as its owner lists it, sampled
    // while the viewers watch.
    let metrics_url = format!("{}/metrics", sigma.metrics_url);
    let gauge_line = format!("sigma_viewers{{channel_id=\"{channel_id}\"}} ");
    let highest = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let highest_listed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let (client, gauge_line, highest) = (client.clone(), gauge_line.clone(), highest.clone());
        let (api, token, highest_listed) = (api.clone(), token.clone(), highest_listed.clone());
        tokio::spawn(async move {
            loop {
                let listed = api.get("/v1/channels", &token).await.ok();
                highest_listed.fetch_max(
                    listed["data"][0]["viewers"].as_u64().unwrap(),
                    std::sync::atomic::Ordering::Relaxed,
                );
                let text = client
                    .get(&metrics_url)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                if let Some(value) = text.lines().find_map(|line| line.strip_prefix(&gauge_line)) {
                    highest.fetch_max(
                        value.trim().parse().unwrap(),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    let started = tokio::time::Instant::now();
    let viewers: Vec<_> = SCHEDULE
        .iter()
        .map(|&(offset, seconds)| {
            let (client, top) = (client.clone(), top.clone());
            tokio::spawn(async move {
                tokio::time::sleep_until(started + Duration::from_secs_f64(offset)).await;
                let viewing = Viewing {
                    watch: Duration::from_secs_f64(seconds),
                    fetch_segments: true,
                };
                watch(&client, &top, viewing).await
            })
        })
        .collect();
    let mut watched = Vec::new();
    for viewer in viewers {
        watched.push(viewer.await.unwrap());
    }
    for (w, (_, seconds)) in watched.iter().zip(SCHEDULE) {
        assert!(
            w.reloads >= 2 && (seconds < 5.0 || w.segments >= 2),
            "a viewer followed the stream: {w:?}"
        );
    }

    let first = watched.iter().map(|w| w.first_ms).min().unwrap();
    let last = watched.iter().map(|w| w.last_ms).max().unwrap();
    let from = (first / STEP_MS - 1) * STEP_MS;
    let to = (last / STEP_MS + 2) * STEP_MS;
    let range = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let query = format!("from={}&to={}&step=5", range(from), range(to));
    let expected: i64 = watched.iter().map(Watched::watch_ms).sum();
    let answer = until_some(
        Duration::from_secs(30),
        "every viewer's activity is projected",
        || async {
            let answer = api
                .get(
                    &format!("/v1/channels/{channel_id}/analytics?{query}"),
                    &token,
                )
                .await
                .ok();
            let reported = (answer["watch_time_seconds"].as_f64().unwrap_or(0.0) * 1_000.0) as i64;
            // Transit times mostly cancel between a span's two ends, so once the last reports
            // are in, the total is within a few milliseconds per viewer; a report that never
            // arrives (up to a second of one viewer) keeps it short of this.
            (reported >= expected - LAST_REPORTS_MS).then_some(answer)
        },
    )
    .await;
    check(&answer, &watched);
    let series: Vec<u64> = answer["ccu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ccu"].as_u64().unwrap())
        .collect();
    println!(
        "analytics: CCU per 5 s {series:?}, peak {}, views {}, watch time {} s; the clients watched {:.3} s",
        answer["peak_ccu"],
        answer["views"],
        answer["watch_time_seconds"],
        expected as f64 / 1e3
    );
    assert_eq!(
        answer["ccu"].as_array().unwrap().len() as i64,
        (to - from) / STEP_MS
    );

    // The session's analytics are the channel's: it had one session.
    let session = api.first_session(&token, &channel_id).await;
    let by_session = api
        .get(
            &format!(
                "/v1/sessions/{}/analytics?{query}",
                session["id"].as_str().unwrap()
            ),
            &token,
        )
        .await
        .ok();
    check(&by_session, &watched);
    assert_eq!(by_session["ccu"], answer["ccu"]);

    // The gauge saw the audience: at least the peak, never more than the viewers.
    sampler.abort();
    let highest = highest.load(std::sync::atomic::Ordering::Relaxed);
    let highest_listed = highest_listed.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        (answer["peak_ccu"].as_u64().unwrap()..=SCHEDULE.len() as u64).contains(&highest_listed),
        "the channel list's viewers peaked at {highest_listed}"
    );
    assert!(
        (answer["peak_ccu"].as_u64().unwrap()..=SCHEDULE.len() as u64).contains(&highest),
        "the live gauge peaked at {highest}"
    );
    publisher.kill().await.ok();
}

#[tokio::test]
async fn analytics_requests_are_checked_and_private_to_their_account() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (_, token) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let (_, stranger) = api.account_with_token(&sigma.admin_key, "stranger").await;
    let channel = api.create_channel(&token, json!({ "name": "quiet" })).await;
    let id = channel["id"].as_str().unwrap();

    // A channel nobody watched: a series of zeros.
    let answer = api
        .get(&format!("/v1/channels/{id}/analytics?step=300"), &token)
        .await
        .ok();
    assert_eq!(answer["step_seconds"], 300);
    assert_eq!(answer["ccu"].as_array().unwrap().len(), 12, "{answer}");
    assert!(answer["ccu"]
        .as_array()
        .unwrap()
        .iter()
        .all(|point| point["ccu"] == 0));
    assert_eq!(
        (answer["views"].clone(), answer["peak_ccu"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(answer["peak_at"], Value::Null);

    for (query, code) in [
        ("step=4", "invalid_field"),
        (
            "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            "invalid_range",
        ),
        (
            "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&step=5",
            "invalid_range",
        ),
    ] {
        let answer = api
            .get(&format!("/v1/channels/{id}/analytics?{query}"), &token)
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (422, code),
            "{query}"
        );
    }
    let answer = api
        .get(
            &format!("/v1/channels/{id}/analytics?from=yesterday"),
            &token,
        )
        .await;
    assert_eq!(answer.status.as_u16(), 400);
    let answer = api
        .get(&format!("/v1/channels/{id}/analytics?colour=blue"), &token)
        .await;
    assert_eq!(answer.status.as_u16(), 400);
    let answer = api
        .get(&format!("/v1/channels/{id}/analytics"), &stranger)
        .await;
    assert_eq!(answer.status.as_u16(), 404, "another account's channel");
    let answer = api
        .get(
            "/v1/sessions/se_00000000000000000000000000000000/analytics",
            &token,
        )
        .await;
    assert_eq!(answer.status.as_u16(), 404);

    // A forged playback session id is refused, not counted.
    let forged = reqwest::get(format!("{}/live/{id}/source.m3u8?pb=../../etc", sigma.url))
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 400);
}

#[tokio::test]
async fn invented_playback_sessions_are_served_but_never_counted() {
    use futures::StreamExt;

    let dir = tempfile::tempdir().unwrap();
    let mut config = SigmaConfig::standalone(dir.path()).with("SIGMA_VIEWER_REPORT_MS", "1000");
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let (token, channel) = api
        .broadcaster_channel(&sigma.admin_key, json!({ "name": "stage" }))
        .await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let _publisher = sigma_tests::publish::live(&channel, 120);
    let base = format!("{}/live/{id}", sigma.url);
    until_listed(&format!("{base}/source.m3u8"), 1, Duration::from_secs(30)).await;

    // One real viewer: its pass from the multivariant playlist, two reloads 6 s apart.
    let top = reqwest::get(format!("{base}/index.m3u8"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rendition = top
        .lines()
        .find(|line| line.contains("?pb="))
        .expect("a rendition URL");
    let reload = format!("{base}/{rendition}");
    let first = reqwest::get(&reload).await.unwrap();
    assert_eq!(first.status(), 200);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(reqwest::get(&reload).await.unwrap().status(), 200);
    let before = api.analytics_once_watched(&token, &id, 6.0).await;

    // 100,000 reloads naming playback sessions nobody issued: each is served, none counted.
    let pid = sigma.pid();
    let resting = sigma_tests::process::rss_kib(pid);
    let client = reqwest::Client::new();
    let requests = futures::stream::iter(0..100_000u32).map(|n| {
        let invented = format!("pb_{:032x}", u128::from(n) * 0x9e37_79b9_7f4a_7c15);
        let pass = if n % 2 == 0 {
            invented
        } else {
            format!("{invented}.0123456789abcdef")
        };
        let request = client.get(format!("{base}/source.m3u8?pb={pass}")).send();
        async move { request.await.map(|answer| answer.status().as_u16()) }
    });
    let statuses: Vec<_> = requests.buffer_unordered(64).collect().await;
    let served = statuses
        .iter()
        .filter(|status| matches!(status, Ok(200)))
        .count();
    assert_eq!(
        served, 100_000,
        "every reload with an invented pass is served"
    );
    let flooded = sigma_tests::process::rss_kib(pid);
    eprintln!("RSS {resting} KiB before 100,000 invented passes, {flooded} KiB after");
    assert!(
        flooded < resting + 64 * 1024,
        "the flood grew memory by {} KiB",
        flooded - resting
    );

    // Two report intervals later, the figures are what the real viewer made.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = api
        .get(&format!("/v1/channels/{id}/analytics?step=5"), &token)
        .await
        .ok();
    for figure in ["views", "peak_ccu", "watch_time_seconds"] {
        assert_eq!(after[figure], before[figure], "{figure}: {after}");
    }
    assert_eq!(after["peak_ccu"], 1, "{after}");
}
