//! Hostile RTMP clients against a real `sigma run`, one after another: each loses its own
//! connection, for a reason the metrics count, while the process stays up, `/healthz` answers,
//! a channel that was live all along keeps adding segments in real time, and afterwards a new
//! publisher goes live and plays.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::process::{Sigma, SigmaConfig};
use sigma_tests::rtmp::{self, closed_within, message, message_with_length, set_chunk_size};
use sigma_tests::wait::until;
use sigma_tests::witness::Witness;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(3);
const IDLE_TIMEOUT: Duration = Duration::from_secs(3);
/// A closed connection is noticed within its deadline and this.
const SLACK: Duration = Duration::from_secs(3);
/// AMF0 command message type.
const COMMAND: u8 = 20;

struct Target {
    sigma: Sigma,
    rtmp: String,
    api: Api,
    token: String,
    /// A channel live throughout.
    witness: Witness,
}

impl Target {
    async fn channel(&self, name: &str) -> Value {
        self.api
            .create_channel(&self.token, json!({ "name": name }))
            .await
    }

    /// Connections dropped for `reason` so far.
    async fn dropped(&self, reason: &str) -> f64 {
        sigma_tests::metrics::ingest_dropped(&self.sigma.metrics_url, reason).await
    }

    /// After an attack: it was counted under `reason`, the process answers, and the witness
    /// channel keeps adding segments.
    async fn survived(&self, attack: &str, reason: &str, counted_before: f64) {
        until(
            Duration::from_secs(10),
            &format!("{attack}: counted as {reason}"),
            || async { self.dropped(reason).await > counted_before },
        )
        .await;
        let health = reqwest::get(format!("{}/healthz", self.sigma.url)).await;
        assert!(
            health.is_ok_and(|answer| answer.status().is_success()),
            "{attack}: /healthz does not answer"
        );
        self.witness.goes_on(attack, Duration::from_secs(5)).await;
    }
}

/// A `connect` command whose object nests `depth` objects deep (and never closes).
fn nested_connect(depth: usize) -> Vec<u8> {
    let mut command = vec![0x02, 0, 7];
    command.extend_from_slice(b"connect");
    command.push(0x00);
    command.extend_from_slice(&1f64.to_be_bytes());
    for _ in 0..depth {
        command.extend_from_slice(&[0x03, 0, 1, b'a']);
    }
    command
}

/// Writes what it can of `bytes`; the server may close mid-way, which is what it should do.
async fn send(socket: &mut TcpStream, bytes: &[u8]) {
    let _ = socket.write_all(bytes).await;
}

async fn start() -> (Target, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SigmaConfig::standalone(dir.path())
        .with(
            "SIGMA_RTMP_HANDSHAKE_TIMEOUT_MS",
            HANDSHAKE_TIMEOUT.as_millis().to_string(),
        )
        .with(
            "SIGMA_RTMP_PUBLISH_TIMEOUT_MS",
            PUBLISH_TIMEOUT.as_millis().to_string(),
        )
        .with(
            "SIGMA_RTMP_IDLE_TIMEOUT_MS",
            IDLE_TIMEOUT.as_millis().to_string(),
        )
        .with("SIGMA_RTMP_MAX_CONNECTIONS", "1100")
        .with("SIGMA_RTMP_MAX_CONNECTIONS_PER_ADDRESS", "1100");
    let sigma = config.start().await;
    let api = Api::new(&sigma.url);
    let (_, token) = api.account_with_token(&sigma.admin_key, "target").await;
    let rtmp = config.env["SIGMA_RTMP_ADDR"].clone();
    let witness = Witness::start(&sigma.url, &api, &token, 300).await;
    let target = Target {
        sigma,
        rtmp,
        api,
        token,
        witness,
    };
    (target, dir)
}

