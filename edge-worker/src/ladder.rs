//! The transcoding ladder of one session: ONE ffmpeg process (spawned with ffmpeg-sidecar) reads
//! the source as the packager made it (init segment and parts, fragmented MP4 on its stdin),
//! decodes it once and writes every rendition as one fragmented MP4 on its stdout; the media
//! crate's `ladder::demux` splits that back into frames and each rendition goes through its own [`Packager`], so the
//! renditions get the same parts, segments and LL-HLS treatment as the source.
//!
//! The process is supervised: when ffmpeg dies or cannot keep up, the ladder reports it and
//! restarts it (a bounded number of times) from the next keyframe of the source. The source
//! rendition never waits for any of this.
//!
//! Depends on the packager and on ffmpeg; knows nothing of storage or the log.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use sigma_media::cmaf::{Output, Packager, PackagerConfig};
use sigma_media::flv::Frame;
use sigma_media::ladder::timeline::Timeline;
use sigma_media::ladder::{demux, plan, Rendition};

use crate::ffmpeg::{read_chunks, Sidecar};

/// What the source packager produced, for the ladder.
#[derive(Clone, Debug)]
pub enum LadderInput {
    Init(Bytes),
    Part { bytes: Bytes, independent: bool },
}

/// What the ladder reports.
#[derive(Debug)]
pub enum LadderEvent {
    /// An ffmpeg process started (again, after a failure).
    Started { pid: u32 },
    /// Packaged media of rendition `rendition` (an index into the spec's renditions).
    Output { rendition: usize, output: Output },
    /// ffmpeg stopped or fell behind; `restarting` says whether the ladder goes on.
    Failed { error: String, restarting: bool },
}

/// How a ladder runs.
#[derive(Clone, Debug)]
pub struct LadderSpec {
    pub renditions: Vec<Rendition>,
    /// Whether the source has audio (copied into the ladder's output once, shared by all
    /// renditions).
    pub audio: bool,
    pub packaging: PackagerConfig,
}

/// Restarts allowed within [`RESTART_WINDOW`] before the ladder gives up for the session.
const MAX_RESTARTS: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(600);
const FIRST_RESTART_PAUSE: Duration = Duration::from_millis(250);
/// How much of the source may wait for ffmpeg (beyond what its stdin queue holds); more means
/// it runs slower than real time. Counted in parts: 10 s of them, 8 to 64 — and in bytes, so a
/// heavy source does not make those 10 s large.
const INPUT_SLACK_MS: u32 = 10_000;
pub const MAX_INPUT_BYTES: usize = 32 << 20;

/// The input queue's length in parts for `packaging`.
fn input_queue(packaging: PackagerConfig) -> usize {
    (INPUT_SLACK_MS / packaging.part_target_ms.max(1)).clamp(8, 64) as usize
}

/// The source fell too far ahead of ffmpeg; input is dropped until the next keyframe.
#[derive(Debug, thiserror::Error)]
#[error("the transcoder is slower than real time; source parts are being dropped")]
pub struct Lagging;

