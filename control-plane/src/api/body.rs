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
            // Every body is an object; serde would also take a struct as an array of its
            // fields.
            if !value.is_object() {
                return Err(ApiError::unprocessable(
                    "invalid_body",
                    "the body must be a JSON object",
                ));
            }
            serde_json::from_value(integral(value))
                .map(JsonBody)
                .map_err(|error| ApiError::unprocessable("invalid_body", error.to_string()))
        })
    }
}

/// The value with every number that is a whole number written as a float (`8805.0`) made an
/// integer: JSON Schema's `integer` takes them, and so does the API (serde's integers would not).
fn integral(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            let whole = float.fract() == 0.0 && float.abs() < 9_007_199_254_740_992.0;
            if whole {
                Value::from(float as i64)
            } else {
                Value::Number(number)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(name, value)| (name, integral(value)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_become_integers_and_the_rest_stay() {
        let value = serde_json::json!({ "a": 8805.0, "b": [1.5, -2.0, 3], "c": 1e300 });
        assert_eq!(
            integral(value),
            serde_json::json!({ "a": 8805, "b": [1.5, -2, 3], "c": 1e300 })
        );
    }
}
