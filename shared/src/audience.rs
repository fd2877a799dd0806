//! Audience: what playback processes report about their viewers, and the arithmetic that turns
//! those reports into concurrency (CCU), views and watch time.
//!
//! A player's *playback session* begins with its multivariant request, which hands it rendition
//! URLs carrying a [`PlaybackId`]; every playlist reload then names the session. Each playback
//! process notes, per playback session, the first and last request of a flush interval and
//! publishes them in batches ([`ViewerActivity`]). The analytics projection keeps, per playback
//! session, the union of those [`Span`]s, bridging pauses shorter than [`CONTINUOUS_GAP_MS`]
//! (players reload at least once per target duration). Union is idempotent and order-free, so
//! redelivered batches, batches from several playback nodes serving the same player (no sticky
//! sessions) and replays all give the same answer.
//!
//! The rules, as the API documents them:
//! - *watch time*: the summed length of a playback session's spans (first to last request of
//!   each continuous run);
//! - *CCU* at an instant: playback sessions whose span covers it; a series point is the peak
//!   CCU within its step;
//! - *view*: a playback session that watched at least [`VIEW_MIN_MS`] in total, counted in the
//!   range where it started.
//!
//! Pure: no I/O and no clock.

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, PlaybackId, SessionId};

/// Requests of one playback session closer than this belong to one continuous watch.
pub const CONTINUOUS_GAP_MS: i64 = 15_000;
/// A playback session counts as a view once it has watched this long.
pub const VIEW_MIN_MS: i64 = 5_000;
/// The version of the [`ViewerActivity`] record this build writes.
pub const ACTIVITY_SCHEMA_VERSION: u16 = 1;

/// A playback process's report of one channel's viewers over one flush interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewerActivity {
    pub node_id: String,
    pub channel_id: ChannelId,
    pub viewers: Vec<Watching>,
}

/// One playback session's requests within the interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Watching {
    pub playback_id: PlaybackId,
    /// The live session it was watching.
    pub session_id: SessionId,
    /// First and last request, milliseconds since the Unix epoch.
    pub first_ms: i64,
    pub last_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct ActivityRecord {
    schema_version: u16,
    #[serde(flatten)]
    activity: ViewerActivity,
}

#[derive(Debug, thiserror::Error)]
pub enum ActivityDecodeError {
    #[error(
        "viewer activity has schema version {0}, newer than this build knows; upgrade this process"
    )]
    FutureVersion(u16),
    #[error("malformed viewer activity: {0}")]
    Malformed(#[from] serde_json::Error),
}

impl ViewerActivity {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&ActivityRecord {
            schema_version: ACTIVITY_SCHEMA_VERSION,
            activity: self.clone(),
        })
        .expect("viewer activity serializes")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ActivityDecodeError> {
        let record: ActivityRecord = serde_json::from_slice(bytes)?;
        if record.schema_version > ACTIVITY_SCHEMA_VERSION {
            return Err(ActivityDecodeError::FutureVersion(record.schema_version));
        }
        Ok(record.activity)
    }
}

/// A continuous run of a playback session's requests, both ends included (ms since the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Span {
    pub fn length_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }
}

/// Merges `new` into `spans` (sorted, disjoint, each at least [`CONTINUOUS_GAP_MS`] from the
/// next), keeping those properties; returns whether anything changed.
pub fn merge(spans: &mut Vec<Span>, new: Span) -> bool {
    let new = Span {
        start_ms: new.start_ms.min(new.end_ms),
        end_ms: new.start_ms.max(new.end_ms),
    };
    let touches = |span: &Span| {
        span.start_ms - CONTINUOUS_GAP_MS <= new.end_ms
            && new.start_ms <= span.end_ms + CONTINUOUS_GAP_MS
    };
    let first = spans.iter().position(touches);
    let Some(first) = first else {
        let at = spans.partition_point(|span| span.start_ms < new.start_ms);
        spans.insert(at, new);
        return true;
    };
    let last = first
        + spans[first..]
            .iter()
            .take_while(|span| touches(span))
            .count();
    let merged = Span {
        start_ms: spans[first].start_ms.min(new.start_ms),
        end_ms: spans[last - 1].end_ms.max(new.end_ms),
    };
    if last - first == 1 && spans[first] == merged {
        return false;
    }
    spans.splice(first..last, [merged]);
    true
}

