//! `GET /api/openapi.json`: the document is served without a token, and
//! every operation it documents is routed (the router answers it with one
//! of the operation's documented statuses, not with its fallback).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn the_document_is_served_without_a_token() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc = body(response).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/chat/sessions"]["post"].is_object());
    // Not in development mode: no dev token, documented or routed.
    assert!(doc["paths"].get("/api/dev/token").is_none());
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let doc = switchboard::http::openapi::document(false);
    let doc = serde_json::to_value(&doc).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let url = app.url(&with_ids(path));
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app
                .client
                .request(method.clone(), url)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let documented = &operation["responses"][status.as_str()];
            let what = format!("{method} {path} answered {status}");
            assert!(documented.is_object(), "{what}, not documented");
            // JSON where JSON is documented: the handler's or an
            // extractor's answer, not the fallback's (empty, or index.html).
            if documented["content"].get("application/json").is_some() {
                let body: Value = response.json().await.unwrap_or(Value::Null);
                assert!(body.is_object(), "{what}: not JSON");
                if !status.is_success() {
                    assert!(body["error"]["code"].is_string(), "{what}: {body}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} operations");
}

/// The path with every `{parameter}` segment replaced by an id.
fn with_ids(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
