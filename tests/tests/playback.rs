//! Playback, from the outside: ffmpeg publishes in real time; the playback server's playlists
//! describe the stream (LL-HLS parts, preload hints and blocking reloads in `ultra_low`,
//! whole segments in `low`), and ffmpeg as a player decodes the stream with no errors.

use std::time::{Duration, Instant};

use serde_json::json;
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::hls::{validate_media, validate_multivariant};
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::Publish;
use sigma_tests::wait::until;

/// ffmpeg publishing `seconds` of test pattern and tone in real time.
fn publish(url: &str, seconds: u32) -> tokio::process::Child {
    let options = Publish {
        real_time: true,
        zero_latency: true,
        stamped: false,
    };
    sigma_tests::publish::publisher(url, seconds, options)
        .spawn()
        .expect("ffmpeg is installed")
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A live channel in `mode` with a publisher running, once `segments` segments are listed;
/// returns its playback URL base.
async fn live_channel(
    sigma: &Deployment,
    mode: &str,
    segments: usize,
) -> (String, tokio::process::Child) {
    let api = Api::new(&sigma.url);
    let (_, token) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let channel = api
        .create_channel(&token, json!({ "name": "stage", "latency_mode": mode }))
        .await;
    let publisher = publish(channel["rtmp_url"].as_str().unwrap(), 20);
    let base = format!("{}/live/{}", sigma.url, channel["id"].as_str().unwrap());
    let media = format!("{base}/source.m3u8");
    until(Duration::from_secs(30), "segments are listed", || async {
        get(&media).await.1.matches("#EXTINF").count() >= segments
    })
    .await;
    (base, publisher)
}

/// ffmpeg plays two seconds of the multivariant playlist: it decodes without a complaint and
/// every video frame is there, one frame duration apart. (ffmpeg counts the two seconds from the
/// earliest sample of any stream: when a segment's first audio sample precedes its keyframe by
/// a frame or more, as the encoder's interleaving under load allows, the cut leaves 59.)
async fn plays_two_seconds(base: &str) {
    let frames =
        sigma_tests::probe::play_frames(&["-i", &format!("{base}/index.m3u8")], &["-t", "2"]).await;
    let steps: std::collections::BTreeSet<i64> =
        frames.windows(2).map(|pair| pair[1] - pair[0]).collect();
    assert_eq!(steps.len(), 1, "no gap, no jump: {frames:?}");
    assert!(
        (59..=60).contains(&frames.len()),
        "two seconds at 30 fps: {} frames {frames:?}",
        frames.len()
    );
}

#[tokio::test]
async fn ultra_low_latency_serves_ll_hls_with_blocking_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let (base, _publisher) = live_channel(&sigma, "ultra_low", 3).await;

    let (status, multivariant) = get(&format!("{base}/index.m3u8")).await;
    assert_eq!(status, 200);
    assert!(
        multivariant.contains("CODECS=\"avc1.") && multivariant.contains(",mp4a.40.2\""),
        "{multivariant}"
    );
    assert!(
        multivariant.contains("RESOLUTION=320x180"),
        "{multivariant}"
    );

    let (_, media) = get(&format!("{base}/source.m3u8")).await;
    for tag in [
        "#EXT-X-PART-INF:PART-TARGET=0.200",
        "CAN-BLOCK-RELOAD=YES",
        "PART-HOLD-BACK=0.600",
        "#EXT-X-PRELOAD-HINT:TYPE=PART",
        "#EXT-X-PART:DURATION=",
        "#EXT-X-MAP:URI=",
        "#EXT-X-PROGRAM-DATE-TIME:",
    ] {
        assert!(media.contains(tag), "{tag} missing:\n{media}");
    }

    // A blocking reload for the next part returns when it exists, well before the timeout.
    let sequence: u64 = media
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .unwrap()
        .parse()
        .unwrap();
    let segments = media.matches("#EXTINF").count() as u64;
    let next = sequence + segments;
    let started = Instant::now();
    let (status, blocked) = get(&format!("{base}/source.m3u8?_HLS_msn={next}&_HLS_part=2")).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the reload took {:?}",
        started.elapsed()
    );
    assert!(
        blocked.matches("#EXT-X-PART:").count() > media.matches("#EXT-X-PART:").count()
            || blocked.matches("#EXTINF").count() > segments as usize
    );
    let (status, _) = get(&format!("{base}/source.m3u8?_HLS_msn={}", next + 5)).await;
    assert_eq!(status, 400, "a reload far beyond the live edge is refused");
    let (status, _) = get(&format!("{base}/source.m3u8?_HLS_part=1")).await;
    assert_eq!(status, 400, "_HLS_part needs _HLS_msn");

    // The preload-hinted part is answered as soon as it exists.
    let hint = blocked
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let (status, _) = get(&format!("{base}/{hint}")).await;
    assert_eq!(status, 200, "the hinted part {hint}");

    // Recent parts are served from memory: gone from the store, still served.
    let channel_id = base.rsplit('/').next().unwrap();
    let stored = dir.path().join("media/live").join(channel_id).join(&hint);
    let length = std::fs::metadata(&stored).unwrap().len();
    std::fs::remove_file(&stored).unwrap();
    let again = reqwest::get(format!("{base}/{hint}")).await.unwrap();
    assert_eq!(again.status(), 200, "a cached part needs no store read");
    assert_eq!(again.bytes().await.unwrap().len() as u64, length);

    // Hostile paths are 404s.
    for hostile in ["../../../etc/passwd", "a/b/..%2F..%2Fsigma.db", "x/y/z.txt"] {
        assert_eq!(get(&format!("{base}/{hostile}")).await.0, 404, "{hostile}");
    }
    plays_two_seconds(&base).await;
}

