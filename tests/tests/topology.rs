//! Failover on the scaled-out topology (`sigma_tests::topology`): tansu, PostgreSQL, an S3
//! server, two control planes, two workers, two playback nodes and a round-robin front, all
//! real processes. Players go through the front; processes die by SIGKILL.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sigma_shared::log::partition_for;
use sigma_shared::secret::KeyFingerprint;
use sigma_tests::api::Api;
use sigma_tests::database::every_row_as_text;
use sigma_tests::hls::{until_final, until_listed};
use sigma_tests::metrics::read as read_metric;
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::receiver::{verify, Behaviour, Receiver};
use sigma_tests::secrets::{any_file_shows, files_showing, histories, mint_and_use};
use sigma_tests::topology::Topology;
use sigma_tests::viewer::{watch, Viewing};
use sigma_tests::wait::{until, until_some};

const CAMERA: Publish = Publish {
    real_time: true,
    zero_latency: false,
    stamped: false,
};

/// A broadcaster's token and a `low` channel (1 s segments) with a minute's reconnect window.
async fn channel(topology: &Topology) -> (String, Value) {
    let api = topology.api(0);
    let (_, token) = api
        .account_with_token(topology.admin_key(), "broadcaster")
        .await;
    let settings =
        json!({ "name": "stage", "latency_mode": "low", "reconnect_window_seconds": 60 });
    let channel = api.create_channel(&token, settings).await;
    (token, channel)
}

