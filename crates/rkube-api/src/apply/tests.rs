use super::*;
use crate::patch::BuiltinPatchSchema;
use serde_json::json;

const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-01T00:01:00Z";

fn schema(kind: &str) -> BuiltinPatchSchema {
    BuiltinPatchSchema::new(kind)
}

fn entries(object: &Value) -> Vec<Value> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "nginx", "image": image}]}}
        }
    })
}

#[test]
fn first_apply_creates_object_and_records_fields() {
    let applied = deployment(2, "nginx:1");
    let out =
        apply(None, &applied, "kubectl", false, &schema("Deployment"), T0).expect("apply succeeds");
    assert_eq!(out["spec"], applied["spec"]);
    assert_eq!(
        entries(&out),
        vec![json!({
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}
                }
            }
        })]
    );
}

#[test]
fn reapplying_the_same_configuration_changes_nothing() {
    let applied = deployment(2, "nginx:1");
    let first =
        apply(None, &applied, "kubectl", false, &schema("Deployment"), T0).expect("apply succeeds");
    let second = apply(
        Some(&first),
        &applied,
        "kubectl",
        false,
        &schema("Deployment"),
        T1,
    )
    .expect("apply succeeds");
    assert_eq!(first, second);
}

#[test]
fn apply_merges_into_fields_set_by_others() {
    let mut live = deployment(2, "nginx:1");
    live["spec"]["paused"] = json!(false);
    live["status"] = json!({"replicas": 2});
    let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});
    // The live object has no owners yet: its fields belong to "before-first-apply".
    let out = apply(
        Some(&live),
        &applied,
        "kubectl",
        true,
        &schema("Deployment"),
        T0,
    )
    .expect("apply succeeds");
    assert_eq!(out["spec"]["replicas"], json!(3));
    assert_eq!(out["spec"]["paused"], json!(false));
    assert_eq!(out["status"], json!({"replicas": 2}));
    assert_eq!(out["spec"]["template"], live["spec"]["template"]);
}

#[test]
fn conflict_with_an_updater_is_reported_like_upstream() {
    let mut live = deployment(2, "nginx:1");
    update_managed_fields(
        None,
        &mut live,
        "kubectl-client-side-apply",
        "Update",
        "apps/v1",
        None,
        T0,
        &schema("Deployment"),
    );
    let mut applied = deployment(3, "nginx:1");
    applied["metadata"] = json!({"name": "web"});
    let err = apply(
        Some(&live),
        &applied,
        "kubectl",
        false,
        &schema("Deployment"),
        T1,
    )
    .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    let ApplyError::Conflicts(conflicts) = err else {
        panic!("expected conflicts")
    };
    assert_eq!(
        conflicts[0].cause_message(),
        "conflict with \"kubectl-client-side-apply\" using apps/v1"
    );
    assert_eq!(conflicts[0].field, ".spec.replicas");
}

#[test]
fn same_value_is_shared_without_conflict() {
    let mut live = deployment(2, "nginx:1");
    update_managed_fields(
        None,
        &mut live,
        "creator",
        "Update",
        "apps/v1",
        None,
        T0,
        &schema("Deployment"),
    );
    let out = apply(
        Some(&live),
        &deployment(2, "nginx:1"),
        "kubectl",
        false,
        &schema("Deployment"),
        T1,
    )
    .expect("no conflict");
    let list = entries(&out);
    let managers: Vec<&str> = list.iter().filter_map(|e| e["manager"].as_str()).collect();
    assert_eq!(managers, vec!["kubectl", "creator"]);
    assert_eq!(list[1]["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
}

#[test]
fn multiple_conflicts_are_listed_per_manager() {
    let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
    update_managed_fields(
        None,
        &mut live,
        "m",
        "Update",
        "v1",
        None,
        T0,
        &schema("ConfigMap"),
    );
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "x", "b": "y"}});
    let err = apply(
        Some(&live),
        &applied,
        "kubectl",
        false,
        &schema("ConfigMap"),
        T1,
    )
    .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"m\" using v1:\n- .data.a\n- .data.b"
    );
}

