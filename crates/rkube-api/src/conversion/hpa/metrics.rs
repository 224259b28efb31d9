//! The metric sources and statuses of an HPA between v2 and the v1 shapes kept in the
//! `autoscaling.alpha.kubernetes.io/metrics` and `.../current-metrics` annotations (upstream's
//! `Convert_*_MetricSpec_*`, `Convert_*_MetricStatus_*` and the per-source functions).
//!
//! v1 writes a v2 target's `value`/`averageValue`/`averageUtilization` as
//! `targetValue`/`targetAverageValue`/`targetAverageUtilization`, and the metric identifier as
//! `metricName` plus `selector` (`metricSelector` for external metrics). Quantities that are
//! plain (non-pointer) fields in v1 are written as `"0"` when unset, as Go does.

use serde_json::{Map, Value};

use crate::conversion::wire::{
    copy_omitempty, copy_quantity, copy_set, object, present, quantity_or_zero, string_or_empty,
};

/// A `CrossVersionObjectReference` (the same shape in both versions).
pub(super) fn cross_version_ref(reference: Option<&Value>) -> Value {
    let reference = reference.unwrap_or(&Value::Null);
    let mut out = Map::new();
    out.insert("kind".into(), string_or_empty(reference, "kind"));
    out.insert("name".into(), string_or_empty(reference, "name"));
    copy_omitempty(&mut out, "apiVersion", reference, "apiVersion");
    Value::Object(out)
}

/// The metric name of a v2 source's `MetricIdentifier`.
fn metric_name(source: &Value) -> Value {
    string_or_empty(source.get("metric").unwrap_or(&Value::Null), "name")
}

/// Copies the selector of a v2 source's `MetricIdentifier` to `out[out_key]`.
fn copy_metric_selector(out: &mut Map<String, Value>, out_key: &str, source: &Value) {
    copy_set(
        out,
        out_key,
        source.get("metric").unwrap_or(&Value::Null),
        "selector",
    );
}

/// v1's name and selector fields as a v2 `MetricIdentifier`.
fn identifier_from_v1(source: &Value, selector_key: &str) -> Value {
    let mut identifier = Map::new();
    identifier.insert("name".into(), string_or_empty(source, "metricName"));
    copy_set(&mut identifier, "selector", source, selector_key);
    Value::Object(identifier)
}

/// `Convert_autoscaling_MetricSpec_To_v1_MetricSpec`.
pub(super) fn metric_spec_to_v1(metric: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), string_or_empty(metric, "type"));
    if let Some(source) = present(metric, "object") {
        let target = source.get("target").unwrap_or(&Value::Null);
        let mut v1 = object([
            ("target", cross_version_ref(source.get("describedObject"))),
            ("metricName", metric_name(source)),
            ("targetValue", quantity_or_zero(target, "value")),
        ]);
        copy_metric_selector(&mut v1, "selector", source);
        copy_quantity(&mut v1, "averageValue", target, "averageValue");
        out.insert("object".into(), Value::Object(v1));
    }
    if let Some(source) = present(metric, "pods") {
        let target = source.get("target").unwrap_or(&Value::Null);
        let mut v1 = object([
            ("metricName", metric_name(source)),
            (
                "targetAverageValue",
                quantity_or_zero(target, "averageValue"),
            ),
        ]);
        copy_metric_selector(&mut v1, "selector", source);
        out.insert("pods".into(), Value::Object(v1));
    }
    for (key, with_container) in [("resource", false), ("containerResource", true)] {
        if let Some(source) = present(metric, key) {
            let target = source.get("target").unwrap_or(&Value::Null);
            let mut v1 = Map::new();
            v1.insert("name".into(), string_or_empty(source, "name"));
            copy_set(
                &mut v1,
                "targetAverageUtilization",
                target,
                "averageUtilization",
            );
            copy_quantity(&mut v1, "targetAverageValue", target, "averageValue");
            if with_container {
                v1.insert("container".into(), string_or_empty(source, "container"));
            }
            out.insert(key.into(), Value::Object(v1));
        }
    }
    if let Some(source) = present(metric, "external") {
        let target = source.get("target").unwrap_or(&Value::Null);
        let mut v1 = object([("metricName", metric_name(source))]);
        copy_metric_selector(&mut v1, "metricSelector", source);
        copy_quantity(&mut v1, "targetValue", target, "value");
        copy_quantity(&mut v1, "targetAverageValue", target, "averageValue");
        out.insert("external".into(), Value::Object(v1));
    }
    Value::Object(out)
}

