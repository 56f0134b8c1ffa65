//! Tokens, development mode, CORS and security headers over REST.

use reqwest::StatusCode;
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ORIGIN};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn rest_without_a_token_is_unauthorized() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/chat/sessions"))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn expired_garbage_and_wrongly_signed_tokens_are_unauthorized() {
    let app = spawn_app().await;
    let expired = token_with(json!({ "sub": "c1", "role": "customer" }), -3600);
    let wrong_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "c1", "exp": jsonwebtoken::get_current_timestamp() + 60 }),
        &jsonwebtoken::EncodingKey::from_secret(b"another secret"),
    )
    .unwrap();
    for (bad, reason) in [
        (expired, "expired_token"),
        ("garbage".into(), "invalid_token"),
        (wrong_key, "invalid_token"),
    ] {
        let response = app.get("/api/chat/sessions", &bad).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body(response).await["error"]["message"], reason);
    }
}

#[tokio::test]
async fn the_dev_token_endpoint_does_not_exist_outside_development_mode() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/dev/token"))
        .json(&json!({ "sub": "x", "role": "admin" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_dev_token_endpoint_mints_working_tokens_in_development_mode() {
    let app = spawn_app_with(&["--dev"]).await;
    let response = app
        .client
        .post(app.url("/api/dev/token"))
        .json(&json!({ "sub": "a1", "role": "agent", "name": "Ann" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token = body(response).await["token"].as_str().unwrap().to_string();
    let response = app.get("/api/chat/stats", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .client
        .post(app.url("/api/dev/token"))
        .json(&json!({ "sub": "a1", "role": "wizard" }))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_payload").await;
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = spawn_app_with(&["--cors-origins", "https://support.example.com"]).await;
    let allowed = app
        .client
        .get(app.url("/health"))
        .header(ORIGIN, "https://support.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://support.example.com"
    );
    let other = app
        .client
        .get(app.url("/health"))
        .header(ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn without_cors_origins_outside_dev_mode_no_origin_is_allowed() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/health"))
        .header(ORIGIN, "https://any.example")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn socket_stats_are_for_admins_only() {
    let app = spawn_app().await;
    let response = app.get("/ws/stats", &token("a1", "agent", "t")).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = app.get("/ws/stats", &token("root", "admin", "t")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = body(response).await;
    assert_eq!(body["totalConnections"], 0);
    assert!(body["node"].is_string());
}
