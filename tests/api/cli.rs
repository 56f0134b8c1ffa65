//! The `switchboard` binary's subcommands and help, run as a process.

use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::*;

fn switchboard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let out = switchboard().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for env in [
        "PORT",
        "HOST",
        "DATABASE_URL",
        "JWT_SECRET",
        "JWT_PUBLIC_KEY_FILE",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "JWT_LEEWAY_SECONDS",
        "CORS_ORIGINS",
        "MESSAGE_MAX_LENGTH",
        "LOG_FORMAT",
        "REDIS_URL",
    ] {
        assert!(
            help.contains(&format!("[env: {env}")),
            "--help does not mention {env}:\n{help}"
        );
    }
    assert!(help.contains("--dev"));
    assert!(help.contains("token") && help.contains("migrate"));
}

#[tokio::test]
async fn the_token_subcommand_prints_a_token_the_server_accepts() {
    let out = switchboard()
        .args([
            "token", "--sub", "ann", "--role", "agent", "--name", "Ann", "--tenant", "acme",
        ])
        .env("JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let app = spawn_app().await;
    let response = app.get("/api/chat/stats", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn the_token_subcommand_refuses_to_run_without_a_secret() {
    let out = switchboard()
        .args(["token", "--sub", "x"])
        .env_remove("JWT_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET"));
}

#[test]
fn the_migrate_subcommand_creates_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let out = switchboard()
        .args([
            "migrate",
            "--database-url",
            &format!("sqlite://{}?mode=rwc", db.display()),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(db.exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));
}
