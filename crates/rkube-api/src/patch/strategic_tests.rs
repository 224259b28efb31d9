use super::super::*;
use serde_json::{Value, json};

/// Test schema mirroring upstream's test struct: `mergingList` / `mergingIntList` merge (by
/// `name` / as primitives), `nonMergingList` replaces, `retainKeysMap` has retainKeys.
struct TestSchema;

impl PatchSchema for TestSchema {
    fn field_meta(&self, path: &[String]) -> FieldMeta {
        match path.last().map(String::as_str) {
            Some("mergingList") => FieldMeta::merge_list("name"),
            Some("mergingIntList" | "finalizers") => FieldMeta::primitive_set(),
            Some("replacingMap") => FieldMeta {
                strategy: PatchStrategy::Replace,
                ..FieldMeta::default()
            },
            Some("retainKeysMergingList") => FieldMeta {
                retain_keys: true,
                ..FieldMeta::merge_list("name")
            },
            _ => FieldMeta::default(),
        }
    }
}

fn smp(original: Value, patch: Value) -> Value {
    strategic_merge_patch(&original, &patch, &TestSchema).expect("patch applies")
}

#[test]
fn scalars_and_maps_merge_and_null_deletes() {
    let out = smp(
        json!({"name": "1", "value": "1", "other": {"a": 1, "b": 2}}),
        json!({"value": "2", "other": {"b": null, "c": 3}, "name": null}),
    );
    assert_eq!(out, json!({"value": "2", "other": {"a": 1, "c": 3}}));
}

#[test]
fn map_replace_and_delete_directives() {
    let original = json!({"name": "1", "other": {"a": 1, "b": 2}});
    assert_eq!(
        smp(
            original.clone(),
            json!({"other": {"$patch": "replace", "c": 3}})
        ),
        json!({"name": "1", "other": {"c": 3}})
    );
    assert_eq!(
        smp(original.clone(), json!({"other": {"$patch": "delete"}})),
        json!({"name": "1", "other": {}})
    );
    assert_eq!(
        smp(original, json!({"$patch": "replace", "x": 1})),
        json!({"x": 1})
    );
    let err = strategic_merge_patch(&json!({}), &json!({"$patch": "bogus"}), &TestSchema)
        .expect_err("must fail");
    assert_eq!(
        err,
        PatchError::Internal("unknown patch type: bogus in map: map[$patch:bogus]".into())
    );
}

#[test]
fn replace_strategy_replaces_whole_map() {
    let out = smp(
        json!({"replacingMap": {"a": 1}}),
        json!({"replacingMap": {"b": 2}}),
    );
    assert_eq!(out, json!({"replacingMap": {"b": 2}}));
}

#[test]
fn merging_list_merges_items_by_key_and_appends_new() {
    let out = smp(
        json!({"mergingList": [{"name": "1", "value": "a"}, {"name": "2", "value": "b"}]}),
        json!({"mergingList": [{"name": "2", "value": "c", "other": "x"}, {"name": "3"}]}),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": "1", "value": "a"}, {"name": "2", "value": "c", "other": "x"}, {"name": "3"}]})
    );
}

#[test]
fn non_merging_list_is_replaced() {
    let out = smp(
        json!({"nonMergingList": [{"name": "1"}, {"name": "2"}]}),
        json!({"nonMergingList": [{"name": "3"}]}),
    );
    assert_eq!(out, json!({"nonMergingList": [{"name": "3"}]}));
}

#[test]
fn delete_directive_removes_list_items() {
    let out = smp(
        json!({"mergingList": [{"name": "1"}, {"name": "2"}, {"name": "1"}]}),
        json!({"mergingList": [{"name": "1", "$patch": "delete"}]}),
    );
    assert_eq!(out, json!({"mergingList": [{"name": "2"}]}));
    let err = strategic_merge_patch(
        &json!({"mergingList": [{"name": "1"}]}),
        &json!({"mergingList": [{"$patch": "delete"}]}),
        &TestSchema,
    )
    .expect_err("must fail");
    assert_eq!(
        err,
        PatchError::Internal(
            "map: map[$patch:delete] does not contain declared merge key: name".into()
        )
    );
}