#[test]
fn force_moves_ownership_to_the_applier() {
    let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
    update_managed_fields(
        None,
        &mut live,
        "m",
        "Update",
        "v1",
        None,
        T0,
        &schema("ConfigMap"),
    );
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "x"}});
    let out = apply(
        Some(&live),
        &applied,
        "kubectl",
        true,
        &schema("ConfigMap"),
        T1,
    )
    .expect("forced apply succeeds");
    assert_eq!(out["data"], json!({"a": "x", "b": "2"}));
    let list = entries(&out);
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["manager"], "kubectl");
    assert_eq!(list[0]["fieldsV1"], json!({"f:data": {"f:a": {}}}));
    assert_eq!(list[1]["manager"], "m");
    assert_eq!(list[1]["fieldsV1"], json!({"f:data": {".": {}, "f:b": {}}}));
}

#[test]
fn fields_no_longer_applied_are_removed_unless_owned_by_others() {
    let v1 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"x": "1", "y": "2"}}, "data": {"a": "1", "b": "2"}});
    let first =
        apply(None, &v1, "kubectl", false, &schema("ConfigMap"), T0).expect("apply succeeds");
    // Another applier shares data.b.
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"b": "2"}});
    let shared = apply(
        Some(&first),
        &other,
        "other",
        false,
        &schema("ConfigMap"),
        T0,
    )
    .expect("apply succeeds");
    let v2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"x": "1"}}, "data": {"c": "3"}});
    let out = apply(
        Some(&shared),
        &v2,
        "kubectl",
        false,
        &schema("ConfigMap"),
        T1,
    )
    .expect("apply succeeds");
    assert_eq!(out["metadata"]["labels"], json!({"x": "1"}));
    assert_eq!(out["data"], json!({"b": "2", "c": "3"}));
}

#[test]
fn list_items_no_longer_applied_are_removed() {
    let two = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
    let first = apply(None, &two, "kubectl", false, &schema("Pod"), T0).expect("apply succeeds");
    let one = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "x"}]}});
    let out =
        apply(Some(&first), &one, "kubectl", false, &schema("Pod"), T1).expect("apply succeeds");
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "a", "image": "x"}])
    );
}

#[test]
fn associative_lists_merge_by_key_and_sets_union() {
    let live = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a"]},
        "spec": {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80}]}]}});
    let applied = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["b"]},
        "spec": {"containers": [{"name": "a", "image": "z"}, {"name": "b", "image": "y"}]}});
    let out =
        apply(Some(&live), &applied, "kubectl", true, &schema("Pod"), T0).expect("apply succeeds");
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "a", "image": "z", "ports": [{"containerPort": 80}]}, {"name": "b", "image": "y"}])
    );
    let fields = &entries(&out)[0]["fieldsV1"];
    assert_eq!(fields["f:metadata"]["f:finalizers"], json!({"v:\"b\"": {}}));
}

#[test]
fn container_port_keys_use_protocol_default() {
    let applied = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}});
    let out = apply(None, &applied, "kubectl", false, &schema("Pod"), T0).expect("apply succeeds");
    let container = &entries(&out)[0]["fieldsV1"]["f:spec"]["f:containers"]["k:{\"name\":\"a\"}"];
    assert_eq!(
        container["f:ports"],
        json!({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}})
    );
}

#[test]
fn duplicate_keys_in_applied_lists_are_rejected() {
    let applied = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a"}, {"name": "a"}]}});
    let err = apply(None, &applied, "kubectl", false, &schema("Pod"), T0).expect_err("must fail");
    assert!(
        matches!(err, ApplyError::InvalidObject(msg) if msg.contains("duplicate entries for key [name=\"a\"]"))
    );
}

#[test]
fn update_after_apply_then_apply_conflicts() {
    let applied = deployment(2, "nginx:1");
    let live =
        apply(None, &applied, "kubectl", false, &schema("Deployment"), T0).expect("apply succeeds");
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    update_managed_fields(
        Some(&live),
        &mut scaled,
        "kube-controller-manager",
        "Update",
        "apps/v1",
        None,
        T1,
        &schema("Deployment"),
    );
    let list = entries(&scaled);
    assert_eq!(list.len(), 2);
    // The applier lost .spec.replicas to the updater.
    assert_eq!(list[0]["manager"], "kubectl");
    assert!(list[0]["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    assert_eq!(list[1]["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    let err = apply(
        Some(&scaled),
        &applied,
        "kubectl",
        false,
        &schema("Deployment"),
        T1,
    )
    .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kube-controller-manager\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn update_records_create_with_dots_for_maps_and_items() {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "x"}, "uid": "u"},
        "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"phase": "Pending"}});
    update_managed_fields(
        None,
        &mut pod,
        "kubectl-run",
        "Update",
        "v1",
        None,
        T0,
        &schema("Pod"),
    );
    assert_eq!(
        entries(&pod),
        vec![json!({
            "manager": "kubectl-run", "operation": "Update", "apiVersion": "v1", "time": T0, "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}}
            }
        })]
    );
}

