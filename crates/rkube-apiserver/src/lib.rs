//! The Kubernetes API over HTTPS.
//!
//! This crate owns the request path of `shared/ARCHITECTURE.md`: TLS, authentication,
//! authorization, decoding, admission, defaulting and validation, the store write with the
//! object's resourceVersion, and the response (JSON, YAML, Table); plus discovery, OpenAPI,
//! watch and CRDs. Everything it knows about individual kinds comes from `rkube-api`; everything
//! it persists goes through the `rkube-store` trait. It must never write partially: a request
//! that fails at any step leaves the store unchanged.

pub mod authn;
pub mod authz;
mod bootstrap;
mod codec;
mod crd;
mod deletion;
mod discovery;
mod kinds;
mod object;
mod openapi;
pub mod pki;
mod priority;
mod registry;
mod render;
mod request;
mod rest;
mod selection;
pub mod server;
mod services;
pub mod status;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use rkube_store::Store;
use serde_json::{Value, json};

use crate::authn::UserInfo;
use crate::authz::{Attributes, Authorizer, Decision, ResourceAttributes};
use crate::codec::Output;
use crate::registry::Registry;
use crate::request::Target;
use crate::status::{ApiError, Subject};

/// The response body type: a whole buffer or a stream (watch).
pub type Body = BoxBody<Bytes, Infallible>;

/// The largest request body accepted (upstream's limit): larger gets 413.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The Kubernetes version this server reports.
pub const KUBE_VERSION: &str = "v1.33.0";

/// Settings of the API server.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Service cluster IP range, e.g. `10.43.0.0/16`.
    pub service_cidr: (Ipv4Addr, u8),
    /// The NodePort range, inclusive.
    pub node_port_range: (u16, u16),
    /// The address clients reach the server at (for the `kubernetes` Service endpoints).
    pub advertise_address: String,
    /// The secure port.
    pub port: u16,
}

impl Config {
    /// Parses a CIDR such as `10.43.0.0/16`.
    pub fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
        let (ip, bits) = s
            .split_once('/')
            .ok_or_else(|| format!("{s}: not a CIDR (want a.b.c.d/n)"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|e| format!("{s}: {e}"))?;
        let bits: u8 = bits.parse().map_err(|e| format!("{s}: {e}"))?;
        if !(8..=30).contains(&bits) {
            return Err(format!("{s}: prefix length must be between 8 and 30"));
        }
        let mask = u32::MAX << (32 - bits);
        Ok((Ipv4Addr::from(u32::from(ip) & mask), bits))
    }
}

/// The API server: cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct ApiServer {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    registry: RwLock<Arc<Registry>>,
    authorizer: Box<dyn Authorizer>,
    config: Config,
    ready: AtomicBool,
    openapi: openapi::OpenApiCache,
    service_alloc: tokio::sync::Mutex<()>,
    crd_lock: tokio::sync::Mutex<()>,
}

