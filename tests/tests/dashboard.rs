//! The dashboard, used as a newcomer would in headless Chromium against a real deployment and a
//! real ffmpeg publisher (`tests/dashboard/go-live.mjs`).

use serde::Deserialize;
use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::browser;
use sigma_tests::deployment::{Deployment, DEPLOYMENT_VAR};
use sigma_tests::process::SigmaConfig;

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
    session_state: Option<String>,
    ended_as: Option<String>,
    status_after_stop: Option<String>,
    catchup: Option<Watched>,
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

/// Where the screenshots go: kept after the run, one folder per deployment.
fn artifacts() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
    let deployment = std::env::var(DEPLOYMENT_VAR).unwrap_or_else(|_| "standalone".into());
    let dir = std::path::Path::new(&target)
        .join("artifacts/dashboard")
        .join(deployment);
    std::fs::create_dir_all(&dir).expect("an artifacts folder");
    dir
}

#[tokio::test]
async fn a_newcomer_goes_live_from_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let artifacts = artifacts();
    let seen: GoLive = browser::run(
        "dashboard/go-live.mjs",
        &[&sigma.url, &sigma.admin_key, artifacts.to_str().unwrap()],
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

    // Stopped by its owner, the channel's session ended and its catch-up played.
    assert_eq!(seen.status_after_stop.as_deref(), Some("stopped"));
    let ended = seen.ended_as.as_deref().unwrap_or_default();
    assert!(ended.contains("ended (stopped by owner)"), "{seen:#?}");
    let catchup = seen.catchup.as_ref().expect("the catch-up");
    assert!(catchup.advanced >= 2.0 && !catchup.failed, "{seen:#?}");
    for screenshot in &seen.screenshots {
        assert!(
            std::fs::metadata(screenshot).is_ok_and(|file| file.len() > 1000),
            "{screenshot}"
        );
    }
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
