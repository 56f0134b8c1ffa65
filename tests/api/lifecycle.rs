//! Health, metrics, graceful shutdown.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn health_reports_the_database_and_the_version() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = body(response).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["adapter"], "local");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_count_stored_messages() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    app.open_session(&customer, Some("hello")).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("# TYPE switchboard_messages_stored counter"),
        "{text}"
    );
    assert!(
        text.contains("switchboard_messages_stored_total 1"),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_can_be_switched_off() {
    let app = spawn_app_with(&["--metrics-enabled", "false"]).await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn graceful_shutdown_returns_ok_and_keeps_what_was_stored() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    let id = app.open_session(&customer, Some("before shutdown")).await;
    let response = app
        .post(
            &format!("/api/chat/sessions/{id}/messages"),
            &customer,
            json!({ "content": "second" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (stopped, app) = app.restart().await;
    stopped.expect("clean shutdown");
    let kept = body(
        app.get(&format!("/api/chat/sessions/{id}/messages"), &customer)
            .await,
    )
    .await;
    let contents: Vec<&str> = kept["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["content"].as_str().expect("content"))
        .collect();
    assert_eq!(contents, ["before shutdown", "second"]);
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn unknown_api_routes_are_json_not_found() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/api/nope")).send().await.unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn client_side_routes_get_the_web_clients_index_page_with_200() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>Switchboard</title>",
    )
    .unwrap();
    let app = spawn_app_with(&["--static-dir", dir.path().to_str().unwrap()]).await;
    for path in ["/", "/widget", "/dashboard"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("<title>Switchboard</title>")
        );
    }
}
