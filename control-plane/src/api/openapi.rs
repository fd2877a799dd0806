//! The OpenAPI document, generated from the handlers and types. `openapi/openapi.json` at the
//! top of the repository is this document, checked in; a test fails when they differ.

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{accounts, alerts, analytics, channels, playback, sessions, system, webhooks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sigma Live API",
        description = "Channels, sessions, their history, audience analytics, webhooks and signed playback. Authenticate with `Authorization: Bearer <token>`: the admin key for accounts and tokens, an account's JWT for everything else. Errors are `{\"error\": {\"code\", \"message\"}}`.",
    ),
    paths(
        accounts::create_account,
        accounts::list_accounts,
        accounts::create_token,
        accounts::revoke_tokens,
        channels::create,
        channels::list,
        channels::read,
        channels::update,
        channels::remove,
        channels::stop,
        channels::resume,
        channels::rotate_stream_key,
        sessions::list,
        sessions::read,
        sessions::delete_media,
        sessions::events,
        alerts::list,
        analytics::channel,
        analytics::session,
        webhooks::create,
        webhooks::list,
        webhooks::read,
        webhooks::remove,
        webhooks::rotate_secret,
        webhooks::deliveries,
        webhooks::redeliver,
        playback::create_key,
        playback::list_keys,
        playback::remove_key,
        playback::channel_token,
        playback::session_token,
        system::healthz,
        system::readyz,
    ),
    modifiers(&Security, &CommonAnswers, &FlattenedObjects),
    tags(
        (name = "accounts", description = "Tenants and their tokens (admin key only)"),
        (name = "channels", description = "A broadcaster's stream endpoints"),
        (name = "sessions", description = "Broadcasts of a channel"),
        (name = "events", description = "What happened, in order"),
        (name = "alerts", description = "What needs attention in a stream, open until cleared"),
        (name = "analytics", description = "Who watched: concurrent viewers, views and watch time"),
        (name = "webhooks", description = "Signed event deliveries to your endpoints"),
        (name = "playback", description = "Signed playback: playback keys and playback tokens for `signed` channels"),
        (name = "system", description = "Health (metrics are served on SIGMA_METRICS_ADDR, not here)"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The admin key"))
                    .build(),
            ),
        );
    }
}

/// The answers every operation of a kind may give, added to each so the document lists every
/// status the API can send: whatever is authenticated may be refused 401 (missing, invalid,
/// expired or revoked) or 429 (its rate limit, or its address's failed authentications);
/// whatever a token authenticates, 403 (a scope it lacks); whatever takes a body, 400
/// (malformed JSON) and 422 (a value out of bounds); whatever changes something, 503 (the
/// command was not decided in time). Statuses an operation documents itself are kept.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let changing = [
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
                &mut item.put,
            ];
            for operation in changing.into_iter().flatten() {
                add_answer(
                    operation,
                    "503",
                    "The command was not decided in time; try again",
                );
            }
            let all = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
                &mut item.put,
            ];
            for operation in all.into_iter().flatten() {
                let schemes = security_schemes(operation);
                if !schemes.is_empty() {
                    add_answer(
                        operation,
                        "401",
                        "Missing, invalid, expired or revoked credentials",
                    );
                    add_answer(
                        operation,
                        "429",
                        "Rate limited, or too many failed authentications from this address; see `Retry-After`",
                    );
                }
                if schemes.iter().any(|scheme| scheme == "bearer") {
                    add_answer(operation, "403", "The token lacks the scope this needs");
                }
                if operation.request_body.is_some() {
                    add_answer(operation, "400", "Malformed JSON");
                    add_answer(operation, "413", "The body is over 64 KiB");
                    add_answer(operation, "415", "The body is not `application/json`");
                    add_answer(
                        operation,
                        "422",
                        "A missing or unknown field, or a value out of bounds",
                    );
                }
                if has_query(operation) {
                    add_answer(operation, "400", "An unknown or malformed query parameter");
                }
            }
        }
    }
}

fn has_query(operation: &Operation) -> bool {
    operation
        .parameters
        .iter()
        .flatten()
        .any(|parameter| parameter.parameter_in == utoipa::openapi::path::ParameterIn::Query)
}