#[tokio::test]
async fn low_latency_serves_whole_segments_that_ffmpeg_plays() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let (base, _publisher) = live_channel(&sigma, "low", 3).await;
    let (_, media) = get(&format!("{base}/source.m3u8")).await;
    assert!(
        !media.contains("#EXT-X-PART"),
        "low latency lists no parts:\n{media}"
    );
    assert!(media.contains("#EXT-X-TARGETDURATION:1"), "{media}");
    plays_two_seconds(&base).await;
    assert_eq!(
        get(&format!(
            "{}/live/ch_00000000000000000000000000000000/index.m3u8",
            sigma.url
        ))
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn every_playlist_of_every_mode_passes_the_rfc_8216bis_validator() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let (normal, _a) = live_channel(&sigma, "normal", 1).await;
    let (low, _b) = live_channel(&sigma, "low", 2).await;
    let (ultra_low, _c) = live_channel(&sigma, "ultra_low", 2).await;

    let mut checked = 0;
    for _ in 0..10 {
        for (base, low_latency) in [(&normal, false), (&low, false), (&ultra_low, true)] {
            let variants = validate_multivariant(&get(&format!("{base}/index.m3u8")).await.1)
                .unwrap_or_else(|p| panic!("{base}: {p:?}"));
            assert_eq!(
                variants[0].resolution.map(|r| (r.width, r.height)),
                Some((320, 180))
            );
            let mut urls = vec![format!("{base}/source.m3u8")];
            if low_latency {
                urls.push(format!("{base}/source.m3u8?_HLS_skip=YES"));
            }
            for url in urls {
                let text = get(&url).await.1;
                let summary = validate_media(&text, low_latency)
                    .unwrap_or_else(|problems| panic!("{url}:\n{text}\n{problems:#?}"));
                if low_latency {
                    assert_eq!(summary.part_target, Some(0.2));
                    // A blocking reload for the segment in progress validates too.
                    let next = summary.media_sequence + summary.skipped + summary.segments as u64;
                    let blocked = get(&format!("{base}/source.m3u8?_HLS_msn={next}&_HLS_part=0"))
                        .await
                        .1;
                    validate_media(&blocked, true).unwrap_or_else(|problems| {
                        panic!("blocking reload:\n{blocked}\n{problems:#?}")
                    });
                } else {
                    let expected_target = if base == &normal { 4 } else { 1 };
                    assert!(
                        summary.target_duration >= expected_target,
                        "{url}: target {}",
                        summary.target_duration
                    );
                }
                checked += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(checked, 40);
}

#[tokio::test]
async fn a_blocking_reload_returns_within_50_ms_of_the_part_being_stored() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let (base, _publisher) = live_channel(&sigma, "ultra_low", 1).await;
    let channel_id = base.rsplit('/').next().unwrap().to_owned();

    let mut delays = Vec::new();
    for _ in 0..20 {
        let media = get(&format!("{base}/source.m3u8")).await.1;
        let summary = validate_media(&media, true).unwrap();
        // The hinted part is the next one: `{session}/{connection}/{segment}.{part}.m4s`.
        let hint = summary.preload_hint.unwrap();
        let part: u64 = hint
            .rsplit('/')
            .next()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let msn = summary.media_sequence + summary.segments as u64;
        let (status, blocked) = get(&format!(
            "{base}/source.m3u8?_HLS_msn={msn}&_HLS_part={part}"
        ))
        .await;
        let answered = std::time::SystemTime::now();
        assert_eq!(status, 200);
        if !blocked.contains(&format!("URI=\"{hint}\"")) {
            continue; // the segment ended instead: the hint guessed a part that never comes
        }
        let stored = std::fs::metadata(dir.path().join("media/live").join(&channel_id).join(&hint))
            .unwrap_or_else(|_| panic!("{hint} was announced before it was stored"))
            .modified()
            .unwrap();
        delays.push(answered.duration_since(stored).unwrap_or_default());
    }
    assert!(
        delays.len() >= 10,
        "too few parts were hinted right: {}",
        delays.len()
    );
    delays.sort();
    let (median, max) = (delays[delays.len() / 2], delays[delays.len() - 1]);
    eprintln!("blocking reload answered after the part was stored: median {median:?}, max {max:?} ({} samples)", delays.len());
    assert!(max <= Duration::from_millis(50), "{delays:?}");
}

#[tokio::test]
async fn hls_js_in_chromium_plays_ultra_low_latency() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let (base, _publisher) = live_channel(&sigma, "ultra_low", 1).await;
    let viewing = sigma_tests::browser::watch(
        &format!("{base}/index.m3u8"),
        6,
        sigma_tests::browser::Watch {
            low_latency: true,
            ..Default::default()
        },
    )
    .await;
    assert!(viewing.supported, "hls.js cannot use MSE here: {viewing:?}");
    assert!(viewing.fatal.is_empty(), "{viewing:?}");
    let first = viewing.first_frame_seconds.expect("a first frame");
    assert!(first < 3.0, "first frame after {first} s");
    assert!(
        viewing.advanced_seconds > 4.0,
        "frames did not advance: {viewing:?}"
    );
    eprintln!(
        "hls.js: first frame {first:.2} s, advanced {:.2} s, stalls {}, hls.js latency {:?}",
        viewing.advanced_seconds, viewing.stalls, viewing.latency_seconds
    );
}

#[tokio::test]
async fn normal_latency_serves_long_segments_that_ffmpeg_plays() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let (base, _publisher) = live_channel(&sigma, "normal", 1).await;
    let (_, media) = get(&format!("{base}/source.m3u8")).await;
    let summary =
        validate_media(&media, false).unwrap_or_else(|problems| panic!("{media}\n{problems:#?}"));
    assert_eq!(summary.target_duration, 4, "{media}");
    plays_two_seconds(&base).await;
}

