//! A simulated viewer, as the audience analytics see one: it opens a playback session with the
//! multivariant playlist, then follows the first rendition as a player does — reloading its
//! playlist every half target duration and fetching each segment it has not fetched yet —
//! until its watch is over. Given a media playlist instead, it watches that one anonymously (no
//! playback session: the baseline of the load benchmark). It keeps the times of its first and last request, which is what
//! the analytics must report back.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;

/// What a viewer did.
#[derive(Clone, Copy, Debug)]
pub struct Watched {
    /// Milliseconds since the epoch, just before the first and the last request.
    pub first_ms: i64,
    pub last_ms: i64,
    pub segments: usize,
    pub reloads: usize,
    /// The longest time between two reloads that brought new segments (a stall shows here).
    pub longest_wait_ms: i64,
    /// Waits longer than three target durations between new segments.
    pub stalls: usize,
}

impl Watched {
    pub fn watch_ms(&self) -> i64 {
        self.last_ms - self.first_ms
    }
}

/// How a viewer behaves.
#[derive(Clone, Copy, Debug)]
pub struct Viewing {
    /// How long it watches; its last request is the last reload that starts within this.
    pub watch: Duration,
    /// Whether it downloads segments too (a load test may only reload playlists).
    pub fetch_segments: bool,
}

/// Watches `url` (`…/index.m3u8`, or a rendition's playlist) as described.
pub async fn watch(client: &reqwest::Client, url: &str, viewing: Viewing) -> Watched {
    let started = tokio::time::Instant::now();
    let first_ms = Utc::now().timestamp_millis();
    let base = url.rsplit_once('/').expect("an absolute URL").0.to_owned();
    let mut watched = Watched {
        first_ms,
        last_ms: first_ms,
        segments: 0,
        reloads: 0,
        longest_wait_ms: 0,
        stalls: 0,
    };
    let mut last_new: Option<i64> = None;
    let playlist_url = if url.ends_with("/index.m3u8") {
        let top = client
            .get(url)
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .expect("the multivariant playlist")
            .text()
            .await
            .expect("a playlist body");
        let rendition = top
            .lines()
            .find(|line| !line.is_empty() && !line.starts_with('#'))
            .expect("a rendition URL");
        format!("{base}/{rendition}")
    } else {
        url.to_owned()
    };
    let mut fetched = HashSet::new();
    loop {
        watched.last_ms = Utc::now().timestamp_millis();
        let text = client
            .get(&playlist_url)
            .send()
            .await
            .expect("a playlist reload")
            .text()
            .await
            .unwrap_or_default();
        watched.reloads += 1;
        let target = text
            .lines()
            .find_map(|line| line.strip_prefix("#EXT-X-TARGETDURATION:"))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .unwrap_or(2.0);
        if viewing.fetch_segments {
            let listed: Vec<&str> = text
                .lines()
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .collect();
            if watched.reloads == 1 {
                // A player joins three segments from the live edge, not at the window's start.
                fetched.extend(listed.iter().rev().skip(3).map(|line| line.to_string()));
            }
            let fresh: Vec<String> = listed
                .into_iter()
                .filter(|line| !fetched.contains(*line))
                .map(str::to_owned)
                .collect();
            if !fresh.is_empty() {
                let now = Utc::now().timestamp_millis();
                if let Some(previous) = last_new {
                    let waited = now - previous;
                    watched.longest_wait_ms = watched.longest_wait_ms.max(waited);
                    if waited as f64 > 3_000.0 * target {
                        watched.stalls += 1;
                    }
                }
                last_new = Some(now);
            }
            for segment in fresh {
                if let Ok(response) = client.get(format!("{base}/{segment}")).send().await {
                    let _ = response.bytes().await;
                    watched.segments += 1;
                }
                fetched.insert(segment);
            }
        }
        let next = started.elapsed() + Duration::from_secs_f64(target / 2.0);
        if next > viewing.watch {
            return watched;
        }
        tokio::time::sleep_until(started + next).await;
    }
}
