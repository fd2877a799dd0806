//! A real S3-compatible server for tests: `s3s-fs` (the s3s project's file-system S3 server),
//! a separate process on a loopback port of the system's choosing, with one bucket. Processes
//! under test reach it through object_store's S3 client and the usual `AWS_*` variables, exactly
//! as they would reach AWS or MinIO.
//!
//! The binary is found at `$SIGMA_S3_BIN`, else `$HOME/.cache/sigma/s3s/bin/s3s-fs`, where
//! `make test` installs it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BUCKET: &str = "media";
const ACCESS_KEY: &str = "sigma-test-access";
const SECRET_KEY: &str = "sigma-test-secret-0123456789";

pub struct S3Server {
    _child: Child,
    port: u16,
    root: tempfile::TempDir,
}

fn binary() -> PathBuf {
    std::env::var_os("SIGMA_S3_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map_or_else(|| "/root".into(), PathBuf::from);
            home.join(".cache/sigma/s3s/bin/s3s-fs")
        })
}

impl S3Server {
    /// Starts the server with an empty bucket, on port 0, and waits until it says where it
    /// listens (its log, on stdout, names the port the system gave).
    pub async fn start() -> Self {
        let root = tempfile::tempdir().expect("a temporary dir");
        // s3s-fs keeps a bucket as a directory of its root.
        std::fs::create_dir(root.path().join(BUCKET)).expect("the bucket");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.path().join("s3s.log"))
            .expect("a log file");
        let mut child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .env("RUST_LOG", "warn,s3s_fs=info")
            .stdout(std::process::Stdio::piped())
            .stderr(log.try_clone().expect("the log file"))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {} (make test installs it): {error}",
                    binary().display()
                )
            });
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let address = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await.ok()? {
                if let Some((_, rest)) = line.split_once("server is running at http://") {
                    return rest.split_whitespace().next().map(str::to_owned);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("the S3 server says where it listens");
        let port = address
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("an address with a port");
        // The rest of its log goes to a file beside the bucket, copied by a thread of its own:
        // a test that blocks its runtime must not leave the server blocked on a full pipe.
        let stdout = lines
            .into_inner()
            .into_inner()
            .into_owned_fd()
            .expect("the server's stdout");
        std::thread::spawn(move || {
            let (mut stdout, mut log) = (std::fs::File::from(stdout), log);
            let _ = std::io::copy(&mut stdout, &mut log);
        });
        Self {
            _child: child,
            port,
            root,
        }
    }

    /// The variables that point a process's object store at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SIGMA_OBJECT_STORE_URL", format!("s3://{BUCKET}")),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Where the server keeps the bucket's objects (a key is a path below it).
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join(BUCKET)
    }

    /// Keys below `prefix`, for a test to compare with what playback lists.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else if let Ok(key) = path.strip_prefix(base) {
                    out.push(key.to_string_lossy().into_owned());
                }
            }
        }
        let mut keys = Vec::new();
        walk(&self.bucket_dir(), &self.bucket_dir(), &mut keys);
        keys.retain(|key| key.starts_with(prefix));
        keys.sort();
        keys
    }
}
