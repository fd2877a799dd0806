//! Per-token rate limits: past the burst a token gets 429 with `Retry-After`; other tokens are
//! not affected; the token works again once the wait is over.

use reqwest::StatusCode;
use sigma_tests::api::Api;
use sigma_tests::process::SigmaConfig;

#[tokio::test]
async fn a_token_past_its_burst_gets_429_with_retry_after_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path())
        .with("SIGMA_RATE_LIMIT_PER_SECOND", "2")
        .with("SIGMA_RATE_LIMIT_BURST", "5")
        .start()
        .await;
    let api = Api::new(&sigma.url);
    let (_, greedy) = api.account_with_token(&sigma.admin_key, "greedy").await;
    let (_, polite) = api.account_with_token(&sigma.admin_key, "polite").await;

    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..20 {
        let answer = api.get("/v1/channels", &greedy).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(answer.code(), "rate_limited");
            retry_after = answer.retry_after.clone();
        }
        statuses.push(answer.status);
    }
    let allowed = statuses
        .iter()
        .filter(|status| **status == StatusCode::OK)
        .count();
    assert!(
        (5..=7).contains(&allowed),
        "a burst of 5 at 2/s lets 5 to 7 of 20 through: {statuses:?}"
    );
    let seconds: u64 = retry_after
        .expect("a Retry-After header")
        .parse()
        .expect("whole seconds");
    assert!((1..=2).contains(&seconds), "Retry-After {seconds}");

    assert_eq!(
        api.get("/v1/channels", &polite).await.status,
        StatusCode::OK,
        "another token is throttled too"
    );

    // The header tells the truth: after waiting that long, the token works again.
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    assert_eq!(
        api.get("/v1/channels", &greedy).await.status,
        StatusCode::OK
    );
}
