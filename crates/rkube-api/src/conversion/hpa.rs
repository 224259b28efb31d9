//! `autoscaling/v2` <-> `autoscaling/v1` `HorizontalPodAutoscaler`, as upstream converts through
//! its internal type (`pkg/apis/autoscaling/v1/conversion.go`, `annotations.go`).
//!
//! v1 only has `spec.targetCPUUtilizationPercentage` and `status.currentCPUUtilizationPercentage`.
//! What v1 cannot express travels in annotations of the v1 object and comes back when it is
//! converted to v2, so v2 -> v1 -> v2 keeps everything:
//!
//! - `autoscaling.alpha.kubernetes.io/metrics`: the spec metrics other than a CPU utilization
//!   target, as a JSON list of v1 `MetricSpec` (the old `targetAverageValue` shapes);
//! - `autoscaling.alpha.kubernetes.io/current-metrics`: all status metrics, as v1 `MetricStatus`;
//! - `autoscaling.alpha.kubernetes.io/behavior`: `spec.behavior` as Go marshals the *internal*
//!   type, which has no json tags: `{"ScaleUp":{"StabilizationWindowSeconds":0,...},...}`;
//! - `autoscaling.alpha.kubernetes.io/conditions`: `status.conditions`.
//!
//! Going to v1, round-trip annotations already on the object are dropped first; going to v2 they
//! are read (an annotation that does not decode is ignored, as upstream) and then dropped. A v1
//! object with neither a CPU target nor other metrics gets the 80% CPU utilization target v1
//! always implied.

mod behavior;
mod metrics;

use serde_json::{Map, Value};

use behavior::{behavior_from_internal, behavior_to_internal};
use metrics::{
    cross_version_ref, metric_spec_from_v1, metric_spec_to_v1, metric_status_from_v1,
    metric_status_to_v1,
};

use super::wire::{
    copy_omitempty, copy_set, go_marshal, object, or_zero, present, string_or_empty, time_or_null,
};

/// Annotation holding the spec metrics v1 cannot express (`autoscaling.MetricSpecsAnnotation`).
pub const METRIC_SPECS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// Annotation holding the status metrics (`autoscaling.MetricStatusesAnnotation`).
pub const METRIC_STATUSES_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// Annotation holding the status conditions
/// (`autoscaling.HorizontalPodAutoscalerConditionsAnnotation`).
pub const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// Annotation holding `spec.behavior` (`autoscaling.BehaviorSpecsAnnotation`).
pub const BEHAVIOR_SPECS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";
/// The CPU utilization target a v1 HPA without one implies (`autoscaling.DefaultCPUUtilization`).
pub const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// The annotations `DropRoundTripHorizontalPodAutoscalerAnnotations` removes.
const ROUND_TRIP_ANNOTATIONS: [&str; 4] = [
    METRIC_SPECS_ANNOTATION,
    BEHAVIOR_SPECS_ANNOTATION,
    METRIC_STATUSES_ANNOTATION,
    CONDITIONS_ANNOTATION,
];

const KIND: &str = "HorizontalPodAutoscaler";

