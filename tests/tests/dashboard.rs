//! The dashboard, used as a newcomer would in headless Chromium against a real deployment and a
//! real ffmpeg publisher (`tests/dashboard/go-live.mjs`).

use std::time::Duration;

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::browser;
use sigma_tests::deployment::{Deployment, DEPLOYMENT_VAR};
use sigma_tests::process::SigmaConfig;
use sigma_tests::receiver::{verify, Behaviour, Receiver};
use sigma_tests::wait::until;

/// What the script saw.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GoLive {
    failure: Option<String>,
    console_errors: Vec<String>,
    screenshots: Vec<String>,
    field_error: Option<FieldError>,
    channel_path: Option<String>,
    masked_key: Option<String>,
    server: Option<String>,
    stream_key: Option<String>,
    live_after_ms: Option<u64>,
    thumbnail_after_ms: Option<u64>,
    thumbnail_width: Option<u32>,
    publisher_errors: Option<String>,
    preview: Option<Watched>,
    behind_live: Option<String>,
    storyboard_tile: Option<String>,
    behind_after_rewind: Option<f64>,
    behind_back_live: Option<f64>,
    peak_viewers: Option<u32>,
    listed_viewers: Option<u32>,
    chart_label: Option<String>,
    session_state: Option<String>,
    ended_as: Option<String>,
    status_after_stop: Option<String>,
    history: Option<Vec<String>>,
    catchup: Option<Watched>,
    webhook_secret: Option<String>,
    deliveries: Option<Vec<Delivery>>,
    /// The event the page redelivered.
    redelivered: Option<String>,
}

/// A row of the delivery log, as the page showed it.
#[derive(Debug, Deserialize)]
struct Delivery {
    #[serde(rename = "type")]
    event_type: String,
    status: String,
}

/// What a player on the page did.
#[derive(Debug, Deserialize)]
struct Watched {
    advanced: f64,
    failed: bool,
}

#[derive(Debug, Deserialize)]
struct FieldError {
    text: String,
    invalid: Option<String>,
}

/// Where a flow's screenshots go: kept after the run, one folder per deployment and flow.
fn artifacts(flow: &str) -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
    let deployment = std::env::var(DEPLOYMENT_VAR).unwrap_or_else(|_| "standalone".into());
    let dir = std::path::Path::new(&target)
        .join("artifacts/dashboard")
        .join(deployment)
        .join(flow);
    std::fs::create_dir_all(&dir).expect("an artifacts folder");
    dir
}

/// On a signed channel: every picture and stream the page shows needs the playback tokens it
/// mints.
#[tokio::test]
async fn a_newcomer_goes_live_from_the_dashboard_on_a_desktop() {
    go_live_from_the_dashboard("desktop", "signed").await;
}

#[tokio::test]
async fn a_newcomer_goes_live_from_the_dashboard_on_a_phone() {
    go_live_from_the_dashboard("phone", "public").await;
}

