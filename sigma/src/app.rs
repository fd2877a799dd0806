//! Wiring: opens the log and the database, starts the deciders, the projector and the command
//! bus, and serves the API. The same code runs standalone (embedded log, SQLite) and scaled out
//! (Kafka, PostgreSQL); only the configuration differs.
//!
//! A process has a [`Role`]: the whole platform; the control plane alone (the platform without
//! ingest and playback); or an edge worker (RTMP ingest with health and metrics) or a playback
//! node, either of which joins a scaled-out deployment's log and object store only (neither
//! opens a database).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;

use actix_web::web;
use sigma_shared::log::{
    EventLog, LogError, COMMANDS_TOPIC, EVENTS_TOPIC, HEARTBEATS_TOPIC, MEDIA_TOPIC, VIEWERS_TOPIC,
};

use crate::config::Config;
use sigma_control_plane::api::auth::{Auth, Keyring, KeyringError};
use sigma_control_plane::api::system::SystemState;
use sigma_control_plane::api::views::PublicUrls;
use sigma_control_plane::api::{AppState, Surface};
use sigma_control_plane::health::{Component, Readiness};
use sigma_control_plane::metrics::Metrics;
use sigma_control_plane::project::progress::Progress;
use sigma_control_plane::sealing::SecretsKey;
use sigma_control_plane::{decide, project, secrets};
use sigma_edge_worker::bus::{CommandBus, ReadModels};
use sigma_edge_worker::metrics::{IngestMetrics, StorageMetrics};
use sigma_edge_worker::publication::directory::Listing;
use sigma_edge_worker::storage::disk::DiskWatch;
use sigma_edge_worker::storage::LiveStore;
use sigma_event_log::{CaughtUp, EventsFeed};
use sigma_playback::tokens::PlatformKeys;
use sigma_playback::{Playback, PlaybackMetrics};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("event log: {0}")]
    Log(#[from] LogError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("SIGMA_SIGNING_KEYS: {0}")]
    Keys(#[from] KeyringError),
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    #[error("SIGMA_SECRETS_KEY: {0}")]
    SecretsKey(#[from] sigma_control_plane::sealing::SealingError),
    #[error("SIGMA_SECRETS_KEY differs from the key in {0}, which sealed this deployment's stream keys and webhook secrets: set SIGMA_SECRETS_KEY to that file's content")]
    OtherSecretsKey(String),
    #[error("cannot listen on {addr}: {source} (set SIGMA_HTTP_ADDR to a free address)")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "cannot listen for metrics on {addr}: {source} (set SIGMA_METRICS_ADDR to a free address)"
    )]
    MetricsListen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("http server: {0}")]
    Serve(std::io::Error),
    #[error("cannot listen for RTMP on {addr}: {source} (set SIGMA_RTMP_ADDR to a free address)")]
    RtmpListen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("SIGMA_OBJECT_STORE_URL={0:?}: use s3://bucket[/prefix] or file:///absolute/path")]
    StoreUrl(String),
    #[error("cannot build the webhook client: {0}")]
    WebhookClient(reqwest::Error),
    #[error(
        "a control plane, an edge worker or a playback node joins a scaled-out deployment: set {0}"
    )]
    NodeNeeds(&'static str),
}

/// What a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything: API, deciders, projections, ingest and playback.
    Platform,
    /// The control plane of a scaled-out deployment: API, deciders, projections, webhooks,
    /// analytics, recording, retention and the node monitor; no ingest, no playback (its
    /// workers and playback nodes do those).
    Control,
    /// RTMP ingest only, plus `/healthz`, `/readyz` and `/metrics`.
    Worker,
    /// Playback only (live and catch-up playlists, media, thumbnails, recordings), plus
    /// `/healthz`, `/readyz` and `/metrics`.
    Playback,
}

impl Role {
    /// The name a node's heartbeats carry.
    fn name(self) -> &'static str {
        match self {
            Role::Platform => "platform",
            Role::Control => "control",
            Role::Worker => "worker",
            Role::Playback => "playback",
        }
    }
}