/// An `autoscaling/v2` HPA as `autoscaling/v1`.
pub(super) fn v2_to_v1(v2: &Value) -> Value {
    let spec = v2.get("spec").unwrap_or(&Value::Null);
    let status = v2.get("status").unwrap_or(&Value::Null);
    let metrics = list(spec, "metrics");
    let current_metrics = list(status, "currentMetrics");
    let conditions = list(status, "conditions");

    let mut round_trip = Vec::new();
    let other_metrics: Vec<Value> = metrics
        .iter()
        .filter(|m| !is_cpu_utilization_target(m))
        .map(metric_spec_to_v1)
        .collect();
    if !other_metrics.is_empty() {
        round_trip.push((METRIC_SPECS_ANNOTATION, Value::Array(other_metrics)));
    }
    // Upstream keeps every status metric, the CPU one too, to keep its raw value.
    if !current_metrics.is_empty() {
        let statuses = current_metrics.iter().map(metric_status_to_v1).collect();
        round_trip.push((METRIC_STATUSES_ANNOTATION, Value::Array(statuses)));
    }
    if let Some(behavior) = present(spec, "behavior") {
        round_trip.push((BEHAVIOR_SPECS_ANNOTATION, behavior_to_internal(behavior)));
    }
    if !conditions.is_empty() {
        let conditions = conditions.iter().map(condition).collect();
        round_trip.push((CONDITIONS_ANNOTATION, Value::Array(conditions)));
    }

    let mut metadata = v2.get("metadata").cloned();
    drop_round_trip_annotations(&mut metadata);
    for (key, value) in round_trip {
        set_annotation(&mut metadata, key, go_marshal(&value));
    }

    let mut v1_spec = Map::new();
    v1_spec.insert(
        "scaleTargetRef".into(),
        cross_version_ref(spec.get("scaleTargetRef")),
    );
    copy_set(&mut v1_spec, "minReplicas", spec, "minReplicas");
    v1_spec.insert("maxReplicas".into(), or_zero(spec, "maxReplicas", 0.into()));
    if let Some(utilization) = metrics
        .iter()
        .find(|m| is_cpu_utilization_target(m))
        .and_then(|m| present(&m["resource"]["target"], "averageUtilization"))
    {
        v1_spec.insert("targetCPUUtilizationPercentage".into(), utilization.clone());
    }

    let mut v1_status = Map::new();
    copy_set(
        &mut v1_status,
        "observedGeneration",
        status,
        "observedGeneration",
    );
    copy_set(&mut v1_status, "lastScaleTime", status, "lastScaleTime");
    v1_status.insert(
        "currentReplicas".into(),
        or_zero(status, "currentReplicas", 0.into()),
    );
    v1_status.insert(
        "desiredReplicas".into(),
        or_zero(status, "desiredReplicas", 0.into()),
    );
    // No break upstream: the last CPU metric with a utilization wins.
    if let Some(utilization) = current_metrics
        .iter()
        .filter(|m| is_resource_metric(m, "cpu"))
        .filter_map(|m| present(&m["resource"]["current"], "averageUtilization"))
        .next_back()
    {
        v1_status.insert(
            "currentCPUUtilizationPercentage".into(),
            utilization.clone(),
        );
    }

    hpa_object("autoscaling/v1", metadata, v1_spec, v1_status)
}

/// An `autoscaling/v1` HPA as `autoscaling/v2`.
pub(super) fn v1_to_v2(v1: &Value) -> Value {
    let spec = v1.get("spec").unwrap_or(&Value::Null);
    let status = v1.get("status").unwrap_or(&Value::Null);
    let annotations = v1
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .unwrap_or(&Value::Null);

    let mut metrics = Vec::new();
    if let Some(percentage) = present(spec, "targetCPUUtilizationPercentage") {
        metrics.push(cpu_utilization_target(percentage.clone()));
    }
    if let Some(other_metrics) = annotation_list(annotations, METRIC_SPECS_ANNOTATION) {
        // The CPU target from the spec, if any, goes after the annotation's metrics.
        let mut all: Vec<Value> = other_metrics.iter().map(metric_spec_from_v1).collect();
        all.append(&mut metrics);
        metrics = all;
    }
    if metrics.is_empty() {
        metrics.push(cpu_utilization_target(DEFAULT_CPU_UTILIZATION.into()));
    }

    let mut v2_spec = Map::new();
    v2_spec.insert(
        "scaleTargetRef".into(),
        cross_version_ref(spec.get("scaleTargetRef")),
    );
    copy_set(&mut v2_spec, "minReplicas", spec, "minReplicas");
    v2_spec.insert("maxReplicas".into(), or_zero(spec, "maxReplicas", 0.into()));
    v2_spec.insert("metrics".into(), Value::Array(metrics));
    if let Some(behavior) =
        annotation_text(annotations, BEHAVIOR_SPECS_ANNOTATION).and_then(behavior_from_internal)
    {
        v2_spec.insert("behavior".into(), behavior);
    }

    let mut current_metrics = Value::Null;
    if let Some(percentage) = present(status, "currentCPUUtilizationPercentage") {
        let current = object([("averageUtilization", percentage.clone())]);
        current_metrics = Value::Array(vec![resource_metric_status("cpu", current)]);
    }
    // The annotation has more than the percentage: it replaces it.
    if let Some(statuses) = annotation_list(annotations, METRIC_STATUSES_ANNOTATION) {
        current_metrics = Value::Array(statuses.iter().map(metric_status_from_v1).collect());
    }
    let mut v2_status = Map::new();
    copy_set(
        &mut v2_status,
        "observedGeneration",
        status,
        "observedGeneration",
    );
    copy_set(&mut v2_status, "lastScaleTime", status, "lastScaleTime");
    copy_omitempty(&mut v2_status, "currentReplicas", status, "currentReplicas");
    v2_status.insert(
        "desiredReplicas".into(),
        or_zero(status, "desiredReplicas", 0.into()),
    );
    v2_status.insert("currentMetrics".into(), current_metrics);
    if let Some(conditions) = annotation_list(annotations, CONDITIONS_ANNOTATION)
        .filter(|conditions| !conditions.is_empty())
    {
        let conditions = conditions.iter().map(condition).collect();
        v2_status.insert("conditions".into(), Value::Array(conditions));
    }

    let mut metadata = v1.get("metadata").cloned();
    drop_round_trip_annotations(&mut metadata);
    hpa_object("autoscaling/v2", metadata, v2_spec, v2_status)
}