/// A player that opens a channel the moment it goes live: until a rendition has a segment, the
/// multivariant playlist is a 404 `not_ready` with `Retry-After: 1`, never a list of renditions
/// with nothing in them (ffmpeg then finds no stream to map and gives up); each such answer
/// comes only after the request has waited a second for the first segment (what lets a playback
/// node a moment behind its peers answer 200 all the same); every rendition the first 200 lists
/// has a segment, and ffmpeg opened on it plays.
#[tokio::test]
async fn a_player_joining_at_go_live_is_never_handed_an_empty_stream() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    // 4 s segments: seconds of parts before the first segment closes.
    let (_, channel) = Api::new(&sigma.url)
        .broadcaster_channel(
            &sigma.admin_key,
            json!({ "name": "stage", "latency_mode": "normal" }),
        )
        .await;
    let _publisher = publish(channel["rtmp_url"].as_str().unwrap(), 20);
    let base = format!("{}/live/{}", sigma.url, channel["id"].as_str().unwrap());
    let index = format!("{base}/index.m3u8");
    let started = Instant::now();
    let mut not_ready = 0;
    let top = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no multivariant playlist in 30 s"
        );
        let asked = Instant::now();
        let response = reqwest::get(&index).await.unwrap();
        let waited = asked.elapsed();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        if status == 200 {
            break text;
        }
        assert_eq!(status, 404, "{text}");
        if text.contains("\"not_ready\"") {
            assert_eq!(retry_after.as_deref(), Some("1"), "{text}");
            assert!(
                waited >= Duration::from_millis(990),
                "not_ready after a second's wait, not {waited:?}"
            );
            not_ready += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        not_ready > 0,
        "the seconds before the first segment answer not_ready"
    );
    let listed: Vec<&str> = top.lines().filter(|line| !line.starts_with('#')).collect();
    assert!(!listed.is_empty(), "{top}");
    for uri in listed {
        let (status, media) = get(&format!("{base}/{uri}")).await;
        assert_eq!(status, 200, "{uri}");
        assert!(
            media.contains("#EXTINF"),
            "{uri} lists no segment:\n{media}"
        );
    }
    plays_two_seconds(&base).await;
}
