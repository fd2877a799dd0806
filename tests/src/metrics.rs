//! Reading a process's Prometheus `/metrics` as a scraper would.

/// The value on the line of `{url}/metrics` that starts with `line_start` (a metric name with
/// its labels and a trailing space); `None` if the process does not answer or has no such line.
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
