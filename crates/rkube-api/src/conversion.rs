//! Converting objects between the API versions a kind is served at.
//!
//! rkube stores some kinds at one version and serves them at others, as upstream does:
//!
//! - `autoscaling` `HorizontalPodAutoscaler` is stored as `autoscaling/v2` and also served as
//!   `autoscaling/v1` (module `hpa`: upstream `pkg/apis/autoscaling/v1/conversion.go`, with the
//!   `autoscaling.alpha.kubernetes.io/*` round-trip annotations);
//! - `Event` is stored as core `v1` and also served as `events.k8s.io/v1` (module `event`: upstream
//!   `pkg/apis/events/v1/conversion.go`);
//! - custom resources with several versions and conversion strategy `None` only change
//!   `apiVersion` ([`convert_none`]).
//!
//! Objects are JSON as they travel on the wire. The converted object is written the way Go's
//! `encoding/json` writes the target version's type (fields in Go order, `omitempty` honoured,
//! zero `metav1.Time` as `null`), so what clients read matches upstream. Metadata is always
//! kept as it is, except for the HPA round-trip annotations the conversion owns. Defaulting is
//! not part of conversion: callers default the result themselves.

mod event;
mod hpa;
mod wire;

use serde_json::Value;

pub use hpa::{
    BEHAVIOR_SPECS_ANNOTATION, CONDITIONS_ANNOTATION, DEFAULT_CPU_UTILIZATION,
    METRIC_SPECS_ANNOTATION, METRIC_STATUSES_ANNOTATION,
};

/// Why an object could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    /// The value to convert is not a JSON object.
    #[error("the object to convert is not a JSON object")]
    NotAnObject,
    /// The object has no string `apiVersion` or `kind`.
    #[error("the object to convert has no {0}")]
    MissingTypeMeta(&'static str),
    /// No conversion is known between these two versions of the kind.
    #[error("converting {kind} from {from} to {to} is not supported")]
    Unsupported {
        /// The object's kind.
        kind: String,
        /// The object's `apiVersion`.
        from: String,
        /// The requested `apiVersion`.
        to: String,
    },
    /// A `None`-strategy conversion was asked to move an object to another group.
    #[error("conversion strategy None cannot convert between groups: {from} to {to}")]
    GroupMismatch {
        /// The object's `apiVersion`.
        from: String,
        /// The requested `apiVersion`.
        to: String,
    },
}

/// Result of conversions.
pub type Result<T, E = ConversionError> = std::result::Result<T, E>;

/// One known conversion: an object of `kind` at `from` becomes the object at `to`.
struct KindConversion {
    kind: &'static str,
    from: &'static str,
    to: &'static str,
    convert: fn(&Value) -> Value,
}

/// Every conversion between distinct versions that rkube knows.
const CONVERSIONS: &[KindConversion] = &[
    KindConversion {
        kind: "HorizontalPodAutoscaler",
        from: "autoscaling/v2",
        to: "autoscaling/v1",
        convert: hpa::v2_to_v1,
    },
    KindConversion {
        kind: "HorizontalPodAutoscaler",
        from: "autoscaling/v1",
        to: "autoscaling/v2",
        convert: hpa::v1_to_v2,
    },
    KindConversion {
        kind: "Event",
        from: "v1",
        to: "events.k8s.io/v1",
        convert: event::core_to_events,
    },
    KindConversion {
        kind: "Event",
        from: "events.k8s.io/v1",
        to: "v1",
        convert: event::events_to_core,
    },
];

/// The group of an `apiVersion`: `""` for `v1`, `apps` for `apps/v1`.
pub fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(group, _)| group)
}

/// Whether [`convert`] can turn a `kind` object at `from` into one at `to`.
pub fn can_convert(kind: &str, from: &str, to: &str) -> bool {
    from == to || find_conversion(kind, from, to).is_some()
}

/// Converts `obj` (read for its `apiVersion` and `kind`) to `to_api_version`.
///
/// The same version gives a clone. A list (`kind` ending in `List` with an `items` array) has
/// each item converted as its item kind; items without `apiVersion`/`kind` stay without them.
/// Pairs that are not known (see the module docs) are refused with
/// [`ConversionError::Unsupported`]; use [`convert_none`] for custom resources.
pub fn convert(obj: &Value, to_api_version: &str) -> Result<Value> {
    let (from, kind) = type_meta(obj)?;
    if from == to_api_version {
        return Ok(obj.clone());
    }
    if let Some(item_kind) = list_item_kind(obj, kind) {
        return convert_list(obj, item_kind, from, to_api_version);
    }
    let conversion = find_conversion(kind, from, to_api_version).ok_or_else(|| {
        ConversionError::Unsupported {
            kind: kind.to_string(),
            from: from.to_string(),
            to: to_api_version.to_string(),
        }
    })?;
    Ok((conversion.convert)(obj))
}