fn hpa_object(
    api_version: &str,
    metadata: Option<Value>,
    spec: Map<String, Value>,
    status: Map<String, Value>,
) -> Value {
    let mut out = object([("kind", KIND.into()), ("apiVersion", api_version.into())]);
    if let Some(metadata) = metadata {
        out.insert("metadata".into(), metadata);
    }
    out.insert("spec".into(), Value::Object(spec));
    out.insert("status".into(), Value::Object(status));
    Value::Object(out)
}

/// The array at `obj[key]`, or nothing.
fn list<'a>(obj: &'a Value, key: &str) -> &'a [Value] {
    obj.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn is_resource_metric(metric: &Value, name: &str) -> bool {
    metric.get("type").and_then(Value::as_str) == Some("Resource")
        && present(metric, "resource").and_then(|r| r.get("name")?.as_str()) == Some(name)
}

/// A `Resource` `cpu` metric with a utilization target: the one v1's percentage stands for.
fn is_cpu_utilization_target(metric: &Value) -> bool {
    is_resource_metric(metric, "cpu")
        && present(&metric["resource"]["target"], "averageUtilization").is_some()
}

fn cpu_utilization_target(percentage: Value) -> Value {
    let target = object([
        ("type", "Utilization".into()),
        ("averageUtilization", percentage),
    ]);
    let resource = object([("name", "cpu".into()), ("target", Value::Object(target))]);
    Value::Object(object([
        ("type", "Resource".into()),
        ("resource", Value::Object(resource)),
    ]))
}

fn resource_metric_status(name: &str, current: Map<String, Value>) -> Value {
    let resource = object([("name", name.into()), ("current", Value::Object(current))]);
    Value::Object(object([
        ("type", "Resource".into()),
        ("resource", Value::Object(resource)),
    ]))
}

/// A `HorizontalPodAutoscalerCondition` (the same shape in both versions).
fn condition(source: &Value) -> Value {
    let mut out = object([
        ("type", string_or_empty(source, "type")),
        ("status", string_or_empty(source, "status")),
        (
            "lastTransitionTime",
            time_or_null(source, "lastTransitionTime"),
        ),
    ]);
    copy_omitempty(&mut out, "reason", source, "reason");
    copy_omitempty(&mut out, "message", source, "message");
    Value::Object(out)
}

/// The text of annotation `key`, if set.
fn annotation_text<'a>(annotations: &'a Value, key: &str) -> Option<&'a str> {
    annotations.get(key).and_then(Value::as_str)
}