#[test]
fn update_merges_same_manager_and_drops_empty_entries() {
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    update_managed_fields(None, &mut cm, "first", "Update", "v1", None, T0, &NoSchema);
    let old = cm.clone();
    cm["data"]["a"] = json!("2");
    cm["data"]["b"] = json!("3");
    update_managed_fields(
        Some(&old),
        &mut cm,
        "second",
        "Update",
        "v1",
        None,
        T1,
        &NoSchema,
    );
    let list = entries(&cm);
    // "first" keeps only the map itself, as upstream does.
    assert_eq!(list[0]["manager"], "first");
    assert_eq!(list[0]["fieldsV1"], json!({"f:data": {}}));
    assert_eq!(list[1]["manager"], "second");
    assert_eq!(
        list[1]["fieldsV1"],
        json!({"f:data": {"f:a": {}, "f:b": {}}})
    );
    let old = cm.clone();
    cm["data"]["c"] = json!("4");
    update_managed_fields(
        Some(&old),
        &mut cm,
        "second",
        "Update",
        "v1",
        None,
        T1,
        &NoSchema,
    );
    let list = entries(&cm);
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[1]["fieldsV1"],
        json!({"f:data": {"f:a": {}, "f:b": {}, "f:c": {}}})
    );
    // Removing the map takes it from everybody; empty entries disappear.
    let old = cm.clone();
    cm.as_object_mut().map(|m| m.remove("data"));
    update_managed_fields(
        Some(&old),
        &mut cm,
        "third",
        "Update",
        "v1",
        None,
        T1,
        &NoSchema,
    );
    assert!(cm["metadata"].get("managedFields").is_none());
}

#[test]
fn unchanged_update_keeps_managed_fields() {
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    update_managed_fields(None, &mut cm, "first", "Update", "v1", None, T0, &NoSchema);
    let old = cm.clone();
    let mut same = cm.clone();
    update_managed_fields(
        Some(&old),
        &mut same,
        "other",
        "Update",
        "v1",
        None,
        T1,
        &NoSchema,
    );
    assert_eq!(same, old);
}

#[test]
fn status_writes_record_the_subresource() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"nodeName": "n"}});
    let mut with_status = pod.clone();
    with_status["status"] =
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
    update_managed_fields(
        Some(&pod),
        &mut with_status,
        "kubelet",
        "Update",
        "v1",
        Some("status"),
        T0,
        &schema("Pod"),
    );
    let list = entries(&with_status);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["subresource"], "status");
    assert_eq!(
        list[0]["fieldsV1"],
        json!({"f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}, "f:phase": {}}})
    );
}

#[test]
fn empty_managed_fields_in_request_resets_ownership() {
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    update_managed_fields(None, &mut cm, "first", "Update", "v1", None, T0, &NoSchema);
    let old = cm.clone();
    cm["metadata"]["managedFields"] = json!([]);
    update_managed_fields(
        Some(&old),
        &mut cm,
        "second",
        "Update",
        "v1",
        None,
        T1,
        &NoSchema,
    );
    assert!(cm["metadata"].get("managedFields").is_none());
}

struct NoSchema;

impl PatchSchema for NoSchema {
    fn field_meta(&self, _path: &[String]) -> crate::patch::FieldMeta {
        crate::patch::FieldMeta::default()
    }
}

#[test]
fn live_duplicates_not_touched_by_apply_are_kept() {
    let live = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "X", "value": "2"}]}]}});
    let applied = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "b"}]}});
    let out =
        apply(Some(&live), &applied, "kubectl", false, &schema("Pod"), T0).expect("apply succeeds");
    assert_eq!(out["spec"]["containers"][0], live["spec"]["containers"][0]);
    assert_eq!(out["spec"]["containers"][1], json!({"name": "b"}));
}

