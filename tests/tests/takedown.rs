//! Takedown: a stopped channel's live playlists end (`EXT-X-ENDLIST`) within a segment, and
//! the reloads players hold on them are answered; a deleted channel's live and catch-up routes
//! are 404 within seconds, held requests included.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::Publish;
use sigma_tests::wait::{until, until_some};

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A `normal` channel (4 s segments: a reload for the segment after next is held for seconds)
/// live with a real-time publisher, once a segment is listed: `(token, channel, publisher,
/// api)`.
async fn live(sigma: &Deployment) -> (String, Value, tokio::process::Child, Api) {
    let api = Api::new(&sigma.url);
    let (_, token) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let channel = api
        .create_channel(&token, json!({ "name": "stage", "latency_mode": "normal" }))
        .await;
    let options = Publish {
        real_time: true,
        zero_latency: true,
        stamped: false,
    };
    let publisher =
        sigma_tests::publish::publisher(channel["rtmp_url"].as_str().unwrap(), 60, options)
            .spawn()
            .unwrap();
    let media = format!(
        "{}/live/{}/source.m3u8",
        sigma.url,
        channel["id"].as_str().unwrap()
    );
    until(Duration::from_secs(30), "segments are listed", || async {
        get(&media).await.1.matches("#EXTINF").count() >= 1
    })
    .await;
    (token, channel, publisher, api)
}

/// The media sequence number the playlist's next segment will have.
fn next_msn(playlist: &str) -> u64 {
    let first: u64 = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .unwrap()
        .parse()
        .unwrap();
    first + playlist.matches("#EXTINF").count() as u64
}

#[tokio::test]
async fn a_stopped_channel_s_live_playlists_end_within_a_segment_and_held_reloads_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let (token, channel, _publisher, api) = live(&sigma).await;
    let id = channel["id"].as_str().unwrap();
    let media = format!("{}/live/{id}/source.m3u8", sigma.url);
    let playlist = get(&media).await.1;
    let target: f64 = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
        .unwrap()
        .parse()
        .unwrap();
    // A player waiting for the segment after next: it is held until the stream ends.
    let held = tokio::spawn({
        let url = format!("{media}?_HLS_msn={}", next_msn(&playlist) + 1);
        async move {
            let answer = get(&url).await;
            (answer, Instant::now())
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!held.is_finished(), "the reload is held");

    let answer = api
        .post(&format!("/v1/channels/{id}/stop"), &token, json!({}))
        .await;
    assert!(answer.status.is_success(), "{}", answer.body);
    let stopped = Instant::now();
    let ended = until_some(Duration::from_secs(10), "the playlist ends", || async {
        let (status, text) = get(&media).await;
        (status == 200 && text.contains("#EXT-X-ENDLIST")).then_some(text)
    })
    .await;
    let took = stopped.elapsed();
    assert!(
        took.as_secs_f64() <= target,
        "ENDLIST {took:?} after the stop, more than a segment ({target} s)"
    );
    assert!(!ended.contains("#EXT-X-PRELOAD-HINT"), "{ended}");
    let ((status, text), answered) = held.await.unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    assert!(
        answered.duration_since(stopped) <= Duration::from_secs_f64(target),
        "the held reload was answered {:?} after the stop",
        answered.duration_since(stopped)
    );
    // Later reloads are answered at once, with the ended playlist.
    let asked = Instant::now();
    let (status, text) = get(&format!("{media}?_HLS_msn={}", next_msn(&ended))).await;
    assert_eq!(status, 200);
    assert!(text.contains("#EXT-X-ENDLIST"));
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "{:?}",
        asked.elapsed()
    );
}

#[tokio::test]
async fn a_deleted_channel_s_live_and_catch_up_routes_are_404_within_5_s() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let (token, channel, _publisher, api) = live(&sigma).await;
    let id = channel["id"].as_str().unwrap();
    let session = api.first_session(&token, id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let media = format!("{}/live/{id}/source.m3u8", sigma.url);
    let playlist = get(&media).await.1;
    let segment = playlist
        .lines()
        .rev()
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap()
        .to_owned();
    let routes = [
        format!("{}/live/{id}/index.m3u8", sigma.url),
        media.clone(),
        format!("{}/live/{id}/{segment}", sigma.url),
        format!("{}/vod/{session}/index.m3u8", sigma.url),
        format!("{}/vod/{session}/source.m3u8", sigma.url),
    ];
    for url in &routes {
        assert_eq!(get(url).await.0, 200, "{url} before");
    }
    let held = tokio::spawn({
        let url = format!("{media}?_HLS_msn={}", next_msn(&playlist) + 1);
        async move { (get(&url).await, Instant::now()) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let answer = api.delete(&format!("/v1/channels/{id}"), &token).await;
    assert!(answer.status.is_success(), "{}", answer.body);
    let deleted = Instant::now();
    for url in &routes {
        until(Duration::from_secs(5), "the route is gone", || async {
            get(url).await.0 == 404
        })
        .await;
    }
    eprintln!("every route 404 {:?} after the delete", deleted.elapsed());
    // The deletion ends the session, then the channel, in one decision: a held reload hears
    // of one or the other.
    let ((status, text), answered) = held.await.unwrap();
    assert!(
        status == 404 || (status == 200 && text.contains("#EXT-X-ENDLIST")),
        "the held reload: {status} {text}"
    );
    assert!(answered.duration_since(deleted) < Duration::from_secs(5));
}
