//! ffmpeg as the publisher: a lavfi test pattern (and tone) pushed over RTMP, as OBS would.

use std::process::Stdio;

/// How the test stream is made.
#[derive(Clone, Copy, Debug, Default)]
pub struct Publish {
    /// Paced in real time (`-re`), as a camera is; otherwise as fast as ffmpeg can.
    pub real_time: bool,
    /// x264's zero-latency tuning (no B-frames, no lookahead); otherwise two B-frames.
    pub zero_latency: bool,
    /// Draw the wall clock into the pictures (see [`crate::browser::stamp_filter`]); no audio.
    pub stamped: bool,
}

/// An ffmpeg command publishing `seconds` of 320x180, 30 fps test pattern with 1 s GOPs to `url`.
pub fn publisher(url: &str, seconds: u32, options: Publish) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("ffmpeg");
    command.args(["-v", "error"]);
    if options.real_time {
        command.arg("-re");
    }
    command.args([
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size=320x180:rate=30:duration={seconds}"),
    ]);
    if options.stamped {
        command.args(["-vf", &crate::browser::stamp_filter()]);
    } else {
        command.args([
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=440:sample_rate=48000:duration={seconds}"),
        ]);
        command.args(["-c:a", "aac"]);
    }
    command.args(["-c:v", "libx264", "-preset", "veryfast", "-g", "30"]);
    if options.zero_latency {
        command.args(["-tune", "zerolatency"]);
    } else {
        command.args(["-bf", "2"]);
    }
    command
        .args(["-f", "flv", url])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Encodes media once, as fast as ffmpeg can, with `args` (inputs and codec options) into an
/// FLV file at `path`: a heavy stream is then pushed by [`replay`] at little CPU cost.
pub async fn prepare(path: &std::path::Path, args: &[&str]) {
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .args(["-f", "flv"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .await
        .expect("ffmpeg is installed");
    assert!(
        status.success(),
        "ffmpeg could not prepare {}",
        path.display()
    );
}

/// An ffmpeg command pushing the file at `path` to `url` in real time, stream-copied, once or
/// over and over. (Looped, a stream that ends early in the file — a single picture before
/// audio alone — holds the others back: the muxer waits for its next packet.)
pub fn replay(path: &std::path::Path, url: &str, looped: bool) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("ffmpeg");
    command.args(["-v", "error", "-re"]);
    if looped {
        command.args(["-stream_loop", "-1"]);
    }
    command
        .arg("-i")
        .arg(path)
        // A sparse stream (one picture, then audio alone) must not hold the others back for
        // the muxer's default 10 s.
        .args([
            "-c",
            "copy",
            "-max_interleave_delta",
            "100000",
            "-f",
            "flv",
            url,
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Publishes `seconds` of the test pattern to `channel` (as the API returned it) in real
/// time, as a camera does; the publisher is killed when dropped.
pub fn live(channel: &serde_json::Value, seconds: u32) -> tokio::process::Child {
    publisher(
        channel["rtmp_url"].as_str().expect("a channel's rtmp_url"),
        seconds,
        Publish {
            real_time: true,
            ..Publish::default()
        },
    )
    .spawn()
    .expect("ffmpeg is installed")
}

/// The source rendition's media playlist of `channel` on the server at `url`.
pub fn source_playlist(url: &str, channel: &serde_json::Value) -> String {
    format!(
        "{url}/live/{}/source.m3u8",
        channel["id"].as_str().expect("a channel's id")
    )
}

/// What an encoder refused at connect printed: it exits with an error soon after it connects,
/// printing what the server said.
pub async fn refusal(url: &str, options: Publish) -> String {
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        publisher(url, 5, options).output(),
    )
    .await
    .expect("a refused encoder exits")
    .expect("ffmpeg is installed");
    assert!(!output.status.success(), "the encoder is refused");
    String::from_utf8_lossy(&output.stderr).into_owned()
}