#[test]
fn applied_order_wins_for_shared_items() {
    let live = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a"}, {"name": "x"}, {"name": "b"}]}});
    let applied = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "b"}, {"name": "a"}, {"name": "c"}]}});
    let out =
        apply(Some(&live), &applied, "kubectl", false, &schema("Pod"), T0).expect("apply succeeds");
    let names: Vec<&str> = out["spec"]["containers"]
        .as_array()
        .map(|l| l.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, vec!["x", "b", "a", "c"]);
}

#[test]
fn first_apply_to_untracked_object_conflicts_with_before_first_apply() {
    let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "u"}, "data": {"a": "1", "b": "2"}});
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "x"}});
    let err = apply(
        Some(&live),
        &applied,
        "mgr",
        false,
        &schema("ConfigMap"),
        T0,
    )
    .expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.a"
    );
    let same = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    let out =
        apply(Some(&live), &same, "mgr", false, &schema("ConfigMap"), T0).expect("apply succeeds");
    let list = entries(&out);
    assert_eq!(list[0]["manager"], "mgr");
    assert_eq!(list[1]["manager"], "before-first-apply");
}

#[test]
fn updates_to_untracked_objects_stay_untracked() {
    let old = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "u"}, "data": {"a": "1"}});
    let mut new = old.clone();
    new["data"]["a"] = json!("2");
    update_managed_fields(
        Some(&old),
        &mut new,
        "m",
        "Update",
        "v1",
        None,
        T0,
        &schema("ConfigMap"),
    );
    assert!(new["metadata"].get("managedFields").is_none());
}

#[test]
fn kubectl_takes_over_fields_from_client_side_apply() {
    let last_applied = r#"{"apiVersion":"v1","data":{"a":"1"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"c"}}
"#;
    let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied}},
        "data": {"a": "1"}});
    update_managed_fields(
        None,
        &mut live,
        "kubectl-client-side-apply",
        "Update",
        "v1",
        None,
        T0,
        &schema("ConfigMap"),
    );
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
    // Another manager name conflicts ...
    assert!(
        apply(
            Some(&live),
            &applied,
            "other",
            false,
            &schema("ConfigMap"),
            T1
        )
        .is_err()
    );
    // ... kubectl does not, and keeps the annotation in step.
    let out = apply(
        Some(&live),
        &applied,
        "kubectl",
        false,
        &schema("ConfigMap"),
        T1,
    )
    .expect("apply succeeds");
    assert_eq!(out["data"]["a"], "2");
    assert_eq!(
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{\"apiVersion\":\"v1\",\"data\":{\"a\":\"2\"},\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}\n"
    );
}

#[test]
fn status_apply_owns_only_status() {
    let mut live = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"nodeName": "n"}});
    update_managed_fields(
        None,
        &mut live,
        "creator",
        "Update",
        "v1",
        None,
        T0,
        &schema("Pod"),
    );
    let applied = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"nodeName": "other"},
        "status": {"phase": "Running"}});
    let out = apply_to_subresource(
        Some(&live),
        &applied,
        Some("status"),
        "agent",
        false,
        &schema("Pod"),
        T1,
    )
    .expect("apply succeeds");
    assert_eq!(out["spec"]["nodeName"], "n");
    assert_eq!(out["status"]["phase"], "Running");
    let agent = entries(&out)
        .into_iter()
        .find(|e| e["manager"] == "agent")
        .expect("agent entry");
    assert_eq!(agent["subresource"], "status");
    assert_eq!(agent["fieldsV1"], json!({"f:status": {"f:phase": {}}}));
}

#[test]
fn old_update_entries_merge_into_ancient_changes() {
    let mut cm =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    update_managed_fields(
        None,
        &mut cm,
        "m00",
        "Update",
        "v1",
        None,
        "2026-01-01T00:00:00Z",
        &NoSchema,
    );
    for i in 1..=11 {
        let old = cm.clone();
        cm["data"][format!("k{i}")] = json!("v");
        let now = format!("2026-01-01T00:00:{i:02}Z");
        update_managed_fields(
            Some(&old),
            &mut cm,
            &format!("m{i:02}"),
            "Update",
            "v1",
            None,
            &now,
            &NoSchema,
        );
    }
    let list = entries(&cm);
    assert_eq!(list.len(), 10);
    let ancient = list
        .iter()
        .find(|e| e["manager"] == "ancient-changes")
        .expect("bucket entry");
    assert_eq!(ancient["fieldsV1"]["f:data"]["f:k1"], json!({}));
    assert_eq!(ancient["fieldsV1"]["f:data"]["f:k2"], json!({}));
}
