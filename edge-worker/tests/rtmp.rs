//! RTMP ingest with a real publisher: ffmpeg pushes lavfi sources to the server; the admitted
//! publication receives an init segment and parts that decode frame for frame. Unknown keys,
//! garbage bytes and silent clients lose their connection and disturb nothing else.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sigma_edge_worker::cmaf::{Output, PackagerConfig};
use sigma_edge_worker::ingest::{Admission, OutputError, Publication, Refusal};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

const KEY: &str = "sk_test_0123456789abcdef";

/// Admits one key; reports every publication's outputs when it ends.
struct Recorder {
    ended: mpsc::UnboundedSender<Vec<Output>>,
    attempts: Arc<Mutex<Vec<String>>>,
}

struct Recording {
    outputs: Vec<Output>,
    ended: mpsc::UnboundedSender<Vec<Output>>,
}

#[async_trait]
impl Admission for Recorder {
    async fn admit(&self, stream_key: &str) -> Result<Box<dyn Publication>, Refusal> {
        self.attempts.lock().unwrap().push(stream_key.to_owned());
        if stream_key != KEY {
            return Err(Refusal::UnknownKey);
        }
        Ok(Box::new(Recording {
            outputs: Vec::new(),
            ended: self.ended.clone(),
        }))
    }
}

#[async_trait]
impl Publication for Recording {
    fn stop_signal(&mut self) -> futures::future::BoxFuture<'static, String> {
        Box::pin(std::future::pending())
    }

    fn packaging(&self) -> PackagerConfig {
        PackagerConfig {
            part_target_ms: 200,
            segment_target_ms: 1000,
        }
    }

    async fn output(&mut self, output: Output) -> Result<(), OutputError> {
        self.outputs.push(output);
        Ok(())
    }

    async fn ended(self: Box<Self>) {
        let _ = self.ended.send(self.outputs);
    }
}

struct Server {
    port: u16,
    ended: mpsc::UnboundedReceiver<Vec<Output>>,
    attempts: Arc<Mutex<Vec<String>>>,
}

async fn start() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, ended) = mpsc::unbounded_channel();
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let admission = Arc::new(Recorder {
        ended: sender,
        attempts: attempts.clone(),
    });
    tokio::spawn(sigma_edge_worker::rtmp::serve(listener, admission));
    Server {
        port,
        ended,
        attempts,
    }
}

/// ffmpeg publishes 3 s of test pattern and tone; returns whether it succeeded.
async fn publish(port: u16, key: &str) -> bool {
    tokio::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=30:duration=3",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=3",
        ])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-bf", "2", "-c:a", "aac", "-f",
            "flv",
        ])
        .arg(format!("rtmp://127.0.0.1:{port}/live/{key}"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .expect("ffmpeg is installed")
        .success()
}

fn video_frames(file: &Path) -> usize {
    let output = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .trim_end_matches(',')
        .parse()
        .unwrap_or(0)
}

#[tokio::test]
async fn an_ffmpeg_publisher_is_packaged_frame_for_frame() {
    let mut server = start().await;
    assert!(publish(server.port, KEY).await, "ffmpeg could not publish");
    let outputs = tokio::time::timeout(Duration::from_secs(30), server.ended.recv())
        .await
        .unwrap()
        .unwrap();

    let mut file = Vec::new();
    let mut segments = 0;
    for output in &outputs {
        match output {
            Output::Init(init) => file.extend_from_slice(&init.bytes),
            Output::Part(part) => file.extend_from_slice(&part.bytes),
            Output::SegmentEnd { .. } => segments += 1,
        }
    }
    assert!(
        matches!(outputs.first(), Some(Output::Init(_))),
        "the init segment comes first"
    );
    assert_eq!(segments, 3, "one segment per 1 s GOP");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("published.mp4");
    std::fs::write(&path, file).unwrap();
    assert_eq!(
        video_frames(&path),
        90,
        "every published frame is in the packaged stream"
    );
}

#[tokio::test]
async fn unknown_keys_garbage_and_silence_lose_only_their_own_connection() {
    let mut server = start().await;

    assert!(
        !publish(server.port, "sk_wrong_key_0000000000").await,
        "an unknown key was accepted"
    );
    assert_eq!(
        server.attempts.lock().unwrap().as_slice(),
        ["sk_wrong_key_0000000000"]
    );

    // Garbage instead of a handshake; then a client that connects and says nothing.
    let mut garbage = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    garbage.write_all(&[0x42; 4096]).await.unwrap();
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();

    // A good publisher is served meanwhile, and nothing was published for the others.
    assert!(publish(server.port, KEY).await);
    let outputs = tokio::time::timeout(Duration::from_secs(30), server.ended.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(outputs
        .iter()
        .any(|output| matches!(output, Output::Part(_))));
    assert!(
        server.ended.try_recv().is_err(),
        "a refused publisher produced a publication"
    );
}