#[test]
fn replace_directive_in_list_replaces_list() {
    let out = smp(
        json!({"mergingList": [{"name": "1"}, {"name": "2"}]}),
        json!({"mergingList": [{"name": "3"}, {"$patch": "replace"}]}),
    );
    assert_eq!(out, json!({"mergingList": [{"name": "3"}]}));
}

#[test]
fn primitive_merge_list_is_unioned() {
    let out = smp(
        json!({"mergingIntList": [1, 2]}),
        json!({"mergingIntList": [2, 3]}),
    );
    assert_eq!(out, json!({"mergingIntList": [1, 2, 3]}));
    let out = smp(json!({"finalizers": ["a"]}), json!({"finalizers": ["b"]}));
    assert_eq!(out, json!({"finalizers": ["b", "a"]}));
}

#[test]
fn delete_from_primitive_list() {
    let out = smp(
        json!({"mergingIntList": [1, 2, 3]}),
        json!({"$deleteFromPrimitiveList/mergingIntList": [1, 3]}),
    );
    assert_eq!(out, json!({"mergingIntList": [2]}));
    // Deleting from an absent list leaves the object alone.
    assert_eq!(
        smp(
            json!({"a": 1}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [1]})
        ),
        json!({"a": 1})
    );
    let err = strategic_merge_patch(
        &json!({}),
        &json!({"$deleteFromPrimitiveList": [1]}),
        &TestSchema,
    )
    .expect_err("must fail");
    assert_eq!(
        err,
        PatchError::BadRequest("invalid patch format of primitive list".into())
    );
}

#[test]
fn delete_and_add_primitives_in_one_patch() {
    let out = smp(
        json!({"mergingIntList": [1, 2]}),
        json!({"$deleteFromPrimitiveList/mergingIntList": [1], "mergingIntList": [3]}),
    );
    // Items only the patch has go before server-only items when nothing else orders them.
    assert_eq!(out, json!({"mergingIntList": [3, 2]}));
}

#[test]
fn set_element_order_orders_merged_maps() {
    let out = smp(
        json!({"mergingList": [{"name": "1", "value": "a"}, {"name": "2"}, {"name": "3"}]}),
        json!({"$setElementOrder/mergingList": [{"name": "3"}, {"name": "1"}, {"name": "2"}], "mergingList": [{"name": "1", "value": "b"}]}),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": "3"}, {"name": "1", "value": "b"}, {"name": "2"}]})
    );
}

#[test]
fn set_element_order_keeps_server_only_items_in_place() {
    // Patch items follow the order list; server-only "s" keeps its place before "2".
    let out = smp(
        json!({"mergingList": [{"name": "1"}, {"name": "s"}, {"name": "2"}]}),
        json!({"$setElementOrder/mergingList": [{"name": "2"}, {"name": "1"}, {"name": "4"}], "mergingList": [{"name": "4"}]}),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": "s"}, {"name": "2"}, {"name": "1"}, {"name": "4"}]})
    );
}

#[test]
fn set_element_order_for_primitives() {
    let out = smp(
        json!({"mergingIntList": [1, 2, 3]}),
        json!({"$setElementOrder/mergingIntList": [3, 1, 2, 4], "mergingIntList": [4]}),
    );
    assert_eq!(out, json!({"mergingIntList": [3, 1, 2, 4]}));
}

#[test]
fn set_element_order_mismatch_is_rejected() {
    let err = strategic_merge_patch(
        &json!({"mergingList": [{"name": "1"}]}),
        &json!({"$setElementOrder/mergingList": [{"name": "1"}], "mergingList": [{"name": "2"}]}),
        &TestSchema,
    )
    .expect_err("must fail");
    assert!(
        matches!(err, PatchError::Internal(msg) if msg.starts_with("The order in patch list:"))
    );
}

