//! A real Kafka-protocol broker for tests: tansu, started on a free loopback port with its
//! SQLite storage engine (records and committed offsets survive a broker restart).
//!
//! The binary is found at `$SIGMA_TANSU_BIN`, else `$HOME/.cache/sigma/tansu/bin/tansu`, where
//! `make test` installs it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Tansu {
    child: Option<Child>,
    port: u16,
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

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

impl Tansu {
    /// Starts a broker and waits until it accepts connections.
    pub async fn start() -> Self {
        let mut broker = Self {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().expect("a temporary dir"),
        };
        broker.resume().await;
        broker
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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
        let url = format!("tcp://127.0.0.1:{}", self.port);
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
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {} within 30 s",
                self.port
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
