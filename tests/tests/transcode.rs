//! The ABR ladder end to end: ffmpeg publishes a 320x180 stream to an `abr` channel; the
//! multivariant playlist lists the source and every rung below it with correct attributes; each
//! rendition decodes at its size, with keyframes at the same presentation times as the others;
//! hls.js switches between them without a stall; and a killed transcoder raises an alert and
//! restarts while the source rendition never stops.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::browser::{watch, Watch};
use sigma_tests::hls::{validate_media, validate_multivariant};
use sigma_tests::probe;
use sigma_tests::process::{children, Sigma, SigmaConfig};
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::wait::until;

/// Rungs below the 320x180 test source: 256x144 and 160x90.
const LADDER: &str = "144:250,90:120";
const RENDITIONS: [(&str, &str); 3] = [
    ("source", "320x180"),
    ("144p", "256x144"),
    ("90p", "160x90"),
];

async fn text(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn bytes(url: &str) -> Vec<u8> {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.unwrap().to_vec()
}

/// A live `abr` channel and what the tests use of it.
struct Live {
    api: Api,
    token: String,
    channel: Value,
    /// `…/live/{channel_id}`.
    base: String,
    publishing: tokio::process::Child,
}

/// A running `abr` channel in `mode` with a real-time publisher of `seconds`, once every
/// rendition lists `segments` segments.
async fn abr_channel(sigma: &Sigma, mode: &str, seconds: u32, segments: usize) -> Live {
    let api = Api::new(&sigma.url);
    // No thumbnails: the only ffmpeg is the ladder's.
    let settings = json!({
        "name": "ladder",
        "latency_mode": mode,
        "transcode": "abr",
        "thumbnail_interval_seconds": 0
    });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let options = Publish {
        real_time: true,
        zero_latency: false,
        stamped: false,
    };
    let publishing = publisher(channel["rtmp_url"].as_str().unwrap(), seconds, options)
        .stdout(Stdio::null())
        .spawn()
        .expect("ffmpeg is installed");
    let base = format!("{}/live/{}", sigma.url, channel["id"].as_str().unwrap());
    until(
        Duration::from_secs(40),
        "every rendition lists segments",
        || async {
            let mut ready = true;
            for (name, _) in RENDITIONS {
                let playlist = text(&format!("{base}/{name}.m3u8")).await;
                ready &= playlist.matches("#EXTINF").count() >= segments;
            }
            ready
        },
    )
    .await;
    Live {
        api,
        token,
        channel,
        base,
        publishing,
    }
}

async fn start(dir: &std::path::Path) -> Sigma {
    SigmaConfig::standalone(dir)
        .with("SIGMA_ABR_LADDER", LADDER)
        .start()
        .await
}

/// `(msn, duration, uri)` of each segment of a valid media playlist (LL-HLS if `low_latency`).
fn segments(playlist: &str, low_latency: bool) -> Vec<(u64, String, String)> {
    let summary = validate_media(playlist, low_latency).unwrap_or_else(|errors| {
        panic!("invalid playlist: {errors:?}\n{playlist}");
    });
    let mut msn = summary.media_sequence;
    let mut out = Vec::new();
    let mut lines = playlist.lines();
    while let Some(line) = lines.next() {
        if let Some(duration) = line.strip_prefix("#EXTINF:") {
            let uri = lines.next().unwrap().to_owned();
            out.push((msn, duration.trim_end_matches(',').to_owned(), uri));
            msn += 1;
        }
    }
    out
}

#[tokio::test]
async fn every_rendition_has_its_size_and_the_same_keyframes() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = start(dir.path()).await;
    let Live {
        base,
        mut publishing,
        ..
    } = abr_channel(&sigma, "ultra_low", 8, 4).await;

    let top = text(&format!("{base}/index.m3u8")).await;
    let variants = validate_multivariant(&top).unwrap_or_else(|errors| panic!("{errors:?}\n{top}"));
    assert_eq!(variants.len(), 3, "{top}");
    for ((name, size), variant) in RENDITIONS.iter().zip(&variants) {
        // Every rendition URL names the one playback session this request opened.
        let (file, playback) = variant.uri.split_once("?pb=").expect("a playback session");
        assert_eq!(file, format!("{name}.m3u8"));
        assert_eq!(playback, variants[0].uri.split_once("?pb=").unwrap().1);
        let resolution = variant.resolution.expect("RESOLUTION");
        assert_eq!(format!("{}x{}", resolution.width, resolution.height), *size);
        assert!(
            variant.codecs.as_deref().unwrap().starts_with("avc1."),
            "{top}"
        );
        assert!(
            variant.codecs.as_deref().unwrap().contains("mp4a.40.2"),
            "{top}"
        );
        assert!(variant.average_bandwidth.unwrap() <= variant.bandwidth);
        let rate = variant.frame_rate.expect("FRAME-RATE");
        assert!((rate - 30.0).abs() < 0.5, "{rate}");
    }

    // The same segments, cut at the same keyframes, in every rendition.
    let mut listed: HashMap<&str, Vec<(u64, String, String)>> = HashMap::new();
    for (name, _) in RENDITIONS {
        let playlist = text(&format!("{base}/{name}.m3u8")).await;
        for (other, _) in RENDITIONS.iter().filter(|(other, _)| *other != name) {
            assert!(
                playlist.contains(&format!("#EXT-X-RENDITION-REPORT:URI=\"{other}.m3u8\"")),
                "{playlist}"
            );
        }
        listed.insert(name, segments(&playlist, true));
    }
    let common: Vec<u64> = listed["90p"]
        .iter()
        .map(|(msn, _, _)| *msn)
        .take(3)
        .collect();
    let mut keys: Vec<Vec<i64>> = Vec::new();
    for (name, size) in RENDITIONS {
        let mut file = bytes(&format!(
            "{base}/{}",
            listed[name][0].2.rsplit_once('/').unwrap().0.to_owned() + "/init.mp4"
        ))
        .await;
        for msn in &common {
            let (_, duration, uri) = listed[name].iter().find(|(m, _, _)| m == msn).unwrap();
            let (_, reference, _) = listed["source"].iter().find(|(m, _, _)| m == msn).unwrap();
            let (ours, theirs): (f64, f64) =
                (duration.parse().unwrap(), reference.parse().unwrap());
            assert!(
                (ours - theirs).abs() < 0.04,
                "{name} segment {msn}: {ours} vs {theirs}"
            );
            file.extend(bytes(&format!("{base}/{uri}")).await);
        }
        let path = dir.path().join(format!("{name}.mp4"));
        std::fs::write(&path, file).unwrap();
        assert_eq!(
            probe::video(&path, "stream=codec_name,width,height"),
            format!("h264,{}", size.replace('x', ","))
        );
        keys.push(probe::keyframes(&path));
    }
    assert_eq!(keys[0].len(), 3, "one keyframe per 1 s segment: {keys:?}");
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "keyframes align: {keys:?}"
    );
    publishing.wait().await.unwrap();
}

