//! Headless Chromium driven through playwright-core: a real viewer (hls.js, driven by
//! `tests/player/play.mjs`) and a real user of the dashboard (`tests/dashboard/*.mjs`).
//! `make test` installs hls.js and playwright-core under `~/.cache/sigma/node`.

use serde::Deserialize;

/// What the viewer saw.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Viewing {
    pub supported: bool,
    pub fatal: Vec<String>,
    pub errors: u32,
    /// What the first few errors were (type, details, status, URL).
    #[serde(default)]
    pub error_details: Vec<String>,
    pub stalls: u32,
    pub stall_seconds: f64,
    pub first_frame_seconds: Option<f64>,
    pub advanced_seconds: f64,
    /// hls.js's own latency estimate (from program date-times), when it has one.
    pub latency_seconds: Option<f64>,
    /// Glass-to-glass latency of each displayed frame, read from the stamp the publisher drew
    /// into it (stamped streams only).
    #[serde(default)]
    pub latencies: Vec<f64>,
    /// The renditions' heights, as the multivariant playlist listed them.
    #[serde(default)]
    pub level_heights: Vec<u32>,
    /// The renditions (indices into `level_heights`) playback switched to, in order.
    #[serde(default)]
    pub switched_to: Vec<usize>,
}

/// How the viewer watches.
#[derive(Clone, Copy, Debug, Default)]
pub struct Watch {
    pub low_latency: bool,
    /// Read the publisher's wall-clock stamp back from every displayed frame.
    pub stamped: bool,
    /// Ask for the next rendition every 2 s.
    pub switching: bool,
}

fn node_modules() -> String {
    std::env::var("SIGMA_NODE_MODULES").unwrap_or_else(|_| {
        format!(
            "{}/.cache/sigma/node/node_modules",
            std::env::var("HOME").unwrap_or_default()
        )
    })
}

/// Watches `url` for `seconds` (see `tests/player/play.mjs`).
pub async fn watch(url: &str, seconds: u32, how: Watch) -> Viewing {
    run(
        "player/play.mjs",
        &[
            url,
            &seconds.to_string(),
            &how.low_latency.to_string(),
            &how.stamped.to_string(),
            &how.switching.to_string(),
        ],
    )
    .await
}

/// Runs one of the browser scripts (`script`, under `tests/`) with `args`, and reads the JSON
/// report it prints.
pub async fn run<T: serde::de::DeserializeOwned>(script: &str, args: &[&str]) -> T {
    let script = format!("{}/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .args(args)
        .env("SIGMA_NODE_MODULES", node_modules())
        .kill_on_drop(true)
        .output()
        .await
        .expect("node is installed");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{script} output ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The ffmpeg video filter that draws the wall clock (ms, mod 2^24) into each picture as 24
/// boxes along the top of a 320-pixel-wide frame, as `play.mjs` reads them back. It stamps
/// the time the filter processes the frame, i.e. capture time for a real-time (`-re`) source.
pub fn stamp_filter() -> String {
    let mut filter =
        String::from("drawbox=x=0:y=0:w=320:h=18:color=black:t=fill,setpts=RTCTIME/1000000/TB");
    for bit in 0..24 {
        filter.push_str(&format!(
            ",drawbox=x={}:y=4:w=10:h=10:color=white:t=fill:enable='eq(mod(floor(t*1000/pow(2\\,{bit}))\\,2)\\,1)'",
            8 + 12 * bit
        ));
    }
    filter.push_str(",setpts=PTS-STARTPTS");
    filter
}