/// A running ladder. Dropping it ends the source as [`Ladder::finish`] does, without waiting.
pub struct Ladder {
    input: mpsc::Sender<LadderInput>,
    /// Bytes of source in the input queue.
    queued: Arc<AtomicUsize>,
    /// Set after the queue overflowed, until the next independent part is accepted.
    resyncing: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Ladder {
    /// Starts ffmpeg for `spec`; packaged renditions and failures go to `events`.
    pub fn start(spec: LadderSpec, events: mpsc::UnboundedSender<LadderEvent>) -> Self {
        let (input, receiver) = mpsc::channel(input_queue(spec.packaging));
        let queued = Arc::new(AtomicUsize::new(0));
        let receiver = InputQueue {
            receiver,
            queued: queued.clone(),
        };
        let task = tokio::spawn(supervise(spec, receiver, events));
        Self {
            input,
            queued,
            resyncing: false,
            task,
        }
    }

    /// Hands the ladder a piece of the source. Never waits: a full queue means ffmpeg is
    /// behind, and the piece is dropped (the ladder resumes at the next keyframe).
    pub fn feed(&mut self, input: LadderInput) -> Result<(), Lagging> {
        if self.resyncing {
            match &input {
                // Still dropped, still behind: the caller's alert stays up until a piece
                // is taken again.
                LadderInput::Part {
                    independent: false, ..
                } => return Err(Lagging),
                _ => self.resyncing = false,
            }
        }
        if self.input.is_closed() {
            return Ok(()); // the ladder gave up; what it left counted no longer matters
        }
        // Counted before it is sent, so the receiver never takes off more than was added.
        let bytes = input.len();
        let before = self.queued.fetch_add(bytes, Ordering::Relaxed);
        let sent = if before + bytes > MAX_INPUT_BYTES {
            Err(mpsc::error::TrySendError::Full(input))
        } else {
            self.input.try_send(input)
        };
        match sent {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.queued.fetch_sub(bytes, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.queued.fetch_sub(bytes, Ordering::Relaxed);
                self.resyncing = true;
                Err(Lagging)
            }
        }
    }

    /// The source ended: ffmpeg drains, the renditions' last parts and segments are
    /// reported, then this returns.
    pub async fn finish(self) {
        drop(self.input);
        let _ = self.task.await;
    }
}

/// What ffmpeg's output reader returns when the output ends: the packagers (a restarted ffmpeg
/// goes on with them) and how the output ended.
type Returned = (Vec<Packager>, Result<(), String>);

/// One ffmpeg process of the ladder, and the source timestamps of what it was given.
struct Process {
    sidecar: Sidecar<Returned>,
    /// Reads what ffmpeg is given, for the source's timestamps.
    source: demux::Demuxer,
    timeline: Arc<Mutex<Timeline>>,
}

impl Process {
    fn spawn(
        spec: &LadderSpec,
        packagers: Vec<Packager>,
        events: mpsc::UnboundedSender<LadderEvent>,
    ) -> Result<Self, String> {
        let timeline = Arc::new(Mutex::new(Timeline::new(spec.renditions.len())));
        let reader_timeline = timeline.clone();
        let sidecar = Sidecar::spawn(
            plan::ffmpeg_args(&spec.renditions, spec.audio),
            move |stdout| {
                let mut reader = OutputReader::new(packagers, reader_timeline, events);
                let outcome = read_chunks(stdout, |chunk| reader.push(chunk));
                (reader.packagers, outcome)
            },
        )?;
        Ok(Self {
            sidecar,
            source: demux::Demuxer::default(),
            timeline,
        })
    }

    /// Gives ffmpeg the source until the source ends (`None`) or ffmpeg does (what its output
    /// reader returned). A fresh decoder needs the init segment, then a keyframe: parts before
    /// the first keyframe are passed over; `init` keeps the newest init segment for a restart.
    async fn feed(
        &mut self,
        input: &mut InputQueue,
        init: &mut Option<Bytes>,
    ) -> Option<Result<Returned, oneshot::error::RecvError>> {
        let mut synced = false;
        loop {
            tokio::select! {
                piece = input.recv() => match piece {
                    None => return None,
                    Some(LadderInput::Init(bytes)) => {
                        *init = Some(bytes.clone());
                        if synced {
                            self.write(bytes).await;
                        }
                    }
                    Some(LadderInput::Part { bytes, independent }) => {
                        if !synced && independent {
                            if let Some(init) = init.as_ref() {
                                self.write(init.clone()).await;
                                synced = true;
                            }
                        }
                        if synced {
                            self.write(bytes).await;
                        }
                    }
                },
                ended = &mut self.sidecar.done => return Some(ended),
            }
        }
    }

    /// Gives ffmpeg a piece of the source, after noting the timestamps in it; waits while
    /// ffmpeg's queue is full, which leaves the source's parts in the ladder's input queue
    /// until it overflows ([`Ladder::feed`]'s `Lagging`).
    async fn write(&mut self, piece: Bytes) {
        match self.source.push(&piece) {
            Ok(frames) => {
                let mut timeline = self.timeline.lock().expect("timeline");
                for frame in &frames {
                    timeline.source(&frame.frame);
                }
            }
            Err(error) => tracing::warn!(%error, "the ladder cannot read its own source"),
        }
        self.sidecar.write(piece).await;
    }
}

/// Turns ffmpeg's output into packaged renditions, on the source's timestamps.
struct OutputReader {
    demuxer: demux::Demuxer,
    packagers: Vec<Packager>,
    timeline: Arc<Mutex<Timeline>>,
    events: mpsc::UnboundedSender<LadderEvent>,
}

impl OutputReader {
    fn new(
        packagers: Vec<Packager>,
        timeline: Arc<Mutex<Timeline>>,
        events: mpsc::UnboundedSender<LadderEvent>,
    ) -> Self {
        Self {
            demuxer: demux::Demuxer::default(),
            packagers,
            timeline,
            events,
        }
    }

