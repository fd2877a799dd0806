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
