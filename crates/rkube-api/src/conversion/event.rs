//! Core `v1` `Event` <-> `events.k8s.io/v1` `Event`, as upstream converts through its internal
//! type (`pkg/apis/events/v1/conversion.go`).
//!
//! The fields map one to one: `regarding` <-> `involvedObject`, `note` <-> `message`,
//! `reportingController` <-> `reportingComponent`, `deprecatedSource` <-> `source`,
//! `deprecatedFirstTimestamp`/`deprecatedLastTimestamp`/`deprecatedCount` <->
//! `firstTimestamp`/`lastTimestamp`/`count`; `related`, `reportingInstance`, `eventTime`,
//! `series`, `action`, `reason` and `type` keep their names. Each side is written as Go writes
//! its type: core `v1` always has `involvedObject`, `source`, `firstTimestamp`, `lastTimestamp`,
//! `eventTime`, `reportingComponent` and `reportingInstance` (zero times as `null`);
//! `events.k8s.io/v1` always has `eventTime`, `regarding`, `deprecatedSource` and the two
//! deprecated timestamps.

use serde_json::{Map, Value};

use super::wire::{copy_omitempty, copy_set, object, or_zero, string_or_empty, time_or_null};

/// A core `v1` Event as `events.k8s.io/v1`.
pub(super) fn core_to_events(core: &Value) -> Value {
    let mut out = type_meta("events.k8s.io/v1", core);
    out.insert("eventTime".into(), time_or_null(core, "eventTime"));
    if let Some(series) = series(core, true) {
        out.insert("series".into(), series);
    }
    copy_omitempty(&mut out, "reportingController", core, "reportingComponent");
    copy_omitempty(&mut out, "reportingInstance", core, "reportingInstance");
    copy_omitempty(&mut out, "action", core, "action");
    copy_omitempty(&mut out, "reason", core, "reason");
    out.insert(
        "regarding".into(),
        or_zero(core, "involvedObject", Value::Object(Map::new())),
    );
    copy_set(&mut out, "related", core, "related");
    copy_omitempty(&mut out, "note", core, "message");
    copy_omitempty(&mut out, "type", core, "type");
    out.insert("deprecatedSource".into(), source(core.get("source")));
    out.insert(
        "deprecatedFirstTimestamp".into(),
        time_or_null(core, "firstTimestamp"),
    );
    out.insert(
        "deprecatedLastTimestamp".into(),
        time_or_null(core, "lastTimestamp"),
    );
    copy_omitempty(&mut out, "deprecatedCount", core, "count");
    Value::Object(out)
}

/// An `events.k8s.io/v1` Event as core `v1`.
pub(super) fn events_to_core(events: &Value) -> Value {
    let mut out = type_meta("v1", events);
    out.insert(
        "involvedObject".into(),
        or_zero(events, "regarding", Value::Object(Map::new())),
    );
    copy_omitempty(&mut out, "reason", events, "reason");
    copy_omitempty(&mut out, "message", events, "note");
    out.insert("source".into(), source(events.get("deprecatedSource")));
    out.insert(
        "firstTimestamp".into(),
        time_or_null(events, "deprecatedFirstTimestamp"),
    );
    out.insert(
        "lastTimestamp".into(),
        time_or_null(events, "deprecatedLastTimestamp"),
    );
    copy_omitempty(&mut out, "count", events, "deprecatedCount");
    copy_omitempty(&mut out, "type", events, "type");
    out.insert("eventTime".into(), time_or_null(events, "eventTime"));
    if let Some(series) = series(events, false) {
        out.insert("series".into(), series);
    }
    copy_omitempty(&mut out, "action", events, "action");
    copy_set(&mut out, "related", events, "related");
    out.insert(
        "reportingComponent".into(),
        string_or_empty(events, "reportingController"),
    );
    out.insert(
        "reportingInstance".into(),
        string_or_empty(events, "reportingInstance"),
    );
    Value::Object(out)
}

/// `kind`, `apiVersion` and the unchanged `metadata`.
fn type_meta(api_version: &str, from: &Value) -> Map<String, Value> {
    let mut out = object([("kind", "Event".into()), ("apiVersion", api_version.into())]);
    if let Some(metadata) = from.get("metadata") {
        out.insert("metadata".into(), metadata.clone());
    }
    out
}

