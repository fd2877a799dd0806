//! Which renditions a source gets, and the one ffmpeg command that makes them all. Pure.
//!
//! The source is always the top rendition, passed through untouched; the ladder adds the
//! configured rungs below its height (never upscaling). One decode feeds every encoder, and
//! every encoder puts its keyframes where the source has them (`-force_key_frames source`), so
//! the renditions' segments start at the same presentation times as the source's.

use std::fmt;

/// The default ladder: picture height and video bitrate (kbit/s) of each rung.
pub const DEFAULT_LADDER: &str = "1080:5000,720:2800,480:1400,360:800";

/// One rung as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rung {
    pub height: u32,
    pub video_kbps: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ladder {spec:?}: {reason} (expected `height:kbps` pairs, e.g. {DEFAULT_LADDER:?})")]
pub struct LadderSpecError {
    spec: String,
    reason: String,
}

/// Parses `height:kbps,height:kbps,…` (any order; heights even, 2..=4320; 50..=100000 kbps).
pub fn parse_ladder(spec: &str) -> Result<Vec<Rung>, LadderSpecError> {
    let error = |reason: String| LadderSpecError {
        spec: spec.to_owned(),
        reason,
    };
    let mut rungs = Vec::new();
    for item in spec
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (height, kbps) = item
            .split_once(':')
            .ok_or_else(|| error(format!("{item:?} has no `:`")))?;
        let height: u32 = height
            .trim_end_matches('p')
            .parse()
            .map_err(|_| error(format!("{height:?} is not a height")))?;
        let video_kbps: u32 = kbps
            .trim_end_matches('k')
            .parse()
            .map_err(|_| error(format!("{kbps:?} is not a bitrate")))?;
        if !(2..=4320).contains(&height) || !height.is_multiple_of(2) {
            return Err(error(format!("height {height} must be even, 2 to 4320")));
        }
        if !(50..=100_000).contains(&video_kbps) {
            return Err(error(format!("{video_kbps} kbit/s is out of 50..=100000")));
        }
        if rungs.iter().any(|rung: &Rung| rung.height == height) {
            return Err(error(format!("height {height} appears twice")));
        }
        rungs.push(Rung { height, video_kbps });
    }
    if rungs.is_empty() {
        return Err(error("no rungs".into()));
    }
    rungs.sort_by_key(|rung| std::cmp::Reverse(rung.height));
    Ok(rungs)
}

/// A transcoded rendition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendition {
    /// `720p`: in URLs and object paths.
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub video_kbps: u32,
}

impl fmt::Display for Rendition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}x{}, {} kbit/s)",
            self.name, self.width, self.height, self.video_kbps
        )
    }
}

/// The rungs strictly below a `width`x`height` source, highest first, each keeping the
/// source's aspect ratio with an even width.
pub fn plan(rungs: &[Rung], (width, height): (u32, u32)) -> Vec<Rendition> {
    if width == 0 || height == 0 {
        return Vec::new();
    }
    let mut renditions: Vec<Rendition> = rungs
        .iter()
        .filter(|rung| rung.height < height)
        .map(|rung| {
            let scaled = u64::from(width) * u64::from(rung.height) / u64::from(height);
            let even = (scaled.div_ceil(2) * 2).max(2) as u32;
            Rendition {
                name: format!("{}p", rung.height),
                width: even,
                height: rung.height,
                video_kbps: rung.video_kbps,
            }
        })
        .collect();
    renditions.sort_by_key(|rendition| std::cmp::Reverse(rendition.height));
    renditions
}

