//! Authentication and isolation, from the outside: missing, expired and forged tokens are 401,
//! another account's channel is 404, a missing scope is 403 — and none of them changes anything.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sigma_tests::api::Api;
use sigma_tests::deployment::Deployment;
use sigma_tests::process::SigmaConfig;

const OLD_KEY: (&str, &str) = ("k-2026-01", "an-old-secret-that-is-long-enough-0123456789");
const NEW_KEY: (&str, &str) = ("k-2026-11", "a-new-secret-that-is-long-enough-9876543210");

/// A token as the platform signs them, with claims of our choosing.
fn token(
    kid: &str,
    secret: &str,
    account_id: &str,
    scopes: &[&str],
    expires_in_seconds: i64,
) -> String {
    let now = Utc::now().timestamp();
    let claims = json!({
        "sub": account_id, "scopes": scopes, "iat": now, "exp": now + expires_in_seconds,
        "jti": uuid::Uuid::new_v4().simple().to_string(), "iss": "sigma-live",
    });
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn bad_credentials_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = format!("{}:{}", NEW_KEY.0, NEW_KEY.1);
    let sigma =
        Deployment::start(SigmaConfig::standalone(dir.path()).with("SIGMA_SIGNING_KEYS", keys))
            .await;
    let api = Api::new(&sigma.url);
    let (account, owner) = api.account_with_token(&sigma.admin_key, "owner").await;
    let (_, stranger) = api.account_with_token(&sigma.admin_key, "stranger").await;
    let channel = api
        .create_channel(&owner, json!({ "name": "private" }))
        .await;
    let id = channel["id"].as_str().unwrap();
    let before = api.snapshot(&owner, id).await;

    let expired = token(
        NEW_KEY.0,
        NEW_KEY.1,
        &account,
        &["channels:read", "channels:write"],
        -60,
    );
    let forged = token(
        NEW_KEY.0,
        "somebody-elses-secret-that-is-long-enough",
        &account,
        &["channels:read", "channels:write"],
        600,
    );
    let unknown_kid = token(
        "k-made-up",
        NEW_KEY.1,
        &account,
        &["channels:read", "channels:write"],
        600,
    );
    let read_only = token(NEW_KEY.0, NEW_KEY.1, &account, &["channels:read"], 600);

    let attempts = [
        (Method::GET, format!("/v1/channels/{id}"), None),
        (
            Method::PATCH,
            format!("/v1/channels/{id}"),
            Some(json!({ "name": "hijacked" })),
        ),
        (Method::POST, format!("/v1/channels/{id}/stop"), None),
        (Method::POST, format!("/v1/channels/{id}/stream-key"), None),
        (Method::DELETE, format!("/v1/channels/{id}"), None),
        (Method::GET, format!("/v1/channels/{id}/events"), None),
    ];
    for (method, path, body) in &attempts {
        let cases: [(Option<&str>, StatusCode, &str); 5] = [
            (None, StatusCode::UNAUTHORIZED, "missing_token"),
            (Some(&expired), StatusCode::UNAUTHORIZED, "token_expired"),
            (Some(&forged), StatusCode::UNAUTHORIZED, "invalid_token"),
            (
                Some(&unknown_kid),
                StatusCode::UNAUTHORIZED,
                "invalid_token",
            ),
            (Some(&stranger), StatusCode::NOT_FOUND, "not_found"),
        ];
        for (bearer, status, code) in cases {
            let answer = api.call(method.clone(), path, bearer, body.clone()).await;
            assert_eq!(
                answer.status, status,
                "{method} {path} with {code}: {}",
                answer.body
            );
            assert_eq!(answer.code(), code, "{method} {path}");
        }
        if *method != Method::GET {
            let answer = api
                .call(method.clone(), path, Some(&read_only), body.clone())
                .await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{method} {path} with a read-only token"
            );
            assert_eq!(answer.code(), "forbidden");
        }
    }
    // The stranger's list does not show it either, and a read-only token may read.
    assert_eq!(
        api.get("/v1/channels", &stranger).await.ok()["data"],
        json!([])
    );
    assert_eq!(
        api.get(&format!("/v1/channels/{id}"), &read_only)
            .await
            .ok()["id"],
        id
    );

    assert_eq!(
        api.snapshot(&owner, id).await,
        before,
        "a refused request changed something"
    );
}

