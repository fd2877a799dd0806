//! One ffmpeg process spawned with ffmpeg-sidecar (which never downloads ffmpeg: its download
//! feature is off), fed on stdin and read on stdout by threads of its own, with the end of its
//! stderr kept for the error message when it dies. The ladder and the thumbnailer run on this.

use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};
use std::process::ChildStdout;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ffmpeg_sidecar::child::FfmpegChild;
use ffmpeg_sidecar::command::FfmpegCommand;
use tokio::sync::oneshot;

/// Lines of stderr kept for the failure message.
const STDERR_LINES: usize = 20;
/// Pieces queued for ffmpeg's stdin. A full queue makes [`Sidecar::write`] wait, so a slow
/// ffmpeg holds back its feeder (which then drops input, see the ladder) instead of this
/// queue growing with the source.
const STDIN_QUEUE: usize = 8;

pub struct Sidecar<T> {
    child: FfmpegChild,
    stdin: Option<tokio::sync::mpsc::Sender<Bytes>>,
    /// Resolves with what the stdout reader returned once ffmpeg's output ends.
    pub done: oneshot::Receiver<T>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl<T: Send + 'static> Sidecar<T> {
    /// Starts `ffmpeg args…`; `read` runs on its own thread with ffmpeg's stdout and its result
    /// resolves [`Sidecar::done`].
    pub fn spawn(
        args: Vec<String>,
        read: impl FnOnce(ChildStdout) -> T + Send + 'static,
    ) -> Result<Self, String> {
        let mut child = FfmpegCommand::new()
            .args(args)
            .spawn()
            .map_err(|error| format!("cannot start ffmpeg: {error}"))?;
        let mut stdin = child.take_stdin().expect("piped stdin");
        let stdout = child.take_stdout().expect("piped stdout");
        let stderr = child.take_stderr().expect("piped stderr");

        let (feed, mut pieces) = tokio::sync::mpsc::channel::<Bytes>(STDIN_QUEUE);
        std::thread::spawn(move || {
            while let Some(piece) = pieces.blocking_recv() {
                if stdin.write_all(&piece).is_err() {
                    return;
                }
            }
        });
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut kept = kept.lock().expect("stderr lines");
                if kept.len() == STDERR_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        let (finished, done) = oneshot::channel();
        std::thread::spawn(move || {
            let _ = finished.send(read(stdout));
        });
        Ok(Self {
            child,
            stdin: Some(feed),
            done,
            stderr: lines,
        })
    }
}

impl<T> Sidecar<T> {
    pub fn pid(&mut self) -> u32 {
        self.child.as_inner().id()
    }

    /// Queues bytes for ffmpeg's stdin, waiting while the queue is full. A process whose
    /// stdin closed (it died) takes nothing and does not make this wait.
    pub async fn write(&self, piece: Bytes) {
        if let Some(stdin) = &self.stdin {
            let _ = stdin.send(piece).await;
        }
    }

    /// Closes stdin: ffmpeg flushes what it holds and exits.
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) {
        let _ = self.child.wait();
    }

    /// Why the process ended: `outcome` from the reader, the exit status and the end of stderr.
    pub fn failure(&mut self, outcome: Result<(), String>) -> String {
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

/// Reads `stdout` to its end in 64 KiB chunks, handing each to `take`; stops at the first
/// error `take` returns.
pub fn read_chunks(
    mut stdout: ChildStdout,
    mut take: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match stdout.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(read) => take(&buffer[..read])?,
            Err(error) => return Err(error.to_string()),
        }
    }
}
