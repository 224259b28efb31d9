//! Serving OpenAPI. A group version's document is generated from `rkube-api` the first time it
//! is needed and kept in two compact forms: its serialized bytes (what clients fetch) and its
//! component schemas without descriptions (what strict field validation reads). Hashes (for
//! `/openapi/v3` and ETags) are taken over the documents' inputs, so listing them generates
//! nothing. All of it is dropped when the set of served resources changes. All of it is dropped when the set of
//! served resources changes (a CRD is added or removed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::{Response, StatusCode};
use serde_json::Value;

use crate::registry::{Registry, Served};
use crate::status::{ApiError, Result};
use crate::{Body, bytes_response};

/// What is kept between requests.
#[derive(Default)]
pub struct OpenApiCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    hashes: HashMap<(String, String), String>,
    documents: HashMap<(String, String), Arc<Generated>>,
}

/// One generated group-version document.
struct Generated {
    json: bytes::Bytes,
    hash: String,
    validation: Arc<Value>,
}

impl OpenApiCache {
    /// Forgets everything (the served resources changed).
    pub fn clear(&self) {
        let mut s = self.lock();
        s.hashes.clear();
        s.documents.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The generated document of a group version, made on first use.
    fn document(&self, registry: &Registry, group: &str, version: &str) -> Option<Arc<Generated>> {
        let key = (group.to_string(), version.to_string());
        if let Some(d) = self.lock().documents.get(&key) {
            return Some(d.clone());
        }
        let value = generate(registry, group, version)?;
        let hash = self.hash(registry, group, version)?;
        let json = bytes::Bytes::from(value.to_string());
        let mut validation = serde_json::json!({"components": {"schemas": value.pointer("/components/schemas").cloned().unwrap_or(Value::Null)}});
        drop(value);
        strip_descriptions(&mut validation);
        let generated = Arc::new(Generated {
            json,
            hash,
            validation: Arc::new(validation),
        });
        self.lock().documents.insert(key, generated.clone());
        Some(generated)
    }

    /// The hash of a group version's document. A document is a pure function of this build and
    /// the resources served (with their CRDs), so the hash is taken over those inputs and no
    /// document has to be generated for the `/openapi/v3` root.
    fn hash(&self, registry: &Registry, group: &str, version: &str) -> Option<String> {
        let key = (group.to_string(), version.to_string());
        if let Some(h) = self.lock().hashes.get(&key) {
            return Some(h.clone());
        }
        let mut inputs = format!(
            "rkube {} {}\n",
            env!("CARGO_PKG_VERSION"),
            crate::KUBE_VERSION
        );
        let mut any = false;
        for served in registry.resources(group, version) {
            any = true;
            inputs.push_str(&format!("{:?}\n", served.info));
            if let Some(c) = &served.custom {
                inputs.push_str(
                    &c.crd
                        .pointer("/spec")
                        .map(Value::to_string)
                        .unwrap_or_default(),
                );
            }
        }
        if !any {
            return None;
        }
        let hash = rkube_api::openapi::content_hash(inputs.as_bytes());
        self.lock().hashes.insert(key, hash.clone());
        Some(hash)
    }

    /// `/openapi/v3`.
    pub fn v3_root(&self, registry: &Registry) -> Result<Response<Body>> {
        let mut entries = Vec::new();
        for g in registry.groups() {
            for v in &g.versions {
                if let Some(hash) = self.hash(registry, &g.group, v) {
                    entries.push((rkube_api::openapi::group_version_path(&g.group, v), hash));
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
        let hash = &doc.hash;
        let mut resp = bytes_response(StatusCode::OK, doc.json.clone(), "application/json");
        let headers = resp.headers_mut();
        if let Ok(v) = http::HeaderValue::from_str(&format!("\"{hash}\"")) {
            headers.insert(http::header::ETAG, v);
        }
        let cache = if query.get("hash") == Some(hash) {
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
        let mut v3_docs = Vec::new();
        for g in registry.groups() {
            for v in &g.versions {
                if let Some(doc) = generate(registry, &g.group, v) {
                    v3_docs.push(doc);
                }
            }
        }
        let v2 = rkube_api::openapi::v2_from_v3(&v3_docs);
        if accept.is_some_and(|a| a.contains("protobuf")) {
            let bytes = rkube_api::openapi::v2_protobuf(&v2);
            return Ok(bytes_response(
                StatusCode::OK,
                bytes,
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            ));
        }
        Ok(bytes_response(
            StatusCode::OK,
            v2.to_string(),
            "application/json",
        ))
    }

    /// The v3 document of a group version reduced to what strict field validation reads
    /// (component schemas without descriptions).
    pub fn validation_document(
        &self,
        registry: &Registry,
        group: &str,
        version: &str,
    ) -> Option<Arc<Value>> {
        self.document(registry, group, version)
            .map(|d| d.validation.clone())
    }
}

/// Generates the v3 document of a group version.
fn generate(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let served: Vec<&Arc<Served>> = registry.resources(group, version).collect();
    if served.is_empty() {
        return None;
    }
    Some(if served.iter().all(|s| s.custom.is_none()) {
        let infos: Vec<rkube_api::ResourceInfo> = served.iter().map(|s| s.info.clone()).collect();
        rkube_api::openapi::v3_document(group, version, &infos, &serde_json::Map::new())
    } else {
        let crds: Vec<Value> = served
            .iter()
            .filter_map(|s| s.custom.as_ref().map(|c| (*c.crd).clone()))
            .collect();
        rkube_api::openapi::v3_document_for_crds(&crds, version)
    })
}

/// Removes `description` texts (most of a document's size) from every schema.
fn strip_descriptions(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("description").is_some_and(Value::is_string) {
                m.remove("description");
            }
            m.values_mut().for_each(strip_descriptions);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_stripped_but_properties_named_description_stay() {
        let mut v = serde_json::json!({"description": "long text", "properties": {"description": {"type": "string", "description": "x"}}});
        strip_descriptions(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"properties": {"description": {"type": "string"}}})
        );
    }
}
