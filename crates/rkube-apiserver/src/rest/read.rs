//! get and list.

use base64::Engine;
use bytes::Bytes;
use http::{Response, StatusCode};
use rkube_store::{KeyValue, ListOptions};
use serde_json::{Value, json};

use super::{Ctx, store_error};
use crate::codec::Output;
use crate::render::partial_metadata;
use crate::selection::Filter;
use crate::status::{ApiError, Result};
use crate::{Body, bytes_response};

/// A list continue token: the revision of the first page and the last key returned.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
}

impl Ctx<'_> {
    pub(super) async fn get(&self) -> Result<Response<Body>> {
        let kv = self.load(self.name()).await?;
        if self.output == Output::Json && !self.converts() {
            return Ok(bytes_response(StatusCode::OK, kv.value, "application/json"));
        }
        let obj = self.read(&kv)?;
        self.respond_object(StatusCode::OK, None, &obj)
    }

    /// Reads the matching objects: (items, list revision, continue token). `list_params` says
    /// whether the request's list parameters (limit, continue, resourceVersion,
    /// resourceVersionMatch) apply; a watch's initial events read the current state whole.
    pub(super) async fn read_list(
        &self,
        filter: &Filter,
        list_params: bool,
    ) -> Result<(Vec<KeyValue>, u64, Option<String>)> {
        let store = &self.call.api.inner.store;
        let param = |name: &str| if list_params { self.param(name) } else { None };
        let limit: usize = match param("limit") {
            Some(l) => l
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
            None => 0,
        };
        let prefix = self.prefix();
        let (mut revision, mut start_after) = (None, None);
        if let Some(token) = param("continue") {
            let t = decode_continue(token)?;
            revision = Some(t.rv);
            start_after = Some(format!("{prefix}{}", t.start));
        } else if let Some(rv) = param("resourceVersion") {
            let rv: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
            match param("resourceVersionMatch") {
                Some("Exact") => revision = Some(rv),
                Some("NotOlderThan") | None => {
                    let current = store.current_revision();
                    if rv > current {
                        return Err(store_error(rkube_store::Error::FutureRevision {
                            requested: rv,
                            current,
                        }));
                    }
                }
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "unsupported resourceVersionMatch {other:?}"
                    )));
                }
            }
        } else if param("resourceVersionMatch").is_some() {
            return Err(ApiError::bad_request(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        let mut items = Vec::new();
        loop {
            let page = store
                .list(&prefix, ListOptions { revision, start_after: start_after.clone(), limit: if limit == 0 { 0 } else { limit.max(64) } })
                .await
                .map_err(|e| match e {
                    rkube_store::Error::Compacted { .. } if param("continue").is_some() => ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    ),
                    other => store_error(other),
                })?;
            revision = Some(page.revision);
            let page_len = page.items.len();
            let mut last_key = None;
            let mut scanned = 0;
            for kv in page.items {
                scanned += 1;
                last_key = Some(kv.key.clone());
                if filter.matches_raw(&kv)? {
                    items.push(kv);
                    if limit > 0 && items.len() == limit {
                        break;
                    }
                }
            }
            let rev = page.revision;
            if limit > 0 && items.len() == limit {
                // More follow if the page had unscanned keys or the store has more.
                let more = page.more || scanned < page_len;
                let token = items.last().filter(|_| more).map(|kv| {
                    encode_continue(rev, kv.key.strip_prefix(&prefix).unwrap_or(&kv.key))
                });
                return Ok((items, rev, token));
            }
            if !page.more || page_len == 0 || limit == 0 {
                return Ok((items, rev, None));
            }
            start_after = last_key;
        }
    }

    pub(super) async fn list(&self) -> Result<Response<Body>> {
        let filter = Filter::from_query(&self.served, self.call.query)?;
        let (items, revision, token) = self.read_list(&filter, true).await?;
        let info = &self.served.info;
        match self.output {
            Output::Json if !self.converts() => {
                let mut meta = json!({"resourceVersion": revision.to_string()});
                if let Some(t) = &token {
                    meta["continue"] = json!(t);
                }
                let mut out = Vec::with_capacity(
                    128 + items.iter().map(|kv| kv.value.len() + 1).sum::<usize>(),
                );
                out.extend_from_slice(
                    format!(
                        "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
                        json!(info.list_kind),
                        json!(info.api_version()),
                        meta
                    )
                    .as_bytes(),
                );
                for (i, kv) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&kv.value);
                }
                out.extend_from_slice(b"]}");
                Ok(bytes_response(
                    StatusCode::OK,
                    Bytes::from(out),
                    "application/json",
                ))
            }
            output => {
                let objects = items
                    .iter()
                    .map(|kv| self.read(kv))
                    .collect::<Result<Vec<Value>>>()?;
                let body = match output {
                    Output::Table(v) => {
                        let mut t = crate::render::table(
                            &self.served,
                            v,
                            &objects,
                            &revision.to_string(),
                            self.include_object(),
                        );
                        if let Some(tok) = &token {
                            t["metadata"]["continue"] = json!(tok);
                        }
                        t
                    }
                    Output::PartialMetadata => json!({
                        "kind": "PartialObjectMetadataList",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": {"resourceVersion": revision.to_string(), "continue": token},
                        "items": objects.iter().map(partial_metadata).collect::<Vec<_>>(),
                    }),
                    _ => json!({
                        "kind": info.list_kind,
                        "apiVersion": info.api_version(),
                        "metadata": {"resourceVersion": revision.to_string(), "continue": token},
                        "items": objects,
                    }),
                };
                let (b, ct) = crate::codec::encode(
                    if output == Output::Yaml {
                        Output::Yaml
                    } else {
                        Output::Json
                    },
                    &body,
                );
                Ok(bytes_response(StatusCode::OK, b, ct))
            }
        }
    }
}

fn encode_continue(rv: u64, start: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: start.to_string(),
    };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&t).unwrap_or_default())
}

fn decode_continue(token: &str) -> Result<ContinueToken> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || t.start.contains('/') && t.start.contains("..") {
        return Err(bad());
    }
    Ok(t)
}
