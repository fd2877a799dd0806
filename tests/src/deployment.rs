//! Where an end-to-end test runs: one standalone `sigma` process (the default), or — with
//! `SIGMA_TEST_DEPLOYMENT=topology` — the scaled-out topology ([`crate::topology`]) behind one
//! front that sends the API to the control planes and everything else to the playback nodes,
//! with channels' ingest URLs on a worker. A suite written against a [`Deployment`] cannot tell
//! which it got; that is what shows the binaries behave the same on one machine and on many.

use crate::process::SigmaConfig;
use crate::topology::Topology;

/// The variable that picks the deployment.
pub const DEPLOYMENT_VAR: &str = "SIGMA_TEST_DEPLOYMENT";

/// Settings of a standalone recipe that only make sense for one process on one machine.
const PER_PROCESS: [&str; 5] = [
    "SIGMA_DATA_DIR",
    "SIGMA_HTTP_ADDR",
    "SIGMA_RTMP_ADDR",
    "SIGMA_METRICS_ADDR",
    "RUST_LOG",
];

pub struct Deployment {
    /// The API and playback base URL.
    pub url: String,
    pub admin_key: String,
    /// The processes, stopped when dropped.
    _running: Box<dyn std::any::Any + Send>,
}

impl Deployment {
    /// Starts what `SIGMA_TEST_DEPLOYMENT` asks for, with `config`'s settings (on every process
    /// of the topology).
    pub async fn start(mut config: SigmaConfig) -> Self {
        if std::env::var(DEPLOYMENT_VAR).as_deref() == Ok("topology") {
            let settings: Vec<(String, String)> = config
                .env
                .into_iter()
                .filter(|(name, _)| !PER_PROCESS.contains(&name.as_str()))
                .collect();
            let topology = Topology::start_with(&settings).await;
            return Self {
                url: topology.front.url.clone(),
                admin_key: topology.admin_key().to_owned(),
                _running: Box::new(topology),
            };
        }
        let sigma = config.start().await;
        Self {
            url: sigma.url.clone(),
            admin_key: sigma.admin_key.clone(),
            _running: Box::new(sigma),
        }
    }
}