/// An `EventSource`: `{component, host}`, both `omitempty`.
fn source(source: Option<&Value>) -> Value {
    let source = source.unwrap_or(&Value::Null);
    let mut out = Map::new();
    copy_omitempty(&mut out, "component", source, "component");
    copy_omitempty(&mut out, "host", source, "host");
    Value::Object(out)
}

/// The `EventSeries`, if set. `events.k8s.io/v1` always writes its `count`; core `v1` drops a
/// zero one. Both write a zero `lastObservedTime` as `null`.
fn series(from: &Value, to_events: bool) -> Option<Value> {
    let series = from.get("series").filter(|s| !s.is_null())?;
    let mut out = Map::new();
    if to_events {
        out.insert("count".into(), or_zero(series, "count", 0.into()));
    } else {
        copy_omitempty(&mut out, "count", series, "count");
    }
    out.insert(
        "lastObservedTime".into(),
        time_or_null(series, "lastObservedTime"),
    );
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::super::{ConversionError, convert};
    use serde_json::{Value, json};

    /// A core event as Go writes it, every field set.
    fn full_core_event() -> Value {
        json!({
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": "web.17a", "namespace": "default", "resourceVersion": "42",
                         "uid": "u-1", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web",
                               "uid": "p-1", "apiVersion": "v1", "resourceVersion": "7",
                               "fieldPath": "spec.containers{web}"},
            "reason": "Pulled",
            "message": "Container image \"nginx\" already present on machine",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2025-01-01T00:00:00Z",
            "lastTimestamp": "2025-01-01T00:05:00Z",
            "count": 3,
            "type": "Normal",
            "eventTime": "2025-01-01T00:00:00.000001Z",
            "series": {"count": 2, "lastObservedTime": "2025-01-01T00:05:00.000000Z"},
            "action": "Pulling",
            "related": {"kind": "Node", "name": "node-1", "apiVersion": "v1"},
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1"
        })
    }

    #[test]
    fn core_to_events_maps_every_field() -> Result<(), ConversionError> {
        let out = convert(&full_core_event(), "events.k8s.io/v1")?;
        let expected = json!({
            "kind": "Event",
            "apiVersion": "events.k8s.io/v1",
            "metadata": {"name": "web.17a", "namespace": "default", "resourceVersion": "42",
                         "uid": "u-1", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "eventTime": "2025-01-01T00:00:00.000001Z",
            "series": {"count": 2, "lastObservedTime": "2025-01-01T00:05:00.000000Z"},
            "reportingController": "kubelet",
            "reportingInstance": "node-1",
            "action": "Pulling",
            "reason": "Pulled",
            "regarding": {"kind": "Pod", "namespace": "default", "name": "web",
                          "uid": "p-1", "apiVersion": "v1", "resourceVersion": "7",
                          "fieldPath": "spec.containers{web}"},
            "related": {"kind": "Node", "name": "node-1", "apiVersion": "v1"},
            "note": "Container image \"nginx\" already present on machine",
            "type": "Normal",
            "deprecatedSource": {"component": "kubelet", "host": "node-1"},
            "deprecatedFirstTimestamp": "2025-01-01T00:00:00Z",
            "deprecatedLastTimestamp": "2025-01-01T00:05:00Z",
            "deprecatedCount": 3
        });
        assert_eq!(out, expected);
        // Go's field order.
        let keys: Vec<&String> = out
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        let expected_keys: Vec<&String> = expected
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, expected_keys);
        Ok(())
    }

    #[test]
    fn full_event_round_trips() -> Result<(), ConversionError> {
        let core = full_core_event();
        let events = convert(&core, "events.k8s.io/v1")?;
        let back = convert(&events, "v1")?;
        assert_eq!(back, core);
        let keys: Vec<&String> = back
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        let core_keys: Vec<&String> = core
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, core_keys);
        assert_eq!(convert(&back, "events.k8s.io/v1")?, events);
        Ok(())
    }

    /// What kube-apiserver serves at core v1 for an event created through events.k8s.io/v1
    /// by a component that only sets the new fields (e.g. the scheduler).
    #[test]
    fn new_style_event_read_as_core() -> Result<(), ConversionError> {
        let events = json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "web.17b", "namespace": "default"},
            "eventTime": "2025-01-01T00:00:00.123456Z",
            "reportingController": "default-scheduler",
            "reportingInstance": "default-scheduler-node-1",
            "action": "Binding",
            "reason": "Scheduled",
            "regarding": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "p-1",
                          "apiVersion": "v1", "resourceVersion": "7"},
            "note": "Successfully assigned default/web to node-1",
            "type": "Normal"
        });
        let core = convert(&events, "v1")?;
        assert_eq!(
            core,
            json!({
                "kind": "Event",
                "apiVersion": "v1",
                "metadata": {"name": "web.17b", "namespace": "default"},
                "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web",
                                   "uid": "p-1", "apiVersion": "v1", "resourceVersion": "7"},
                "reason": "Scheduled",
                "message": "Successfully assigned default/web to node-1",
                "source": {},
                "firstTimestamp": null,
                "lastTimestamp": null,
                "type": "Normal",
                "eventTime": "2025-01-01T00:00:00.123456Z",
                "action": "Binding",
                "reportingComponent": "default-scheduler",
                "reportingInstance": "default-scheduler-node-1"
            })
        );
        Ok(())
    }

    /// An old-style event (kubelet via core v1) read as events.k8s.io/v1.
    #[test]
    fn old_style_event_read_as_events() -> Result<(), ConversionError> {
        let core = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web.17c", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Started",
            "message": "Started container web",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2025-01-01T00:00:00Z",
            "lastTimestamp": "2025-01-01T00:00:00Z",
            "count": 1,
            "type": "Normal",
            "reportingComponent": "",
            "reportingInstance": ""
        });
        let events = convert(&core, "events.k8s.io/v1")?;
        assert_eq!(
            events,
            json!({
                "kind": "Event",
                "apiVersion": "events.k8s.io/v1",
                "metadata": {"name": "web.17c", "namespace": "default"},
                "eventTime": null,
                "reason": "Started",
                "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
                "note": "Started container web",
                "type": "Normal",
                "deprecatedSource": {"component": "kubelet", "host": "node-1"},
                "deprecatedFirstTimestamp": "2025-01-01T00:00:00Z",
                "deprecatedLastTimestamp": "2025-01-01T00:00:00Z",
                "deprecatedCount": 1
            })
        );
        Ok(())
    }

    #[test]
    fn series_count_is_written_as_each_version_does() -> Result<(), ConversionError> {
        let core = json!({"apiVersion": "v1", "kind": "Event", "series": {}});
        let events = convert(&core, "events.k8s.io/v1")?;
        assert_eq!(
            events["series"],
            json!({"count": 0, "lastObservedTime": null})
        );
        let back = convert(&events, "v1")?;
        assert_eq!(back["series"], json!({"lastObservedTime": null}));
        let none = convert(
            &json!({"apiVersion": "v1", "kind": "Event", "series": null}),
            "events.k8s.io/v1",
        )?;
        assert!(none.get("series").is_none());
        Ok(())
    }

    #[test]
    fn empty_event_gets_the_fields_go_always_writes() -> Result<(), ConversionError> {
        let events = convert(
            &json!({"apiVersion": "v1", "kind": "Event"}),
            "events.k8s.io/v1",
        )?;
        assert_eq!(
            events,
            json!({"kind": "Event", "apiVersion": "events.k8s.io/v1", "eventTime": null,
                   "regarding": {}, "deprecatedSource": {},
                   "deprecatedFirstTimestamp": null, "deprecatedLastTimestamp": null})
        );
        let core = convert(
            &json!({"apiVersion": "events.k8s.io/v1", "kind": "Event"}),
            "v1",
        )?;
        assert_eq!(
            core,
            json!({"kind": "Event", "apiVersion": "v1", "involvedObject": {}, "source": {},
                   "firstTimestamp": null, "lastTimestamp": null, "eventTime": null,
                   "reportingComponent": "", "reportingInstance": ""})
        );
        Ok(())
    }

    #[test]
    fn metadata_is_kept_as_is() -> Result<(), ConversionError> {
        let metadata = json!({"name": "e", "namespace": "ns", "labels": {"a": "b"},
                              "annotations": {"x": "y"}, "managedFields": [{"manager": "m"}]});
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": metadata});
        assert_eq!(convert(&core, "events.k8s.io/v1")?["metadata"], metadata);
        let events = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                            "metadata": metadata});
        assert_eq!(convert(&events, "v1")?["metadata"], metadata);
        Ok(())
    }
}
