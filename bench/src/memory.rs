//! The server's memory while a phase runs: `VmRSS` of `/proc/<pid>/status`
//! read every few milliseconds on an OS thread of its own (a runtime busy
//! with uploads would delay the samples), and `VmHWM`, the kernel's own peak
//! RSS, which catches a spike between two samples. Writing `5` to
//! `/proc/<pid>/clear_refs` (Linux 4.0+, a process of our own user) resets
//! that peak to the current RSS, so it can cover one phase only.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

/// Resident and peak resident memory of a process, KiB.
#[derive(Debug, Clone, Copy)]
pub struct Vm {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub fn read(pid: u32) -> anyhow::Result<Vm> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok(Vm {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// Resets the process's `VmHWM` to its current RSS; false when refused
/// (another user's process, an old kernel): the peak then covers the whole
/// life of the process, and only the samples describe a phase.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// RSS samples taken until `stop`.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<(f64, u64)>>,
}

impl Sampler {
    pub fn start(pid: u32, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut samples = Vec::new();
            loop {
                if let Ok(vm) = read(pid) {
                    samples.push((start.elapsed().as_secs_f64(), vm.rss_kib));
                }
                if stopped.load(Ordering::Relaxed) {
                    return samples;
                }
                std::thread::sleep(every);
            }
        });
        Sampler { stop, thread }
    }

    /// Takes one last sample and returns them all: (seconds since start, KiB).
    pub fn stop(self) -> Vec<(f64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// At most `points` samples, evenly spread, each the highest RSS of its
/// stretch (so a peak is never thinned away): `[seconds, KiB]`, seconds
/// to the millisecond.
pub fn thinned(samples: &[(f64, u64)], points: usize) -> Vec<(f64, u64)> {
    let stretch = samples.len().div_ceil(points.max(1)).max(1);
    samples
        .chunks(stretch)
        .filter_map(|stretch| {
            let top = stretch.iter().max_by_key(|(_, kib)| *kib)?;
            Some(((top.0 * 1000.0).round() / 1000.0, top.1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_resident_size_and_a_peak_at_least_as_high() {
        let vm = read(std::process::id()).expect("own /proc status");
        assert!(vm.rss_kib > 0);
        assert!(vm.hwm_kib >= vm.rss_kib);
    }

    #[test]
    fn thinning_keeps_the_peak() {
        let samples: Vec<(f64, u64)> = (0..1000).map(|i| (i as f64, 100)).collect();
        let mut with_peak = samples.clone();
        with_peak[517].1 = 900;
        let thin = thinned(&with_peak, 100);
        assert_eq!(thin.len(), 100);
        assert_eq!(thin.iter().map(|s| s.1).max(), Some(900));
        assert_eq!(thinned(&samples[..10], 100).len(), 10);
    }
}