/// The whole flow of `tests/dashboard/go-live.mjs` at `viewport` (`desktop` or `phone`), the
/// channel made with playback `policy` (`public` or `signed`).
async fn go_live_from_the_dashboard(viewport: &str, policy: &str) {
    let dir = tempfile::tempdir().unwrap();
    // Viewers are reported every second, so the list counts the preview's soon after it plays.
    let config = SigmaConfig::standalone(dir.path())
        .with("SIGMA_WEBHOOK_ALLOW_PRIVATE", "1")
        .with("SIGMA_VIEWER_REPORT_MS", "1000");
    let sigma = Deployment::start(config).await;
    let receiver = Receiver::start(Behaviour::default()).await;
    let artifacts = artifacts("go-live");
    let seen: GoLive = browser::run(
        "dashboard/go-live.mjs",
        &[
            &sigma.url,
            &sigma.admin_key,
            artifacts.to_str().unwrap(),
            &receiver.url(),
            viewport,
            policy,
        ],
    )
    .await;
    assert_eq!(seen.failure, None, "{seen:#?}");
    // The browser logs the one refused request; nothing else went wrong on any page but, at
    // most, a live thumbnail asked for before the first one was stored (the list tries again).
    let refused = format!(
        "refused: Failed to load resource: the server responded with a status of 422 \
         (Unprocessable Entity) {}/v1/channels",
        sigma.url
    );
    let unexpected: Vec<&String> = seen
        .console_errors
        .iter()
        .filter(|error| **error != refused)
        .filter(|error| !(error.contains("status of 404") && error.contains("/latest.jpg?t=")))
        .collect();
    assert!(
        unexpected.is_empty() && seen.console_errors.contains(&refused),
        "{seen:#?}"
    );

    // The bad setting's message came from the API and stands by its field.
    let refused = seen.field_error.as_ref().expect("a field error");
    assert!(
        refused.text.contains("must be between 30 and"),
        "{refused:?}"
    );
    assert_eq!(refused.invalid.as_deref(), Some("true"));

    // What the Copy buttons copied is the channel's own server and key, as the API tells its
    // owner; the key was masked on the page until then.
    let api = Api::new(&sigma.url);
    let accounts = api.get("/v1/accounts", &sigma.admin_key).await.ok();
    let studio = accounts["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|account| account["name"] == "Studio")
        .expect("the account made in the page");
    let token = api
        .post(
            "/v1/tokens",
            &sigma.admin_key,
            json!({ "account_id": studio["id"] }),
        )
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let channels = api.get("/v1/channels", &token).await.ok();
    let channel: &Value = &channels["data"][0];
    assert_eq!(channel["name"], "Main stage");
    assert_eq!(channel["latency_mode"], "ultra_low");
    assert_eq!(channel["max_session_seconds"], 3600);
    assert_eq!(channel["playback_policy"], policy);
    assert_eq!(
        seen.channel_path.as_deref(),
        Some(format!("/channels/{}", channel["id"].as_str().unwrap()).as_str())
    );
    let key = channel["stream_key"].as_str().unwrap();
    assert_eq!(seen.stream_key.as_deref(), Some(key));
    assert!(!seen.masked_key.as_deref().unwrap_or(key).contains(key));
    assert_eq!(
        format!("{}/{key}", seen.server.as_deref().unwrap()),
        channel["rtmp_url"].as_str().unwrap()
    );

    // Pushed to what was copied, the channel showed live within 10 s, with its thumbnail.
    let live_after = seen.live_after_ms.expect("live");
    assert!(live_after <= 10_000, "{seen:#?}");
    assert!(seen.thumbnail_width.unwrap_or(0) > 0, "{seen:#?}");
    assert!(
        seen.thumbnail_after_ms.is_some_and(|after| after <= 10_000),
        "{seen:#?}"
    );
    assert_eq!(seen.publisher_errors, None, "{seen:#?}");

    // The channel's page played the live preview in low-latency mode and said how far behind
    // live it was: under 2 s for `ultra_low`.
    let preview = seen.preview.as_ref().expect("the preview");
    assert!(preview.advanced >= 3.0 && !preview.failed, "{seen:#?}");
    assert_eq!(seen.session_state.as_deref(), Some("live"));
    let behind: f64 = seen
        .behind_live
        .as_deref()
        .and_then(|text| text.strip_suffix(" s behind live"))
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or_else(|| panic!("{seen:#?}"));
    assert!((0.0..2.0).contains(&behind), "{seen:#?}");
    // Its scrub bar showed the storyboard's thumbnail under the pointer, went back in the DVR
    // window and returned to the live edge.
    let tile = seen.storyboard_tile.as_deref().unwrap_or_default();
    assert!(tile.contains("/sprite-"), "{seen:#?}");
    assert!(
        seen.behind_after_rewind.is_some_and(|behind| behind >= 4.0),
        "{seen:#?}"
    );
    assert!(
        seen.behind_back_live.is_some_and(|behind| behind < 3.0),
        "{seen:#?}"
    );
    // Its audience chart counted the preview.
    assert!(seen.peak_viewers.is_some_and(|peak| peak >= 1), "{seen:#?}");
    let chart = seen.chart_label.as_deref().unwrap_or_default();
    assert!(
        chart.starts_with("Concurrent viewers. At most "),
        "{seen:#?}"
    );
    assert!(seen.listed_viewers.is_some_and(|now| now >= 1), "{seen:#?}");

    // Stopped by its owner, the channel's session ended and its catch-up played.
    assert_eq!(seen.status_after_stop.as_deref(), Some("stopped"));
    let ended = seen.ended_as.as_deref().unwrap_or_default();
    assert!(ended.contains("ended (stopped by owner)"), "{seen:#?}");
    let catchup = seen.catchup.as_ref().expect("the catch-up");
    assert!(catchup.advanced >= 2.0 && !catchup.failed, "{seen:#?}");
    // The channel's history, newest first, has it all.
    let history = seen.history.as_deref().unwrap_or_default();
    assert_eq!(
        history.last().map(String::as_str),
        Some("channel.created"),
        "{history:?}"
    );
    let live = history.iter().position(|event| event == "session.live");
    let ended = history.iter().position(|event| event == "session.ended");
    assert!(ended.is_some() && ended < live, "{history:?}");

    // The webhook made in the page had the session's events, signed with the secret the page
    // showed once; its delivery log showed them delivered, and its Redeliver sent one again.
    let secret = seen.webhook_secret.as_deref().expect("the signing secret");
    let log = seen.deliveries.as_ref().expect("the delivery log");
    for wanted in ["session.live", "session.ended"] {
        assert!(
            log.iter()
                .any(|row| row.event_type == wanted && row.status == "delivered"),
            "{wanted}: {seen:#?}"
        );
    }
    let redelivered = seen.redelivered.as_deref().expect("a redelivered event");
    let arrivals = |event: &str| {
        receiver
            .received()
            .into_iter()
            .filter(|one| one.event_id == event)
            .collect::<Vec<_>>()
    };
    until(Duration::from_secs(30), "the redelivery", || {
        let again = arrivals(redelivered).len() >= 2;
        async move { again }
    })
    .await;
    for arrival in receiver.received() {
        assert!(verify(&arrival, secret).0, "{arrival:?}");
        assert_eq!(arrival.body["channel_id"], channel["id"]);
    }
    let types: Vec<String> = receiver
        .received()
        .iter()
        .map(|one| one.body["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    for wanted in ["session.live", "session.ended"] {
        assert!(types.iter().any(|one| one == wanted), "{types:?}");
    }
    assert_eq!(arrivals(redelivered)[0].body["type"], "session.live");
    assert_screenshots(&seen.screenshots);
}

/// Every screenshot a script took was written.
fn assert_screenshots(screenshots: &[String]) {
    for screenshot in screenshots {
        assert!(
            std::fs::metadata(screenshot).is_ok_and(|file| file.len() > 1000),
            "{screenshot}"
        );
    }
}

/// What the player pages showed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Embedded {
    failure: Option<String>,
    console_errors: Vec<String>,
    screenshots: Vec<String>,
    publisher_errors: Option<String>,
    idle: Option<String>,
    signed_idle: Option<String>,
    unsigned: Option<String>,
    unsigned_live: Option<String>,
    live: Option<LivePlayers>,
    poster_width: Option<u32>,
    ended: Option<String>,
    catchup: Option<Watched>,
    phone_catchup: Option<Watched>,
    phone_video_width: Option<f64>,
    phone_poster_width: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct LivePlayers {
    plain: Watched,
    catchup: Watched,
    signed: Watched,
}

/// The player page, framed by another site (`tests/dashboard/embed.mjs`): an idle channel's
/// frame says it is offline; live, a public channel plays, and a signed one with a token (and
/// without one says it needs one); once the session ends the frame shows its last picture, or,
/// with `?catchup=1`, plays its catch-up, on a desktop and on a phone.
#[tokio::test]
async fn the_player_page_plays_live_then_the_last_picture_or_the_catchup() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "Site").await;
    let channel = |policy: &str| {
        api.create_channel(
            &token,
            json!({ "name": policy, "latency_mode": "low", "playback_policy": policy }),
        )
    };
    let (public, signed) = (channel("public").await, channel("signed").await);
    let video_token = api
        .post(
            &format!(
                "/v1/channels/{}/playback-tokens",
                signed["id"].as_str().unwrap()
            ),
            &token,
            json!({ "audience": "video", "ttl_seconds": 600 }),
        )
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let field = |channel: &Value, name: &str| channel[name].as_str().unwrap().to_owned();
    let artifacts = artifacts("embed");
    let seen: Embedded = browser::run(
        "dashboard/embed.mjs",
        &[
            &sigma.url,
            &sigma.url,
            &token,
            &field(&public, "id"),
            &field(&public, "rtmp_url"),
            &field(&signed, "id"),
            &field(&signed, "rtmp_url"),
            &video_token,
            artifacts.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(seen.failure, None, "{seen:#?}");
    assert_eq!(seen.publisher_errors, None, "{seen:#?}");
    // The frame without a token is refused, and says so in the browser's console: nothing else
    // went wrong.
    let unexpected: Vec<&String> = seen
        .console_errors
        .iter()
        .filter(|error| !(error.contains("status of 401") && error.contains("/status.json")))
        .collect();
    assert!(unexpected.is_empty(), "{seen:#?}");

    let offline = Some("This channel is offline.");
    assert_eq!(seen.idle.as_deref(), offline, "{seen:#?}");
    assert_eq!(seen.signed_idle.as_deref(), offline, "{seen:#?}");
    let needs = Some("This channel needs a playback token.");
    assert_eq!(seen.unsigned.as_deref(), needs, "{seen:#?}");
    assert_eq!(seen.unsigned_live.as_deref(), needs, "{seen:#?}");

    let live = seen.live.as_ref().expect("live players");
    for watched in [&live.plain, &live.catchup, &live.signed] {
        assert!(watched.advanced >= 3.0 && !watched.failed, "{seen:#?}");
    }
    assert!(seen.poster_width.unwrap_or(0) > 0, "{seen:#?}");
    assert_eq!(seen.ended.as_deref(), offline, "{seen:#?}");
    let catchup = seen.catchup.as_ref().expect("the catch-up");
    assert!(catchup.advanced >= 2.0 && !catchup.failed, "{seen:#?}");

    // On a phone, the player fills the screen's width.
    let phone = seen
        .phone_catchup
        .as_ref()
        .expect("the catch-up on a phone");
    assert!(phone.advanced >= 2.0 && !phone.failed, "{seen:#?}");
    assert_eq!(seen.phone_video_width, Some(390.0), "{seen:#?}");
    assert!(seen.phone_poster_width.unwrap_or(0) > 0, "{seen:#?}");
    assert_screenshots(&seen.screenshots);
}

/// What the sweep over every page saw.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Swept {
    failure: Option<String>,
    console_errors: Vec<String>,
    screenshots: Vec<String>,
    pages: Vec<Audited>,
    api_token: Option<String>,
    list_rendered_ms: Option<u64>,
    first_load_bytes: Option<u64>,
    playback_token: Option<String>,
    private_key: Option<String>,
    keys_listed: Option<u32>,
    keys_after_delete: Option<u32>,
    tabs_to_new_channel: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct Audited {
    name: String,
    viewport: String,
    violations: Vec<Value>,
    /// How many pixels wider than the screen the page is.
    overflow: i64,
}

/// How many channels the swept account has: the list must show them all within a second.
const MANY_CHANNELS: usize = 500;

/// Every page, at a desktop's and a phone's viewport and at 200 % zoom, has no serious or
/// critical accessibility violation (axe-core), is no wider than the screen, and is
/// screenshotted (`tests/dashboard/pages.mjs`); the keyboard alone opens the channel form. The list of 500
/// channels shows within a second of choosing the account, from a first load of the page's own
/// files under 300 KB compressed. On the way: an API token minted on the account picker with
/// the read scope alone can read and not write; a playback token minted on the Tokens page
/// opens its signed channel; a playback key made there is listed, and gone once deleted.
#[tokio::test]
async fn every_page_is_accessible_on_a_desktop_a_phone_and_zoomed_and_the_list_is_quick() {
    let dir = tempfile::tempdir().unwrap();
    let config = SigmaConfig::standalone(dir.path())
        .with("SIGMA_RATE_LIMIT_PER_SECOND", "10000")
        .with("SIGMA_RATE_LIMIT_BURST", "10000")
        .with("SIGMA_WEBHOOK_ALLOW_PRIVATE", "1");
    let sigma = Deployment::start(config).await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "Crowd").await;
    let signed = api
        .create_channel(
            &token,
            json!({ "name": "Members only", "playback_policy": "signed" }),
        )
        .await;
    let created: Vec<Value> = futures::stream::iter(1..MANY_CHANNELS)
        .map(|n| api.create_channel(&token, json!({ "name": format!("Channel {n:03}") })))
        .buffered(16)
        .collect()
        .await;
    let id = |channel: &Value| channel["id"].as_str().unwrap().to_owned();
    // A subscription with a delivery in its log, for the deliveries page.
    let receiver = Receiver::start(Behaviour::default()).await;
    let hook = api
        .post("/v1/webhooks", &token, json!({ "url": receiver.url() }))
        .await
        .ok();
    let renamed = json!({ "name": "Renamed" });
    let path = format!("/v1/channels/{}", id(&signed));
    assert_eq!(api.patch(&path, &token, renamed).await.status, 200);
    let artifacts = artifacts("pages");
    let seen: Swept = browser::run(
        "dashboard/pages.mjs",
        &[
            &sigma.url,
            &sigma.admin_key,
            "Crowd",
            &id(&created[0]),
            &id(&signed),
            &MANY_CHANNELS.to_string(),
            hook["id"].as_str().unwrap(),
            artifacts.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(seen.failure, None, "{seen:#?}");
    assert!(seen.console_errors.is_empty(), "{seen:#?}");
    let names: Vec<&str> = seen.pages.iter().map(|page| page.name.as_str()).collect();
    for page in [
        "sign-in",
        "accounts",
        "channels",
        "channel",
        "new-channel",
        "webhooks",
        "deliveries",
        "tokens",
        "embed",
    ] {
        assert_eq!(
            names.iter().filter(|name| **name == page).count(),
            3,
            "{page} on the desktop, the phone and zoomed: {names:?}"
        );
    }
    for page in &seen.pages {
        assert!(
            page.violations.is_empty() && page.overflow <= 0,
            "{} ({}): {} px too wide, {:#?}",
            page.name,
            page.viewport,
            page.overflow,
            page.violations
        );
    }
    assert_screenshots(&seen.screenshots);
    assert_eq!(seen.screenshots.len(), seen.pages.len());
    // Tab after Tab, from the top of the page, reaches the list's main action.
    let tabs = seen.tabs_to_new_channel.expect("New channel reached");
    assert!((1..20).contains(&tabs), "{tabs} tabs");

    let rendered = seen.list_rendered_ms.expect("the list's time");
    assert!(rendered < 1000, "{MANY_CHANNELS} channels in {rendered} ms");
    let bytes = seen.first_load_bytes.expect("the first load's size");
    assert!((1..300_000).contains(&bytes), "first load: {bytes} bytes");
    println!("{MANY_CHANNELS} channels listed in {rendered} ms; first load {bytes} bytes");

    // The token minted with the read scope alone reads, and may not write.
    let reader = seen.api_token.as_deref().expect("an API token");
    let listed = api.get("/v1/channels?limit=1", reader).await;
    assert_eq!(listed.status, 200);
    let refused = api
        .post("/v1/channels", reader, json!({ "name": "nope" }))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // The playback token minted in the page opens the signed channel, which is shut without.
    let status = |query: String| {
        let url = format!("{}/live/{}/status.json{query}", sigma.url, id(&signed));
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    let playback_token = seen.playback_token.as_deref().expect("a playback token");
    assert_eq!(status(format!("?token={playback_token}")).await, 200);
    assert_eq!(status(String::new()).await, 401);

    let private_key = seen.private_key.as_deref().unwrap_or_default();
    assert!(
        private_key.starts_with("-----BEGIN PRIVATE KEY-----"),
        "{seen:#?}"
    );
    assert_eq!(
        (seen.keys_listed, seen.keys_after_delete),
        (Some(1), Some(0))
    );
    let keys = api.get("/v1/playback-keys", &token).await.ok();
    assert_eq!(keys["data"], json!([]));
}

/// Every page the app routes answers the app (a deep link survives a reload) with a policy that
/// lets no injected script run and no other site frame the owner's buttons. Assets are
/// compressed and cached for good; a missing one is a 404.
#[tokio::test]
async fn the_dashboard_pages_are_served_with_their_protections() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let client = reqwest::Client::new();
    // Plain, unless asked: this client does not decompress.
    let fetch = |path: &str, encoding: &str| {
        client
            .get(format!("{}{path}", sigma.url))
            .header("accept-encoding", encoding)
            .send()
    };
    let get = |path: &str| fetch(path, "identity");

    let index = get("/").await.unwrap();
    assert_eq!(index.status(), 200);
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let policy = header(&index, "content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(header(&index, "x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(header(&index, "cache-control").as_deref(), Some("no-cache"));
    let page = index.text().await.unwrap();
    let script = page
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's script")
        .to_owned();
    assert!(script.starts_with("/assets/"), "{page}");
    for tag in page.split("<script").skip(1) {
        let opening = tag.split('>').next().unwrap_or_default();
        assert!(opening.contains(" src=\"/assets/"), "inline script: {page}");
    }

    let deep = get("/channels/ch_anything").await.unwrap();
    assert_eq!(deep.status(), 200);
    assert_eq!(deep.text().await.unwrap(), page);

    // The player page is made to be framed, by any site; it runs no inline script either.
    let player = get("/embed/ch_anything").await.unwrap();
    assert_eq!(player.status(), 200);
    let policy = header(&player, "content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.ends_with("frame-ancestors *"), "{policy}");
    assert_eq!(header(&player, "x-frame-options"), None);
    let player = player.text().await.unwrap();
    assert_ne!(player, page);
    assert!(
        player.contains("<script type=\"module\" crossorigin src=\"/assets/"),
        "{player}"
    );

    let asset = fetch(&script, "gzip").await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        header(&asset, "cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(header(&asset, "content-encoding").as_deref(), Some("gzip"));
    assert!(header(&asset, "content-type")
        .unwrap()
        .contains("javascript"));
    // Names outside the assets (the page itself, the package file, the process's files) are
    // not assets, however they are spelled.
    for missing in [
        "/assets/nothing.js",
        "/assets/..%2Findex.html",
        "/assets/..%2F..%2Fpackage.json",
        "/assets/..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fproc%2Fself%2Fexe",
    ] {
        assert_eq!(get(missing).await.unwrap().status(), 404, "{missing}");
    }
}
