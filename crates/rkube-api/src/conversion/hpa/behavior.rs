//! An HPA's `spec.behavior` in the `autoscaling.alpha.kubernetes.io/behavior` annotation.
//!
//! Upstream marshals its *internal* `HorizontalPodAutoscalerBehavior` there, a type without json
//! tags, so the keys are Go field names (`ScaleUp`, `StabilizationWindowSeconds`, ...) and unset
//! pointers and slices are written as `null`. Reading matches keys ignoring case, as
//! `encoding/json` does, and ignores text that does not decode into the Go type.

use serde_json::{Map, Value};

use crate::conversion::wire::{
    field_ignoring_case, object, or_zero, present, quantity, string_or_empty,
};

/// A v2 `behavior` as Go marshals the internal `HorizontalPodAutoscalerBehavior`: Go field
/// names, nil pointers and slices as `null`.
pub(super) fn behavior_to_internal(behavior: &Value) -> Value {
    let rules = |key: &str| {
        let Some(rules) = present(behavior, key) else {
            return Value::Null;
        };
        let policies =
            rules
                .get("policies")
                .and_then(Value::as_array)
                .map_or(Value::Null, |policies| {
                    let policies = policies.iter().map(|policy| {
                        Value::Object(object([
                            ("Type", string_or_empty(policy, "type")),
                            ("Value", or_zero(policy, "value", 0.into())),
                            ("PeriodSeconds", or_zero(policy, "periodSeconds", 0.into())),
                        ]))
                    });
                    Value::Array(policies.collect())
                });
        Value::Object(object([
            (
                "StabilizationWindowSeconds",
                or_zero(rules, "stabilizationWindowSeconds", Value::Null),
            ),
            ("SelectPolicy", or_zero(rules, "selectPolicy", Value::Null)),
            ("Policies", policies),
            (
                "Tolerance",
                present(rules, "tolerance").map_or(Value::Null, quantity),
            ),
        ]))
    };
    Value::Object(object([
        ("ScaleUp", rules("scaleUp")),
        ("ScaleDown", rules("scaleDown")),
    ]))
}

