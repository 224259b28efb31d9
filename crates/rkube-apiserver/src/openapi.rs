//! Serving OpenAPI: the documents are built from `rkube-api` on first use and cached until the
//! set of served resources changes (a CRD is added or removed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::{Response, StatusCode};
use serde_json::Value;

use crate::registry::{Registry, Served};
use crate::status::{ApiError, Result};
use crate::{Body, bytes_response};

/// Cached documents.
#[derive(Default)]
pub struct OpenApiCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    v3: HashMap<(String, String), Arc<Document>>,
    v2: Option<Arc<(Vec<u8>, Vec<u8>)>>,
}

struct Document {
    json: Vec<u8>,
    value: Arc<Value>,
    hash: String,
}

impl OpenApiCache {
    /// Forgets every document (the served resources changed).
    pub fn clear(&self) {
        let mut s = self.lock();
        s.v3.clear();
        s.v2 = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn document(&self, registry: &Registry, group: &str, version: &str) -> Option<Arc<Document>> {
        let key = (group.to_string(), version.to_string());
        if let Some(d) = self.lock().v3.get(&key) {
            return Some(d.clone());
        }
        let served: Vec<&Arc<Served>> = registry.resources(group, version).collect();
        if served.is_empty() {
            return None;
        }
        let value = if served.iter().all(|s| s.custom.is_none()) {
            let infos: Vec<rkube_api::ResourceInfo> =
                served.iter().map(|s| s.info.clone()).collect();
            rkube_api::openapi::v3_document(group, version, &infos, &serde_json::Map::new())
        } else {
            crd_document(registry, group, version)
        };
        let json = value.to_string().into_bytes();
        let hash = rkube_api::openapi::content_hash(&json);
        let doc = Arc::new(Document {
            json,
            value: Arc::new(value),
            hash,
        });
        self.lock().v3.insert(key, doc.clone());
        Some(doc)
    }

    /// `/openapi/v3`.
    pub fn v3_root(&self, registry: &Registry) -> Result<Response<Body>> {
        let mut entries = Vec::new();
        for g in registry.groups() {
            for v in &g.versions {
                if let Some(doc) = self.document(registry, &g.group, v) {
                    entries.push((
                        rkube_api::openapi::group_version_path(&g.group, v),
                        doc.hash.clone(),
                    ));
                }
            }
        }
        let root = rkube_api::openapi::v3_root(&entries);
        Ok(bytes_response(
            StatusCode::OK,
            root.to_string(),
            "application/json",
        ))
    }

    /// `/openapi/v3/api/v1` and `/openapi/v3/apis/{group}/{version}`.
    pub fn v3(
        &self,
        registry: &Registry,
        group: &str,
        version: &str,
        query: &HashMap<String, String>,
    ) -> Result<Response<Body>> {
        let doc = self
            .document(registry, group, version)
            .ok_or_else(ApiError::no_route)?;
        let mut resp = bytes_response(StatusCode::OK, doc.json.clone(), "application/json");
        let headers = resp.headers_mut();
        if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", doc.hash)) {
            headers.insert(http::header::ETAG, v);
        }
        let cache = if query.get("hash") == Some(&doc.hash) {
            "public, immutable"
        } else {
            "no-cache, private"
        };
        headers.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static(cache),
        );
        Ok(resp)
    }

    /// `/openapi/v2`, as JSON or as gnostic protobuf when asked for.
    pub fn v2(&self, registry: &Registry, accept: Option<&str>) -> Result<Response<Body>> {
        let cached = self.lock().v2.clone();
        let docs = match cached {
            Some(d) => d,
            None => {
                let mut v3_docs = Vec::new();
                for g in registry.groups() {
                    for v in &g.versions {
                        if let Some(doc) = self.document(registry, &g.group, v) {
                            v3_docs.push((*doc.value).clone());
                        }
                    }
                }
                let v2 = rkube_api::openapi::v2_from_v3(&v3_docs);
                let d = Arc::new((
                    v2.to_string().into_bytes(),
                    rkube_api::openapi::v2_protobuf(&v2),
                ));
                self.lock().v2 = Some(d.clone());
                d
            }
        };
        if accept.is_some_and(|a| a.contains("protobuf")) {
            return Ok(bytes_response(
                StatusCode::OK,
                docs.1.clone(),
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            ));
        }
        Ok(bytes_response(
            StatusCode::OK,
            docs.0.clone(),
            "application/json",
        ))
    }

    /// The v3 document of a group version (the schemas strict field validation checks against).
    pub fn group_version_document(
        &self,
        registry: &Registry,
        group: &str,
        version: &str,
    ) -> Option<Arc<Value>> {
        self.document(registry, group, version)
            .map(|d| d.value.clone())
    }
}

fn crd_document(registry: &Registry, group: &str, version: &str) -> Value {
    let crds: Vec<Value> = registry
        .resources(group, version)
        .filter_map(|s| s.custom.as_ref().map(|c| (*c.crd).clone()))
        .collect();
    rkube_api::openapi::v3_document_for_crds(&crds, version)
}