/// The object store for media: `SIGMA_OBJECT_STORE_URL` (`s3://bucket[/prefix]` with the
/// usual `AWS_*` variables, or `file:///…`; shared by every process of a deployment), else
/// `SIGMA_DATA_DIR/media` on the local file system; with the local directory, if it is one.
fn media_store(
    config: &Config,
) -> Result<(Arc<dyn ObjectStore>, Option<std::path::PathBuf>), StartError> {
    let local = |media: std::path::PathBuf| {
        std::fs::create_dir_all(&media).map_err(|source| StartError::DataDir {
            path: media.display().to_string(),
            source,
        })?;
        // Expired catch-up media leave no empty directories behind.
        let store: Arc<dyn ObjectStore> = Arc::new(
            object_store::local::LocalFileSystem::new_with_prefix(&media)?
                .with_automatic_cleanup(true),
        );
        Ok((store, Some(media)))
    };
    let Some(url) = &config.object_store_url else {
        return local(config.data_dir.join("media"));
    };
    if let Some(path) = url
        .strip_prefix("file://")
        .filter(|path| path.starts_with('/'))
    {
        return local(path.into());
    }
    let Some(location) = url.strip_prefix("s3://").filter(|rest| !rest.is_empty()) else {
        return Err(StartError::StoreUrl(url.clone()));
    };
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    let s3 = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()?;
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        Ok((Arc::new(s3), None))
    } else {
        Ok((
            Arc::new(object_store::prefix::PrefixStore::new(s3, prefix)),
            None,
        ))
    }
}

/// Where live media go: `store`, or memory while it fails; the data dir's free space (and the
/// local media directory's) watched against the watermarks.
fn live_store(
    config: &Config,
    store: &Arc<dyn ObjectStore>,
    local_media: Option<std::path::PathBuf>,
    metrics: &StorageMetrics,
) -> Arc<LiveStore> {
    let local = local_media.is_some();
    let watched = std::iter::once(config.data_dir.clone())
        .chain(local_media)
        .collect();
    let disk = DiskWatch::start(watched, config.watermarks, metrics.clone());
    LiveStore::start(
        store.clone(),
        disk,
        local,
        config.spool_bytes,
        metrics.clone(),
    )
}

/// Listens for RTMP publishers; their media go to `store`, their events to the log.
fn start_ingest(
    rtmp: tokio::net::TcpSocket,
    config: &Config,
    admission: sigma_edge_worker::publication::LogAdmission,
) -> Result<(), StartError> {
    let addr = rtmp.local_addr().map_err(StartError::Serve)?;
    let listener = rtmp
        .listen(BACKLOG)
        .map_err(|source| StartError::RtmpListen { addr, source })?;
    tokio::spawn(sigma_edge_worker::rtmp::serve(
        listener,
        Arc::new(admission),
        config.rtmp_limits,
    ));
    Ok(())
}

/// How many connections wait to be accepted on each listening socket.
const BACKLOG: u32 = 1024;

/// A socket bound to `addr` but not listening: the port is the process's from its first moment
/// (port 0: one the system picks), while connections are refused, not left hanging, until what
/// serves them has started (a balancer's TCP check does not see a node that cannot serve yet).
fn reserve(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // A restarted process takes its port back while the connections of the one before linger
    // (they keep the flag the socket had when they were accepted). But port 0 is picked with
    // the flag off: were it on, the system could pick a port another process has reserved
    // (bound, not listening yet), and whichever of the two listened second would fail.
    socket.set_reuseaddr(addr.port() != 0)?;
    socket.bind(addr)?;
    socket.set_reuseaddr(true)?;
    Ok(socket)
}

/// The process's sockets, bound (not listening) before anything else starts: a port already
/// taken fails the start at once, and an address with port 0 gets a free port from the system,
/// which the public URLs and the ready line then name (so tests and supervisors need not guess).
struct Listeners {
    http: tokio::net::TcpSocket,
    metrics: tokio::net::TcpSocket,
    /// RTMP ingest, on the roles that ingest.
    rtmp: Option<tokio::net::TcpSocket>,
}

impl Listeners {
    fn bind(config: &Config, role: Role) -> Result<Self, StartError> {
        let http = reserve(config.http_addr).map_err(|source| StartError::Listen {
            addr: config.http_addr,
            source,
        })?;
        let metrics = reserve(config.metrics_addr).map_err(|source| StartError::MetricsListen {
            addr: config.metrics_addr,
            source,
        })?;
        let rtmp =
            match role {
                Role::Platform | Role::Worker => Some(reserve(config.rtmp_addr).map_err(
                    |source| StartError::RtmpListen {
                        addr: config.rtmp_addr,
                        source,
                    },
                )?),
                Role::Control | Role::Playback => None,
            };
        Ok(Self {
            http,
            metrics,
            rtmp,
        })
    }
}

/// The addresses a process listens on.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub http: SocketAddr,
    /// Where `/metrics` is served.
    pub metrics: SocketAddr,
    /// `None` on a playback node, which takes no ingest.
    pub rtmp: Option<SocketAddr>,
}

impl Bound {
    /// Where each socket listens: the system's port where the configuration said 0.
    fn of(
        http: &tokio::net::TcpSocket,
        metrics: &tokio::net::TcpSocket,
        rtmp: Option<&tokio::net::TcpSocket>,
    ) -> Result<Self, StartError> {
        Ok(Self {
            http: http.local_addr().map_err(StartError::Serve)?,
            metrics: metrics.local_addr().map_err(StartError::Serve)?,
            rtmp: rtmp
                .map(tokio::net::TcpSocket::local_addr)
                .transpose()
                .map_err(StartError::Serve)?,
        })
    }

