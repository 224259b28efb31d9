//! Embedded store benchmark (no harness): durable create throughput and latency with 16
//! concurrent writers, with and without group commit, and disk use under update churn.
//!
//! Run with `cargo bench -p rkube-store`. `RKUBE_STORE_BENCH_SECONDS` bounds each throughput
//! phase (default 5).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rkube_store::{EmbeddedOptions, EmbeddedStore, Store};

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const WRITERS: usize = 16;
const CREATE_VALUE_BYTES: usize = 1024;
const CHURN_KEYS: usize = 100;
const CHURN_UPDATES: usize = 100_000;
const CHURN_VALUE_BYTES: usize = 500;

fn main() -> BenchResult {
    let seconds = std::env::var("RKUBE_STORE_BENCH_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(5);
    let phase = Duration::from_secs(seconds);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!("rkube-store embedded benchmark ({WRITERS} concurrent writers, {CREATE_VALUE_BYTES} B values, {seconds} s per phase)");
        creates("group commit", EmbeddedOptions::default(), phase).await?;
        creates("one sync per write", EmbeddedOptions { group_commit: false, ..EmbeddedOptions::default() }, phase)
            .await?;
        churn().await
    })
}

/// Creates keys from `WRITERS` tasks for `phase` and prints throughput and latency percentiles.
async fn creates(label: &str, options: EmbeddedOptions, phase: Duration) -> BenchResult {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(EmbeddedStore::open(dir.path(), options)?);
    let started = Instant::now();
    let deadline = started + phase;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let key = format!("/bench/{writer:02}/{i:08}");
                let value = vec![b'v'; CREATE_VALUE_BYTES];
                let begun = Instant::now();
                store.create(&key, Box::new(move |_| Ok(value))).await?;
                latencies.push(begun.elapsed());
                i += 1;
            }
            Ok::<_, rkube_store::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(latencies.len().saturating_sub(1));
        latencies
            .get(index)
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    };
    println!(
        "durable creates, {label:<18}: {:>8.0} creates/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} creates in {:.1} s)",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
        latencies.len(),
        elapsed.as_secs_f64(),
    );
    store.close();
    let stats = store.stats();
    println!(
        "    {} syncs, {:.1} writes per sync",
        stats.wal_syncs,
        stats.current_revision as f64 / stats.wal_syncs.max(1) as f64
    );
    Ok(())
}

/// Updates `CHURN_KEYS` keys `CHURN_UPDATES` times in total and prints disk use against the
/// live data size.
async fn churn() -> BenchResult {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for key_index in 0..CHURN_KEYS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let key = format!("/churn/{key_index:03}");
            let value =
                || -> rkube_store::ValueFn { Box::new(|_| Ok(vec![b'c'; CHURN_VALUE_BYTES])) };
            let mut revision = store.create(&key, value()).await?.mod_revision;
            for _ in 1..CHURN_UPDATES / CHURN_KEYS {
                revision = store.update(&key, revision, value()).await?.mod_revision;
            }
            Ok::<_, rkube_store::Error>(())
        }));
    }
    let sampled_dir = dir.path().to_owned();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        loop {
            peak = peak.max(dir_bytes(&sampled_dir).unwrap_or(0));
            tokio::select! {
                _ = &mut stopped => return peak,
                () = tokio::time::sleep(Duration::from_millis(2)) => {}
            }
        }
    });
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    let peak = sampler.await?;
    store.close();
    let stats = store.stats();
    let on_disk = dir_bytes(dir.path())?;
    println!(
        "churn: {CHURN_UPDATES} updates of {CHURN_KEYS} keys ({CHURN_VALUE_BYTES} B) in {:.1} s: {} snapshots, \
         live {} KiB, data dir {} KiB after close ({:.1}x live), peak sampled {} KiB",
        elapsed.as_secs_f64(),
        stats.snapshots_written,
        stats.live_bytes / 1024,
        on_disk / 1024,
        on_disk as f64 / stats.live_bytes.max(1) as f64,
        peak / 1024,
    );
    Ok(())
}

fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // A file may vanish between listing and stat while a snapshot cleans up.
        total += entry.metadata().map(|meta| meta.len()).unwrap_or(0);
    }
    Ok(total)
}
