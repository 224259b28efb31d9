//! API semantics clients rely on, checked through the real kubectl (including `--raw`
//! requests where kubectl has no command for a parameter).

use std::path::Path;

use rkube_testkit::Server;
use serde_json::Value;

fn server() -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_rkube")))
}

fn raw(s: &Server, path: &str) -> Value {
    let out = s.ok(&["get", "--raw", path]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {out}"))
}

/// The JSON lines of a watch that ends by its timeout.
fn watch_lines(s: &Server, path: &str) -> Vec<Value> {
    s.ok(&["get", "--raw", path])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad watch line ({e}): {l}")))
        .collect()
}

#[test]
fn strict_field_validation_for_builtin_kinds() {
    let s = server();
    let bad = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: typo\nspec:\n  replica: 2\n  selector:\n    matchLabels: {app: t}\n  template:\n    metadata:\n      labels: {app: t}\n    spec:\n      containers:\n      - name: c\n        image: nginx\n        imagePullPolicyy: Always\n";
    let err = s.fails_stdin(&["apply", "-f", "-"], Some(bad));
    assert!(err.contains("strict decoding error"), "{err}");
    assert!(err.contains("unknown field \"spec.replica\""), "{err}");
    assert!(
        err.contains("unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""),
        "{err}"
    );
    s.fails(&["get", "deploy", "typo"]);
    // Warn: created, with the server's warning printed by kubectl.
    let out = s.kubectl_stdin(&["apply", "--validate=warn", "-f", "-"], Some(bad));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Warning: unknown field \"spec.replica\""),
        "{stderr}"
    );
    assert_eq!(
        s.ok(&["get", "deploy", "typo", "-o", "jsonpath={.spec.replicas}"]),
        "1"
    );
}

#[test]
fn generate_name_uid_timestamps_generation() {
    let s = server();
    let out = s.ok_stdin(
        &["create", "-f", "-", "-o", "name"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\n",
    );
    let name = out.trim().trim_start_matches("configmap/").to_string();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    let cm = s.get_json(&["get", "cm", &name]);
    assert_eq!(cm["metadata"]["uid"].as_str().map(str::len), Some(36));
    assert!(
        cm["metadata"]["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(
        cm["metadata"].get("generation").is_none(),
        "configmaps have no generation: {cm}"
    );
    s.ok(&["create", "deployment", "g", "--image=nginx"]);
    s.ok(&["label", "deploy", "g", "x=y"]);
    assert_eq!(
        s.ok(&[
            "get",
            "deploy",
            "g",
            "-o",
            "jsonpath={.metadata.generation}"
        ]),
        "1",
        "labels do not bump generation"
    );
    s.ok(&["set", "image", "deploy/g", "nginx=nginx:2"]);
    assert_eq!(
        s.ok(&[
            "get",
            "deploy",
            "g",
            "-o",
            "jsonpath={.metadata.generation}"
        ]),
        "2"
    );
}

#[test]
fn unbound_pods_are_deleted_at_once() {
    let s = server();
    s.ok_stdin(&["create", "-f", "-"], "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox\n");
    let pod = s.get_json(&["get", "pod", "p"]);
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(pod["status"]["qosClass"], "BestEffort");
    assert_eq!(pod["spec"]["restartPolicy"], "Always");
    let table = s.ok(&["get", "pods"]);
    assert!(
        table.lines().nth(1).is_some_and(
            |l| l.split_whitespace().collect::<Vec<_>>()[..4] == ["p", "0/1", "Pending", "0"]
        ),
        "{table}"
    );
    let err = s.fails(&["logs", "p"]);
    assert!(err.contains("pod p does not have a host assigned"), "{err}");
    s.ok(&["delete", "pod", "p", "--wait=true", "--timeout=5s"]);
    s.fails(&["get", "pod", "p"]);
}

#[test]
fn watch_initial_events_bookmarks_and_resume() {
    let s = server();
    s.ok(&["create", "configmap", "a"]);
    s.ok(&["create", "configmap", "b"]);
    let events = watch_lines(
        &s,
        "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
    );
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["ADDED", "ADDED", "BOOKMARK"], "{events:?}");
    assert_eq!(
        events[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );

    // Resume from a list's resourceVersion: only later changes.
    let list = raw(&s, "/api/v1/namespaces/default/configmaps");
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("list rv")
        .to_string();
    s.ok(&["label", "cm", "a", "x=1"]);
    s.ok(&["delete", "cm", "b"]);
    let events = watch_lines(
        &s,
        &format!(
            "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1"
        ),
    );
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("MODIFIED".to_string(), "a".to_string()),
            ("DELETED".to_string(), "b".to_string())
        ]
    );
    let deleted_rv: u64 = events[1]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("rv");
    assert!(deleted_rv > rv.parse::<u64>().expect("rv"));

    // A label-filtered watch sees objects enter and leave the selection.
    let rv = raw(&s, "/api/v1/namespaces/default/configmaps")["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    s.ok(&["label", "cm", "a", "x=2", "--overwrite"]);
    s.ok(&["label", "cm", "a", "x=1", "--overwrite"]);
    let events = watch_lines(
        &s,
        &format!(
            "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&labelSelector=x%3D1&timeoutSeconds=1"
        ),
    );
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["DELETED", "ADDED"], "{events:?}");
}

