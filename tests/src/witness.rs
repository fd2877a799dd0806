//! A channel published in real time all through a test, to show that what a test does to
//! other channels (floods, hostile or heavy publishers) does not slow it down.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::api::Api;
use crate::publish::{live, source_playlist};

pub struct Witness {
    /// Its media playlist.
    playlist: String,
    _publisher: tokio::process::Child,
}

/// How far a witness got over some stretch of time.
#[derive(Debug)]
pub struct Progress {
    pub segments: u64,
    pub elapsed: Duration,
    pub target_seconds: u64,
}

impl Progress {
    /// Segments a real-time stream completes in the time, less one for where the stretch
    /// began and ended within a segment.
    pub fn expected(&self) -> u64 {
        (self.elapsed.as_secs() / self.target_seconds.max(1)).saturating_sub(1)
    }
}

impl Witness {
    /// Creates a channel named `witness` in the account of `token` and publishes to it for
    /// `seconds`; returns once two segments are listed.
    pub async fn start(sigma_url: &str, api: &Api, token: &str, seconds: u32) -> Self {
        let channel = api
            .create_channel(token, json!({ "name": "witness" }))
            .await;
        let publisher = live(&channel, seconds);
        let playlist = source_playlist(sigma_url, &channel);
        crate::hls::until_listed(&playlist, 2, Duration::from_secs(30)).await;
        Self {
            playlist,
            _publisher: publisher,
        }
    }

    /// The number of the next segment the channel will list, and its target duration.
    pub async fn position(&self) -> (u64, u64) {
        let text = reqwest::get(&self.playlist)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let tag = |name: &str| -> u64 {
            text.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|number| number.trim().parse().ok())
                .unwrap_or(0)
        };
        let sequence = tag("#EXT-X-MEDIA-SEQUENCE:");
        (
            sequence + text.matches("#EXTINF").count() as u64,
            tag("#EXT-X-TARGETDURATION:"),
        )
    }

    /// Runs `work` and returns what it returned with how far the witness got meanwhile.
    pub async fn during<T>(&self, work: impl std::future::Future<Output = T>) -> (T, Progress) {
        let (first, target_seconds) = self.position().await;
        let started = Instant::now();
        let outcome = work.await;
        let (last, _) = self.position().await;
        (
            outcome,
            Progress {
                segments: last.saturating_sub(first),
                elapsed: started.elapsed(),
                target_seconds,
            },
        )
    }

    /// Asserts the witness keeps adding segments: two more within `limit`.
    pub async fn goes_on(&self, what: &str, limit: Duration) {
        let (from, _) = self.position().await;
        crate::wait::until(
            limit,
            &format!("{what}: the live channel goes on"),
            || async { self.position().await.0 >= from + 2 },
        )
        .await;
    }
}