    /// The base URLs handed to viewers and broadcasters: the configured public ones, else
    /// these addresses.
    fn public_urls(&self, config: &Config) -> PublicUrls {
        let rtmp = self.rtmp.unwrap_or(config.rtmp_addr);
        PublicUrls {
            http: config
                .public_http_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", self.http)),
            rtmp: config
                .public_rtmp_url
                .clone()
                .unwrap_or_else(|| format!("rtmp://{rtmp}")),
        }
    }
}

/// Bounds of the pause before a failed component is restarted.
const RESTART_PAUSE_MIN: Duration = Duration::from_millis(500);
const RESTART_PAUSE_MAX: Duration = Duration::from_secs(30);

/// What a started process tells its operator.
pub struct Started {
    pub role: Role,
    pub bound: Bound,
    /// Where the admin key is (`SIGMA_ADMIN_KEY`, or the file it is kept in); `None` on a
    /// worker or a playback node, which serve no API. Never the key itself: what is printed
    /// ends up in logs.
    pub admin_key_at: Option<String>,
    pub urls: PublicUrls,
}

/// Creates the data dir if need be, readable by this user only (it holds the keys, the log
/// and the read models). One the operator made is left as it is (it may be a shared mount),
/// with a warning if others may read it.
fn private_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if let Ok(existing) = std::fs::metadata(path) {
        if existing.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the data dir may be read by other users: it holds the keys, the log and the read models (chmod 700 it)");
        }
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

fn data_dir_error(config: &Config) -> impl Fn(std::io::Error) -> StartError + '_ {
    move |source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    }
}

/// Opens the configured log with both topics in place.
pub async fn open_log(config: &Config) -> Result<Arc<dyn EventLog>, StartError> {
    let log = sigma_event_log::open(&config.log).await?;
    log.ensure_topic(COMMANDS_TOPIC).await?;
    log.ensure_topic(EVENTS_TOPIC).await?;
    log.ensure_topic(MEDIA_TOPIC).await?;
    log.ensure_topic(HEARTBEATS_TOPIC).await?;
    log.ensure_topic(VIEWERS_TOPIC).await?;
    Ok(log)
}

/// Runs a process of `role` until its HTTP server stops.
pub async fn run(
    config: Config,
    role: Role,
    announce: impl FnOnce(&Started),
) -> Result<(), StartError> {
    check_role_needs(&config, role)?;
    let Listeners {
        http,
        metrics,
        rtmp,
    } = Listeners::bind(&config, role)?;
    let bound = Bound::of(&http, &metrics, rtmp.as_ref())?;
    let urls = bound.public_urls(&config);
    let base = Base::open(&config, role).await?;
    let (surface, admin_key_at, read_models) = match role {
        Role::Playback => (start_playback_node(&config, &base).await?, None, None),
        Role::Worker => {
            let mut feed = EventsFeed::default();
            let ingesting = ingest_side(&config, &base, None, rtmp, &mut feed);
            let caught_up = ingesting.catch_up(feed, &base.log).await?;
            ingesting.start(caught_up, &config, &base).await?;
            (Surface::Worker, None, None)
        }
        Role::Platform | Role::Control => {
            let shared = base.open_read_models(&config).await?;
            let (surface, admin_key_at) =
                start_platform(&config, &base, &shared, role, rtmp, &urls).await?;
            (surface, Some(admin_key_at), Some(shared))
        }
    };
    let started = Started {
        role,
        bound,
        admin_key_at,
        urls,
    };
    serve(
        http,
        metrics,
        base.system(read_models.as_ref()),
        surface,
        started,
        announce,
    )
    .await
}

/// The data dir is private; a control plane, a worker or a playback node shares the
/// deployment's log and media with the other processes (files of its own would be invisible to
/// them). A control plane also shares the keys with the other control planes (a key drawn into
/// its data dir would be its own: another's tokens and sealed secrets would not open), and
/// hands out the public URLs of the workers and playback nodes (its own addresses serve
/// neither).
fn check_role_needs(config: &Config, role: Role) -> Result<(), StartError> {
    private_dir(&config.data_dir).map_err(data_dir_error(config))?;
    if role == Role::Platform {
        return Ok(());
    }
    let mut needs = vec![
        (
            "SIGMA_KAFKA_BROKERS",
            matches!(config.log, sigma_event_log::LogConfig::Kafka { .. }),
        ),
        ("SIGMA_OBJECT_STORE_URL", config.object_store_url.is_some()),
    ];
    if role == Role::Control {
        needs.extend([
            ("SIGMA_ADMIN_KEY", config.admin_key.is_some()),
            ("SIGMA_SIGNING_KEYS", config.signing_keys.is_some()),
            ("SIGMA_SECRETS_KEY", config.secrets_key.is_some()),
            ("SIGMA_PUBLIC_HTTP_URL", config.public_http_url.is_some()),
            ("SIGMA_PUBLIC_RTMP_URL", config.public_rtmp_url.is_some()),
        ]);
    }
    match needs.into_iter().find(|(_, given)| !given) {
        Some((missing, _)) => Err(StartError::NodeNeeds(missing)),
        None => Ok(()),
    }
}