#[test]
fn list_resource_version_semantics_and_expired_continue() {
    let s = server();
    s.ok(&["create", "configmap", "one", "--from-literal=v=1"]);
    let rv = raw(&s, "/api/v1/namespaces/default/configmaps")["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    s.ok(&[
        "patch",
        "cm",
        "one",
        "--type=merge",
        "-p",
        r#"{"data":{"v":"2"}}"#,
    ]);
    let old = raw(
        &s,
        &format!(
            "/api/v1/namespaces/default/configmaps?resourceVersion={rv}&resourceVersionMatch=Exact"
        ),
    );
    assert_eq!(
        old["items"][0]["data"]["v"], "1",
        "exact read at an old revision"
    );
    assert_eq!(old["metadata"]["resourceVersion"], rv.as_str());
    let now = raw(
        &s,
        &format!(
            "/api/v1/namespaces/default/configmaps?resourceVersion={rv}&resourceVersionMatch=NotOlderThan"
        ),
    );
    assert_eq!(now["items"][0]["data"]["v"], "2");
    let err = s.fails(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?resourceVersionMatch=Exact",
    ]);
    assert!(
        err.contains("BadRequest") || err.contains("resourceVersionMatch"),
        "{err}"
    );
    let err = s.fails(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?limit=1&continue=bm90LWEtdG9rZW4",
    ]);
    assert!(
        err.contains("continue") || err.contains("BadRequest"),
        "{err}"
    );
}

#[test]
fn multi_version_custom_resources() {
    let s = server();
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object, properties: {spec: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, properties: {spec: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
"#;
    s.ok_stdin(&["apply", "-f", "-"], crd);
    s.ok(&[
        "wait",
        "--for=condition=established",
        "crd/widgets.example.com",
        "--timeout=10s",
    ]);
    s.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: example.com/v1beta1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 3\n",
    );
    assert_eq!(
        raw(&s, "/apis/example.com/v1/namespaces/default/widgets/w")["apiVersion"],
        "example.com/v1"
    );
    assert_eq!(
        raw(&s, "/apis/example.com/v1beta1/namespaces/default/widgets/w")["apiVersion"],
        "example.com/v1beta1"
    );
    assert_eq!(
        s.ok(&[
            "get",
            "widgets.v1beta1.example.com",
            "w",
            "-o",
            "jsonpath={.spec.size}"
        ]),
        "3"
    );
}

#[test]
fn hpa_is_served_as_v1_and_v2() {
    let s = server();
    s.ok(&["create", "deployment", "web", "--image=nginx"]);
    s.ok(&[
        "autoscale",
        "deployment",
        "web",
        "--min=1",
        "--max=5",
        "--cpu-percent=60",
    ]);
    let v2 = raw(
        &s,
        "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web",
    );
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 60,
        "{v2}"
    );
    let v1 = raw(
        &s,
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web",
    );
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60, "{v1}");
    let table = s.ok(&["get", "hpa"]);
    assert!(
        table.lines().next().is_some_and(|h| h.starts_with("NAME")
            && h.contains("REFERENCE")
            && h.contains("TARGETS")),
        "{table}"
    );
}

#[test]
fn events_are_served_by_both_groups() {
    let s = server();
    let event = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"e1","namespace":"default"},"involvedObject":{"kind":"Pod","name":"p","namespace":"default"},"reason":"Testing","message":"hello","type":"Normal","source":{"component":"test"},"count":1}"#;
    let file = s.data_dir().join("event.json");
    std::fs::write(&file, event).expect("write");
    s.ok(&["create", "-f", file.to_str().expect("utf-8")]);
    let ev = raw(&s, "/apis/events.k8s.io/v1/namespaces/default/events/e1");
    assert_eq!(ev["note"], "hello", "{ev}");
    assert_eq!(ev["regarding"]["name"], "p");
    let table = s.ok(&["get", "events"]);
    assert!(
        table.contains("Testing") && table.contains("hello"),
        "{table}"
    );
}
