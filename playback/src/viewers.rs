//! Who is watching, as this process sees it. Every playlist request that names a playback
//! session is noted — first and last request per flush interval — and each interval the notes
//! go to the viewers topic as one batch per channel, then are forgotten. A request costs one map
//! update; publishing costs a record per channel and interval, whatever the request rate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sigma_shared::audience::{ViewerActivity, Watching};
use sigma_shared::ids::{ChannelId, PlaybackId, SessionId};
use sigma_shared::log::{EventLog, VIEWERS_TOPIC};

/// Viewers per record: a batch for a huge audience is cut so no record grows past ~100 kB.
const VIEWERS_PER_RECORD: usize = 1_000;

/// The notes of the current interval.
pub struct Viewers {
    node_id: String,
    seen: Mutex<HashMap<(ChannelId, PlaybackId), Watching>>,
}

impl Viewers {
    pub fn new(node_id: String) -> Self {
        Self {
            node_id,
            seen: Mutex::default(),
        }
    }

    /// Notes a request of `playback` for `session` of `channel` at `now_ms`.
    pub fn note(&self, channel: ChannelId, playback: PlaybackId, session: SessionId, now_ms: i64) {
        let mut seen = self.seen.lock().expect("viewers lock");
        let watching = seen.entry((channel, playback)).or_insert(Watching {
            playback_id: playback,
            session_id: session,
            first_ms: now_ms,
            last_ms: now_ms,
        });
        watching.session_id = session;
        watching.first_ms = watching.first_ms.min(now_ms);
        watching.last_ms = watching.last_ms.max(now_ms);
    }

    /// Takes the interval's notes as batches, one or more per channel.
    fn drain(&self) -> Vec<ViewerActivity> {
        let seen = std::mem::take(&mut *self.seen.lock().expect("viewers lock"));
        let mut by_channel: HashMap<ChannelId, Vec<Watching>> = HashMap::new();
        for ((channel, _), watching) in seen {
            by_channel.entry(channel).or_default().push(watching);
        }
        by_channel
            .into_iter()
            .flat_map(|(channel_id, viewers)| {
                viewers
                    .chunks(VIEWERS_PER_RECORD)
                    .map(|chunk| ViewerActivity {
                        node_id: self.node_id.clone(),
                        channel_id,
                        viewers: chunk.to_vec(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Publishes the notes every `interval`, for the life of the process. A batch the log
    /// refuses is noted again, so the next interval carries it (spans merge, so nothing counts
    /// twice).
    pub async fn publish(self: Arc<Self>, log: Arc<dyn EventLog>, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            for batch in self.drain() {
                let key = batch.channel_id.to_string();
                if let Err(error) = log.append(VIEWERS_TOPIC, &key, &batch.to_bytes()).await {
                    tracing::warn!(%error, viewers = batch.viewers.len(), "viewer activity not published; kept for the next interval");
                    for watching in batch.viewers {
                        self.note(
                            batch.channel_id,
                            watching.playback_id,
                            watching.session_id,
                            watching.first_ms,
                        );
                        self.note(
                            batch.channel_id,
                            watching.playback_id,
                            watching.session_id,
                            watching.last_ms,
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_keeps_the_first_and_last_request_of_each_player_per_channel() {
        let viewers = Viewers::new("nd_test".into());
        let (channel, other) = (ChannelId::generate(), ChannelId::generate());
        let (player, session) = (PlaybackId::generate(), SessionId::generate());
        for at in [1_500, 1_000, 4_000, 2_000] {
            viewers.note(channel, player, session, at);
        }
        viewers.note(other, PlaybackId::generate(), SessionId::generate(), 3_000);
        let mut batches = viewers.drain();
        batches.sort_by_key(|batch| batch.channel_id != channel);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].viewers.len(), 1);
        let watching = &batches[0].viewers[0];
        assert_eq!((watching.first_ms, watching.last_ms), (1_000, 4_000));
        assert!(
            viewers.drain().is_empty(),
            "an interval's notes are published once"
        );
    }

    #[test]
    fn a_large_audience_is_cut_into_bounded_records() {
        let viewers = Viewers::new("nd_test".into());
        let (channel, session) = (ChannelId::generate(), SessionId::generate());
        for _ in 0..2_500 {
            viewers.note(channel, PlaybackId::generate(), session, 1);
        }
        let sizes: Vec<usize> = viewers.drain().iter().map(|b| b.viewers.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 2_500);
        assert!(sizes.iter().all(|size| *size <= VIEWERS_PER_RECORD));
    }
}
