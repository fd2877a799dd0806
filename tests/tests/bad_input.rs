//! Malformed and invalid requests get a clear error and change nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::process::SigmaConfig;

#[tokio::test]
async fn malformed_json_and_invalid_values_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "owner").await;
    let channel = api.create_channel(&token, json!({ "name": "stage" })).await;
    let id = channel["id"].as_str().unwrap();
    let path = format!("/v1/channels/{id}");
    let before = api.snapshot(&token, id).await;

    let malformed = ["{\"name\":", "not json", "{\"name\": \"x\",}", "", "[1, 2"];
    for body in malformed {
        for (method, target) in [
            (Method::PATCH, path.as_str()),
            (Method::POST, "/v1/channels"),
        ] {
            let answer = api.call_raw(method.clone(), target, &token, body).await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{method} {target} {body:?}: {}",
                answer.body
            );
            assert_eq!(answer.code(), "bad_json");
        }
    }

    let invalid = [
        json!({ "latency_mode": "warp_speed" }),
        json!({ "transcode": "h266" }),
        json!({ "playback_policy": "secret" }),
        json!({ "dvr_window_seconds": -1 }),
        json!({ "dvr_window_seconds": 10_000_000 }),
        json!({ "max_session_seconds": 1 }),
        json!({ "record_source": "yes" }),
        json!({ "name": "" }),
        json!({ "name": "x".repeat(500) }),
        json!({ "colour": "blue" }),
        json!("a string"),
    ];
    let mut named = 0;
    for body in &invalid {
        let answer = api.patch(&path, &token, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "PATCH {body}: {}",
            answer.body
        );
        assert!(
            ["invalid_body", "invalid_field"].contains(&answer.code()),
            "PATCH {body}: {}",
            answer.body
        );
        // A value out of bounds names its field, so that a form can show the message by it.
        if answer.code() == "invalid_field" {
            named += 1;
            let field = body.as_object().and_then(|fields| fields.keys().next());
            assert_eq!(
                answer.body["error"]["field"].as_str(),
                field.map(String::as_str),
                "PATCH {body}: {}",
                answer.body
            );
        }
        let mut create = body.clone();
        if let Some(fields) = create.as_object_mut() {
            fields.entry("name").or_insert(json!("new"));
        }
        let answer = api.post("/v1/channels", &token, create.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "POST {create}: {}",
            answer.body
        );
    }

    assert!(named >= 4, "only {named} bounds named their field");

    // Hostile or malformed ids are a 404 (or 422), never a server error.
    for hostile in ["..%2F..%2Fetc%2Fpasswd", "ch_zz", "ch_%00", "'%20OR%201=1"] {
        let answer = api.get(&format!("/v1/channels/{hostile}"), &token).await;
        assert!(
            [StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY].contains(&answer.status),
            "{hostile}: {} {}",
            answer.status,
            answer.body
        );
    }

    assert_eq!(
        api.snapshot(&token, id).await,
        before,
        "a refused request changed something"
    );
    assert_eq!(
        api.get("/v1/channels", &token).await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "a refused create made a channel"
    );
}

#[tokio::test]
async fn conflicts_with_the_channel_state_are_409_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "owner").await;
    let id = api.create_channel(&token, json!({ "name": "stage" })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let answer = api
        .post(&format!("/v1/channels/{id}/resume"), &token, json!({}))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::CONFLICT,
        "resume an idle channel: {}",
        answer.body
    );
    api.post(&format!("/v1/channels/{id}/stop"), &token, json!({}))
        .await
        .ok();
    let before = api.snapshot(&token, id.as_str()).await;
    let answer = api
        .post(&format!("/v1/channels/{id}/stop"), &token, json!({}))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::CONFLICT,
        "stop a stopped channel: {}",
        answer.body
    );
    assert_eq!(api.snapshot(&token, id.as_str()).await, before);

    api.delete(&format!("/v1/channels/{id}"), &token).await;
    let answer = api.get(&format!("/v1/channels/{id}"), &token).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = api
        .post(&format!("/v1/channels/{id}/resume"), &token, json!({}))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_FOUND,
        "a deleted channel: {}",
        answer.body
    );
}
