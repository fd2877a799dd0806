//! Two control-plane processes on one Kafka-protocol broker and one PostgreSQL: commands for the
//! same channels fired at both concurrently are each applied exactly once, no channel ever has
//! two open sessions, and when one process dies the other takes over its partitions.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use sigma_event_log::testing::Tansu;
use sigma_shared::command::IngestAction;
use sigma_shared::event::Outcome;
use sigma_shared::ids::SessionId;
use sigma_shared::secret::KeyFingerprint;
use sigma_tests::api::Api;
use sigma_tests::database::TestDatabase;
use sigma_tests::edge::EdgeStandIn;
use sigma_tests::process::{Sigma, SigmaConfig};
use sigma_tests::wait::until;

const PARTITIONS: u32 = 8;
const CHANNELS: usize = 6;
const UPDATES_PER_CHANNEL: usize = 30;
const RACING_PUBLISHERS: usize = 5;

/// A gauge or counter of the process's `/metrics`.
async fn metric(sigma: &Sigma, name: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", sigma.metrics_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

/// In the log itself: no command was decided twice.
async fn assert_each_command_decided_once(edge: &EdgeStandIn) {
    let decisions = edge.all_decisions().await;
    let distinct: HashSet<_> = decisions
        .iter()
        .map(|decision| decision.command_id)
        .collect();
    assert_eq!(
        distinct.len(),
        decisions.len(),
        "a command was decided twice"
    );
}

/// The channel's sessions that have not ended.
async fn open_sessions(api: &Api, token: &str, channel: &str) -> usize {
    let sessions = api
        .get(&format!("/v1/channels/{channel}/sessions"), token)
        .await
        .ok();
    sessions["data"]
        .as_array()
        .expect("a list of sessions")
        .iter()
        .filter(|session| session["status"] != "ended")
        .count()
}

/// Two control planes, once they share the decider partitions.
async fn two_control_planes([mut a, mut b]: [SigmaConfig; 2]) -> (Sigma, Sigma) {
    let (a, b) = (a.start().await, b.start().await);
    until(
        Duration::from_secs(60),
        "the two processes share the partitions",
        || async {
            let (on_a, on_b) = (
                metric(&a, "sigma_decider_partitions").await,
                metric(&b, "sigma_decider_partitions").await,
            );
            on_a > 0.0 && on_b > 0.0 && on_a + on_b == f64::from(PARTITIONS)
        },
    )
    .await;
    (a, b)
}

/// `per_channel` edge workers racing to open a session on each channel at once; each channel's
/// outcomes.
async fn racing_publishers(
    edge: &EdgeStandIn,
    channels: &[serde_json::Value],
    per_channel: usize,
) -> Vec<(String, Outcome)> {
    join_all(channels.iter().flat_map(|channel| {
        let id = channel["id"].as_str().unwrap().to_owned();
        let stream_key = KeyFingerprint::of(channel["stream_key"].as_str().unwrap());
        (0..per_channel).map(move |_| {
            let (id, stream_key) = (id.clone(), stream_key.clone());
            async move {
                let action = IngestAction::ConnectPublisher {
                    stream_key,
                    new_session_id: SessionId::generate(),
                };
                (id.clone(), edge.submit(&id, action).await)
            }
        })
    }))
    .await
}

#[tokio::test]
async fn two_processes_apply_every_command_once_and_survive_the_death_of_one() {
    let broker = Tansu::start().await;
    let database = TestDatabase::create().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = two_control_planes([
        SigmaConfig::scale_out(dir_a.path(), &broker.brokers(), &database.url),
        SigmaConfig::scale_out(dir_b.path(), &broker.brokers(), &database.url),
    ])
    .await;
    let (api_a, api_b) = (Api::new(&a.url), Api::new(&b.url));
    let (_, token) = api_a.account_with_token(&a.admin_key, "owner").await;
    let mut channels = Vec::new();
    for n in 0..CHANNELS {
        let api = if n % 2 == 0 { &api_a } else { &api_b };
        channels.push(
            api.create_channel(&token, json!({ "name": format!("stage {n}") }))
                .await,
        );
    }

    // Concurrent renames of every channel through both processes; each name is unique.
    let renames = (0..CHANNELS * UPDATES_PER_CHANNEL).map(|i| {
        let api = if i % 2 == 0 {
            api_a.clone()
        } else {
            api_b.clone()
        };
        let id = channels[i % CHANNELS]["id"].as_str().unwrap().to_owned();
        let token = token.clone();
        async move {
            let answer = api
                .patch(
                    &format!("/v1/channels/{id}"),
                    &token,
                    json!({ "name": format!("name {i}") }),
                )
                .await;
            let outcome = if answer.status.is_success() {
                Ok(())
            } else {
                Err(format!("{}: {}", answer.status, answer.body))
            };
            (id, format!("name {i}"), outcome)
        }
    });
    // Racing publishers: several edge workers try to open a session on each channel at once.
    let edge = EdgeStandIn::connect(&broker.brokers(), PARTITIONS).await;
    let connects = racing_publishers(&edge, &channels, RACING_PUBLISHERS);
    let (renamed, connected) = tokio::join!(join_all(renames), connects);

    // A write through the API returns once its partition is projected up to it: after one per
    // channel, the read models hold every decision above.
    for channel in &channels {
        let id = channel["id"].as_str().unwrap();
        api_a
            .patch(
                &format!("/v1/channels/{id}"),
                &token,
                json!({ "name": "settled" }),
            )
            .await
            .ok();
    }

    let accepted_connects: HashMap<String, usize> =
        connected
            .iter()
            .fold(HashMap::new(), |mut counts, (id, outcome)| {
                *counts.entry(id.clone()).or_default() +=
                    usize::from(matches!(outcome, Outcome::Accepted { .. }));
                counts
            });
    for channel in &channels {
        assert_eq!(
            accepted_connects[channel["id"].as_str().unwrap()],
            1,
            "exactly one racing publisher wins a channel"
        );
    }

    // Every accepted rename is in the history exactly once; sequences have no gaps or repeats.
    let accepted: HashSet<(String, String)> = renamed
        .iter()
        .filter(|(_, _, outcome)| outcome.is_ok())
        .map(|(id, name, _)| (id.clone(), name.clone()))
        .collect();
    assert_eq!(
        accepted.len(),
        renamed.len(),
        "some renames failed: {:?}",
        renamed.iter().filter(|r| r.2.is_err()).collect::<Vec<_>>()
    );
    for channel in &channels {
        let id = channel["id"].as_str().unwrap();
        let history = api_b
            .get(&format!("/v1/channels/{id}/events"), &token)
            .await
            .ok();
        let events = history["data"].as_array().unwrap();
        let sequences: Vec<i64> = events
            .iter()
            .map(|e| e["sequence"].as_i64().unwrap())
            .collect();
        assert_eq!(
            sequences,
            (1..=events.len() as i64).collect::<Vec<_>>(),
            "{id}"
        );
        let names: Vec<&str> = events
            .iter()
            .filter(|e| e["type"] == "channel.updated")
            .filter_map(|e| e["data"]["name"].as_str())
            .filter(|name| name.starts_with("name "))
            .collect();
        assert_eq!(names.len(), UPDATES_PER_CHANNEL, "{id}: {names:?}");
        let unique: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(
            unique.len(),
            names.len(),
            "{id}: a rename was applied twice"
        );
        assert!(names
            .iter()
            .all(|name| accepted.contains(&(id.to_owned(), (*name).to_owned()))));
        let opened = events
            .iter()
            .filter(|e| e["type"] == "session.init")
            .count();
        assert_eq!(opened, 1, "{id}: {opened} sessions opened");
        assert_eq!(open_sessions(&api_a, &token, id).await, 1, "{id}");
    }
    assert_each_command_decided_once(&edge).await;

    // Kill A: B takes over every partition and keeps accepting commands for every channel.
    let killed_at = Instant::now();
    a.kill().await;
    let takeover = until(
        Duration::from_secs(60),
        "the survivor owns every partition",
        || async { metric(&b, "sigma_decider_partitions").await == f64::from(PARTITIONS) },
    )
    .await;
    eprintln!("partition takeover after SIGKILL: {takeover:?}");
    let after = join_all(channels.iter().map(|channel| {
        let id = channel["id"].as_str().unwrap().to_owned();
        let (api, token) = (api_b.clone(), token.clone());
        async move {
            api.patch(
                &format!("/v1/channels/{id}"),
                &token,
                json!({ "name": "after the kill" }),
            )
            .await
        }
    }))
    .await;
    for answer in after {
        assert_eq!(answer.ok()["name"], "after the kill");
    }
    eprintln!(
        "every channel writable again {:?} after the kill",
        killed_at.elapsed()
    );
}

/// 1,000 concurrent API commands, half through each of two control planes, with racing
/// publishers; one control plane is killed mid-burst.
const BURST: usize = 1_000;
const BURST_CHANNELS: usize = 20;
/// Publishers racing for each channel during the burst (each is a Kafka consumer waiting for
/// its decision, so a few are enough).
const BURST_RACERS: usize = 2;

#[tokio::test]
async fn a_control_plane_killed_during_a_burst_loses_no_acknowledged_command() {
    let broker = Tansu::start().await;
    let database = TestDatabase::create().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = |dir: &std::path::Path| {
        SigmaConfig::scale_out(dir, &broker.brokers(), &database.url)
            .with("SIGMA_RATE_LIMIT_PER_SECOND", "100000")
            .with("SIGMA_RATE_LIMIT_BURST", "100000")
    };
    let (a, b) = two_control_planes([config(dir_a.path()), config(dir_b.path())]).await;
    let (api_a, api_b) = (Api::new(&a.url), Api::new(&b.url));
    let (_, token) = api_a.account_with_token(&a.admin_key, "owner").await;
    let mut channels = Vec::new();
    for n in 0..BURST_CHANNELS {
        let channel = api_b
            .create_channel(&token, json!({ "name": format!("stage {n}") }))
            .await;
        channels.push(channel);
    }
    let edge = EdgeStandIn::connect(&broker.brokers(), PARTITIONS).await;

    // Raw requests: those in flight to the process that dies fail, which is no answer at all.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let renames = join_all((0..BURST).map(|i| {
        let base = if i % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let id = channels[i % BURST_CHANNELS]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (client, token) = (client.clone(), token.clone());
        async move {
            let name = format!("burst {i}");
            let answer = client
                .patch(format!("{base}/v1/channels/{id}"))
                .bearer_auth(&token)
                .json(&json!({ "name": name }))
                .send()
                .await;
            let status = answer.map_or(0, |answer| answer.status().as_u16());
            (id, name, status)
        }
    }));
    let connects = racing_publishers(&edge, &channels, BURST_RACERS);
    // A dies while the burst is in flight: once the first answers are back.
    let first_answers = async {
        until(
            Duration::from_secs(30),
            "the burst is under way",
            || async {
                metric(&b, "sigma_commands_decided_total{outcome=\"accepted\"}").await
                    + metric(&a, "sigma_commands_decided_total{outcome=\"accepted\"}").await
                    >= 50.0
            },
        )
        .await;
        a.kill().await;
        until(
            Duration::from_secs(60),
            "the survivor owns every partition",
            || async { metric(&b, "sigma_decider_partitions").await == f64::from(PARTITIONS) },
        )
        .await
    };
    let (renamed, _, takeover) = tokio::join!(renames, connects, first_answers);
    let acknowledged: Vec<&(String, String, u16)> = renamed
        .iter()
        .filter(|(_, _, status)| (200..300).contains(status))
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    for (_, _, status) in &renamed {
        *statuses.entry(*status).or_insert(0) += 1;
    }
    // The others were in flight to the process that died (status 0: no answer), or waited longer
    // than 30 s for their decision through the takeover (503 `not_decided`: applied at most
    // once, as checked below).
    eprintln!(
        "{} of {BURST} commands acknowledged (answers by status, 0 = none: {statuses:?}); the survivor owned every partition {takeover:?} after the kill",
        acknowledged.len(),
    );
    assert!(
        !acknowledged.is_empty(),
        "the survivor answered during the burst"
    );

    // Settle: one more write per channel through the survivor projects everything before it.
    for channel in &channels {
        let id = channel["id"].as_str().unwrap();
        let answer = api_b
            .patch(
                &format!("/v1/channels/{id}"),
                &token,
                json!({ "name": "settled" }),
            )
            .await;
        assert!(
            answer.status.is_success(),
            "{id} is writable after the kill"
        );
    }
    for channel in &channels {
        let id = channel["id"].as_str().unwrap();
        let history = api_b.history(&token, id).await;
        let names: Vec<&str> = history
            .iter()
            .filter(|event| event["type"] == "channel.updated")
            .filter_map(|event| event["data"]["name"].as_str())
            .collect();
        let unique: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(
            unique.len(),
            names.len(),
            "{id}: a command was applied twice"
        );
        for (_, name, _) in acknowledged.iter().filter(|(channel, _, _)| channel == id) {
            assert!(
                unique.contains(name.as_str()),
                "{id}: acknowledged {name} is missing"
            );
        }
        assert_eq!(
            open_sessions(&api_b, &token, id).await,
            1,
            "{id}: exactly one racing publisher won"
        );
    }
    assert_each_command_decided_once(&edge).await;
}
