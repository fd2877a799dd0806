//! The crate layout is the data flow (docs/ARCHITECTURE.md), and it stays so: `cargo tree` shows
//! what each crate may reach. The media crate depends on no runtime, storage, network or process
//! crate, and neither the edge worker nor playback on a database crate, the Kafka client (each
//! is handed the log) or another role's crate; a dependency that brings one back fails here.

use std::process::Command;

/// The packages `package` depends on (normal dependencies, its own included), by name.
fn dependencies(package: &str) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .args([
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"),
        ])
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// `package` depends on `expected` (so the listing is real) and reaches none of `forbidden`.
fn assert_layer(package: &str, expected: &str, forbidden: &[&str]) {
    let listed = dependencies(package);
    assert!(listed.iter().any(|name| name == expected), "{listed:?}");
    let reached: Vec<&String> = listed
        .iter()
        .filter(|name| forbidden.contains(&name.as_str()))
        .collect();
    assert!(reached.is_empty(), "{package} reaches {reached:?}");
}

#[test]
fn the_media_crate_does_no_io() {
    let io = [
        "tokio",
        "object_store",
        "rdkafka",
        "sea-orm",
        "sqlx",
        "reqwest",
        "ffmpeg-sidecar",
    ];
    assert_layer("sigma-media", "mp4-atom", &io);
}

/// The crates that open a database.
const DATABASE: [&str; 4] = ["sea-orm", "sqlx", "sea-orm-migration", "sigma-migrations"];

#[test]
fn the_edge_worker_crate_reaches_no_database_and_no_other_role() {
    let forbidden = [
        DATABASE.as_slice(),
        &["sigma-control-plane", "sigma-playback", "rdkafka"],
    ]
    .concat();
    assert_layer("sigma-edge-worker", "rml_rtmp", &forbidden);
}

#[test]
fn the_playback_crate_reaches_no_database_and_no_other_role() {
    let forbidden = [
        DATABASE.as_slice(),
        &["sigma-control-plane", "sigma-edge-worker", "rdkafka"],
    ]
    .concat();
    assert_layer("sigma-playback", "actix-web", &forbidden);
}

/// The domain and the metrics every role shares sit below the roles: neither reaches one.
#[test]
fn the_shared_crates_reach_no_role() {
    let roles = [
        "sigma-control-plane",
        "sigma-edge-worker",
        "sigma-playback",
        "tokio",
    ];
    assert_layer("sigma-shared", "serde", &roles);
    assert_layer("sigma-metrics", "prometheus", &roles);
}

/// The dashboard's server side only hands out the built page: the page reaches the platform
/// through the public API alone, like any integrator's code, never through a private path.
#[test]
fn the_dashboard_crate_reaches_no_sigma_crate() {
    let sigma = [
        "sigma-shared",
        "sigma-metrics",
        "sigma-event-log",
        "sigma-control-plane",
        "sigma-edge-worker",
        "sigma-playback",
        "sea-orm",
    ];
    assert_layer("sigma-dashboard", "rust-embed", &sigma);
}
