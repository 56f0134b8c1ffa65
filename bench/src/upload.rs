//! `upload`: attachments (PROTOCOL §8). One customer and one session per
//! client (`POST /api/chat/sessions`); then, for each size of `--sizes`,
//! every client uploads `--uploads` files of that size one after the other,
//! all clients at once (closed loop: a client's next upload starts when the
//! answer to its previous one is read). Throughput is payload bytes over the
//! phase's wall time; latency runs from a request's start to its 201 body.
//!
//! Meanwhile the server's RSS is sampled (`memory`): a server that streams
//! uploads to its store stays flat, one that buffers them grows by about
//! clients x size. The files are a ZIP local-file header (or a PDF header)
//! followed by random bytes, sent as a multipart part of known length whose
//! body is streamed in slices of one shared random pool, so the bench itself
//! holds 1 MiB, not clients x size.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::cli::{FileKind, UploadArgs};
use crate::memory::{self, Sampler};
use crate::report::{histogram, line_ms, own_cpu_seconds, summary_ms};
use crate::server::Server;
use crate::token::Minter;

/// The random bytes every file's body is cut from.
const POOL_BYTES: usize = 1 << 20;
/// Size of the slices the body is streamed in.
const CHUNK_BYTES: usize = 64 << 10;
/// Smallest file: room for either header.
const MIN_SIZE: u64 = 64;
const MIB: f64 = 1024.0 * 1024.0;

/// What every phase shares.
struct Setup {
    server: Server,
    http: reqwest::Client,
    /// (customer token, session id), one per client.
    clients: Vec<(Arc<str>, Arc<str>)>,
    pool: Bytes,
    kind: FileKind,
    /// The temporary `file://` store, when the bench made it.
    store_dir: Option<tempfile::TempDir>,
}