/// Converts `obj` with conversion strategy `None`, as upstream does for custom resources:
/// only `apiVersion` changes (of the object and of each list item that has one), within the
/// same group.
pub fn convert_none(obj: &Value, to_api_version: &str) -> Result<Value> {
    let (from, _) = type_meta(obj)?;
    if group_of(from) != group_of(to_api_version) {
        return Err(ConversionError::GroupMismatch {
            from: from.to_string(),
            to: to_api_version.to_string(),
        });
    }
    let mut out = obj.clone();
    out["apiVersion"] = Value::String(to_api_version.to_string());
    if let Some(items) = out.get_mut("items").and_then(Value::as_array_mut) {
        for item in items {
            if let Some(api_version) = item.get_mut("apiVersion") {
                *api_version = Value::String(to_api_version.to_string());
            }
        }
    }
    Ok(out)
}

fn find_conversion(kind: &str, from: &str, to: &str) -> Option<&'static KindConversion> {
    CONVERSIONS
        .iter()
        .find(|c| c.kind == kind && c.from == from && c.to == to)
}

/// The object's `apiVersion` and `kind`.
fn type_meta(obj: &Value) -> Result<(&str, &str)> {
    if !obj.is_object() {
        return Err(ConversionError::NotAnObject);
    }
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or(ConversionError::MissingTypeMeta("apiVersion"))?;
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or(ConversionError::MissingTypeMeta("kind"))?;
    Ok((api_version, kind))
}

/// The kind of the items when `obj` is a list of `FooList` kind with an `items` array.
fn list_item_kind<'a>(obj: &Value, kind: &'a str) -> Option<&'a str> {
    let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty())?;
    obj.get("items")?.as_array()?;
    Some(item_kind)
}