#[test]
fn retain_keys_clears_unlisted_fields() {
    let out = smp(
        json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}),
        json!({"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}),
    );
    assert_eq!(out, json!({"strategy": {"type": "Recreate"}}));
    let err = strategic_merge_patch(
        &json!({"strategy": {}}),
        &json!({"strategy": {"$retainKeys": ["type"], "other": 1}}),
        &TestSchema,
    )
    .expect_err("must fail");
    assert_eq!(
        err,
        PatchError::BadRequest("invalid patch format of retainKeys".into())
    );
}

#[test]
fn retain_keys_in_merging_list_items() {
    let out = smp(
        json!({"retainKeysMergingList": [{"name": "v", "emptyDir": {}, "other": 1}]}),
        json!({"retainKeysMergingList": [{"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]}),
    );
    assert_eq!(
        out,
        json!({"retainKeysMergingList": [{"name": "v", "hostPath": {"path": "/x"}}]})
    );
}

#[test]
fn nested_merging_lists_merge_recursively() {
    let out = smp(
        json!({"mergingList": [{"name": "1", "mergingList": [{"name": "a", "v": 1}]}]}),
        json!({"mergingList": [{"name": "1", "mergingList": [{"name": "a", "v": 2}, {"name": "b"}]}]}),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": "1", "mergingList": [{"name": "a", "v": 2}, {"name": "b"}]}]})
    );
}

#[test]
fn new_values_lose_directives_and_nulls() {
    let out = smp(
        json!({}),
        json!({"mergingList": [{"name": "1", "x": null}, {"name": "2", "$patch": "delete"}], "m": {"$patch": "delete"}}),
    );
    assert_eq!(out, json!({"mergingList": [{"name": "1"}]}));
}

#[test]
fn type_change_replaces_value() {
    assert_eq!(
        smp(json!({"a": [1]}), json!({"a": {"b": 1}})),
        json!({"a": {"b": 1}})
    );
    assert_eq!(smp(json!({"a": "x"}), json!({"a": 2})), json!({"a": 2}));
}

#[test]
fn list_of_lists_is_rejected() {
    let err = strategic_merge_patch(
        &json!({"mergingIntList": [[1]]}),
        &json!({"mergingIntList": [[2]]}),
        &TestSchema,
    )
    .expect_err("must fail");
    assert_eq!(
        err,
        PatchError::Unprocessable("lists of lists are not supported".into())
    );
}

#[test]
fn pod_containers_merge_with_builtin_schema() {
    let pod = json!({
        "metadata": {"name": "p", "finalizers": ["a"]},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}], "ports": [{"containerPort": 80}]},
                {"name": "sidecar", "image": "busybox"}
            ],
            "tolerations": [{"key": "x"}]
        }
    });
    let patch = json!({
        "metadata": {"finalizers": ["b"]},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx:2", "env": [{"name": "B", "value": "2"}], "ports": [{"containerPort": 443}]},
                {"name": "sidecar", "$patch": "delete"}
            ],
            "tolerations": [{"key": "y"}]
        }
    });
    let out = strategic_merge_patch(&pod, &patch, &BuiltinPatchSchema::new("Pod"))
        .expect("patch applies");
    assert_eq!(
        out,
        json!({
            "metadata": {"name": "p", "finalizers": ["b", "a"]},
            "spec": {
                "containers": [
                    {"name": "app", "image": "nginx:2",
                     "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
                     "ports": [{"containerPort": 443}, {"containerPort": 80}]}
                ],
                "tolerations": [{"key": "y"}]
            }
        })
    );
}

#[test]
fn deployment_template_containers_merge() {
    let deployment = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}}});
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "z"}]}}}});
    let out = strategic_merge_patch(&deployment, &patch, &BuiltinPatchSchema::new("Deployment"))
        .expect("patch applies");
    assert_eq!(
        out,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}]}}}})
    );
}

// Cases below come from upstream's strategicpatch raw test cases (three-way patches applied
// to the current object).

