//! The decider's hot path per command: decide against the partition's state, apply the
//! decision, and encode it for the log — what bounds a partition's command throughput.

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use sigma_control_plane::decide::partition::PartitionDecider;
use sigma_control_plane::sealing::SecretsKey;
use sigma_shared::command::{ChannelCommand, Command, CommandEnvelope, OwnerAction};
use sigma_shared::event::Decision;
use sigma_shared::ids::{AccountId, ChannelId};
use sigma_shared::settings::{ChannelSettings, SettingsPatch};

fn decide_apply_encode(c: &mut Criterion) {
    let mut decider = PartitionDecider::default();
    let (account_id, channel_id) = (AccountId::generate(), ChannelId::generate());
    let create = ChannelCommand::Create {
        account_id,
        name: "bench".into(),
        settings: ChannelSettings::default(),
        stream_key: SecretsKey::generate().seal_stream_key("sk_bench", channel_id),
    };
    let created = decider
        .decide(&CommandEnvelope::new(
            Command::channel(channel_id, create),
            Utc::now(),
        ))
        .unwrap();
    decider.apply(&created);

    let mut n = 0u64;
    c.bench_function("decide + apply + encode a channel update", |b| {
        b.iter(|| {
            n += 1;
            let action = OwnerAction::Update {
                name: Some(format!("name {n}")),
                patch: SettingsPatch::default(),
            };
            let envelope = CommandEnvelope::new(
                Command::channel(channel_id, ChannelCommand::Owner { account_id, action }),
                Utc::now(),
            );
            let decision = decider.decide(&envelope).unwrap();
            decider.apply(&decision);
            decision.to_bytes()
        })
    });
    let bytes = created.to_bytes();
    c.bench_function("decode a decision", |b| {
        b.iter(|| Decision::from_bytes(&bytes).unwrap())
    });
}

criterion_group!(benches, decide_apply_encode);
criterion_main!(benches);
