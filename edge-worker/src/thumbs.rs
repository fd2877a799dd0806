//! Thumbnails of a live stream, cheaply: every N seconds the ingest hands the thumbnailer the
//! source's init segment and ONE keyframe part; its ffmpeg (ffmpeg-sidecar) decodes keyframes
//! only (`-skip_frame nokey`), scales them and writes JPEGs to stdout, one per keyframe given,
//! so the n-th picture out belongs to the n-th keyframe in. The media crate's `thumbs::jpeg`
//! splits the pictures, and its `thumbs::sprite` lays them out in storyboard sheets.
//!
//! A crashed ffmpeg is reported and started again for the next keyframe, a bounded number of
//! times. Depends on ffmpeg only; knows nothing of storage or the log.

use std::collections::VecDeque;

use bytes::Bytes;
use tokio::sync::mpsc;

use sigma_media::thumbs::jpeg;

use crate::ffmpeg::{read_chunks, Sidecar};

/// Restarts allowed per thumbnailer before it gives up for the connection.
const MAX_RESTARTS: usize = 5;
/// Keyframes waiting for ffmpeg; more means it is stuck.
const INPUT_QUEUE: usize = 16;

#[derive(Debug)]
pub enum ThumbnailEvent {
    /// The picture of the keyframe fed with `tag`.
    Picture {
        tag: u64,
        jpeg: Bytes,
    },
    Failed {
        error: String,
        restarting: bool,
    },
}

enum Input {
    Init(Bytes),
    Keyframe { tag: u64, bytes: Bytes },
}

/// The ffmpeg arguments: fragmented MP4 in, keyframes only, scaled to `width` (height keeps the
/// aspect ratio, even), MJPEG pictures out.
pub fn ffmpeg_args(width: u32) -> Vec<String> {
    [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "level+warning",
        "-skip_frame",
        "nokey",
        // Every picture must come out as soon as its keyframe is in: ffmpeg would otherwise
        // hold pictures back by whole thumbnail intervals (the first thumbnail came 30 s after
        // go-live at a 10 s interval). The init segment says all there is to know, so nothing
        // is probed (probing waits for more keyframes); one decoding and one encoding thread,
        // as frame threads hold a picture until the next ones come in.
        "-probesize",
        "32",
        "-analyzeduration",
        "0",
        "-threads",
        "1",
        "-f",
        "mp4",
        "-i",
        "pipe:0",
        "-an",
        "-vf",
        &format!("scale={width}:-2"),
        "-fps_mode",
        "passthrough",
        "-c:v",
        "mjpeg",
        "-q:v",
        "4",
        "-threads",
        "1",
        "-f",
        "image2pipe",
        "pipe:1",
    ]
    .map(String::from)
    .to_vec()
}

pub struct Thumbnailer {
    input: mpsc::Sender<Input>,
    task: tokio::task::JoinHandle<()>,
}

impl Thumbnailer {
    /// Starts a thumbnailer producing pictures `width` pixels wide; they go to `events`.
    pub fn start(width: u32, events: mpsc::UnboundedSender<ThumbnailEvent>) -> Self {
        let (input, receiver) = mpsc::channel(INPUT_QUEUE);
        Self {
            input,
            task: tokio::spawn(run(width, receiver, events)),
        }
    }

    /// The source's (new) init segment.
    pub fn init(&self, bytes: Bytes) {
        let _ = self.input.try_send(Input::Init(bytes));
    }

    /// A part that starts with a keyframe; its picture comes back with `tag`. Dropped (false)
    /// when ffmpeg is that far behind.
    pub fn keyframe(&self, tag: u64, bytes: Bytes) -> bool {
        self.input.try_send(Input::Keyframe { tag, bytes }).is_ok()
    }

    /// No more keyframes: the pictures still in ffmpeg come out, then this returns.
    pub async fn finish(self) {
        drop(self.input);
        let _ = self.task.await;
    }
}

async fn run(
    width: u32,
    mut input: mpsc::Receiver<Input>,
    events: mpsc::UnboundedSender<ThumbnailEvent>,
) {
    let mut init: Option<Bytes> = None;
    let mut restarts = 0;
    loop {
        // Wait for a keyframe to start on (an init segment first).
        let (tag, bytes) = loop {
            match input.recv().await {
                None => return,
                Some(Input::Init(bytes)) => init = Some(bytes),
                Some(Input::Keyframe { tag, bytes }) if init.is_some() => break (tag, bytes),
                Some(Input::Keyframe { .. }) => {}
            }
        };
        let (pictures, mut out) = mpsc::unbounded_channel();
        let mut sidecar = match Sidecar::spawn(ffmpeg_args(width), move |stdout| {
            let mut splitter = jpeg::JpegSplitter::default();
            read_chunks(stdout, |chunk| {
                for picture in splitter.push(chunk) {
                    let _ = pictures.send(picture);
                }
                Ok(())
            })
        }) {
            Ok(sidecar) => sidecar,
            Err(error) => {
                let _ = events.send(ThumbnailEvent::Failed {
                    error,
                    restarting: false,
                });
                return;
            }
        };
        sidecar.write(init.clone().expect("checked")).await;
        sidecar.write(bytes).await;
        let mut tags = VecDeque::from([tag]);
        let forward = |jpeg: Bytes, tags: &mut VecDeque<u64>| {
            if let Some(tag) = tags.pop_front() {
                let _ = events.send(ThumbnailEvent::Picture { tag, jpeg });
            }
        };
        let ended = loop {
            tokio::select! {
                piece = input.recv() => match piece {
                    None => break None,
                    Some(Input::Init(bytes)) => {
                        init = Some(bytes.clone());
                        sidecar.write(bytes).await;
                    }
                    Some(Input::Keyframe { tag, bytes }) => {
                        tags.push_back(tag);
                        sidecar.write(bytes).await;
                    }
                },
                Some(jpeg) = out.recv() => forward(jpeg, &mut tags),
                ended = &mut sidecar.done => break Some(ended),
            }
        };
        let Some(ended) = ended else {
            sidecar.close_input();
            while let Some(jpeg) = out.recv().await {
                forward(jpeg, &mut tags);
            }
            sidecar.wait();
            return;
        };
        while let Ok(jpeg) = out.try_recv() {
            forward(jpeg, &mut tags);
        }
        let error = sidecar.failure(ended.unwrap_or_else(|_| Err("reader stopped".into())));
        restarts += 1;
        let restarting = restarts <= MAX_RESTARTS;
        let _ = events.send(ThumbnailEvent::Failed { error, restarting });
        if !restarting {
            while input.recv().await.is_some() {}
            return;
        }
    }
}