#[test]
fn upstream_add_and_delete_with_set_element_order() {
    let out = smp(
        json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 4, "other": "c"}]}),
        json!({"$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
               "mergingList": [{"name": 2}, {"name": 3}, {"name": 1, "$patch": "delete"}]}),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": 4, "other": "c"}, {"name": 2}, {"name": 3}]})
    );
}

#[test]
fn upstream_add_item_and_preserve_order() {
    let out = smp(
        json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
        json!({"$setElementOrder/mergingList": [{"name": 3}, {"name": 1}, {"name": 2}],
               "mergingList": [{"name": 3, "value": 3}]}),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": 3, "value": 3}, {"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]})
    );
}

#[test]
fn upstream_set_element_order_with_absent_items() {
    let out = smp(
        json!({"mergingList": [{"name": 1}, {"name": 3}]}),
        json!({"$setElementOrder/mergingList": [{"name": 3}, {"name": 2}, {"name": 1}],
               "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]})
    );
    let out = smp(
        json!({"mergingIntList": [1, 3]}),
        json!({"$setElementOrder/mergingIntList": [3, 2, 1]}),
    );
    assert_eq!(out, json!({"mergingIntList": [3, 1]}));
}

#[test]
fn upstream_nested_patch_merge_with_empty_list() {
    let out = smp(
        json!({"name": "hi", "mergingList": [{"name": "hello2"}]}),
        json!({"$setElementOrder/mergingList": [{"name": "hello"}, {"name": "doesntexist"}],
               "mergingList": [{"name": "hello"}]}),
    );
    assert_eq!(
        out,
        json!({"name": "hi", "mergingList": [{"name": "hello"}, {"name": "hello2"}]})
    );
    let out = smp(
        json!({"name": "hi"}),
        json!({"mergingList": [{"name": "hello"}, {"$patch": "delete", "name": "doesntexist"}]}),
    );
    assert_eq!(
        out,
        json!({"name": "hi", "mergingList": [{"name": "hello"}]})
    );
}

#[test]
fn upstream_delete_and_reorder_scalars() {
    let out = smp(
        json!({"mergingIntList": [1, 2, 3]}),
        json!({"$setElementOrder/mergingIntList": [2, 1], "$deleteFromPrimitiveList/mergingIntList": [3]}),
    );
    assert_eq!(out, json!({"mergingIntList": [2, 1]}));
}

#[test]
fn upstream_delete_in_one_list_reorder_another() {
    let out = smp(
        json!({"mergingList": [{"name": "a", "value": "a"}, {"name": "b", "value": "b"}],
               "other": {"mergingList": [{"name": "c"}, {"name": "d"}]}}),
        json!({"$setElementOrder/mergingList": [{"name": "b"}],
               "mergingList": [{"$patch": "delete", "name": "a"}],
               "other": {"$setElementOrder/mergingList": [{"name": "d"}, {"name": "c"}]}}),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": "b", "value": "b"}], "other": {"mergingList": [{"name": "d"}, {"name": "c"}]}})
    );
}

#[test]
fn upstream_set_element_order_with_duplicates() {
    let out = smp(
        json!({"mergingList": [{"name": 1}, {"name": 2, "value": "dup1"}, {"name": 3}, {"name": 2, "value": "dup2"}, {"name": 4}]}),
        json!({"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}, {"name": 2}]}),
    );
    assert_eq!(
        out,
        json!({"mergingList": [{"name": 2, "value": "dup1"}, {"name": 2, "value": "dup2"}, {"name": 1}, {"name": 4}, {"name": 3}]})
    );
}

#[test]
fn upstream_retain_keys_map_with_order_directive() {
    let out = smp(
        json!({"retainKeysMap": {"name": "foo", "mergingList": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}),
        json!({"retainKeysMap": {"$retainKeys": ["mergingList", "name", "value"],
               "$setElementOrder/mergingList": [{"name": "a"}, {"name": "b"}], "value": "bar"}}),
    );
    assert_eq!(
        out,
        json!({"retainKeysMap": {"name": "foo", "mergingList": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "value": "bar"}})
    );
}
