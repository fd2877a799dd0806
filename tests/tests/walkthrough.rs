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
    let mut config = SigmaConfig::standalone(dir.path());
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
async fn a_generated_admin_key_is_kept_owner_only_in_a_private_data_dir_and_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = SigmaConfig::standalone(&data);
    let sigma = config.start().await;
    let api = sigma_tests::api::Api::new(&sigma.url);
    let (account, _) = api.account_with_token(&sigma.admin_key, "me").await;
    assert!(!account.is_empty(), "the key in data/admin-key works");
    assert!(
        sigma
            .banner
            .contains(&format!("in {}", data.join("admin-key").display())),
        "{}",
        sigma.banner
    );
    assert!(
        !sigma.banner.contains(&sigma.admin_key),
        "the key is not printed"
    );
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    // The harness made the data dir (for the process's log) with the default rights: it is
    // left as it is, with a warning; one sigma creates is 0700 (a unit test of `private_dir`).
    let open_to_others = mode(&data) & 0o077 != 0;
    assert_eq!(
        config.stderr_tail().contains("may be read by other users"),
        open_to_others,
        "{}",
        config.stderr_tail()
    );
    assert_eq!(mode(&data.join("admin-key")), 0o600);
    assert_eq!(mode(&data.join("signing-keys")), 0o600);
    sigma.kill().await;

    // A key file that cannot be read stops start-up; it is not replaced by a new key.
    std::fs::remove_file(data.join("signing-keys")).unwrap();
    std::fs::create_dir(data.join("signing-keys")).unwrap();
    let refused = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::process::Command::new(sigma_tests::process::sigma_binary())
            .arg("run")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&config.env)
            .output(),
    )
    .await
    .expect("sigma stops at once")
    .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("cannot read the key file"), "{said}");
    assert!(data.join("signing-keys").is_dir(), "left as it was");
}
