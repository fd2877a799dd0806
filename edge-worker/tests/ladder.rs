//! The transcoding ladder against real ffmpeg: a 640x360 source (H.264 with B-frames, AAC) is
//! packaged, fed to one ffmpeg process, and every rendition must come back at its size, with
//! every frame, its keyframes at the source's presentation times and its segments cut where
//! the source's are. Killing ffmpeg mid-stream is reported and the ladder restarts.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use sigma_media::cmaf::{Output, Packager, PackagerConfig};
use sigma_media::flv;
use sigma_edge_worker::ladder::{Ladder, LadderEvent, LadderInput, LadderSpec};
use sigma_media::ladder::{parse_ladder, plan};
use sigma_tests::probe;
use tokio::sync::mpsc;

const FPS: u32 = 30;
const PACKAGING: PackagerConfig = PackagerConfig {
    part_target_ms: 200,
    segment_target_ms: 1000,
};

/// `seconds` of 640x360 test pattern and tone as FLV, a keyframe every second, two B-frames.
fn encode_flv(dir: &Path, seconds: u32) -> Bytes {
    let path = dir.join("source.flv");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=size=640x360:rate={FPS}:duration={seconds}"
        ))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=440:sample_rate=48000:duration={seconds}"
        ))
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "30",
        ])
        .args(["-keyint_min", "30", "-sc_threshold", "0", "-c:a", "aac"])
        .arg(&path)
        .status()
        .expect("ffmpeg is installed (make test installs it)");
    assert!(status.success());
    Bytes::from(std::fs::read(&path).unwrap())
}

/// The source packaged as the ingest does it.
fn package(source: &Bytes) -> Vec<Output> {
    let mut packager = Packager::new(PACKAGING);
    let mut outputs = Vec::new();
    for frame in flv::file_frames(source).unwrap() {
        outputs.extend(packager.push(frame).unwrap());
    }
    outputs.extend(packager.finish().unwrap());
    outputs
}

fn as_input(output: &Output) -> Option<LadderInput> {
    match output {
        Output::Init(init) => Some(LadderInput::Init(init.bytes.clone())),
        Output::Part(part) => Some(LadderInput::Part {
            bytes: part.bytes.clone(),
            independent: part.independent,
        }),
        Output::SegmentEnd { .. } => None,
    }
}

/// What one stream of outputs amounts to: its bytes as one file, and its segments' durations.
struct Track {
    bytes: Vec<u8>,
    segments: Vec<f64>,
}

fn collect<'a>(outputs: impl IntoIterator<Item = &'a Output>) -> Track {
    let mut track = Track {
        bytes: Vec::new(),
        segments: Vec::new(),
    };
    for output in outputs {
        match output {
            Output::Init(init) => track.bytes.extend_from_slice(&init.bytes),
            Output::Part(part) => track.bytes.extend_from_slice(&part.bytes),
            Output::SegmentEnd { duration, .. } => track.segments.push(*duration),
        }
    }
    track
}

fn spec() -> LadderSpec {
    LadderSpec {
        renditions: plan(&parse_ladder("240:400,180:200").unwrap(), (640, 360)),
        audio: true,
        packaging: PACKAGING,
    }
}

#[tokio::test]
async fn one_ffmpeg_makes_every_rendition_aligned_with_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let source = package(&encode_flv(dir.path(), 6));
    let (events, mut reports) = mpsc::unbounded_channel();
    let mut ladder = Ladder::start(spec(), events);
    for input in source.iter().filter_map(as_input) {
        ladder.feed(input).expect("six seconds fit in the queue");
    }
    ladder.finish().await;

    let mut renditions: Vec<Vec<Output>> = vec![Vec::new(), Vec::new()];
    let mut starts = 0;
    while let Ok(report) = reports.try_recv() {
        match report {
            LadderEvent::Output { rendition, output } => renditions[rendition].push(output),
            LadderEvent::Started { .. } => starts += 1,
            LadderEvent::Failed { error, .. } => panic!("the ladder failed: {error}"),
        }
    }
    assert_eq!(starts, 1, "one ffmpeg process for every rendition");

    let source_track = collect(&source);
    let source_file = dir.path().join("source.mp4");
    std::fs::write(&source_file, &source_track.bytes).unwrap();
    let source_keys = probe::keyframes(&source_file);
    assert_eq!(
        probe::video_frames(&source_file),
        6 * FPS as usize,
        "the packaged source"
    );
    assert_eq!(source_keys.len(), 6, "{source_keys:?}");
    for (rendition, (expected_width, expected_height)) in
        renditions.iter().zip([(426, 240), (320, 180)])
    {
        let track = collect(rendition);
        let file = dir.path().join(format!("{expected_height}.mp4"));
        std::fs::write(&file, &track.bytes).unwrap();
        assert_eq!(
            probe::video(&file, "stream=codec_name,width,height"),
            format!("h264,{expected_width},{expected_height}")
        );
        assert_eq!(
            probe::video_frames(&file),
            6 * FPS as usize,
            "every frame decodes"
        );
        assert_eq!(
            probe::keyframes(&file),
            source_keys,
            "keyframes where the source has them"
        );
        assert_eq!(track.segments.len(), source_track.segments.len());
        for (ours, theirs) in track.segments.iter().zip(&source_track.segments) {
            assert!(
                (ours - theirs).abs() < 0.04,
                "segments cut where the source's are: {:?} vs {:?}",
                track.segments,
                source_track.segments
            );
        }
    }
}

#[tokio::test]
async fn a_killed_ffmpeg_is_reported_and_the_ladder_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let source = package(&encode_flv(dir.path(), 8));
    let (events, mut reports) = mpsc::unbounded_channel();
    let mut ladder = Ladder::start(spec(), events);
    let inputs: Vec<LadderInput> = source.iter().filter_map(as_input).collect();
    let mut killed = false;
    let mut restarted = false;
    let mut failures = Vec::new();
    let mut late_segments = 0;
    // Fed at the pace of a live source: one 200 ms part every 100 ms.
    for (position, input) in inputs.into_iter().enumerate() {
        ladder.feed(input).expect("the queue keeps up");
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Ok(report) = reports.try_recv() {
            match report {
                LadderEvent::Started { pid } if !killed && position > 10 => {
                    unreachable!("pid {pid} started twice before the kill")
                }
                LadderEvent::Started { pid } if !killed => {
                    // Let it produce a little, then kill it as a crash would.
                    tokio::time::sleep(Duration::from_millis(800)).await;
                    Command::new("kill")
                        .args(["-9", &pid.to_string()])
                        .status()
                        .unwrap();
                    killed = true;
                }
                LadderEvent::Started { .. } => restarted = true,
                LadderEvent::Failed { error, restarting } => {
                    assert!(restarting, "{error}");
                    failures.push(error);
                }
                LadderEvent::Output {
                    output: Output::SegmentEnd { .. },
                    ..
                } if restarted => late_segments += 1,
                LadderEvent::Output { .. } => {}
            }
        }
    }
    ladder.finish().await;
    while let Ok(report) = reports.try_recv() {
        if let LadderEvent::Output {
            output: Output::SegmentEnd { .. },
            ..
        } = report
        {
            late_segments += 1;
        }
    }
    assert!(killed);
    assert_eq!(failures.len(), 1, "one failure reported: {failures:?}");
    assert!(restarted, "ffmpeg started again");
    assert!(
        late_segments >= 4,
        "renditions go on after the restart: {late_segments}"
    );
}