impl ApiServer {
    /// A server over `store`, authorizing with `authorizer`.
    pub fn new(
        store: Arc<dyn Store>,
        authorizer: Box<dyn Authorizer>,
        config: Config,
    ) -> ApiServer {
        ApiServer {
            inner: Arc::new(Inner {
                store,
                registry: RwLock::new(Arc::new(Registry::builtin())),
                authorizer,
                config,
                ready: AtomicBool::new(false),
                openapi: openapi::OpenApiCache::default(),
                service_alloc: tokio::sync::Mutex::new(()),
                crd_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Creates what a cluster always has (namespaces, the `kubernetes` Service), loads CRDs from
    /// the store, and marks the server ready.
    pub async fn start(&self) -> Result<(), ApiError> {
        crd::reload(self).await?;
        bootstrap::ensure_defaults(self).await?;
        self.inner.ready.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn registry(&self) -> Arc<Registry> {
        match self.inner.registry.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_registry(&self, registry: Registry) {
        let mut guard = match self.inner.registry.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(registry);
        self.inner.openapi.clear();
    }

    /// Handles one request. `user` is `None` when the request carried no valid credentials.
    pub async fn handle(&self, req: Request<Bytes>, user: Option<UserInfo>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let query = request::parse_query(parts.uri.query());
        let path = parts.uri.path().to_string();
        let method = parts.method.as_str().to_string();
        let target = request::parse(&method, &path, &query);
        match &target {
            Target::Health(check) => return self.health(&path, check),
            Target::Version => return json_response(StatusCode::OK, &version_info()),
            _ => {}
        }
        let Some(user) = user else {
            return error_response(&ApiError::unauthorized());
        };
        let accept = parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let result = match target {
            Target::Resource(r) => {
                let attrs = Attributes {
                    user: &user,
                    verb: r.verb,
                    resource: Some(ResourceAttributes {
                        group: &r.group,
                        resource: &r.resource,
                        subresource: r.subresource.as_deref(),
                        namespace: r.namespace.as_deref(),
                        name: r.name.as_deref(),
                    }),
                    path: &path,
                };
                if self.inner.authorizer.authorize(&attrs) == Decision::Deny {
                    let s = Subject {
                        group: &r.group,
                        resource: &r.resource,
                        kind: "",
                        name: r.name.as_deref().unwrap_or(""),
                    };
                    return error_response(&ApiError::forbidden(
                        s,
                        &user.name,
                        r.verb,
                        r.namespace.as_deref(),
                    ));
                }
                let call = rest::Call {
                    api: self,
                    req: r,
                    query: &query,
                    headers: &parts.headers,
                    body,
                    user: &user,
                };
                call.run().await
            }
            other => {
                let verb = if method == "GET" || method == "HEAD" {
                    "get"
                } else {
                    "post"
                };
                let attrs = Attributes {
                    user: &user,
                    verb,
                    resource: None,
                    path: &path,
                };
                if self.inner.authorizer.authorize(&attrs) == Decision::Deny {
                    return error_response(&ApiError::forbidden_path(&user.name, &path));
                }
                if verb != "get" {
                    return error_response(&ApiError::method_not_allowed(&method, &path));
                }
                self.non_resource(other, accept.as_deref(), &query).await
            }
        };
        result.unwrap_or_else(|e| error_response(&e))
    }

    fn health(&self, path: &str, _check: &str) -> Response<Body> {
        let ready = self.inner.ready.load(Ordering::SeqCst);
        if path.starts_with("/readyz") && !ready {
            return text_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "[-]rkube-ready failed: not ready\nreadyz check failed\n",
            );
        }
        text_response(StatusCode::OK, "ok")
    }

    async fn non_resource(
        &self,
        target: Target,
        accept: Option<&str>,
        query: &HashMap<String, String>,
    ) -> Result<Response<Body>, ApiError> {
        let registry = self.registry();
        match &target {
            Target::OpenApiV2 => return self.inner.openapi.v2(&registry, accept),
            Target::OpenApiV3Root => return self.inner.openapi.v3_root(&registry),
            Target::OpenApiV3(g, v) => return self.inner.openapi.v3(&registry, g, v, query),
            _ => {}
        }
        let discovery_allowed = matches!(target, Target::CoreGroups | Target::Groups);
        let output = codec::negotiate(accept, discovery_allowed)?;
        let value = match target {
            Target::CoreGroups if output == Output::AggregatedDiscovery => {
                discovery::aggregated(&registry, true)
            }
            Target::Groups if output == Output::AggregatedDiscovery => {
                discovery::aggregated(&registry, false)
            }
            Target::CoreGroups => discovery::core_versions(&format!(
                "{}:{}",
                self.inner.config.advertise_address, self.inner.config.port
            )),
            Target::Groups => discovery::group_list(&registry),
            Target::Group(g) => discovery::group(&registry, &g).ok_or_else(ApiError::no_route)?,
            Target::GroupVersion(g, v) => {
                discovery::resource_list(&registry, &g, &v).ok_or_else(ApiError::no_route)?
            }
            _ => return Err(ApiError::no_route()),
        };
        let (bytes, content_type) = codec::encode(output, &value);
        Ok(bytes_response(StatusCode::OK, bytes, content_type))
    }
}

fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": KUBE_VERSION,
        "gitCommit": "rkube",
        "gitTreeState": "clean",
        "buildDate": "2026-11-22T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": "linux/amd64",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
    })
}

fn full_body(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn bytes_response(code: StatusCode, bytes: impl Into<Bytes>, content_type: &str) -> Response<Body> {
    let mut resp = Response::new(full_body(bytes));
    *resp.status_mut() = code;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

fn json_response(code: StatusCode, value: &Value) -> Response<Body> {
    bytes_response(code, value.to_string(), "application/json")
}

fn text_response(code: StatusCode, text: &'static str) -> Response<Body> {
    bytes_response(code, text, "text/plain; charset=utf-8")
}

/// The `Status` response for an error.
pub fn error_response(e: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(code, &e.to_status());
    if let Some(secs) = e.retry_after {
        resp.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
