//! Waiting on what a test can only observe from outside (an API answer, a metric), by polling
//! as a user or a load balancer would; a generous limit is only the backstop.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 100 ms until it holds; returns how long that took, or panics with
/// `what` after `limit`.
pub async fn until<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// Polls `check` every 100 ms until it yields a value; returns it, or panics with `what` after
/// `limit`.
pub async fn until_some<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
