//! Session timers outlive the process that ingested the session: a standalone process killed
//! with SIGKILL and started again at once still ends the session when its reconnect window
//! runs out, or when it reaches its maximum duration, within a second of the deadline.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::process::{Sigma, SigmaConfig};
use sigma_tests::publish::live;
use sigma_tests::wait::until_some;

/// A standalone process with a broadcaster's channel, killed and started again at will.
struct Stage {
    _dir: tempfile::TempDir,
    config: SigmaConfig,
    sigma: Sigma,
    token: String,
    channel: Value,
}

impl Stage {
    async fn start(settings: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SigmaConfig::standalone(dir.path());
        let sigma = config.start().await;
        let (token, channel) = Api::new(&sigma.url)
            .broadcaster_channel(&sigma.admin_key, settings)
            .await;
        Self {
            _dir: dir,
            config,
            sigma,
            token,
            channel,
        }
    }

    /// SIGKILL, then at once a new process on the same data dir.
    async fn kill_and_restart(mut self) -> Self {
        self.sigma.kill().await;
        let sigma = self.config.start().await;
        Self { sigma, ..self }
    }

    /// The first event of `event_type` in the channel's history, within `limit` seconds.
    async fn first(&self, event_type: &str, limit: u64) -> Value {
        let api = Api::new(&self.sigma.url);
        let id = self.channel["id"].as_str().unwrap();
        until_some(Duration::from_secs(limit), event_type, || async {
            api.history(&self.token, id)
                .await
                .into_iter()
                .find(|event| event["type"] == event_type)
        })
        .await
    }
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

fn assert_within_a_second(seconds: f64, expected: f64, what: &str) {
    assert!(
        (seconds - expected).abs() <= 1.0,
        "{what} after {seconds:.2} s, not {expected} s"
    );
}

#[tokio::test]
async fn a_reconnect_window_ends_the_session_on_time_across_a_kill_and_restart() {
    let stage = Stage::start(
        json!({ "name": "stage", "latency_mode": "low", "reconnect_window_seconds": 10 }),
    )
    .await;
    // Three seconds of broadcast, then the encoder stops: the publisher is gone.
    let mut publisher = live(&stage.channel, 3);
    publisher.wait().await.unwrap();
    let gone = stage.first("session.publisher_disconnected", 20).await;
    let gone_at = instant(&gone["data"]["at"]);

    tokio::time::sleep(Duration::from_secs(2)).await;
    let stage = stage.kill_and_restart().await;

    let ended = stage.first("session.ended", 30).await;
    assert_eq!(ended["data"]["reason"], "publisher_gone", "{ended}");
    let after = (instant(&ended["occurred_at"]) - gone_at).as_seconds_f64();
    assert_within_a_second(after, 10.0, "the session ended");
    eprintln!("ended {after:.3} s after the publisher left (window 10 s, killed at 2 s)");
}

#[tokio::test]
async fn a_maximum_duration_ends_the_session_on_time_across_a_kill_and_restart() {
    let stage =
        Stage::start(json!({ "name": "stage", "latency_mode": "low", "max_session_seconds": 30 }))
            .await;
    let _publisher = live(&stage.channel, 60);
    let started = stage.first("session.init", 20).await;
    let started_at = instant(&started["data"]["started_at"]);

    let kill_at = started_at + chrono::Duration::seconds(20);
    tokio::time::sleep((kill_at - Utc::now()).to_std().unwrap_or_default()).await;
    let stage = stage.kill_and_restart().await;

    let ended = stage.first("session.ended", 30).await;
    assert_eq!(ended["data"]["reason"], "max_duration", "{ended}");
    let after = (instant(&ended["occurred_at"]) - started_at).as_seconds_f64();
    assert_within_a_second(after, 30.0, "the session ended");
    eprintln!("ended {after:.3} s after it started (maximum 30 s, killed at 20 s)");
}