/// What each role must have started before it is ready.
fn components(role: Role) -> &'static [Component] {
    match role {
        Role::Platform => &[
            Component::Deciders,
            Component::Projector,
            Component::CommandBus,
            Component::Ingest,
            Component::Recorder,
            Component::Webhooks,
            Component::Retention,
            Component::NodeMonitor,
            Component::Analytics,
        ],
        Role::Control => &[
            Component::Deciders,
            Component::Projector,
            Component::CommandBus,
            Component::Recorder,
            Component::Webhooks,
            Component::Retention,
            Component::NodeMonitor,
            Component::Analytics,
        ],
        Role::Worker => &[Component::CommandBus, Component::Ingest],
        Role::Playback => &[Component::Playback],
    }
}

/// What every role opens first — the log, the media store, metrics, readiness — and the
/// heartbeat every process sends (with what it ingests). Only the platform opens more (the
/// read models).
struct Base {
    log: Arc<dyn EventLog>,
    /// The process's registry, into which each part the role runs registers its metrics.
    metrics: sigma_metrics::Process,
    readiness: Arc<Readiness>,
    store: Arc<dyn ObjectStore>,
    /// The media dir, when media are kept on this machine.
    local_media: Option<std::path::PathBuf>,
    node_id: String,
    publishing: sigma_edge_worker::node::Publishing,
}

impl Base {
    async fn open(config: &Config, role: Role) -> Result<Self, StartError> {
        let log = open_log(config).await?;
        let (store, local_media) = media_store(config)?;
        let publishing = sigma_edge_worker::node::Publishing::default();
        let node_id = format!("nd_{}", uuid::Uuid::now_v7().simple());
        tokio::spawn(sigma_edge_worker::node::heartbeat(
            log.clone(),
            node_id.clone(),
            role.name(),
            publishing.clone(),
            config.heartbeat_interval,
        ));
        Ok(Self {
            log,
            metrics: sigma_metrics::Process::new(),
            readiness: Arc::new(Readiness::of(components(role))),
            store,
            local_media,
            node_id,
            publishing,
        })
    }

    /// The read models, which the platform alone uses.
    async fn open_read_models(&self, config: &Config) -> Result<Shared, StartError> {
        let db = sigma_control_plane::db::connect(&config.database_url).await?;
        Ok(Shared {
            log: self.log.clone(),
            progress: Progress::new(db.clone()),
            db,
            metrics: Metrics::register(&self.metrics),
            readiness: self.readiness.clone(),
        })
    }

    /// What the health, readiness and metrics routes read: the read models too on the
    /// platform.
    fn system(&self, read_models: Option<&Shared>) -> web::Data<SystemState> {
        web::Data::new(SystemState {
            db: read_models.map(|shared| shared.db.clone()),
            log: self.log.clone(),
            readiness: self.readiness.clone(),
            metrics: self.metrics.clone(),
            read_model_gauges: read_models.map(|shared| shared.metrics.clone()),
        })
    }

    /// Playback on this process, from the store and from `unstored` (the media this process
    /// ingests that are not stored yet) on a platform process; it folds access from `feed`, and
    /// is started once the feed is.
    fn playback(
        &self,
        config: &Config,
        unstored: Option<Arc<LiveStore>>,
        feed: &mut EventsFeed,
    ) -> Result<Arc<Playback>, StartError> {
        let reporting = sigma_playback::Reporting {
            node_id: self.node_id.clone(),
            every: config.viewer_report_interval,
            passes: sigma_playback::passes::PlaybackPasses::new(
                signing_key_spec(config)?.as_bytes(),
            ),
        };
        Ok(Playback::new(
            &self.log,
            self.store.clone(),
            unstored.map(|live| Arc::new(Held(live)) as Arc<dyn sigma_playback::Unstored>),
            reporting,
            playback_keys(config)?,
            PlaybackMetrics::register(&self.metrics),
            feed,
        ))
    }
}

/// What a platform process's ingest holds in memory, not stored yet: its playback serves it.
struct Held(Arc<LiveStore>);

