//! Watch delivery: many watchers of one namespace spread over a few HTTP/2 connections, then
//! creates at a steady rate; each event's delay is measured from the create request's send time
//! to each watcher's receipt.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug_span};

use super::client::{ApiConnection, ClientCredentials};
use super::stats::LatencySummary;
use super::workload::payload;

/// How long watchers keep waiting for missing events after the last create.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long establishing all watches may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Prefix of the names of the objects created while watching.
const NAME_PREFIX: &str = "w-";

/// The shape of the watch-delivery measurement.
#[derive(Debug, Clone, Copy)]
pub struct WatchPlan {
    /// Concurrent watch streams.
    pub watchers: usize,
    /// HTTP/2 connections they are spread over.
    pub connections: usize,
    /// Objects created while watching.
    pub events: usize,
    /// Creates per second.
    pub rate_per_second: u32,
}

/// What the watch-delivery measurement found.
#[derive(Debug, Clone)]
pub struct WatchResult {
    /// The plan that was run.
    pub plan: WatchPlan,
    /// Time to establish all watches (response headers received).
    pub setup: Duration,
    /// Creates that succeeded.
    pub created: usize,
    /// ADDED events received over all watchers (expected: watchers x created).
    pub delivered: usize,
    /// Delivery delays.
    pub latency: Option<LatencySummary>,
    /// The first failure, for the report.
    pub first_error: Option<String>,
}

/// Runs the measurement in `namespace`, which must exist and hold no object named `w-*`.
pub async fn run_watch_delivery(
    addr: SocketAddr,
    credentials: &ClientCredentials,
    namespace: &str,
    plan: WatchPlan,
) -> Result<WatchResult> {
    let writer = ApiConnection::connect(addr, credentials).await?;
    let list = writer
        .get_json(&format!(
            "/api/v1/namespaces/{namespace}/configmaps?limit=1"
        ))
        .await?;
    let Some(resource_version) = list["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_string)
    else {
        bail!("the list has no resourceVersion");
    };
    let mut connections = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections.max(1) {
        connections.push(ApiConnection::connect(addr, credentials).await?);
    }

    let send_times: Arc<Vec<OnceLock<Instant>>> =
        Arc::new((0..plan.events).map(|_| OnceLock::new()).collect());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::channel::<Result<(), String>>(plan.watchers.max(1));
    let path = format!(
        "/api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion={resource_version}&timeoutSeconds=600"
    );
    let setup_started = Instant::now();
    let mut watchers = Vec::with_capacity(plan.watchers);
    for index in 0..plan.watchers {
        let watcher = Watcher {
            conn: connections[index % connections.len()].clone(),
            path: path.clone(),
            send_times: send_times.clone(),
            expected: plan.events,
        };
        let ready = ready_tx.clone();
        let stop = stop_rx.clone();
        watchers.push(tokio::spawn(
            watcher
                .run(ready, stop)
                .instrument(debug_span!("bench-watcher", index)),
        ));
    }
    drop(ready_tx);
    let mut first_error = None;
    let mut established = 0;
    while established < plan.watchers {
        match tokio::time::timeout_at((setup_started + SETUP_TIMEOUT).into(), ready_rx.recv()).await
        {
            Ok(Some(Ok(()))) => established += 1,
            Ok(Some(Err(e))) => {
                established += 1;
                first_error.get_or_insert(e);
            }
            Ok(None) => break,
            Err(_) => bail!(
                "only {established} of {} watches were established in {SETUP_TIMEOUT:?}",
                plan.watchers
            ),
        }
    }
    let setup = setup_started.elapsed();

    let mut created = 0;
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / plan.rate_per_second.max(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let create_path = format!("/api/v1/namespaces/{namespace}/configmaps");
    for (index, send_time) in send_times.iter().enumerate() {
        ticker.tick().await;
        let name = format!("{NAME_PREFIX}{index:06}");
        let body = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"payload": payload(index)},
        });
        let _ = send_time.set(Instant::now());
        match writer
            .call(
                Method::POST,
                &create_path,
                Some("application/json"),
                Bytes::from(body.to_string()),
            )
            .await
        {
            Ok((status, _)) if status.is_success() => created += 1,
            Ok((status, answer)) => {
                first_error.get_or_insert_with(|| {
                    format!(
                        "create {name}: {status}: {}",
                        String::from_utf8_lossy(&answer)
                    )
                });
            }
            Err(e) => {
                first_error.get_or_insert_with(|| format!("create {name}: {e:#}"));
            }
        }
    }

    let drain_deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    let stopper = tokio::spawn(async move {
        tokio::time::sleep_until(drain_deadline).await;
        let _ = stop_tx.send(true);
    });
    let mut latencies = Vec::with_capacity(plan.watchers * plan.events);
    for task in watchers {
        let outcome = task.await.context("a watcher panicked")?;
        latencies.extend(outcome.latencies);
        if let Some(e) = outcome.error {
            first_error.get_or_insert(e);
        }
    }
    stopper.abort();
    Ok(WatchResult {
        plan,
        setup,
        created,
        delivered: latencies.len(),
        latency: LatencySummary::from_samples(&mut latencies),
        first_error,
    })
}

