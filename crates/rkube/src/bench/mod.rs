//! `rkube bench`: measurements of a real `rkube server` process, driven over its HTTPS API the
//! way clients use it (client certificates, HTTP/2), written up as a report.

mod api;
mod client;
mod report;
mod scheduler;
mod server_process;
mod stats;
mod watch;
mod workload;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

/// `rkube bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

#[derive(Subcommand, Debug)]
enum BenchTarget {
    /// Benchmark the API server: startup, memory, creates, watch delivery, churn.
    Api(ApiArgs),
    /// Benchmark the scheduler: pods/s and create-to-bind latency on simulated nodes.
    Scheduler(SchedulerArgs),
}

/// `rkube bench api`.
#[derive(Args, Debug, Clone)]
pub struct ApiArgs {
    /// ConfigMaps to create concurrently.
    #[arg(long, default_value_t = 10_000)]
    creates: usize,
    /// Concurrent clients (one HTTP/2 connection each) for creates and updates.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Concurrent watchers for the watch-delivery measurement.
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// HTTP/2 connections the watchers are spread over.
    #[arg(long, default_value_t = 32)]
    watch_connections: usize,
    /// Objects created (at --watch-rate per second) while the watchers watch.
    #[arg(long, default_value_t = 200)]
    watch_events: usize,
    /// Creates per second during the watch-delivery measurement.
    #[arg(long, default_value_t = 50)]
    watch_rate: u32,
    /// Updates (PUT and merge PATCH, round robin) in the churn measurement.
    #[arg(long, default_value_t = 20_000)]
    churn_updates: usize,
    /// Objects the churn updates go round.
    #[arg(long, default_value_t = 100)]
    churn_objects: usize,
    /// Fresh server starts whose time to ready is measured (the median is reported).
    #[arg(long, default_value_t = 5)]
    startup_runs: usize,
    /// Append a markdown section with the results to this file.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Directory for the servers' temporary data directories [default: the system temp dir].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The rkube executable to benchmark [default: this one].
    #[arg(long)]
    server_binary: Option<PathBuf>,
}

/// `rkube bench scheduler`.
#[derive(Args, Debug, Clone)]
pub struct SchedulerArgs {
    /// Simulated nodes (`rkube server --simulated-nodes`).
    #[arg(long, default_value_t = 5000)]
    nodes: usize,
    /// Pods to create and have scheduled.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Scenarios to run, each against a fresh server (comma-separated or repeated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = scheduler::Scenario::ALL)]
    scenario: Vec<scheduler::Scenario>,
    /// Concurrent creating clients (one HTTP/2 connection each).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Pods per group for the anti-affinity and spread scenarios (anti-affinity groups are
    /// capped at the node count).
    #[arg(long, default_value_t = 100)]
    group_size: usize,
    /// Seconds each scenario may take from the first create to the last binding (and, apart,
    /// for all nodes to become Ready).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// The server's --cluster-cidr (one /24 per node; the default /16 has only 256).
    #[arg(long, default_value = "10.0.0.0/8")]
    cluster_cidr: String,
    /// Append a markdown section with the results to this file.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Directory for the servers' temporary data directories [default: the system temp dir].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The rkube executable to benchmark [default: this one].
    #[arg(long)]
    server_binary: Option<PathBuf>,
}

/// Runs `rkube bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.target {
        BenchTarget::Api(api_args) => {
            let output = api_args.output.clone();
            let report = runtime.block_on(api::run(api_args))?;
            println!("{}", report.human());
            match output {
                Some(path) => append_markdown(&path, &report.markdown()),
                None => Ok(()),
            }
        }
        BenchTarget::Scheduler(scheduler_args) => {
            let output = scheduler_args.output.clone();
            let report = runtime.block_on(scheduler::run(scheduler_args))?;
            println!("{}", report.human());
            match output {
                Some(path) => append_markdown(&path, &report.markdown()),
                None => Ok(()),
            }
        }
    }
}

/// A fresh temporary directory for a benchmark's servers in `parent` (created if missing; the
/// system temp dir by default), removed when dropped.
fn work_dir(parent: Option<&Path>, prefix: &str) -> Result<tempfile::TempDir> {
    let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
    std::fs::create_dir_all(&parent)
        .and_then(|()| tempfile::Builder::new().prefix(prefix).tempdir_in(&parent))
        .with_context(|| format!("creating a work directory in {}", parent.display()))
}

/// Appends a report's markdown section to `path`.
fn append_markdown(path: &Path, markdown: &str) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(markdown.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("appended the results to {}", path.display());
    Ok(())
}