/// `Convert_v1_MetricSpec_To_autoscaling_MetricSpec`.
pub(super) fn metric_spec_from_v1(metric: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), string_or_empty(metric, "type"));
    if let Some(source) = present(metric, "object") {
        let target_type = if present(source, "averageValue").is_some() {
            "AverageValue"
        } else {
            "Value"
        };
        let mut target = object([
            ("type", target_type.into()),
            ("value", quantity_or_zero(source, "targetValue")),
        ]);
        copy_quantity(&mut target, "averageValue", source, "averageValue");
        let v2 = object([
            ("describedObject", cross_version_ref(source.get("target"))),
            ("target", Value::Object(target)),
            ("metric", identifier_from_v1(source, "selector")),
        ]);
        out.insert("object".into(), Value::Object(v2));
    }
    if let Some(source) = present(metric, "pods") {
        let target = object([
            ("type", "AverageValue".into()),
            (
                "averageValue",
                quantity_or_zero(source, "targetAverageValue"),
            ),
        ]);
        let v2 = object([
            ("metric", identifier_from_v1(source, "selector")),
            ("target", Value::Object(target)),
        ]);
        out.insert("pods".into(), Value::Object(v2));
    }
    for (key, with_container) in [("resource", false), ("containerResource", true)] {
        if let Some(source) = present(metric, key) {
            let target_type = if present(source, "targetAverageUtilization").is_some() {
                "Utilization"
            } else {
                "AverageValue"
            };
            let mut target = object([("type", target_type.into())]);
            copy_quantity(&mut target, "averageValue", source, "targetAverageValue");
            copy_set(
                &mut target,
                "averageUtilization",
                source,
                "targetAverageUtilization",
            );
            let mut v2 = object([
                ("name", string_or_empty(source, "name")),
                ("target", Value::Object(target)),
            ]);
            if with_container {
                v2.insert("container".into(), string_or_empty(source, "container"));
            }
            out.insert(key.into(), Value::Object(v2));
        }
    }
    if let Some(source) = present(metric, "external") {
        let target_type = if present(source, "targetValue").is_some() {
            "Value"
        } else {
            "AverageValue"
        };
        let mut target = object([("type", target_type.into())]);
        copy_quantity(&mut target, "value", source, "targetValue");
        copy_quantity(&mut target, "averageValue", source, "targetAverageValue");
        let v2 = object([
            ("metric", identifier_from_v1(source, "metricSelector")),
            ("target", Value::Object(target)),
        ]);
        out.insert("external".into(), Value::Object(v2));
    }
    Value::Object(out)
}

/// `Convert_autoscaling_MetricStatus_To_v1_MetricStatus`.
pub(super) fn metric_status_to_v1(metric: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), string_or_empty(metric, "type"));
    if let Some(source) = present(metric, "object") {
        let current = source.get("current").unwrap_or(&Value::Null);
        let mut v1 = object([
            ("target", cross_version_ref(source.get("describedObject"))),
            ("metricName", metric_name(source)),
            ("currentValue", quantity_or_zero(current, "value")),
        ]);
        copy_metric_selector(&mut v1, "selector", source);
        copy_quantity(&mut v1, "averageValue", current, "averageValue");
        out.insert("object".into(), Value::Object(v1));
    }
    if let Some(source) = present(metric, "pods") {
        let current = source.get("current").unwrap_or(&Value::Null);
        let mut v1 = object([
            ("metricName", metric_name(source)),
            (
                "currentAverageValue",
                quantity_or_zero(current, "averageValue"),
            ),
        ]);
        copy_metric_selector(&mut v1, "selector", source);
        out.insert("pods".into(), Value::Object(v1));
    }
    for (key, with_container) in [("resource", false), ("containerResource", true)] {
        if let Some(source) = present(metric, key) {
            let current = source.get("current").unwrap_or(&Value::Null);
            let mut v1 = Map::new();
            v1.insert("name".into(), string_or_empty(source, "name"));
            copy_set(
                &mut v1,
                "currentAverageUtilization",
                current,
                "averageUtilization",
            );
            v1.insert(
                "currentAverageValue".into(),
                quantity_or_zero(current, "averageValue"),
            );
            if with_container {
                v1.insert("container".into(), string_or_empty(source, "container"));
            }
            out.insert(key.into(), Value::Object(v1));
        }
    }
    if let Some(source) = present(metric, "external") {
        let current = source.get("current").unwrap_or(&Value::Null);
        let mut v1 = object([("metricName", metric_name(source))]);
        copy_metric_selector(&mut v1, "metricSelector", source);
        v1.insert("currentValue".into(), quantity_or_zero(current, "value"));
        copy_quantity(&mut v1, "currentAverageValue", current, "averageValue");
        out.insert("external".into(), Value::Object(v1));
    }
    Value::Object(out)
}