#[tokio::test]
async fn hls_js_switches_renditions_without_a_stall() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = start(dir.path()).await;
    // `low` (1 s segments, a few seconds of buffer): a rendition switch must not empty it.
    // (LL-HLS playback, which keeps well under a second of buffer, is covered by playback.rs.)
    let live = abr_channel(&sigma, "low", 20, 2).await;
    let viewing = watch(
        &format!("{}/index.m3u8", live.base),
        12,
        Watch {
            low_latency: false,
            stamped: false,
            switching: true,
        },
    )
    .await;
    assert!(viewing.supported);
    assert!(viewing.fatal.is_empty(), "{viewing:?}");
    let mut heights = viewing.level_heights.clone();
    heights.sort_unstable();
    assert_eq!(
        heights,
        [90, 144, 180],
        "every rendition offered: {viewing:?}"
    );
    let played: std::collections::BTreeSet<_> = viewing.switched_to.iter().collect();
    assert!(
        played.len() >= 2,
        "played more than one rendition: {viewing:?}"
    );
    assert!(viewing.advanced_seconds > 7.0, "{viewing:?}");
    assert_eq!(viewing.stalls, 0, "{viewing:?}");
}

/// The ffmpeg processes `sigma` runs.
fn ffmpeg_children(sigma: &Sigma) -> Vec<u32> {
    children(sigma.pid())
        .into_iter()
        .filter(|(_, name)| name == "ffmpeg")
        .map(|(pid, _)| pid)
        .collect()
}

