//! Write load: concurrent ConfigMap creates and update churn, each client on its own HTTP/2
//! connection issuing one request at a time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http::Method;
use serde_json::json;

use super::client::{ApiConnection, ClientCredentials, JSON, MERGE_PATCH_JSON};
use super::stats::LatencySummary;

/// Size of the `payload` value of each ConfigMap.
const PAYLOAD_BYTES: usize = 1000;

/// What a batch of writes measured.
#[derive(Debug, Clone)]
pub struct WriteResult {
    /// Requests answered 2xx.
    pub succeeded: usize,
    /// Requests answered otherwise or failed on the connection.
    pub failed: usize,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// Wall time from the first request to the last answer.
    pub elapsed: Duration,
    /// Latencies of the successful requests.
    pub latency: Option<LatencySummary>,
}

/// Makes `namespace` exist (an existing one is fine).
pub async fn ensure_namespace(conn: &ApiConnection, namespace: &str) -> Result<()> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    conn.post_json("/api/v1/namespaces", &body, true)
        .await
        .with_context(|| format!("creating namespace {namespace}"))
}

/// A ConfigMap of about 1 KiB named `name`; `generation` varies the payload.
pub fn config_map(namespace: &str, name: &str, generation: usize) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"payload": payload(generation)},
    })
}

/// A deterministic 1000-character alphanumeric string that differs per `generation`.
pub fn payload(generation: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state = (generation as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..PAYLOAD_BYTES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// One write of a batch: method, path, content type and body for operation number `index`.
pub struct WriteRequest {
    /// HTTP method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// Content type of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
}

/// Creates of `cm-NNNNNN` in `namespace`.
pub fn create_request(namespace: &str, index: usize) -> WriteRequest {
    let name = format!("cm-{index:06}");
    WriteRequest {
        method: Method::POST,
        path: format!("/api/v1/namespaces/{namespace}/configmaps"),
        content_type: JSON,
        body: Bytes::from(config_map(namespace, &name, index).to_string()),
    }
}

/// Update number `index` of the churn: round robin over `objects` ConfigMaps, alternating an
/// unconditional PUT and a JSON merge patch.
pub fn churn_request(namespace: &str, objects: usize, index: usize) -> WriteRequest {
    let name = format!("cm-{:06}", index % objects.max(1));
    let path = format!("/api/v1/namespaces/{namespace}/configmaps/{name}");
    if index.is_multiple_of(2) {
        WriteRequest {
            method: Method::PUT,
            path,
            content_type: JSON,
            body: Bytes::from(config_map(namespace, &name, index).to_string()),
        }
    } else {
        WriteRequest {
            method: Method::PATCH,
            path,
            content_type: MERGE_PATCH_JSON,
            body: Bytes::from(json!({"data": {"payload": payload(index)}}).to_string()),
        }
    }
}

/// Runs `total` writes built by `make` over `clients` connections, each client sending one
/// request at a time, and measures each request from send to the end of its answer.
pub async fn run_writes<F>(
    addr: SocketAddr,
    credentials: &ClientCredentials,
    clients: usize,
    total: usize,
    make: F,
) -> Result<WriteResult>
where
    F: Fn(usize) -> WriteRequest + Send + Sync + 'static,
{
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients.max(1) {
        connections.push(ApiConnection::connect(addr, credentials).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections.len());
    for conn in connections {
        let next = next.clone();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0;
            let mut first_error = None;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    break;
                }
                let request = make(index);
                let sent = Instant::now();
                let outcome = conn
                    .call(
                        request.method,
                        &request.path,
                        Some(request.content_type),
                        request.body,
                    )
                    .await;
                match outcome {
                    Ok((status, _)) if status.is_success() => latencies.push(sent.elapsed()),
                    Ok((status, body)) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| {
                            format!(
                                "{}: {status}: {}",
                                request.path,
                                String::from_utf8_lossy(&body)
                            )
                        });
                    }
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| format!("{}: {e:#}", request.path));
                    }
                }
            }
            (latencies, failed, first_error)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failed = 0;
    let mut first_error = None;
    for task in tasks {
        let (client_latencies, client_failed, client_error) =
            task.await.context("a write client panicked")?;
        latencies.extend(client_latencies);
        failed += client_failed;
        if first_error.is_none() {
            first_error = client_error;
        }
    }
    let elapsed = started.elapsed();
    Ok(WriteResult {
        succeeded: latencies.len(),
        failed,
        first_error,
        elapsed,
        latency: LatencySummary::from_samples(&mut latencies),
    })
}

/// Sum of the JSON sizes of the items of a list at `path` (fetched in pages of 1000).
pub async fn live_list_bytes(conn: &ApiConnection, path: &str) -> Result<(usize, u64)> {
    let mut items = 0;
    let mut bytes = 0u64;
    let mut continue_token = String::new();
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut page_path = format!("{path}{separator}limit=1000");
        if !continue_token.is_empty() {
            page_path.push_str("&continue=");
            page_path.push_str(&percent_encode(&continue_token));
        }
        let list = conn.get_json(&page_path).await?;
        for item in list["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            items += 1;
            bytes += serde_json::to_vec(item)?.len() as u64;
        }
        match list["metadata"]["continue"].as_str() {
            Some(token) if !token.is_empty() => continue_token = token.to_string(),
            _ => return Ok((items, bytes)),
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encodes_continue_tokens() {
        assert_eq!(percent_encode("eyJ2Ijo+/x=="), "eyJ2Ijo%2B%2Fx%3D%3D");
        assert_eq!(percent_encode("a-b_c.d~"), "a-b_c.d~");
    }

    #[test]
    fn payload_is_deterministic_and_varies() {
        assert_eq!(payload(3).len(), PAYLOAD_BYTES);
        assert_eq!(payload(3), payload(3));
        assert_ne!(payload(3), payload(4));
        assert!(payload(0).chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn config_maps_are_about_a_kibibyte() {
        let body = config_map("bench", "cm-000001", 1).to_string();
        assert!((1000..1200).contains(&body.len()), "{}", body.len());
    }

    #[test]
    fn churn_alternates_put_and_merge_patch_round_robin() {
        let put = churn_request("ns", 100, 102);
        assert_eq!(put.method, Method::PUT);
        assert_eq!(put.path, "/api/v1/namespaces/ns/configmaps/cm-000002");
        let patch = churn_request("ns", 100, 103);
        assert_eq!(patch.method, Method::PATCH);
        assert_eq!(patch.content_type, MERGE_PATCH_JSON);
        assert_eq!(patch.path, "/api/v1/namespaces/ns/configmaps/cm-000003");
        let create = create_request("ns", 7);
        assert_eq!(create.method, Method::POST);
        assert_eq!(create.path, "/api/v1/namespaces/ns/configmaps");
    }
}
