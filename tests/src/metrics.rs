//! Reading a process's Prometheus `/metrics` as a scraper would.

/// The value on the line of `{url}/metrics` that starts with `line_start` (a metric name with
/// its labels and a trailing space); `None` if the process does not answer or has no such line.
/// `url` is the process's metrics address (`Sigma::metrics_url`), not its public one.
pub async fn read(url: &str, line_start: &str) -> Option<f64> {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|value| value.trim().parse().ok())
}

/// RTMP connections the process whose metrics are at `url` dropped for `reason` so far
/// (`sigma_ingest_dropped_total`).
pub async fn ingest_dropped(url: &str, reason: &str) -> f64 {
    let line = format!("sigma_ingest_dropped_total{{reason=\"{reason}\"}} ");
    read(url, &line).await.unwrap_or(0.0)
}