pub async fn run(args: UploadArgs) -> anyhow::Result<Value> {
    if let Some(small) = args.sizes.iter().find(|s| **s < MIN_SIZE) {
        bail!("--sizes: {small} bytes is too small (at least {MIN_SIZE})");
    }
    if args.clients == 0 || args.uploads == 0 {
        bail!("--clients and --uploads must be at least 1");
    }
    let mut server_args = args.server.clone();
    let passed = server_args
        .server_arg
        .iter()
        .any(|a| a.contains("attachments-store"));
    let (store, store_dir) = match (&args.attachments_store, server_args.server_pid) {
        (_, Some(_)) => ("external".to_string(), None),
        (Some(url), None) => {
            server_args
                .server_arg
                .push(format!("--attachments-store={url}"));
            (url.clone(), None)
        }
        (None, None) if passed => ("given by --server-arg".to_string(), None),
        (None, None) => {
            let dir = tempfile::tempdir()?;
            let url = format!("file://{}", dir.path().display());
            server_args
                .server_arg
                .push(format!("--attachments-store={url}"));
            (url, Some(dir))
        }
    };
    // The per-user send limit is raised in case uploads share it.
    let server = Server::start(&server_args, Some(1_000_000)).await?;
    eprintln!("attachments store {store}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs_f64(args.timeout))
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let clients = open_sessions(&server, &http, args.clients).await?;
    let mut setup = Setup {
        server,
        http,
        clients,
        pool: random_pool(),
        kind: args.file_type,
        store_dir,
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start_vm = memory::read(setup.server.pid)?;
    eprintln!(
        "{} sessions open; server RSS {:.1} MiB",
        args.clients,
        kib_mib(start_vm.rss_kib)
    );

    let mut phases = Vec::with_capacity(args.sizes.len());
    let mut errors = 0;
    for &size in &args.sizes {
        let phase = run_phase(&setup, &args, size).await?;
        errors += phase["errors"].as_u64().unwrap_or(0);
        phases.push(phase);
    }
    let (warnings, server_errors) = setup.server.log_counts();
    let result = json!({
        "scenario": "upload",
        "database": setup.server.database,
        "store": store,
        "file_type": format!("{:?}", args.file_type).to_lowercase(),
        "clients": args.clients,
        "uploads_per_client": args.uploads,
        "rss_start_kib": start_vm.rss_kib,
        "phases": phases,
        "errors": errors,
        "server_warnings": warnings,
        "server_errors": server_errors,
        "server_alive": setup.server.alive(),
    });
    let store_dir = setup.store_dir.take();
    setup.server.stop().await;
    drop(store_dir);
    if errors > 0 {
        println!("{result}");
        bail!("{errors} uploads failed");
    }
    Ok(result)
}

/// One customer per client, each opening its session.
async fn open_sessions(
    server: &Server,
    http: &reqwest::Client,
    clients: usize,
) -> anyhow::Result<Vec<(Arc<str>, Arc<str>)>> {
    let minter = Minter::new(&server.secret);
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut opened = Vec::with_capacity(clients);
    for i in 0..clients {
        let token = minter.mint(&format!("upload-{run}-c{i}"), "customer")?;
        let response = http
            .post(format!("http://{}/api/chat/sessions", server.addr))
            .bearer_auth(&token)
            .json(&json!({ "subject": format!("upload bench {i}") }))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status.as_u16() != 201 {
            bail!("open session: {status} {body}");
        }
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .context("open session: no id")?;
        opened.push((token.into(), id.into()));
    }
    Ok(opened)
}

/// What one client did in a phase.
struct ClientOutcome {
    latencies: Histogram<u64>,
    ok: u64,
    errors: Vec<String>,
}

async fn run_phase(setup: &Setup, args: &UploadArgs, size: u64) -> anyhow::Result<Value> {
    let pid = setup.server.pid;
    let n = setup.clients.len();
    eprintln!(
        "{}: {n} clients x {} uploads at once",
        size_label(size),
        args.uploads
    );
    let stored_before = setup.store_dir.as_ref().map(|d| bytes_under(d.path()));
    let before = memory::read(pid)?;
    let peak_reset = memory::reset_peak(pid);
    let sampler = Sampler::start(pid, Duration::from_millis(args.sample_ms.max(1)));
    let cpu_before = setup.server.cpu_seconds()?;
    let own_before = own_cpu_seconds();
    let start = Instant::now();

    let mut tasks = tokio::task::JoinSet::new();
    for (i, (token, session)) in setup.clients.iter().enumerate() {
        let (http, token, session, pool) = (
            setup.http.clone(),
            token.clone(),
            session.clone(),
            setup.pool.clone(),
        );
        let (addr, kind, uploads) = (setup.server.addr, setup.kind, args.uploads);
        tasks.spawn(async move {
            let mut outcome = ClientOutcome {
                latencies: histogram(),
                ok: 0,
                errors: Vec::new(),
            };
            for j in 0..uploads {
                let file = File {
                    kind,
                    size,
                    seed: i * uploads + j,
                };
                let sent = Instant::now();
                match upload(&http, addr, &token, &session, &file, &pool).await {
                    Ok(()) => {
                        let us = sent.elapsed().as_micros() as u64;
                        let _ = outcome.latencies.record(us.max(1));
                        outcome.ok += 1;
                    }
                    Err(e) => outcome.errors.push(format!("{e:#}")),
                }
            }
            outcome
        });
    }
    let mut latencies = histogram();
    let (mut ok, mut failures) = (0u64, Vec::new());
    while let Some(done) = tasks.join_next().await {
        let outcome = done?;
        latencies.add(&outcome.latencies)?;
        ok += outcome.ok;
        failures.extend(outcome.errors);
    }
    let wall = start.elapsed().as_secs_f64();
    let server_cpu = setup.server.cpu_seconds()? - cpu_before;
    let own_cpu = own_cpu_seconds() - own_before;
    let samples = sampler.stop();
    let end = memory::read(pid)?;
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let after = memory::read(pid)?;

    let sampled_peak = samples.iter().map(|s| s.1).max().unwrap_or(end.rss_kib);
    // The kernel's peak covers the phase only when it could be reset.
    let peak = if peak_reset {
        sampled_peak.max(end.hwm_kib)
    } else {
        sampled_peak
    };
    let payload = ok * size;
    let in_flight_kib = n as u64 * size / 1024;
    let errors = failures.len();
    let mut error_samples = failures;
    error_samples.sort();
    error_samples.dedup();
    error_samples.truncate(5);
    let stored = match (&setup.store_dir, stored_before) {
        (Some(dir), Some(before)) => json!(bytes_under(dir.path()).saturating_sub(before)),
        _ => Value::Null,
    };

    eprintln!(
        "  {ok}/{} ok, {errors} errors in {wall:.2} s: {:.1} uploads/s, {:.1} MiB/s; latency {}",
        n * args.uploads,
        ok as f64 / wall,
        payload as f64 / MIB / wall,
        line_ms(&latencies)
    );
    eprintln!(
        "  server RSS before {:.1} MiB, peak {:.1} MiB (+{:.1}; {n} files in flight are {:.1} MiB), after {:.1} MiB; server CPU {:.0}%, bench CPU {:.0}%",
        kib_mib(before.rss_kib),
        kib_mib(peak),
        kib_mib(peak.saturating_sub(before.rss_kib)),
        kib_mib(in_flight_kib),
        kib_mib(after.rss_kib),
        100.0 * server_cpu / wall,
        100.0 * own_cpu / wall
    );
    for e in &error_samples {
        eprintln!("  error: {e}");
    }
    Ok(json!({
        "size_bytes": size,
        "size_mib": size as f64 / MIB,
        "clients": n,
        "uploads": n * args.uploads,
        "ok": ok,
        "errors": errors,
        "error_samples": error_samples,
        "payload_bytes": payload,
        "stored_bytes": stored,
        "wall_seconds": wall,
        "uploads_per_s": ok as f64 / wall,
        "mib_per_s": payload as f64 / MIB / wall,
        "latency_ms": summary_ms(&latencies),
        "rss_before_kib": before.rss_kib,
        "rss_peak_kib": peak,
        "rss_peak_sampled_kib": sampled_peak,
        "hwm_reset": peak_reset,
        "rss_end_kib": end.rss_kib,
        "rss_after_kib": after.rss_kib,
        "rss_growth_peak_kib": peak.saturating_sub(before.rss_kib),
        "rss_growth_after_kib": after.rss_kib as i64 - before.rss_kib as i64,
        "in_flight_payload_kib": in_flight_kib,
        "rss_samples": samples.len(),
        "rss_series": memory::thinned(&samples, 100),
        "server_cpu_pct": 100.0 * server_cpu / wall,
        "bench_cpu_pct": 100.0 * own_cpu / wall,
    }))
}

/// One file to upload: its bytes are the header of `kind`, then `size`
/// minus that of the pool, from an offset that depends on `seed`.
struct File {
    kind: FileKind,
    size: u64,
    seed: usize,
}

impl File {
    fn name(&self) -> String {
        match self.kind {
            FileKind::Zip => format!("bench-{}.zip", self.seed),
            FileKind::Pdf => format!("bench-{}.pdf", self.seed),
        }
    }

    fn content_type(&self) -> &'static str {
        match self.kind {
            FileKind::Zip => "application/zip",
            FileKind::Pdf => "application/pdf",
        }
    }

    /// A ZIP local-file header (stored, an entry `bench.bin` holding the
    /// rest) or a PDF header. `infer`, which the server's detection follows,
    /// calls a buffer starting `PK\3\4` a ZIP unless the entry name at
    /// offset 30 marks an OOXML, ODF or EPUB file, and one with `%PDF` in
    /// its first 1024 bytes a PDF.
    fn header(&self) -> Vec<u8> {
        match self.kind {
            FileKind::Zip => {
                let name = b"bench.bin";
                let rest = self.size.saturating_sub(30 + name.len() as u64);
                let rest = u32::try_from(rest).unwrap_or(u32::MAX).to_le_bytes();
                let mut h = Vec::with_capacity(30 + name.len());
                h.extend_from_slice(b"PK\x03\x04");
                h.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, stored, time, date
                h.extend_from_slice(&[0; 4]); // crc-32
                h.extend_from_slice(&rest); // compressed size
                h.extend_from_slice(&rest); // uncompressed size
                h.extend_from_slice(&(name.len() as u16).to_le_bytes());
                h.extend_from_slice(&[0, 0]); // extra field
                h.extend_from_slice(name);
                h
            }
            FileKind::Pdf => b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec(),
        }
    }

    /// The whole file in slices: the header, then the pool (wrapping
    /// round) from an offset of its own.
    fn chunks(&self, pool: &Bytes) -> impl Iterator<Item = Bytes> + Send + 'static {
        let header = Bytes::from(self.header());
        let mut remaining = (self.size as usize).saturating_sub(header.len());
        let mut offset = self.seed.wrapping_mul(4099) % pool.len();
        let pool = pool.clone();
        let rest = std::iter::from_fn(move || {
            if remaining == 0 {
                return None;
            }
            let n = remaining.min(CHUNK_BYTES).min(pool.len() - offset);
            let chunk = pool.slice(offset..offset + n);
            offset = (offset + n) % pool.len();
            remaining -= n;
            Some(chunk)
        });
        std::iter::once(header).chain(rest)
    }

    /// The chunks as a streamed body: nothing is copied, only the pool held.
    fn body(&self, pool: &Bytes) -> reqwest::Body {
        let chunks = self.chunks(pool).map(Ok::<_, std::io::Error>);
        reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
    }
}