/// The ffmpeg arguments (after the program name) that read the source as fragmented MP4 on
/// stdin and write every rendition's video, plus the source's audio copied once, as one
/// fragmented MP4 on stdout: video tracks 1..=n in `renditions` order, then audio.
pub fn ffmpeg_args(renditions: &[Rendition], audio: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "level+warning",
        // Timestamps stay the source's, so renditions line up with it.
        "-copyts",
        "-f",
        "mp4",
        "-i",
        "pipe:0",
    ]
    .map(String::from)
    .to_vec();
    let outputs: Vec<String> = (0..renditions.len()).map(|i| format!("[v{i}]")).collect();
    args.push("-filter_complex".into());
    args.push(cascade(renditions));
    for (i, (rendition, output)) in renditions.iter().zip(&outputs).enumerate() {
        let kbps = rendition.video_kbps;
        args.extend([
            "-map".into(),
            output.clone(),
            format!("-b:v:{i}"),
            format!("{kbps}k"),
            format!("-maxrate:v:{i}"),
            format!("{}k", kbps * 11 / 10),
            format!("-bufsize:v:{i}"),
            format!("{}k", kbps * 2),
        ]);
    }
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            // No B-frames and no lookahead: a frame leaves the encoder as soon as it is coded.
            "-tune",
            "zerolatency",
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
            // Keyframes exactly where the source has them, and nowhere else.
            "-force_key_frames",
            "source",
            "-g",
            "100000",
            "-sc_threshold",
            "0",
            "-fps_mode",
            "passthrough",
        ]
        .map(String::from),
    );
    if audio {
        args.extend(["-map", "0:a:0", "-c:a", "copy"].map(String::from));
    }
    args.extend(
        [
            "-f",
            "mp4",
            // Fragments of at most 100 ms: little waits in the muxer. (A fragment per frame
            // loses frames in ffmpeg 5.1's muxer when several tracks interleave.)
            "-movflags",
            "empty_moov+default_base_moof+frag_keyframe",
            "-frag_duration",
            "100000",
            "-flush_packets",
            "1",
            "pipe:1",
        ]
        .map(String::from),
    );
    args
}

/// The filter graph: the source is scaled to the tallest rung, and each rung is scaled from the
/// one above it (`[v{i}]` is rung `i`'s picture), so only the first scale reads full-size
/// pictures. Renditions are tallest first.
fn cascade(renditions: &[Rendition]) -> String {
    let mut graph = Vec::new();
    let mut input = "[0:v]".to_owned();
    for (i, rendition) in renditions.iter().enumerate() {
        let scale = format!("{input}scale={}:{}", rendition.width, rendition.height);
        if i + 1 == renditions.len() {
            graph.push(format!("{scale}[v{i}]"));
        } else {
            graph.push(format!("{scale},split=2[v{i}][c{i}]"));
            input = format!("[c{i}]");
        }
    }
    graph.join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladders_parse_sorted_and_bad_ones_say_why() {
        let rungs = parse_ladder("360:800, 720p:2800k,480:1400").unwrap();
        assert_eq!(
            rungs.iter().map(|r| r.height).collect::<Vec<_>>(),
            [720, 480, 360]
        );
        assert_eq!(parse_ladder(DEFAULT_LADDER).unwrap().len(), 4);
        for bad in [
            "",
            "720",
            "720:fast",
            "721:800",
            "720:1",
            "720:800,720:900",
            "0:800",
        ] {
            assert!(parse_ladder(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn never_upscales_and_keeps_the_aspect_ratio() {
        let rungs = parse_ladder(DEFAULT_LADDER).unwrap();
        let names = |source| {
            plan(&rungs, source)
                .into_iter()
                .map(|r| format!("{}:{}x{}", r.name, r.width, r.height))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names((1280, 720)),
            ["480p:854x480", "360p:640x360"],
            "the 720p rung is the source itself"
        );
        assert_eq!(names((1920, 1080)).len(), 3);
        assert!(names((640, 360)).is_empty());
        assert_eq!(
            names((720, 1280))[0],
            "1080p:608x1080",
            "portrait sources keep their shape"
        );
        assert!(names((0, 0)).is_empty());
    }

    #[test]
    fn one_decode_feeds_every_encoder() {
        let renditions = plan(&parse_ladder("360:800,180:300").unwrap(), (1280, 720));
        let args = ffmpeg_args(&renditions, true).join(" ");
        assert!(
            args.contains(
                "-filter_complex [0:v]scale=640:360,split=2[v0][c0];[c0]scale=320:180[v1]"
            ),
            "{args}"
        );
        assert_eq!(args.matches("-i ").count(), 1);
        assert!(args.contains("-map [v0] -b:v:0 800k"));
        assert!(args.contains("-map [v1] -b:v:1 300k"));
        assert!(args.contains("-force_key_frames source"));
        assert!(args.contains("-map 0:a:0 -c:a copy"));
        assert!(!ffmpeg_args(&renditions, false).join(" ").contains("0:a"));
    }
}