impl sigma_playback::Unstored for Held {
    fn held(&self, key: &str) -> Option<bytes::Bytes> {
        self.0.held(key)
    }
}

/// The keys playback checks the tokens the API mints with, derived from the signing keys.
fn playback_keys(config: &Config) -> Result<PlatformKeys, StartError> {
    let pairs = Keyring::pairs(&signing_key_spec(config)?)?;
    Ok(PlatformKeys::derive(
        pairs
            .iter()
            .map(|(kid, secret)| (kid.as_str(), secret.as_slice())),
    ))
}

/// A playback node: playback from the log and the store, nothing else.
async fn start_playback_node(config: &Config, base: &Base) -> Result<Surface, StartError> {
    let mut feed = EventsFeed::default();
    let playback = base.playback(config, None, &mut feed)?;
    let caught_up = feed.catch_up(&base.log).await?;
    playback.start(&base.log, caught_up.positions()).await?;
    let following = caught_up.follow(&base.log).await?;
    base.readiness.started(Component::Playback);
    fail_when_the_feed_stops(following, &base.readiness, Component::Playback);
    Ok(Surface::Playback {
        playback: web::Data::new(playback),
    })
}

/// Marks `component` failed if the process's feed stops following the events: its folds (the
/// bus's decisions, admission's directory, who may watch) would no longer be current.
fn fail_when_the_feed_stops(
    following: tokio::task::JoinHandle<()>,
    readiness: &Arc<Readiness>,
    component: Component,
) {
    let readiness = readiness.clone();
    tokio::spawn(async move {
        let stopped = following.await.err().map(|error| error.to_string());
        readiness.failed(
            component,
            format!(
                "the events feed stopped{}: what this process folds of the events is no longer current",
                stopped.map(|why| format!(" ({why})")).unwrap_or_default()
            ),
        );
    });
}

/// The ingest side of a process, before it starts: what it hands the rest of a platform
/// process, and where it admits publishers, if it does.
struct IngestSide {
    bus: Arc<CommandBus>,
    live: Arc<LiveStore>,
    quotas: Arc<sigma_edge_worker::quotas::Quotas>,
    admitting: Option<(
        tokio::net::TcpSocket,
        sigma_edge_worker::publication::LogAdmission,
    )>,
}

/// The command bus and the live store, and, on `rtmp` where the process ingests, RTMP
/// admission (with its ladders and thumbnails where ffmpeg is installed) and its directory,
/// folded by `feed`: all a worker runs, and part of a platform process or control plane (whose
/// commands also wait for its read models, at `progress`; a control plane's live store writes
/// the recordings).
fn ingest_side(
    config: &Config,
    base: &Base,
    progress: Option<Arc<dyn ReadModels>>,
    rtmp: Option<tokio::net::TcpSocket>,
    feed: &mut EventsFeed,
) -> IngestSide {
    // Admission's directory, folded from the events before the bus hears of them (a publisher's
    // connect waits for its decision, then finds its key): only where publishers are admitted.
    let directory = rtmp.as_ref().map(|_| {
        let directory = Arc::new(Listing::default());
        let folded = directory.clone();
        feed.fold_events("admission directory", move |event| folded.apply(event));
        directory
    });
    let bus = CommandBus::new(base.log.clone(), progress);
    let storage = StorageMetrics::register(&base.metrics);
    let live = live_store(config, &base.store, base.local_media.clone(), &storage);
    let quotas = Arc::new(sigma_edge_worker::quotas::Quotas::new(
        config.quotas,
        storage.limits_hit.clone(),
    ));
    let admitting = rtmp.zip(directory).map(|(rtmp, directory)| {
        let ffmpeg = ffmpeg_sidecar::command::ffmpeg_is_installed();
        if !ffmpeg {
            tracing::error!(
                "ffmpeg is not installed (no `ffmpeg` on PATH): channels with `transcode: abr` will \
                 play their source only and raise a `transcoder_unavailable` alert, and no \
                 thumbnails are taken; passthrough playback is not affected. Install ffmpeg (Debian: apt install ffmpeg)."
            );
        }
        let admission = sigma_edge_worker::publication::LogAdmission {
            quotas: quotas.clone(),
            metrics: IngestMetrics::register(&base.metrics),
            bus: bus.clone(),
            log: base.log.clone(),
            directory,
            store: live.clone(),
            ladder: ffmpeg.then(|| Arc::new(config.abr_ladder.clone())),
            thumbnail_width: ffmpeg.then_some(config.thumbnail_width),
            publishing: base.publishing.clone(),
        };
        (rtmp, admission)
    });
    IngestSide {
        bus,
        live,
        quotas,
        admitting,
    }
}

