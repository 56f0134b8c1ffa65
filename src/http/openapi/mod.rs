//! The OpenAPI 3.1 document of the REST API, served at `GET
//! /api/openapi.json`. It is generated from the handlers themselves: each
//! resource module documents its handlers with `#[utoipa::path]` (path,
//! parameters, the types of its bodies and answers) and lists them in its
//! own `OpenApi` part, next to its `router()`; this module puts the parts
//! together and adds what the shared extractors imply (the bearer token's
//! 401, a JSON body's 400 and 413; see [`ExtractorErrors`]).
//!
//! `tests/api/openapi.rs` checks that every documented operation is
//! routed; `tests/js/lib/openapi.mjs` checks every REST answer of the JS
//! suite against the document.

pub mod integrations;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use socketioxide::adapter::Adapter;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::attachments::AttachmentsApi;
use super::dev::DevApi;
use super::health::HealthApi;
use super::integrations::IntegrationsApi;
use super::messages::MessagesApi;
use super::routing::RoutingApi;
use super::server_api::ServerApi;
use super::sessions::SessionsApi;
use super::stats::StatsApi;
use super::tools::ToolsApi;
use crate::app::AppState;
use crate::error::ErrorResponse;

/// What every part shares: the title, the tags, the error body.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard REST API",
        description = "The REST side of the Switchboard chat protocol (docs/protocol.md §6-§10). \
            Errors are `{ error: { code, message } }`. The Socket.IO side (namespace `/chat`) is \
            described in docs/protocol.md."
    ),
    paths(openapi_json),
    components(schemas(
        ErrorResponse,
        crate::chat::SessionView,
        crate::chat::MessageView,
        crate::chat::attachments::AttachmentView,
        super::attachments::UploadForm,
    )),
    tags(
        (name = "sessions", description = "Open, list, assign, read, close and transfer sessions"),
        (name = "messages", description = "History and sending"),
        (name = "attachments", description = "Uploads and signed downloads (§8)"),
        (name = "routing", description = "Agents, tenant settings and service status (§7)"),
        (name = "stats", description = "Live figures"),
        (name = "tools", description = "Notes, ratings, transcripts, reports, canned responses (§10)"),
        (name = "integrations", description = "API keys and webhooks (§9), for admins"),
        (name = "server", description = "The server API (§9): an API key, never a JWT"),
        (name = "health", description = "Health, metrics and this document"),
        (name = "dev", description = "Development mode only"),
    )
)]
struct ApiDoc;

/// The document this server serves: `/api/dev/token` only in
/// development mode, as the route.
pub fn document(dev_mode: bool) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let parts = [
        SessionsApi::openapi(),
        MessagesApi::openapi(),
        AttachmentsApi::openapi(),
        RoutingApi::openapi(),
        StatsApi::openapi(),
        ToolsApi::openapi(),
        HealthApi::openapi(),
        IntegrationsApi::openapi(),
        ServerApi::openapi(),
    ];
    for part in parts {
        doc.merge(part);
    }
    if dev_mode {
        doc.merge(DevApi::openapi());
    }
    SecuritySchemes.modify(&mut doc);
    ExtractorErrors.modify(&mut doc);
    doc
}

pub fn router<A: Adapter>(dev_mode: bool) -> Router<AppState<A>> {
    // Built and serialised at the first request, once: the document does
    // not change while the server runs, and a server nobody asks for it
    // does not hold what building it took (a few MiB at its peak).
    let json: Arc<OnceLock<Bytes>> = Arc::default();
    Router::new().route(
        "/api/openapi.json",
        get(move || {
            let json = json
                .get_or_init(|| {
                    serde_json::to_vec(&document(dev_mode))
                        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}").into_bytes())
                        .into()
                })
                .clone();
            openapi_json(json)
        }),
    )
}

/// This document (no token needed).
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)),
)]
async fn openapi_json(json: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json)
}

