//! Garbage collection and namespace deletion against a real `rkube server` with the real
//! kubectl: owned objects follow their owner per the cascade policy (background, foreground,
//! orphan), objects whose owner never existed are collected, and deleting a namespace removes
//! everything in it.

use std::path::Path;
use std::time::Duration;

use rkube_testkit::Server;

fn server() -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_rkube")))
}

const WAIT: Duration = Duration::from_secs(30);

/// Creates ConfigMap `owner` and ConfigMap `dependent` owned by it (blockOwnerDeletion).
fn owner_and_dependent(s: &Server, ns: &str) -> String {
    s.ok(&["create", "configmap", "owner", "-n", ns]);
    let uid = s.ok(&[
        "get",
        "cm",
        "owner",
        "-n",
        ns,
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let dependent = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"dependent","namespace":"{ns}","ownerReferences":[{{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":"{uid}","blockOwnerDeletion":true}}]}}}}"#
    );
    s.ok_stdin(&["create", "-f", "-"], &dependent);
    uid
}

fn exists(s: &Server, args: &[&str]) -> bool {
    s.kubectl(args).status.success()
}

#[test]
fn background_deletion_collects_dependents() {
    let s = server();
    owner_and_dependent(&s, "default");
    s.ok(&["delete", "cm", "owner"]);
    assert!(
        s.wait_for(WAIT, || !exists(&s, &["get", "cm", "dependent"])),
        "the dependent of a deleted owner is collected"
    );
}

#[test]
fn foreground_deletion_waits_for_blocking_dependents() {
    let s = server();
    owner_and_dependent(&s, "default");
    // Hold the dependent with a finalizer: the owner must wait for it.
    s.ok(&[
        "patch",
        "cm",
        "dependent",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ]);
    s.ok(&[
        "delete",
        "cm",
        "owner",
        "--cascade=foreground",
        "--wait=false",
    ]);
    let owner = s.get_json(&["get", "cm", "owner"]);
    assert!(
        owner["metadata"]["deletionTimestamp"].is_string(),
        "{owner}"
    );
    assert_eq!(
        owner["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    assert!(
        s.wait_for(WAIT, || !s
            .ok(&[
                "get",
                "cm",
                "dependent",
                "-o",
                "jsonpath={.metadata.deletionTimestamp}"
            ])
            .is_empty()),
        "the dependent is being deleted"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        exists(&s, &["get", "cm", "owner"]),
        "the owner waits for its blocking dependent"
    );
    s.ok(&[
        "patch",
        "cm",
        "dependent",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    assert!(s.wait_for(WAIT, || !exists(&s, &["get", "cm", "owner"])));
    assert!(!exists(&s, &["get", "cm", "dependent"]));

    // kubectl's own wait: the delete returns once the owner is gone.
    owner_and_dependent(&s, "default");
    s.ok(&[
        "delete",
        "cm",
        "owner",
        "--cascade=foreground",
        "--timeout=30s",
    ]);
    assert!(!exists(&s, &["get", "cm", "dependent"]));
}

#[test]
fn orphan_deletion_keeps_dependents_without_the_reference() {
    let s = server();
    owner_and_dependent(&s, "default");
    s.ok(&["delete", "cm", "owner", "--cascade=orphan", "--timeout=30s"]);
    assert!(!exists(&s, &["get", "cm", "owner"]));
    let dependent = s.get_json(&["get", "cm", "dependent"]);
    assert!(
        dependent["metadata"]["ownerReferences"].is_null(),
        "{dependent}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(exists(&s, &["get", "cm", "dependent"]), "orphans stay");
}

#[test]
fn objects_with_a_dangling_owner_are_collected() {
    let s = server();
    s.ok(&["create", "configmap", "keeper"]);
    let keeper = s.ok(&["get", "cm", "keeper", "-o", "jsonpath={.metadata.uid}"]);
    let ghost = "0b0e5d5e-0000-4000-8000-000000000001";
    let orphan = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"orphan","ownerReferences":[{{"apiVersion":"v1","kind":"ConfigMap","name":"ghost","uid":"{ghost}"}}]}}}}"#
    );
    let shared = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"shared","ownerReferences":[{{"apiVersion":"v1","kind":"ConfigMap","name":"ghost","uid":"{ghost}"}},{{"apiVersion":"v1","kind":"ConfigMap","name":"keeper","uid":"{keeper}"}}]}}}}"#
    );
    s.ok_stdin(&["create", "-f", "-"], &orphan);
    s.ok_stdin(&["create", "-f", "-"], &shared);
    assert!(
        s.wait_for(WAIT, || !exists(&s, &["get", "cm", "orphan"])),
        "all owners absent: collected"
    );
    assert!(
        s.wait_for(WAIT, || s
            .ok(&[
                "get",
                "cm",
                "shared",
                "-o",
                "jsonpath={.metadata.ownerReferences[*].name}"
            ])
            .trim()
            == "keeper"),
        "one owner remains: only the dangling reference goes"
    );
}

#[test]
fn deleting_a_namespace_removes_its_content() {
    let s = server();
    s.ok(&["create", "namespace", "doomed"]);
    owner_and_dependent(&s, "doomed");
    s.ok(&[
        "create",
        "secret",
        "generic",
        "pw",
        "-n",
        "doomed",
        "--from-literal=a=b",
    ]);
    s.ok(&[
        "create",
        "deployment",
        "web",
        "-n",
        "doomed",
        "--image=nginx",
    ]);
    s.ok(&["delete", "namespace", "doomed", "--timeout=60s"]);
    assert!(!exists(&s, &["get", "namespace", "doomed"]));
    let left = s.ok(&["get", "cm,secret,deploy", "-n", "doomed", "-o", "name"]);
    assert!(left.trim().is_empty(), "{left}");
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

#[test]
fn custom_resources_are_collected_and_can_own() {
    let s = server();
    s.ok_stdin(&["apply", "-f", "-"], WIDGET_CRD);
    s.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ]);
    // A widget owned by a ConfigMap goes with it.
    s.ok(&["create", "configmap", "owner"]);
    let uid = s.ok(&["get", "cm", "owner", "-o", "jsonpath={.metadata.uid}"]);
    let widget = format!(
        r#"{{"apiVersion":"example.com/v1","kind":"Widget","metadata":{{"name":"w","ownerReferences":[{{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":"{uid}"}}]}}}}"#
    );
    s.ok_stdin(&["create", "-f", "-"], &widget);
    s.ok(&["delete", "cm", "owner"]);
    assert!(s.wait_for(WAIT, || !exists(&s, &["get", "widget", "w"])));

    // A ConfigMap owned by a widget goes with the widget, in the foreground too.
    s.ok_stdin(
        &["create", "-f", "-"],
        r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"boss"}}"#,
    );
    let uid = s.ok(&["get", "widget", "boss", "-o", "jsonpath={.metadata.uid}"]);
    let cm = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"worker","ownerReferences":[{{"apiVersion":"example.com/v1","kind":"Widget","name":"boss","uid":"{uid}","blockOwnerDeletion":true}}]}}}}"#
    );
    s.ok_stdin(&["create", "-f", "-"], &cm);
    s.ok(&[
        "delete",
        "widget",
        "boss",
        "--cascade=foreground",
        "--timeout=30s",
    ]);
    assert!(!exists(&s, &["get", "cm", "worker"]));
}