/// The ingest side of a process, started: what it hands the rest of a platform process.
struct Ingesting {
    bus: Arc<CommandBus>,
    live: Arc<LiveStore>,
    quotas: Arc<sigma_edge_worker::quotas::Quotas>,
}

impl IngestSide {
    /// Adds the bus to `feed`, after every other fold (see [`CommandBus::listen`]), and catches
    /// the feed up with the events.
    async fn catch_up(
        &self,
        mut feed: EventsFeed,
        log: &Arc<dyn EventLog>,
    ) -> Result<CaughtUp, StartError> {
        self.bus.listen(&mut feed);
        Ok(feed.catch_up(log).await?)
    }

    /// Follows the events from where the feed `caught_up` (so the bus hears decisions), then
    /// admits publishers where this process ingests.
    async fn start(
        self,
        caught_up: CaughtUp,
        config: &Config,
        base: &Base,
    ) -> Result<Ingesting, StartError> {
        let following = caught_up.follow(&base.log).await?;
        base.readiness.started(Component::CommandBus);
        fail_when_the_feed_stops(following, &base.readiness, Component::CommandBus);
        if let Some((rtmp, admission)) = self.admitting {
            start_ingest(rtmp, config, admission)?;
            base.readiness.started(Component::Ingest);
        }
        Ok(Ingesting {
            bus: self.bus,
            live: self.live,
            quotas: self.quotas,
        })
    }
}

/// The whole platform (`Role::Platform`, ingesting on `rtmp`): deciders, projections,
/// webhooks, analytics, ingest, recording, retention, the node monitor, playback and the API —
/// or the control plane alone (`Role::Control`: neither ingest nor playback, no `rtmp`).
/// Returns its surface and where its admin key is.
async fn start_platform(
    config: &Config,
    base: &Base,
    shared: &Shared,
    role: Role,
    rtmp: Option<tokio::net::TcpSocket>,
    urls: &PublicUrls,
) -> Result<(Surface, String), StartError> {
    // Only the platform handles secrets: a worker knows a stream key by its fingerprint.
    let secrets = Arc::new(secrets_key(config)?);
    start_deciders_and_projector(shared, &secrets);
    start_webhooks(shared, config, &secrets)?;
    start_analytics(shared);
    tokio::spawn(sigma_control_plane::analytics::retention::prune(
        shared.db.clone(),
        config.analytics_retention,
    ));
    let mut feed = EventsFeed::default();
    let ingest = ingest_side(
        config,
        base,
        Some(Arc::new(shared.progress.clone())),
        rtmp,
        &mut feed,
    );
    let (admin_key_at, auth) = platform_auth(config, &shared.metrics)?;
    let revocations = auth.revocations.clone();
    feed.fold_events("token revocations", move |event| revocations.apply(event));
    let playback = (role == Role::Platform)
        .then(|| base.playback(config, Some(ingest.live.clone()), &mut feed))
        .transpose()?;
    let caught_up = ingest.catch_up(feed, &base.log).await?;
    if let Some(playback) = &playback {
        playback.start(&base.log, caught_up.positions()).await?;
    }
    let Ingesting { bus, live, quotas } = ingest.start(caught_up, config, base).await?;
    start_recorder(shared, &live, &bus);
    start_retention(shared, &base.store, &bus, config.catchup_retention);
    start_node_monitor(shared, &bus, config.node_timeout);

    let api = web::Data::new(AppState {
        secrets,
        quotas,
        playback_tokens: playback_keys(config)?,
        bus,
        db: shared.db.clone(),
        auth,
        urls: urls.clone(),
        webhooks: config.webhooks.clone(),
    });
    forget_idle_limits(&api);
    Ok((
        Surface::Platform {
            api,
            playback: playback.map(web::Data::new),
        },
        admin_key_at,
    ))
}

/// Forgets idle rate limiters every minute.
fn forget_idle_limits(api: &web::Data<AppState>) {
    let forgetful = api.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            forgetful.auth.forget_idle_limits();
        }
    });
}

/// Starts listening on a reserved socket, as actix takes it (a std listener).
fn listen_std(socket: tokio::net::TcpSocket) -> std::io::Result<std::net::TcpListener> {
    socket.listen(BACKLOG)?.into_std()
}

/// Says the process is running, then serves until the HTTP server stops.
async fn serve(
    http: tokio::net::TcpSocket,
    metrics: tokio::net::TcpSocket,
    system: web::Data<SystemState>,
    surface: Surface,
    started: Started,
    announce: impl FnOnce(&Started),
) -> Result<(), StartError> {
    let bound = started.bound;
    let http = listen_std(http).map_err(|source| StartError::Listen {
        addr: bound.http,
        source,
    })?;
    let metrics = listen_std(metrics).map_err(|source| StartError::MetricsListen {
        addr: bound.metrics,
        source,
    })?;
    announce(&started);
    sigma_control_plane::api::serve(system, surface, http, metrics)
        .await
        .map_err(StartError::Serve)
}

