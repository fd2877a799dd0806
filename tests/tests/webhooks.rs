//! Webhooks as an integrator sees them: a real receiver on 127.0.0.1 checks every signature and
//! the order; a receiver that is down for two minutes (while the control plane is killed and
//! restarted) gets every event afterwards, in order, with the retries in the delivery log; a
//! dead and a slow endpoint do not delay a healthy one; a full session's events arrive with the
//! ids the channel's history shows.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::process::SigmaConfig;
use sigma_tests::receiver::{verify, Behaviour, Received, Receiver};
use sigma_tests::wait::until;

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The first arrival of each event, in arrival order (redeliveries are allowed, at least once).
fn first_arrivals(received: &[Received]) -> Vec<Received> {
    let mut seen = HashSet::new();
    received
        .iter()
        .filter(|one| seen.insert(one.event_id.clone()))
        .cloned()
        .collect()
}

/// Whether `receiver` has had every one of `expected` (by event id).
fn has_all(receiver: &Receiver, expected: &[String]) -> bool {
    let got: HashSet<String> = receiver
        .received()
        .into_iter()
        .map(|one| one.event_id)
        .collect();
    expected.iter().all(|id| got.contains(id))
}

/// Checks what a receiver should: the header matches the body, the body has the documented
/// fields, and the first arrivals come in `sequence` order.
fn assert_well_formed_and_in_order(arrivals: &[Received]) {
    let mut last = 0;
    for one in arrivals {
        let body = &one.body;
        assert_eq!(
            body["id"],
            one.event_id.as_str(),
            "Sigma-Event-Id is the body's id"
        );
        for field in [
            "type",
            "created_at",
            "channel_id",
            "session_id",
            "sequence",
            "data",
        ] {
            assert!(body.get(field).is_some(), "{field} missing from {body}");
        }
        let sequence = body["sequence"].as_u64().unwrap();
        assert!(sequence > last, "out of order: {sequence} after {last}");
        last = sequence;
    }
}

/// The subscription's delivery log once every delivery in it is recorded as delivered: a
/// receiver has a request before the dispatcher has the answer and records it.
async fn delivered_log(api: &Api, token: &str, hook_id: &str) -> Vec<Value> {
    let path = format!("/v1/webhooks/{hook_id}/deliveries?limit=1000");
    let log = || async {
        api.get(&path, token).await.ok()["data"]
            .as_array()
            .unwrap()
            .clone()
    };
    until(
        Duration::from_secs(10),
        "every delivery recorded as delivered",
        || async {
            log()
                .await
                .iter()
                .all(|delivery| delivery["status"] == "delivered")
        },
    )
    .await;
    log().await
}

