//! The packager against real media: ffmpeg encodes lavfi sources (H.264 with B-frames, AAC) into
//! FLV; the packager turns it into CMAF; ffmpeg and ffprobe must decode every frame of the
//! result, in order, with no errors — for audio+video, video-only and audio-only streams.

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use sigma_media::cmaf::{Output, Packager, PackagerConfig};
use sigma_media::flv;
use sigma_tests::probe;

const SECONDS: u32 = 4;
const FPS: u32 = 30;

/// Encodes `SECONDS` of test pattern and/or tone into an FLV file with 1 s GOPs.
fn encode_flv(dir: &Path, video: bool, audio: bool) -> Bytes {
    let path = dir.join("source.flv");
    let mut command = Command::new("ffmpeg");
    command.args(["-v", "error", "-y"]);
    if video {
        command.args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size=320x180:rate={FPS}:duration={SECONDS}"),
        ]);
    }
    if audio {
        command.args([
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=440:sample_rate=48000:duration={SECONDS}"),
        ]);
    }
    if video {
        // B-frames exercise composition offsets; a keyframe every second.
        command.args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-bf",
            "2",
            "-g",
            &FPS.to_string(),
            "-keyint_min",
            &FPS.to_string(),
            "-sc_threshold",
            "0",
        ]);
    }
    if audio {
        command.args(["-c:a", "aac", "-b:a", "96k"]);
    }
    let status = command
        .arg(&path)
        .status()
        .expect("ffmpeg is installed (make test installs it)");
    assert!(status.success(), "ffmpeg could not encode the source");
    Bytes::from(std::fs::read(&path).unwrap())
}

struct Packaged {
    file: std::path::PathBuf,
    parts: Vec<sigma_media::cmaf::Part>,
    segments: Vec<(u64, f64, u32)>,
}

/// Packages the FLV and writes init + every part, in order, as one fragmented MP4.
fn package(dir: &Path, source: &Bytes) -> Packaged {
    let mut packager = Packager::new(PackagerConfig {
        part_target_ms: 200,
        segment_target_ms: 1000,
    });
    let mut outputs = Vec::new();
    let mut video_frames = 0;
    for frame in flv::file_frames(source).expect("ffmpeg's FLV parses") {
        video_frames += u32::from(matches!(frame, flv::Frame::Video { .. }));
        outputs.extend(packager.push(frame).expect("packaging"));
    }
    outputs.extend(packager.finish().expect("finishing"));
    let (mut bytes, mut parts, mut segments) = (Vec::new(), Vec::new(), Vec::new());
    let mut frame_count = 0;
    let inits = outputs
        .iter()
        .filter(|o| matches!(o, Output::Init(_)))
        .count();
    assert_eq!(
        inits, 1,
        "one init segment for a stream whose configuration never changes"
    );
    for output in outputs {
        match output {
            Output::Init(init) => bytes.extend_from_slice(&init.bytes),
            Output::Part(part) => {
                bytes.extend_from_slice(&part.bytes);
                parts.push(part);
            }
            Output::SegmentEnd {
                segment,
                duration,
                parts,
                frames,
            } => {
                frame_count += frames;
                segments.push((segment, duration, parts));
            }
        }
    }
    let file = dir.join("packaged.mp4");
    std::fs::write(&file, bytes).unwrap();
    assert_eq!(
        frame_count, video_frames,
        "segments count their video frames"
    );
    assert_eq!(
        parts.iter().map(|part| part.frames).sum::<u32>(),
        video_frames
    );
    Packaged {
        file,
        parts,
        segments,
    }
}

