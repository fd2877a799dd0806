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
    let text = reqwest::get(format!("{}/metrics", sigma.url))
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

#[tokio::test]
async fn two_processes_apply_every_command_once_and_survive_the_death_of_one() {
    let broker = Tansu::start().await;
    let database = TestDatabase::create().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = SigmaConfig::scale_out(dir_a.path(), &broker.brokers(), &database.url)
        .start()
        .await;
    let b = SigmaConfig::scale_out(dir_b.path(), &broker.brokers(), &database.url)
        .start()
        .await;
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
    let connects = channels.iter().flat_map(|channel| {
        let id = channel["id"].as_str().unwrap().to_owned();
        let stream_key = channel["stream_key"].as_str().unwrap().to_owned();
        let edge = &edge;
        (0..RACING_PUBLISHERS).map(move |_| {
            let (id, stream_key) = (id.clone(), stream_key.clone());
            async move {
                let action = IngestAction::ConnectPublisher {
                    stream_key,
                    new_session_id: SessionId::generate(),
                };
                (id.clone(), edge.submit(&id, action).await)
            }
        })
    });
    let (renamed, connected) = tokio::join!(join_all(renames), join_all(connects));

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
        let sessions = api_a
            .get(&format!("/v1/channels/{id}/sessions"), &token)
            .await
            .ok();
        let open = sessions["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] != "ended")
            .count();
        assert_eq!(open, 1, "{id}: {sessions}");
    }
    // In the log itself: no command was decided twice.
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
