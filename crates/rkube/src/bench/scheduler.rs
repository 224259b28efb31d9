//! `rkube bench scheduler`: per scenario, a fresh `rkube server` with N simulated nodes; once
//! they are all Ready, a watch on the benchmark namespace's pods is opened, M pods are created by
//! concurrent clients, and each pod's time from create sent to binding seen on the watch is
//! measured, with the server's CPU and memory over that phase.

mod pods;
mod report;
mod server;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use pods::Scenario;

use super::SchedulerArgs;
use super::client::{ApiConnection, ClientCredentials, JSON};
use super::report::{MachineInfo, format_duration, format_utc};
use super::server_process::process_cpu_time;
use super::stats::LatencySummary;
use super::workload::{WriteRequest, WriteResult, ensure_namespace, percent_encode, run_writes};
use pods::{BindTimes, WatchLine, bound_index, pod_manifest, scan_watch_line};
use report::{ScenarioResult, SchedulerReport};
use server::{SchedulingServer, ServerSettings, machine_busy_time};

/// Namespace of the benchmark pods.
const NAMESPACE: &str = "bench-scheduler";
/// How often the node list is polled while waiting for the nodes to be Ready.
const NODE_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Quiet time after the last node became Ready (its Lease is created right after).
const NODE_SETTLE: Duration = Duration::from_secs(3);
/// How often the measured phase checks progress and samples the server's RSS.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(250);
/// How often progress is printed.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// Page size of lists.
const LIST_PAGE: usize = 500;
/// `timeoutSeconds` of the pod watch (it is reopened from a fresh list when it ends).
const WATCH_TIMEOUT_SECONDS: u64 = 3600;
/// Consecutive failures to reopen the pod watch before giving up.
const WATCH_REOPEN_ATTEMPTS: u32 = 10;

