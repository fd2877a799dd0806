//! The transcoding ladder's cost: CPU-seconds per minute of output for the whole ladder in ONE
//! ffmpeg process (decode once, split, encode every rung: what Sigma runs) against one process
//! per rendition (each decoding the source again), and the tallest source whose ladder this
//! machine transcodes faster than real time.
//!
//! Both variants run the exact arguments Sigma runs (`ladder::plan::ffmpeg_args`, one rendition
//! each for the per-rendition variant) on the same fragmented-MP4 source fed on stdin, as fast as
//! ffmpeg goes; CPU time is the children's user + system time (getrusage), speed is media
//! seconds per wall second.
//!
//! Run: `make bench` (or `cargo run --release -p sigma-bench --bin ladder`). Writes its section
//! of docs/BENCHMARKS.md.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sigma_bench::report::write_section;
use sigma_media::ladder::{parse_ladder, plan, Rendition, DEFAULT_LADDER};

/// Seconds of source media per run.
const SECONDS: u32 = 20;

/// A broadcaster's bitrate for a picture height (what OBS suggests for 30 fps).
fn source_kbps(height: u32) -> u32 {
    match height {
        1440.. => 12_000,
        1080.. => 6_000,
        720.. => 3_500,
        _ => 1_500,
    }
}

/// `SECONDS` of `width`x`height` 30 fps test pattern with film-like grain and a tone, H.264 at
/// a broadcaster's bitrate (2 s GOPs, B-frames) + AAC, as the fragmented MP4 the source
/// packager makes. (A clean test pattern compresses to almost nothing and decodes for free,
/// which no camera does.)
fn source(dir: &Path, (width, height): (u32, u32)) -> PathBuf {
    let kbps = source_kbps(height);
    let path = dir.join(format!("source-{height}.mp4"));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=size={width}x{height}:rate=30:duration={SECONDS}"
        ))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=440:sample_rate=48000:duration={SECONDS}"
        ))
        .args(["-vf", "noise=alls=12:allf=t"])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-g", "60"])
        .args(["-bf", "2", "-b:v", &format!("{kbps}k")])
        .args([
            "-maxrate",
            &format!("{kbps}k"),
            "-bufsize",
            &format!("{}k", 2 * kbps),
        ])
        .args(["-c:a", "aac", "-f", "mp4"])
        .args(["-movflags", "empty_moov+default_base_moof+frag_keyframe"])
        .arg(&path)
        .status()
        .expect("ffmpeg is installed");
    assert!(status.success(), "encoding the source");
    path
}

/// CPU time (user + system) of every child waited for so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given; RUSAGE_CHILDREN is always valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// One run of the ladder's ffmpeg for `renditions` over the source: (CPU time, wall time).
fn run(source: &Path, renditions: &[Rendition]) -> (Duration, Duration) {
    let input = std::fs::read(source).unwrap();
    let before = children_cpu();
    let started = Instant::now();
    let mut child = Command::new("ffmpeg")
        .args(sigma_media::ladder::plan::ffmpeg_args(renditions, true))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    assert!(
        child.wait().unwrap().success(),
        "the ladder's ffmpeg failed"
    );
    writer.join().unwrap();
    (children_cpu() - before, started.elapsed())
}

fn names(renditions: &[Rendition]) -> String {
    renditions
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(" + ")
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let rungs = parse_ladder(DEFAULT_LADDER).unwrap();
    let per_minute = |cpu: Duration| cpu.as_secs_f64() * 60.0 / f64::from(SECONDS);
    let mut rows = Vec::new();
    let mut fastest_real_time = None;
    for size in [(2560, 1440), (1920, 1080), (1280, 720), (854, 480)] {
        let file = source(dir.path(), size);
        let renditions = plan(&rungs, size);
        let (one_cpu, one_wall) = run(&file, &renditions);
        let mut each_cpu = Duration::ZERO;
        for rendition in &renditions {
            each_cpu += run(&file, std::slice::from_ref(rendition)).0;
        }
        let speed = f64::from(SECONDS) / one_wall.as_secs_f64();
        if speed >= 1.0 && fastest_real_time.is_none() {
            fastest_real_time = Some(format!("{}p source → {}", size.1, names(&renditions)));
        }
        println!(
            "{}p → {}: one process {:.1} CPU-s/min, one per rendition {:.1}, speed {speed:.2}x",
            size.1,
            names(&renditions),
            per_minute(one_cpu),
            per_minute(each_cpu)
        );
        rows.push(format!(
            "| {}p | {} | {:.1} | {:.1} | {:.2}× | {speed:.2}× |",
            size.1,
            names(&renditions),
            per_minute(one_cpu),
            per_minute(each_cpu),
            one_cpu.as_secs_f64() / each_cpu.as_secs_f64()
        ));
    }
    let body = format!(
        "## Transcoding ladder (`cargo run --release -p sigma-bench --bin ladder`)\n\n\
         {SECONDS} s of 30 fps test pattern with grain, H.264 at a broadcaster's bitrate (12 / 6 / 3.5 / \
         1.5 Mbit/s for 1440p / 1080p / 720p / 480p, 2 s GOPs, B-frames) + AAC per source, fed on \
         stdin as fragmented MP4 to the exact ffmpeg arguments Sigma runs (x264 `veryfast`, \
         `zerolatency`, keyframes where the source has them, audio copied once; one process scales \
         each rung from the one above it), on the default \
         ladder `{DEFAULT_LADDER}` (rungs below the source only). CPU = user + system time of \
         ffmpeg; speed = media seconds per wall second, ffmpeg running as fast as it can on this \
         2-core machine (real time needs ≥ 1×).\n\n\
         | source | renditions | one process (CPU-s per min) | one per rendition (CPU-s per min) | ratio (target ≤ 0.7×) | speed, one process |\n\
         |---|---|---|---|---|---|\n{}\n\n\
         With one rung both variants are the same single process (that row's ratio is run-to-run \
         noise); the saving grows with the rungs that share one decode and the cascaded scales. \
         Highest ladder that stays real time here: {}.\n",
        rows.join("\n"),
        fastest_real_time.unwrap_or_else(|| "none of these".into())
    );
    write_section("ladder", &body).expect("writing docs/BENCHMARKS.md");
}