#[tokio::test]
async fn a_killed_transcoder_raises_an_alert_restarts_and_the_source_never_stops() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = start(dir.path()).await;
    let Live {
        api,
        token,
        channel,
        base,
        mut publishing,
    } = abr_channel(&sigma, "low", 16, 2).await;
    let transcoders = ffmpeg_children(&sigma);
    assert_eq!(transcoders.len(), 1, "one ffmpeg for the whole ladder");
    let listed = |name: &'static str| {
        let base = base.clone();
        async move {
            text(&format!("{base}/{name}.m3u8"))
                .await
                .matches("#EXTINF")
                .count()
        }
    };
    let before = listed("90p").await;
    std::process::Command::new("kill")
        .args(["-9", &transcoders[0].to_string()])
        .status()
        .unwrap();

    let id = channel["id"].as_str().unwrap();
    until(Duration::from_secs(20), "an alert is recorded", || async {
        let history = api
            .get(&format!("/v1/channels/{id}/events"), &token)
            .await
            .ok();
        history["data"].as_array().unwrap().iter().any(|event| {
            event["type"] == "alert.raised" && event["data"]["code"] == "transcoder_failed"
        })
    })
    .await;
    until(
        Duration::from_secs(20),
        "the ladder produces again",
        || async { listed("90p").await >= before + 3 },
    )
    .await;
    let restarted = ffmpeg_children(&sigma);
    assert_eq!(restarted.len(), 1);
    assert_ne!(restarted, transcoders, "a new ffmpeg");
    assert!(publishing.wait().await.unwrap().success());

    // The source played on: one unbroken run of segments, every one about a second long.
    let source = text(&format!("{base}/source.m3u8")).await;
    assert!(!source.contains("#EXT-X-DISCONTINUITY"), "{source}");
    let durations: Vec<f64> = segments(&source, false)
        .iter()
        .map(|(_, duration, _)| duration.parse().unwrap())
        .collect();
    assert!(durations.len() >= 14, "{source}");
    assert!(
        durations.iter().all(|d| (0.9..1.2).contains(d)),
        "{durations:?}"
    );
}

#[tokio::test]
async fn without_ffmpeg_an_abr_channel_plays_its_source_and_says_why() {
    let (dir, nothing) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A PATH with no ffmpeg on it.
    let mut config =
        SigmaConfig::standalone(dir.path()).with("PATH", nothing.path().display().to_string());
    let sigma = config.start().await;
    assert!(
        config.stderr_tail().contains("ffmpeg is not installed"),
        "a clear error at start-up: {}",
        config.stderr_tail()
    );
    let api = Api::new(&sigma.url);
    let settings = json!({ "name": "ladder", "transcode": "abr" });
    let (token, channel) = api.broadcaster_channel(&sigma.admin_key, settings).await;
    let id = channel["id"].as_str().unwrap();
    let status = publisher(channel["rtmp_url"].as_str().unwrap(), 3, Publish::default())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "passthrough ingest works without ffmpeg");
    until(Duration::from_secs(20), "the alert is recorded", || async {
        let history = api
            .get(&format!("/v1/channels/{id}/events"), &token)
            .await
            .ok();
        history["data"].as_array().unwrap().iter().any(|event| {
            event["type"] == "alert.raised" && event["data"]["code"] == "transcoder_unavailable"
        })
    })
    .await;
    let top = text(&format!("{}/live/{id}/index.m3u8", sigma.url)).await;
    assert_eq!(top.matches("#EXT-X-STREAM-INF").count(), 1, "{top}");
    assert!(top.contains("source.m3u8"), "{top}");
}