    /// The frame with the source's timestamp, for rendition `video_index` (video) or all
    /// (audio); `None` when the source has no frame for it.
    fn retimed(&self, frame: Frame, video_index: Option<usize>) -> Option<Frame> {
        let mut timeline = self.timeline.lock().expect("timeline");
        Some(match frame {
            Frame::Video { keyframe, data, .. } => Frame::Video {
                dts: timeline.video(video_index?, keyframe)?,
                composition_offset: 0,
                keyframe,
                data,
            },
            Frame::Audio { data, .. } => Frame::Audio {
                dts: timeline.audio()?,
                data,
            },
            config => config,
        })
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        let frames = self.demuxer.push(bytes).map_err(|e| e.to_string())?;
        for frame in frames {
            // Video tracks come in rendition order; the audio track belongs to all.
            let video_index = self
                .demuxer
                .tracks()
                .iter()
                .filter(|track| track.video)
                .position(|track| track.id == frame.track);
            let shared = matches!(frame.frame, Frame::Audio { .. } | Frame::AudioConfig(_));
            let Some(retimed) = self.retimed(frame.frame, video_index) else {
                continue;
            };
            for (rendition, packager) in self.packagers.iter_mut().enumerate() {
                if !shared && video_index != Some(rendition) {
                    continue;
                }
                let outputs = packager.push(retimed.clone()).map_err(|e| e.to_string())?;
                for output in outputs {
                    let _ = self.events.send(LadderEvent::Output { rendition, output });
                }
            }
        }
        Ok(())
    }
}

/// The receiving end of the ladder's input, which keeps the count of bytes queued.
struct InputQueue {
    receiver: mpsc::Receiver<LadderInput>,
    queued: Arc<AtomicUsize>,
}

impl InputQueue {
    async fn recv(&mut self) -> Option<LadderInput> {
        let input = self.receiver.recv().await?;
        self.queued.fetch_sub(input.len(), Ordering::Relaxed);
        Some(input)
    }
}

impl LadderInput {
    fn len(&self) -> usize {
        match self {
            Self::Init(bytes) | Self::Part { bytes, .. } => bytes.len(),
        }
    }
}

/// Runs ffmpeg for as long as the source lasts, restarting it within the policy's bounds.
async fn supervise(
    spec: LadderSpec,
    mut input: InputQueue,
    events: mpsc::UnboundedSender<LadderEvent>,
) {
    let mut packagers: Vec<Packager> = spec
        .renditions
        .iter()
        .map(|_| Packager::anchored(spec.packaging))
        .collect();
    let mut init: Option<Bytes> = None;
    let mut restarts: VecDeque<Instant> = VecDeque::new();
    let mut pause = FIRST_RESTART_PAUSE;
    loop {
        let mut process = match Process::spawn(&spec, packagers, events.clone()) {
            Ok(process) => process,
            Err(error) => {
                let _ = events.send(LadderEvent::Failed {
                    error,
                    restarting: false,
                });
                return;
            }
        };
        let _ = events.send(LadderEvent::Started {
            pid: process.sidecar.pid(),
        });
        let Some(ended) = process.feed(&mut input, &mut init).await else {
            // Closing stdin lets ffmpeg flush; then the packagers close their last segments.
            process.sidecar.close_input();
            if let Ok((mut finished, _)) = (&mut process.sidecar.done).await {
                finish(&mut finished, &events);
            }
            process.sidecar.wait();
            return;
        };
        let (returned, outcome) =
            ended.unwrap_or_else(|_| (Vec::new(), Err("the output reader stopped".into())));
        let error = process.sidecar.failure(outcome);
        let now = Instant::now();
        while restarts
            .front()
            .is_some_and(|at| now.duration_since(*at) > RESTART_WINDOW)
        {
            restarts.pop_front();
        }
        let restarting = restarts.len() < MAX_RESTARTS && returned.len() == spec.renditions.len();
        tracing::warn!(%error, restarting, "the transcoding ladder failed");
        let _ = events.send(LadderEvent::Failed { error, restarting });
        if !restarting {
            // Drain the source so the feeder never sees a full queue for a dead ladder.
            while input.recv().await.is_some() {}
            return;
        }
        restarts.push_back(now);
        packagers = returned;
        if !pass_over(&mut input, &mut init, pause).await {
            finish(&mut packagers, &events);
            return;
        }
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

/// While ffmpeg is restarted after a failure the source goes on: keeps its newest init segment,
/// lets the rest pass, for `pause`; `false` if the source ended meanwhile.
async fn pass_over(input: &mut InputQueue, init: &mut Option<Bytes>, pause: Duration) -> bool {
    let resume = tokio::time::sleep(pause);
    tokio::pin!(resume);
    loop {
        tokio::select! {
            _ = &mut resume => return true,
            piece = input.recv() => match piece {
                Some(LadderInput::Init(bytes)) => *init = Some(bytes),
                Some(LadderInput::Part { .. }) => {}
                None => return false,
            },
        }
    }
}

/// Closes every rendition's last part and segment.
fn finish(packagers: &mut [Packager], events: &mpsc::UnboundedSender<LadderEvent>) {
    for (rendition, packager) in packagers.iter_mut().enumerate() {
        for output in packager.finish().unwrap_or_default() {
            let _ = events.send(LadderEvent::Output { rendition, output });
        }
    }
}
