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

fn reaches(package: &str, forbidden: &[&str]) -> Vec<String> {
    dependencies(package)
        .into_iter()
        .filter(|name| forbidden.contains(&name.as_str()))
        .collect()
}

#[test]
fn the_media_crate_does_no_io() {
    let listed = dependencies("sigma-media");
    assert!(listed.iter().any(|name| name == "mp4-atom"), "{listed:?}");
    let io = [
        "tokio",
        "object_store",
        "rdkafka",
        "sea-orm",
        "sqlx",
        "reqwest",
        "ffmpeg-sidecar",
    ];
    assert_eq!(reaches("sigma-media", &io), Vec::<String>::new());
}

/// The crates that open a database.
const DATABASE: [&str; 4] = ["sea-orm", "sqlx", "sea-orm-migration", "sigma-migrations"];

#[test]
fn the_edge_worker_crate_reaches_no_database_and_no_other_role() {
    let listed = dependencies("sigma-edge-worker");
    assert!(listed.iter().any(|name| name == "rml_rtmp"), "{listed:?}");
    let forbidden = [
        DATABASE.as_slice(),
        &["sigma-control-plane", "sigma-playback", "rdkafka"],
    ]
    .concat();
    assert_eq!(
        reaches("sigma-edge-worker", &forbidden),
        Vec::<String>::new()
    );
}

#[test]
fn the_playback_crate_reaches_no_database_and_no_other_role() {
    let listed = dependencies("sigma-playback");
    assert!(listed.iter().any(|name| name == "actix-web"), "{listed:?}");
    let forbidden = [
        DATABASE.as_slice(),
        &["sigma-control-plane", "sigma-edge-worker", "rdkafka"],
    ]
    .concat();
    assert_eq!(reaches("sigma-playback", &forbidden), Vec::<String>::new());
}
