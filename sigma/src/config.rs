//! Configuration from the environment (`SIGMA_*`), with the defaults that make a laptop run
//! work with no configuration at all.

use std::fmt::Display;
use std::net::SocketAddr;
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sigma_edge_worker::rtmp::RtmpLimits;
use sigma_event_log::{FetchWaits, LogConfig};
use sigma_media::ladder::{parse_ladder, Rung, DEFAULT_LADDER};

use sigma_control_plane::webhooks::WebhookConfig;
use sigma_edge_worker::quotas::QuotaLimits;
use sigma_edge_worker::storage::disk::Watermarks;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Everything a control-plane process needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    pub http_addr: SocketAddr,
    /// Where `/metrics` is served: not on the public port (the series name channels and
    /// nodes), loopback by default.
    pub metrics_addr: SocketAddr,
    pub rtmp_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// `None` until resolved from the data dir (see [`sigma_control_plane::secrets`]).
    pub admin_key: Option<String>,
    pub database_url: String,
    pub log: LogConfig,
    /// `kid:secret` pairs; the first signs. `None`: a key kept in the data dir.
    pub signing_keys: Option<String>,
    /// 64 hex digits: the key stream keys and webhook secrets are sealed under
    /// ([`sigma_control_plane::sealing`]). `None`: a key kept in the data dir.
    pub secrets_key: Option<String>,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// Base of the URLs handed to viewers (playback) and broadcasters (ingest); `None`: the
    /// address the process listens on (the port the system gave, for a port of 0).
    pub public_http_url: Option<String>,
    pub public_rtmp_url: Option<String>,
    /// Where media go: `s3://bucket[/prefix]` or `file:///…`; `None`: `SIGMA_DATA_DIR/media`.
    pub object_store_url: Option<String>,
    /// The ABR ladder of `transcode: abr` channels (`SIGMA_ABR_LADDER`).
    pub abr_ladder: Vec<Rung>,
    /// Width of thumbnails and storyboard tiles (`SIGMA_THUMBNAIL_WIDTH`).
    pub thumbnail_width: u32,
    pub webhooks: WebhookConfig,
    /// How long an ended session's catch-up media are kept (`SIGMA_CATCHUP_RETENTION_SECONDS`,
    /// default 7 days).
    pub catchup_retention: Duration,
    /// How often this process sends its heartbeat (`SIGMA_HEARTBEAT_INTERVAL_MS`, default 2 s).
    pub heartbeat_interval: Duration,
    /// How long a node may be silent before it is declared lost (`SIGMA_NODE_TIMEOUT_MS`,
    /// default 10 s).
    pub node_timeout: Duration,
    /// How often playback publishes viewer activity (`SIGMA_VIEWER_REPORT_MS`, default 5 s).
    pub viewer_report_interval: Duration,
    /// Deadlines and caps of RTMP ingest (`SIGMA_RTMP_*`, see [`rtmp_limits`]).
    pub rtmp_limits: RtmpLimits,
    /// How long viewer spans are kept (`SIGMA_ANALYTICS_RETENTION_DAYS`, default 400).
    pub analytics_retention: Duration,
    /// Free-space watermarks of the data dir (`SIGMA_STORAGE_LOW_FREE_MB`,
    /// `SIGMA_STORAGE_RESERVE_MB`).
    pub watermarks: Watermarks,
    /// Live media held in memory at most while the store fails (`SIGMA_STORAGE_SPOOL_MB`).
    pub spool_bytes: usize,
    /// What an account may have (`SIGMA_QUOTA_*`, see [`quota_limits`]).
    pub quotas: QuotaLimits,
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn parsed<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: Display,
{
    match var(name) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|error: T::Err| ConfigError::Invalid {
            name,
            reason: error.to_string(),
            value,
        }),
    }
}