/// A type with a `#[serde(flatten)]`ed part is documented by utoipa as `allOf` its own fields
/// and the part's; when the part refuses unknown fields (`additionalProperties: false`), that
/// `allOf` would refuse the type's own fields too. Such a schema of inline objects only is
/// documented as the one object it is.
struct FlattenedObjects;

impl Modify for FlattenedObjects {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for schema in components.schemas.values_mut() {
            if let RefOr::T(Schema::AllOf(all)) = schema {
                if let Some(mut merged) = one_object(&all.items) {
                    merged.description = all.description.clone().or(merged.description);
                    *schema = RefOr::T(Schema::Object(merged));
                }
            }
        }
    }
}

/// The objects' properties and requirements in one object; `None` unless every item is an
/// inline object.
fn one_object(items: &[RefOr<Schema>]) -> Option<Object> {
    let mut merged: Option<Object> = None;
    for item in items {
        let RefOr::T(Schema::Object(object)) = item else {
            return None;
        };
        match &mut merged {
            None => merged = Some(object.clone()),
            Some(merged) => {
                merged.properties.extend(object.properties.clone());
                merged.required.extend(object.required.iter().cloned());
                merged.additional_properties = merged
                    .additional_properties
                    .take()
                    .or_else(|| object.additional_properties.clone());
            }
        }
    }
    merged
}

/// The security schemes an operation names.
fn security_schemes(operation: &Operation) -> Vec<String> {
    operation
        .security
        .iter()
        .flatten()
        .filter_map(|requirement| serde_json::to_value(requirement).ok())
        .filter_map(|value| {
            value
                .as_object()
                .map(|map| map.keys().cloned().collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

fn add_answer(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        });
}

/// A documented path's segments (`None` for a parameter) and the methods it takes.
type DocumentedPath = (Vec<Option<String>>, Vec<&'static str>);

static DOCUMENTED: std::sync::LazyLock<Vec<DocumentedPath>> = std::sync::LazyLock::new(|| {
    ApiDoc::openapi()
        .paths
        .paths
        .iter()
        .map(|(template, item)| {
            let segments = template
                .split('/')
                .map(|segment| (!segment.starts_with('{')).then(|| segment.to_owned()))
                .collect();
            let methods = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ]
            .into_iter()
            .filter_map(|(method, present)| present.then_some(method))
            .collect();
            (segments, methods)
        })
        .collect()
});

/// The methods the document lists for `path`, if it is one of its paths: a request for it
/// with another method is answered 405 with them in `Allow` (RFC 9110, 15.5.6), not 404.
pub fn allowed_methods(path: &str) -> Option<&'static [&'static str]> {
    let asked: Vec<&str> = path.split('/').collect();
    DOCUMENTED
        .iter()
        .find(|(segments, _)| {
            segments.len() == asked.len()
                && segments
                    .iter()
                    .zip(&asked)
                    .all(|(segment, part)| match segment {
                        Some(literal) => literal == part,
                        None => !part.is_empty(),
                    })
        })
        .map(|(_, methods)| methods.as_slice())
}

/// The document as served and checked in: pretty JSON with a trailing newline.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the document serializes")
        + "\n"
}

#[cfg(test)]
mod tests {
    /// Fails when the code's API differs from `openapi/openapi.json`. To accept the change:
    /// `UPDATE_OPENAPI=1 cargo test -p sigma-control-plane openapi`.
    #[test]
    fn a_documented_path_knows_its_methods_and_others_are_unknown() {
        assert_eq!(
            super::allowed_methods("/v1/channels/ch_1/stop"),
            Some(&["POST"][..])
        );
        assert_eq!(
            super::allowed_methods("/v1/channels/ch_1"),
            Some(&["GET", "PATCH", "DELETE"][..])
        );
        assert_eq!(super::allowed_methods("/v1/channels//stop"), None);
        assert_eq!(super::allowed_methods("/v1/nothing"), None);
    }

    #[test]
    fn the_checked_in_openapi_document_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
        let generated = super::document();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "openapi/openapi.json differs from the API the code serves; run `UPDATE_OPENAPI=1 cargo test -p sigma-control-plane openapi` and commit the result"
        );
    }
}
