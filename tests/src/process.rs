//! Starting and stopping `sigma` processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a process may take from spawn to "running" (a cold SQLite/PostgreSQL schema, a
/// broker that is still electing itself).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `sigma` binary: `$SIGMA_BIN`, else the one cargo built next to the running executable
/// (`target/<profile>/` for benchmark binaries, its parent for tests in `target/<profile>/deps/`).
pub fn sigma_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SIGMA_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the running executable's path");
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("sigma"))
        .find(|candidate| candidate.exists())
        .unwrap_or_else(|| {
            panic!(
                "no `sigma` binary next to {}: build the workspace (`make test` does)",
                exe.display()
            )
        })
}

/// The credentials every process of a scale-out test shares.
pub const SHARED_ADMIN_KEY: &str = "sigma_admin_scale_out_tests_0123456789abcdef";
pub const SHARED_SIGNING_KEYS: &str = "k-scale:scale-out-signing-secret-0123456789abcdef";
pub const SHARED_SECRETS_KEY: &str =
    "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2";

/// A recipe for a `sigma` process: its environment. Start it as often as a test likes (a restart
/// is a second start on the same data dir).
#[derive(Clone, Debug)]
pub struct SigmaConfig {
    pub env: BTreeMap<String, String>,
    pub data_dir: PathBuf,
}

/// The variables of the addresses a process listens on.
const LISTEN_VARS: [(&str, &str); 3] = [
    ("http", "SIGMA_HTTP_ADDR"),
    ("rtmp", "SIGMA_RTMP_ADDR"),
    ("metrics", "SIGMA_METRICS_ADDR"),
];

impl SigmaConfig {
    /// A standalone process (embedded log, SQLite) on `data_dir`, listening on ports the system
    /// gives it when it starts (port 0): no port is guessed, so parallel tests never race for
    /// one. The first start pins them (see [`Self::start`]).
    pub fn standalone(data_dir: &Path) -> Self {
        let mut env = BTreeMap::new();
        env.insert("SIGMA_DATA_DIR".into(), data_dir.display().to_string());
        for (_, name) in LISTEN_VARS {
            env.insert(name.into(), "127.0.0.1:0".into());
        }
        env.insert("RUST_LOG".into(), "info,sqlx=warn,sea_orm=warn".into());
        Self {
            env,
            data_dir: data_dir.to_owned(),
        }
    }

    /// A scale-out process: Kafka and PostgreSQL, with the admin, signing and secrets keys every
    /// process of the deployment shares.
    pub fn scale_out(data_dir: &Path, brokers: &str, database_url: &str) -> Self {
        Self::standalone(data_dir)
            .with("SIGMA_KAFKA_BROKERS", brokers)
            .with("SIGMA_DATABASE_URL", database_url)
            .with("SIGMA_ADMIN_KEY", SHARED_ADMIN_KEY)
            .with("SIGMA_SIGNING_KEYS", SHARED_SIGNING_KEYS)
            .with("SIGMA_SECRETS_KEY", SHARED_SECRETS_KEY)
            // tansu holds every fetch for the full wait, even when records are there.
            .with("SIGMA_KAFKA_FETCH_WAIT_MS", "2")
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// The recipe without variable `name` (a playback node is given no database).
    pub fn without(mut self, name: &str) -> Self {
        self.env.remove(name);
        self
    }

    /// Address `name` (`SIGMA_…_ADDR`), once the process has been started and has said where
    /// it listens.
    fn address(&self, name: &str) -> &str {
        let address = &self.env[name];
        assert!(
            !address.ends_with(":0"),
            "{name} is known once the process has started"
        );
        address
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.address("SIGMA_HTTP_ADDR"))
    }

    /// `rtmp://…/live/{stream_key}` on this process's RTMP address.
    pub fn rtmp_url(&self, stream_key: &str) -> String {
        format!(
            "rtmp://{}/live/{stream_key}",
            self.address("SIGMA_RTMP_ADDR")
        )
    }

    /// Spawns `sigma` with `args` and waits until it prints that it is running.
    pub async fn start(&mut self) -> Sigma {
        self.start_with_args(&[]).await
    }

    /// Spawns `sigma worker` (an edge worker: no API, so no admin key) and waits until it runs.
    pub async fn start_worker(&mut self) -> Sigma {
        self.start_with_args(&["worker"]).await
    }

    /// Spawns `sigma control` (a control plane: no ingest, no playback) and waits until it runs.
    pub async fn start_control(&mut self) -> Sigma {
        self.start_with_args(&["control"]).await
    }

    /// Spawns `sigma playback` (a playback node: no API) and waits until it runs.
    pub async fn start_playback(&mut self) -> Sigma {
        self.start_with_args(&["playback"]).await
    }