/// Runs every requested scenario, each against its own server.
pub async fn run(args: SchedulerArgs) -> Result<SchedulerReport> {
    let exe = match &args.server_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("finding the rkube executable")?,
    };
    let work = super::work_dir(args.work_dir.as_deref(), "rkube-bench-scheduler-")?;
    let mut report = SchedulerReport {
        date: format_utc(SystemTime::now()),
        machine: MachineInfo::current(work.path()),
        version: describe_version(args.server_binary.as_deref()),
        clients: args.clients.max(1),
        timeout: Duration::from_secs(args.timeout),
        results: Vec::new(),
        errors: Vec::new(),
    };
    eprintln!(
        "benchmarking the scheduler of {} in {}",
        exe.display(),
        work.path().display()
    );
    let mut scenarios = args.scenario.clone();
    scenarios.dedup();
    for (number, scenario) in scenarios.into_iter().enumerate() {
        let label = format!("{number}-{}", scenario.name());
        let settings = ServerSettings {
            exe: exe.clone(),
            data_dir: work.path().join(&label),
            log_path: work.path().join(format!("{label}.log")),
            nodes: args.nodes,
            cluster_cidr: args.cluster_cidr.clone(),
        };
        eprintln!(
            "{}: {} nodes × {} pods (server log: {})",
            scenario.name(),
            args.nodes,
            args.pods,
            settings.log_path.display()
        );
        match run_scenario(&args, &settings, scenario).await {
            Ok(result) => {
                eprintln!(
                    "{}: {} of {} pods bound, {} pods/s",
                    scenario.name(),
                    result.bound,
                    result.pods,
                    result
                        .pods_per_second
                        .map(|r| format!("{r:.0}"))
                        .unwrap_or_else(|| "-".into())
                );
                report.results.push(result);
            }
            Err(e) => {
                eprintln!("{} failed: {e:#}", scenario.name());
                report.errors.push(format!("{}: {e:#}", scenario.name()));
            }
        }
        std::fs::remove_dir_all(&settings.data_dir).ok();
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

/// One scenario: server start, nodes Ready, the measured phase, server stop.
async fn run_scenario(
    args: &SchedulerArgs,
    settings: &ServerSettings,
    scenario: Scenario,
) -> Result<ScenarioResult> {
    let timeout = Duration::from_secs(args.timeout);
    let mut server = SchedulingServer::spawn(settings)?;
    let spawned = Instant::now();
    let credentials = server.wait_ready().await?;
    let admin = ApiConnection::connect(server.addr, &credentials).await?;
    wait_for_ready_nodes(&mut server, &admin, args.nodes, timeout).await?;
    let nodes_ready_after = spawned.elapsed();
    eprintln!(
        "{}: {} nodes Ready after {}",
        scenario.name(),
        args.nodes,
        format_duration(nodes_ready_after)
    );
    tokio::time::sleep(NODE_SETTLE).await;
    ensure_namespace(&admin, NAMESPACE).await?;
    let mut result = measure(&mut server, &credentials, args, scenario).await?;
    result.nodes_ready_after = Some(nodes_ready_after);
    let status = server.stop()?;
    if !status.success() {
        result
            .notes
            .push(format!("the server exited with {status} on SIGTERM"));
    }
    Ok(result)
}

/// Polls the node list until `nodes` nodes report Ready=True.
async fn wait_for_ready_nodes(
    server: &mut SchedulingServer,
    conn: &ApiConnection,
    nodes: usize,
    timeout: Duration,
) -> Result<()> {
    let started = Instant::now();
    let mut last_progress = Instant::now();
    loop {
        server.check_running()?;
        let ready = count_ready_nodes(conn).await?;
        if ready >= nodes {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!(
                "only {ready} of {nodes} nodes were Ready after {}",
                format_duration(timeout)
            );
        }
        if last_progress.elapsed() >= PROGRESS_INTERVAL {
            eprintln!("  {ready} of {nodes} nodes Ready");
            last_progress = Instant::now();
        }
        tokio::time::sleep(NODE_POLL_INTERVAL).await;
    }
}

/// Nodes whose Ready condition is True.
async fn count_ready_nodes(conn: &ApiConnection) -> Result<usize> {
    let mut ready = 0;
    for_each_listed(conn, "/api/v1/nodes", |node| {
        let is_ready = node
            .pointer("/status/conditions")
            .and_then(|c| c.as_array())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
        ready += usize::from(is_ready);
    })
    .await?;
    Ok(ready)
}

/// Lists `path` in pages, calling `visit` on each item; returns the list's resourceVersion.
async fn for_each_listed(
    conn: &ApiConnection,
    path: &str,
    mut visit: impl FnMut(&serde_json::Value),
) -> Result<String> {
    let mut continue_token = String::new();
    let mut resource_version = None;
    loop {
        let mut page_path = format!("{path}?limit={LIST_PAGE}");
        if !continue_token.is_empty() {
            page_path.push_str("&continue=");
            page_path.push_str(&percent_encode(&continue_token));
        }
        let list = conn.get_json(&page_path).await?;
        if resource_version.is_none() {
            resource_version = list["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_string);
        }
        for item in list["items"].as_array().into_iter().flatten() {
            visit(item);
        }
        match list["metadata"]["continue"].as_str() {
            Some(token) if !token.is_empty() => continue_token = token.to_string(),
            _ => break,
        }
    }
    resource_version.with_context(|| format!("the list of {path} has no resourceVersion"))
}

/// The measured phase: creates and bindings, CPU and memory.
async fn measure(
    server: &mut SchedulingServer,
    credentials: &ClientCredentials,
    args: &SchedulerArgs,
    scenario: Scenario,
) -> Result<ScenarioResult> {
    let pods = args.pods;
    let group_size = scenario.effective_group_size(args.group_size, args.nodes);
    let bindings = BindWatch::start(server.addr, credentials, NAMESPACE, pods).await?;
    let sent: Arc<Vec<OnceLock<Instant>>> = Arc::new((0..pods).map(|_| OnceLock::new()).collect());
    let mut notes = Vec::new();

    let cpu_before = server.cpu_time().ok();
    let client_cpu_before = process_cpu_time("self").ok();
    let machine_cpu_before = machine_busy_time().ok();
    let rss_before = server.memory().ok().map(|(rss, _)| rss);
    let mut rss_peak = rss_before;
    let phase_start = Instant::now();
    let mut writes = Some(spawn_creates(
        server.addr,
        credentials,
        args.clients,
        pods,
        scenario,
        group_size,
        sent.clone(),
    ));
    let mut creates: Option<WriteResult> = None;
    let mut timed_out = false;
    let mut last_progress = Instant::now();
    loop {
        tokio::time::sleep(SAMPLE_INTERVAL).await;
        if let Ok((rss, _)) = server.memory() {
            rss_peak = rss_peak.max(Some(rss));
        }
        if let Some(handle) = writes.take_if(|h| h.is_finished()) {
            let result = handle.await.context("the creating clients panicked")??;
            if let Some(e) = &result.first_error {
                notes.push(format!("first create failure: {e}"));
            }
            creates = Some(result);
        }
        let bound = bindings.bound();
        if let Some(c) = &creates
            && bound >= c.succeeded
        {
            break;
        }
        if bindings.has_ended() {
            notes.push("the pod watch ended early".into());
            break;
        }
        if phase_start.elapsed() > Duration::from_secs(args.timeout) {
            timed_out = true;
            break;
        }
        server.check_running()?;
        if last_progress.elapsed() >= PROGRESS_INTERVAL {
            let sent_so_far = sent.iter().filter(|s| s.get().is_some()).count();
            eprintln!(
                "  {:.0} s: {sent_so_far} creates sent, {bound} pods bound",
                phase_start.elapsed().as_secs_f64()
            );
            last_progress = Instant::now();
        }
    }
    let server_cpu = match (cpu_before, server.cpu_time().ok()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    let client_cpu = match (client_cpu_before, process_cpu_time("self").ok()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    let machine_cpu = match (machine_cpu_before, machine_busy_time().ok()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    let phase = phase_start.elapsed();
    let (rss_end, rss_high_water) = match server.memory() {
        Ok((rss, hwm)) => (Some(rss), Some(hwm)),
        Err(_) => (None, None),
    };
    if let Some(handle) = writes {
        handle.abort();
        notes.push("the creates had not finished when the phase ended".into());
    }
    let (bound_at, watch_error) = bindings.finish().await;
    if let Some(e) = watch_error {
        notes.push(format!("pod watch: {e}"));
    }
    let sent_at: Vec<Option<Instant>> = sent.iter().map(|s| s.get().copied()).collect();
    let times = BindTimes::from_times(&sent_at, &bound_at);
    let mut latencies = times.latencies.clone();
    let (created, create_failures, creates_elapsed) = match &creates {
        Some(c) => (c.succeeded, c.failed, Some(c.elapsed)),
        None => (sent_at.iter().flatten().count(), 0, None),
    };
    Ok(ScenarioResult {
        scenario,
        nodes: args.nodes,
        pods,
        group_size,
        nodes_ready_after: None,
        created,
        create_failures,
        creates_elapsed,
        bound: latencies.len(),
        latency: LatencySummary::from_samples(&mut latencies),
        span: times.span(),
        pods_per_second: times.pods_per_second(),
        phase,
        server_cpu,
        client_cpu,
        machine_cpu,
        rss_before,
        rss_peak,
        rss_high_water,
        rss_end,
        timed_out,
        notes,
    })
}

/// Starts the creating clients; each pod's send time is taken right before its request is
/// sent.
fn spawn_creates(
    addr: SocketAddr,
    credentials: &ClientCredentials,
    clients: usize,
    pods: usize,
    scenario: Scenario,
    group_size: usize,
    sent: Arc<Vec<OnceLock<Instant>>>,
) -> JoinHandle<Result<WriteResult>> {
    let credentials = credentials.clone();
    let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    tokio::spawn(async move {
        run_writes(addr, &credentials, clients, pods, move |index| {
            let body = pod_manifest(scenario, NAMESPACE, index, group_size).to_string();
            let request = WriteRequest {
                method: Method::POST,
                path: path.clone(),
                content_type: JSON,
                body: Bytes::from(body),
            };
            if let Some(slot) = sent.get(index) {
                let _ = slot.set(Instant::now());
            }
            request
        })
        .await
    })
}

/// Records when each benchmark pod is first seen bound, from a watch on the namespace's pods
/// (reopened from a fresh list when it ends or reports an error).
struct BindWatch {
    bound: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
    task: JoinHandle<(Vec<Option<Instant>>, Option<anyhow::Error>)>,
    pods: usize,
}

impl BindWatch {
    /// Lists the namespace's pods and opens the watch; returns once the watch is established.
    async fn start(
        addr: SocketAddr,
        credentials: &ClientCredentials,
        namespace: &str,
        pods: usize,
    ) -> Result<BindWatch> {
        let conn = ApiConnection::connect(addr, credentials).await?;
        let mut tracker = BindTracker {
            at: vec![None; pods],
            count: Arc::new(AtomicUsize::new(0)),
        };
        let path = format!("/api/v1/namespaces/{namespace}/pods");
        let stream = open_pod_watch(&conn, &path, &mut tracker).await?;
        let (stop, stop_rx) = watch::channel(false);
        let bound = tracker.count.clone();
        let task = tokio::spawn(follow_pod_watch(conn, path, tracker, stream, stop_rx));
        Ok(BindWatch {
            bound,
            stop,
            task,
            pods,
        })
    }

    /// Pods seen bound so far.
    fn bound(&self) -> usize {
        self.bound.load(Ordering::Relaxed)
    }

    /// Whether the watcher stopped on its own before every pod was bound.
    fn has_ended(&self) -> bool {
        self.task.is_finished() && self.bound() < self.pods
    }

    /// Stops the watcher; returns each pod's binding time and the watcher's failure, if any.
    async fn finish(self) -> (Vec<Option<Instant>>, Option<String>) {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok((at, error)) => (at, error.map(|e| format!("{e:#}"))),
            Err(e) => (
                vec![None; self.pods],
                Some(format!("the watcher panicked: {e}")),
            ),
        }
    }
}

/// First binding time per pod index.
struct BindTracker {
    at: Vec<Option<Instant>>,
    count: Arc<AtomicUsize>,
}

impl BindTracker {
    fn mark(&mut self, index: usize, when: Instant) {
        if let Some(slot @ None) = self.at.get_mut(index) {
            *slot = Some(when);
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn all_bound(&self) -> bool {
        self.count.load(Ordering::Relaxed) >= self.at.len()
    }
}

/// Lists the pods at `path` (marking those already bound) and opens a watch from the list's
/// resourceVersion.
async fn open_pod_watch(
    conn: &ApiConnection,
    path: &str,
    tracker: &mut BindTracker,
) -> Result<Incoming> {
    let listed_at = Instant::now();
    let resource_version = for_each_listed(conn, path, |pod| {
        if let Some(index) = bound_index(pod) {
            tracker.mark(index, listed_at);
        }
    })
    .await?;
    let watch_path = format!(
        "{path}?watch=true&resourceVersion={}&timeoutSeconds={WATCH_TIMEOUT_SECONDS}",
        percent_encode(&resource_version)
    );
    let response = conn
        .send(Method::GET, &watch_path, None, Bytes::new())
        .await?;
    if !response.status().is_success() {
        bail!("watching {path}: {}", response.status());
    }
    Ok(response.into_body())
}

/// Reads the pod watch until stopped or every pod is bound; returns the binding times seen and
/// why it gave up early, if it did.
async fn follow_pod_watch(
    conn: ApiConnection,
    path: String,
    mut tracker: BindTracker,
    mut body: Incoming,
    mut stop: watch::Receiver<bool>,
) -> (Vec<Option<Instant>>, Option<anyhow::Error>) {
    let mut buffer: Vec<u8> = Vec::new();
    let mut failed_reopens = 0;
    while !tracker.all_bound() {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            _ = stop.changed() => break,
        };
        let received = Instant::now();
        let mut reopen = false;
        match frame {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buffer.extend_from_slice(&data);
                }
            }
            Some(Err(_)) | None => reopen = true,
        }
        let mut consumed = 0;
        while let Some(newline) = buffer[consumed..].iter().position(|&b| b == b'\n') {
            let line = &buffer[consumed..consumed + newline];
            consumed += newline + 1;
            match scan_watch_line(line) {
                WatchLine::Bound(index) => tracker.mark(index, received),
                WatchLine::Error => reopen = true,
                WatchLine::Other => {}
            }
        }
        buffer.drain(..consumed);
        if reopen {
            buffer.clear();
            loop {
                match open_pod_watch(&conn, &path, &mut tracker).await {
                    Ok(stream) => {
                        body = stream;
                        failed_reopens = 0;
                        break;
                    }
                    Err(e) => {
                        failed_reopens += 1;
                        if failed_reopens >= WATCH_REOPEN_ATTEMPTS {
                            return (tracker.at, Some(e.context("reopening the pod watch")));
                        }
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
    }
    (tracker.at, None)
}
