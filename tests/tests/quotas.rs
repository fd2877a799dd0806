//! Per-account quotas against a real `sigma run` with small ones: channels and webhooks past
//! the quota are refused 409 `quota_exceeded` and not created; a publisher that would open
//! one session too many (or one ABR session too many) is refused with the reason, while the
//! account's other broadcasts and other accounts go on; each refusal is counted.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::hls::until_listed;
use sigma_tests::metrics::{ingest_dropped, read};
use sigma_tests::process::SigmaConfig;
use sigma_tests::publish::{publisher, Publish};
use sigma_tests::wait::until;

const CAMERA: Publish = Publish {
    real_time: true,
    zero_latency: true,
    stamped: false,
};

async fn refusal(channel: &Value) -> String {
    sigma_tests::publish::refusal(channel["rtmp_url"].as_str().unwrap(), CAMERA).await
}

async fn quota_hits(sigma: &sigma_tests::process::Sigma, limit: &str) -> f64 {
    let line = format!("sigma_limits_hit_total{{limit=\"{limit}\"}} ");
    read(&sigma.metrics_url, &line).await.unwrap_or(0.0)
}

#[tokio::test]
async fn an_account_gets_what_its_quotas_allow_and_a_clear_refusal_past_them() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path())
        .with("SIGMA_QUOTA_CHANNELS", "3")
        .with("SIGMA_QUOTA_WEBHOOKS", "1")
        .with("SIGMA_QUOTA_LIVE_SESSIONS", "2")
        .with("SIGMA_QUOTA_ABR_SESSIONS", "1")
        .with("SIGMA_WEBHOOK_ALLOW_PRIVATE", "1")
        .start()
        .await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "owner").await;
    let settings = |name: &str, transcode: &str| {
        json!({ "name": name, "transcode": transcode, "reconnect_window_seconds": 0 })
    };
    let abr = api.create_channel(&token, settings("abr", "abr")).await;
    let second_abr = api.create_channel(&token, settings("abr 2", "abr")).await;
    let plain = api
        .create_channel(&token, settings("plain", "passthrough"))
        .await;

    // Channels: the fourth is refused and not made.
    let refused = api
        .post("/v1/channels", &token, settings("one too many", "passthrough"))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.code(), "quota_exceeded");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("at most 3 channels"), "{message}");
    let listed = api.get("/v1/channels", &token).await.ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 3, "{listed}");
    assert_eq!(quota_hits(&sigma, "quota_channels").await, 1.0);

    // Webhooks: the second is refused and not made.
    let hook = json!({ "url": "http://127.0.0.1:9/hook" });
    assert_eq!(
        api.post("/v1/webhooks", &token, hook.clone()).await.status,
        StatusCode::CREATED
    );
    let refused = api.post("/v1/webhooks", &token, hook).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.code(), "quota_exceeded");
    let listed = api.get("/v1/webhooks", &token).await.ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");

    // Another account's quotas are its own.
    let (_, stranger) = api.account_with_token(&sigma.admin_key, "stranger").await;
    let strangers = api
        .create_channel(&stranger, settings("theirs", "abr"))
        .await;

    // Sessions: one ABR broadcast, then a second ABR one is refused; a passthrough one fits.
    let live = |channel: &Value| format!("{}/live/{}/source.m3u8", sigma.url, channel["id"].as_str().unwrap());
    let spawn = |channel: &Value| {
        publisher(channel["rtmp_url"].as_str().unwrap(), 120, CAMERA)
            .spawn()
            .unwrap()
    };
    let mut on_abr = spawn(&abr);
    until_listed(&live(&abr), 1, Duration::from_secs(30)).await;
    let said = refusal(&second_abr).await;
    assert!(said.contains("at most 1 ABR sessions"), "{said}");
    let _on_plain = spawn(&plain);
    until_listed(&live(&plain), 1, Duration::from_secs(30)).await;
    // Two sessions are open: a third is refused whatever its profile.
    let patched = api
        .patch(
            &format!("/v1/channels/{}", second_abr["id"].as_str().unwrap()),
            &token,
            json!({ "transcode": "passthrough" }),
        )
        .await;
    assert!(patched.status.is_success(), "{}", patched.body);
    let said = refusal(&second_abr).await;
    assert!(said.contains("at most 2 live sessions"), "{said}");
    assert_eq!(
        ingest_dropped(&sigma.metrics_url, "refused_quota_exceeded").await,
        2.0
    );
    assert_eq!(quota_hits(&sigma, "quota_abr_sessions").await, 1.0);
    assert_eq!(quota_hits(&sigma, "quota_live_sessions").await, 1.0);
    let _theirs = spawn(&strangers);
    until_listed(&live(&strangers), 1, Duration::from_secs(30)).await;

    // Once a broadcast ends, its room is free again.
    on_abr.kill().await.unwrap();
    let abr_id = abr["id"].as_str().unwrap().to_owned();
    until(Duration::from_secs(20), "the ABR session ends", || async {
        api.first_session(&token, &abr_id).await["status"] == "ended"
    })
    .await;
    let _on_second = spawn(&second_abr);
    until_listed(&live(&second_abr), 1, Duration::from_secs(30)).await;
}
