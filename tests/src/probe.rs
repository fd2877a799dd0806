//! ffprobe as the judge of media files: what a real decoder says about a file's video.

use std::path::Path;

/// `-show_entries entries` of the first video stream, as CSV without keys (frames counted,
/// so `stream=nb_read_frames` works).
pub fn video(file: &Path, entries: &str) -> String {
    let output = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", entries, "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe is installed (make test installs it)");
    assert!(
        output.status.success(),
        "ffprobe {}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("ffprobe prints text")
        .trim()
        .to_owned()
}

/// Frames a decoder reads from the first video stream.
pub fn video_frames(file: &Path) -> usize {
    video(file, "stream=nb_read_frames").parse().unwrap_or(0)
}

/// Presentation times (ms) of the first video stream's keyframes.
pub fn keyframes(file: &Path) -> Vec<i64> {
    video(file, "packet=pts_time,flags")
        .lines()
        .filter(|line| line.contains('K'))
        .map(|line| {
            let pts: f64 = line
                .split(',')
                .next()
                .unwrap_or_default()
                .parse()
                .unwrap_or(-1.0);
            (pts * 1000.0).round() as i64
        })
        .collect()
}

/// The file's duration in seconds, as its container says.
pub fn duration(file: &Path) -> f64 {
    let output = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .expect("ffprobe is installed");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(f64::NAN)
}

/// Decodes the whole file with ffmpeg; returns its complaints (empty when it decodes cleanly).
pub fn decode_errors(file: &Path) -> String {
    let output = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg is installed");
    assert!(
        output.status.success(),
        "ffmpeg could not read {}",
        file.display()
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Plays `input` (ffmpeg input options then `-i url`) with ffmpeg as a player, up to `output`
/// options (e.g. `-t 55`); asserts it decodes with no error and returns the presentation
/// timestamp of every video frame, in order (ffmpeg's framecrc).
pub async fn play_frames(input: &[&str], output: &[&str]) -> Vec<i64> {
    let result = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error"])
        .args(input)
        .args(["-map", "0:v:0"])
        .args(output)
        .args(["-f", "framecrc", "-"])
        .output()
        .await
        .expect("ffmpeg is installed");
    assert!(
        result.status.success(),
        "ffmpeg could not play {input:?}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&result.stderr),
        "",
        "no decode errors"
    );
    String::from_utf8(result.stdout)
        .expect("framecrc is text")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(',').nth(1)?.trim().parse().ok())
        .collect()
}
