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

/// Where test ports are handed out from: below Linux's ephemeral range (32768 and up), so no
/// outgoing connection takes one as its source port between the pick and the server's bind
/// (a port the kernel picked for `bind(0)` can be, when a test opens a thousand connections).
const TEST_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A port nobody listens on right now, and that no other test process was handed lately: the
/// ports are given out in turn, by a counter that every test process shares (a file under the
/// temporary dir, locked while it is read and moved on).
///
/// Only for a server that must be told its port before it starts: tansu advertises its own
/// address to clients, and nginx reads its from a config file. A process that can say which
/// port it bound (`sigma`, s3s-fs, the tests' own listeners) is started on port 0 instead.
pub fn free_port() -> u16 {
    use std::io::{Read, Seek, Write};

    let path = std::env::temp_dir().join("sigma-test-ports");
    let mut counter = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .expect("the test port counter");
    counter.lock().expect("locking the test port counter");
    let mut text = String::new();
    counter
        .read_to_string(&mut text)
        .expect("reading the test port counter");
    let mut next = text.trim().parse().unwrap_or(TEST_PORTS.start);
    for _ in TEST_PORTS {
        if !TEST_PORTS.contains(&next) {
            next = TEST_PORTS.start;
        }
        let port = next;
        next += 1;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            counter.set_len(0).expect("the test port counter");
            counter.rewind().expect("the test port counter");
            write!(counter, "{next}").expect("writing the test port counter");
            return port;
        }
    }
    panic!("no free port in {TEST_PORTS:?}");
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