/// A number within `range`: the message names the bound it broke.
fn ranged<T>(name: &'static str, default: T, range: impl RangeBounds<T>) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display,
    T::Err: Display,
{
    let value: T = parsed(name, default)?;
    if range.contains(&value) {
        return Ok(value);
    }
    let reason = match (range.start_bound(), range.end_bound()) {
        (Bound::Included(low), Bound::Included(high)) => {
            format!("must be between {low} and {high}")
        }
        (Bound::Included(low), _) => format!("must be at least {low}"),
        (_, Bound::Included(high)) => format!("must be at most {high}"),
        _ => "is out of range".to_owned(),
    };
    Err(ConfigError::Invalid {
        name,
        value: value.to_string(),
        reason,
    })
}

/// A number that must be above zero.
fn positive(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    ranged(name, default, 1..)
}

/// The longest Kafka fetch wait in milliseconds: librdkafka wants `fetch.wait.max.ms` at least
/// a second under its 60 s socket timeout, and would otherwise refuse a consumer only when a
/// component joins (which its supervisor would restart forever) instead of at start-up.
const MAX_FETCH_WAIT_MS: u32 = 59_000;

/// Per-account quotas; each defaults to [`QuotaLimits::default`] (0 allows none).
fn quota_limits() -> Result<QuotaLimits, ConfigError> {
    let default = QuotaLimits::default();
    Ok(QuotaLimits {
        channels: parsed("SIGMA_QUOTA_CHANNELS", default.channels)?,
        webhooks: parsed("SIGMA_QUOTA_WEBHOOKS", default.webhooks)?,
        live_sessions: parsed("SIGMA_QUOTA_LIVE_SESSIONS", default.live_sessions)?,
        abr_sessions: parsed("SIGMA_QUOTA_ABR_SESSIONS", default.abr_sessions)?,
    })
}

/// RTMP ingest's limits; each setting defaults to [`RtmpLimits::default`].
fn rtmp_limits() -> Result<RtmpLimits, ConfigError> {
    let defaults = RtmpLimits::default();
    let millis = |name, default: Duration| -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(positive(
            name,
            default.as_millis() as u64,
        )?))
    };
    let count = |name, default: usize| -> Result<usize, ConfigError> {
        Ok(positive(name, default as u64)? as usize)
    };
    // A message's length is a 24-bit field.
    let max_message_bytes = ranged(
        "SIGMA_RTMP_MAX_MESSAGE_BYTES",
        defaults.max_message_bytes,
        1..=0x00ff_ffff,
    )?;
    Ok(RtmpLimits {
        handshake_timeout: millis(
            "SIGMA_RTMP_HANDSHAKE_TIMEOUT_MS",
            defaults.handshake_timeout,
        )?,
        publish_timeout: millis("SIGMA_RTMP_PUBLISH_TIMEOUT_MS", defaults.publish_timeout)?,
        media_idle_timeout: millis("SIGMA_RTMP_IDLE_TIMEOUT_MS", defaults.media_idle_timeout)?,
        max_connections: count("SIGMA_RTMP_MAX_CONNECTIONS", defaults.max_connections)?,
        max_connections_per_address: count(
            "SIGMA_RTMP_MAX_CONNECTIONS_PER_ADDRESS",
            defaults.max_connections_per_address,
        )?,
        max_message_bytes,
        max_bitrate: positive("SIGMA_RTMP_MAX_BITRATE_KBPS", defaults.max_bitrate / 1000)? * 1000,
        bitrate_window: defaults.bitrate_window,
    })
}

/// The free-space watermarks: the reserve must lie below the low mark.
fn watermarks() -> Result<Watermarks, ConfigError> {
    let defaults = Watermarks::default();
    let low = positive("SIGMA_STORAGE_LOW_FREE_MB", defaults.low_bytes >> 20)?;
    let reserve = positive("SIGMA_STORAGE_RESERVE_MB", defaults.reserve_bytes >> 20)?;
    if reserve >= low {
        return Err(ConfigError::Invalid {
            name: "SIGMA_STORAGE_RESERVE_MB",
            value: reserve.to_string(),
            reason: format!("must be below SIGMA_STORAGE_LOW_FREE_MB ({low})"),
        });
    }
    Ok(Watermarks {
        low_bytes: low.saturating_mul(1 << 20),
        reserve_bytes: reserve.saturating_mul(1 << 20),
    })
}

