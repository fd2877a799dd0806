//! The transcoding ladder of one session: ONE ffmpeg process (spawned with ffmpeg-sidecar) reads
//! the source as the packager made it (init segment and parts, fragmented MP4 on its stdin),
//! decodes it once and writes every rendition as one fragmented MP4 on its stdout; [`demux`]
//! splits that back into frames and each rendition goes through its own [`Packager`], so the
//! renditions get the same parts, segments and LL-HLS treatment as the source.
//!
//! The process is supervised: when ffmpeg dies or cannot keep up, the ladder reports it and
//! restarts it (a bounded number of times) from the next keyframe of the source. The source
//! rendition never waits for any of this.
//!
//! Depends on the packager and on ffmpeg; knows nothing of storage or the log.

pub mod demux;
pub mod plan;
mod timeline;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ffmpeg_sidecar::command::FfmpegCommand;
use tokio::sync::{mpsc, oneshot};

use crate::cmaf::{Output, Packager, PackagerConfig};
use crate::flv::Frame;
pub use plan::{parse_ladder, plan, Rendition, Rung, DEFAULT_LADDER};
use timeline::Timeline;

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
/// Source parts waiting for ffmpeg; more means it runs slower than real time.
const INPUT_QUEUE: usize = 64;

/// The source fell too far ahead of ffmpeg; input is dropped until the next keyframe.
#[derive(Debug, thiserror::Error)]
#[error("the transcoder is slower than real time; source parts are being dropped")]
pub struct Lagging;