#[tokio::test]
async fn hostile_clients_lose_their_own_connection_and_nothing_else() {
    let (target, _dir) = start().await;

    // A connect nested 200,000 deep (800 KB) is refused at its header, for its size.
    let before = target.dropped("message_too_large").await;
    let (mut socket, _) = rtmp::handshake(&target.rtmp).await;
    send(
        &mut socket,
        &message(3, COMMAND, 0, &nested_connect(200_000), 128),
    )
    .await;
    assert!(
        closed_within(&mut socket, SLACK).await.is_some(),
        "200,000 deep: kept open"
    );
    target
        .survived("AMF0 nested 200,000 deep", "message_too_large", before)
        .await;

    // Nested 10,000 deep in 40 KB: within the size limit, refused for its depth.
    let before = target.dropped("amf0_too_deep").await;
    let (mut socket, _) = rtmp::handshake(&target.rtmp).await;
    let mut wire = set_chunk_size(65536);
    wire.extend(message(3, COMMAND, 0, &nested_connect(10_000), 65536));
    send(&mut socket, &wire).await;
    assert!(
        closed_within(&mut socket, SLACK).await.is_some(),
        "10,000 deep: kept open"
    );
    target
        .survived("AMF0 nested 10,000 deep", "amf0_too_deep", before)
        .await;

    // The largest chunk size, then a 16 MiB message.
    let before = target.dropped("message_too_large").await;
    let (mut socket, _) = rtmp::handshake(&target.rtmp).await;
    let mut wire = set_chunk_size(0x7fff_ffff);
    let huge = vec![0u8; 0x00ff_ffff];
    wire.extend(message_with_length(
        3,
        COMMAND,
        0,
        0x00ff_ffff,
        &huge,
        0x7fff_ffff,
    ));
    send(&mut socket, &wire).await;
    assert!(
        closed_within(&mut socket, SLACK).await.is_some(),
        "16 MiB: kept open"
    );
    target
        .survived(
            "SetChunkSize 2^31-1 and 16 MiB",
            "message_too_large",
            before,
        )
        .await;

    // Chunk streams interleaved, one changing its message's length mid-message.
    let before = target.dropped("protocol").await;
    let (mut socket, _) = rtmp::handshake(&target.rtmp).await;
    let mut wire = message_with_length(4, 9, 1, 300, &[0; 128], 128);
    wire.extend(message_with_length(5, 8, 1, 200, &[0; 128], 128));
    wire.extend(message_with_length(4, 9, 1, 50, &[0; 50], 128));
    send(&mut socket, &wire).await;
    assert!(
        closed_within(&mut socket, SLACK).await.is_some(),
        "interleaved: kept open"
    );
    target
        .survived("inconsistent interleaved lengths", "protocol", before)
        .await;

    // 1,000 connections that start a handshake and never finish it.
    let pid = target.sigma.pid();
    let baseline = sigma_tests::process::rss_kib(pid);
    let before = target.dropped("handshake_timeout").await;
    let mut idle = Vec::new();
    for _ in 0..1000 {
        let mut socket = TcpStream::connect(&target.rtmp).await.unwrap();
        send(&mut socket, &[0x03]).await;
        idle.push(socket);
    }
    let opened = Instant::now();
    let peak = sigma_tests::process::rss_kib(pid);
    let closings = idle
        .iter_mut()
        .map(|socket| closed_within(socket, HANDSHAKE_TIMEOUT + SLACK));
    let closed = futures::future::join_all(closings).await;
    let kept = closed.iter().filter(|closed| closed.is_none()).count();
    assert_eq!(kept, 0, "connections kept past the handshake deadline");
    assert!(opened.elapsed() < HANDSHAKE_TIMEOUT + SLACK);
    drop(idle);
    until(
        Duration::from_secs(10),
        "1,000 handshake timeouts counted",
        || async { target.dropped("handshake_timeout").await >= before + 1000.0 },
    )
    .await;
    let after = sigma_tests::process::rss_kib(pid);
    eprintln!("RSS with 1,000 stalled handshakes: {baseline} KiB before, {peak} KiB with them, {after} KiB after");
    assert!(
        after < baseline + 32 * 1024,
        "memory not back near the baseline: {baseline} KiB before, {after} KiB after"
    );
    target
        .survived("1,000 unfinished handshakes", "handshake_timeout", before)
        .await;

    // One byte every 5 s.
    let before = target.dropped("handshake_timeout").await;
    let mut socket = TcpStream::connect(&target.rtmp).await.unwrap();
    let started = Instant::now();
    let trickle = async {
        while socket.write_all(&[0x03]).await.is_ok() {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    };
    let closed = tokio::time::timeout(HANDSHAKE_TIMEOUT + 5 * SLACK, trickle).await;
    assert!(closed.is_ok(), "a trickle kept its connection");
    assert!(started.elapsed() >= HANDSHAKE_TIMEOUT);
    target
        .survived("a byte every 5 s", "handshake_timeout", before)
        .await;

    // Connect, then never publish.
    let before = target.dropped("publish_timeout").await;
    let mut socket = rtmp::connect(&target.rtmp, None).await;
    let closed = closed_within(&mut socket, PUBLISH_TIMEOUT + SLACK).await;
    assert!(closed.is_some(), "a client that never published was kept");
    target
        .survived("connect without publish", "publish_timeout", before)
        .await;

    // Garbage after a valid publish: the publisher's session ends, nothing else does.
    let channel = target.channel("garbage").await;
    let key = channel["stream_key"].as_str().unwrap();
    let before = target.dropped("protocol").await;
    let mut socket = rtmp::connect(&target.rtmp, Some(key)).await;
    let garbage: Vec<u8> = (0u32..64 * 1024)
        .map(|index| (index.wrapping_mul(2_654_435_761) >> 13) as u8 | 0xc0)
        .collect();
    send(&mut socket, &garbage).await;
    let closed = closed_within(&mut socket, IDLE_TIMEOUT + SLACK).await;
    assert!(closed.is_some(), "a publisher sending garbage was kept");
    target
        .survived("garbage after publish", "protocol", before)
        .await;
    let id = channel["id"].as_str().unwrap();
    until(
        Duration::from_secs(10),
        "the garbage session ends",
        || async {
            target.api.first_session(&target.token, id).await["publisher_connected"] == false
        },
    )
    .await;

    // Afterwards a new publisher goes live, and its stream plays.
    let channel = target.channel("afterwards").await;
    let _publisher = sigma_tests::publish::live(&channel, 30);
    let media = sigma_tests::publish::source_playlist(&target.sigma.url, &channel);
    sigma_tests::hls::until_listed(&media, 2, Duration::from_secs(30)).await;
    let frames = sigma_tests::probe::play_frames(&["-i", &media], &["-t", "2"]).await;
    assert!(frames.len() >= 55, "{} frames in 2 s", frames.len());
}
