//! The API documentation: `/openapi.json` is the checked-in document, and `/docs/` is a
//! self-contained page — every asset it loads comes from this server, none from the internet.

use sigma_tests::process::SigmaConfig;

#[tokio::test]
async fn openapi_json_is_the_checked_in_document() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path()).start().await;
    let served: serde_json::Value = reqwest::get(format!("{}/openapi.json", sigma.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checked_in: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(served, checked_in);
    for path in [
        "/v1/accounts",
        "/v1/tokens",
        "/v1/channels",
        "/v1/channels/{id}",
        "/v1/channels/{id}/stream-key",
        "/v1/sessions/{id}",
        "/v1/channels/{id}/events",
    ] {
        assert!(
            served["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
}

/// `src="…"` and `href="…"` values of an HTML or JS text.
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\"", "url: \"", "url:\""] {
        for piece in text.split(attribute).skip(1) {
            if let Some(end) = piece.find('"') {
                found.push(piece[..end].to_owned());
            }
        }
    }
    found
}

#[tokio::test]
async fn the_docs_page_loads_only_local_assets() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(dir.path()).start().await;
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{}/docs", sigma.url))
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success(), "/docs: {}", page.status());
    let base = page.url().clone();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("swagger-ui"),
        "not the Swagger UI page: {html}"
    );

    let mut assets = references(&html);
    let initializer = base.join("swagger-initializer.js").unwrap();
    let script = client.get(initializer.clone()).send().await.unwrap();
    assert!(
        script.status().is_success(),
        "{initializer}: {}",
        script.status()
    );
    let script = script.text().await.unwrap();
    assets.extend(references(&script));
    assert!(
        script.contains("/openapi.json"),
        "the page does not load our document: {script}"
    );

    assert!(assets.len() >= 4, "too few assets found: {assets:?}");
    for asset in assets {
        assert!(
            !asset.starts_with("http://")
                && !asset.starts_with("https://")
                && !asset.starts_with("//"),
            "external asset {asset}"
        );
        let url = base.join(&asset).unwrap();
        let response = client.get(url.clone()).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        assert!(
            !response.bytes().await.unwrap().is_empty(),
            "{url} is empty"
        );
    }
}

/// Headless Chromium, with every host but this machine unresolvable, renders the page into the
/// Swagger UI listing our operations: the docs work with no internet at all.
#[tokio::test]
async fn chromium_renders_the_docs_offline() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = SigmaConfig::standalone(&dir.path().join("data"))
        .start()
        .await;
    let output = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("chromium").display()
        ))
        .arg(format!("{}/docs/", sigma.url))
        .kill_on_drop(true)
        .output()
        .await
        .expect("chromium is installed (make test installs it)");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("Sigma Live API"),
        "the document's title is not on the page:\n{dom}"
    );
    for operation in ["/v1/channels", "/v1/channels/{id}/stream-key", "/v1/tokens"] {
        assert!(
            dom.contains(operation),
            "{operation} is not rendered:\n{dom}"
        );
    }
    assert!(
        dom.contains("opblock"),
        "Swagger UI did not render its operation blocks"
    );
}
