//! Runs `switchboard-bench smoke` against the debug server binary: a few
//! hundred messages over a few sessions must all be delivered, and the
//! JSON line must be there; and `upload` with tiny files, every upload
//! stored and the memory figures present. No timing thresholds: CI
//! machines vary.

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

#[test]
fn upload_run_with_tiny_files_stores_every_upload_and_reports_the_servers_memory() {
    let bin = server_bin();
    assert!(
        bin.exists(),
        "server binary {} not found: build it first with `cargo build` (or set SWITCHBOARD_BIN)",
        bin.display()
    );
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard-bench"))
        .args(["upload", "--server-cpus", "none", "--sizes", "4KiB,64KiB"])
        .args(["--clients", "3", "--uploads", "2", "--settle", "0.1"])
        .arg("--server-bin")
        .arg(&bin)
        .output()
        .expect("the bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "upload failed\nstdout: {stdout}\nstderr: {stderr}"
    );

    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stdout, got: {stdout}");
    let result: serde_json::Value = serde_json::from_str(lines[0]).expect("the line is JSON");
    assert_eq!(result["scenario"], "upload");
    assert_eq!(result["errors"], 0);
    let phases = result["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 2);
    for (phase, size) in phases.iter().zip([4096, 65_536]) {
        assert_eq!(phase["size_bytes"], size);
        assert_eq!(phase["ok"], 6, "{phase}");
        assert_eq!(phase["payload_bytes"], 6 * size);
        assert!(
            phase["stored_bytes"].as_u64().unwrap_or(0) >= 6 * size,
            "{phase}"
        );
        assert!(phase["rss_before_kib"].as_u64().unwrap_or(0) > 0);
        assert!(phase["rss_after_kib"].as_u64().unwrap_or(0) > 0);
        assert!(phase["rss_samples"].as_u64().unwrap_or(0) >= 1);
    }
}