/// `ffprobe` fields of every frame of one stream.
fn frames(file: &Path, stream: &str, entry: &str) -> Vec<String> {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            stream,
            "-show_entries",
            &format!("frame={entry}"),
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .expect("ffprobe is installed");
    assert!(
        output.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_end_matches(',').to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn audio_and_video_decode_frame_for_frame_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let packaged = package(dir.path(), &encode_flv(dir.path(), true, true));
    assert_eq!(probe::decode_errors(&packaged.file), "");

    let pts: Vec<f64> = frames(&packaged.file, "v:0", "pts_time")
        .iter()
        .map(|t| t.parse().unwrap_or_else(|_| panic!("pts {t:?}")))
        .collect();
    assert_eq!(pts.len() as u32, SECONDS * FPS, "every video frame decodes");
    for pair in pts.windows(2) {
        let step = pair[1] - pair[0];
        assert!(
            (step - 1.0 / f64::from(FPS)).abs() < 0.002,
            "presentation times out of order or uneven: {pair:?}"
        );
    }
    let audio = frames(&packaged.file, "a:0", "pts_time");
    let audio_seconds = audio.len() as f64 * 1024.0 / 48_000.0;
    assert!(
        (audio_seconds - f64::from(SECONDS)).abs() < 0.2,
        "audio covers {audio_seconds} s"
    );
    let first_audio: f64 = audio[0].parse().unwrap();
    assert!(
        first_audio.abs() < 0.1,
        "audio starts with the video (at {first_audio} s)"
    );

    // One segment per 1 s GOP, five 200 ms parts each; each segment starts on a keyframe.
    assert_eq!(
        packaged.segments.len() as u32,
        SECONDS,
        "{:?}",
        packaged.segments
    );
    for (segment, duration, parts) in &packaged.segments {
        assert!(
            (duration - 1.0).abs() < 0.04,
            "segment {segment} lasts {duration}"
        );
        assert_eq!(
            *parts,
            5,
            "segment {segment}: {:?}",
            packaged
                .parts
                .iter()
                .filter(|p| p.segment == *segment)
                .map(|p| p.duration)
                .collect::<Vec<_>>()
        );
    }
    for part in &packaged.parts {
        assert!(
            part.duration <= 0.2 + 1e-9,
            "part {}.{} lasts {}",
            part.segment,
            part.index,
            part.duration
        );
        assert!(
            part.duration >= 0.85 * 0.2 || part.index == 4,
            "part {}.{} is short: {}",
            part.segment,
            part.index,
            part.duration
        );
        assert_eq!(
            part.independent,
            part.index == 0,
            "part {}.{}",
            part.segment,
            part.index
        );
    }
    let keyframes = frames(&packaged.file, "v:0", "key_frame")
        .iter()
        .filter(|k| k.as_str() == "1")
        .count();
    assert_eq!(keyframes as u32, SECONDS);
}

#[test]
fn video_only_and_audio_only_streams_package_too() {
    let dir = tempfile::tempdir().unwrap();
    let video_only = package(dir.path(), &encode_flv(dir.path(), true, false));
    assert_eq!(probe::decode_errors(&video_only.file), "");
    assert_eq!(
        frames(&video_only.file, "v:0", "pts_time").len() as u32,
        SECONDS * FPS
    );

    let audio_dir = tempfile::tempdir().unwrap();
    let audio_only = package(audio_dir.path(), &encode_flv(audio_dir.path(), false, true));
    assert_eq!(probe::decode_errors(&audio_only.file), "");
    let audio_frames = frames(&audio_only.file, "a:0", "pts_time").len() as f64;
    assert!((audio_frames * 1024.0 / 48_000.0 - f64::from(SECONDS)).abs() < 0.2);
    assert!(audio_only
        .parts
        .iter()
        .all(|part| part.independent && part.duration <= 0.2 + 0.022));
}

/// The first configurations, keyframe, P-frame and audio frame of a real encode.
fn real_pieces(dir: &Path) -> (Vec<flv::Frame>, flv::Frame, flv::Frame, flv::Frame) {
    let frames = flv::file_frames(&encode_flv(dir, true, true)).unwrap();
    let configs = frames
        .iter()
        .filter(|frame| {
            matches!(
                frame,
                flv::Frame::VideoConfig(_) | flv::Frame::AudioConfig(_)
            )
        })
        .cloned()
        .collect();
    let find = |wanted: fn(&flv::Frame) -> bool| frames.iter().find(|f| wanted(f)).unwrap().clone();
    let keyframe = find(|frame| matches!(frame, flv::Frame::Video { keyframe: true, .. }));
    let p_frame = find(|frame| {
        matches!(
            frame,
            flv::Frame::Video {
                keyframe: false,
                ..
            }
        )
    });
    let audio = find(|frame| matches!(frame, flv::Frame::Audio { .. }));
    (configs, keyframe, p_frame, audio)
}

fn at(frame: &flv::Frame, ms: i64) -> flv::Frame {
    match frame.clone() {
        flv::Frame::Video {
            composition_offset,
            keyframe,
            data,
            ..
        } => flv::Frame::Video {
            dts: ms,
            composition_offset,
            keyframe,
            data,
        },
        flv::Frame::Audio { data, .. } => flv::Frame::Audio { dts: ms, data },
        other => other,
    }
}

/// Feeds a keyframe and `p_frames` P-frames (at 30 fps) within the first second, then `frame`
/// every `step_ms` for up to 60 s; returns when (in stream milliseconds after that second) the
/// packager refused, with its error's code. What the packager holds meanwhile stays under a
/// segment's byte cap.
fn refused_after(p_frames: i64, frame: &flv::Frame, step_ms: i64) -> Option<(i64, &'static str)> {
    let dir = tempfile::tempdir().unwrap();
    let (configs, keyframe, p_frame, _) = real_pieces(dir.path());
    let mut packager = Packager::new(PackagerConfig {
        part_target_ms: 200,
        segment_target_ms: 1000,
    });
    for config in configs {
        packager.push(config).unwrap();
    }
    packager.push(at(&keyframe, 0)).unwrap();
    for n in 1..=p_frames {
        packager.push(at(&p_frame, n * 33)).unwrap();
    }
    (1..=60_000 / step_ms).find_map(|step| {
        let ms = step * step_ms;
        let refused = packager.push(at(frame, 1_000 + ms)).err();
        assert!(packager.held_bytes() <= sigma_media::cmaf::MAX_SEGMENT_BYTES);
        refused.map(|error| (ms, error.code()))
    })
}

#[test]
fn a_stream_without_keyframes_is_refused_at_the_segment_cap() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, p_frame, _) = real_pieces(dir.path());
    let refused = refused_after(29, &p_frame, 33);
    let (ms, code) = refused.expect("60 s of P-frames were taken");
    assert_eq!(code, "no_keyframe");
    // The segment started at the keyframe, a second before.
    let cap = i64::from(sigma_media::cmaf::MAX_SEGMENT_MS) - 1_000;
    assert!((cap..cap + 200).contains(&ms), "refused at {ms} ms");
}

