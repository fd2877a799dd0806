//! Signed playback, from the outside: a `signed` channel opens every playback route —
//! playlists, init, segments, parts, preload-hinted parts, blocking reloads, catch-up,
//! thumbnails, the storyboard and its sprites, the recording — to a valid token of the right
//! channel and audience only, and players need nothing but the first URL. A `public` channel
//! needs no token.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::Publish;
use sigma_tests::wait::{until, until_some};

/// `url` with `?token=` (or `&token=`) added.
fn with_token(url: &str, token: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}token={token}")
}

/// Status, `Cache-Control` and body of a GET.
async fn get(url: &str) -> (u16, String, Vec<u8>) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, cache, response.bytes().await.unwrap().to_vec())
}

async fn status(url: &str) -> u16 {
    get(url).await.0
}

/// A token the platform mints: `POST /v1/{what}/{id}/playback-tokens`.
async fn minted(api: &Api, bearer: &str, what: &str, id: &str, audience: &str) -> String {
    let answer = api
        .post(
            &format!("/v1/{what}/{id}/playback-tokens"),
            bearer,
            json!({ "audience": audience, "ttl_seconds": 600 }),
        )
        .await
        .ok();
    answer["token"].as_str().unwrap().to_owned()
}

/// A token signed with a playback key's private half (as an account mints its own), under the
/// key id `kid`.
fn signed_with(private_key: &str, kid: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ed_pem(private_key.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A publisher of `seconds` of test pattern in real time, zero-latency tuned.
fn publish(channel: &Value, seconds: u32) -> tokio::process::Child {
    let options = Publish {
        real_time: true,
        zero_latency: true,
        stamped: false,
    };
    sigma_tests::publish::publisher(channel["rtmp_url"].as_str().unwrap(), seconds, options)
        .spawn()
        .unwrap()
}

/// The URIs a media playlist lists for its init section, latest segment, latest part and
/// preload hint, as the playlist gives them (relative, with their query).
fn media_uris(playlist: &str) -> Vec<String> {
    let attribute = |tag: &str| {
        playlist
            .lines()
            .rev()
            .filter(|line| line.starts_with(tag))
            .find_map(|line| line.split("URI=\"").nth(1)?.split('"').next())
            .unwrap_or_else(|| panic!("no {tag} in\n{playlist}"))
            .to_owned()
    };
    let segment = playlist
        .lines()
        .rev()
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap_or_else(|| panic!("no segment in\n{playlist}"))
        .to_owned();
    vec![
        attribute("#EXT-X-MAP:"),
        segment,
        attribute("#EXT-X-PART:"),
        attribute("#EXT-X-PRELOAD-HINT:"),
    ]
}

/// Without its query.
fn bare(uri: &str) -> &str {
    uri.split('?').next().unwrap()
}

/// Every way a token can be wrong, by name: the route must answer `status` to each.
struct Wrong {
    expired: String,
    forged: String,
    other_channel: String,
    other_audience: String,
}

/// Checks `url` (of audience `right`'s kind) against no token, each wrong one, and `right`.
async fn only_the_right_token_opens(url: &str, right: &str, wrong: &Wrong) {
    refused_without_the_right_token(url, wrong).await;
    opened_privately(url, right).await;
}

/// `url` with `token` is a 200 that shared caches may not keep.
async fn opened_privately(url: &str, token: &str) {
    let (opened, cache, _) = get(&with_token(url, token)).await;
    assert_eq!(opened, 200, "{url} with the right token");
    assert!(
        cache.starts_with("private") && !cache.contains("public"),
        "{url}: a signed answer is not for shared caches: {cache}"
    );
}

/// `url` refuses no token (401 `token_required`) and each wrong one.
async fn refused_without_the_right_token(url: &str, wrong: &Wrong) {
    let (no_token, _, body) = get(url).await;
    assert_eq!(no_token, 401, "{url} without a token");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "token_required", "{url}");
    for (what, token, expected) in [
        ("expired", &wrong.expired, 401),
        ("forged", &wrong.forged, 401),
        ("another channel's", &wrong.other_channel, 403),
        ("another audience's", &wrong.other_audience, 403),
    ] {
        assert_eq!(
            status(&with_token(url, token)).await,
            expected,
            "{url} with {what} token"
        );
    }
}

#[tokio::test]
async fn a_signed_channel_opens_each_route_to_its_own_token_only_and_a_public_one_to_anyone() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (_, owner) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let settings = |name: &str, policy: &str| {
        json!({
            "name": name,
            "latency_mode": "ultra_low",
            "playback_policy": policy,
            "record_source": true,
            "thumbnail_interval_seconds": 1,
            "reconnect_window_seconds": 0,
        })
    };
    let signed = api
        .create_channel(&owner, settings("private", "signed"))
        .await;
    let public = api.create_channel(&owner, settings("open", "public")).await;
    let other = api
        .create_channel(&owner, settings("other", "signed"))
        .await;
    let id = signed["id"].as_str().unwrap().to_owned();
    let base = format!("{}/live/{id}", sigma.url);

    // The account's own keys: one signs, the other forges under the first one's id.
    let key = api.post("/v1/playback-keys", &owner, json!({})).await.ok();
    let impostor = api.post("/v1/playback-keys", &owner, json!({})).await.ok();
    let (kid, private_key) = (
        key["id"].as_str().unwrap(),
        key["private_key"].as_str().unwrap(),
    );
    let video = signed_with(
        private_key,
        kid,
        json!({ "sub": id, "aud": "video", "exp": now() + 600 }),
    );
    let thumbnails = minted(&api, &owner, "channels", &id, "thumbnails").await;
    let expired = signed_with(
        private_key,
        kid,
        json!({ "sub": id, "aud": ["video", "thumbnails", "recordings"], "exp": now() - 60 }),
    );
    let forged = signed_with(
        impostor["private_key"].as_str().unwrap(),
        kid,
        json!({ "sub": id, "aud": ["video", "thumbnails", "recordings"], "exp": now() + 600 }),
    );
    let other_id = other["id"].as_str().unwrap();
    let other_channel = signed_with(
        private_key,
        kid,
        json!({ "sub": other_id, "aud": ["video", "thumbnails", "recordings"], "exp": now() + 600 }),
    );

    let publishers = (publish(&signed, 30), publish(&public, 30));
    let playlist = with_token(&format!("{base}/source.m3u8"), &video);
    until(Duration::from_secs(30), "segments are listed", || async {
        let (status, _, body) = get(&playlist).await;
        status == 200 && String::from_utf8_lossy(&body).matches("#EXTINF").count() >= 2
    })
    .await;
    let session = until_some(Duration::from_secs(10), "the session", || async {
        api.first_session(&owner, &id).await["id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    let thumbs = format!("{}/thumbs/{session}", sigma.url);
    let storyboard = until_some(Duration::from_secs(30), "a storyboard", || async {
        let (status, _, body) = get(&with_token(
            &format!("{thumbs}/storyboard.vtt"),
            &thumbnails,
        ))
        .await;
        let text = String::from_utf8(body).unwrap();
        (status == 200 && text.contains("sprite-")).then_some(text)
    })
    .await;
    let sprite = storyboard
        .lines()
        .find_map(|line| line.strip_prefix("sprite-"))
        .map(|rest| format!("sprite-{}", rest.split('#').next().unwrap()))
        .unwrap();
    assert!(
        sprite.ends_with(&format!(".jpg?token={thumbnails}")),
        "the storyboard hands its token on to its sprites: {sprite}"
    );

    // The playlists hand the token on to every URI they list.
    let media = String::from_utf8(get(&playlist).await.2).unwrap();
    let uris = media
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
        + media.matches("URI=\"").count();
    assert_eq!(
        media.matches(&format!("token={video}")).count(),
        uris,
        "{media}"
    );
    let multivariant = String::from_utf8(
        get(&with_token(&format!("{base}/index.m3u8"), &video))
            .await
            .2,
    )
    .unwrap();
    assert!(
        multivariant.contains("source.m3u8?pb=")
            && multivariant.contains(&format!("&token={video}")),
        "{multivariant}"
    );
    let next_msn = media
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .unwrap()
        .parse::<u64>()
        .unwrap()
        + media.matches("#EXTINF").count() as u64;

    // A request that would be held (the segment after next) is refused at once without a token.
    let asked = std::time::Instant::now();
    assert_eq!(
        status(&format!("{base}/source.m3u8?_HLS_msn={}", next_msn + 1)).await,
        401
    );
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "{:?}",
        asked.elapsed()
    );

    let mut video_routes = vec![
        format!("{base}/index.m3u8"),
        format!("{base}/source.m3u8"),
        format!("{base}/source.m3u8?_HLS_msn={next_msn}&_HLS_part=0"),
        format!("{}/vod/{session}/index.m3u8", sigma.url),
        format!("{}/vod/{session}/source.m3u8", sigma.url),
    ];
    // The init section, the latest segment and part (the preload hint is checked below).
    video_routes.extend(
        media_uris(&media)[..3]
            .iter()
            .map(|uri| format!("{base}/{}", bare(uri))),
    );
    let wrong_for_video = Wrong {
        expired: expired.clone(),
        forged: forged.clone(),
        other_channel: other_channel.clone(),
        other_audience: thumbnails.clone(),
    };
    for url in &video_routes {
        only_the_right_token_opens(url, &video, &wrong_for_video).await;
    }
    // The part a preload hint names: refused without the token at once, and with it held
    // until it exists. (A hint may name a part that never comes, when its segment closes
    // first: the next hint is taken then.)
    let hint = |playlist: &str| format!("{base}/{}", bare(&media_uris(playlist)[3]));
    refused_without_the_right_token(&hint(&media), &wrong_for_video).await;
    until(
        Duration::from_secs(10),
        "a hinted part is served",
        || async {
            let fresh = String::from_utf8(get(&playlist).await.2).unwrap();
            let (status, cache, _) = get(&with_token(&hint(&fresh), &video)).await;
            status == 200 && cache.starts_with("private")
        },
    )
    .await;
    let wrong_for_thumbnails = Wrong {
        other_audience: video.clone(),
        ..wrong_for_video
    };
    for url in [
        format!("{thumbs}/latest.jpg"),
        format!("{thumbs}/storyboard.vtt"),
        format!("{thumbs}/{}", bare(&sprite)),
    ] {
        only_the_right_token_opens(&url, &thumbnails, &wrong_for_thumbnails).await;
    }

    // A session's token opens that session's catch-up and media, not the channel's live edge.
    let session_video = minted(&api, &owner, "sessions", &session, "video").await;
    let catchup = String::from_utf8(
        get(&with_token(
            &format!("{}/vod/{session}/source.m3u8", sigma.url),
            &session_video,
        ))
        .await
        .2,
    )
    .unwrap();
    let first_media = catchup
        .lines()
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap();
    assert_eq!(
        status(&format!("{}{first_media}", sigma.url)).await,
        200,
        "{first_media}"
    );
    assert_eq!(
        status(&with_token(&format!("{base}/index.m3u8"), &session_video)).await,
        403
    );

    // Another account's token for this channel opens nothing, nor does its key.
    let (_, stranger) = api.account_with_token(&sigma.admin_key, "stranger").await;
    let stranger_key = api
        .post("/v1/playback-keys", &stranger, json!({}))
        .await
        .ok();
    let foreign = signed_with(
        stranger_key["private_key"].as_str().unwrap(),
        stranger_key["id"].as_str().unwrap(),
        json!({ "sub": id, "aud": "video", "exp": now() + 600 }),
    );
    // A key a moment old may not have reached every playback node yet (401 there, as for a
    // key nobody made); once known it opens nothing of another account's.
    until(Duration::from_secs(5), "a stranger's key is refused 403", || async {
        let answer = status(&with_token(&format!("{base}/index.m3u8"), &foreign)).await;
        assert!(matches!(answer, 401 | 403), "{answer}");
        answer == 403
    })
    .await;
    let refused = api
        .post(
            &format!("/v1/channels/{id}/playback-tokens"),
            &stranger,
            json!({}),
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);

    // The public channel needs none.
    let open_base = format!("{}/live/{}", sigma.url, public["id"].as_str().unwrap());
    let open_media = String::from_utf8(get(&format!("{open_base}/source.m3u8")).await.2).unwrap();
    assert!(!open_media.contains("token="));
    for url in [
        format!("{open_base}/index.m3u8"),
        format!("{open_base}/source.m3u8"),
    ]
    .into_iter()
    .chain(
        media_uris(&open_media)[..3]
            .iter()
            .map(|uri| format!("{open_base}/{uri}")),
    ) {
        assert_eq!(status(&url).await, 200, "{url}");
    }

    // A policy is followed as it changes: the public channel made signed, then public again.
    let open_id = public["id"].as_str().unwrap();
    for (policy, expected) in [("signed", 401), ("public", 200)] {
        let answer = api
            .patch(
                &format!("/v1/channels/{open_id}"),
                &owner,
                json!({ "playback_policy": policy }),
            )
            .await;
        assert!(answer.status.is_success(), "{}", answer.body);
        until(Duration::from_secs(5), "the policy is applied", || async {
            status(&format!("{open_base}/index.m3u8")).await == expected
        })
        .await;
    }

    // The recording, once the session has ended.
    drop(publishers);
    let recording = until_some(Duration::from_secs(40), "the recording", || async {
        api.first_session(&owner, &id).await["recording_url"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    let recordings = minted(&api, &owner, "sessions", &session, "recordings").await;
    let wrong_for_recordings = Wrong {
        other_audience: video.clone(),
        ..wrong_for_thumbnails
    };
    only_the_right_token_opens(&recording, &recordings, &wrong_for_recordings).await;
}

#[tokio::test]
async fn players_need_only_the_first_url_and_a_removed_key_closes_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (_, owner) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let channel = api
        .create_channel(
            &owner,
            json!({ "name": "private", "latency_mode": "ultra_low", "playback_policy": "signed" }),
        )
        .await;
    let id = channel["id"].as_str().unwrap();
    let key = api.post("/v1/playback-keys", &owner, json!({})).await.ok();
    let token = signed_with(
        key["private_key"].as_str().unwrap(),
        key["id"].as_str().unwrap(),
        json!({ "sub": id, "aud": "video", "exp": now() + 600 }),
    );
    let _publisher = publish(&channel, 40);
    let first_url = with_token(&format!("{}/live/{id}/index.m3u8", sigma.url), &token);
    let media = with_token(&format!("{}/live/{id}/source.m3u8", sigma.url), &token);
    until(Duration::from_secs(30), "segments are listed", || async {
        String::from_utf8_lossy(&get(&media).await.2)
            .matches("#EXTINF")
            .count()
            >= 2
    })
    .await;

    let frames = sigma_tests::probe::play_frames(&["-i", &first_url], &["-t", "2"]).await;
    assert!(
        (59..=60).contains(&frames.len()),
        "ffmpeg played two seconds from the first URL: {} frames",
        frames.len()
    );
    // 12 s: under a loaded CI machine the first frame came 4.8 s in.
    let viewing = sigma_tests::browser::watch(
        &first_url,
        12,
        sigma_tests::browser::Watch {
            low_latency: true,
            ..Default::default()
        },
    )
    .await;
    eprintln!("hls.js from the first URL: {viewing:?}");
    assert!(viewing.supported, "hls.js cannot use MSE here: {viewing:?}");
    assert!(viewing.fatal.is_empty(), "{viewing:?}");
    assert!(
        !viewing
            .error_details
            .iter()
            .any(|error| error.contains(" 401 ") || error.contains(" 403 ")),
        "every URL hls.js asked for carried the token: {viewing:?}"
    );
    assert!(
        viewing.advanced_seconds > 5.0,
        "hls.js played from the first URL: {viewing:?}"
    );

    // The key goes: its tokens stop opening anything on the next request.
    let listed = api.get("/v1/playback-keys", &owner).await.ok();
    assert_eq!(listed["data"][0]["id"], key["id"]);
    assert!(
        listed["data"][0].get("private_key").is_none(),
        "the private key is shown once: {listed}"
    );
    let answer = api
        .delete(
            &format!("/v1/playback-keys/{}", key["id"].as_str().unwrap()),
            &owner,
        )
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    until(
        Duration::from_secs(5),
        "the removed key's token is refused",
        || async { status(&first_url).await == 401 },
    )
    .await;
}

#[tokio::test]
async fn who_may_watch_is_rebuilt_from_the_read_models_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SigmaConfig::standalone(dir.path());
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let (_, owner) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let channel = api
        .create_channel(
            &owner,
            json!({ "name": "private", "playback_policy": "signed" }),
        )
        .await;
    let id = channel["id"].as_str().unwrap();
    let (kept, removed) = (
        api.post("/v1/playback-keys", &owner, json!({})).await.ok(),
        api.post("/v1/playback-keys", &owner, json!({})).await.ok(),
    );
    let token = |key: &Value| {
        signed_with(
            key["private_key"].as_str().unwrap(),
            key["id"].as_str().unwrap(),
            json!({ "sub": id, "aud": "video", "exp": now() + 600 }),
        )
    };
    let answer = api
        .delete(
            &format!("/v1/playback-keys/{}", removed["id"].as_str().unwrap()),
            &owner,
        )
        .await;
    assert_eq!(answer.status, 204);
    drop(sigma);

    // Started again, it knows the channel is signed and which keys exist before it serves.
    let sigma = config.start().await;
    let url = format!("{}/live/{id}/index.m3u8", sigma.url);
    assert_eq!(status(&url).await, 401, "signed");
    assert_eq!(
        status(&with_token(&url, &token(&removed))).await,
        401,
        "a removed key"
    );
    assert_eq!(
        status(&with_token(&url, &token(&kept))).await,
        404,
        "a kept key opens it (nothing is live)"
    );
}

#[tokio::test]
async fn playback_keys_and_tokens_are_the_account_s_own() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (owner_id, owner) = api
        .account_with_token(&sigma.admin_key, "broadcaster")
        .await;
    let (_, stranger) = api.account_with_token(&sigma.admin_key, "stranger").await;
    let channel = api
        .create_channel(
            &owner,
            json!({ "name": "private", "playback_policy": "signed" }),
        )
        .await;
    let id = channel["id"].as_str().unwrap();
    let key = api.post("/v1/playback-keys", &owner, json!({})).await.ok();
    let key_id = key["id"].as_str().unwrap();
    assert!(key["private_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(key["public_key"].as_str().unwrap().len(), 64);

    // Another account sees none of it, and cannot remove it.
    let theirs = api.get("/v1/playback-keys", &stranger).await.ok();
    assert_eq!(theirs["data"], json!([]));
    let refused = api
        .delete(&format!("/v1/playback-keys/{key_id}"), &stranger)
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(
        api.get("/v1/playback-keys", &owner).await.ok()["data"][0]["id"],
        key["id"],
        "nothing changed"
    );

    // A token without the scopes is refused.
    let webhooks_only = api
        .post(
            "/v1/tokens",
            &sigma.admin_key,
            json!({ "account_id": owner_id, "scopes": ["webhooks:write"] }),
        )
        .await
        .ok();
    let webhooks_only = webhooks_only["token"].as_str().unwrap();
    for (path, body) in [
        ("/v1/playback-keys".to_owned(), json!({})),
        (format!("/v1/channels/{id}/playback-tokens"), json!({})),
    ] {
        let answer = api.post(&path, webhooks_only, body).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.body);
    }

    // Bounds: the token's lifetime, the number of keys.
    for ttl in [0, 30 * 24 * 3600 + 1] {
        let answer = api
            .post(
                &format!("/v1/channels/{id}/playback-tokens"),
                &owner,
                json!({ "ttl_seconds": ttl }),
            )
            .await;
        assert_eq!(answer.status, 422, "ttl {ttl}: {}", answer.body);
    }
    for _ in 1..10 {
        api.post("/v1/playback-keys", &owner, json!({})).await.ok();
    }
    let eleventh = api.post("/v1/playback-keys", &owner, json!({})).await;
    assert_eq!(eleventh.status, 409, "{}", eleventh.body);
    assert_eq!(eleventh.code(), "quota_exceeded");
    let minted = api
        .post(
            &format!("/v1/channels/{id}/playback-tokens"),
            &owner,
            json!({ "ttl_seconds": 60, "audience": "thumbnails" }),
        )
        .await
        .ok();
    let expires_at = chrono::DateTime::parse_from_rfc3339(minted["expires_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!((expires_at - now() - 60).abs() <= 2, "{minted}");
}
