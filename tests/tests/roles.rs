//! A process of a scaled-out deployment starts only with what it must share with the rest: a
//! setting it would otherwise fill in for itself (a log or media of its own, keys drawn into
//! its data dir, its own addresses as the public URLs) would split it from the others, so it
//! refuses to start and names the setting. So does a process given a setting out of range.

use sigma_tests::process::{sigma_binary, SigmaConfig};

/// Runs `sigma {role}` with `config` and returns what it printed on stderr, once it has
/// refused to start.
async fn refusal(role: &str, config: &SigmaConfig) -> String {
    let output = tokio::process::Command::new(sigma_binary())
        .arg(role)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&config.env)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "sigma {role} started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_worker_without_a_shared_log_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = refusal("worker", &SigmaConfig::standalone(dir.path())).await;
    assert!(stderr.contains("SIGMA_KAFKA_BROKERS"), "{stderr}");
}

#[tokio::test]
async fn a_control_plane_without_the_shared_keys_or_the_public_urls_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let media = format!("file://{}", dir.path().join("media").display());
    // Nothing listens at these: the settings are checked before anything is opened.
    let complete = SigmaConfig::scale_out(dir.path(), "127.0.0.1:9", "postgres://127.0.0.1:9/x")
        .with("SIGMA_OBJECT_STORE_URL", media)
        .with("SIGMA_PUBLIC_HTTP_URL", "http://front.example")
        .with("SIGMA_PUBLIC_RTMP_URL", "rtmp://ingest.example");
    for missing in [
        "SIGMA_KAFKA_BROKERS",
        "SIGMA_OBJECT_STORE_URL",
        "SIGMA_ADMIN_KEY",
        "SIGMA_SIGNING_KEYS",
        "SIGMA_SECRETS_KEY",
        "SIGMA_PUBLIC_HTTP_URL",
        "SIGMA_PUBLIC_RTMP_URL",
    ] {
        let stderr = refusal("control", &complete.clone().without(missing)).await;
        assert!(
            stderr.contains(&format!("set {missing}")),
            "{missing}: {stderr}"
        );
    }
}

/// Each bound a setting has is checked before anything is opened, and the refusal names it.
#[tokio::test]
async fn a_setting_out_of_its_range_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens at these: the settings are checked before anything is opened.
    let config = SigmaConfig::scale_out(dir.path(), "127.0.0.1:9", "postgres://127.0.0.1:9/x");
    for (name, value, bound) in [
        // librdkafka would refuse these only when a component joins, restarting it forever.
        ("SIGMA_KAFKA_FETCH_WAIT_MS", "60000", "at most 59000"),
        (
            "SIGMA_KAFKA_RELAXED_FETCH_WAIT_MS",
            "60000",
            "at most 59000",
        ),
        ("SIGMA_LOG_PARTITIONS", "0", "between 1 and 1024"),
        ("SIGMA_LOG_PARTITIONS", "1025", "between 1 and 1024"),
        // An RTMP message's length is a 24-bit field.
        (
            "SIGMA_RTMP_MAX_MESSAGE_BYTES",
            "16777216",
            "between 1 and 16777215",
        ),
        ("SIGMA_NODE_TIMEOUT_MS", "0", "at least 1"),
    ] {
        let stderr = refusal("run", &config.clone().with(name, value)).await;
        assert!(
            stderr.contains(&format!("{name}=\"{value}\"")) && stderr.contains(bound),
            "{name}={value}: {stderr}"
        );
    }
}
