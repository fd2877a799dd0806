//! RTMP ingest with a real publisher: ffmpeg pushes lavfi sources to the server; the admitted
//! publication receives an init segment and parts that decode frame for frame. Unknown keys,
//! garbage bytes and silent clients lose their connection and disturb nothing else.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sigma_media::cmaf::{Output, PackagerConfig};
use sigma_edge_worker::ingest::{Admission, OutputError, Publication, PublishName, Refusal};
use sigma_edge_worker::rtmp::RtmpLimits;
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
    start_with(RtmpLimits::default()).await
}

async fn start_with(limits: RtmpLimits) -> Server {
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
    tokio::spawn(sigma_edge_worker::rtmp::serve(listener, admission, limits));
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

#[tokio::test]
async fn a_publisher_that_never_sends_media_is_dropped_after_the_idle_timeout() {
    let mut server = start().await;
    // Connect, publish, then say nothing at all.
    let mut socket =
        sigma_tests::rtmp::connect(&format!("127.0.0.1:{}", server.port), Some(KEY)).await;
    let idle_timeout = RtmpLimits::default().media_idle_timeout;
    let closed =
        sigma_tests::rtmp::closed_within(&mut socket, idle_timeout + Duration::from_secs(5))
            .await
            .expect("a silent publisher was kept past the idle timeout");
    assert!(
        closed >= idle_timeout - Duration::from_secs(1),
        "dropped too early: {closed:?}"
    );
    let outputs = tokio::time::timeout(Duration::from_secs(5), server.ended.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(outputs.is_empty(), "nothing was published");
    assert_eq!(server.dropped.lock().unwrap().as_slice(), ["idle"]);
}

#[tokio::test]
async fn connections_past_the_per_address_cap_are_closed_at_once() {
    let server = start_with(RtmpLimits {
        max_connections_per_address: 2,
        ..RtmpLimits::default()
    })
    .await;
    let address = format!("127.0.0.1:{}", server.port);
    let _first = tokio::net::TcpStream::connect(&address).await.unwrap();
    let _second = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut third = tokio::net::TcpStream::connect(&address).await.unwrap();
    let closed = sigma_tests::rtmp::closed_within(&mut third, Duration::from_secs(2)).await;
    assert!(closed.is_some(), "a third connection was kept");
    assert_eq!(
        server.dropped.lock().unwrap().as_slice(),
        ["too_many_connections_from_address"]
    );
    // A place freed is a place taken.
    drop(_first);
    let publisher = tokio::time::timeout(Duration::from_secs(30), publish(server.port, KEY));
    assert!(
        publisher.await.unwrap(),
        "a publisher within the cap was refused"
    );
}

#[tokio::test]
async fn a_trickle_of_bytes_does_not_keep_a_publisher_without_media() {
    let limits = RtmpLimits {
        media_idle_timeout: Duration::from_secs(1),
        ..RtmpLimits::default()
    };
    let mut server = start_with(limits).await;
    let mut socket =
        sigma_tests::rtmp::connect(&format!("127.0.0.1:{}", server.port), Some(KEY)).await;
    let published = std::time::Instant::now();
    // The start of a message whose rest comes a byte at a time, too slowly to matter.
    let header = sigma_tests::rtmp::message_with_length(6, 9, 1, 1000, &[], 4096);
    socket.write_all(&header).await.unwrap();
    let trickle = async {
        while socket.write_all(&[0x17]).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), trickle)
        .await
        .expect("the trickling publisher was kept past the idle timeout");
    let lasted = published.elapsed();
    assert!(
        lasted >= Duration::from_millis(900),
        "dropped too early: {lasted:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), server.ended.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(server.dropped.lock().unwrap().as_slice(), ["idle"]);
}

#[tokio::test]
async fn a_publisher_over_the_bitrate_ceiling_is_disconnected() {
    let mut server = start_with(RtmpLimits {
        max_bitrate: 200_000,
        bitrate_window: Duration::from_millis(500),
        ..RtmpLimits::default()
    })
    .await;
    // Three seconds of video pushed as fast as ffmpeg can: far over 200 kbit/s.
    assert!(
        !publish(server.port, KEY).await,
        "the flood was taken whole"
    );
    tokio::time::timeout(Duration::from_secs(5), server.ended.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        server.dropped.lock().unwrap().as_slice(),
        ["bitrate_exceeded"]
    );
}

/// Publishes with `KEY`, sends one FLV tag body of `type_id` (8 audio, 9 video); returns the
/// reason the server gave for dropping the connection.
async fn refused_for(server: &mut Server, type_id: u8, tag: &[u8]) -> String {
    use sigma_tests::rtmp::{closed_within, message, PUBLISHER_CHUNK_SIZE};

    let address = format!("127.0.0.1:{}", server.port);
    let mut socket = sigma_tests::rtmp::connect(&address, Some(KEY)).await;
    let csid = if type_id == 9 { 6 } else { 4 };
    let wire = message(csid, type_id, 1, tag, PUBLISHER_CHUNK_SIZE);
    socket.write_all(&wire).await.unwrap();
    let closed = closed_within(&mut socket, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "a publisher with a broken configuration was kept"
    );
    tokio::time::timeout(Duration::from_secs(5), server.ended.recv())
        .await
        .unwrap()
        .unwrap();
    server.dropped.lock().unwrap().pop().expect("a reason")
}

#[tokio::test]
async fn publishers_with_crafted_codec_configurations_are_refused_with_the_reason() {
    let mut server = start().await;
    // A baseline SPS whose width is 2^32 - 1 macroblocks (overflows 32-bit arithmetic).
    let sps = [
        0x67, 0x42, 0x00, 0x1f, 0xf4, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xfe, 0x0b, 0x70,
        0x04,
    ];
    let mut tag = vec![
        0x17,
        0,
        0,
        0,
        0,
        1,
        0x42,
        0,
        0x1f,
        0xff,
        0xe1,
        0,
        sps.len() as u8,
    ];
    tag.extend_from_slice(&sps);
    tag.extend_from_slice(&[1, 0, 4, 0x68, 0xce, 0x3c, 0x80]);
    assert_eq!(refused_for(&mut server, 9, &tag).await, "bad_codec_config");
    // An avcC cut short, then an AudioSpecificConfig of one byte.
    assert_eq!(
        refused_for(&mut server, 9, &tag[..12]).await,
        "bad_codec_config"
    );
    assert_eq!(
        refused_for(&mut server, 8, &[0xaf, 0, 0x12]).await,
        "bad_codec_config"
    );
}
