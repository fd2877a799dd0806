//! One RTMP connection: the handshake, then an rml_rtmp server session fed through the
//! [`InputGuard`], which admits a publisher through [`Admission`] and feeds its audio and video
//! through the FLV parser and the CMAF packager into its [`Publication`] while the platform has
//! it on air (a backup on standby is received and watched over, not packaged). A misbehaving
//! client — garbage, an unknown key, silence, a flood — loses its own connection and nothing
//! else; each connection's deadlines come from [`RtmpLimits`] and only media move them on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::ceiling::BitrateCeiling;
use super::guard::{GuardError, InputGuard};
use super::limits::RtmpLimits;
use crate::ingest::{Admission, OutputError, Publication, PublishName, Tally};
use sigma_media::cmaf::{AudioTrack, PackageError, Packager, VideoTrack};
use sigma_media::flv::{self, Frame};
use sigma_media::health::{HealthChange, StreamHealth, NO_MEDIA, PUBLISHER_DROPPED};

/// How often a publication's stream health is judged.
const HEALTH_CHECK_EVERY: Duration = Duration::from_secs(1);
/// The RTMP application publishers use: `rtmp://host:port/live/{stream_key}`.
const APP: &str = "live";
/// How much is read from the socket at once: little until a publisher is admitted (a
/// thousand stalled handshakes cost little), then enough for media.
const ANONYMOUS_READ_BYTES: usize = 4 * 1024;
const PUBLISHER_READ_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub(super) enum ConnectionError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("handshake: {0:?}")]
    Handshake(rml_rtmp::handshake::HandshakeError),
    #[error("rtmp: {0:?}")]
    Session(rml_rtmp::sessions::ServerSessionError),
    #[error("rtmp input: {0}")]
    Input(#[from] GuardError),
    #[error("no {} within {:?}", .0.what(), .0.after)]
    Deadline(Deadline),
    #[error("sent more than {0} bit/s for longer than the ceiling allows")]
    Bitrate(u64),
    #[error("refused ({code}): {message}")]
    Refused { code: &'static str, message: String },
    #[error("media: {0}")]
    Media(String),
    #[error("media: {0}")]
    Package(#[from] PackageError),
    #[error("{0}")]
    Output(#[from] OutputError),
    #[error("ended by the platform: {0}")]
    Stopped(String),
}

/// What a connection must do next, and by when.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deadline {
    step: Step,
    at: Instant,
    after: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Handshake,
    Publish,
    Media,
}

impl Deadline {
    fn new(step: Step, from: Instant, after: Duration) -> Self {
        Self {
            step,
            at: from + after,
            after,
        }
    }

    fn what(&self) -> &'static str {
        match self.step {
            Step::Handshake => "finished handshake",
            Step::Publish => "publish",
            Step::Media => "media",
        }
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
        let outputs = packager.finish()?;
        for output in outputs {
            self.publication.output(output).await?;
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

pub(super) struct Connection {
    socket: TcpStream,
    pub(super) admission: Arc<dyn Admission>,
    limits: RtmpLimits,
    guard: InputGuard,
    publishing: Option<Publishing>,
    /// Fires when the platform ends the admitted publication.
    stop: Option<BoxFuture<'static, String>>,
    accepted: Instant,
    /// The next step the client owes, and by when; a read that would pass it fails.
    deadline: Deadline,
    /// Set once a publisher is admitted.
    ceiling: Option<BitrateCeiling>,
    /// Paces the stream-health checks.
    health_checks: tokio::time::Interval,
    /// The publisher unpublished: the connection closes.
    finished: bool,
}

/// What a wait on the connection ended with.
enum Woke {
    Stopped(String),
    Read(std::io::Result<usize>),
    Deadline,
    HealthCheck,
    Tally,
}

impl ConnectionError {
    /// The label [`Admission::dropped`] reports.
    pub(super) fn reason(&self) -> String {
        match self {
            Self::Io(_) => "io".into(),
            Self::Handshake(_) => "handshake".into(),
            Self::Session(_) => "protocol".into(),
            Self::Input(error) => error.code().into(),
            Self::Deadline(deadline) => match deadline.step {
                Step::Handshake => "handshake_timeout".into(),
                Step::Publish => "publish_timeout".into(),
                Step::Media => "idle".into(),
            },
            Self::Bitrate(_) => "bitrate_exceeded".into(),
            Self::Refused { code, .. } => format!("refused_{code}"),
            Self::Media(_) => "media".into(),
            Self::Package(error) => error.code().into(),
            Self::Output(_) => "storage_failing".into(),
            Self::Stopped(_) => "stopped".into(),
        }
    }

    /// Whether the publisher was dropped for what it sent (its owner is told why by an alert),
    /// rather than for going away, being slow to start, or the platform's own doing.
    fn is_publishers_fault(&self) -> bool {
        matches!(
            self,
            Self::Session(_)
                | Self::Input(_)
                | Self::Bitrate(_)
                | Self::Media(_)
                | Self::Package(_)
        )
    }
}

impl Connection {
    pub(super) fn new(
        socket: TcpStream,
        admission: Arc<dyn Admission>,
        limits: RtmpLimits,
    ) -> Self {
        let accepted = Instant::now();
        Self {
            socket,
            admission,
            limits,
            guard: InputGuard::anonymous(),
            publishing: None,
            stop: None,
            accepted,
            deadline: Deadline::new(Step::Handshake, accepted, limits.handshake_timeout),
            ceiling: None,
            health_checks: tokio::time::interval(HEALTH_CHECK_EVERY),
            finished: false,
        }
    }

    /// Writes to the client, by the current deadline: a client that does not read cannot
    /// hold its connection open by making the server wait to write.
    async fn send(&mut self, bytes: &[u8]) -> Result<(), ConnectionError> {
        let deadline = tokio::time::Instant::from_std(self.deadline.at);
        match tokio::time::timeout_at(deadline, self.socket.write_all(bytes)).await {
            Ok(written) => Ok(written?),
            Err(_) => Err(ConnectionError::Deadline(self.deadline)),
        }
    }

    /// Reads from the client, unless the platform ends the publication first; judges the
    /// stream's health about once a second meanwhile, and the moment silence would become
    /// `no_media` (silence is found only by waiting).
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, ConnectionError> {
        loop {
            let deadline = tokio::time::Instant::from_std(self.deadline.at);
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
                    Err(_) => Woke::Deadline,
                },
                _ = checks.tick() => Woke::HealthCheck,
                () = silence => Woke::HealthCheck,
            };
            match woke {
                Woke::Stopped(reason) => return Err(ConnectionError::Stopped(reason)),
                Woke::Deadline => return Err(ConnectionError::Deadline(self.deadline)),
                // A read that is always ready never lets the timeout fire: check it here too.
                Woke::Read(_) if Instant::now() >= self.deadline.at => {
                    return Err(ConnectionError::Deadline(self.deadline))
                }
                Woke::Read(read) => return Ok(read?),
                Woke::Tally => {
                    if let Some(publishing) = self.publishing.as_mut() {
                        publishing.retally().await?;
                    }
                }
                Woke::HealthCheck => {
                    if let Some(publishing) = self.publishing.as_mut() {
                        for mut change in publishing.health.check(Instant::now()) {
                            if change.code == NO_MEDIA && change.raised {
                                change.media_end_ms =
                                    publishing.packager.as_ref().and_then(Packager::end_ms);
                            }
                            publishing.publication.health(change);
                        }
                    }
                }
            }
        }
    }

    pub(super) async fn run(&mut self) -> Result<(), ConnectionError> {
        let mut buffer = vec![0u8; ANONYMOUS_READ_BYTES];
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
                    self.send(&response_bytes).await?
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    self.send(&response_bytes).await?;
                    break remaining_bytes;
                }
            }
        };
        self.deadline = Deadline::new(Step::Publish, self.accepted, self.limits.publish_timeout);
        let (mut session, results) =
            ServerSession::new(ServerSessionConfig::new()).map_err(ConnectionError::Session)?;
        self.handle(&mut session, results).await?;
        self.take_input(&mut session, &remaining).await?;
        loop {
            let read = self.read(&mut buffer).await?;
            if read == 0 {
                return Ok(());
            }
            self.take_input(&mut session, &buffer[..read]).await?;
            if self.finished {
                return Ok(());
            }
            self.count_bytes(read)?;
            if self.publishing.is_some() && buffer.len() < PUBLISHER_READ_BYTES {
                buffer.resize(PUBLISHER_READ_BYTES, 0);
            }
        }
    }

    /// Passes what the client sent through the guard to the session, and acts on the result.
    async fn take_input(
        &mut self,
        session: &mut ServerSession,
        input: &[u8],
    ) -> Result<(), ConnectionError> {
        let results = session
            .handle_input(self.guard.sanitize(input)?)
            .map_err(ConnectionError::Session)?;
        self.handle(session, results).await
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
                ServerSessionResult::OutboundResponse(packet) => self.send(&packet.bytes).await?,
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
                        self.admitted();
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
                            message: refusal.detail(),
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
                // The connection ends with its publication: a new publish on it would start
                // its deadlines and ceiling afresh.
                self.end(&Ok(())).await;
                self.finished = true;
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// A publisher was admitted: it may now send media, judged by the media deadline and the
    /// bitrate ceiling.
    fn admitted(&mut self) {
        let now = Instant::now();
        self.guard.admitted(self.limits.max_message_bytes);
        self.deadline = Deadline::new(Step::Media, now, self.limits.media_idle_timeout);
        self.ceiling = Some(BitrateCeiling::new(
            self.limits.max_bitrate,
            self.limits.bitrate_window,
            now,
        ));
    }

    /// Counts what an admitted publisher sent, whatever it was, against the ceiling.
    fn count_bytes(&mut self, bytes: usize) -> Result<(), ConnectionError> {
        let allowed = self
            .ceiling
            .as_mut()
            .is_none_or(|ceiling| ceiling.allows(bytes, Instant::now()));
        if !allowed {
            return Err(ConnectionError::Bitrate(self.limits.max_bitrate));
        }
        Ok(())
    }

    /// Writes packets out before the connection is dropped (a refusal must reach the client).
    async fn flush(&mut self, results: Vec<ServerSessionResult>) -> Result<(), ConnectionError> {
        for result in results {
            if let ServerSessionResult::OutboundResponse(packet) = result {
                self.send(&packet.bytes).await?;
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
        let now = Instant::now();
        publishing.health.observe(&frame, now);
        if matches!(frame, Frame::Video { .. } | Frame::Audio { .. }) {
            self.deadline = Deadline::new(Step::Media, now, self.limits.media_idle_timeout);
        }
        match &frame {
            // Checked as they arrive, on air or not: a broken one is refused at once.
            Frame::VideoConfig(record) => {
                VideoTrack::from_config(record)?;
                publishing.video_config = Some(frame.clone());
            }
            Frame::AudioConfig(config) => {
                AudioTrack::from_config(config)?;
                publishing.audio_config = Some(frame.clone());
            }
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
        let outputs = packager.push(frame)?;
        for output in outputs {
            publishing.publication.output(output).await?;
        }
        Ok(())
    }

    /// Closes the publication, if any: the packager's last part and segment, then `ended`.
    /// A publisher dropped for what it sent leaves a `publisher_dropped` alert with the reason.
    pub(super) async fn end(&mut self, outcome: &Result<(), ConnectionError>) {
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
                media_end_ms: None,
            });
        }
        if let Err(error) = outcome {
            if error.is_publishers_fault() {
                publishing.publication.health(HealthChange {
                    code: PUBLISHER_DROPPED,
                    raised: true,
                    message: format!(
                        "the publisher was disconnected ({}): {error}",
                        error.reason()
                    ),
                    media_end_ms: None,
                });
            }
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
