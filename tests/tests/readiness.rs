//! `/readyz` tells a load balancer the truth: not ready while the event log is unreachable,
//! ready again when it is back; `/healthz` stays up throughout (the process itself is fine).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sigma_event_log::testing::Tansu;
use sigma_tests::database::TestDatabase;
use sigma_tests::process::SigmaConfig;

async fn status(url: &str) -> (StatusCode, serde_json::Value) {
    let response = reqwest::get(url).await.expect("the process answers");
    (
        response.status(),
        response.json().await.expect("a JSON body"),
    )
}

/// Polls (as a load balancer does) until `url` answers `expected`.
async fn until_status(url: &str, expected: StatusCode) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = status(url).await;
        if status == expected {
            return body;
        }
        assert!(Instant::now() < deadline, "{url} stayed {status}: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn readiness_follows_the_broker_and_liveness_does_not() {
    let mut broker = Tansu::start().await;
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::scale_out(dir.path(), &broker.brokers(), &database.url)
        .start()
        .await;
    let (readyz, healthz) = (
        format!("{}/readyz", sigma.url),
        format!("{}/healthz", sigma.url),
    );
    until_status(&readyz, StatusCode::OK).await;

    broker.stop();
    let body = until_status(&readyz, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["reason"].as_str().unwrap().contains("event log"),
        "{body}"
    );
    assert_eq!(status(&healthz).await.0, StatusCode::OK);

    broker.resume().await;
    until_status(&readyz, StatusCode::OK).await;
}

#[tokio::test]
async fn a_standalone_process_is_ready_once_started() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path()).start().await;
    let (status, body) = status(&format!("{}/readyz", sigma.url)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_and_not_on_the_public_port() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path()).start().await;
    let public = reqwest::get(format!("{}/metrics", sigma.url))
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let scraped = reqwest::get(format!("{}/metrics", sigma.metrics_url))
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.unwrap();
    assert!(text.contains("sigma_http_requests_total"), "{text}");
    assert!(
        sigma
            .banner
            .contains(&format!("Metrics: {}/metrics", sigma.metrics_url)),
        "the banner says where: {}",
        sigma.banner
    );
}
