//! Channel settings: what a broadcaster chooses per channel, with the defaults a new channel gets
//! and the bounds that keep a typo from costing a fortune (a 30-day DVR window, say).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How far behind the broadcaster a viewer is, traded against robustness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum LatencyMode {
    /// Standard HLS, long segments, deep buffer: ≤ 15 s, no stalls.
    Normal,
    /// Standard HLS, short segments: ≤ 5 s.
    #[default]
    Low,
    /// LL-HLS with parts and blocking reloads: ≤ 2 s.
    UltraLow,
}

/// What the pipeline does to the incoming media.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TranscodeProfile {
    /// Transmux only: the source is the single rendition.
    #[default]
    Passthrough,
    /// An adaptive-bitrate ladder made by FFmpeg.
    Abr,
}

/// Who may play a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum PlaybackPolicy {
    #[default]
    Public,
    /// Every playback URL needs `?token=<JWT>`.
    Signed,
}

/// Every setting of a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelSettings {
    pub latency_mode: LatencyMode,
    pub transcode: TranscodeProfile,
    /// How far back viewers may rewind the live stream; 0 turns DVR off.
    pub dvr_window_seconds: u32,
    /// Keep the original input as a downloadable recording.
    pub record_source: bool,
    /// A thumbnail every N seconds; 0 turns thumbnails off.
    pub thumbnail_interval_seconds: u32,
    /// How long a session waits for its publisher to come back before it ends.
    pub reconnect_window_seconds: u32,
    /// A session ends when it has run this long.
    pub max_session_seconds: u32,
    pub playback_policy: PlaybackPolicy,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            latency_mode: LatencyMode::default(),
            transcode: TranscodeProfile::default(),
            dvr_window_seconds: 1_800,
            record_source: false,
            thumbnail_interval_seconds: 10,
            reconnect_window_seconds: 60,
            max_session_seconds: 12 * 3_600,
            playback_policy: PlaybackPolicy::default(),
        }
    }
}

/// The bounds each numeric setting must respect, and why.
pub mod limits {
    /// Longer than a day of DVR is a recording, not a live window.
    pub const MAX_DVR_WINDOW_SECONDS: u32 = 86_400;
    pub const MAX_THUMBNAIL_INTERVAL_SECONDS: u32 = 3_600;
    /// Long enough for a phone to walk out of a tunnel, short enough that a dead session ends.
    pub const MAX_RECONNECT_WINDOW_SECONDS: u32 = 3_600;
    /// Half a minute: enough for a test or a trailer; shorter is a mistake.
    pub const MIN_SESSION_SECONDS: u32 = 30;
    /// A week; marathons beyond that should start a new session.
    pub const MAX_SESSION_SECONDS: u32 = 7 * 86_400;
    pub const MAX_NAME_CHARS: usize = 200;
}

/// A setting that is out of bounds: the field and what it must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {requirement}")]
pub struct InvalidSetting {
    pub field: &'static str,
    pub requirement: String,
}

impl ChannelSettings {
    /// Checks every bound; the first violation is reported.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        use limits::*;
        let check = |ok: bool, field: &'static str, requirement: String| {
            if ok {
                Ok(())
            } else {
                Err(InvalidSetting { field, requirement })
            }
        };
        check(
            self.dvr_window_seconds <= MAX_DVR_WINDOW_SECONDS,
            "dvr_window_seconds",
            format!("must be at most {MAX_DVR_WINDOW_SECONDS}"),
        )?;
        check(
            self.thumbnail_interval_seconds <= MAX_THUMBNAIL_INTERVAL_SECONDS,
            "thumbnail_interval_seconds",
            format!("must be at most {MAX_THUMBNAIL_INTERVAL_SECONDS}"),
        )?;
        check(
            self.reconnect_window_seconds <= MAX_RECONNECT_WINDOW_SECONDS,
            "reconnect_window_seconds",
            format!("must be at most {MAX_RECONNECT_WINDOW_SECONDS}"),
        )?;
        check(
            (MIN_SESSION_SECONDS..=MAX_SESSION_SECONDS).contains(&self.max_session_seconds),
            "max_session_seconds",
            format!("must be between {MIN_SESSION_SECONDS} and {MAX_SESSION_SECONDS}"),
        )
    }

    /// The settings with every field the patch names replaced.
    pub fn patched(&self, patch: &SettingsPatch) -> Self {
        Self {
            latency_mode: patch.latency_mode.unwrap_or(self.latency_mode),
            transcode: patch.transcode.unwrap_or(self.transcode),
            dvr_window_seconds: patch.dvr_window_seconds.unwrap_or(self.dvr_window_seconds),
            record_source: patch.record_source.unwrap_or(self.record_source),
            thumbnail_interval_seconds: patch
                .thumbnail_interval_seconds
                .unwrap_or(self.thumbnail_interval_seconds),
            reconnect_window_seconds: patch
                .reconnect_window_seconds
                .unwrap_or(self.reconnect_window_seconds),
            max_session_seconds: patch
                .max_session_seconds
                .unwrap_or(self.max_session_seconds),
            playback_policy: patch.playback_policy.unwrap_or(self.playback_policy),
        }
    }
}

/// Some settings to change; a missing field keeps its value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub latency_mode: Option<LatencyMode>,
    pub transcode: Option<TranscodeProfile>,
    // The bounds of [`limits`], as the document states them.
    #[schema(maximum = 86_400)]
    pub dvr_window_seconds: Option<u32>,
    pub record_source: Option<bool>,
    #[schema(maximum = 3_600)]
    pub thumbnail_interval_seconds: Option<u32>,
    #[schema(maximum = 3_600)]
    pub reconnect_window_seconds: Option<u32>,
    #[schema(minimum = 30, maximum = 604_800)]
    pub max_session_seconds: Option<u32>,
    pub playback_policy: Option<PlaybackPolicy>,
}

/// Checks a channel name: not blank, not huge, no control characters.
pub fn validate_name(name: &str) -> Result<(), InvalidSetting> {
    let invalid = |requirement: &str| {
        Err(InvalidSetting {
            field: "name",
            requirement: requirement.to_owned(),
        })
    };
    if name.trim().is_empty() {
        return invalid("must not be blank");
    }
    if name.chars().count() > limits::MAX_NAME_CHARS {
        return invalid("must be at most 200 characters");
    }
    if name.chars().any(char::is_control) {
        return invalid("must not contain control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ChannelSettings::default().validate().unwrap();
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let base = ChannelSettings::default();
        let patch = SettingsPatch {
            dvr_window_seconds: Some(60),
            ..Default::default()
        };
        let patched = base.patched(&patch);
        assert_eq!(patched.dvr_window_seconds, 60);
        assert_eq!(
            ChannelSettings {
                dvr_window_seconds: base.dvr_window_seconds,
                ..patched
            },
            base
        );
    }

    #[test]
    fn out_of_bounds_values_name_their_field() {
        let settings = ChannelSettings {
            max_session_seconds: 5,
            ..Default::default()
        };
        assert_eq!(
            settings.validate().unwrap_err().field,
            "max_session_seconds"
        );
        assert_eq!(validate_name("  ").unwrap_err().field, "name");
        assert!(validate_name("bell\u{7}").is_err());
    }
}
