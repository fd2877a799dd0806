//! JSON request bodies with the split integrators expect: malformed JSON is a 400 (`bad_json`),
//! well-formed JSON of the wrong shape — unknown field, unknown enum value, wrong type — a 422
//! (`invalid_body`). serde alone cannot tell them apart reliably (`[1, 2` fails as a "type"
//! error before it fails as truncated), so the body is parsed in two steps.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body of type `T`; use it instead of `web::Json<T>`.
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// `application/json`, `application/*+json`, or no content type at all.
fn is_json(request: &HttpRequest) -> bool {
    match request.mime_type() {
        Ok(None) => true,
        Ok(Some(mime)) => {
            mime.subtype() == "json" || mime.suffix().is_some_and(|suffix| suffix == "json")
        }
        Err(_) => false,
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(request);
        let bytes = web::Bytes::from_request(request, payload);
        Box::pin(async move {
            if !json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as application/json",
                ));
            }
            let bytes = bytes.await.map_err(|error| {
                let status = error.as_response_error().status_code();
                let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "body_too_large"
                } else {
                    "bad_body"
                };
                ApiError::new(status, code, error.to_string())
            })?;
            let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|error| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_json",
                    format!("malformed JSON: {error}"),
                )
            })?;
            serde_json::from_value(value)
                .map(JsonBody)
                .map_err(|error| ApiError::unprocessable("invalid_body", error.to_string()))
        })
    }
}
