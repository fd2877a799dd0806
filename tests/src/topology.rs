//! The scaled-out deployment, on 127.0.0.1, of real processes: a Kafka-protocol broker (tansu),
//! PostgreSQL, an S3-compatible server, two control planes (`sigma control`: no ingest, no
//! playback), two edge workers and two playback
//! nodes (given no database and no key they do not use: they work from the log and the store
//! alone), and a round-robin front (playback to the playback nodes, the API to the control
//! planes; the control planes give out its URL, and a worker's RTMP URL, as the public ones).
//! The binaries are the ones a laptop runs standalone; only their environment differs.

use std::time::Duration;

use sigma_event_log::testing::Tansu;

use crate::database::TestDatabase;
use crate::front::Front;
use crate::process::{Sigma, SigmaConfig};
use crate::s3::S3Server;

pub struct Topology {
    pub broker: Tansu,
    pub database: TestDatabase,
    pub s3: S3Server,
    pub control_planes: Vec<Sigma>,
    /// Each worker with the recipe that started it (its RTMP address).
    pub workers: Vec<(SigmaConfig, Option<Sigma>)>,
    pub playback_nodes: Vec<Option<Sigma>>,
    pub front: Front,
    dirs: Vec<tempfile::TempDir>,
}

/// How quickly silence is noticed in these tests.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(4);

impl Topology {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A topology whose every process also has `settings` (environment variables).
    pub async fn start_with(settings: &[(String, String)]) -> Self {
        let broker = Tansu::start().await;
        let database = TestDatabase::create().await;
        let s3 = S3Server::start().await;
        let mut dirs = Vec::new();
        let config = |dirs: &mut Vec<tempfile::TempDir>| {
            let dir = tempfile::tempdir().expect("a data dir");
            let mut config = SigmaConfig::scale_out(dir.path(), &broker.brokers(), &database.url)
                .with("SIGMA_HEARTBEAT_INTERVAL_MS", "500")
                .with(
                    "SIGMA_NODE_TIMEOUT_MS",
                    NODE_TIMEOUT.as_millis().to_string(),
                )
                .with("SIGMA_VIEWER_REPORT_MS", "1000");
            for (name, value) in s3.env() {
                config = config.with(name, value);
            }
            for (name, value) in settings {
                config = config.with(name, value.clone());
            }
            dirs.push(dir);
            config
        };
        // Each process says where it listens once it runs; the control planes start last, as
        // they hand out the front's URL and the first worker's as the public ones.
        let mut workers = Vec::new();
        for _ in 0..2 {
            let mut recipe = config(&mut dirs)
                .without("SIGMA_DATABASE_URL")
                .without("SIGMA_ADMIN_KEY")
                .without("SIGMA_SECRETS_KEY")
                .without("SIGMA_SIGNING_KEYS");
            let worker = recipe.start_worker().await;
            workers.push((recipe, Some(worker)));
        }
        let mut playback_nodes = Vec::new();
        for _ in 0..2 {
            let mut recipe = config(&mut dirs)
                .without("SIGMA_DATABASE_URL")
                .without("SIGMA_ADMIN_KEY")
                .without("SIGMA_SECRETS_KEY");
            playback_nodes.push(Some(recipe.start_playback().await));
        }
        let front = Front::bind().await;
        let public_rtmp = format!("rtmp://{}", workers[0].0.env["SIGMA_RTMP_ADDR"]);
        let mut control_planes = Vec::new();
        for _ in 0..2 {
            let mut recipe = config(&mut dirs)
                .with("SIGMA_PUBLIC_HTTP_URL", front.url.clone())
                .with("SIGMA_PUBLIC_RTMP_URL", public_rtmp.clone());
            control_planes.push(recipe.start_control().await);
        }
        let front = front.serve(
            playback_nodes
                .iter()
                .flatten()
                .map(|node| node.url.clone())
                .collect(),
            control_planes
                .iter()
                .map(|plane| plane.url.clone())
                .collect(),
        );
        Self {
            broker,
            database,
            s3,
            control_planes,
            workers,
            playback_nodes,
            front,
            dirs,
        }
    }

    /// The API of control plane `n`.
    pub fn api(&self, n: usize) -> crate::api::Api {
        crate::api::Api::new(&self.control_planes[n].url)
    }

    /// The data dir of every Sigma process.
    pub fn data_dirs(&self) -> impl Iterator<Item = &std::path::Path> {
        self.dirs.iter().map(tempfile::TempDir::path)
    }

    pub fn admin_key(&self) -> &str {
        &self.control_planes[0].admin_key
    }

    /// `rtmp://…/live/{stream_key}` on worker `n`.
    pub fn worker_rtmp(&self, n: usize, stream_key: &str) -> String {
        self.workers[n].0.rtmp_url(stream_key)
    }

    /// Kills worker `n` with SIGKILL.
    pub async fn kill_worker(&mut self, n: usize) {
        if let Some(worker) = self.workers[n].1.take() {
            worker.kill().await;
        }
    }

    /// Kills control plane `n` with SIGKILL (those after it move down one place); the front
    /// then sends the API to the others.
    pub async fn kill_control_plane(&mut self, n: usize) {
        self.control_planes.remove(n).kill().await;
    }

    /// Kills playback node `n` with SIGKILL; the front then skips it.
    pub async fn kill_playback_node(&mut self, n: usize) {
        if let Some(node) = self.playback_nodes[n].take() {
            node.kill().await;
        }
    }
}
