//! The README's curl walk-through, run as written against a fresh standalone process: every
//! command must succeed and the event history it prints must be the one the README shows.

use sigma_tests::process::SigmaConfig;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md")
}

/// The shell block between the walk-through markers.
fn walkthrough_script(readme: &str) -> String {
    let block = readme
        .split("<!-- walkthrough:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- walkthrough:end -->").next())
        .expect("walk-through markers in the README");
    block
        .trim()
        .trim_start_matches("```sh")
        .trim_end_matches("```")
        .to_owned()
}

/// The block the README says the last command prints.
fn promised_history(readme: &str) -> String {
    let after = readme
        .split("The last command prints:")
        .nth(1)
        .expect("the promised output");
    after
        .split("```")
        .nth(1)
        .expect("a fenced block")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn the_readme_walkthrough_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = SigmaConfig::standalone(dir.path());
    let sigma = config.start().await;
    let text = readme();

    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &walkthrough_script(&text)])
        .env("SIGMA", &sigma.url)
        .env("ADMIN_KEY", &sigma.admin_key)
        .output()
        .await
        .expect("running bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the walk-through failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.trim_end().ends_with(&promised_history(&text)),
        "the event history differs from the README's:\n{stdout}"
    );
    assert!(
        stdout.contains("\"latency_mode\": \"ultra_low\""),
        "{stdout}"
    );
    assert!(stdout.contains("\"dvr_window_seconds\": 3600"), "{stdout}");
}

#[tokio::test]
async fn a_generated_admin_key_is_kept_in_the_data_dir_as_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let config = SigmaConfig::standalone(dir.path());
    let sigma = config.start().await;
    let stored = std::fs::read_to_string(dir.path().join("admin-key")).expect("data/admin-key");
    assert_eq!(stored.trim(), sigma.admin_key);
}