/// `POST /api/chat/sessions/{id}/attachments`: a 201 whose `Attachment`
/// has the file's size and detected type, else an error.
async fn upload(
    http: &reqwest::Client,
    addr: std::net::SocketAddr,
    token: &str,
    session: &str,
    file: &File,
    pool: &Bytes,
) -> anyhow::Result<()> {
    let part = reqwest::multipart::Part::stream_with_length(file.body(pool), file.size)
        .file_name(file.name())
        .mime_str("application/octet-stream")?;
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = http
        .post(format!(
            "http://{addr}/api/chat/sessions/{session}/attachments"
        ))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.as_u16() != 201 {
        let code = body["error"]["code"].as_str().unwrap_or(&text);
        bail!("{} {code}", status.as_u16());
    }
    if body["size"].as_u64() != Some(file.size) || body["contentType"] != file.content_type() {
        bail!(
            "201 with size {} and contentType {} (sent {} bytes of {})",
            body["size"],
            body["contentType"],
            file.size,
            file.content_type()
        );
    }
    Ok(())
}

/// `POOL_BYTES` of xorshift64* output: incompressible, cheap, different
/// every run.
fn random_pool() -> Bytes {
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
        | 1;
    let mut pool = Vec::with_capacity(POOL_BYTES);
    while pool.len() < POOL_BYTES {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        pool.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    Bytes::from(pool)
}

/// Bytes of the regular files under `dir`, recursively.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

fn kib_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn size_label(size: u64) -> String {
    if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
        format!("{} MiB", size >> 20)
    } else if size >= 1 << 10 && size.is_multiple_of(1 << 10) {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(file: &File, pool: &Bytes) -> Vec<u8> {
        file.chunks(pool).flat_map(|c| c.to_vec()).collect()
    }

    #[test]
    fn a_zip_file_has_a_local_header_naming_one_stored_entry_of_the_rest() {
        let pool = random_pool();
        let file = File {
            kind: FileKind::Zip,
            size: 3 << 20,
            seed: 7,
        };
        let bytes = collect(&file, &pool);
        assert_eq!(bytes.len(), 3 << 20);
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        assert_eq!(&bytes[30..39], b"bench.bin");
        let rest = u32::from_le_bytes(bytes[18..22].try_into().unwrap());
        assert_eq!(rest as usize, (3 << 20) - 39);
        let offset = 7 * 4099;
        assert_eq!(&bytes[39..39 + 100], &pool[offset..offset + 100]);
        assert!(file.chunks(&pool).all(|c| c.len() <= CHUNK_BYTES));
    }

    #[test]
    fn a_pdf_file_starts_with_its_magic() {
        let file = File {
            kind: FileKind::Pdf,
            size: 100,
            seed: 0,
        };
        assert!(file.header().starts_with(b"%PDF-"));
        assert_eq!(file.content_type(), "application/pdf");
    }

    #[test]
    fn labels_use_the_largest_whole_unit() {
        assert_eq!(size_label(10 << 20), "10 MiB");
        assert_eq!(size_label(64 << 10), "64 KiB");
        assert_eq!(size_label(1000), "1000 B");
    }
}
