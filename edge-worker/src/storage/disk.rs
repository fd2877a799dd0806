//! The free space left on the file systems the process writes to (the data dir: the embedded
//! log, the read models, media when stored locally), judged against two watermarks and checked
//! every second.
//!
//! - Below [`Watermarks::low_bytes`] the space is *low*: publisher connections (new ones and reconnects) are refused with that
//!   reason and running sessions get a `storage_low` alert, while there is still room for what
//!   is running to go on.
//! - Below [`Watermarks::reserve_bytes`] only the *reserve* is left: live media are no longer
//!   written to this file system (they are held in memory, see [`super::spool`]), so the log
//!   and the read models always have room to record what happens next, down to the end of
//!   every session. Live media never fill the disk (thumbnails and recordings are written
//!   as before; the recorder waits while the disk is at its reserve).
//!
//! Each level is left only with a margin of [`HYSTERESIS_PERCENT`] above its mark, so a disk
//! hovering at a watermark does not flap.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::StorageMetrics;

/// How often free space is read.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How far above a watermark free space must climb before its level is left.
const HYSTERESIS_PERCENT: u64 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watermarks {
    pub low_bytes: u64,
    pub reserve_bytes: u64,
}

impl Default for Watermarks {
    fn default() -> Self {
        Self {
            low_bytes: 2048 << 20,
            reserve_bytes: 512 << 20,
        }
    }
}

/// How much room is left, from most to least.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Fine = 0,
    Low = 1,
    Reserve = 2,
}

impl Level {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Fine,
            1 => Self::Low,
            _ => Self::Reserve,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Fine => "fine",
            Self::Low => "low",
            Self::Reserve => "reserve",
        }
    }
}

impl Watermarks {
    /// The level for `free` bytes, coming from level `was`.
    pub fn judge(&self, free: u64, was: Level) -> Level {
        let above = |mark: u64| free >= mark.saturating_add(mark / 100 * HYSTERESIS_PERCENT);
        let level = if free < self.reserve_bytes {
            Level::Reserve
        } else if free < self.low_bytes {
            Level::Low
        } else {
            Level::Fine
        };
        // Going down is immediate; going up needs the margin above the mark being left.
        match (was, level) {
            (Level::Reserve, _) if !above(self.reserve_bytes) => Level::Reserve,
            (Level::Reserve | Level::Low, Level::Fine) if !above(self.low_bytes) => Level::Low,
            _ => level,
        }
    }
}

/// The level of the fullest watched file system, kept current by [`DiskWatch::start`].
pub struct DiskWatch {
    level: AtomicU8,
}

impl DiskWatch {
    /// A watch that always says [`Level::Fine`] (nothing local to watch).
    pub fn unwatched() -> Arc<Self> {
        Arc::new(Self {
            level: AtomicU8::new(Level::Fine as u8),
        })
    }

    /// Watches the file systems holding `paths`: reads their free space now and every second
    /// after, in the background.
    pub fn start(paths: Vec<PathBuf>, marks: Watermarks, metrics: StorageMetrics) -> Arc<Self> {
        let watch = Self::unwatched();
        watch.check(&paths, marks, &metrics);
        let watcher = watch.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECK_EVERY);
            loop {
                every.tick().await;
                watcher.check(&paths, marks, &metrics);
            }
        });
        watch
    }

    pub fn level(&self) -> Level {
        Level::from_u8(self.level.load(Ordering::Relaxed))
    }

    fn check(&self, paths: &[PathBuf], marks: Watermarks, metrics: &StorageMetrics) {
        let Some(free) = paths.iter().filter_map(|path| free_bytes(path)).min() else {
            return;
        };
        metrics.storage_free_bytes.set(free as i64);
        let was = self.level();
        let level = marks.judge(free, was);
        if level == was {
            return;
        }
        self.level.store(level as u8, Ordering::Relaxed);
        metrics.storage_level.set(level as i64);
        if level > was {
            metrics
                .limits_hit
                .with_label_values(&[&format!("storage_{}", level.as_str())])
                .inc();
            tracing::warn!(free, level = level.as_str(), ?marks, "storage is filling: publishers are refused below the low watermark, live media held in memory below the reserve");
        } else {
            tracing::info!(free, level = level.as_str(), "storage has room again");
        }
    }
}

/// Bytes an unprivileged writer may still use on the file system holding `path`.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    match rustix::fs::statvfs(path) {
        Ok(stats) => Some(stats.f_bavail.saturating_mul(stats.f_frsize)),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read free space");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKS: Watermarks = Watermarks {
        low_bytes: 1000,
        reserve_bytes: 500,
    };

    #[test]
    fn levels_fall_at_once_and_rise_only_with_a_margin() {
        assert_eq!(MARKS.judge(2000, Level::Fine), Level::Fine);
        assert_eq!(MARKS.judge(999, Level::Fine), Level::Low);
        assert_eq!(MARKS.judge(499, Level::Fine), Level::Reserve);
        assert_eq!(MARKS.judge(520, Level::Reserve), Level::Reserve);
        assert_eq!(MARKS.judge(550, Level::Reserve), Level::Low);
        assert_eq!(MARKS.judge(1050, Level::Low), Level::Low);
        assert_eq!(MARKS.judge(1050, Level::Reserve), Level::Low);
        assert_eq!(MARKS.judge(1100, Level::Low), Level::Fine);
        assert_eq!(MARKS.judge(5000, Level::Reserve), Level::Fine);
    }

    #[test]
    fn the_data_dir_has_a_free_space() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).is_some_and(|free| free > 0));
        assert_eq!(free_bytes(&dir.path().join("missing")), None);
    }
}