/// One watch stream.
struct Watcher {
    conn: ApiConnection,
    path: String,
    send_times: Arc<Vec<OnceLock<Instant>>>,
    expected: usize,
}

/// What one watcher saw.
struct WatcherOutcome {
    latencies: Vec<Duration>,
    error: Option<String>,
}

impl Watcher {
    async fn run(
        self,
        ready: mpsc::Sender<Result<(), String>>,
        mut stop: watch::Receiver<bool>,
    ) -> WatcherOutcome {
        let mut outcome = WatcherOutcome {
            latencies: Vec::with_capacity(self.expected),
            error: None,
        };
        let response = match self
            .conn
            .send(Method::GET, &self.path, None, Bytes::new())
            .await
        {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                let message = format!("watch: {}", r.status());
                let _ = ready.send(Err(message.clone())).await;
                outcome.error = Some(message);
                return outcome;
            }
            Err(e) => {
                let message = format!("watch: {e:#}");
                let _ = ready.send(Err(message.clone())).await;
                outcome.error = Some(message);
                return outcome;
            }
        };
        let _ = ready.send(Ok(())).await;
        drop(ready);
        let mut body = response.into_body();
        let mut buffer: Vec<u8> = Vec::new();
        while outcome.latencies.len() < self.expected {
            let frame = tokio::select! {
                frame = body.frame() => frame,
                _ = stop.changed() => break,
            };
            let received = Instant::now();
            let data = match frame {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
                Some(Err(e)) => {
                    outcome.error = Some(format!("watch stream: {e}"));
                    break;
                }
                None => {
                    outcome.error = Some("watch stream ended early".into());
                    break;
                }
            };
            buffer.extend_from_slice(&data);
            let mut consumed = 0;
            while let Some(newline) = buffer[consumed..].iter().position(|&b| b == b'\n') {
                let line = &buffer[consumed..consumed + newline];
                consumed += newline + 1;
                if let Some(index) = added_object_index(line)
                    && let Some(sent) = self.send_times.get(index).and_then(OnceLock::get)
                {
                    outcome
                        .latencies
                        .push(received.saturating_duration_since(*sent));
                }
            }
            buffer.drain(..consumed);
        }
        outcome
    }
}

/// For a watch event line `{"type":"ADDED","object":{... "name":"w-000042" ...}}`, the object's
/// index (42). Scans bytes instead of parsing so a thousand watchers stay cheap for the client.
pub fn added_object_index(line: &[u8]) -> Option<usize> {
    const ADDED: &[u8] = br#""type":"ADDED""#;
    const NAME: &[u8] = br#""name":"w-"#;
    find(line, ADDED)?;
    let start = find(line, NAME)? + NAME.len();
    let digits = &line[start..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_index_of_added_objects() {
        let line = br#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w-000042","namespace":"bench-watch"},"data":{"payload":"x"}}}"#;
        assert_eq!(added_object_index(line), Some(42));
    }

    #[test]
    fn ignores_other_events_and_objects() {
        let modified = br#"{"type":"MODIFIED","object":{"metadata":{"name":"w-000001"}}}"#;
        assert_eq!(added_object_index(modified), None);
        let other = br#"{"type":"ADDED","object":{"metadata":{"name":"cm-000001"}}}"#;
        assert_eq!(added_object_index(other), None);
        let bookmark = br#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}}"#;
        assert_eq!(added_object_index(bookmark), None);
        assert_eq!(added_object_index(b""), None);
    }
}