#[tokio::test]
async fn only_the_admin_key_creates_lists_accounts_and_mints_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = Deployment::start(SigmaConfig::standalone(dir.path())).await;
    let api = Api::new(&sigma.url);
    let (account, token) = api.account_with_token(&sigma.admin_key, "owner").await;

    for bearer in [None, Some(token.as_str()), Some("not-the-admin-key")] {
        let answer = api
            .call(
                Method::POST,
                "/v1/accounts",
                bearer,
                Some(json!({ "name": "x" })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
        let answer = api
            .call(
                Method::POST,
                "/v1/tokens",
                bearer,
                Some(json!({ "account_id": account })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
        let answer = api.call(Method::GET, "/v1/accounts", bearer, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    // Only the owner's account was made, and the admin key lists it; a second one follows it,
    // a page at a time.
    let listed = api.get("/v1/accounts", &sigma.admin_key).await.ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["data"][0]["id"], account);
    assert_eq!(listed["data"][0]["name"], "owner");
    let (second, _) = api.account_with_token(&sigma.admin_key, "second").await;
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let page = api
            .get(&format!("/v1/accounts?limit=1{after}"), &sigma.admin_key)
            .await
            .ok();
        let Some(item) = page["data"].as_array().unwrap().first().cloned() else {
            break;
        };
        assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
        after = format!("&after={}", item["id"].as_str().unwrap());
        paged.push(item["id"].as_str().unwrap().to_owned());
    }
    let mut both = vec![account.clone(), second];
    both.sort();
    assert_eq!(paged, both);
    // A token for an account that does not exist is refused, not minted.
    let answer = api
        .post(
            "/v1/tokens",
            &sigma.admin_key,
            json!({ "account_id": "ac_00000000000000000000000000000000" }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
}

#[tokio::test]
async fn tokens_signed_by_a_retired_key_keep_working_while_it_is_still_listed() {
    let dir = tempfile::tempdir().unwrap();
    let old_only = format!("{}:{}", OLD_KEY.0, OLD_KEY.1);
    let mut config = SigmaConfig::standalone(dir.path()).with("SIGMA_SIGNING_KEYS", old_only);
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let (_, old_token) = api.account_with_token(&sigma.admin_key, "owner").await;
    let admin_key = sigma.admin_key.clone();
    sigma.kill().await;

    // Rotate: the new key signs, the old one still verifies.
    let mut rotated = config.clone().with(
        "SIGMA_SIGNING_KEYS",
        format!("{}:{},{}:{}", NEW_KEY.0, NEW_KEY.1, OLD_KEY.0, OLD_KEY.1),
    );
    let sigma = rotated.start().await;
    let api = Api::new(&sigma.url);
    api.create_channel(&old_token, json!({ "name": "made with the old key" }))
        .await;
    let account = api
        .post("/v1/accounts", &admin_key, json!({ "name": "later" }))
        .await
        .ok();
    let fresh = api
        .post(
            "/v1/tokens",
            &admin_key,
            json!({ "account_id": account["id"] }),
        )
        .await
        .ok();
    let fresh = fresh["token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(fresh).unwrap().kid.as_deref(),
        Some(NEW_KEY.0)
    );
    sigma.kill().await;

    // Retire the old key: its tokens stop working, the new ones do not.
    let mut retired = config.with("SIGMA_SIGNING_KEYS", format!("{}:{}", NEW_KEY.0, NEW_KEY.1));
    let sigma = retired.start().await;
    let api = Api::new(&sigma.url);
    let answer = api.get("/v1/channels", &old_token).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.get("/v1/channels", fresh).await.status, StatusCode::OK);
}

/// Guessing is slow: 200 wrong admin keys from one address end in 429 with a `Retry-After`;
/// the right key is still served there, and another address has a budget of its own.
#[tokio::test]
async fn wrong_admin_keys_from_one_address_are_answered_429() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path()).start().await;
    let from = |address: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(address))
            .build()
            .unwrap()
    };
    let (guesser, bystander) = (from([127, 0, 0, 1]), from([127, 0, 0, 2]));
    let accounts = format!("{}/v1/accounts", sigma.url);
    let create = |client: &reqwest::Client, key: &str| {
        client
            .post(&accounts)
            .bearer_auth(key)
            .json(&json!({ "name": "guessed" }))
            .send()
    };
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for guess in 0..200 {
        let answer = create(&guesser, &format!("sigma_admin_guess_{guess}"))
            .await
            .unwrap();
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = answer.headers().get("retry-after").cloned();
        }
        statuses.push(answer.status());
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(statuses[199], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    let unauthorized = statuses
        .iter()
        .filter(|status| **status == StatusCode::UNAUTHORIZED)
        .count();
    assert!(unauthorized < 100, "{unauthorized} guesses were judged");
    assert!(retry_after.is_some(), "a 429 says when to retry");
    // A credential that verifies is never refused: whoever shares the guesser's address (a
    // proxy, a NAT) is not locked out.
    let right = create(&guesser, &sigma.admin_key).await.unwrap();
    assert_eq!(right.status(), StatusCode::CREATED);
    let unsent = guesser.post(&accounts).send().await.unwrap();
    assert_eq!(
        unsent.status(),
        StatusCode::UNAUTHORIZED,
        "no credential is not a guess"
    );
    let limited = sigma_tests::metrics::read(
        &sigma.metrics_url,
        "sigma_limits_hit_total{limit=\"auth_failures\"} ",
    )
    .await;
    assert!(limited.unwrap_or(0.0) >= 1.0, "{limited:?}");

    let judged = create(&bystander, "sigma_admin_guess_elsewhere")
        .await
        .unwrap();
    assert_eq!(
        judged.status(),
        StatusCode::UNAUTHORIZED,
        "another address has its own budget"
    );
}

/// Revoking an account's tokens refuses each of them on its next request (and after a
/// restart, from the read model), leaves other accounts' tokens alone, and takes only the
/// admin key; a token minted afterwards works.
#[tokio::test]
async fn revoked_tokens_are_refused_from_the_next_request_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SigmaConfig::standalone(dir.path());
    let sigma = config.clone().start().await;
    let api = Api::new(&sigma.url);
    let (account, first) = api.account_with_token(&sigma.admin_key, "owner").await;
    let second = api
        .post(
            "/v1/tokens",
            &sigma.admin_key,
            json!({ "account_id": account, "scopes": ["channels:read"] }),
        )
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, stranger) = api.account_with_token(&sigma.admin_key, "stranger").await;
    let channel = api.create_channel(&first, json!({ "name": "kept" })).await;
    let revoke = format!("/v1/accounts/{account}/tokens");

    // Only the admin key revokes: the account's own token is refused, and still works after.
    for bearer in [first.as_str(), stranger.as_str(), "not-the-admin-key"] {
        let answer = api.delete(&revoke, bearer).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    assert_eq!(api.get("/v1/channels", &first).await.status, StatusCode::OK);
    let unknown = api
        .delete(
            "/v1/accounts/ac_00000000000000000000000000000000/tokens",
            &sigma.admin_key,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);

    let answer = api.delete(&revoke, &sigma.admin_key).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    for token in [&first, &second] {
        let refused = api.get("/v1/channels", token).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
        assert_eq!(refused.code(), "token_revoked");
    }
    assert_eq!(
        api.get("/v1/channels", &stranger).await.status,
        StatusCode::OK
    );
    let fresh = api
        .post(
            "/v1/tokens",
            &sigma.admin_key,
            json!({ "account_id": account }),
        )
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let channels = api.get("/v1/channels", &fresh).await.ok();
    assert_eq!(
        channels["data"][0]["id"], channel["id"],
        "the revocation changed nothing but the tokens: {channels}"
    );

    // A restart rebuilds the revocations from the read model.
    sigma.kill().await;
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    assert_eq!(
        api.get("/v1/channels", &first).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(api.get("/v1/channels", &fresh).await.status, StatusCode::OK);
}
