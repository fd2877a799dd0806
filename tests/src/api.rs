//! A thin HTTP client for the public API: every call returns the status and the JSON body, so
//! tests assert on exactly what an integrator sees.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub url: String,
}

/// One answer: status, `Retry-After` if any, and the body as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Answer {
    /// The body of a success, or a panic that shows the failure.
    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success(),
            "expected a success, got {} {}",
            self.status,
            self.body
        );
        self.body
    }

    /// `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.body))
    }
}

impl Api {
    pub fn new(url: &str) -> Self {
        let http = reqwest::Client::builder()
            // Longer than the platform's own wait for a decision (30 s).
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Self {
            http,
            url: url.trim_end_matches('/').to_owned(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// Sends a raw body (for malformed JSON) with a JSON content type.
    pub async fn call_raw(&self, method: Method, path: &str, bearer: &str, body: &str) -> Answer {
        let request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(bearer)
            .header("content-type", "application/json")
            .body(body.to_owned());
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap_or_default().to_owned());
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        Answer {
            status,
            retry_after,
            body,
        }
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Answer {
        self.call(Method::GET, path, Some(bearer), None).await
    }

    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(bearer), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, bearer: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(bearer), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Answer {
        self.call(Method::DELETE, path, Some(bearer), None).await
    }

    /// A new account and a token for it with every scope: `(account_id, token)`.
    pub async fn account_with_token(&self, admin_key: &str, name: &str) -> (String, String) {
        let account = self
            .post("/v1/accounts", admin_key, json!({ "name": name }))
            .await
            .ok();
        let account_id = account["id"].as_str().expect("an account id").to_owned();
        let token = self
            .post("/v1/tokens", admin_key, json!({ "account_id": account_id }))
            .await
            .ok();
        (
            account_id,
            token["token"].as_str().expect("a token").to_owned(),
        )
    }

    /// Creates a channel and returns its JSON.
    pub async fn create_channel(&self, token: &str, body: Value) -> Value {
        self.post("/v1/channels", token, body).await.ok()
    }

    /// The channel's first (oldest) session, as JSON (`null` when it has none).
    pub async fn first_session(&self, token: &str, channel_id: &str) -> Value {
        let sessions = self
            .get(&format!("/v1/channels/{channel_id}/sessions"), token)
            .await
            .ok();
        sessions["data"][0].clone()
    }

    /// A broadcaster's account, its token and a channel created with `settings`:
    /// `(token, channel)`.
    pub async fn broadcaster_channel(&self, admin_key: &str, settings: Value) -> (String, Value) {
        let (_, token) = self.account_with_token(admin_key, "broadcaster").await;
        let channel = self.create_channel(&token, settings).await;
        (token, channel)
    }

    /// The channel's analytics (5 s steps) once they count `watched_seconds` of watch time
    /// (within 0.25 s): a player's reports arrive in batches.
    pub async fn analytics_once_watched(
        &self,
        token: &str,
        channel_id: &str,
        watched_seconds: f64,
    ) -> Value {
        crate::wait::until_some(
            std::time::Duration::from_secs(30),
            "the viewer is counted",
            || async {
                let answer = self
                    .get(
                        &format!("/v1/channels/{channel_id}/analytics?step=5"),
                        token,
                    )
                    .await
                    .ok();
                let reported = answer["watch_time_seconds"].as_f64().unwrap_or(0.0);
                ((reported - watched_seconds).abs() < 0.25).then_some(answer)
            },
        )
        .await
    }

    /// The channel's event history (up to 1,000 events), oldest first.
    pub async fn history(&self, token: &str, channel_id: &str) -> Vec<Value> {
        let events = self
            .get(
                &format!("/v1/channels/{channel_id}/events?limit=1000"),
                token,
            )
            .await
            .ok();
        events["data"].as_array().expect("a list of events").clone()
    }

    /// Publishes to `channel` once per entry of `pieces` (that many seconds each, as fast as
    /// ffmpeg can), waiting after each until the platform has seen the publisher leave: one
    /// session with `pieces.len() - 1` reconnects, if the channel's window allows.
    pub async fn broadcast(&self, token: &str, channel: &Value, pieces: &[u32]) {
        let (id, rtmp_url) = (
            channel["id"].as_str().expect("a channel id"),
            channel["rtmp_url"].as_str().expect("an ingest URL"),
        );
        for seconds in pieces {
            let status = crate::publish::publisher(rtmp_url, *seconds, Default::default())
                .status()
                .await
                .expect("running ffmpeg");
            assert!(status.success(), "ffmpeg could not publish to {rtmp_url}");
            crate::wait::until(
                std::time::Duration::from_secs(20),
                "the publisher is seen gone",
                || async { self.first_session(token, id).await["publisher_connected"] == false },
            )
            .await;
        }
    }

    /// A channel and its event history: what "nothing changed" is checked against.
    pub async fn snapshot(&self, token: &str, channel_id: &str) -> (Value, Value) {
        let channel = self
            .get(&format!("/v1/channels/{channel_id}"), token)
            .await
            .ok();
        let events = self
            .get(&format!("/v1/channels/{channel_id}/events"), token)
            .await
            .ok();
        (channel, events)
    }
}
