//! `rkube bench api`: the phases in order, each against a real server process. A phase that
//! fails is noted in the report and the run goes on where it can.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use super::ApiArgs;
use super::client::{ApiConnection, ClientCredentials};
use super::report::{
    ApiReport, ChurnReport, CpuUse, MachineInfo, format_duration, format_mib, format_utc,
};
use super::server_process::{ServerProcess, directory_bytes, process_cpu_time};
use super::stats::rate_per_second;
use super::watch::{WatchPlan, WatchResult, run_watch_delivery};
use super::workload::{
    WriteResult, churn_request, create_request, ensure_namespace, live_list_bytes, run_writes,
};

/// Namespace of the create measurement.
const CREATE_NAMESPACE: &str = "bench";
/// Namespace of the watch-delivery measurement.
const WATCH_NAMESPACE: &str = "bench-watch";
/// Namespace of the churn measurement.
const CHURN_NAMESPACE: &str = "bench-churn";
/// Idle time before the idle RSS sample.
const IDLE_AFTER_START: Duration = Duration::from_secs(3);
/// Idle time after the creates before the second RSS sample.
const IDLE_AFTER_LOAD: Duration = Duration::from_secs(10);
/// Idle time after the churn before the settled data-dir size.
const IDLE_AFTER_CHURN: Duration = Duration::from_secs(5);

/// Runs every phase and returns what was measured.
pub async fn run(args: ApiArgs) -> Result<ApiReport> {
    let exe = match &args.server_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("finding the rkube executable")?,
    };
    let work = super::work_dir(args.work_dir.as_deref(), "rkube-bench-")?;
    let mut report = ApiReport {
        date: format_utc(SystemTime::now()),
        machine: MachineInfo::current(work.path()),
        version: describe_version(args.server_binary.as_deref()),
        clients: args.clients,
        ..ApiReport::default()
    };
    eprintln!(
        "benchmarking {} in {}",
        exe.display(),
        work.path().display()
    );

    for run in 0..args.startup_runs {
        match startup_once(&exe, work.path(), run).await {
            Ok(ready) => {
                eprintln!(
                    "startup {}/{}: ready after {}",
                    run + 1,
                    args.startup_runs,
                    format_duration(ready)
                );
                report.startup_fresh.push(ready);
            }
            Err(e) => report
                .errors
                .push(format!("startup run {}: {e:#}", run + 1)),
        }
    }

    let data_dir = work.path().join("main");
    let log = work.path().join("main.log");
    let mut server = ServerProcess::spawn(&exe, &data_dir, &log)?;
    let (_, credentials) = server.wait_ready().await?;
    report.rss.ready = server.rss_bytes().ok();
    tokio::time::sleep(IDLE_AFTER_START).await;
    report.rss.idle = server.rss_bytes().ok();
    eprintln!(
        "idle RSS: {}",
        report.rss.idle.map(format_mib).unwrap_or_default()
    );

    let phases = Phases {
        server: &server,
        credentials: &credentials,
        args: &args,
    };
    if let Some((creates, cpu)) = note(&mut report.errors, "creates", phases.creates()).await {
        report.creates = Some(creates);
        report.creates_cpu = cpu;
    }
    report.rss.after_creates = server.rss_bytes().ok();
    tokio::time::sleep(IDLE_AFTER_LOAD).await;
    report.rss.after_load_idle = server.rss_bytes().ok();
    if let Some((watch, cpu)) = note(&mut report.errors, "watch delivery", phases.watch()).await {
        report.watch = Some(watch);
        report.watch_cpu = cpu;
    }
    if let Some((churn, cpu)) = note(&mut report.errors, "churn", phases.churn()).await {
        report.churn = Some(churn);
        report.churn_cpu = cpu;
    }

    let objects = report.churn.as_ref().map(|c| c.live_items).unwrap_or(0);
    let status = server.stop()?;
    if !status.success() {
        report
            .errors
            .push(format!("the server exited with {status} on SIGTERM"));
    }
    match restart(&exe, &data_dir, &log).await {
        Ok((ready, rss)) => {
            eprintln!(
                "restart with {objects} ConfigMaps: ready after {}",
                format_duration(ready)
            );
            report.startup_restart = Some(ready);
            report.rss.after_restart = rss;
        }
        Err(e) => report.errors.push(format!("restart: {e:#}")),
    }
    Ok(report)
}

/// rkube's version and build profile, or the path of the binary given with --server-binary.
fn describe_version(server_binary: Option<&Path>) -> String {
    let profile = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    match server_binary {
        None => format!("{} ({profile})", env!("CARGO_PKG_VERSION")),
        Some(path) => format!("server binary {}", path.display()),
    }
}

/// Records the error of a failed phase and yields its result otherwise.
async fn note<T>(
    errors: &mut Vec<String>,
    phase: &str,
    outcome: impl Future<Output = Result<T>>,
) -> Option<T> {
    match outcome.await {
        Ok(value) => Some(value),
        Err(e) => {
            eprintln!("{phase} failed: {e:#}");
            errors.push(format!("{phase}: {e:#}"));
            None
        }
    }
}

