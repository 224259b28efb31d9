//! watch: a chunked stream of `{"type":..., "object":...}` lines fed by the store's revision
//! log, with initial events, bookmarks and selector filtering as upstream's watch cache does.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use rkube_store::{Event, EventKind, KeyValue, ListOptions};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracing::{Instrument, debug_span};

use super::{Ctx, parse_stored, store_error};
use crate::Body;
use crate::codec::Output;
use crate::object;
use crate::registry::Served;
use crate::render::partial_metadata;
use crate::selection::Filter;
use crate::status::{ApiError, Result};

/// How often bookmarks are sent when the client allows them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
/// The longest a watch stays open without `timeoutSeconds` (upstream's default minimum request
/// timeout).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// What a watch stream needs once it runs on its own.
struct Stream {
    served: std::sync::Arc<Served>,
    filter: Filter,
    output: Output,
    include_object: String,
    matched: Option<HashSet<String>>,
    first_table: bool,
    last_revision: u64,
}

impl Ctx<'_> {
    pub(super) async fn watch(&self) -> Result<Response<Body>> {
        let store = self.call.api.inner.store.clone();
        let filter = Filter::from_query(&self.served, self.call.query)?;
        let prefix = self.prefix();
        let rv = self.param("resourceVersion");
        let send_initial = match self.param("sendInitialEvents") {
            Some("true") => {
                if self.param("resourceVersionMatch") != Some("NotOlderThan") {
                    return Err(ApiError::unprocessable_patch(
                        "sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan",
                    ));
                }
                true
            }
            Some(_) => false,
            None => matches!(rv, None | Some("0")),
        };
        let bookmarks = matches!(self.param("allowWatchBookmarks"), Some("true"));
        let timeout = self
            .param("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TIMEOUT);

        let mut initial = Vec::new();
        let start = if send_initial {
            let (items, revision, _) = self.read_list(&filter, false).await?;
            initial = items;
            revision
        } else {
            match rv {
                Some(rv) => rv.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version {rv:?}"))
                })?,
                None => store.current_revision(),
            }
        };
        let mut state = Stream {
            served: self.served.clone(),
            filter,
            output: self.output,
            include_object: self.include_object().to_string(),
            matched: None,
            first_table: true,
            last_revision: start,
        };
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        let events = match store.watch(&prefix, start) {
            Ok(events) => Some(events),
            Err(rkube_store::Error::Compacted {
                requested,
                compacted,
            }) => {
                let status = ApiError::expired(format!(
                    "too old resource version: {requested} ({compacted})"
                ))
                .to_status();
                let _ = tx.try_send(frame("ERROR", &status));
                None
            }
            Err(e) => return Err(store_error(e)),
        };
        if !state.filter.is_everything() {
            let mut set = HashSet::new();
            if send_initial {
                set.extend(initial.iter().map(|kv| kv.key.clone()));
            } else if events.is_some() {
                let page = store
                    .list(
                        &prefix,
                        ListOptions {
                            revision: Some(start),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(store_error)?;
                for kv in page.items {
                    if state.filter.matches_raw(&kv)? {
                        set.insert(kv.key);
                    }
                }
            }
            state.matched = Some(set);
        }
        if let Some(mut events) = events {
            let span = debug_span!("watch", resource = %self.served.info.plural, start);
            tokio::spawn(
                async move {
                    for kv in &initial {
                        if let Some(f) = state.render("ADDED", kv, None)
                            && tx.send(f).await.is_err()
                        {
                            return;
                        }
                    }
                    if send_initial && bookmarks {
                        let b = state.bookmark(true);
                        if tx.send(b).await.is_err() {
                            return;
                        }
                    }
                    let deadline = tokio::time::sleep(timeout);
                    tokio::pin!(deadline);
                    let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
                    ticker.tick().await;
                    loop {
                        tokio::select! {
                            batch = events.recv() => {
                                let Some(batch) = batch else { return };
                                for event in batch {
                                    state.last_revision = event.kv.mod_revision;
                                    if let Some(f) = state.on_event(&event)
                                        && tx.send(f).await.is_err() {
                                            return;
                                        }
                                }
                            }
                            _ = ticker.tick(), if bookmarks => {
                                if tx.send(state.bookmark(false)).await.is_err() {
                                    return;
                                }
                            }
                            _ = &mut deadline => return,
                            _ = tx.closed() => return,
                        }
                    }
                }
                .instrument(span),
            );
        }
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
        });
        let mut resp = Response::new(StreamBody::new(stream).boxed());
        *resp.status_mut() = StatusCode::OK;
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, private"),
        );
        Ok(resp)
    }
}

fn frame(kind: &str, object: &Value) -> Bytes {
    Bytes::from(format!("{{\"type\":\"{kind}\",\"object\":{object}}}\n"))
}

impl Stream {
    fn on_event(&mut self, event: &Event) -> Option<Bytes> {
        let matches = self.filter.matches_raw(&event.kv).unwrap_or(false);
        let Some(set) = self.matched.as_mut() else {
            return match event.kind {
                EventKind::Create => self.render("ADDED", &event.kv, None),
                EventKind::Update => self.render("MODIFIED", &event.kv, None),
                EventKind::Delete => self.render("DELETED", &event.kv, Some(event.kv.mod_revision)),
            };
        };
        let was = set.contains(&event.kv.key);
        let kind = match (event.kind, was, matches) {
            (EventKind::Delete, true, _) => {
                set.remove(&event.kv.key);
                return self.render("DELETED", &event.kv, Some(event.kv.mod_revision));
            }
            (EventKind::Delete, false, _) => return None,
            (_, true, true) => "MODIFIED",
            (_, false, true) => {
                set.insert(event.kv.key.clone());
                "ADDED"
            }
            (_, true, false) => {
                set.remove(&event.kv.key);
                "DELETED"
            }
            (_, false, false) => return None,
        };
        self.render(kind, &event.kv, None)
    }

    /// Renders one event; `set_revision` overrides the object's resourceVersion (deletions).
    fn render(&mut self, kind: &str, kv: &KeyValue, set_revision: Option<u64>) -> Option<Bytes> {
        let converts = crate::kinds::converts(&self.served);
        if self.output == Output::Json && set_revision.is_none() && !converts {
            let mut out = Vec::with_capacity(kv.value.len() + 32);
            out.extend_from_slice(b"{\"type\":\"");
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(b"\",\"object\":");
            out.extend_from_slice(&kv.value);
            out.extend_from_slice(b"}\n");
            return Some(Bytes::from(out));
        }
        let mut obj = parse_stored(kv).ok()?;
        if converts {
            obj = crate::kinds::convert(&self.served, &obj, false).ok()?;
        }
        if let Some(rev) = set_revision {
            object::set_resource_version(&mut obj, rev);
        }
        let obj = match self.output {
            Output::Table(v) => {
                let mut t = crate::render::table(
                    &self.served,
                    v,
                    std::slice::from_ref(&obj),
                    object::resource_version(&obj),
                    &self.include_object,
                );
                if !self.first_table {
                    t["columnDefinitions"] = json!([]);
                }
                self.first_table = false;
                t
            }
            Output::PartialMetadata => partial_metadata(&obj),
            _ => obj,
        };
        Some(frame(kind, &obj))
    }

    fn bookmark(&self, initial_events_end: bool) -> Bytes {
        let info = &self.served.info;
        let mut meta = json!({"resourceVersion": self.last_revision.to_string()});
        if initial_events_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        frame(
            "BOOKMARK",
            &json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": meta}),
        )
    }
}