#[test]
fn audio_without_video_after_a_keyframe_is_refused_at_the_segment_cap() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, _, audio) = real_pieces(dir.path());
    let (ms, code) = refused_after(29, &audio, 21).expect("60 s of audio alone were taken");
    assert_eq!(code, "video_stalled");
    let cap = i64::from(sigma_media::cmaf::MAX_SEGMENT_MS);
    assert!((cap..cap + 200).contains(&ms), "refused at {ms} ms");
}

/// A single keyframe is held back (a sample's duration is the distance to the next), so no
/// segment ever starts: the audio after it is let go, and after a segment's cap of it the
/// stream ends as one whose video stopped.
#[test]
fn audio_after_a_lone_keyframe_is_refused_at_the_segment_cap() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, _, audio) = real_pieces(dir.path());
    let (ms, code) = refused_after(0, &audio, 21).expect("60 s of audio alone were taken");
    assert_eq!(code, "video_stalled");
    let cap = i64::from(sigma_media::cmaf::MAX_SEGMENT_MS) - 1_000;
    assert!((cap..cap + 1_200).contains(&ms), "refused at {ms} ms");
}

/// Where a stalled stream's media end, asked mid-part, is where they end once its packager
/// finishes: the input that takes over from there overlaps none of them.
#[test]
fn the_end_of_a_stream_cut_mid_part_is_known_before_it_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (configs, keyframe, p_frame, _) = real_pieces(dir.path());
    for p_frames in [0, 4, 7, 31, 45] {
        let start_ms = 60_000;
        let mut packager = Packager::new(PackagerConfig {
            part_target_ms: 200,
            segment_target_ms: 1000,
        })
        .starting_at(start_ms);
        assert_eq!(packager.end_ms(), None, "nothing taken in yet");
        let mut listed = 0.0;
        let mut add = |outputs: Vec<Output>| {
            for output in outputs {
                if let Output::Part(part) = output {
                    listed += part.duration;
                }
            }
        };
        for config in configs.clone() {
            add(packager.push(config).unwrap());
        }
        for n in 0..=p_frames {
            let frame = if n % 30 == 0 { &keyframe } else { &p_frame };
            add(packager.push(at(frame, n * 1000 / 30)).unwrap());
        }
        let end = packager.end_ms().expect("frames taken in");
        add(packager.finish().unwrap());
        let stored_end = start_ms as f64 + listed * 1000.0;
        assert!(
            (end as f64 - stored_end).abs() < 1.0,
            "{p_frames} P-frames: end {end} ms, stored up to {stored_end} ms"
        );
    }
}
