//! A standalone process keeps everything across a restart, crash included: accounts, tokens,
//! channels, sessions, event history, the admin key and the signing key.

use serde_json::json;
use sigma_tests::api::Api;
use sigma_tests::process::SigmaConfig;

#[tokio::test]
async fn a_killed_and_restarted_process_keeps_every_channel_token_and_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SigmaConfig::standalone(dir.path());
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "owner").await;
    let mut channels = Vec::new();
    for n in 0..5 {
        let id = api
            .create_channel(&token, json!({ "name": format!("stage {n}") }))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        api.patch(
            &format!("/v1/channels/{id}"),
            &token,
            json!({ "latency_mode": "normal" }),
        )
        .await
        .ok();
        channels.push(id);
    }
    api.post(
        &format!("/v1/channels/{}/stop", channels[0]),
        &token,
        json!({}),
    )
    .await
    .ok();
    let list_before = api.get("/v1/channels", &token).await.ok();
    let mut snapshots = Vec::new();
    for id in &channels {
        snapshots.push(api.snapshot(&token, id).await);
    }
    let admin_key = sigma.admin_key.clone();
    sigma.kill().await;

    let sigma = config.start().await;
    assert_eq!(
        sigma.admin_key, admin_key,
        "the generated admin key changed"
    );
    let api = Api::new(&sigma.url);
    assert_eq!(
        api.get("/v1/channels", &token).await.ok(),
        list_before,
        "the token or the channels did not survive"
    );
    for (id, snapshot) in channels.iter().zip(&snapshots) {
        assert_eq!(&api.snapshot(&token, id).await, snapshot);
    }
    // And it goes on where it stopped: sequences continue.
    api.post(
        &format!("/v1/channels/{}/resume", channels[0]),
        &token,
        json!({}),
    )
    .await
    .ok();
    let events = api
        .get(&format!("/v1/channels/{}/events", channels[0]), &token)
        .await
        .ok();
    let sequences: Vec<i64> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, vec![1, 2, 3, 4]);
}