async fn types(api: &Api, token: &str, channel: &str) -> Vec<String> {
    api.history(token, channel)
        .await
        .iter()
        .map(|event| event["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn players_through_the_front_continue_when_a_playback_node_dies() {
    let mut topology = Topology::start().await;
    let (token, channel) = channel(&topology).await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let key = channel["stream_key"].as_str().unwrap();
    let mut camera = publisher(&topology.worker_rtmp(0, key), 90, CAMERA)
        .spawn()
        .expect("ffmpeg is installed");
    let front = topology.front.url.clone();
    until_listed(
        &format!("{front}/live/{id}/source.m3u8"),
        2,
        Duration::from_secs(30),
    )
    .await;

    let viewer = tokio::spawn({
        let url = format!("{front}/live/{id}/index.m3u8");
        async move {
            let viewing = Viewing {
                watch: Duration::from_secs(16),
                fetch_segments: true,
            };
            watch(&reqwest::Client::new(), &url, viewing).await
        }
    });
    until(
        Duration::from_secs(10),
        "both nodes serve the viewer",
        || async { topology.front.served().iter().all(|served| *served >= 3) },
    )
    .await;
    let before = topology.front.served();
    topology.kill_playback_node(0).await;
    let watched = viewer.await.expect("the viewer never failed a request");
    let after = topology.front.served();
    assert_eq!(after[0], before[0], "the dead node served nothing more");
    assert!(after[1] > before[1] + 10, "the survivor took every request");
    assert!(
        watched.segments >= 14 && watched.stalls == 0,
        "16 s of 1 s segments without a stall: {watched:?}"
    );

    // The media are in the S3 bucket, written by the worker, read by the playback nodes.
    let stored = topology.s3.keys(&format!("live/{id}/"));
    assert!(
        stored.iter().filter(|key| key.ends_with(".m4s")).count() >= 20,
        "{stored:?}"
    );

    // One player across two nodes is one viewer: its reports from both merge.
    let api = topology.api(1);
    let measured = watched.watch_ms() as f64 / 1e3;
    let answer = api.analytics_once_watched(&token, &id, measured).await;
    assert_eq!(
        (answer["views"].as_u64(), answer["peak_ccu"].as_u64()),
        (Some(1), Some(1))
    );
    camera.kill().await.ok();
}

#[tokio::test]
async fn a_killed_worker_s_publisher_continues_on_the_other_and_players_hardly_notice() {
    let mut topology = Topology::start().await;
    let (token, channel) = channel(&topology).await;
    let api = topology.api(0);
    let id = channel["id"].as_str().unwrap().to_owned();
    let key = channel["stream_key"].as_str().unwrap().to_owned();
    let mut first = publisher(&topology.worker_rtmp(0, &key), 90, CAMERA)
        .spawn()
        .expect("ffmpeg is installed");
    let front = topology.front.url.clone();
    let live = format!("{front}/live/{id}/source.m3u8");
    until_listed(&live, 3, Duration::from_secs(30)).await;

    let viewer = tokio::spawn({
        let url = format!("{front}/live/{id}/index.m3u8");
        async move {
            let viewing = Viewing {
                watch: Duration::from_secs(30),
                fetch_segments: true,
            };
            watch(&reqwest::Client::new(), &url, viewing).await
        }
    });
    until_listed(&live, 6, Duration::from_secs(30)).await;
    // What players were told exists before the kill must all be in the catch-up.
    let listed_before = reqwest::get(&live).await.unwrap().text().await.unwrap();
    let killed_at = std::time::Instant::now();
    topology.kill_worker(0).await;
    let _ = first.wait().await;

    // The broadcaster's encoder reconnects, now reaching the other worker (as behind a
    // balancer); until the dead worker is declared lost the session still has a publisher,
    // and the encoder retries, as OBS does.
    let second_url = topology.worker_rtmp(1, &key);
    let mut second = until_some(
        Duration::from_secs(30),
        "the other worker takes the publisher",
        || async {
            let mut camera = publisher(&second_url, 60, CAMERA).spawn().unwrap();
            match tokio::time::timeout(Duration::from_secs(2), camera.wait()).await {
                Err(_) => Some(camera), // still streaming: accepted
                Ok(_) => None,          // refused; retry
            }
        },
    )
    .await;
    let resumed_after = killed_at.elapsed();
    until(
        Duration::from_secs(30),
        "the same session restreams",
        || async {
            types(&api, &token, &id)
                .await
                .contains(&"session.restream".to_owned())
        },
    )
    .await;
    let history = types(&api, &token, &id).await;
    assert_eq!(
        history.iter().filter(|t| *t == "session.init").count(),
        1,
        "one session: {history:?}"
    );
    assert!(
        history.contains(&"alert.raised".to_owned()),
        "node_lost: {history:?}"
    );

    let watched = viewer.await.expect("the viewer never failed a request");
    assert!(watched.stalls <= 1, "at most one stall: {watched:?}");
    println!(
        "worker killed: publisher accepted by the other worker after {:.1} s; the viewer's longest wait for a segment {} ms, {} stall(s)",
        resumed_after.as_secs_f64(),
        watched.longest_wait_ms,
        watched.stalls
    );

    // The catch-up holds every segment listed before the kill, and the reconnection.
    let session = api.first_session(&token, &id).await;
    let catchup = reqwest::get(format!(
        "{front}/vod/{}/source.m3u8",
        session["id"].as_str().unwrap()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    for segment in listed_before.lines().filter(|line| line.ends_with(".m4s")) {
        assert!(
            catchup.contains(segment),
            "{segment} is missing from the catch-up:\n{catchup}"
        );
    }
    assert!(catchup.contains("#EXT-X-DISCONTINUITY"), "{catchup}");
    second.kill().await.ok();
}

#[tokio::test]
async fn a_broker_restarted_mid_stream_loses_and_duplicates_no_event() {
    let mut topology = Topology::start().await;
    let api = topology.api(0);
    let (_, token) = api
        .account_with_token(topology.admin_key(), "broadcaster")
        .await;
    let settings = json!({ "name": "stage", "latency_mode": "low", "reconnect_window_seconds": 5 });
    let channel = api.create_channel(&token, settings).await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let key = channel["stream_key"].as_str().unwrap().to_owned();
    let mut camera = publisher(&topology.worker_rtmp(0, &key), 20, CAMERA)
        .spawn()
        .expect("ffmpeg is installed");
    let live = format!("{}/live/{id}/source.m3u8", topology.front.url);
    until_listed(&live, 4, Duration::from_secs(30)).await;

    topology.broker.restart().await;
    // The broadcaster goes on (reconnecting, as encoders do, if the worker dropped it).
    if tokio::time::timeout(Duration::from_secs(25), camera.wait())
        .await
        .is_ok()
    {
        camera = publisher(&topology.worker_rtmp(1, &key), 6, CAMERA)
            .spawn()
            .unwrap();
        let _ = camera.wait().await;
    }
    // The session's work goes on after it ends: its storyboard is an event too, appended by
    // the recorder later; the comparison below needs it projected before the processes stop.
    until(
        Duration::from_secs(90),
        "the session ends and its storyboard is closed",
        || async {
            let types = types(&api, &token, &id).await;
            ["session.ended", "storyboard.ready"]
                .iter()
                .all(|wanted| types.iter().any(|one| one == wanted))
        },
    )
    .await;
    // Settled: an API write returns once its partition is projected up to it.
    api.patch(
        &format!("/v1/channels/{id}"),
        &token,
        json!({ "name": "settled" }),
    )
    .await
    .ok();
    let history = api.history(&token, &id).await;
    let sequences: Vec<i64> = history
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(
        sequences,
        (1..=history.len() as i64).collect::<Vec<_>>(),
        "no gap, no repeat"
    );
    for unique in ["session.init", "session.live", "session.ended"] {
        let count = history.iter().filter(|e| e["type"] == unique).count();
        assert_eq!(count, 1, "{unique} once: {history:?}");
    }

    // The read models the live processes built are what a replay of the log builds.
    for control_plane in std::mem::take(&mut topology.control_planes) {
        control_plane.kill().await;
    }
    let live_models = sigma_tests::database::dump_read_models(&topology.database.url).await;
    let fresh = sigma_tests::database::TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    sigma_tests::process::SigmaConfig::scale_out(
        dir.path(),
        &topology.broker.brokers(),
        &fresh.url,
    )
    .replay()
    .await;
    let replayed = sigma_tests::database::dump_read_models(&fresh.url).await;
    for ((table, live_rows), (_, replayed_rows)) in live_models.iter().zip(&replayed) {
        assert_eq!(live_rows.len(), replayed_rows.len(), "{table}: row counts");
    }
    assert_eq!(
        live_models, replayed,
        "the replay built different read models"
    );
}

/// Issue 5's and the recording's end to end on the topology: a session ingested by a worker is
/// recorded from S3 by a control plane, its events reach a webhook receiver signed and in order
/// with the history's ids, and the recording is served with byte ranges through the front.
#[tokio::test]
async fn a_session_on_the_topology_is_recorded_in_s3_and_its_webhooks_arrive_in_order() {
    // The receiver listens on loopback.
    let allow_private = [("SIGMA_WEBHOOK_ALLOW_PRIVATE".to_owned(), "1".to_owned())];
    let topology = Topology::start_with(&allow_private).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let api = topology.api(1);
    let (_, token) = api
        .account_with_token(topology.admin_key(), "broadcaster")
        .await;
    let hook = api
        .post("/v1/webhooks", &token, json!({ "url": receiver.url() }))
        .await
        .ok();
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let settings = json!({
        "name": "studio",
        "latency_mode": "low",
        "record_source": true,
        "reconnect_window_seconds": 3
    });
    let channel = api.create_channel(&token, settings).await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let key = channel["stream_key"].as_str().unwrap();
    let status = publisher(&topology.worker_rtmp(1, key), 5, Publish::default())
        .status()
        .await
        .unwrap();
    assert!(status.success());

    let session = until_some(
        Duration::from_secs(60),
        "the recording is ready",
        || async {
            let session = api.first_session(&token, &id).await;
            session["recording_url"].is_string().then_some(session)
        },
    )
    .await;
    let history = api.history(&token, &id).await;
    let ids: Vec<&str> = history.iter().map(|e| e["id"].as_str().unwrap()).collect();
    until(
        Duration::from_secs(30),
        "every event is delivered",
        || async {
            let got: std::collections::HashSet<String> = receiver
                .received()
                .into_iter()
                .map(|one| one.event_id)
                .collect();
            ids.iter().all(|id| got.contains(*id))
        },
    )
    .await;
    let mut seen = std::collections::HashSet::new();
    let arrivals: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|one| one.body["channel_id"] == id.as_str() && seen.insert(one.event_id.clone()))
        .collect();
    let arrived: Vec<&str> = arrivals.iter().map(|one| one.event_id.as_str()).collect();
    assert_eq!(
        arrived, ids,
        "webhooks in the history's order, with its ids"
    );
    for one in &arrivals {
        assert!(
            verify(one, &secret).0,
            "a valid signature on {}",
            one.event_id
        );
    }
    let types: Vec<&str> = history
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for wanted in [
        "session.init",
        "session.live",
        "session.ended",
        "recording.ready",
    ] {
        assert!(types.contains(&wanted), "{wanted}: {types:?}");
    }

    // The recording was assembled from S3 and is served from S3, whole and by range.
    let recording_key = format!("recordings/{}.mp4", session["id"].as_str().unwrap());
    assert_eq!(
        topology.s3.keys(&recording_key),
        std::slice::from_ref(&recording_key)
    );
    let path = session["recording_url"].as_str().unwrap();
    let path = &path[path.find("/recordings/").unwrap()..];
    let client = reqwest::Client::new();
    let whole = client
        .get(format!("{}{path}", topology.front.url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        whole.len() as u64,
        session["recording_bytes"].as_u64().unwrap()
    );
    let part = client
        .get(format!("{}{path}", topology.front.url))
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), whole.slice(100..200));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("recording.mp4");
    std::fs::write(&file, &whole).unwrap();
    assert_eq!(sigma_tests::probe::decode_errors(&file), "", "it decodes");
    assert_eq!(
        sigma_tests::probe::video_frames(&file),
        5 * 30,
        "every frame"
    );
}

#[tokio::test]
async fn a_killed_primary_s_backup_on_the_other_worker_takes_the_air_and_the_catch_up_plays_across()
{
    let topology = Topology::start().await;
    let (token, channel) = channel(&topology).await;
    let api = topology.api(0);
    let id = channel["id"].as_str().unwrap().to_owned();
    let key = channel["stream_key"].as_str().unwrap().to_owned();
    let mut primary = publisher(&topology.worker_rtmp(0, &key), 90, CAMERA)
        .spawn()
        .expect("ffmpeg is installed");
    let front = topology.front.url.clone();
    let live = format!("{front}/live/{id}/source.m3u8");
    until_listed(&live, 2, Duration::from_secs(30)).await;
    let backup_url = topology.worker_rtmp(1, &format!("{key}?backup=1"));
    let mut backup = publisher(&backup_url, 90, CAMERA).spawn().unwrap();
    until(Duration::from_secs(30), "the backup stands by", || async {
        api.first_session(&token, &id).await["backup_connected"] == true
    })
    .await;

    let viewer = tokio::spawn({
        let url = format!("{front}/live/{id}/index.m3u8");
        async move {
            let viewing = Viewing {
                watch: Duration::from_secs(20),
                fetch_segments: true,
            };
            watch(&reqwest::Client::new(), &url, viewing).await
        }
    });
    until_listed(&live, 6, Duration::from_secs(30)).await;
    let listed_before = reqwest::get(&live).await.unwrap().text().await.unwrap();
    primary.kill().await.unwrap();
    let killed_at = std::time::Instant::now();
    until(
        Duration::from_secs(20),
        "the backup's media are listed",
        || async {
            let playlist = reqwest::get(&live).await.unwrap().text().await.unwrap();
            playlist
                .split("#EXT-X-DISCONTINUITY\n")
                .nth(1)
                .is_some_and(|after| after.lines().any(|line| line.ends_with(".m4s")))
        },
    )
    .await;
    let resumed = killed_at.elapsed();
    let watched = viewer.await.expect("the viewer never failed a request");
    println!(
        "primary killed: the backup's first segment listed through the front after {:.1} s; the viewer's longest wait {} ms, {} stall(s)",
        resumed.as_secs_f64(),
        watched.longest_wait_ms,
        watched.stalls
    );
    // The stall threshold (3 s) does not even apply: a dead encoder's connection closes.
    assert!(
        resumed <= Duration::from_secs(4 + 1),
        "within the threshold plus one segment: {resumed:?}"
    );
    assert!(watched.stalls <= 1, "at most one stall: {watched:?}");

    let session = api.first_session(&token, &id).await;
    assert_eq!(session["on_air_input"], "backup");
    assert_eq!(session["failover_count"], 1);
    let history = types(&api, &token, &id).await;
    assert_eq!(
        history.iter().filter(|t| *t == "session.init").count(),
        1,
        "one session: {history:?}"
    );
    assert!(
        history.contains(&"session.failover".to_owned()),
        "{history:?}"
    );
    assert!(
        !history.contains(&"session.ended".to_owned()),
        "{history:?}"
    );

    // The broadcast ends; its catch-up has what players saw before the kill, the switch, and
    // plays through with presentation times only going forward.
    until_listed(&live, 12, Duration::from_secs(30)).await;
    api.post(&format!("/v1/channels/{id}/stop"), &token, json!({}))
        .await
        .ok();
    let _ = backup.wait().await;
    let session_id = session["id"].as_str().unwrap().to_owned();
    let vod_url = format!("{front}/vod/{session_id}/source.m3u8");
    let vod = until_final(&vod_url, Duration::from_secs(30)).await;
    for segment in listed_before.lines().filter(|line| line.ends_with(".m4s")) {
        assert!(vod.contains(segment), "{segment} is missing:\n{vod}");
    }
    assert_eq!(vod.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{vod}");
    let frames = sigma_tests::probe::play_frames(&["-i", &vod_url], &[]).await;
    assert!(
        frames.windows(2).all(|pair| pair[0] < pair[1]),
        "presentation times only go forward across the switch"
    );
    assert!(frames.len() >= 12 * 30, "{} frames", frames.len());
}

#[tokio::test]
async fn a_channel_deleted_mid_session_is_gone_from_both_playback_nodes_within_5_s() {
    let topology = Topology::start().await;
    let (token, channel) = channel(&topology).await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let key = channel["stream_key"].as_str().unwrap();
    let _camera = publisher(&topology.worker_rtmp(0, key), 60, CAMERA)
        .spawn()
        .expect("ffmpeg is installed");
    let api = topology.api(0);
    let nodes: Vec<String> = topology
        .playback_nodes
        .iter()
        .map(|node| node.as_ref().unwrap().url.clone())
        .collect();
    for node in &nodes {
        until_listed(
            &format!("{node}/live/{id}/source.m3u8"),
            2,
            Duration::from_secs(30),
        )
        .await;
    }
    let session = api.first_session(&token, &id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let routes = |node: &str| {
        [
            format!("{node}/live/{id}/index.m3u8"),
            format!("{node}/live/{id}/source.m3u8"),
            format!("{node}/vod/{session}/index.m3u8"),
            format!("{node}/vod/{session}/source.m3u8"),
        ]
    };
    let status = |url: String| async move { reqwest::get(&url).await.unwrap().status().as_u16() };
    for node in &nodes {
        for url in routes(node) {
            assert_eq!(status(url.clone()).await, 200, "{url} before");
        }
    }
    let answer = api.delete(&format!("/v1/channels/{id}"), &token).await;
    assert!(answer.status.is_success(), "{}", answer.body);
    let deleted = std::time::Instant::now();
    for node in &nodes {
        for url in routes(node) {
            until(Duration::from_secs(5), "the route is gone", || {
                let url = url.clone();
                async move { status(url).await == 404 }
            })
            .await;
        }
    }
    let took = deleted.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    eprintln!("both playback nodes answer 404 {took:?} after the delete");
}

#[tokio::test]
async fn no_stream_key_or_webhook_secret_is_in_the_topics_the_tables_or_the_data_dirs() {
    let allow_private = [("SIGMA_WEBHOOK_ALLOW_PRIVATE".to_owned(), "1".to_owned())];
    let topology = Topology::start_with(&allow_private).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let minted = mint_and_use(&topology.api(0), topology.admin_key(), &receiver).await;

    // The other control plane opens the key it did not seal: they share the secrets key.
    let id = &minted.channel_ids[0];
    let read = topology
        .api(1)
        .get(&format!("/v1/channels/{id}"), &minted.token)
        .await
        .ok();
    assert_eq!(read["stream_key"], minted.stream_keys[2].as_str());

    let events = serde_json::to_vec(&histories(&topology.api(1), &minted).await).unwrap();
    assert_eq!(
        minted.shown_in(&events),
        Vec::<&str>::new(),
        "the events API"
    );
    for one in receiver.received() {
        assert_eq!(
            minted.shown_in(&one.raw),
            Vec::<&str>::new(),
            "a webhook body"
        );
    }
    let tables = every_row_as_text(&topology.database.url).await;
    assert!(
        tables.contains(&minted.channel_ids[1]),
        "the dump has the channels"
    );
    assert_eq!(
        minted.shown_in(tables.as_bytes()),
        Vec::<&str>::new(),
        "the PostgreSQL tables"
    );
    let broker = topology.broker.data_dir();
    // The search looks where the events are: their data (a key's fingerprint) is found.
    let fingerprint = KeyFingerprint::of(&minted.stream_keys[0]);
    assert!(
        any_file_shows(broker, fingerprint.as_str()),
        "the broker's storage has the channels' events"
    );
    let topics = files_showing(broker, &minted);
    assert_eq!(topics, vec![], "the broker's storage (every topic)");
    for dir in topology.data_dirs() {
        assert_eq!(files_showing(dir, &minted), vec![], "a process's data dir");
    }
}

/// Whether the control plane whose metrics are at `url` decides `partition`.
async fn decides(url: &str, partition: u32) -> bool {
    let line = format!("sigma_decider_partition_owned{{partition=\"{partition}\"}} ");
    read_metric(url, &line).await == Some(1.0)
}

/// The control plane that decides the channel `id`: which one holds its session timers.
async fn decider_of(topology: &Topology, id: &str) -> usize {
    let partition = partition_for(id, 8);
    until_some(
        Duration::from_secs(30),
        "a control plane decides the channel",
        || async {
            for (n, control_plane) in topology.control_planes.iter().enumerate() {
                if decides(&control_plane.metrics_url, partition).await {
                    return Some(n);
                }
            }
            None
        },
    )
    .await
}

/// Kills control plane `n` and returns when the survivor was seen deciding the channel `id`.
async fn kill_decider(topology: &mut Topology, n: usize, id: &str) -> DateTime<Utc> {
    topology.kill_control_plane(n).await;
    let survivor = topology.control_planes[0].metrics_url.clone();
    let partition = partition_for(id, 8);
    until(
        Duration::from_secs(60),
        "the survivor takes the partition over",
        || decides(&survivor, partition),
    )
    .await;
    Utc::now()
}

/// The first event of `event_type` in the channel's history.
async fn event_of(api: &Api, token: &str, id: &str, event_type: &str) -> Value {
    until_some(Duration::from_secs(60), event_type, || async {
        api.history(token, id)
            .await
            .into_iter()
            .find(|event| event["type"] == event_type)
    })
    .await
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// The session ended for `reason`: never before its deadline (the decider refuses that), and
/// within a second of it — or of the takeover, when that came later (`took_over` is when the
/// test saw it, no earlier).
fn assert_ended_on_time(
    ended: &Value,
    reason: &str,
    deadline: DateTime<Utc>,
    took_over: DateTime<Utc>,
) {
    assert_eq!(ended["data"]["reason"], reason, "{ended}");
    let ended_at = instant(&ended["occurred_at"]);
    assert!(ended_at >= deadline, "ended before the deadline: {ended}");
    let late = (ended_at - deadline.max(took_over)).as_seconds_f64();
    assert!(
        late <= 1.0,
        "ended {late:.3} s after max(deadline, takeover)"
    );
    eprintln!(
        "{reason}: ended {:.3} s after the deadline; the takeover was seen {:.3} s after it",
        (ended_at - deadline).as_seconds_f64(),
        (took_over - deadline).as_seconds_f64()
    );
}

#[tokio::test]
async fn a_reconnect_window_ends_on_time_when_the_control_plane_deciding_it_is_killed() {
    let mut topology = Topology::start().await;
    let settings =
        json!({ "name": "stage", "latency_mode": "low", "reconnect_window_seconds": 10 });
    let (token, channel) = topology
        .api(0)
        .broadcaster_channel(topology.admin_key(), settings)
        .await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let owner = decider_of(&topology, &id).await;
    let api = topology.api(1 - owner);
    let mut publisher = publisher(channel["rtmp_url"].as_str().unwrap(), 3, CAMERA)
        .spawn()
        .unwrap();
    publisher.wait().await.unwrap();
    let gone = event_of(&api, &token, &id, "session.publisher_disconnected").await;

    let took_over = kill_decider(&mut topology, owner, &id).await;
    let ended = event_of(&api, &token, &id, "session.ended").await;
    let deadline = instant(&gone["data"]["at"]) + chrono::Duration::seconds(10);
    assert_ended_on_time(&ended, "publisher_gone", deadline, took_over);
}

#[tokio::test]
async fn a_maximum_duration_ends_on_time_when_the_control_plane_deciding_it_is_killed() {
    let mut topology = Topology::start().await;
    let settings = json!({ "name": "stage", "latency_mode": "low", "max_session_seconds": 30 });
    let (token, channel) = topology
        .api(0)
        .broadcaster_channel(topology.admin_key(), settings)
        .await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let owner = decider_of(&topology, &id).await;
    let api = topology.api(1 - owner);
    let _publisher = publisher(channel["rtmp_url"].as_str().unwrap(), 60, CAMERA)
        .spawn()
        .unwrap();
    let started = event_of(&api, &token, &id, "session.init").await;
    let started_at = instant(&started["data"]["started_at"]);

    let kill_at = started_at + chrono::Duration::seconds(20);
    tokio::time::sleep((kill_at - Utc::now()).to_std().unwrap_or_default()).await;
    let took_over = kill_decider(&mut topology, owner, &id).await;
    let ended = event_of(&api, &token, &id, "session.ended").await;
    let deadline = started_at + chrono::Duration::seconds(30);
    assert_ended_on_time(&ended, "max_duration", deadline, took_over);
}