/// The token keyring and the admin key (each from the environment, else kept in the data
/// dir), with the rate limits; and where the admin key is.
fn platform_auth(config: &Config, metrics: &Metrics) -> Result<(String, Auth), StartError> {
    let (admin_key, at) = match &config.admin_key {
        Some(key) => (key.clone(), "SIGMA_ADMIN_KEY".to_owned()),
        None => {
            let path = config.data_dir.join("admin-key");
            let key = secrets::load_or_create(&path, || {
                format!("sigma_admin_{}", secrets::random_text(40))
            })?;
            (key, path.display().to_string())
        }
    };
    let auth = Auth::new(
        admin_key,
        Keyring::parse(&signing_key_spec(config)?)?,
        config.rate_limit_per_second,
        config.rate_limit_burst,
        metrics.limits_hit.with_label_values(&["auth_failures"]),
    );
    Ok((at, auth))
}

/// The token signing keys, `kid:secret,…`: from the environment, else kept in the data dir.
/// Playback passes are keyed from them too, so every process of a deployment must share them.
fn signing_key_spec(config: &Config) -> Result<String, StartError> {
    match &config.signing_keys {
        Some(spec) => Ok(spec.clone()),
        None => Ok(secrets::load_or_create(
            &config.data_dir.join("signing-keys"),
            Keyring::generate_spec,
        )?),
    }
}

/// The key stream keys and webhook secrets are sealed under: from the environment, else kept
/// in the data dir. Every platform process of a deployment must share it, so scale-out (a Kafka
/// log) needs it from the environment.
pub fn secrets_key(config: &Config) -> Result<SecretsKey, StartError> {
    let kept = config.data_dir.join("secrets-key");
    match (&config.secrets_key, &config.log) {
        (Some(spec), _) => {
            let key = SecretsKey::parse(spec)?;
            no_other_key_sealed(&kept, &key)?;
            Ok(key)
        }
        (None, sigma_event_log::LogConfig::Kafka { .. }) => {
            Err(StartError::NodeNeeds("SIGMA_SECRETS_KEY"))
        }
        (None, _) => Ok(SecretsKey::parse(&secrets::load_or_create(
            &kept,
            SecretsKey::generate_spec,
        )?)?),
    }
}

/// A key file left by a start without `SIGMA_SECRETS_KEY` sealed this deployment's secrets: a
/// different key from the environment could open none of them, so it is refused.
fn no_other_key_sealed(kept: &std::path::Path, key: &SecretsKey) -> Result<(), StartError> {
    match std::fs::read_to_string(kept) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(secrets::SecretError::Unreadable {
            path: kept.to_owned(),
            source,
        }
        .into()),
        Ok(text) if SecretsKey::parse(&text)?.id() == key.id() => Ok(()),
        Ok(_) => Err(StartError::OtherSecretsKey(kept.display().to_string())),
    }
}

/// What the log-driven background components of the ingest side and the platform share; cheap
/// to clone.
#[derive(Clone)]
struct Shared {
    log: Arc<dyn EventLog>,
    db: sea_orm::DatabaseConnection,
    /// How far the read models have got: the local projector reports to it, and the command
    /// bus's read-your-writes waits on it, so both must share this one.
    progress: Progress,
    metrics: Metrics,
    readiness: Arc<Readiness>,
}

/// A callback a component calls once it has joined its consumer group.
type Ready = Box<dyn FnOnce() + Send>;

impl Shared {
    /// Runs `projection` as a member of its consumer group until the log or database fails.
    async fn project(
        self,
        projection: &dyn project::projector::RecordProjection,
        ready: Ready,
    ) -> Result<(), project::projector::ProjectorError> {
        project::projector::run(self.log.as_ref(), self.db, projection, &self.metrics, ready).await
    }

    /// Runs `run` supervised as `component`; the callback it gets marks the component ready.
    fn supervise<F, Fut, E>(&self, component: Component, run: F)
    where
        F: Fn(Shared, Ready) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let shared = self.clone();
        supervise(self.readiness.clone(), component, move || {
            let readiness = shared.readiness.clone();
            let ready: Ready = Box::new(move || readiness.started(component));
            let running = run(shared.clone(), ready);
            async move { running.await.map_err(|error| error.to_string()) }
        });
    }
}