#[tokio::test]
async fn a_full_session_arrives_signed_in_order_with_the_ids_of_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(Behaviour::default()).await;
    let sigma = Deployment::start(
        SigmaConfig::standalone(dir.path()).with("SIGMA_WEBHOOK_ALLOW_PRIVATE", "1"),
    )
    .await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "integrator").await;

    let hook = api
        .post("/v1/webhooks", &token, json!({ "url": receiver.url() }))
        .await
        .ok();
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let first_secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(first_secret.starts_with("whsec_"));
    let listed = api.get("/v1/webhooks", &token).await.ok();
    assert_eq!(listed["data"][0]["id"], hook_id.as_str());
    assert!(
        listed["data"][0].get("secret").is_none(),
        "the secret is shown once"
    );
    // Rotate with an hour of overlap: every delivery is then signed by both secrets.
    let rotated = api
        .post(
            &format!("/v1/webhooks/{hook_id}/secret"),
            &token,
            json!({ "overlap_seconds": 3600 }),
        )
        .await
        .ok();
    let second_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(first_secret, second_secret);
    assert!(rotated["previous_secret_valid_until"].is_string());

    let settings = json!({
        "name": "studio",
        "reconnect_window_seconds": 3,
        "thumbnail_interval_seconds": 2,
    });
    let channel = api.create_channel(&token, settings).await;
    let channel_id = channel["id"].as_str().unwrap();
    api.broadcast(&token, &channel, &[4, 3]).await;
    until(
        Duration::from_secs(30),
        "the session ended and its storyboard is complete",
        || async {
            api.history(&token, channel_id)
                .await
                .iter()
                .any(|event| event["type"] == "storyboard.ready")
        },
    )
    .await;
    let events = api.history(&token, channel_id).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let position = |wanted: &str| {
        types
            .iter()
            .position(|t| *t == wanted)
            .unwrap_or_else(|| panic!("no {wanted} in {types:?}"))
    };
    assert!(position("channel.created") < position("session.init"));
    assert!(position("session.init") < position("session.preview"));
    assert!(position("session.preview") < position("session.live"));
    assert!(position("session.live") < position("session.restream"));
    assert!(position("session.restream") < position("session.ended"));
    assert!(position("session.live") < position("thumbnail.ready"));
    assert!(position("session.ended") < position("storyboard.ready"));
    let ended = &events[position("session.ended")];
    assert_eq!(ended["data"]["reason"], "publisher_gone", "{ended}");

    let expected = ids(&events);
    until(
        Duration::from_secs(20),
        "every event reached the receiver",
        || async { has_all(&receiver, &expected) },
    )
    .await;
    let arrivals = first_arrivals(&receiver.received());
    assert_eq!(
        arrivals
            .iter()
            .map(|one| one.event_id.clone())
            .collect::<Vec<_>>(),
        expected,
        "the receiver got the history's events, with its ids, in its order"
    );
    assert_well_formed_and_in_order(&arrivals);
    for one in &receiver.received() {
        let (by_first, signatures) = verify(one, &first_secret);
        let (by_second, _) = verify(one, &second_secret);
        assert!(
            by_first && by_second,
            "both secrets sign during the overlap"
        );
        assert_eq!(signatures, 2);
        assert!(!verify(one, "whsec_forged").0);
    }
    let log = delivered_log(&api, &token, &hook_id).await;
    assert_eq!(log.len(), expected.len());
    for delivery in &log {
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attempt_log"][0]["status_code"], 200, "{delivery}");
    }

    // A rotation without overlap: the old secret stops signing at once.
    let third = api
        .post(
            &format!("/v1/webhooks/{hook_id}/secret"),
            &token,
            json!({ "overlap_seconds": 0 }),
        )
        .await
        .ok();
    let third_secret = third["secret"].as_str().unwrap().to_owned();
    api.post(
        &format!("/v1/channels/{channel_id}/stop"),
        &token,
        json!({}),
    )
    .await
    .ok();
    let count = expected.len();
    until(
        Duration::from_secs(10),
        "channel.stopped arrives",
        || async { first_arrivals(&receiver.received()).len() > count },
    )
    .await;
    let stopped = first_arrivals(&receiver.received())[count].clone();
    assert_eq!(stopped.body["type"], "channel.stopped");
    assert_eq!(verify(&stopped, &third_secret), (true, 1));
    assert!(!verify(&stopped, &second_secret).0);

    // Manual redelivery: the same event (same id, same body) comes again, a second attempt is
    // logged.
    let first = &log[0];
    let before = receiver.received().len();
    let redelivered = api
        .post(
            &format!(
                "/v1/webhooks/{hook_id}/deliveries/{}/redeliver",
                first["id"].as_str().unwrap()
            ),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(redelivered.status, 202, "{:?}", redelivered.body);
    until(
        Duration::from_secs(10),
        "the redelivery arrives",
        || async { receiver.received().len() > before },
    )
    .await;
    let again = receiver.received()[before].clone();
    assert_eq!(again.event_id, first["event_id"].as_str().unwrap());
    assert_eq!(again.raw, receiver.received()[0].raw, "the same body");
    until(
        Duration::from_secs(10),
        "the log shows the second attempt",
        || async {
            let log = api
                .get(
                    &format!("/v1/webhooks/{hook_id}/deliveries?limit=1"),
                    &token,
                )
                .await
                .ok();
            log["data"][0]["attempts"] == 2 && log["data"][0]["status"] == "delivered"
        },
    )
    .await;
    let unknown = api
        .post(
            &format!("/v1/webhooks/{hook_id}/deliveries/dl_nothing/redeliver"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn a_receiver_down_for_two_minutes_gets_everything_in_order_and_delays_no_one() {
    const DOWN_FOR: Duration = Duration::from_secs(120);
    let dir = tempfile::tempdir().unwrap();
    let mut down = Receiver::down(Behaviour::default());
    let healthy = Receiver::start(Behaviour::default()).await;
    let slow = Receiver::start(Behaviour {
        delay: Duration::from_secs(30),
        ..Behaviour::default()
    })
    .await;
    let mut config = SigmaConfig::standalone(dir.path())
        .with("SIGMA_WEBHOOK_ALLOW_PRIVATE", "1")
        .with("SIGMA_WEBHOOK_TIMEOUT_MS", "2000")
        .with("SIGMA_WEBHOOK_BACKOFF_MAX_MS", "5000");
    let mut sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "integrator").await;
    let mut hooks = Vec::new();
    for receiver in [&down, &healthy, &slow] {
        let hook = api
            .post("/v1/webhooks", &token, json!({ "url": receiver.url() }))
            .await
            .ok();
        hooks.push((
            hook["id"].as_str().unwrap().to_owned(),
            hook["secret"].as_str().unwrap().to_owned(),
        ));
    }
    let down_since = Instant::now();
    let channel = api
        .create_channel(&token, json!({ "name": "studio" }))
        .await;
    let channel_id = channel["id"].as_str().unwrap().to_owned();

    // Events keep coming while the receiver is down; each reaches the healthy endpoint at
    // once, however the dead and the slow ones are doing. Half way, the control plane is
    // killed with deliveries pending and started again.
    let mut killed = false;
    let mut worst_healthy_delay = Duration::ZERO;
    let mut stopped = false;
    while down_since.elapsed() < DOWN_FOR - Duration::from_secs(10) {
        let action = if stopped { "resume" } else { "stop" };
        api.post(
            &format!("/v1/channels/{channel_id}/{action}"),
            &token,
            json!({}),
        )
        .await
        .ok();
        stopped = !stopped;
        let expected = ids(&api.history(&token, &channel_id).await);
        worst_healthy_delay = worst_healthy_delay.max(
            until(
                Duration::from_secs(10),
                "the healthy endpoint is served",
                || async { has_all(&healthy, &expected) },
            )
            .await,
        );
        if !killed && down_since.elapsed() > DOWN_FOR / 2 {
            let pending = api
                .get(
                    &format!("/v1/webhooks/{}/deliveries?status=pending", hooks[0].0),
                    &token,
                )
                .await
                .ok();
            assert!(
                !pending["data"].as_array().unwrap().is_empty(),
                "deliveries are pending when the control plane dies"
            );
            sigma.kill().await;
            sigma = config.start().await;
            killed = true;
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    assert!(
        worst_healthy_delay < Duration::from_secs(3),
        "a dead and a slow endpoint delayed a healthy one by {worst_healthy_delay:?}"
    );
    let api = Api::new(&sigma.url);
    let expected = ids(&api.history(&token, &channel_id).await);
    assert!(expected.len() >= 15, "{} events", expected.len());
    assert!(down.received().is_empty());

    tokio::time::sleep(DOWN_FOR.saturating_sub(down_since.elapsed())).await;
    down.up().await;
    until(
        Duration::from_secs(60),
        "the returning receiver got everything",
        || async { has_all(&down, &expected) },
    )
    .await;
    let arrivals = first_arrivals(&down.received());
    assert_eq!(
        arrivals
            .iter()
            .map(|one| one.event_id.clone())
            .collect::<Vec<_>>(),
        expected
    );
    assert_well_formed_and_in_order(&arrivals);
    assert!(down.received().iter().all(|one| verify(one, &hooks[0].1).0));

    let log = delivered_log(&api, &token, &hooks[0].0).await;
    assert_eq!(log.len(), expected.len());
    // The lane waits on its first delivery (order before all), so the retries are on it.
    for delivery in &log {
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        let attempts = delivery["attempt_log"].as_array().unwrap();
        assert_eq!(attempts.last().unwrap()["status_code"], 200);
        assert!(attempts[..attempts.len() - 1]
            .iter()
            .all(|failed| failed["status_code"].is_null()
                && failed["error"].as_str().unwrap().contains("connect")));
    }
    let first = log[0]["attempt_log"].as_array().unwrap();
    assert!(
        first.len() >= 10,
        "two minutes of retries, backoff capped at 5 s: {first:?}"
    );

    // The slow endpoint was tried and timed out, and only its own lane waited for it.
    let slow_log = api
        .get(&format!("/v1/webhooks/{}/deliveries", hooks[2].0), &token)
        .await
        .ok();
    let slow_first = &slow_log["data"][0]["attempt_log"][0];
    assert!(
        slow_first["error"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{slow_first}"
    );
    assert!(!slow.received().is_empty());
}

#[tokio::test]
async fn targets_and_subscriptions_are_checked_and_private_to_their_account() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (account_id, token) = api.account_with_token(&sigma.admin_key, "integrator").await;

    // A listener on loopback that none of the refused targets may reach.
    let listener = Receiver::start(Behaviour::default()).await;
    let port = listener.port;
    for url in [
        format!("HTTP://127.0.0.1:{port}/hooks"),
        "HTTPS://169.254.169.254/latest/meta-data".to_owned(),
        format!("http://[::ffff:127.0.0.1]:{port}/hooks"),
        format!("http://[64:ff9b::7f00:1]:{port}/hooks"),
        format!("http://[::127.0.0.1]:{port}/hooks"),
        format!("http://0.0.0.0:{port}/hooks"),
        format!("http://2130706433:{port}/hooks"),
        format!("http://0x7f.1:{port}/hooks"),
        format!("http://LOCALHOST:{port}/hooks"),
    ] {
        let refused = api
            .post("/v1/webhooks", &token, json!({ "url": url }))
            .await;
        assert_eq!(refused.status, 422, "{url}: {:?}", refused.body);
        assert_eq!(refused.code(), "invalid_target", "{url}");
    }
    for (url, code) in [
        ("http://127.0.0.1:9/hooks", "invalid_target"),
        ("http://localhost/hooks", "invalid_target"),
        ("http://[::1]/hooks", "invalid_target"),
        ("http://169.254.169.254/latest/meta-data", "invalid_target"),
        ("http://10.0.0.7/hooks", "invalid_target"),
        ("ftp://93.184.216.34/hooks", "invalid_field"),
        ("https://user:pw@93.184.216.34/hooks", "invalid_field"),
    ] {
        let refused = api
            .post("/v1/webhooks", &token, json!({ "url": url }))
            .await;
        assert_eq!(refused.status, 422, "{url}: {:?}", refused.body);
        assert_eq!(refused.code(), code, "{url}");
    }
    let unknown_type = api
        .post(
            "/v1/webhooks",
            &token,
            json!({ "url": "https://93.184.216.34/hooks", "event_types": ["session.everything"] }),
        )
        .await;
    assert_eq!(unknown_type.status, 422);
    let garbage = api
        .call_raw(reqwest::Method::POST, "/v1/webhooks", &token, "{\"url\": ")
        .await;
    assert_eq!(garbage.status, 400);
    assert_eq!(
        api.get("/v1/webhooks", &token).await.ok()["data"],
        json!([]),
        "nothing refused was created"
    );
    assert!(listener.received().is_empty());

    let hook = api
        .post(
            "/v1/webhooks",
            &token,
            json!({ "url": "https://93.184.216.34/hooks", "event_types": ["session.live"] }),
        )
        .await
        .ok();
    let hook_id = hook["id"].as_str().unwrap();
    assert_eq!(hook["event_types"], json!(["session.live"]));

    let (_, stranger) = api.account_with_token(&sigma.admin_key, "stranger").await;
    assert_eq!(
        api.get(&format!("/v1/webhooks/{hook_id}"), &stranger)
            .await
            .status,
        404
    );
    assert_eq!(
        api.delete(&format!("/v1/webhooks/{hook_id}"), &stranger)
            .await
            .status,
        404
    );
    assert_eq!(
        api.get(&format!("/v1/webhooks/{hook_id}/deliveries"), &stranger)
            .await
            .status,
        404
    );
    let read_only = api
        .post(
            "/v1/tokens",
            &sigma.admin_key,
            json!({ "account_id": account_id, "scopes": ["channels:read", "webhooks:read"] }),
        )
        .await
        .ok();
    let read_only = read_only["token"].as_str().unwrap();
    let forbidden = api
        .post(
            "/v1/webhooks",
            read_only,
            json!({ "url": "https://93.184.216.34/x" }),
        )
        .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        api.get(&format!("/v1/webhooks/{hook_id}"), read_only)
            .await
            .status,
        200
    );

    assert_eq!(
        api.delete(&format!("/v1/webhooks/{hook_id}"), &token)
            .await
            .status,
        204
    );
    assert_eq!(
        api.get(&format!("/v1/webhooks/{hook_id}"), &token)
            .await
            .status,
        404
    );
    assert_eq!(
        api.delete(&format!("/v1/webhooks/{hook_id}"), &token)
            .await
            .status,
        404
    );
    assert_eq!(
        api.get(&format!("/v1/webhooks/{hook_id}/deliveries"), &token)
            .await
            .status,
        200,
        "a deleted subscription's delivery log stays readable"
    );
}

/// The checks hold at delivery too, whatever was stored: a subscription made while private
/// targets were allowed (or a name that resolves elsewhere later, as DNS rebinding does) gets
/// no connection once they are not, literal addresses included; and a redirect is never
/// followed, so a public target cannot bounce a delivery inwards.
#[tokio::test]
async fn targets_are_checked_again_at_delivery_and_redirects_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let inside = Receiver::start(Behaviour::default()).await;
    let bouncer = Receiver::start(Behaviour {
        status: 307,
        redirect_to: Some(inside.port),
        ..Behaviour::default()
    })
    .await;
    let mut lab = SigmaConfig::standalone(dir.path()).with("SIGMA_WEBHOOK_ALLOW_PRIVATE", "1");
    let sigma = lab.start().await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "integrator").await;
    let created = |url: String| {
        let api = &api;
        let token = &token;
        async move {
            api.post("/v1/webhooks", token, json!({ "url": url }))
                .await
                .ok()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let bounced = created(bouncer.url()).await;
    api.create_channel(&token, json!({ "name": "first" })).await;
    let path = format!("/v1/webhooks/{bounced}/deliveries");
    until(Duration::from_secs(20), "the bouncer is tried", || async {
        api.get(&path, &token).await.ok()["data"][0]["last_status_code"] == 307
    })
    .await;
    api.delete(&format!("/v1/webhooks/{bounced}"), &token).await;

    let port = inside.port;
    let mut hooks = Vec::new();
    for url in [
        format!("HTTP://127.0.0.1:{port}/hooks"),
        format!("http://[::ffff:127.0.0.1]:{port}/hooks"),
        format!("http://2130706433:{port}/hooks"),
        format!("http://localhost:{port}/hooks"),
    ] {
        hooks.push(created(url).await);
    }
    sigma.kill().await;
    let sigma = SigmaConfig::standalone(dir.path()).start().await;
    let api = Api::new(&sigma.url);
    api.create_channel(&token, json!({ "name": "second" }))
        .await;
    for hook in &hooks {
        let path = format!("/v1/webhooks/{hook}/deliveries");
        until(Duration::from_secs(20), "a delivery is refused", || async {
            let log = api.get(&path, &token).await.ok();
            log["data"][0]["last_error"]
                .as_str()
                .is_some_and(|error| error.contains("private"))
        })
        .await;
    }
    assert!(
        inside.received().is_empty(),
        "nothing reached the inside listener: {:?}",
        inside.received()
    );
}

/// A token that may only manage webhooks learns no stream key: not from the bodies its
/// subscription receives (they say a key was made or rotated, never what it is), not from
/// any route it may call; and the history shows no key to anyone.
#[tokio::test]
async fn a_webhooks_write_token_learns_no_stream_key_by_any_route() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(Behaviour::default()).await;
    let sigma = Deployment::start(
        SigmaConfig::standalone(dir.path()).with("SIGMA_WEBHOOK_ALLOW_PRIVATE", "1"),
    )
    .await;
    let api = Api::new(&sigma.url);
    let (account, owner) = api.account_with_token(&sigma.admin_key, "integrator").await;
    let hooks_only = api
        .post(
            "/v1/tokens",
            &sigma.admin_key,
            json!({ "account_id": account, "scopes": ["webhooks:write"] }),
        )
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let hook = api
        .post("/v1/webhooks", &hooks_only, json!({ "url": receiver.url() }))
        .await
        .ok();
    let channel = api.create_channel(&owner, json!({ "name": "keyed" })).await;
    let id = channel["id"].as_str().unwrap().to_owned();
    let rotated = api
        .post(&format!("/v1/channels/{id}/stream-key"), &owner, json!({}))
        .await
        .ok();
    let keys = [
        channel["stream_key"].as_str().unwrap().to_owned(),
        rotated["stream_key"].as_str().unwrap().to_owned(),
    ];
    assert_ne!(keys[0], keys[1]);
    until(Duration::from_secs(20), "both key events are delivered", || async {
        let types: Vec<Value> = receiver
            .received()
            .iter()
            .map(|received| received.body["type"].clone())
            .collect();
        types.contains(&json!("channel.created"))
            && types.contains(&json!("channel.stream_key_rotated"))
    })
    .await;
    let shows_a_key = |text: &str| keys.iter().any(|key| text.contains(key.as_str()));
    for received in receiver.received() {
        let raw = String::from_utf8_lossy(&received.raw).into_owned();
        assert!(!shows_a_key(&raw), "a webhook body shows a stream key: {raw}");
        if received.body["type"] == "channel.stream_key_rotated" {
            assert_eq!(received.body["data"], json!({}), "{raw}");
        }
    }

    // Every route the token may call, and those it may not.
    let hook_id = hook["id"].as_str().unwrap();
    for path in [
        "/v1/channels".to_owned(),
        format!("/v1/channels/{id}"),
        format!("/v1/channels/{id}/events"),
        format!("/v1/channels/{id}/sessions"),
        "/v1/webhooks".to_owned(),
        format!("/v1/webhooks/{hook_id}"),
        format!("/v1/webhooks/{hook_id}/deliveries"),
        "/v1/alerts".to_owned(),
        "/v1/playback-keys".to_owned(),
    ] {
        let answer = api.get(&path, &hooks_only).await;
        assert!(
            !shows_a_key(&answer.body.to_string()),
            "{path} shows a stream key to a webhooks:write token: {}",
            answer.body
        );
        assert!(
            matches!(answer.status.as_u16(), 200 | 403),
            "{path}: {}",
            answer.status
        );
    }
    for path in [format!("/v1/channels/{id}"), format!("/v1/channels/{id}/events")] {
        assert_eq!(api.get(&path, &hooks_only).await.status, 403, "{path}");
    }
    // The history tells of both keys, and shows neither, even to the owner.
    let history = api.get(&format!("/v1/channels/{id}/events"), &owner).await.ok();
    assert!(!shows_a_key(&history.to_string()), "{history}");
    assert!(history.to_string().contains("channel.stream_key_rotated"));
}