/// Live media held in memory at most: within half the reserve, so writing them all out when
/// the disk leaves its reserve still leaves the log room.
fn spool_bytes(watermarks: &Watermarks) -> Result<usize, ConfigError> {
    let megabytes = positive("SIGMA_STORAGE_SPOOL_MB", 256)?;
    let bytes = megabytes.saturating_mul(1 << 20);
    if bytes > watermarks.reserve_bytes / 2 {
        return Err(ConfigError::Invalid {
            name: "SIGMA_STORAGE_SPOOL_MB",
            value: megabytes.to_string(),
            reason: format!(
                "must be at most half of SIGMA_STORAGE_RESERVE_MB ({})",
                watermarks.reserve_bytes >> 20
            ),
        });
    }
    Ok(usize::try_from(bytes).unwrap_or(usize::MAX))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(var("SIGMA_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let watermarks = watermarks()?;
        let database_url = var("SIGMA_DATABASE_URL").unwrap_or_else(|| {
            format!("sqlite://{}?mode=rwc", data_dir.join("sigma.db").display())
        });
        Ok(Self {
            http_addr: address("SIGMA_HTTP_ADDR", "127.0.0.1:8080")?,
            metrics_addr: address("SIGMA_METRICS_ADDR", "127.0.0.1:9464")?,
            rtmp_addr: address("SIGMA_RTMP_ADDR", "127.0.0.1:1935")?,
            admin_key: var("SIGMA_ADMIN_KEY"),
            database_url,
            log: log_config(&data_dir)?,
            signing_keys: var("SIGMA_SIGNING_KEYS"),
            secrets_key: var("SIGMA_SECRETS_KEY"),
            rate_limit_per_second: parsed("SIGMA_RATE_LIMIT_PER_SECOND", 50)?,
            rate_limit_burst: parsed("SIGMA_RATE_LIMIT_BURST", 100)?,
            public_http_url: var("SIGMA_PUBLIC_HTTP_URL"),
            public_rtmp_url: var("SIGMA_PUBLIC_RTMP_URL"),
            object_store_url: var("SIGMA_OBJECT_STORE_URL"),
            abr_ladder: abr_ladder()?,
            thumbnail_width: thumbnail_width()?,
            webhooks: webhook_config()?,
            heartbeat_interval: Duration::from_millis(positive(
                "SIGMA_HEARTBEAT_INTERVAL_MS",
                2_000,
            )?),
            node_timeout: Duration::from_millis(positive("SIGMA_NODE_TIMEOUT_MS", 10_000)?),
            viewer_report_interval: Duration::from_millis(positive(
                "SIGMA_VIEWER_REPORT_MS",
                5_000,
            )?),
            rtmp_limits: rtmp_limits()?,
            quotas: quota_limits()?,
            analytics_retention: Duration::from_secs(
                positive("SIGMA_ANALYTICS_RETENTION_DAYS", 400)?.saturating_mul(86_400),
            ),
            catchup_retention: Duration::from_secs(positive(
                "SIGMA_CATCHUP_RETENTION_SECONDS",
                7 * 24 * 3600,
            )?),
            watermarks,
            spool_bytes: spool_bytes(&watermarks)?,
            data_dir,
        })
    }
}

/// A socket address (`host:port`; port 0: one the system picks when the process binds).
fn address(name: &'static str, default: &str) -> Result<SocketAddr, ConfigError> {
    parsed(name, default.parse().expect("a socket address"))
}

/// Kafka when `SIGMA_KAFKA_BROKERS` is set, else the embedded log in the data dir; either way
/// with `SIGMA_LOG_PARTITIONS` partitions (1 to 1024).
fn log_config(data_dir: &std::path::Path) -> Result<LogConfig, ConfigError> {
    let partitions = ranged("SIGMA_LOG_PARTITIONS", 8, 1..=1024)?;
    let waits = FetchWaits::default();
    Ok(match var("SIGMA_KAFKA_BROKERS") {
        Some(brokers) => LogConfig::Kafka {
            brokers,
            partitions,
            fetch_waits: FetchWaits {
                prompt_ms: ranged(
                    "SIGMA_KAFKA_FETCH_WAIT_MS",
                    waits.prompt_ms,
                    ..=MAX_FETCH_WAIT_MS,
                )?,
                relaxed_ms: ranged(
                    "SIGMA_KAFKA_RELAXED_FETCH_WAIT_MS",
                    waits.relaxed_ms,
                    ..=MAX_FETCH_WAIT_MS,
                )?,
            },
        },
        None => LogConfig::Embedded {
            dir: data_dir.join("log"),
            partitions,
        },
    })
}

fn abr_ladder() -> Result<Vec<Rung>, ConfigError> {
    let spec = var("SIGMA_ABR_LADDER").unwrap_or_else(|| DEFAULT_LADDER.into());
    parse_ladder(&spec).map_err(|error| ConfigError::Invalid {
        name: "SIGMA_ABR_LADDER",
        reason: error.to_string(),
        value: spec,
    })
}

/// Width of thumbnails and storyboard tiles: even (the encoder's chroma subsampling), 16 to 1920.
fn thumbnail_width() -> Result<u32, ConfigError> {
    let width: u32 = parsed("SIGMA_THUMBNAIL_WIDTH", 320)?;
    if !(16..=1920).contains(&width) || !width.is_multiple_of(2) {
        return Err(ConfigError::Invalid {
            name: "SIGMA_THUMBNAIL_WIDTH",
            value: width.to_string(),
            reason: "must be even, 16 to 1920".into(),
        });
    }
    Ok(width)
}

fn webhook_config() -> Result<WebhookConfig, ConfigError> {
    Ok(WebhookConfig {
        allow_private: matches!(
            var("SIGMA_WEBHOOK_ALLOW_PRIVATE").as_deref(),
            Some("1" | "true" | "yes")
        ),
        timeout: Duration::from_millis(positive("SIGMA_WEBHOOK_TIMEOUT_MS", 10_000)?),
        retry_for: Duration::from_secs(positive("SIGMA_WEBHOOK_RETRY_FOR_SECONDS", 24 * 3600)?),
        backoff_base: Duration::from_millis(positive("SIGMA_WEBHOOK_BACKOFF_BASE_MS", 1_000)?),
        backoff_max: Duration::from_millis(positive("SIGMA_WEBHOOK_BACKOFF_MAX_MS", 3_600_000)?),
    })
}