/// The list a JSON annotation holds: `null` decodes to an empty list and a `null` element to an
/// empty object, as Go's decoder does; anything else that is not a list of objects is ignored.
fn annotation_list(annotations: &Value, key: &str) -> Option<Vec<Value>> {
    let decoded: Value = serde_json::from_str(annotation_text(annotations, key)?).ok()?;
    match decoded {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Null => Some(Value::Object(Map::new())),
                Value::Object(_) => Some(item),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// `DropRoundTripHorizontalPodAutoscalerAnnotations`; an annotation map it empties is removed,
/// as Go's `omitempty` leaves it out.
fn drop_round_trip_annotations(metadata: &mut Option<Value>) {
    let Some(meta) = metadata.as_mut().and_then(Value::as_object_mut) else {
        return;
    };
    let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) else {
        return;
    };
    let before = annotations.len();
    for key in ROUND_TRIP_ANNOTATIONS {
        annotations.shift_remove(key);
    }
    if annotations.len() != before && annotations.is_empty() {
        meta.shift_remove("annotations");
    }
}

fn set_annotation(metadata: &mut Option<Value>, key: &str, text: String) {
    let meta = metadata.get_or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(key.to_string(), Value::String(text));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ConversionError, convert};
    use super::*;
    use serde_json::json;

    fn annotation(obj: &Value, key: &str) -> Option<String> {
        obj["metadata"]["annotations"]
            .get(key)?
            .as_str()
            .map(str::to_string)
    }

    fn keys(obj: &Value) -> Vec<String> {
        obj.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// A v2 HPA as Go writes it, using every metric source, a behavior and a full status.
    fn full_v2() -> Value {
        json!({
            "kind": "HorizontalPodAutoscaler",
            "apiVersion": "autoscaling/v2",
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "9",
                         "annotations": {"team": "a"}},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "memory",
                        "target": {"type": "Utilization", "averageUtilization": 60}}},
                    {"type": "Pods", "pods": {
                        "metric": {"name": "packets-per-second",
                                   "selector": {"matchLabels": {"a": "b"}}},
                        "target": {"type": "AverageValue", "averageValue": "1k"}}},
                    {"type": "Object", "object": {
                        "describedObject": {"kind": "Ingress", "name": "main",
                                            "apiVersion": "networking.k8s.io/v1"},
                        "target": {"type": "Value", "value": "10k"},
                        "metric": {"name": "requests-per-second"}}},
                    {"type": "External", "external": {
                        "metric": {"name": "queue_messages_ready",
                                   "selector": {"matchLabels": {"queue": "worker_tasks"}}},
                        "target": {"type": "Value", "value": "30"}}},
                    {"type": "ContainerResource", "containerResource": {"name": "cpu",
                        "target": {"type": "AverageValue", "averageValue": "500m"},
                        "container": "app"}},
                    {"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50}}}
                ],
                "behavior": {
                    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                             {"type": "Percent", "value": 100,
                                              "periodSeconds": 15}]},
                    "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                                  "policies": [{"type": "Percent", "value": 100,
                                                "periodSeconds": 15}]}
                }
            },
            "status": {
                "observedGeneration": 3,
                "lastScaleTime": "2025-01-01T00:00:00Z",
                "currentReplicas": 3,
                "desiredReplicas": 4,
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu",
                        "current": {"averageValue": "250m", "averageUtilization": 62}}},
                    {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"},
                        "current": {"averageValue": "900"}}},
                    {"type": "Object", "object": {"metric": {"name": "requests-per-second"},
                        "current": {"value": "8k"},
                        "describedObject": {"kind": "Ingress", "name": "main",
                                            "apiVersion": "networking.k8s.io/v1"}}},
                    {"type": "External", "external": {
                        "metric": {"name": "queue_messages_ready"},
                        "current": {"value": "12"}}},
                    {"type": "ContainerResource", "containerResource": {"name": "cpu",
                        "current": {"averageValue": "400m"}, "container": "app"}}
                ],
                "conditions": [
                    {"type": "AbleToScale", "status": "True",
                     "lastTransitionTime": "2025-01-01T00:00:00Z", "reason": "ReadyForNewScale",
                     "message": "recommended size matches current size"},
                    {"type": "ScalingActive", "status": "True",
                     "lastTransitionTime": "2025-01-01T00:00:00Z",
                     "reason": "ValidMetricFound"}
                ]
            }
        })
    }

    #[test]
    fn full_v2_round_trips_through_v1() -> Result<(), ConversionError> {
        let v2 = full_v2();
        let v1 = convert(&v2, "autoscaling/v1")?;
        let back = convert(&v1, "autoscaling/v2")?;
        assert_eq!(back, v2);
        assert_eq!(keys(&back), keys(&v2));
        assert_eq!(keys(&back["spec"]), keys(&v2["spec"]));
        assert_eq!(keys(&back["status"]), keys(&v2["status"]));
        // And the v1 form is stable.
        assert_eq!(convert(&back, "autoscaling/v1")?, v1);
        Ok(())
    }

    #[test]
    fn full_v2_as_v1() -> Result<(), ConversionError> {
        let v1 = convert(&full_v2(), "autoscaling/v1")?;
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(
            keys(&v1),
            ["kind", "apiVersion", "metadata", "spec", "status"]
        );
        assert_eq!(
            v1["spec"],
            json!({"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                   "minReplicas": 2, "maxReplicas": 10, "targetCPUUtilizationPercentage": 50})
        );
        assert_eq!(
            v1["status"],
            json!({"observedGeneration": 3, "lastScaleTime": "2025-01-01T00:00:00Z",
                   "currentReplicas": 3, "desiredReplicas": 4,
                   "currentCPUUtilizationPercentage": 62})
        );
        assert_eq!(v1["metadata"]["name"], "web");
        assert_eq!(v1["metadata"]["annotations"]["team"], "a");
        assert_eq!(
            annotation(&v1, METRIC_SPECS_ANNOTATION).as_deref(),
            Some(concat!(
                r#"[{"type":"Resource","resource":{"name":"memory","targetAverageUtilization":60}},"#,
                r#"{"type":"Pods","pods":{"metricName":"packets-per-second","targetAverageValue":"1k","selector":{"matchLabels":{"a":"b"}}}},"#,
                r#"{"type":"Object","object":{"target":{"kind":"Ingress","name":"main","apiVersion":"networking.k8s.io/v1"},"metricName":"requests-per-second","targetValue":"10k"}},"#,
                r#"{"type":"External","external":{"metricName":"queue_messages_ready","metricSelector":{"matchLabels":{"queue":"worker_tasks"}},"targetValue":"30"}},"#,
                r#"{"type":"ContainerResource","containerResource":{"name":"cpu","targetAverageValue":"500m","container":"app"}}]"#
            ))
        );
        assert_eq!(
            annotation(&v1, METRIC_STATUSES_ANNOTATION).as_deref(),
            Some(concat!(
                r#"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":62,"currentAverageValue":"250m"}},"#,
                r#"{"type":"Pods","pods":{"metricName":"packets-per-second","currentAverageValue":"900"}},"#,
                r#"{"type":"Object","object":{"target":{"kind":"Ingress","name":"main","apiVersion":"networking.k8s.io/v1"},"metricName":"requests-per-second","currentValue":"8k"}},"#,
                r#"{"type":"External","external":{"metricName":"queue_messages_ready","currentValue":"12"}},"#,
                r#"{"type":"ContainerResource","containerResource":{"name":"cpu","currentAverageValue":"400m","container":"app"}}]"#
            ))
        );
        assert_eq!(
            annotation(&v1, BEHAVIOR_SPECS_ANNOTATION).as_deref(),
            Some(concat!(
                r#"{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15},{"Type":"Percent","Value":100,"PeriodSeconds":15}],"Tolerance":null},"#,
                r#""ScaleDown":{"StabilizationWindowSeconds":300,"SelectPolicy":"Max","Policies":[{"Type":"Percent","Value":100,"PeriodSeconds":15}],"Tolerance":null}}"#
            ))
        );
        assert_eq!(
            annotation(&v1, CONDITIONS_ANNOTATION).as_deref(),
            Some(concat!(
                r#"[{"type":"AbleToScale","status":"True","lastTransitionTime":"2025-01-01T00:00:00Z","reason":"ReadyForNewScale","message":"recommended size matches current size"},"#,
                r#"{"type":"ScalingActive","status":"True","lastTransitionTime":"2025-01-01T00:00:00Z","reason":"ValidMetricFound"}]"#
            ))
        );
        Ok(())
    }

    /// `TestConversionWithCPUAverageValueAndUtilizationBoth1` upstream: the first CPU metric
    /// with a utilization is the percentage; a CPU average value target goes to the annotation.
    #[test]
    fn cpu_average_value_and_utilization() -> Result<(), ConversionError> {
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"minReplicas": 1, "maxReplicas": 3, "metrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "AverageValue", "averageValue": "300m"}}},
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70}}}]}});
        let v1 = convert(&v2, "autoscaling/v1")?;
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
        assert_eq!(v1["spec"]["minReplicas"], 1);
        assert_eq!(v1["spec"]["maxReplicas"], 3);
        assert_eq!(
            annotation(&v1, METRIC_SPECS_ANNOTATION).as_deref(),
            Some(r#"[{"type":"Resource","resource":{"name":"cpu","targetAverageValue":"300m"}}]"#)
        );
        let back = convert(&v1, "autoscaling/v2")?;
        assert_eq!(back["spec"]["metrics"], v2["spec"]["metrics"]);
        Ok(())
    }

    /// `TestConversionWithCPUUtilizationOnly` upstream: nothing goes to annotations.
    #[test]
    fn cpu_utilization_only() -> Result<(), ConversionError> {
        let v2 = json!({"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2",
            "metadata": {"name": "h", "namespace": "ns"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"},
                     "minReplicas": 1, "maxReplicas": 3, "metrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 60}}}]},
            "status": {"desiredReplicas": 0, "currentMetrics": null}});
        let v1 = convert(&v2, "autoscaling/v1")?;
        assert_eq!(
            v1,
            json!({"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1",
                   "metadata": {"name": "h", "namespace": "ns"},
                   "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"},
                            "minReplicas": 1, "maxReplicas": 3,
                            "targetCPUUtilizationPercentage": 60},
                   "status": {"currentReplicas": 0, "desiredReplicas": 0}})
        );
        let back = convert(&v1, "autoscaling/v2")?;
        assert_eq!(back, v2);
        assert_eq!(
            keys(&back),
            ["kind", "apiVersion", "metadata", "spec", "status"]
        );
        Ok(())
    }

    #[test]
    fn v1_without_a_target_implies_80_percent_cpu() -> Result<(), ConversionError> {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
                     "maxReplicas": 5}});
        let v2 = convert(&v1, "autoscaling/v2")?;
        assert_eq!(
            v2,
            json!({"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2",
                   "metadata": {"name": "h"},
                   "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d",
                                               "apiVersion": "apps/v1"},
                            "maxReplicas": 5,
                            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 80}}}]},
                   "status": {"desiredReplicas": 0, "currentMetrics": null}})
        );
        Ok(())
    }

    #[test]
    fn v1_percentage_comes_after_annotated_metrics() -> Result<(), ConversionError> {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "annotations": {METRIC_SPECS_ANNOTATION:
                r#"[{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"10"}}]"#}},
            "spec": {"maxReplicas": 5, "targetCPUUtilizationPercentage": 40}});
        let v2 = convert(&v1, "autoscaling/v2")?;
        assert_eq!(
            v2["spec"]["metrics"],
            json!([{"type": "Pods", "pods": {"metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "10"}}},
                   {"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 40}}}])
        );
        // The annotation is consumed.
        assert!(v2["metadata"].get("annotations").is_none());
        Ok(())
    }

    #[test]
    fn v1_status_percentage_becomes_a_cpu_metric() -> Result<(), ConversionError> {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 5, "targetCPUUtilizationPercentage": 40},
            "status": {"currentReplicas": 2, "desiredReplicas": 2,
                       "currentCPUUtilizationPercentage": 35}});
        let v2 = convert(&v1, "autoscaling/v2")?;
        assert_eq!(
            v2["status"],
            json!({"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                                                  "current": {"averageUtilization": 35}}}]})
        );
        assert!(v2.get("metadata").is_none());
        Ok(())
    }

    /// The status annotation has more than the percentage and wins over it.
    #[test]
    fn current_metrics_annotation_replaces_the_percentage() -> Result<(), ConversionError> {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"annotations": {METRIC_STATUSES_ANNOTATION:
                r#"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":20,"currentAverageValue":"100m"}}]"#}},
            "spec": {"maxReplicas": 5},
            "status": {"currentCPUUtilizationPercentage": 99}});
        let v2 = convert(&v1, "autoscaling/v2")?;
        assert_eq!(
            v2["status"]["currentMetrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
                        "current": {"averageValue": "100m", "averageUtilization": 20}}}])
        );
        Ok(())
    }

    #[test]
    fn last_cpu_status_metric_gives_the_current_percentage() -> Result<(), ConversionError> {
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 5},
            "status": {"currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 10}}},
                {"type": "Resource", "resource": {"name": "memory", "current": {"averageUtilization": 30}}},
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 20}}},
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "1"}}}]}});
        let v1 = convert(&v2, "autoscaling/v1")?;
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 20);
        Ok(())
    }

    #[test]
    fn stale_round_trip_annotations_are_dropped_going_to_v1() -> Result<(), ConversionError> {
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "annotations": {
                METRIC_SPECS_ANNOTATION: "abc", BEHAVIOR_SPECS_ANNOTATION: "abc",
                METRIC_STATUSES_ANNOTATION: "abc", CONDITIONS_ANNOTATION: "abc",
                "keep": "me"}},
            "spec": {"maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}});
        let v1 = convert(&v2, "autoscaling/v1")?;
        assert_eq!(v1["metadata"]["annotations"], json!({"keep": "me"}));
        let only_round_trip = json!({"apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "annotations": {CONDITIONS_ANNOTATION: "[]"}},
            "spec": {"maxReplicas": 5}});
        let v1 = convert(&only_round_trip, "autoscaling/v1")?;
        assert_eq!(v1["metadata"], json!({"name": "h"}));
        Ok(())
    }

    /// Upstream's `TestHorizontalPodAutoscalerAnnotations`: empty or invalid annotations are
    /// ignored and do not survive the conversion.
    #[test]
    fn invalid_annotations_are_ignored_and_dropped() -> Result<(), ConversionError> {
        for text in ["", "abc", "{}", "[1]", r#"{"ScaleUp":"x"}"#] {
            let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h", "annotations": {
                    METRIC_SPECS_ANNOTATION: text, BEHAVIOR_SPECS_ANNOTATION: text,
                    METRIC_STATUSES_ANNOTATION: text, CONDITIONS_ANNOTATION: text}},
                "spec": {"maxReplicas": 5, "targetCPUUtilizationPercentage": 30},
                "status": {"currentCPUUtilizationPercentage": 25}});
            let v2 = convert(&v1, "autoscaling/v2")?;
            assert_eq!(v2["metadata"], json!({"name": "h"}), "{text}");
            assert_eq!(
                v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
                30
            );
            assert_eq!(v2["spec"]["metrics"].as_array().map(Vec::len), Some(1));
            assert!(v2["spec"].get("behavior").is_none(), "{text}");
            assert_eq!(
                v2["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"], 25,
                "{text}"
            );
            assert!(v2["status"].get("conditions").is_none(), "{text}");
        }
        Ok(())
    }

    #[test]
    fn conditions_annotation_keeps_zero_times_as_null() -> Result<(), ConversionError> {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"annotations": {CONDITIONS_ANNOTATION:
                r#"[{"type":"ScalingLimited","status":"False","reason":"DesiredWithinRange"}]"#}},
            "spec": {"maxReplicas": 5}});
        let v2 = convert(&v1, "autoscaling/v2")?;
        assert_eq!(
            v2["status"]["conditions"],
            json!([{"type": "ScalingLimited", "status": "False", "lastTransitionTime": null,
                    "reason": "DesiredWithinRange"}])
        );
        Ok(())
    }

    #[test]
    fn annotation_text_is_escaped_like_go() -> Result<(), ConversionError> {
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 5, "metrics": [
                {"type": "External", "external": {
                    "metric": {"name": "q", "selector": {"matchLabels": {"k": "a&b"}}},
                    "target": {"type": "AverageValue", "averageValue": "3"}}}]}});
        let v1 = convert(&v2, "autoscaling/v1")?;
        assert_eq!(
            annotation(&v1, METRIC_SPECS_ANNOTATION).as_deref(),
            Some(concat!(
                r#"[{"type":"External","external":{"metricName":"q","#,
                r#""metricSelector":{"matchLabels":{"k":"a\u0026b"}},"targetAverageValue":"3"}}]"#
            ))
        );
        let back = convert(&v1, "autoscaling/v2")?;
        assert_eq!(back["spec"]["metrics"], v2["spec"]["metrics"]);
        Ok(())
    }
}
