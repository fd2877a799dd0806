//! Replay rate: how fast `sigma replay` rebuilds every read model from the log. The log is
//! filled with real decisions (made by the control plane's own decider) for many channels, then
//! the release binary replays it into SQLite and into PostgreSQL.
//!
//! Run: `make bench` (or `cargo run --release -p sigma-bench --bin replay` after
//! `cargo build --release --bins`). Writes its section of docs/BENCHMARKS.md.

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use sigma_bench::report::write_section;
use sigma_control_plane::decide::partition::PartitionDecider;
use sigma_control_plane::sealing::SecretsKey;
use sigma_event_log::LogConfig;
use sigma_shared::command::{
    AccountCommand, ChannelCommand, Command, CommandEnvelope, OwnerAction,
};
use sigma_shared::ids::{AccountId, ChannelId};
use sigma_shared::log::{partition_for, EVENTS_TOPIC};
use sigma_shared::settings::{ChannelSettings, SettingsPatch};
use sigma_tests::database::TestDatabase;
use sigma_tests::process::SigmaConfig;

const PARTITIONS: u32 = 8;
const CHANNELS: usize = 2_000;
const UPDATES_PER_CHANNEL: usize = 49;

/// Decides `commands` as the live deciders would and appends the decisions to the events topic.
async fn fill_log(dir: &Path) -> u64 {
    let log = sigma_event_log::open(&LogConfig::Embedded {
        dir: dir.join("log"),
        partitions: PARTITIONS,
    })
    .await
    .expect("the log");
    log.ensure_topic(EVENTS_TOPIC)
        .await
        .expect("the events topic");
    log.ensure_topic(sigma_shared::log::COMMANDS_TOPIC)
        .await
        .expect("the commands topic");
    let mut deciders: HashMap<u32, PartitionDecider> = HashMap::new();
    let mut events = 0u64;
    let mut submit = |command: Command| {
        let envelope = CommandEnvelope::new(command, Utc::now());
        let key = envelope.stream();
        let decider = deciders.entry(partition_for(&key, PARTITIONS)).or_default();
        let decision = decider.decide(&envelope).expect("a new command");
        assert!(
            !decision.events().is_empty(),
            "the decider refused a bench command: {decision:?}"
        );
        decider.apply(&decision);
        events += decision.events().len() as u64;
        (key, decision.to_bytes())
    };
    let account_id = AccountId::generate();
    let secrets = SecretsKey::generate();
    let mut records = vec![submit(Command::account(
        account_id,
        AccountCommand::Create {
            name: "bench".into(),
        },
    ))];
    for n in 0..CHANNELS {
        let channel_id = ChannelId::generate();
        let create = ChannelCommand::Create {
            account_id,
            name: format!("channel {n}"),
            settings: ChannelSettings::default(),
            stream_key: secrets.seal_stream_key(&format!("sk_bench_{n:016}"), channel_id),
        };
        records.push(submit(Command::channel(channel_id, create)));
        for u in 0..UPDATES_PER_CHANNEL {
            let update = OwnerAction::Update {
                name: Some(format!("channel {n} v{u}")),
                patch: SettingsPatch::default(),
            };
            records.push(submit(Command::channel(
                channel_id,
                ChannelCommand::Owner {
                    account_id,
                    action: update,
                },
            )));
        }
    }
    for (key, payload) in records {
        log.append(EVENTS_TOPIC, &key, &payload)
            .await
            .expect("appending");
    }
    events
}

/// `(records, events, seconds, events per second)` from `sigma replay`'s output line.
fn parse(output: &str) -> (u64, u64, f64, f64) {
    let numbers: Vec<f64> = output
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|piece| piece.trim_matches('.').parse().ok())
        .collect();
    match numbers[..] {
        [records, events, seconds, rate, ..] => (records as u64, events as u64, seconds, rate),
        _ => panic!("unexpected replay output: {output}"),
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("a temporary dir");
    let written = fill_log(dir.path()).await;
    let sqlite = SigmaConfig::standalone(dir.path()).with("RUST_LOG", "warn");
    let database = TestDatabase::create().await;
    let postgres = sqlite.clone().with("SIGMA_DATABASE_URL", &database.url);

    let mut body = format!(
        "## Replay rate (`sigma replay`: every read model rebuilt from the log)\n\n\
         Command: `cargo run --release -p sigma-bench --bin replay` (part of `make bench`). Measured {} \
         with the release binary on {PARTITIONS} embedded-log partitions holding {written} events \
         ({CHANNELS} channels, each created and renamed {UPDATES_PER_CHANNEL} times, by the real decider). \
         Target ≥ 50,000 events/s.\n\n\
         | read models | records | events | seconds | events/s | met |\n|---|---|---|---|---|---|\n",
        Utc::now().format("%Y-%m-%d"),
    );
    for (name, config) in [("SQLite", &sqlite), ("PostgreSQL", &postgres)] {
        let (records, events, seconds, rate) = parse(&config.replay().await);
        assert_eq!(events, written, "replay saw a different number of events");
        let met = if rate >= 50_000.0 { "yes" } else { "no" };
        body.push_str(&format!(
            "| {name} | {records} | {events} | {seconds:.2} | {rate:.0} | {met} |\n"
        ));
        println!("{name}: {events} events in {seconds:.2} s = {rate:.0} events/s");
    }
    write_section("replay", &body).expect("writing docs/BENCHMARKS.md");
}