    /// Spawns `sigma` and waits until it says it is running and where it listens. The ports the
    /// system gave are pinned in the recipe: a restart listens where the process did before, as
    /// an operator's restarted server would, so publishers and players that reconnect find it.
    pub async fn start_with_args(&mut self, args: &[&str]) -> Sigma {
        std::fs::create_dir_all(&self.data_dir).expect("the data dir");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join("sigma.stderr.log"))
            .expect("a log file");
        let mut child = Command::new(sigma_binary())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("spawning sigma");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let (mut api, mut banner, mut listening) = (false, String::new(), None);
        let running = tokio::time::timeout(START_TIMEOUT, async {
            let mut running = false;
            while let Some(line) = lines.next_line().await.expect("reading sigma's stdout") {
                banner.push_str(&line);
                banner.push('\n');
                if let Some(addresses) = line.trim().strip_prefix("Listening on:") {
                    listening = Some(listening_addresses(addresses));
                }
                if line.trim().starts_with("Admin key:") {
                    api = true;
                    running = true;
                }
                if line.contains("edge worker is running")
                    || line.contains("playback node is running")
                {
                    running = true;
                }
                if running && listening.is_some() {
                    return true;
                }
            }
            false
        })
        .await;
        let (Ok(true), Some(listening)) = (running, listening) else {
            panic!("sigma did not start: {}", self.stderr_tail());
        };
        for (kind, name) in LISTEN_VARS {
            if let Some(address) = listening.get(kind) {
                self.env.insert(name.into(), address.clone());
            }
        }
        // The process says where the admin key is, never what it is.
        let admin_key = if api { self.admin_key() } else { String::new() };
        // Keep draining stdout so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Sigma {
            child,
            url: self.http_url(),
            metrics_url: format!("http://{}", listening["metrics"]),
            rtmp_addr: listening.get("rtmp").cloned(),
            admin_key,
            banner,
            log: self.data_dir.join("sigma.stderr.log"),
        }
    }

    /// The admin key: the configured one, else the one the process keeps in its data dir.
    pub fn admin_key(&self) -> String {
        self.env.get("SIGMA_ADMIN_KEY").cloned().unwrap_or_else(|| {
            std::fs::read_to_string(self.data_dir.join("admin-key"))
                .expect("the admin key file")
                .trim()
                .to_owned()
        })
    }

    /// The end of the process's log, for failure messages.
    pub fn stderr_tail(&self) -> String {
        let text =
            std::fs::read_to_string(self.data_dir.join("sigma.stderr.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Runs `sigma replay` to completion and returns what it printed.
    pub async fn replay(&self) -> String {
        let output = Command::new(sigma_binary())
            .arg("replay")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .output()
            .await
            .expect("running sigma replay");
        assert!(
            output.status.success(),
            "sigma replay failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }
}

/// `http ADDR, rtmp ADDR, metrics ADDR` (what follows `Listening on:` in the banner), by kind.
fn listening_addresses(line: &str) -> BTreeMap<String, String> {
    line.split(',')
        .filter_map(|pair| {
            let (kind, address) = pair.trim().split_once(' ')?;
            Some((kind.to_owned(), address.trim().to_owned()))
        })
        .collect()
}

/// A running `sigma` process; killed when dropped.
pub struct Sigma {
    child: Child,
    pub url: String,
    /// The base of its `/metrics`.
    pub metrics_url: String,
    /// Where it takes RTMP (`None` on a playback node).
    rtmp_addr: Option<String>,
    /// The admin key (empty for a worker or a playback node, which serve no API).
    pub admin_key: String,
    /// What the process printed when it started, up to where it says where the admin key is.
    pub banner: String,
    log: PathBuf,
}

/// Lines of a process's log shown when a test fails while it runs.
const LOG_LINES_ON_FAILURE: usize = 60;

impl Drop for Sigma {
    /// A test that fails shows what its processes said last: the data dir that holds their
    /// logs is a temporary one, gone once the test has unwound.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(LOG_LINES_ON_FAILURE).collect();
            eprintln!(
                "--- the last {} lines of {} ---",
                tail.len(),
                self.log.display()
            );
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl Sigma {
    /// `rtmp://…/live/{stream_key}` on this process.
    pub fn rtmp_url(&self, stream_key: &str) -> String {
        let address = self
            .rtmp_addr
            .as_deref()
            .expect("a process that takes RTMP");
        format!("rtmp://{address}/live/{stream_key}")
    }

    /// SIGKILL: no shutdown work at all, as a crash.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("killing sigma");
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("a running process")
    }
}

/// The resident memory of process `pid`, in KiB (`VmRSS` in `/proc`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("a live process");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// The child processes of `pid`, with their command names (from `/proc`).
pub fn children(pid: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let child: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            // `pid (comm) state ppid …`; the name may hold spaces, so split at its last `)`.
            let (head, tail) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let parent: u32 = tail.split_whitespace().nth(1)?.parse().ok()?;
            (parent == pid).then_some((child, name))
        })
        .collect()
}

/// The largest resident memory of process `pid` seen while `work` runs, sampled every 100 ms,
/// in KiB.
pub async fn peak_rss_kib<T>(pid: u32, work: impl std::future::Future<Output = T>) -> (T, u64) {
    let mut peak = rss_kib(pid);
    let mut samples = tokio::time::interval(std::time::Duration::from_millis(100));
    tokio::pin!(work);
    loop {
        tokio::select! {
            outcome = &mut work => return (outcome, peak.max(rss_kib(pid))),
            _ = samples.tick() => peak = peak.max(rss_kib(pid)),
        }
    }
}
