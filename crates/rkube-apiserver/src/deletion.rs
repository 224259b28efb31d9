//! How objects are deleted: finalizers and deletionTimestamp, pod grace periods, the
//! garbage-collector finalizers of the propagation policies, and what DELETE answers with.

use serde_json::{Value, json};

use crate::kinds::is_kind;
use crate::object;
use crate::registry::Served;

/// Whether a deleting object has no finalizers left (and may be removed).
pub fn finalizers_done(served: &Served, obj: &Value) -> bool {
    let spec_done = !is_kind(served, "", "Namespace")
        || obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty());
    spec_done && object::finalizers(obj).is_empty()
}

/// Whether DELETE answers with the deleted object (as upstream does for these kinds) rather
/// than a Status.
pub fn returns_deleted_object(served: &Served) -> bool {
    served.custom.is_some()
        || is_kind(served, "", "Pod")
        || is_kind(served, "", "Service")
        || is_kind(served, "", "Namespace")
}

/// The grace period of a deletion: pods bound to a node get theirs; everything else none.
pub fn grace_period(served: &Served, obj: &Value, requested: Option<i64>) -> i64 {
    if !is_kind(served, "", "Pod") {
        return 0;
    }
    let bound = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = obj
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !bound || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    requested
        .or_else(|| {
            obj.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0)
}

/// The finalizer that keeps an owner until the garbage collector has released its dependents.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer that keeps an owner until the garbage collector has deleted its blocking
/// dependents.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// Sets the garbage-collection finalizers a delete asks for, as upstream's store does: an
/// explicit propagation policy decides (Orphan adds `orphan`, Foreground `foregroundDeletion`,
/// Background neither); without one the object's own finalizers stand (the first of the two
/// wins); the default policy of every served kind is to delete dependents in the background.
/// Events take no part in garbage collection. Returns whether the finalizers changed.
fn set_gc_finalizers(served: &Served, obj: &mut Value, propagation: Option<&str>) -> bool {
    if is_kind(served, "", "Event") || is_kind(served, "events.k8s.io", "Event") {
        return false;
    }
    let current = object::finalizers(obj);
    let first_gc = current
        .iter()
        .find(|f| *f == ORPHAN_FINALIZER || *f == FOREGROUND_FINALIZER)
        .map(String::as_str);
    let (orphan, foreground) = match propagation.or(first_gc) {
        Some("Orphan" | ORPHAN_FINALIZER) => (true, false),
        Some("Foreground" | FOREGROUND_FINALIZER) => (false, true),
        _ => (false, false),
    };
    let mut wanted: Vec<String> = current
        .iter()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .cloned()
        .collect();
    if orphan {
        wanted.push(ORPHAN_FINALIZER.into());
    }
    if foreground {
        wanted.push(FOREGROUND_FINALIZER.into());
    }
    let as_set = |v: &[String]| v.iter().cloned().collect::<std::collections::BTreeSet<_>>();
    if as_set(&current) == as_set(&wanted) {
        return false;
    }
    let meta = object::meta_mut(obj);
    if wanted.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), json!(wanted));
    }
    true
}

/// Marks an object as deleting when it cannot go at once (finalizers, grace period, namespace
/// contents); returns whether it must wait. The propagation policy adds or removes the
/// garbage collector's finalizers, except while a graceful deletion is already pending (as
/// upstream, finalizers then cannot change through delete options).
pub fn mark_deleting(
    served: &Served,
    obj: &mut Value,
    grace: i64,
    propagation: Option<&str>,
) -> bool {
    let pending_grace = obj
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .filter(|g| *g > 0 && object::is_deleting(obj));
    if pending_grace.is_none_or(|current| grace < current) {
        set_gc_finalizers(served, obj, propagation);
    }
    let is_namespace = is_kind(served, "", "Namespace");
    let waits = grace > 0
        || !object::finalizers(obj).is_empty()
        || (is_namespace && !finalizers_done(served, obj));
    if !waits {
        return false;
    }
    if !object::is_deleting(obj) {
        let meta = object::meta_mut(obj);
        meta.insert(
            "deletionTimestamp".into(),
            json!(object::format_rfc3339(object::unix_now() + grace)),
        );
        meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
    } else if grace > 0 {
        let current = obj
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX);
        if grace < current {
            let meta = object::meta_mut(obj);
            meta.insert(
                "deletionTimestamp".into(),
                json!(object::format_rfc3339(object::unix_now() + grace)),
            );
            meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
        }
    }
    if is_namespace {
        obj["status"]["phase"] = json!("Terminating");
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn served(group: &str, version: &str, resource: &str) -> std::sync::Arc<Served> {
        Registry::builtin()
            .lookup(group, version, resource)
            .unwrap_or_else(|| panic!("{group}/{version}/{resource} is served"))
    }

    fn finalizers_after(resource: &str, obj: Value, propagation: Option<&str>) -> (bool, Value) {
        let served = served("", "v1", resource);
        let mut obj = obj;
        let waits = mark_deleting(&served, &mut obj, 0, propagation);
        (waits, obj["metadata"]["finalizers"].clone())
    }

    #[test]
    fn propagation_policies_set_the_collector_finalizers() {
        let cm = json!({"metadata": {"name": "a", "namespace": "default"}});
        assert_eq!(
            finalizers_after("configmaps", cm.clone(), None),
            (false, Value::Null)
        );
        assert_eq!(
            finalizers_after("configmaps", cm.clone(), Some("Background")),
            (false, Value::Null)
        );
        let (waits, f) = finalizers_after("configmaps", cm.clone(), Some("Foreground"));
        assert!(waits);
        assert_eq!(f, json!(["foregroundDeletion"]));
        let (waits, f) = finalizers_after("configmaps", cm, Some("Orphan"));
        assert!(waits);
        assert_eq!(f, json!(["orphan"]));
    }

    #[test]
    fn a_later_delete_may_switch_the_policy_and_keeps_other_finalizers() {
        let held = json!({"metadata": {"name": "a", "finalizers": ["example.com/x", "foregroundDeletion"],
                          "deletionTimestamp": "2026-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}});
        let (waits, f) = finalizers_after("configmaps", held.clone(), Some("Orphan"));
        assert!(waits);
        assert_eq!(f, json!(["example.com/x", "orphan"]));
        let (_, f) = finalizers_after("configmaps", held.clone(), None);
        assert_eq!(f, json!(["example.com/x", "foregroundDeletion"]));
        let (waits, f) = finalizers_after("configmaps", held, Some("Background"));
        assert!(waits, "example.com/x still holds it");
        assert_eq!(f, json!(["example.com/x"]));
    }

    #[test]
    fn events_take_no_part_in_garbage_collection() {
        let ev = json!({"metadata": {"name": "e", "namespace": "default"}});
        assert_eq!(
            finalizers_after("events", ev, Some("Foreground")),
            (false, Value::Null)
        );
    }
}
