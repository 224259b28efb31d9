//! What every cluster has: the default namespaces, the system PriorityClasses and the
//! `kubernetes` Service with its endpoints.

use std::net::Ipv4Addr;

use bytes::Bytes;
use http::Request;
use serde_json::{Value, json};

use crate::ApiServer;
use crate::authn::UserInfo;
use crate::status::{ApiError, Result};

impl ApiServer {
    /// Sends a request as the server itself (the in-process path every component will use).
    /// Its objects are built by the server, so unknown-field checks are skipped.
    pub async fn loopback(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.loopback_as(method, path, "application/json", body)
            .await
    }

    /// A merge patch sent as the server itself.
    pub async fn loopback_patch(&self, path: &str, patch: &Value) -> (u16, Value) {
        self.loopback_as("PATCH", path, "application/merge-patch+json", Some(patch))
            .await
    }

    async fn loopback_as(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{path}{sep}fieldValidation=Ignore"))
            .header("accept", "application/json");
        if body.is_some() {
            builder = builder.header("content-type", content_type);
        }
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let Ok(req) = builder.body(bytes) else {
            return (400, Value::Null);
        };
        let resp = self.handle(req, Some(UserInfo::loopback())).await;
        let code = resp.status().as_u16();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn ensure(&self, collection: &str, obj: Value) -> Result<()> {
        let (code, body) = self.loopback("POST", collection, Some(&obj)).await;
        match code {
            200..=299 | 409 => Ok(()),
            _ => Err(ApiError::internal(format!(
                "bootstrap {collection}: {code} {body}"
            ))),
        }
    }
}

/// Creates the default namespaces, the system PriorityClasses and the `kubernetes` Service,
/// Endpoints and EndpointSlice.
pub async fn ensure_defaults(api: &ApiServer) -> Result<()> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        api.ensure(
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await?;
    }
    for class in crate::priority::system_classes() {
        api.ensure("/apis/scheduling.k8s.io/v1/priorityclasses", class)
            .await?;
    }
    let (base, _) = api.inner.config.service_cidr;
    let ip = Ipv4Addr::from(u32::from(base) + 1).to_string();
    let port = api.inner.config.port;
    let address = api.inner.config.advertise_address.clone();
    let labels = json!({"component": "apiserver", "provider": "kubernetes"});
    api.ensure(
        "/api/v1/namespaces/default/services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
        }),
    )
    .await?;
    let endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": address}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    });
    let (code, _) = api
        .loopback(
            "PUT",
            "/api/v1/namespaces/default/endpoints/kubernetes",
            Some(&endpoints),
        )
        .await;
    if !(200..300).contains(&code) {
        return Err(ApiError::internal(format!("bootstrap endpoints: {code}")));
    }
    api.ensure(
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }),
    )
    .await
}
