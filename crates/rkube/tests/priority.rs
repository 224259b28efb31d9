//! The Priority admission plugin and the built-in PriorityClasses, against a real `rkube server`
//! with the real kubectl.

use std::path::Path;

use rkube_testkit::Server;

fn server() -> Server {
    Server::start_with(
        Path::new(env!("CARGO_BIN_EXE_rkube")),
        &["--disable-scheduler"],
    )
}

fn pod(name: &str, spec_extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: busybox\n{spec_extra}"
    )
}

fn jsonpath(s: &Server, kind: &str, name: &str, path: &str) -> String {
    s.ok(&["get", kind, name, "-o", &format!("jsonpath={path}")])
}

#[test]
fn the_system_classes_exist_and_print_like_upstream() {
    let s = server();
    let out = s.ok(&["get", "priorityclasses"]);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines.first().cloned(),
        Some(vec![
            "NAME",
            "VALUE",
            "GLOBAL-DEFAULT",
            "AGE",
            "PREEMPTIONPOLICY"
        ]),
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[1][..3],
        ["system-cluster-critical", "2000000000", "false"]
    );
    assert_eq!(lines[1][4], "PreemptLowerPriority");
    assert_eq!(
        lines[2][..3],
        ["system-node-critical", "2000001000", "false"]
    );
    assert_eq!(
        jsonpath(&s, "pc", "system-node-critical", "{.description}"),
        "Used for system critical pods that must not be moved from their current node."
    );
    assert_eq!(
        jsonpath(&s, "pc", "system-cluster-critical", "{.description}"),
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."
    );
    let err = s.fails(&["delete", "pc", "system-node-critical"]);
    assert_eq!(
        err.trim(),
        r#"Error from server (Forbidden): priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: this is a system priority class and cannot be deleted"#
    );
    s.ok(&["get", "pc", "system-node-critical"]);
}

#[test]
fn pods_get_priority_from_their_class() {
    let s = server();
    s.ok(&["create", "priorityclass", "high", "--value=1000"]);
    s.ok_stdin(
        &["create", "-f", "-"],
        &pod("hi", "  priorityClassName: high\n"),
    );
    assert_eq!(
        jsonpath(
            &s,
            "pod",
            "hi",
            "{.spec.priorityClassName} {.spec.priority} {.spec.preemptionPolicy}"
        ),
        "high 1000 PreemptLowerPriority"
    );
    s.ok_stdin(
        &["create", "-f", "-"],
        &pod("node-crit", "  priorityClassName: system-node-critical\n"),
    );
    assert_eq!(
        jsonpath(&s, "pod", "node-crit", "{.spec.priority}"),
        "2000001000"
    );
    s.ok_stdin(&["create", "-f", "-"], &pod("plain", ""));
    assert_eq!(
        jsonpath(
            &s,
            "pod",
            "plain",
            "{.spec.priorityClassName}|{.spec.priority}|{.spec.preemptionPolicy}"
        ),
        "|0|PreemptLowerPriority"
    );
    // Priority cannot change afterwards; other updates keep it.
    s.ok(&["label", "pod", "hi", "a=b"]);
    assert_eq!(jsonpath(&s, "pod", "hi", "{.spec.priority}"), "1000");
    let err = s.fails(&[
        "patch",
        "pod",
        "hi",
        "--type=merge",
        "-p",
        r#"{"spec":{"priority":5}}"#,
    ]);
    assert!(
        err.contains("pod updates may not change fields other than"),
        "{err}"
    );
}

#[test]
fn a_missing_class_or_a_conflicting_value_is_refused() {
    let s = server();
    let err = s.fails_stdin(
        &["create", "-f", "-"],
        Some(&pod("x", "  priorityClassName: missing\n")),
    );
    assert_eq!(
        err.trim(),
        r#"Error from server (Forbidden): error when creating "STDIN": pods "x" is forbidden: no PriorityClass with name missing was found"#
    );
    s.ok(&["create", "priorityclass", "high", "--value=1000"]);
    let err = s.fails_stdin(
        &["create", "-f", "-"],
        Some(&pod("prio5", "  priorityClassName: high\n  priority: 5\n")),
    );
    assert_eq!(
        err.trim(),
        r#"Error from server (Forbidden): error when creating "STDIN": pods "prio5" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"#
    );
    let err = s.fails_stdin(
        &["create", "-f", "-"],
        Some(&pod(
            "never",
            "  priorityClassName: high\n  preemptionPolicy: Never\n",
        )),
    );
    assert_eq!(
        err.trim(),
        r#"Error from server (Forbidden): error when creating "STDIN": pods "never" is forbidden: the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name"#
    );
    // The same values as the class are accepted.
    s.ok_stdin(
        &["create", "-f", "-"],
        &pod("same", "  priorityClassName: high\n  priority: 1000\n"),
    );
    for name in ["x", "prio5", "never"] {
        s.fails(&["get", "pod", name]);
    }
}

#[test]
fn a_global_default_class_applies_to_pods_without_one() {
    let s = server();
    s.ok(&[
        "create",
        "priorityclass",
        "fallback",
        "--value=50",
        "--global-default",
        "--preemption-policy=Never",
    ]);
    s.ok_stdin(&["create", "-f", "-"], &pod("p", ""));
    assert_eq!(
        jsonpath(
            &s,
            "pod",
            "p",
            "{.spec.priorityClassName} {.spec.priority} {.spec.preemptionPolicy}"
        ),
        "fallback 50 Never"
    );
    // A client-set priority must match the default's.
    let err = s.fails_stdin(&["create", "-f", "-"], Some(&pod("q", "  priority: 0\n")));
    assert!(
        err.contains("the integer value of priority (0) must not be provided in pod spec; priority admission controller computed 50"),
        "{err}"
    );
    let err = s.fails(&[
        "create",
        "priorityclass",
        "second",
        "--value=60",
        "--global-default",
    ]);
    assert_eq!(
        err.trim(),
        r#"error: failed to create priorityclass: priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass fallback is already marked as default. Only one default can exist"#
    );
}
