//! RTMP ingest with a real publisher: ffmpeg pushes lavfi sources to the server; the admitted
//! publication receives an init segment and parts that decode frame for frame. Unknown keys,
//! garbage bytes and silent clients lose their connection and disturb nothing else.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use sigma_edge_worker::cmaf::{Output, PackagerConfig};
use sigma_edge_worker::ingest::{Admission, OutputError, Publication, PublishName, Refusal};
use sigma_edge_worker::rtmp::IDLE_TIMEOUT;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

const KEY: &str = "sk_test_0123456789abcdef";

/// Admits one key; reports every publication's outputs when it ends.
struct Recorder {
    ended: mpsc::UnboundedSender<Vec<Output>>,
    attempts: Arc<Mutex<Vec<String>>>,
    dropped: Arc<Mutex<Vec<String>>>,
}

struct Recording {
    outputs: Vec<Output>,
    ended: mpsc::UnboundedSender<Vec<Output>>,
}

#[async_trait]
impl Admission for Recorder {
    async fn admit(&self, name: &PublishName) -> Result<Box<dyn Publication>, Refusal> {
        self.attempts.lock().unwrap().push(name.stream_key.clone());
        if name.stream_key != KEY {
            return Err(Refusal::UnknownKey);
        }
        Ok(Box::new(Recording {
            outputs: Vec::new(),
            ended: self.ended.clone(),
        }))
    }

    fn dropped(&self, reason: &str) {
        self.dropped.lock().unwrap().push(reason.to_owned());
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
    dropped: Arc<Mutex<Vec<String>>>,
}

async fn start() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, ended) = mpsc::unbounded_channel();
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let admission = Arc::new(Recorder {
        ended: sender,
        attempts: attempts.clone(),
        dropped: dropped.clone(),
    });
    tokio::spawn(sigma_edge_worker::rtmp::serve(listener, admission));
    Server {
        port,
        ended,
        attempts,
        dropped,
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
        sigma_tests::probe::video_frames(&path),
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

/// Writes out what a client session wants sent.
async fn send(
    socket: &mut tokio::net::TcpStream,
    results: Vec<ClientSessionResult>,
) -> Vec<ClientSessionEvent> {
    let mut events = Vec::new();
    for result in results {
        match result {
            ClientSessionResult::OutboundResponse(packet) => {
                socket.write_all(&packet.bytes).await.unwrap()
            }
            ClientSessionResult::RaisedEvent(event) => events.push(event),
            ClientSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }
    events
}

#[tokio::test]
async fn a_publisher_that_never_sends_media_is_dropped_after_the_idle_timeout() {
    use tokio::io::AsyncReadExt;

    let mut server = start().await;
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut handshake = Handshake::new(PeerType::Client);
    socket
        .write_all(&handshake.generate_outbound_p0_and_p1().unwrap())
        .await
        .unwrap();
    let mut buffer = vec![0u8; 16 * 1024];
    let leftover = loop {
        let read = socket.read(&mut buffer).await.unwrap();
        match handshake.process_bytes(&buffer[..read]).unwrap() {
            HandshakeProcessResult::InProgress { response_bytes } => {
                socket.write_all(&response_bytes).await.unwrap()
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                socket.write_all(&response_bytes).await.unwrap();
                break remaining_bytes;
            }
        }
    };
    let (mut session, results) = ClientSession::new(ClientSessionConfig::new()).unwrap();
    send(&mut socket, results).await;
    let connect = session.request_connection("live".into()).unwrap();
    send(&mut socket, vec![connect]).await;
    let mut events = send(&mut socket, session.handle_input(&leftover).unwrap()).await;
    // Connect, publish, then say nothing at all.
    'published: loop {
        for event in events.drain(..) {
            match event {
                ClientSessionEvent::ConnectionRequestAccepted => {
                    let publish = session
                        .request_publishing(KEY.into(), PublishRequestType::Live)
                        .unwrap();
                    send(&mut socket, vec![publish]).await;
                }
                ClientSessionEvent::PublishRequestAccepted => break 'published,
                _ => {}
            }
        }
        let read = socket.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed before accepting the publish");
        events = send(&mut socket, session.handle_input(&buffer[..read]).unwrap()).await;
    }

    let silent_since = std::time::Instant::now();
    let closed = tokio::time::timeout(IDLE_TIMEOUT + Duration::from_secs(5), async {
        while matches!(socket.read(&mut buffer).await, Ok(read) if read > 0) {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "a silent publisher was kept past the idle timeout"
    );
    assert!(
        silent_since.elapsed() >= IDLE_TIMEOUT - Duration::from_secs(1),
        "dropped too early: {:?}",
        silent_since.elapsed()
    );
    let outputs = tokio::time::timeout(Duration::from_secs(5), server.ended.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(outputs.is_empty(), "nothing was published");
    assert_eq!(server.dropped.lock().unwrap().as_slice(), ["idle"]);
}
