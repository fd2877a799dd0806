//! A real Kafka-protocol broker for tests: tansu, started on a loopback port held for it with its
//! SQLite storage engine (records and committed offsets survive a broker restart).
//!
//! The binary is found at `$SIGMA_TANSU_BIN`, else `$HOME/.cache/sigma/tansu/bin/tansu`, where
//! `make test` installs it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Tansu {
    child: Option<Child>,
    port: ReservedPort,
    dir: tempfile::TempDir,
}

pub fn tansu_binary() -> PathBuf {
    std::env::var_os("SIGMA_TANSU_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/root".into());
            home.join(".cache/sigma/tansu/bin/tansu")
        })
}

/// A loopback port held for a server that must be told its port before it starts (tansu
/// advertises its own address to clients, nginx reads its from a config file): a socket bound
/// to it, never listening, kept for as long as the server may run — across its restarts too.
///
/// While it is held nobody else is given the port: the system picks it for `bind(0)` with
/// `SO_REUSEADDR` off, so no other process's port-0 bind and no outgoing connection's source
/// port can land on it. The flag is set once it is bound, so the server — which binds its
/// listener with the flag on, as tokio and nginx both do — can bind and listen beside it
/// (Linux refuses a second bind only beside a socket that listens; this is Linux's rule — BSD
/// and macOS would refuse it — and a process binding this very port with the flag on could
/// still take it, which no test does). A process that can say
/// which port it bound (`sigma`, s3s-fs, the tests' own listeners) is started on port 0 instead.
pub struct ReservedPort {
    socket: tokio::net::TcpSocket,
}

impl ReservedPort {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind(([127, 0, 0, 1], 0).into())
            .expect("a loopback port");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        Self { socket }
    }

    pub fn port(&self) -> u16 {
        self.socket.local_addr().expect("a bound socket").port()
    }
}

impl Default for ReservedPort {
    fn default() -> Self {
        Self::new()
    }
}

impl Tansu {
    /// Starts a broker and waits until it accepts connections.
    pub async fn start() -> Self {
        let mut broker = Self {
            child: None,
            port: ReservedPort::new(),
            dir: tempfile::tempdir().expect("a temporary dir"),
        };
        broker.resume().await;
        broker
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port.port())
    }

    /// Where the broker keeps its topics (its SQLite storage) and its log.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Kills the broker and starts it again on the same port and storage.
    pub async fn restart(&mut self) {
        self.stop();
        self.resume().await;
    }

    /// Kills the broker (SIGKILL); [`Tansu::resume`] brings it back on the same storage.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker on its port and storage and waits until it accepts connections.
    pub async fn resume(&mut self) {
        let binary = tansu_binary();
        let port = self.port.port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log =
            std::fs::File::create(self.dir.path().join("tansu.log")).expect("broker log file");
        let child = Command::new(&binary)
            .arg("broker")
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            // tansu resolves the SQLite path against its working directory.
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {} ({error}); run `make test`, which installs it",
                    binary.display()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {port} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}