/// The v2 `behavior` an internal-type annotation holds; nothing when it does not decode into
/// the Go type, or decodes to the zero behavior (upstream then leaves `behavior` unset).
pub(super) fn behavior_from_internal(text: &str) -> Option<Value> {
    let decoded: Value = serde_json::from_str(text).ok()?;
    let behavior = decoded.as_object()?;
    let mut out = Map::new();
    for (go_name, v2_name) in [("ScaleUp", "scaleUp"), ("ScaleDown", "scaleDown")] {
        match field_ignoring_case(behavior, go_name) {
            None | Some(Value::Null) => {}
            Some(rules) => {
                out.insert(v2_name.into(), scaling_rules_from_internal(rules)?);
            }
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(Value::Object(out))
    }
}

/// An internal `HPAScalingRules` object as v2; nothing when a field has the wrong JSON type.
fn scaling_rules_from_internal(rules: &Value) -> Option<Value> {
    let rules = rules.as_object()?;
    let field = |name| field_ignoring_case(rules, name).filter(|v| !v.is_null());
    let mut out = Map::new();
    if let Some(window) = field("StabilizationWindowSeconds") {
        out.insert("stabilizationWindowSeconds".into(), integer(window)?);
    }
    if let Some(select) = field("SelectPolicy") {
        out.insert("selectPolicy".into(), select.as_str().map(Value::from)?);
    }
    if let Some(policies) = field("Policies") {
        let policies = policies
            .as_array()?
            .iter()
            .map(scaling_policy_from_internal)
            .collect::<Option<Vec<_>>>()?;
        if !policies.is_empty() {
            out.insert("policies".into(), Value::Array(policies));
        }
    }
    if let Some(tolerance) = field("Tolerance") {
        if !(tolerance.is_string() || tolerance.is_number()) {
            return None;
        }
        out.insert("tolerance".into(), quantity(tolerance));
    }
    Some(Value::Object(out))
}

fn scaling_policy_from_internal(policy: &Value) -> Option<Value> {
    if policy.is_null() {
        return Some(Value::Object(object([
            ("type", "".into()),
            ("value", 0.into()),
            ("periodSeconds", 0.into()),
        ])));
    }
    let policy = policy.as_object()?;
    let field = |name| field_ignoring_case(policy, name).filter(|v| !v.is_null());
    let policy_type = match field("Type") {
        Some(t) => t.as_str().map(Value::from)?,
        None => "".into(),
    };
    let value = field("Value").map_or(Some(0.into()), integer)?;
    let period = field("PeriodSeconds").map_or(Some(0.into()), integer)?;
    Some(Value::Object(object([
        ("type", policy_type),
        ("value", value),
        ("periodSeconds", period),
    ])))
}

/// A JSON integer (Go `int32`), or nothing.
fn integer(value: &Value) -> Option<Value> {
    value.as_i64().map(Value::from)
}

#[cfg(test)]
mod tests {
    use super::super::super::{BEHAVIOR_SPECS_ANNOTATION, ConversionError, convert};
    use super::*;
    use serde_json::json;

    fn annotation(obj: &Value, key: &str) -> Option<String> {
        obj["metadata"]["annotations"]
            .get(key)?
            .as_str()
            .map(str::to_string)
    }

    #[test]
    fn empty_behavior_is_written_and_ignored_back() {
        assert_eq!(
            behavior_to_internal(&json!({})).to_string(),
            r#"{"ScaleUp":null,"ScaleDown":null}"#
        );
        assert_eq!(
            behavior_from_internal(r#"{"ScaleUp":null,"ScaleDown":null}"#),
            None
        );
    }

    #[test]
    fn behavior_annotation_is_read_like_go() -> Result<(), ConversionError> {
        let cases = [
            // Field names match ignoring case, as encoding/json does.
            (
                r#"{"scaleDown":{"stabilizationWindowSeconds":60,"policies":[{"type":"Pods","value":1,"periodSeconds":30}]}}"#,
                Some(json!({"scaleDown": {"stabilizationWindowSeconds": 60,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}]}})),
            ),
            (
                r#"{"ScaleUp":{"SelectPolicy":"Disabled","Policies":null,"Tolerance":"50m"},"ScaleDown":null}"#,
                Some(json!({"scaleUp": {"selectPolicy": "Disabled", "tolerance": "50m"}})),
            ),
            (r#"{"ScaleUp":{}}"#, Some(json!({"scaleUp": {}}))),
            // The zero behavior leaves `behavior` unset.
            ("{}", None),
            (r#"{"ScaleUp":null,"ScaleDown":null}"#, None),
            ("null", None),
            // Wrong JSON types fail to decode: ignored.
            (r#"{"ScaleUp":{"StabilizationWindowSeconds":"1"}}"#, None),
            (r#"{"ScaleUp":{"Policies":[{"Value":"4"}]}}"#, None),
            ("[]", None),
        ];
        for (text, expected) in cases {
            let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": {"annotations": {BEHAVIOR_SPECS_ANNOTATION: text}},
                "spec": {"maxReplicas": 5}});
            let v2 = convert(&v1, "autoscaling/v2")?;
            assert_eq!(v2["spec"].get("behavior"), expected.as_ref(), "{text}");
            assert!(v2["metadata"].get("annotations").is_none(), "{text}");
        }
        Ok(())
    }

    #[test]
    fn behavior_with_unset_parts_is_written_with_nulls() -> Result<(), ConversionError> {
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 5, "behavior": {"scaleDown": {"tolerance": 0.05}}}});
        let v1 = convert(&v2, "autoscaling/v1")?;
        assert_eq!(
            annotation(&v1, BEHAVIOR_SPECS_ANNOTATION).as_deref(),
            Some(concat!(
                r#"{"ScaleUp":null,"ScaleDown":{"StabilizationWindowSeconds":null,"#,
                r#""SelectPolicy":null,"Policies":null,"Tolerance":"0.05"}}"#
            ))
        );
        let back = convert(&v1, "autoscaling/v2")?;
        assert_eq!(
            back["spec"]["behavior"],
            json!({"scaleDown": {"tolerance": "0.05"}})
        );
        Ok(())
    }
}
