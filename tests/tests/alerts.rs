//! Ingest-health alerts, end to end: real ffmpeg publishers that drop to 1 fps, that stop
//! sending keyframes, and that go silent while connected (a relay stops passing their bytes)
//! each raise the right alert within 10 s of the trouble and clear it after recovery; the
//! alerts list, the metrics and a webhook receiver see both.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sigma_tests::api::Api;
use sigma_tests::process::SigmaConfig;
use sigma_tests::receiver::{Behaviour, Receiver};
use sigma_tests::wait::until;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Seconds into the stream when the trouble starts, and when it is over.
const TROUBLE_AT: u64 = 8;
const RECOVERY_AT: u64 = 20;
const SECONDS: u64 = 30;

/// A real-time 320x180 30 fps test pattern with a tone, pushed to `url`, with `video` options
/// (filters, keyframe placement) in front of the encoder's.
fn camera(url: &str, video: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("ffmpeg");
    command.args(["-v", "error", "-re"]);
    command.args([
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size=320x180:rate=30:duration={SECONDS}"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=frequency=440:sample_rate=48000:duration={SECONDS}"),
    ]);
    command.args(video);
    command.args(["-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac"]);
    command.args(["-f", "flv", url]);
    command
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// A TCP relay to `upstream` that can stop passing the client's bytes (the connection stays
/// open: the publisher is connected but silent).
struct Relay {
    port: u16,
    paused: Arc<AtomicBool>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let paused = Arc::new(AtomicBool::new(false));
        let gate = paused.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let gate = gate.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0; 16 * 1024];
                    loop {
                        while gate.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        match client_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => {
                                if server_write.write_all(&buffer[..read]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Self { port, paused }
    }
}

struct Scenario {
    _dir: tempfile::TempDir,
    sigma: sigma_tests::process::Sigma,
    api: Api,
    token: String,
    channel: Value,
    receiver: Receiver,
}

impl Scenario {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sigma = SigmaConfig::standalone(dir.path())
            .with("SIGMA_WEBHOOK_ALLOW_PRIVATE", "1")
            .start()
            .await;
        let api = Api::new(&sigma.url);
        let (_, token) = api
            .account_with_token(&sigma.admin_key, "broadcaster")
            .await;
        let receiver = Receiver::start(Behaviour::default()).await;
        api.post(
            "/v1/webhooks",
            &token,
            json!({ "url": receiver.url(), "event_types": ["alert.raised", "alert.cleared"] }),
        )
        .await
        .ok();
        let channel = api
            .create_channel(
                &token,
                json!({ "name": "studio", "latency_mode": "low", "thumbnail_interval_seconds": 0 }),
            )
            .await;
        Self {
            _dir: dir,
            sigma,
            api,
            token,
            channel,
            receiver,
        }
    }

    fn rtmp_url(&self) -> String {
        self.channel["rtmp_url"].as_str().unwrap().to_owned()
    }

    /// Waits for the publisher to finish, then checks that `code` was raised within 10 s of
    /// the trouble and cleared after the recovery (`recovery_at` s into the stream), in the
    /// alerts list, the metrics and the webhooks.
    async fn expect(
        &self,
        code: &str,
        started: DateTime<Utc>,
        mut publisher: tokio::process::Child,
        recovery_at: u64,
    ) {
        assert!(
            publisher.wait().await.unwrap().success(),
            "the publisher failed"
        );
        let channel_id = self.channel["id"].as_str().unwrap();
        let alerts = || async {
            let list = self
                .api
                .get(&format!("/v1/alerts?channel_id={channel_id}"), &self.token)
                .await
                .ok();
            list["data"].as_array().unwrap().clone()
        };
        until(
            Duration::from_secs(15),
            "the alert is listed, cleared",
            || async {
                alerts()
                    .await
                    .iter()
                    .any(|alert| alert["code"] == code && alert["state"] == "closed")
            },
        )
        .await;
        let all = alerts().await;
        let alert = all.iter().find(|alert| alert["code"] == code).unwrap();
        let at = |field: &str| {
            alert[field]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
        };
        let trouble = started + chrono::Duration::seconds(TROUBLE_AT as i64);
        let recovery = started + chrono::Duration::seconds(recovery_at as i64);
        let delay = (at("raised_at") - trouble).to_std().unwrap_or_default();
        assert!(
            at("raised_at") > trouble && delay < Duration::from_secs(10),
            "{code} raised {delay:?} after the trouble began: {alert}"
        );
        assert!(
            at("cleared_at") > recovery,
            "cleared after the recovery: {alert}"
        );
        assert!(
            at("cleared_at") < recovery + chrono::Duration::seconds(10),
            "cleared within 10 s of the recovery: {alert}"
        );
        let codes: Vec<&str> = all.iter().map(|a| a["code"].as_str().unwrap()).collect();
        eprintln!(
            "{code}: raised {delay:?} after the trouble, cleared {:?} after the recovery; all alerts: {codes:?}",
            (at("cleared_at") - recovery).to_std().unwrap_or_default()
        );
        let open = self
            .api
            .get(
                &format!("/v1/alerts?channel_id={channel_id}&state=open"),
                &self.token,
            )
            .await
            .ok();
        assert_eq!(open["data"], json!([]), "nothing stays open");

        let metrics = reqwest::get(format!("{}/metrics", self.sigma.metrics_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for transition in ["raised", "cleared"] {
            let series =
                format!("sigma_alerts_total{{code=\"{code}\",transition=\"{transition}\"}}");
            assert!(metrics.contains(&series), "{series} in /metrics");
        }
        until(
            Duration::from_secs(10),
            "the webhook receiver saw both",
            || async {
                let seen: Vec<(String, String)> = self
                    .receiver
                    .received()
                    .iter()
                    .map(|one| {
                        (
                            one.body["type"].as_str().unwrap_or_default().to_owned(),
                            one.body["data"]["code"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                        )
                    })
                    .collect();
                let raised = seen
                    .iter()
                    .position(|s| *s == ("alert.raised".into(), code.into()));
                let cleared = seen
                    .iter()
                    .position(|s| *s == ("alert.cleared".into(), code.into()));
                matches!((raised, cleared), (Some(r), Some(c)) if r < c)
            },
        )
        .await;
    }
}

#[tokio::test]
async fn a_publisher_dropping_to_one_frame_a_second_raises_frame_rate_low_then_clears_it() {
    let scenario = Scenario::start().await;
    // Between the trouble and the recovery only every 30th frame is kept; keyframes stay one
    // a second, so only the frame rate is wrong.
    let select = format!("select='lt(t,{TROUBLE_AT})+gte(t,{RECOVERY_AT})+not(mod(n,30))'");
    let started = Utc::now();
    let publisher = camera(
        &scenario.rtmp_url(),
        &[
            "-vf",
            &select,
            "-fps_mode",
            "vfr",
            "-g",
            "1000",
            "-force_key_frames",
            "expr:if(isnan(prev_forced_t),1,gte(t-prev_forced_t,1))",
        ],
    )
    .spawn()
    .unwrap();
    scenario
        .expect("frame_rate_low", started, publisher, RECOVERY_AT)
        .await;
}

#[tokio::test]
async fn a_publisher_that_stops_sending_keyframes_raises_keyframe_interval_long_then_clears_it() {
    let scenario = Scenario::start().await;
    let keyframes = format!(
        "expr:if(lt(t,{TROUBLE_AT})+gte(t,{RECOVERY_AT}),if(isnan(prev_forced_t),1,gte(t-prev_forced_t,1)),0)"
    );
    let started = Utc::now();
    let publisher = camera(
        &scenario.rtmp_url(),
        &[
            "-g",
            "100000",
            "-sc_threshold",
            "0",
            "-force_key_frames",
            &keyframes,
        ],
    )
    .spawn()
    .unwrap();
    scenario
        .expect("keyframe_interval_long", started, publisher, RECOVERY_AT)
        .await;
}

#[tokio::test]
async fn a_publisher_silent_while_connected_raises_no_media_then_clears_it() {
    let scenario = Scenario::start().await;
    let ingest = scenario.rtmp_url();
    let upstream = ingest
        .trim_start_matches("rtmp://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let relay = Relay::start(upstream.clone()).await;
    let through_relay = ingest.replace(&upstream, &format!("127.0.0.1:{}", relay.port));
    let started = Utc::now();
    let publisher = camera(&through_relay, &["-g", "30"]).spawn().unwrap();
    // The relay holds the publisher's bytes for 6 s (less than the 10 s idle timeout that
    // drops a dead connection): connected, but no media.
    let paused = relay.paused.clone();
    tokio::spawn(async move {
        let now = (Utc::now() - started).to_std().unwrap_or_default();
        tokio::time::sleep(Duration::from_secs(TROUBLE_AT).saturating_sub(now)).await;
        paused.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(6)).await;
        paused.store(false, Ordering::SeqCst);
    });
    scenario
        .expect("no_media", started, publisher, TROUBLE_AT + 6)
        .await;
}
