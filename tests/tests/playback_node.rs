//! Playback nodes as their own processes (`sigma playback`): a node that ingests nothing, serves
//! no API and is given no database plays any stream from the shared log and object store
//! (one started after the stream went live too), reports its viewers to the analytics, answers
//! health and metrics, and is declared lost when its heartbeats stop.

use std::time::Duration;

use serde_json::json;
use sigma_event_log::testing::Tansu;
use sigma_tests::api::Api;
use sigma_tests::database::TestDatabase;
use sigma_tests::hls::until_listed;
use sigma_tests::metrics::read;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::viewer::{watch, Viewing};
use sigma_tests::wait::until;

#[tokio::test]
async fn a_playback_node_plays_any_stream_and_reports_its_viewers() {
    let broker = Tansu::start().await;
    let database = TestDatabase::create().await;
    let (platform_dir, node_dir, late_dir, media) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let store = format!("file://{}", media.path().display());
    let scale_out = |dir: &std::path::Path| {
        SigmaConfig::scale_out(dir, &broker.brokers(), &database.url)
            .with("SIGMA_OBJECT_STORE_URL", &store)
            .with("SIGMA_VIEWER_REPORT_MS", "1000")
            .with("SIGMA_HEARTBEAT_INTERVAL_MS", "500")
            .with("SIGMA_NODE_TIMEOUT_MS", "4000")
    };
    let platform = scale_out(platform_dir.path()).start().await;
    // No database at all: with one it could not reach, a process that opened it would not
    // start; without, it would make a SQLite file in its data dir.
    let playback_node = |dir: &std::path::Path| scale_out(dir).without("SIGMA_DATABASE_URL");
    let node = playback_node(node_dir.path()).start_playback().await;

    // Health and metrics, and no API.
    for (path, status) in [("/healthz", 200), ("/readyz", 200), ("/v1/channels", 404)] {
        let answer = reqwest::get(format!("{}{path}", node.url)).await.unwrap();
        assert_eq!(
            answer.status().as_u16(),
            status,
            "{path} on the playback node"
        );
    }

    let api = Api::new(&platform.url);
    let (_, token) = api
        .account_with_token(&platform.admin_key, "broadcaster")
        .await;
    let channel = api
        .create_channel(&token, json!({ "name": "stage", "latency_mode": "low" }))
        .await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let camera = Publish {
        real_time: true,
        ..Publish::default()
    };
    let mut camera = publisher(channel["rtmp_url"].as_str().unwrap(), 60, camera)
        .spawn()
        .expect("ffmpeg is installed");
    let media_url = format!("{}/live/{id}/source.m3u8", node.url);
    until_listed(&media_url, 2, Duration::from_secs(30)).await;

    // A node started now learns the channel and its running session from the log alone, and
    // reads the media from the session's start: its catch-up begins where the first node's
    // does.
    let late = playback_node(late_dir.path()).start_playback().await;
    until_listed(
        &format!("{}/live/{id}/source.m3u8", late.url),
        2,
        Duration::from_secs(10),
    )
    .await;
    let session = api.first_session(&token, &id).await;
    let catchup = format!("/vod/{}/source.m3u8", session["id"].as_str().unwrap());
    let first_segment = |url: String| async move {
        let text = reqwest::get(url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|line| line.contains(".m4s"))
            .map(str::to_owned)
    };
    let from_start = first_segment(format!("{}{catchup}", node.url)).await;
    assert!(from_start.is_some(), "the first node has the catch-up");
    assert_eq!(first_segment(format!("{}{catchup}", late.url)).await, from_start);
    for dir in [node_dir.path(), late_dir.path()] {
        assert!(
            !dir.join("sigma.db").exists(),
            "a playback node opens no database"
        );
    }
    late.kill().await;

    // A viewer watches through the node alone; the platform's analytics count it.
    let viewing = Viewing {
        watch: Duration::from_secs(8),
        fetch_segments: true,
    };
    let client = reqwest::Client::new();
    let watched = watch(
        &client,
        &format!("{}/live/{id}/index.m3u8", node.url),
        viewing,
    )
    .await;
    assert!(
        watched.segments >= 6,
        "the node served the media: {watched:?}"
    );
    let measured = watched.watch_ms() as f64 / 1e3;
    let answer = api.analytics_once_watched(&token, &id, measured).await;
    assert_eq!(answer["views"], 1);
    assert_eq!(answer["peak_ccu"], 1);

    // The node counts what it served.
    let reloads = read(
        &node.metrics_url,
        "sigma_http_requests_total{route=\"/live/{channel_id}/{rendition}.m3u8\",status=\"200\"} ",
    )
    .await
    .expect("playlist requests are counted");
    assert!(
        reloads >= watched.reloads as f64,
        "{reloads} playlist requests counted"
    );
    let served = read(
        &node.metrics_url,
        "sigma_playback_cache_total{result=\"hit\"} ",
    )
    .await
    .unwrap_or(0.0)
        + read(
            &node.metrics_url,
            "sigma_playback_cache_total{result=\"miss\"} ",
        )
        .await
        .unwrap_or(0.0);
    assert!(
        served >= watched.segments as f64,
        "{served} media requests counted"
    );

    // The platform, which ingests, counts and times packaging, and says how far behind its
    // consumer groups are.
    let segments = read(
        &platform.metrics_url,
        "sigma_packaged_total{kind=\"segment\"} ",
    )
    .await
    .expect("segments are counted");
    assert!(segments >= 6.0, "{segments} segments packaged");
    let received = read(&platform.metrics_url, "sigma_ingest_bytes_total ")
        .await
        .expect("ingest bytes are counted");
    assert!(received > 50_000.0, "{received} bytes of media received");
    let timed = read(
        &platform.metrics_url,
        "sigma_packaging_seconds_count{kind=\"part\"} ",
    )
    .await
    .expect("packaging is timed");
    assert!(timed >= segments, "every part is timed: {timed}");
    for group in ["sigma-projections", "sigma-analytics"] {
        let lag = read(
            &platform.metrics_url,
            &format!("sigma_consumer_lag_seconds{{group=\"{group}\"}} "),
        )
        .await
        .unwrap_or_else(|| panic!("{group} reports its lag"));
        assert!((0.0..5.0).contains(&lag), "{group} is {lag} s behind");
    }

    // Its heartbeats stop: the platform declares it lost.
    let lost_before = read(&platform.metrics_url, "sigma_nodes_lost_total ")
        .await
        .unwrap_or(0.0);
    node.kill().await;
    until(
        Duration::from_secs(20),
        "the silent playback node is declared lost",
        || async {
            read(&platform.metrics_url, "sigma_nodes_lost_total ")
                .await
                .unwrap_or(0.0)
                > lost_before
        },
    )
    .await;
    camera.kill().await.ok();
}