/// `bearerAuth`: the JWT of docs/protocol.md §2; `apiKey`: an API key
/// (§9), accepted under `/api/server/` only, where a JWT is not.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let jwt = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "A JWT (HS256 by default; RS256/ES256 when configured) with `sub`, `exp`, \
                 `role`, and optionally `name`, `email`, `tenant`",
            ))
            .build();
        let key = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("sbk_…")
            .description(Some(
                "An API key (`sbk_…`) created by an admin; accepted under /api/server/ only",
            ))
            .build();
        components.add_security_scheme("bearerAuth", SecurityScheme::Http(jwt));
        components.add_security_scheme("apiKey", SecurityScheme::Http(key));
    }
}

/// The errors the shared extractors answer, added to every operation that
/// uses them: a token (`AuthUser`, an API key) is 401 without a valid one
/// and 503 when the user cannot be recorded; a JSON body (`JsonBody`) is
/// 400 when it is not JSON and 413 over the body limit; both may be 500;
/// path and query parameters may be 400.
/// Error answers without a description get their code's.
struct ExtractorErrors;

impl Modify for ExtractorErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let authed = operation
                    .security
                    .as_ref()
                    .is_some_and(|requirements| !requirements.is_empty());
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| body.content.contains_key("application/json"));
                // Ids in the path go through `parse_id`, query strings
                // through `params`: either may be `invalid_payload`.
                let parameters = operation
                    .parameters
                    .as_ref()
                    .is_some_and(|parameters| !parameters.is_empty());
                let mut implied = Vec::new();
                if authed {
                    implied.extend(["401", "500", "503"]);
                }
                if json_body {
                    implied.extend(["400", "413", "500"]);
                }
                if parameters {
                    implied.push("400");
                }
                let responses = &mut operation.responses.responses;
                for status in implied {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(status, ""));
                }
                for (status, response) in responses.iter_mut() {
                    if let RefOr::T(response) = response
                        && response.description.is_empty()
                    {
                        response.description = describe(status).to_string();
                    }
                }
            }
        }
    }
}

fn error_response(status: &str, description: &str) -> RefOr<utoipa::openapi::Response> {
    let description = if description.is_empty() {
        describe(status)
    } else {
        description
    };
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorResponse")))
                .build(),
        )
        .build()
        .into()
}

/// The codes of docs/protocol.md §6 each status carries.
fn describe(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No content",
        "400" => "invalid_payload: the request is not the documented shape",
        "401" => "unauthorized: no valid token (missing_token, invalid_token, expired_token)",
        "403" => "forbidden: not allowed to this user",
        "404" => "not_found: unknown, or of another tenant",
        "409" => "session_closed or conflict",
        "413" => "message_too_long (or a body over the limit), attachment_too_large",
        "415" => "unsupported_media_type",
        "429" => "rate_limited",
        "500" => "internal",
        "503" => "unavailable: the database cannot be reached, or the server is shutting down",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn doc(dev_mode: bool) -> Value {
        serde_json::to_value(document(dev_mode)).unwrap()
    }

    #[test]
    fn the_document_is_openapi_3_1_with_both_security_schemes() {
        let doc = doc(false);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
        assert_eq!(schemes["apiKey"]["scheme"], "bearer");
    }

    #[test]
    fn the_dev_token_is_documented_in_development_mode_only() {
        assert!(doc(false)["paths"].get("/api/dev/token").is_none());
        assert!(doc(true)["paths"].get("/api/dev/token").is_some());
    }

    #[test]
    fn every_reference_names_a_schema_of_the_document() {
        let doc = doc(true);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for reference in refs {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            assert!(schemas.contains_key(name), "no schema {name}");
        }
    }

    #[test]
    fn authenticated_operations_document_401_and_json_bodies_400() {
        let doc = doc(false);
        let open = &doc["paths"]["/api/chat/sessions"]["post"]["responses"];
        for status in ["200", "201", "400", "401", "413", "429", "500", "503"] {
            assert!(
                open.get(status).is_some(),
                "POST /api/chat/sessions {status}"
            );
        }
        assert!(
            doc["paths"]["/health"]["get"]["responses"]
                .get("401")
                .is_none()
        );
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => collect_refs(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
