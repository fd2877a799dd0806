//! The RTMP server: one task per connection runs the handshake and an rml_rtmp server
//! session, admits a publisher through [`Admission`], and feeds its audio and video through the
//! FLV parser and the CMAF packager into its [`Publication`] while the platform has it on air
//! (a backup on standby is received and watched over, not packaged). A misbehaving client —
//! garbage bytes, an unknown key, silence — loses its own connection and nothing else.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::cmaf::Packager;
use crate::flv::{self, Frame};
use crate::health::{HealthChange, StreamHealth};
use crate::ingest::{Admission, Publication, PublishName, Tally};

/// How long a connection may stay silent before it is dropped (a publisher that never sends
/// media, a half-open socket).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a publication's stream health is judged.
const HEALTH_CHECK_EVERY: Duration = Duration::from_secs(1);
/// The RTMP application publishers use: `rtmp://host:port/live/{stream_key}`.
const APP: &str = "live";

#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("handshake: {0:?}")]
    Handshake(rml_rtmp::handshake::HandshakeError),
    #[error("rtmp: {0:?}")]
    Session(rml_rtmp::sessions::ServerSessionError),
    #[error("silent for {0:?}")]
    Idle(Duration),
    #[error("refused ({code}): {message}")]
    Refused { code: &'static str, message: String },
    #[error("media: {0}")]
    Media(String),
    #[error("ended by the platform: {0}")]
    Stopped(String),
}

/// Accepts connections forever.
pub async fn serve(listener: TcpListener, admission: Arc<dyn Admission>) {
    loop {
        let Ok((socket, peer)) = listener.accept().await else {
            continue;
        };
        let admission = admission.clone();
        tokio::spawn(async move {
            let _ = socket.set_nodelay(true);
            let mut connection = Connection {
                socket,
                admission,
                publishing: None,
                stop: None,
                last_read: Instant::now(),
                health_checks: tokio::time::interval(HEALTH_CHECK_EVERY),
            };
            let outcome = connection.run().await;
            connection.end().await;
            match outcome {
                Ok(()) => tracing::info!(%peer, "rtmp connection closed"),
                Err(error) => {
                    tracing::info!(%peer, %error, "rtmp connection dropped");
                    connection.admission.dropped(&error.reason());
                }
            }
        });
    }
}

struct Publishing {
    publication: Box<dyn Publication>,
    /// `None` while the stream is off air.
    packager: Option<Packager>,
    health: StreamHealth,
    /// Whether the platform has this stream on air, as last acted on, and its changes.
    on_air: Tally,
    tally: watch::Receiver<Tally>,
    /// The stream's codec configurations (sent once, at its start), for a packager started
    /// mid-stream.
    video_config: Option<Frame>,
    audio_config: Option<Frame>,
    /// A packager started mid-stream takes frames from the next video keyframe on, so its
    /// timeline starts where the platform said and with a picture.
    awaiting_keyframe: bool,
}

impl Publishing {
    async fn new(mut publication: Box<dyn Publication>) -> Self {
        let mut tally = publication.tally();
        let on_air = *tally.borrow_and_update();
        let mut publishing = Self {
            publication,
            packager: None,
            health: StreamHealth::new(Instant::now()),
            on_air: Tally::Standby,
            tally,
            video_config: None,
            audio_config: None,
            awaiting_keyframe: false,
        };
        publishing.go(on_air).await;
        publishing
    }

    /// Starts packaging if `tally` puts the stream on air (the caller took it off air first).
    async fn go(&mut self, tally: Tally) {
        self.on_air = tally;
        let Tally::OnAir { timeline_start_ms } = tally else {
            return;
        };
        self.publication.on_air(timeline_start_ms).await;
        let mut packager =
            Packager::new(self.publication.packaging()).starting_at(timeline_start_ms);
        for config in self.video_config.iter().chain(&self.audio_config) {
            // A configuration produces no output until media follow.
            let _ = packager.push(config.clone());
        }
        self.awaiting_keyframe = self.video_config.is_some();
        self.packager = Some(packager);
    }

    /// Stops packaging: the last part and segment, then the publication hears it is off air.
    async fn take_off_air(&mut self) -> Result<(), ConnectionError> {
        let Some(mut packager) = self.packager.take() else {
            return Ok(());
        };
        let outputs = packager
            .finish()
            .map_err(|error| ConnectionError::Media(error.to_string()))?;
        for output in outputs {
            self.publication
                .output(output)
                .await
                .map_err(|error| ConnectionError::Media(error.to_string()))?;
        }
        self.publication.off_air().await;
        Ok(())
    }