/// One point of a CCU series: the peak concurrency within `[at_ms, at_ms + step)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CcuPoint {
    pub at_ms: i64,
    pub ccu: u32,
}

/// Audience figures over a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audience {
    pub series: Vec<CcuPoint>,
    pub peak_ccu: u32,
    /// When the peak was first reached (`None` without viewers).
    pub peak_at_ms: Option<i64>,
    pub views: u64,
    pub watch_time_ms: i64,
}

/// The range and resolution of a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
    pub step_ms: i64,
}

impl Window {
    /// How many points the series has.
    pub fn points(&self) -> i64 {
        if self.to_ms <= self.from_ms || self.step_ms <= 0 {
            return 0;
        }
        (self.to_ms - self.from_ms + self.step_ms - 1) / self.step_ms
    }
}

/// The audience of the given playback sessions (each its merged spans) over `window`.
pub fn audience<'a>(sessions: impl IntoIterator<Item = &'a [Span]>, window: Window) -> Audience {
    let Window {
        from_ms,
        to_ms,
        step_ms,
    } = window;
    let mut changes: Vec<(i64, i32)> = Vec::new();
    let (mut views, mut watch_time_ms) = (0, 0);
    for spans in sessions {
        let (Some(first), total) = (
            spans.first(),
            spans.iter().map(Span::length_ms).sum::<i64>(),
        ) else {
            continue;
        };
        if total >= VIEW_MIN_MS && (from_ms..to_ms).contains(&first.start_ms) {
            views += 1;
        }
        for span in spans {
            let (start, end) = (span.start_ms.max(from_ms), span.end_ms.min(to_ms));
            if start > end || start >= to_ms {
                continue;
            }
            watch_time_ms += end - start;
            changes.push((start, 1));
            changes.push((end, -1));
        }
    }
    // At one instant, arrivals come before departures: spans include both ends.
    changes.sort_by_key(|&(at, delta)| (at, -delta));
    let mut series = Vec::with_capacity(window.points().max(0) as usize);
    let (mut current, mut next, mut peak_ccu, mut peak_at_ms) = (0i64, 0, 0u32, None);
    for point in 0..window.points() {
        let start = from_ms + point * step_ms;
        let end = (start + step_ms).min(to_ms);
        while next < changes.len() && changes[next].0 < start {
            current += i64::from(changes[next].1);
            next += 1;
        }
        let mut highest = current;
        while next < changes.len() && changes[next].0 < end {
            current += i64::from(changes[next].1);
            if current > highest {
                highest = current;
            }
            if current > i64::from(peak_ccu) {
                peak_ccu = current as u32;
                peak_at_ms = Some(changes[next].0);
            }
            next += 1;
        }
        series.push(CcuPoint {
            at_ms: start,
            ccu: highest as u32,
        });
    }
    Audience {
        series,
        peak_ccu,
        peak_at_ms,
        views,
        watch_time_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn span(start_ms: i64, end_ms: i64) -> Span {
        Span { start_ms, end_ms }
    }

    #[test]
    fn reloads_closer_than_the_gap_make_one_span_and_a_long_pause_two() {
        let mut spans = Vec::new();
        assert!(merge(&mut spans, span(0, 4_000)));
        assert!(merge(&mut spans, span(9_000, 12_000)));
        assert_eq!(spans, [span(0, 12_000)]);
        assert!(!merge(&mut spans, span(2_000, 3_000)), "already covered");
        assert!(merge(&mut spans, span(60_000, 61_000)));
        assert_eq!(spans, [span(0, 12_000), span(60_000, 61_000)]);
        // A report that fills the pause joins both.
        assert!(merge(&mut spans, span(25_000, 50_000)));
        assert_eq!(spans, [span(0, 61_000)]);
    }

    #[test]
    fn the_series_holds_the_peak_of_each_step() {
        // Two viewers overlap between 10 s and 20 s; a third watches 2 s (not a view).
        let a = [span(0, 20_000)];
        let b = [span(10_000, 40_000)];
        let c = [span(50_000, 52_000)];
        let window = Window {
            from_ms: 0,
            to_ms: 60_000,
            step_ms: 10_000,
        };
        let audience = audience([&a[..], &b[..], &c[..]], window);
        let ccu: Vec<u32> = audience.series.iter().map(|point| point.ccu).collect();
        assert_eq!(ccu, [1, 2, 2, 1, 1, 1]);
        assert_eq!(audience.peak_ccu, 2);
        assert_eq!(audience.peak_at_ms, Some(10_000));
        assert_eq!(audience.views, 2);
        assert_eq!(audience.watch_time_ms, 20_000 + 30_000 + 2_000);
    }

    #[test]
    fn a_range_counts_the_watch_time_inside_it_and_the_views_that_started_in_it() {
        let a = [span(0, 20_000)];
        let b = [span(15_000, 40_000)];
        let window = Window {
            from_ms: 10_000,
            to_ms: 30_000,
            step_ms: 5_000,
        };
        let audience = audience([&a[..], &b[..]], window);
        assert_eq!(audience.watch_time_ms, 10_000 + 15_000);
        assert_eq!(audience.views, 1, "a started before the range");
        assert_eq!(audience.series.len(), 4);
    }

    #[test]
    fn activity_records_round_trip_and_newer_ones_are_refused() {
        let activity = ViewerActivity {
            node_id: "nd_1".into(),
            channel_id: ChannelId::generate(),
            viewers: vec![Watching {
                playback_id: PlaybackId::generate(),
                session_id: SessionId::generate(),
                first_ms: 1,
                last_ms: 2,
            }],
        };
        assert_eq!(
            ViewerActivity::from_bytes(&activity.to_bytes()).unwrap(),
            activity
        );
        let mut future: serde_json::Value = serde_json::from_slice(&activity.to_bytes()).unwrap();
        future["schema_version"] = 99.into();
        assert!(matches!(
            ViewerActivity::from_bytes(&serde_json::to_vec(&future).unwrap()),
            Err(ActivityDecodeError::FutureVersion(99))
        ));
    }

    /// Reports as a playback node makes them: one player's request times cut into intervals.
    fn reports() -> impl Strategy<Value = Vec<Span>> {
        prop::collection::vec((0i64..200_000, 0i64..8_000), 1..30).prop_map(|pieces| {
            pieces
                .into_iter()
                .map(|(at, len)| span(at, at + len))
                .collect()
        })
    }

    proptest! {
        /// Redelivered, reordered or duplicated reports give the same spans.
        #[test]
        fn merging_is_order_free_and_idempotent(reports in reports(), seed in any::<u64>()) {
            let mut once = Vec::new();
            for report in &reports {
                merge(&mut once, *report);
            }
            let mut shuffled = reports.clone();
            shuffled.extend(reports.iter().step_by(2));
            let len = shuffled.len();
            shuffled.rotate_left((seed as usize) % len);
            shuffled.reverse();
            let mut again = Vec::new();
            for report in &shuffled {
                merge(&mut again, *report);
            }
            prop_assert_eq!(&once, &again);
            for pair in once.windows(2) {
                prop_assert!(pair[1].start_ms - pair[0].end_ms > CONTINUOUS_GAP_MS);
            }
        }

        /// Every series point is the true peak: the concurrency at some instant of its step,
        /// and at least the concurrency at every span end inside it.
        #[test]
        fn series_points_are_peaks_of_their_steps(players in prop::collection::vec(reports(), 1..12)) {
            let merged: Vec<Vec<Span>> = players.iter().map(|reports| {
                let mut spans = Vec::new();
                for report in reports { merge(&mut spans, *report); }
                spans
            }).collect();
            let window = Window { from_ms: 0, to_ms: 220_000, step_ms: 5_000 };
            let result = audience(merged.iter().map(Vec::as_slice), window);
            let at = |instant: i64| merged.iter()
                .filter(|spans| spans.iter().any(|s| s.start_ms <= instant && instant <= s.end_ms))
                .count() as u32;
            for point in &result.series {
                let end = point.at_ms + window.step_ms;
                let mut instants = vec![point.at_ms];
                for spans in &merged {
                    for s in spans {
                        for t in [s.start_ms, s.end_ms] {
                            if (point.at_ms..end).contains(&t) { instants.push(t); }
                        }
                    }
                }
                let truth = instants.into_iter().map(at).max().unwrap_or(0);
                prop_assert_eq!(point.ccu, truth, "step at {}", point.at_ms);
            }
            prop_assert_eq!(result.peak_ccu, result.series.iter().map(|p| p.ccu).max().unwrap_or(0));
        }
    }
}
