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

/// Every file under `dir` whose path names `session`.
fn stored_of(dir: &std::path::Path, session: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().contains(session) {
                found.push(path);
            }
        }
    }
    found
}

/// The owner deletes an ended session's recording and catch-up: playback answers 404 for
/// them within seconds, the store keeps nothing of the session, the session no longer lists
/// them, the history says so; only the owner's `channels:write` token may, and only once.
#[tokio::test]
async fn a_deleted_recording_and_catch_up_are_gone_from_playback_and_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path()).start().await;
    let api = Api::new(&sigma.url);
    let (account, token) = api.account_with_token(&sigma.admin_key, "owner").await;
    let settings = json!({
        "name": "recorded", "record_source": true, "reconnect_window_seconds": 0,
        "thumbnail_interval_seconds": 1,
    });
    let channel = api.create_channel(&token, settings).await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let options = Publish {
        real_time: true,
        zero_latency: true,
        stamped: false,
    };
    sigma_tests::publish::publisher(channel["rtmp_url"].as_str().unwrap(), 4, options)
        .status()
        .await
        .unwrap();
    let session = until_some(Duration::from_secs(40), "the recording", || async {
        let session = api.first_session(&token, &id).await;
        session["recording_url"].is_string().then_some(session)
    })
    .await;
    let session_id = session["id"].as_str().unwrap().to_owned();
    let urls = [
        session["recording_url"].as_str().unwrap().to_owned(),
        session["catchup_url"].as_str().unwrap().to_owned(),
        format!("{}/thumbs/{session_id}/latest.jpg", sigma.url),
    ];
    for url in &urls {
        assert_eq!(get(url).await.0, 200, "{url} before the deletion");
    }
    let media = dir.path().join("media");
    assert!(!stored_of(&media, &session_id).is_empty());

    // Only the owner, with `channels:write`.
    let path = format!("/v1/sessions/{session_id}/recording");
    let (_, stranger) = api.account_with_token(&sigma.admin_key, "stranger").await;
    assert_eq!(api.delete(&path, &stranger).await.status, 404);
    let reader = api
        .post(
            "/v1/tokens",
            &sigma.admin_key,
            json!({ "account_id": account, "scopes": ["channels:read", "webhooks:write"] }),
        )
        .await
        .ok();
    let refused = api.delete(&path, reader["token"].as_str().unwrap()).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    for url in &urls {
        assert_eq!(get(url).await.0, 200, "{url} after the refusals");
    }

    let deleted = api.delete(&path, &token).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let asked = Instant::now();
    until(Duration::from_secs(5), "playback answers 404", || async {
        for url in &urls {
            if get(url).await.0 != 404 {
                return false;
            }
        }
        true
    })
    .await;
    until(Duration::from_secs(10), "the store keeps nothing of the session", || async {
        stored_of(&media, &session_id).is_empty()
    })
    .await;
    println!("gone from playback and the store {:?} after the deletion", asked.elapsed());
    let after = api.first_session(&token, &id).await;
    assert!(
        after["recording_url"].is_null() && after["catchup_url"].is_null(),
        "{after}"
    );
    let history = api.history(&token, &id).await;
    assert!(
        history.iter().any(|event| event["type"] == "session.media_deleted"),
        "{history:?}"
    );
    assert_eq!(api.delete(&path, &token).await.status, 404, "only once");
}
