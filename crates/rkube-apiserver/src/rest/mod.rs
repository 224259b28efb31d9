//! The REST verbs on resources: get, list, watch, create, update, patch, delete,
//! deletecollection, and the subresources status, scale, binding, eviction and finalize.

mod delete;
mod read;
mod review;
mod scale;
mod watch;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use rkube_store::KeyValue;
use serde_json::Value;

use crate::authn::UserInfo;
use crate::codec::{self, Output};
use crate::registry::Served;
use crate::request::ResourceRequest;
use crate::status::{ApiError, Result, Subject};
use crate::{ApiServer, Body, bytes_response};

/// One resource request being served.
pub(crate) struct Call<'a> {
    pub api: &'a ApiServer,
    pub req: ResourceRequest,
    pub query: &'a HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    pub user: &'a UserInfo,
}

/// The resolved request: the call plus the served resource.
pub(crate) struct Ctx<'a> {
    pub call: Call<'a>,
    pub served: Arc<Served>,
    pub output: Output,
}

impl Call<'_> {
    pub async fn run(self) -> Result<Response<Body>> {
        let registry = self.api.registry();
        let served = registry
            .lookup(&self.req.group, &self.req.version, &self.req.resource)
            .ok_or_else(ApiError::no_route)?;
        if !served.info.namespaced && self.req.namespace.is_some() {
            return Err(ApiError::no_route());
        }
        if let Some(sub) = &self.req.subresource {
            let known = served.info.has_subresource(sub)
                || served.custom.as_ref().is_some_and(|c| {
                    (sub == "status" && c.status) || (sub == "scale" && c.scale.is_some())
                });
            if !known {
                return Err(ApiError::no_route());
            }
        }
        let accept = self
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let output = codec::negotiate(accept, false)?;
        let ctx = Ctx {
            call: self,
            served,
            output,
        };
        ctx.dispatch().await
    }
}