    /// Acts on the platform's latest word on whether the stream is on air.
    async fn retally(&mut self) -> Result<(), ConnectionError> {
        let tally = *self.tally.borrow_and_update();
        if tally != self.on_air {
            self.take_off_air().await?;
            self.go(tally).await;
        }
        Ok(())
    }
}

struct Connection {
    socket: TcpStream,
    admission: Arc<dyn Admission>,
    publishing: Option<Publishing>,
    /// Fires when the platform ends the admitted publication.
    stop: Option<BoxFuture<'static, String>>,
    /// When the client last sent anything (the idle timeout counts from here).
    last_read: Instant,
    /// Paces the stream-health checks.
    health_checks: tokio::time::Interval,
}

/// What a wait on the connection ended with.
enum Woke {
    Stopped(String),
    Read(std::io::Result<usize>),
    Idle,
    HealthCheck,
    Tally,
}

impl ConnectionError {
    /// The label [`Admission::dropped`] reports.
    fn reason(&self) -> String {
        match self {
            Self::Io(_) => "io".into(),
            Self::Handshake(_) => "handshake".into(),
            Self::Session(_) => "protocol".into(),
            Self::Idle(_) => "idle".into(),
            Self::Refused { code, .. } => format!("refused_{code}"),
            Self::Media(_) => "media".into(),
            Self::Stopped(_) => "stopped".into(),
        }
    }
}

impl Connection {
    /// Reads from the client, unless the platform ends the publication first; judges the
    /// stream's health about once a second meanwhile, and the moment silence would become
    /// `no_media` (silence is found only by waiting).
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, ConnectionError> {
        loop {
            let deadline = tokio::time::Instant::from_std(self.last_read + IDLE_TIMEOUT);
            let silence_deadline = self
                .publishing
                .as_ref()
                .and_then(|publishing| publishing.health.silence_deadline());
            let (stop, socket, checks, publishing) = (
                &mut self.stop,
                &mut self.socket,
                &mut self.health_checks,
                &mut self.publishing,
            );
            let stopped = async {
                match stop.as_mut() {
                    Some(stop) => stop.await,
                    None => std::future::pending().await,
                }
            };
            let tally = async {
                let changed = match publishing.as_mut() {
                    Some(publishing) => publishing.tally.changed().await.is_ok(),
                    None => false,
                };
                // A publication whose tally never changes has dropped the sender.
                if !changed {
                    std::future::pending::<()>().await;
                }
            };
            let silence = async {
                match silence_deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let woke = tokio::select! {
                reason = stopped => Woke::Stopped(reason),
                () = tally => Woke::Tally,
                read = tokio::time::timeout_at(deadline, socket.read(buffer)) => match read {
                    Ok(read) => Woke::Read(read),
                    Err(_) => Woke::Idle,
                },
                _ = checks.tick() => Woke::HealthCheck,
                () = silence => Woke::HealthCheck,
            };
            match woke {
                Woke::Stopped(reason) => return Err(ConnectionError::Stopped(reason)),
                Woke::Idle => return Err(ConnectionError::Idle(IDLE_TIMEOUT)),
                Woke::Read(read) => {
                    self.last_read = Instant::now();
                    return Ok(read?);
                }
                Woke::Tally => {
                    if let Some(publishing) = self.publishing.as_mut() {
                        publishing.retally().await?;
                    }
                }
                Woke::HealthCheck => {
                    if let Some(publishing) = self.publishing.as_mut() {
                        for change in publishing.health.check(Instant::now()) {
                            publishing.publication.health(change);
                        }
                    }
                }
            }
        }
    }

    async fn run(&mut self) -> Result<(), ConnectionError> {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut handshake = Handshake::new(PeerType::Server);
        let remaining = loop {
            let read = self.read(&mut buffer).await?;
            if read == 0 {
                return Ok(());
            }
            match handshake
                .process_bytes(&buffer[..read])
                .map_err(ConnectionError::Handshake)?
            {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    self.socket.write_all(&response_bytes).await?
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    self.socket.write_all(&response_bytes).await?;
                    break remaining_bytes;
                }
            }
        };
        let (mut session, results) =
            ServerSession::new(ServerSessionConfig::new()).map_err(ConnectionError::Session)?;
        self.handle(&mut session, results).await?;
        let results = session
            .handle_input(&remaining)
            .map_err(ConnectionError::Session)?;
        self.handle(&mut session, results).await?;
        loop {
            let read = self.read(&mut buffer).await?;
            if read == 0 {
                return Ok(());
            }
            let results = session
                .handle_input(&buffer[..read])
                .map_err(ConnectionError::Session)?;
            self.handle(&mut session, results).await?;
        }
    }

