//! Runs `switchboard-bench smoke` against the debug server binary: a few
//! hundred messages over a few sessions must all be delivered, and the
//! JSON line must be there. No timing thresholds: CI machines vary.

use std::path::PathBuf;
use std::process::Command;

/// `SWITCHBOARD_BIN`, else the `switchboard` next to this test's target
/// directory, else `../target/debug/switchboard`.
fn server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SWITCHBOARD_BIN") {
        return PathBuf::from(bin);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("switchboard")));
    match beside {
        Some(bin) if bin.exists() => bin,
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/switchboard"),
    }
}

#[test]
fn smoke_run_delivers_every_message_and_prints_one_json_line() {
    let bin = server_bin();
    assert!(
        bin.exists(),
        "server binary {} not found: build it first with `cargo build` (or set SWITCHBOARD_BIN)",
        bin.display()
    );
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard-bench"))
        .args(["smoke", "--server-bin"])
        .arg(&bin)
        .output()
        .expect("the bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "smoke failed\nstdout: {stdout}\nstderr: {stderr}"
    );

    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stdout, got: {stdout}");
    let result: serde_json::Value = serde_json::from_str(lines[0]).expect("the line is JSON");
    assert_eq!(result["scenario"], "smoke");
    assert_eq!(result["lost"], 0);
    assert_eq!(result["unacked"], 0);
    assert_eq!(result["errors"], 0);
    assert_eq!(result["delivered"], result["sent"]);
    assert!(result["sent"].as_u64().unwrap_or(0) >= 300);
}
