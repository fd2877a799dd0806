//! A session's transcoding ladder wired to storage and the log: the edge worker's [`Ladder`]
//! is fed the source's packaged pieces, each rendition it packages is stored and announced by
//! its own [`RenditionWriter`], and its troubles become `alert.raised` events. The source never
//! waits for the ladder.

use std::sync::Arc;

use prometheus::IntCounterVec;
use sigma_media::cmaf::{Init, Output};
use sigma_media::ladder::{plan, Rung};
use sigma_shared::command::IngestAction;
use sigma_shared::ids::{AlertId, ChannelId, SessionId};
use sigma_shared::media::StreamRef;
use tokio::sync::mpsc;

use super::writer::RenditionWriter;
use super::LogAdmission;
use crate::bus::CommandBus;
use crate::ladder::{Ladder, LadderEvent, LadderInput, LadderSpec};

/// Bits per second the playlists add for a rendition's copied audio.
const AUDIO_BANDWIDTH: u64 = 128_000;

/// Raises alerts about one session.
#[derive(Clone)]
pub struct Alerts {
    pub channel_id: ChannelId,
    pub session_id: SessionId,
    /// `sigma_alerts_total{code, transition}`.
    counted: IntCounterVec,
    /// The facts to record, in the order they happened.
    facts: tokio::sync::mpsc::UnboundedSender<IngestAction>,
}

impl Alerts {
    /// Records the session's facts in the background, one after another (a cleared alert
    /// never overtakes its raise).
    pub fn new(
        bus: Arc<CommandBus>,
        channel_id: ChannelId,
        session_id: SessionId,
        counted: IntCounterVec,
    ) -> Self {
        let (facts, mut queue) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(action) = queue.recv().await {
                if let Err(refusal) = LogAdmission::ingest(&bus, channel_id, action).await {
                    tracing::info!(%refusal, "a session fact was not recorded");
                }
            }
        });
        Self {
            channel_id,
            session_id,
            counted,
            facts,
        }
    }

    /// Records `alert.raised` in the background (the media path never waits on the log). An
    /// alert of a code already open for the session is refused by the decider.
    pub fn raise(&self, code: &str, message: String) {
        tracing::warn!(channel_id = %self.channel_id, session_id = %self.session_id, code, %message, "alert raised");
        self.counted.with_label_values(&[code, "raised"]).inc();
        self.record(IngestAction::RaiseAlert {
            session_id: self.session_id,
            alert_id: AlertId::generate(),
            code: code.to_owned(),
            message,
        });
    }

    /// Records `alert.cleared` for the session's open alert of `code`.
    pub fn clear(&self, code: &str) {
        tracing::info!(channel_id = %self.channel_id, session_id = %self.session_id, code, "alert cleared");
        self.counted.with_label_values(&[code, "cleared"]).inc();
        self.record(IngestAction::ClearAlert {
            session_id: self.session_id,
            code: code.to_owned(),
        });
    }

    /// Submits a fact about the session in the background, after those submitted before.
    pub fn record(&self, action: IngestAction) {
        let _ = self.facts.send(action);
    }
}

pub struct Transcoding {
    ladder: Ladder,
    forwarder: tokio::task::JoinHandle<()>,
    alerts: Alerts,
    /// The ladder is behind: alerted once until it catches up.
    lagging: bool,
}

impl Transcoding {
    /// Starts the ladder for the source `init` describes; `None` when no rung lies below the
    /// source (it is then the only rendition). `source` is the source's writer, the template
    /// of the renditions' writers.
    pub fn start(
        rungs: &[Rung],
        init: &Init,
        source: &RenditionWriter,
        alerts: Alerts,
    ) -> Option<Self> {
        let renditions = plan(rungs, init.resolution?);
        if renditions.is_empty() {
            return None;
        }
        let audio = init.codecs.iter().any(|codec| codec.starts_with("mp4a"));
        let mut writers: Vec<RenditionWriter> = renditions
            .iter()
            .map(|rendition| {
                let stream = StreamRef {
                    rendition: rendition.name.clone(),
                    ..source.stream.clone()
                };
                let mut writer = RenditionWriter::new(
                    source.log.clone(),
                    source.store.clone(),
                    stream,
                    source.latency_mode,
                    source.packaging,
                    source.clock.clone(),
                );
                writer.dvr_window_seconds = source.dvr_window_seconds;
                writer.metrics = source.metrics.clone();
                writer.bandwidth = Some(
                    u64::from(rendition.video_kbps) * 1000
                        + if audio { AUDIO_BANDWIDTH } else { 0 },
                );
                writer
            })
            .collect();
        tracing::info!(
            session_id = %alerts.session_id,
            renditions = %renditions.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            "transcoding"
        );
        let spec = LadderSpec {
            renditions,
            audio,
            packaging: source.packaging,
        };
        let (events, mut reports) = mpsc::unbounded_channel();
        let ladder = Ladder::start(spec, events);
        let forwarding_alerts = alerts.clone();
        let forwarder = tokio::spawn(async move {
            while let Some(report) = reports.recv().await {
                match report {
                    LadderEvent::Output { rendition, output } => {
                        if let Err(error) = writers[rendition].write(output).await {
                            tracing::warn!(%error, "a rendition's media were not stored");
                        }
                    }
                    LadderEvent::Started { pid } => tracing::info!(pid, "ffmpeg started"),
                    LadderEvent::Failed { error, restarting } => {
                        let code = if restarting {
                            "transcoder_failed"
                        } else {
                            "transcoder_stopped"
                        };
                        forwarding_alerts.raise(code, error);
                    }
                }
            }
            for writer in &writers {
                writer.ended().await;
            }
        });
        Some(Self {
            ladder,
            forwarder,
            alerts,
            lagging: false,
        })
    }

    /// Hands the ladder what the source packager produced.
    pub fn feed(&mut self, output: &Output) {
        let input = match output {
            Output::Init(init) => LadderInput::Init(init.bytes.clone()),
            Output::Part(part) => LadderInput::Part {
                bytes: part.bytes.clone(),
                independent: part.independent,
            },
            Output::SegmentEnd { .. } => return,
        };
        match self.ladder.feed(input) {
            Ok(()) => {
                if std::mem::take(&mut self.lagging) {
                    self.alerts.clear("transcoder_slow");
                }
            }
            Err(lagging) => {
                if !std::mem::replace(&mut self.lagging, true) {
                    self.alerts.raise("transcoder_slow", lagging.to_string());
                }
            }
        }
    }

    /// The source ended: the ladder drains and every rendition is closed.
    pub async fn finish(self) {
        self.ladder.finish().await;
        let _ = self.forwarder.await;
    }
}