    /// Sends what the session wants sent and acts on what it raised, in order.
    async fn handle(
        &mut self,
        session: &mut ServerSession,
        results: Vec<ServerSessionResult>,
    ) -> Result<(), ConnectionError> {
        let mut queue = std::collections::VecDeque::from(results);
        while let Some(result) = queue.pop_front() {
            match result {
                ServerSessionResult::OutboundResponse(packet) => {
                    self.socket.write_all(&packet.bytes).await?
                }
                ServerSessionResult::RaisedEvent(event) => {
                    let more = self.on_event(session, event).await?;
                    queue.extend(more);
                }
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerSessionEvent,
    ) -> Result<Vec<ServerSessionResult>, ConnectionError> {
        let session_error = ConnectionError::Session;
        match event {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                if app_name != APP {
                    let results = session.reject_request(
                        request_id,
                        "NetConnection.Connect.Rejected",
                        "unknown application",
                    );
                    self.flush(results.map_err(session_error)?).await?;
                    return Err(ConnectionError::Refused {
                        code: "unknown_app",
                        message: format!("application {app_name:?}"),
                    });
                }
                session.accept_request(request_id).map_err(session_error)
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                stream_key,
                ..
            } => {
                if self.publishing.is_some() {
                    return Err(ConnectionError::Refused {
                        code: "second_publish",
                        message: "a second publish on one connection".into(),
                    });
                }
                match self.admission.admit(&PublishName::parse(&stream_key)).await {
                    Ok(mut publication) => {
                        self.stop = Some(publication.stop_signal());
                        self.publishing = Some(Publishing::new(publication).await);
                        session.accept_request(request_id).map_err(session_error)
                    }
                    Err(refusal) => {
                        let results = session.reject_request(
                            request_id,
                            "NetStream.Publish.BadName",
                            &refusal.to_string(),
                        );
                        self.flush(results.map_err(session_error)?).await?;
                        Err(ConnectionError::Refused {
                            code: refusal.code(),
                            message: refusal.to_string(),
                        })
                    }
                }
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                self.media(flv::video(i64::from(timestamp.value), &data))
                    .await?;
                Ok(Vec::new())
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                self.media(flv::audio(i64::from(timestamp.value), &data))
                    .await?;
                Ok(Vec::new())
            }
            ServerSessionEvent::PublishStreamFinished { .. } => {
                self.end().await;
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Writes packets out before the connection is dropped (a refusal must reach the client).
    async fn flush(&mut self, results: Vec<ServerSessionResult>) -> Result<(), ConnectionError> {
        for result in results {
            if let ServerSessionResult::OutboundResponse(packet) = result {
                self.socket.write_all(&packet.bytes).await?;
            }
        }
        Ok(())
    }

    async fn media(
        &mut self,
        frame: Result<Option<flv::Frame>, flv::FlvError>,
    ) -> Result<(), ConnectionError> {
        let Some(publishing) = self.publishing.as_mut() else {
            return Err(ConnectionError::Media("media before publish".into()));
        };
        let Some(frame) = frame.map_err(|error| ConnectionError::Media(error.to_string()))? else {
            return Ok(());
        };
        publishing.health.observe(&frame, Instant::now());
        match &frame {
            Frame::VideoConfig(_) => publishing.video_config = Some(frame.clone()),
            Frame::AudioConfig(_) => publishing.audio_config = Some(frame.clone()),
            Frame::Video { keyframe: true, .. } => publishing.awaiting_keyframe = false,
            Frame::Video { .. } | Frame::Audio { .. } if publishing.awaiting_keyframe => {
                return Ok(())
            }
            _ => {}
        }
        // Off air, media are only watched over.
        let Some(packager) = publishing.packager.as_mut() else {
            return Ok(());
        };
        let outputs = packager
            .push(frame)
            .map_err(|error| ConnectionError::Media(error.to_string()))?;
        for output in outputs {
            publishing
                .publication
                .output(output)
                .await
                .map_err(|error| ConnectionError::Media(error.to_string()))?;
        }
        Ok(())
    }

    /// Closes the publication, if any: the packager's last part and segment, then `ended`.
    async fn end(&mut self) {
        let Some(mut publishing) = self.publishing.take() else {
            return;
        };
        // The publisher is gone: what its stream's health said no longer holds.
        let open: Vec<&'static str> = publishing.health.open().collect();
        for code in open {
            publishing.publication.health(HealthChange {
                code,
                raised: false,
                message: "the publisher disconnected".into(),
            });
        }
        if let Some(Ok(outputs)) = publishing.packager.as_mut().map(Packager::finish) {
            for output in outputs {
                if publishing.publication.output(output).await.is_err() {
                    break;
                }
            }
        }
        publishing.publication.ended().await;
    }
}
