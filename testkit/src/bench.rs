//! What the benchmarks share (`server/benches`, `fake-pve/benches`): the runner,
//! percentiles, and a process's resident memory from `/proc`.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

/// Runs a benchmark's `body` on a multi-thread runtime. `cargo bench` passes
/// `--bench`; a test runner that lists tests (`--list`, as nextest does with
/// `--all-targets`) finds none, so a benchmark only runs when asked for.
pub fn main<F: Future<Output = ()>>(body: impl FnOnce() -> F) {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(body());
}

/// The `p` quantile (0.0–1.0) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The median of `v`.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    percentile(&v, 0.5)
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A field of /proc/PID/status in MiB (`VmRSS:` now, `VmHWM:` the peak); NaN when
/// the process or the field is gone.
pub fn mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

/// What `work` gives, and the largest VmRSS of `pid` seen (every 20 ms) meanwhile.
pub async fn most_rss<T>(pid: u32, work: impl Future<Output = T>) -> (T, f64) {
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        let mut most: f64 = 0.0;
        loop {
            most = most.max(mib(pid, "VmRSS:"));
            tokio::select! {
                _ = &mut stop_rx => return most,
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    });
    let out = work.await;
    let _ = stop_tx.send(());
    (out, watcher.await.unwrap())
}

/// Writes `mib` MiB of a repeating pattern (bytes 0..modulo) to `path`.
pub fn patterned_file(path: &Path, mib: u64, modulo: u32) {
    let chunk: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % modulo) as u8).collect();
    let mut f = std::fs::File::create(path).unwrap();
    for _ in 0..mib {
        std::io::Write::write_all(&mut f, &chunk).unwrap();
    }
}
