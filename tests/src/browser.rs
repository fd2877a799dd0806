//! A real viewer: hls.js in headless Chromium, driven by `tests/player/play.mjs` through
//! playwright-core. `make test` installs both under `~/.cache/sigma/node`.

use serde::Deserialize;

/// What the viewer saw.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Viewing {
    pub supported: bool,
    pub fatal: Vec<String>,
    pub errors: u32,
    pub stalls: u32,
    pub stall_seconds: f64,
    pub first_frame_seconds: Option<f64>,
    pub advanced_seconds: f64,
    /// hls.js's own latency estimate (from program date-times), when it has one.
    pub latency_seconds: Option<f64>,
}

fn node_modules() -> String {
    std::env::var("SIGMA_NODE_MODULES").unwrap_or_else(|_| {
        format!(
            "{}/.cache/sigma/node/node_modules",
            std::env::var("HOME").unwrap_or_default()
        )
    })
}

/// Watches `url` for `seconds`.
pub async fn watch(url: &str, seconds: u32, low_latency: bool) -> Viewing {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/player/play.mjs");
    let output = tokio::process::Command::new("node")
        .args([script, url, &seconds.to_string(), &low_latency.to_string()])
        .env("SIGMA_NODE_MODULES", node_modules())
        .kill_on_drop(true)
        .output()
        .await
        .expect("node is installed");
    assert!(
        output.status.success(),
        "the player failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "player output ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