/// One fresh start: spawn to ready, then stop.
async fn startup_once(exe: &Path, work: &Path, run: usize) -> Result<Duration> {
    let data_dir = work.join(format!("startup-{run}"));
    let mut server =
        ServerProcess::spawn(exe, &data_dir, &work.join(format!("startup-{run}.log")))?;
    let (ready, _) = server.wait_ready().await?;
    server.stop()?;
    std::fs::remove_dir_all(&data_dir).ok();
    Ok(ready)
}

/// A start on the data directory of the run: time to ready and RSS once ready.
async fn restart(exe: &Path, data_dir: &Path, log: &Path) -> Result<(Duration, Option<u64>)> {
    let mut server = ServerProcess::spawn(exe, data_dir, log)?;
    let (ready, _) = server.wait_ready().await?;
    let rss = server.rss_bytes().ok();
    server.stop()?;
    Ok((ready, rss))
}

/// The load phases against the main server.
struct Phases<'a> {
    server: &'a ServerProcess,
    credentials: &'a ClientCredentials,
    args: &'a ApiArgs,
}

impl Phases<'_> {
    async fn admin(&self, namespace: &str) -> Result<ApiConnection> {
        let conn = ApiConnection::connect(self.server.addr, self.credentials).await?;
        ensure_namespace(&conn, namespace).await?;
        Ok(conn)
    }

    async fn creates(&self) -> Result<(WriteResult, Option<CpuUse>)> {
        self.admin(CREATE_NAMESPACE).await?;
        let meter = CpuMeter::start(self.server);
        let result = run_writes(
            self.server.addr,
            self.credentials,
            self.args.clients,
            self.args.creates,
            |index| create_request(CREATE_NAMESPACE, index),
        )
        .await?;
        let cpu =
            meter.and_then(|m| m.finish(self.server, result.succeeded + result.failed, "request"));
        eprintln!(
            "creates: {} ok, {} failed, {:.0}/s",
            result.succeeded,
            result.failed,
            rate_per_second(result.succeeded, result.elapsed)
        );
        Ok((result, cpu))
    }

    async fn watch(&self) -> Result<(WatchResult, Option<CpuUse>)> {
        self.admin(WATCH_NAMESPACE).await?;
        let plan = WatchPlan {
            watchers: self.args.watchers,
            connections: self.args.watch_connections,
            events: self.args.watch_events,
            rate_per_second: self.args.watch_rate,
        };
        let meter = CpuMeter::start(self.server);
        let result =
            run_watch_delivery(self.server.addr, self.credentials, WATCH_NAMESPACE, plan).await?;
        let cpu = meter.and_then(|m| m.finish(self.server, result.delivered, "delivered event"));
        eprintln!(
            "watch: {} of {} events delivered",
            result.delivered,
            result.plan.watchers * result.created
        );
        Ok((result, cpu))
    }

    async fn churn(&self) -> Result<(ChurnReport, Option<CpuUse>)> {
        let conn = self.admin(CHURN_NAMESPACE).await?;
        let db = self.server.data_dir.join("db");
        let db_before = directory_bytes(&db)?;
        let objects = self.args.churn_objects.max(1);
        let seeded = run_writes(
            self.server.addr,
            self.credentials,
            self.args.clients,
            objects,
            |index| create_request(CHURN_NAMESPACE, index),
        )
        .await?;
        if seeded.failed > 0 {
            anyhow::bail!(
                "creating the churn objects: {}",
                seeded
                    .first_error
                    .unwrap_or_else(|| format!("{} failed", seeded.failed))
            );
        }
        let meter = CpuMeter::start(self.server);
        let updates = run_writes(
            self.server.addr,
            self.credentials,
            self.args.clients,
            self.args.churn_updates,
            move |index| churn_request(CHURN_NAMESPACE, objects, index),
        )
        .await?;
        let cpu = meter
            .and_then(|m| m.finish(self.server, updates.succeeded + updates.failed, "request"));
        eprintln!(
            "churn: {} updates ok, {} failed, {:.0}/s",
            updates.succeeded,
            updates.failed,
            rate_per_second(updates.succeeded, updates.elapsed)
        );
        let db_after = directory_bytes(&db)?;
        tokio::time::sleep(IDLE_AFTER_CHURN).await;
        let db_settled = directory_bytes(&db)?;
        let (live_items, live_bytes) = live_list_bytes(&conn, "/api/v1/configmaps").await?;
        let churn = ChurnReport {
            objects,
            updates,
            db_before,
            db_after,
            db_settled,
            live_items,
            live_bytes,
        };
        Ok((churn, cpu))
    }
}

/// CPU times at the start of a phase.
struct CpuMeter {
    server: Duration,
    client: Duration,
}

impl CpuMeter {
    fn start(server: &ServerProcess) -> Option<CpuMeter> {
        Some(CpuMeter {
            server: server.cpu_time().ok()?,
            client: process_cpu_time("self").ok()?,
        })
    }

    fn finish(
        self,
        server: &ServerProcess,
        operations: usize,
        unit: &'static str,
    ) -> Option<CpuUse> {
        Some(CpuUse {
            server: server.cpu_time().ok()?.saturating_sub(self.server),
            client: process_cpu_time("self").ok()?.saturating_sub(self.client),
            operations,
            unit,
        })
    }
}