impl Ctx<'_> {
    async fn dispatch(&self) -> Result<Response<Body>> {
        let sub = self.call.req.subresource.as_deref();
        match (self.call.req.verb, sub) {
            ("get", None | Some("status")) => self.get().await,
            ("get", Some("scale")) => self.get_scale().await,
            ("list", None) => self.list().await,
            ("watch", None) => self.watch().await,
            ("create", None) if review::is_review(&self.served) => self.review(),
            ("create", None) => self.create().await,
            ("create", Some("binding")) => self.bind().await,
            ("create", Some("eviction")) => self.evict().await,
            ("update", None | Some("status") | Some("finalize")) => self.update().await,
            ("update", Some("scale")) => self.update_scale().await,
            ("patch", None | Some("status")) => self.patch().await,
            ("patch", Some("scale")) => self.patch_scale().await,
            ("delete", None) => self.delete().await,
            ("deletecollection", None) => self.delete_collection().await,
            (verb, Some(sub))
                if matches!(sub, "log" | "exec" | "attach" | "portforward" | "proxy") =>
            {
                self.node_stream(verb, sub).await
            }
            (verb, _) => Err(ApiError::method_not_allowed(verb, &self.call.req.resource)),
        }
    }

    /// log, exec, attach, port-forward and proxy are served by the node agent the object is
    /// on; there is none yet, so these answer with what upstream says when it cannot reach one.
    async fn node_stream(&self, verb: &str, sub: &str) -> Result<Response<Body>> {
        let obj = self.read(&self.load(self.name()).await?)?;
        let node = obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if self.served.info.kind == "Pod" && node.is_empty() {
            return Err(ApiError::bad_request(format!(
                "pod {} does not have a host assigned",
                self.name()
            )));
        }
        Err(ApiError::unavailable(format!(
            "{sub} ({verb}) needs the node agent, which this server does not run yet"
        )))
    }

    /// The subject of error messages about the named object.
    fn subject<'b>(&'b self, name: &'b str) -> Subject<'b> {
        Subject {
            group: &self.served.info.group,
            resource: &self.served.info.plural,
            kind: &self.served.info.kind,
            name,
        }
    }

    fn name(&self) -> &str {
        self.call.req.name.as_deref().unwrap_or("")
    }

    fn namespace(&self) -> Option<&str> {
        if self.served.info.namespaced {
            self.call.req.namespace.as_deref()
        } else {
            None
        }
    }

    fn key(&self, name: &str) -> String {
        rkube_api::resources::object_key(&self.served.info, self.namespace().unwrap_or(""), name)
    }

    fn prefix(&self) -> String {
        rkube_api::resources::key_prefix(&self.served.info, self.namespace())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.call
            .query
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    fn dry_run(&self) -> bool {
        self.call.query.contains_key("dryRun")
    }

    async fn load(&self, name: &str) -> Result<KeyValue> {
        self.call
            .api
            .inner
            .store
            .get(&self.key(name))
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found(self.subject(name)))
    }

    /// Responds with one object in the negotiated form.
    fn respond_object(
        &self,
        code: StatusCode,
        raw: Option<Bytes>,
        obj: &Value,
    ) -> Result<Response<Body>> {
        match self.output {
            Output::Json | Output::AggregatedDiscovery => {
                let bytes = raw.unwrap_or_else(|| Bytes::from(obj.to_string()));
                Ok(bytes_response(code, bytes, "application/json"))
            }
            Output::Yaml => {
                let (b, ct) = codec::encode(Output::Yaml, obj);
                Ok(bytes_response(code, b, ct))
            }
            Output::Table(v) => {
                let table = crate::render::table(
                    &self.served,
                    v,
                    std::slice::from_ref(obj),
                    "",
                    self.include_object(),
                );
                Ok(bytes_response(code, table.to_string(), "application/json"))
            }
            Output::PartialMetadata => Ok(bytes_response(
                code,
                crate::render::partial_metadata(obj).to_string(),
                "application/json",
            )),
        }
    }

    /// Whether objects are stored at another version than this request's (then stored bytes
    /// cannot be returned as they are).
    fn converts(&self) -> bool {
        crate::kinds::converts(&self.served)
    }

    /// A stored object at the version of this request.
    fn read(&self, kv: &KeyValue) -> Result<Value> {
        let obj = parse_stored(kv)?;
        if self.converts() {
            crate::kinds::convert(&self.served, &obj, false)
        } else {
            Ok(obj)
        }
    }

    /// The store value for an object of this request's version.
    fn store_value(&self, obj: &Value) -> Result<rkube_store::ValueFn> {
        let stored = if self.converts() {
            crate::kinds::convert(&self.served, obj, true)?
        } else {
            obj.clone()
        };
        Ok(write::value_fn(stored))
    }

    /// Stored bytes that may be returned as they are.
    fn raw(&self, bytes: Bytes) -> Option<Bytes> {
        (!self.converts()).then_some(bytes)
    }

    fn include_object(&self) -> &str {
        self.param("includeObject").unwrap_or("Metadata")
    }
}

/// Maps store errors that are not about a specific object.
pub(crate) fn store_error(e: rkube_store::Error) -> ApiError {
    match e {
        rkube_store::Error::Compacted {
            requested,
            compacted,
        } => ApiError::expired(format!(
            "too old resource version: {requested} ({compacted})"
        )),
        rkube_store::Error::FutureRevision { requested, current } => {
            let mut e = ApiError::internal(format!(
                "Too large resource version: {requested}, current: {current}"
            ));
            e.code = 504;
            e.reason = "Timeout";
            e.message = format!("Too large resource version: {requested}, current: {current}");
            e.retry_after = Some(1);
            e
        }
        other => ApiError::internal(other),
    }
}

/// Parses stored bytes as a JSON object.
pub(crate) fn parse_stored(kv: &KeyValue) -> Result<Value> {
    serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::internal(format!("stored object {} is not JSON: {e}", kv.key)))
}