/// `Convert_v1_MetricStatus_To_autoscaling_MetricStatus`.
pub(super) fn metric_status_from_v1(metric: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), string_or_empty(metric, "type"));
    if let Some(source) = present(metric, "object") {
        let mut current = object([("value", quantity_or_zero(source, "currentValue"))]);
        copy_quantity(&mut current, "averageValue", source, "averageValue");
        let v2 = object([
            ("metric", identifier_from_v1(source, "selector")),
            ("current", Value::Object(current)),
            ("describedObject", cross_version_ref(source.get("target"))),
        ]);
        out.insert("object".into(), Value::Object(v2));
    }
    if let Some(source) = present(metric, "pods") {
        let current = object([(
            "averageValue",
            quantity_or_zero(source, "currentAverageValue"),
        )]);
        let v2 = object([
            ("metric", identifier_from_v1(source, "selector")),
            ("current", Value::Object(current)),
        ]);
        out.insert("pods".into(), Value::Object(v2));
    }
    for (key, with_container) in [("resource", false), ("containerResource", true)] {
        if let Some(source) = present(metric, key) {
            let mut current = object([(
                "averageValue",
                quantity_or_zero(source, "currentAverageValue"),
            )]);
            copy_set(
                &mut current,
                "averageUtilization",
                source,
                "currentAverageUtilization",
            );
            let mut v2 = object([
                ("name", string_or_empty(source, "name")),
                ("current", Value::Object(current)),
            ]);
            if with_container {
                v2.insert("container".into(), string_or_empty(source, "container"));
            }
            out.insert(key.into(), Value::Object(v2));
        }
    }
    if let Some(source) = present(metric, "external") {
        let mut current = object([("value", quantity_or_zero(source, "currentValue"))]);
        copy_quantity(&mut current, "averageValue", source, "currentAverageValue");
        let v2 = object([
            ("metric", identifier_from_v1(source, "metricSelector")),
            ("current", Value::Object(current)),
        ]);
        out.insert("external".into(), Value::Object(v2));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::super::super::{ConversionError, convert};
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_plain_quantities_are_zero() {
        let pods = json!({"type": "Pods", "pods": {"metric": {"name": "m"}, "target": {}}});
        assert_eq!(
            metric_spec_to_v1(&pods),
            json!({"type": "Pods", "pods": {"metricName": "m", "targetAverageValue": "0"}})
        );
        let resource = json!({"type": "Resource", "resource": {"name": "memory", "current": {}}});
        assert_eq!(
            metric_status_to_v1(&resource),
            json!({"type": "Resource",
                   "resource": {"name": "memory", "currentAverageValue": "0"}})
        );
    }

    #[test]
    fn target_types_are_inferred_from_v1_fields() {
        let external = json!({"type": "External",
                              "external": {"metricName": "q", "targetAverageValue": "2"}});
        assert_eq!(
            metric_spec_from_v1(&external)["external"]["target"],
            json!({"type": "AverageValue", "averageValue": "2"})
        );
        let resource = json!({"type": "Resource",
                              "resource": {"name": "cpu", "targetAverageValue": "100m"}});
        assert_eq!(
            metric_spec_from_v1(&resource)["resource"]["target"],
            json!({"type": "AverageValue", "averageValue": "100m"})
        );
        let object = json!({"type": "Object", "object": {"target": {"kind": "S", "name": "s"},
                            "metricName": "m", "targetValue": 7}});
        assert_eq!(
            metric_spec_from_v1(&object)["object"]["target"],
            json!({"type": "Value", "value": "7"})
        );
    }

    /// Upstream loses what v1's annotation shapes cannot hold: an object metric's average value
    /// target also gets a zero `value`, an external status gets a zero `value`.
    #[test]
    fn lossy_shapes_follow_upstream() -> Result<(), ConversionError> {
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 5, "metrics": [
                {"type": "Object", "object": {"describedObject": {"kind": "Service", "name": "s"},
                    "target": {"type": "AverageValue", "averageValue": "5"},
                    "metric": {"name": "m"}}}]},
            "status": {"currentMetrics": [
                {"type": "External", "external": {"metric": {"name": "e"},
                    "current": {"averageValue": "2"}}}]}});
        let back = convert(&convert(&v2, "autoscaling/v1")?, "autoscaling/v2")?;
        assert_eq!(
            back["spec"]["metrics"][0]["object"]["target"],
            json!({"type": "AverageValue", "value": "0", "averageValue": "5"})
        );
        assert_eq!(
            back["status"]["currentMetrics"][0]["external"]["current"],
            json!({"value": "0", "averageValue": "2"})
        );
        Ok(())
    }
}