/// A running ladder. Dropping it ends the source as [`Ladder::finish`] does, without waiting.
pub struct Ladder {
    input: mpsc::Sender<LadderInput>,
    /// Set after the queue overflowed, until the next independent part is accepted.
    resyncing: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Ladder {
    /// Starts ffmpeg for `spec`; packaged renditions and failures go to `events`.
    pub fn start(spec: LadderSpec, events: mpsc::UnboundedSender<LadderEvent>) -> Self {
        let (input, receiver) = mpsc::channel(INPUT_QUEUE);
        let task = tokio::spawn(supervise(spec, receiver, events));
        Self {
            input,
            resyncing: false,
            task,
        }
    }

    /// Hands the ladder a piece of the source. Never waits: a full queue means ffmpeg is
    /// behind, and the piece is dropped (the ladder resumes at the next keyframe).
    pub fn feed(&mut self, input: LadderInput) -> Result<(), Lagging> {
        if self.resyncing {
            match &input {
                LadderInput::Part {
                    independent: false, ..
                } => return Ok(()),
                _ => self.resyncing = false,
            }
        }
        match self.input.try_send(input) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
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

/// One ffmpeg process and the threads that feed and read it.
struct Process {
    child: ffmpeg_sidecar::child::FfmpegChild,
    stdin: Option<std::sync::mpsc::Sender<Bytes>>,
    /// Reads what ffmpeg is given, for the source's timestamps.
    source: demux::Demuxer,
    timeline: Arc<Mutex<Timeline>>,
    /// Resolves with the packagers when ffmpeg's output ends, and how it ended.
    done: oneshot::Receiver<(Vec<Packager>, Result<(), String>)>,
    stderr: std::sync::Arc<std::sync::Mutex<VecDeque<String>>>,
}

impl Process {
    fn spawn(
        spec: &LadderSpec,
        packagers: Vec<Packager>,
        events: mpsc::UnboundedSender<LadderEvent>,
    ) -> Result<Self, String> {
        let mut child = FfmpegCommand::new()
            .args(plan::ffmpeg_args(&spec.renditions, spec.audio))
            .spawn()
            .map_err(|error| format!("cannot start ffmpeg: {error}"))?;
        let mut stdin = child.take_stdin().expect("piped stdin");
        let mut stdout = child.take_stdout().expect("piped stdout");
        let stderr = child.take_stderr().expect("piped stderr");

        let (feed, pieces) = std::sync::mpsc::channel::<Bytes>();
        std::thread::spawn(move || {
            for piece in pieces {
                if stdin.write_all(&piece).is_err() {
                    return;
                }
            }
        });

        let lines = std::sync::Arc::new(std::sync::Mutex::new(VecDeque::new()));
        let kept = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut kept = kept.lock().expect("stderr lines");
                if kept.len() == 20 {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });

        let timeline = Arc::new(Mutex::new(Timeline::new(spec.renditions.len())));
        let (finished, done) = oneshot::channel();
        let reader_timeline = timeline.clone();
        std::thread::spawn(move || {
            let mut reader = OutputReader::new(packagers, reader_timeline, events);
            let mut buffer = vec![0u8; 64 * 1024];
            let outcome = loop {
                match stdout.read(&mut buffer) {
                    Ok(0) => break Ok(()),
                    Ok(read) => {
                        if let Err(error) = reader.push(&buffer[..read]) {
                            break Err(error);
                        }
                    }
                    Err(error) => break Err(error.to_string()),
                }
            };
            let _ = finished.send((reader.packagers, outcome));
        });
        Ok(Self {
            child,
            stdin: Some(feed),
            source: demux::Demuxer::default(),
            timeline,
            done,
            stderr: lines,
        })
    }

    /// Gives ffmpeg a piece of the source, after noting the timestamps in it.
    fn write(&mut self, piece: Bytes) {
        match self.source.push(&piece) {
            Ok(frames) => {
                let mut timeline = self.timeline.lock().expect("timeline");
                for frame in &frames {
                    timeline.source(&frame.frame);
                }
            }
            Err(error) => tracing::warn!(%error, "the ladder cannot read its own source"),
        }
        if let Some(stdin) = &self.stdin {
            let _ = stdin.send(piece);
        }
    }

    /// Why the process ended, with the end of what it printed.
    fn failure(&mut self, outcome: Result<(), String>) -> String {
        let status = self.child.wait().map(|status| status.to_string());
        let stderr: Vec<String> = self
            .stderr
            .lock()
            .expect("stderr lines")
            .iter()
            .cloned()
            .collect();
        let cause = match (outcome, status) {
            (Err(error), _) => error,
            (Ok(()), Ok(status)) => format!("ffmpeg exited ({status})"),
            (Ok(()), Err(error)) => format!("ffmpeg vanished: {error}"),
        };
        if stderr.is_empty() {
            cause
        } else {
            format!("{cause}: {}", stderr.join(" | "))
        }
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

/// Runs ffmpeg for as long as the source lasts, restarting it within the policy's bounds.
async fn supervise(
    spec: LadderSpec,
    mut input: mpsc::Receiver<LadderInput>,
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
            pid: process.child.as_inner().id(),
        });
        // A fresh decoder needs the init segment, then a keyframe.
        let mut synced = false;
        let ended = loop {
            tokio::select! {
                piece = input.recv() => match piece {
                    None => break None,
                    Some(LadderInput::Init(bytes)) => {
                        init = Some(bytes.clone());
                        if synced {
                            process.write(bytes);
                        }
                    }
                    Some(LadderInput::Part { bytes, independent }) => {
                        if !synced && independent {
                            if let Some(init) = &init {
                                process.write(init.clone());
                                synced = true;
                            }
                        }
                        if synced {
                            process.write(bytes);
                        }
                    }
                },
                ended = &mut process.done => break Some(ended),
            }
        };
        let Some(ended) = ended else {
            // Closing stdin lets ffmpeg flush; then the packagers close their last segments.
            process.stdin = None;
            if let Ok((mut finished, _)) = (&mut process.done).await {
                finish(&mut finished, &events);
            }
            let _ = process.child.wait();
            return;
        };
        let (returned, outcome) =
            ended.unwrap_or_else(|_| (Vec::new(), Err("the output reader stopped".into())));
        let error = process.failure(outcome);
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
        // Meanwhile the source goes on: keep its newest init segment, let the rest pass.
        let resume = tokio::time::sleep(pause);
        tokio::pin!(resume);
        loop {
            tokio::select! {
                _ = &mut resume => break,
                piece = input.recv() => match piece {
                    Some(LadderInput::Init(bytes)) => init = Some(bytes),
                    Some(LadderInput::Part { .. }) => {}
                    None => {
                        finish(&mut packagers, &events);
                        return;
                    }
                },
            }
        }
        pause = (pause * 2).min(Duration::from_secs(10));
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