/// The deciders and the projector.
fn start_deciders_and_projector(shared: &Shared, secrets: &Arc<SecretsKey>) {
    // The session timers of the partitions this process decides (fired by one task however
    // often the deciding loop restarts).
    let timers = Arc::new(decide::timers::Timers::default());
    tokio::spawn(timers.clone().run(shared.log.clone()));
    shared.supervise(Component::Deciders, move |shared, ready| {
        let timers = timers.clone();
        async move { decide::run(shared.log.as_ref(), shared.metrics, &timers, ready).await }
    });
    let secrets = secrets.clone();
    shared.supervise(Component::Projector, move |shared, ready| {
        let secrets = secrets.clone();
        async move {
            let read_models = project::projector::ReadModels {
                progress: shared.progress.clone(),
                metrics: shared.metrics.clone(),
                secrets,
            };
            shared.project(&read_models, ready).await
        }
    });
}

/// The webhook outbox projection and its dispatcher.
fn start_webhooks(
    shared: &Shared,
    config: &Config,
    secrets: &Arc<SecretsKey>,
) -> Result<(), StartError> {
    let webhooks = &config.webhooks;
    let outbox = sigma_control_plane::webhooks::start(
        shared.db.clone(),
        sigma_control_plane::webhooks::dispatch::DeliverySettings {
            timeout: webhooks.timeout,
            backoff: sigma_control_plane::webhooks::backoff::Backoff {
                base: webhooks.backoff_base,
                max: webhooks.backoff_max,
            },
            allow_private: webhooks.allow_private,
        },
        webhooks.retry_for,
        shared.metrics.clone(),
        secrets.clone(),
    )
    .map_err(StartError::WebhookClient)?;
    shared.supervise(Component::Webhooks, move |shared, ready| {
        let outbox = outbox.clone();
        async move { shared.project(outbox.as_ref(), ready).await }
    });
    Ok(())
}

/// The audience projection of the viewers topic.
fn start_analytics(shared: &Shared) {
    shared.supervise(Component::Analytics, |shared, ready| async move {
        shared
            .project(
                &sigma_control_plane::analytics::projection::Analytics,
                ready,
            )
            .await
    });
}

/// The monitor that declares nodes lost when their heartbeats stop.
fn start_node_monitor(shared: &Shared, bus: &Arc<CommandBus>, timeout: Duration) {
    let bus = bus.clone();
    shared.supervise(Component::NodeMonitor, move |shared, ready| {
        let bus = bus.clone();
        async move {
            sigma_control_plane::nodes::monitor::run(
                shared.log.clone(),
                bus,
                shared.metrics,
                timeout,
                ready,
            )
            .await
        }
    });
}

/// The catch-up retention projection and its sweeper.
fn start_retention(
    shared: &Shared,
    store: &Arc<dyn ObjectStore>,
    bus: &Arc<CommandBus>,
    retention: Duration,
) {
    let (ownership, owned) = project::ownership::Ownership::new();
    tokio::spawn(sigma_control_plane::retention::sweep(
        shared.db.clone(),
        store.clone(),
        bus.clone(),
        owned,
    ));
    let expiries = Arc::new(sigma_control_plane::retention::Expiries {
        ownership,
        retention,
    });
    shared.supervise(Component::Retention, move |shared, ready| {
        let expiries = expiries.clone();
        async move { shared.project(expiries.as_ref(), ready).await }
    });
}

/// The job that finalizes source recordings.
fn start_recorder(shared: &Shared, live: &Arc<LiveStore>, bus: &Arc<CommandBus>) {
    let (live, bus) = (live.clone(), bus.clone());
    shared.supervise(Component::Recorder, move |shared, ready| {
        let (live, bus) = (live.clone(), bus.clone());
        async move {
            sigma_control_plane::recording::run(shared.log.as_ref(), shared.db, live, bus, ready)
                .await
        }
    });
}

/// Runs a log-driven component and restarts it when it stops, with a growing pause (the
/// broker or the database may be down for a while); meanwhile readiness says why. A restarted
/// component rejoins its consumer group and rebuilds its state from the log, so a restart
/// loses nothing.
fn supervise<F, Fut>(readiness: Arc<Readiness>, component: Component, run: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut pause = RESTART_PAUSE_MIN;
        loop {
            let started = std::time::Instant::now();
            let outcome = run().await;
            readiness.failed(component, outcome.err().unwrap_or_else(|| "stopped".into()));
            if started.elapsed() > RESTART_PAUSE_MAX {
                pause = RESTART_PAUSE_MIN;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RESTART_PAUSE_MAX);
        }
    });
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::private_dir;

    #[test]
    fn a_data_dir_made_here_is_private_and_one_given_is_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let made = root.path().join("a/data");
        private_dir(&made).unwrap();
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&made), 0o700);
        let given = root.path().join("shared");
        std::fs::create_dir(&given).unwrap();
        std::fs::set_permissions(&given, std::fs::Permissions::from_mode(0o750)).unwrap();
        private_dir(&given).unwrap();
        assert_eq!(mode(&given), 0o750);
    }
}