fn convert_list(list: &Value, item_kind: &str, from: &str, to: &str) -> Result<Value> {
    let mut out = list.clone();
    out["apiVersion"] = Value::String(to.to_string());
    let Some(items) = out.get_mut("items").and_then(Value::as_array_mut) else {
        return Ok(out);
    };
    for item in items.iter_mut() {
        let had_api_version = item.get("apiVersion").is_some();
        let had_kind = item.get("kind").is_some();
        let mut typed = item.clone();
        if let Some(map) = typed.as_object_mut() {
            map.entry("apiVersion")
                .or_insert_with(|| Value::String(from.to_string()));
            map.entry("kind")
                .or_insert_with(|| Value::String(item_kind.to_string()));
        }
        let mut converted = convert(&typed, to)?;
        if let Some(map) = converted.as_object_mut() {
            if !had_api_version {
                map.shift_remove("apiVersion");
            }
            if !had_kind {
                map.shift_remove("kind");
            }
        }
        *item = converted;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_version_is_a_clone() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
                         "spec": {"x": 1}});
        assert_eq!(convert(&obj, "apps/v1"), Ok(obj.clone()));
    }

    #[test]
    fn unknown_pairs_are_refused() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment"});
        assert_eq!(
            convert(&obj, "apps/v1beta1"),
            Err(ConversionError::Unsupported {
                kind: "Deployment".into(),
                from: "apps/v1".into(),
                to: "apps/v1beta1".into()
            })
        );
        let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler"});
        assert!(matches!(
            convert(&hpa, "autoscaling/v2beta2"),
            Err(ConversionError::Unsupported { .. })
        ));
        let event = json!({"apiVersion": "v1", "kind": "Event"});
        assert!(matches!(
            convert(&event, "events.k8s.io/v1beta1"),
            Err(ConversionError::Unsupported { .. })
        ));
    }

    #[test]
    fn type_meta_is_required() {
        assert_eq!(
            convert(&json!([1]), "v1"),
            Err(ConversionError::NotAnObject)
        );
        assert_eq!(
            convert(&json!({"kind": "Pod"}), "v1"),
            Err(ConversionError::MissingTypeMeta("apiVersion"))
        );
        assert_eq!(
            convert(&json!({"apiVersion": "v1"}), "v1"),
            Err(ConversionError::MissingTypeMeta("kind"))
        );
        assert_eq!(
            convert_none(&json!({"apiVersion": 3, "kind": "X"}), "v1"),
            Err(ConversionError::MissingTypeMeta("apiVersion"))
        );
    }

    #[test]
    fn groups() {
        assert_eq!(group_of("v1"), "");
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("events.k8s.io/v1"), "events.k8s.io");
    }

    #[test]
    fn can_convert_lists_the_known_pairs() {
        assert!(can_convert(
            "HorizontalPodAutoscaler",
            "autoscaling/v1",
            "autoscaling/v2"
        ));
        assert!(can_convert(
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            "autoscaling/v1"
        ));
        assert!(can_convert("Event", "v1", "events.k8s.io/v1"));
        assert!(can_convert("Event", "events.k8s.io/v1", "v1"));
        assert!(can_convert("Pod", "v1", "v1"));
        assert!(!can_convert("Event", "v1", "autoscaling/v1"));
        assert!(!can_convert("Pod", "v1", "events.k8s.io/v1"));
    }

    #[test]
    fn none_strategy_only_changes_api_version() {
        let obj = json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
                         "metadata": {"name": "a", "annotations": {"x": "y"}},
                         "spec": {"cronSpec": "* * * * */5"}});
        let out = convert_none(&obj, "stable.example.com/v2").unwrap_or_default();
        let mut expected = obj.clone();
        expected["apiVersion"] = json!("stable.example.com/v2");
        assert_eq!(out, expected);
        // The key keeps its place.
        assert_eq!(
            out.as_object().and_then(|m| m.keys().next().cloned()),
            Some("apiVersion".to_string())
        );
    }

    #[test]
    fn none_strategy_converts_list_items() {
        let list = json!({"apiVersion": "stable.example.com/v1", "kind": "CronTabList",
                          "metadata": {"resourceVersion": "5"},
                          "items": [{"apiVersion": "stable.example.com/v1", "kind": "CronTab",
                                     "metadata": {"name": "a"}}]});
        let out = convert_none(&list, "stable.example.com/v2").unwrap_or_default();
        assert_eq!(out["apiVersion"], "stable.example.com/v2");
        assert_eq!(out["items"][0]["apiVersion"], "stable.example.com/v2");
        assert_eq!(out["items"][0]["metadata"], json!({"name": "a"}));
    }

    #[test]
    fn none_strategy_stays_in_its_group() {
        let obj = json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab"});
        assert_eq!(
            convert_none(&obj, "other.example.com/v1"),
            Err(ConversionError::GroupMismatch {
                from: "stable.example.com/v1".into(),
                to: "other.example.com/v1".into()
            })
        );
        assert!(convert_none(&obj, "v1").is_err());
    }

    #[test]
    fn lists_convert_each_item() {
        let list = json!({"kind": "HorizontalPodAutoscalerList", "apiVersion": "autoscaling/v2",
                          "metadata": {"resourceVersion": "7"},
                          "items": [{"metadata": {"name": "a"},
                                     "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "a"},
                                              "maxReplicas": 3,
                                              "metrics": [{"type": "Resource", "resource": {
                                                  "name": "cpu",
                                                  "target": {"type": "Utilization",
                                                             "averageUtilization": 50}}}]}}]});
        let out = convert(&list, "autoscaling/v1").unwrap_or_default();
        assert_eq!(out["apiVersion"], "autoscaling/v1");
        assert_eq!(out["metadata"], json!({"resourceVersion": "7"}));
        let item = &out["items"][0];
        assert!(item.get("apiVersion").is_none());
        assert!(item.get("kind").is_none());
        assert_eq!(item["spec"]["targetCPUUtilizationPercentage"], 50);
    }

    #[test]
    fn list_items_with_type_meta_keep_it() {
        let list = json!({"kind": "EventList", "apiVersion": "v1", "metadata": {},
                          "items": [{"kind": "Event", "apiVersion": "v1",
                                     "metadata": {"name": "e"}, "message": "hello"}]});
        let out = convert(&list, "events.k8s.io/v1").unwrap_or_default();
        assert_eq!(out["items"][0]["apiVersion"], "events.k8s.io/v1");
        assert_eq!(out["items"][0]["kind"], "Event");
        assert_eq!(out["items"][0]["note"], "hello");
    }
}
