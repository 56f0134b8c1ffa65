//! `spawn_app()` and typed helpers for the tests.

use std::net::SocketAddr;

use clap::Parser;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use switchboard::config::Cli;
use switchboard::startup::Application;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    stop: Option<oneshot::Sender<()>>,
    pub server: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: TempDir,
}

/// A server with a fresh SQLite database, `JWT_SECRET` set (so not in
/// development mode) and any extra flags.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        switchboard::telemetry::init(switchboard::config::LogFormat::Text);
    }
    spawn_in(tempfile::tempdir().expect("temp dir"), extra).await
}

/// A server on the database in `dir` (kept as it is).
async fn spawn_in(dir: TempDir, extra: &[&str]) -> TestApp {
    let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
    let mut args = vec![
        "switchboard",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--database-url",
        &url,
        "--jwt-secret",
        SECRET,
    ];
    args.extend_from_slice(extra);
    let config = Cli::parse_from(args).server;
    let app = Application::build(config).await.expect("server builds");
    let addr = app.local_addr().expect("bound address");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        client: Client::new(),
        stop: Some(stop),
        server: Some(server),
        _dir: dir,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An HS256 token for `sub` with `role` in `tenant`, valid for an hour.
pub fn token(sub: &str, role: &str, tenant: &str) -> String {
    token_with(
        json!({ "sub": sub, "role": role, "tenant": tenant, "name": format!("{sub} name") }),
        3600,
    )
}

pub fn token_with(mut claims: Value, ttl_seconds: i64) -> String {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    claims["exp"] = json!(now + ttl_seconds);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// A customer's new session; returns its id.
    pub async fn open_session(&self, customer: &str, message: Option<&str>) -> String {
        let response = self
            .post(
                "/api/chat/sessions",
                customer,
                json!({ "subject": "help", "message": message }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        body(response).await["id"].as_str().expect("id").to_string()
    }

    /// Stops the server the graceful way and returns what `run_until` did.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop().await
    }

    /// Stops the server the graceful way, then starts a new one on the same
    /// database (what `run_until` returned, and the new server).
    pub async fn restart(mut self) -> (anyhow::Result<()>, TestApp) {
        let stopped = self.stop().await;
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().expect("temp dir"));
        (stopped, spawn_in(dir, &[]).await)
    }

    async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server
            .take()
            .expect("running")
            .await
            .expect("server task")
    }
}

pub async fn body(response: Response) -> Value {
    response.json().await.expect("JSON body")
}

/// Asserts the status and the `{ error: { code, message } }` body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    let body = body(response).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}
