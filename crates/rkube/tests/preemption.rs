//! Preemption and the objects the scheduler reads besides Pods and Nodes (PriorityClasses,
//! Namespaces for `namespaceSelector`), against a real `rkube server` with the real kubectl.
//! Nodes are simulated, so evicted pods really go away after their grace period.

use std::path::Path;
use std::time::Duration;

use rkube_testkit::Server;

const WAIT: Duration = Duration::from_secs(30);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rkube"))
}

/// A simulated node with `cpu` CPUs and the given extra labels (JSON members, may be empty).
fn add_sim_node(s: &Server, name: &str, cpu: &str, labels: &str) {
    let labels = if labels.is_empty() {
        format!(r#"{{"kubernetes.io/hostname":"{name}"}}"#)
    } else {
        format!(r#"{{"kubernetes.io/hostname":"{name}",{labels}}}"#)
    };
    s.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{name}","labels":{labels},"annotations":{{"sim.rkube.io/node":"true"}}}}}}"#
        ),
    );
    let resources = format!(r#"{{"cpu":"{cpu}","memory":"8Gi","pods":"110"}}"#);
    s.ok(&[
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &format!(r#"{{"status":{{"capacity":{resources},"allocatable":{resources}}}}}"#),
    ]);
}

/// A pod requesting `cpu`, with extra metadata and spec members (may be empty).
fn add_pod(s: &Server, namespace: &str, name: &str, cpu: &str, meta: &str, spec: &str) {
    let meta = if meta.is_empty() {
        String::new()
    } else {
        format!(",{meta}")
    };
    let spec = if spec.is_empty() {
        String::new()
    } else {
        format!(",{spec}")
    };
    s.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"{namespace}"{meta}}},"spec":{{"containers":[{{"name":"c","image":"busybox","resources":{{"requests":{{"cpu":"{cpu}"}}}}}}]{spec}}}}}"#
        ),
    );
}

fn field(s: &Server, namespace: &str, pod: &str, path: &str) -> String {
    let out = s.kubectl(&[
        "get",
        "pod",
        pod,
        "-n",
        namespace,
        "-o",
        &format!("jsonpath={{{path}}}"),
    ]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_running_on(s: &Server, namespace: &str, pod: &str) -> String {
    let mut node = String::new();
    let ok = s.wait_for(WAIT, || {
        node = field(s, namespace, pod, ".spec.nodeName");
        !node.is_empty() && field(s, namespace, pod, ".status.phase") == "Running"
    });
    assert!(ok, "{namespace}/{pod} never ran");
    node
}

fn exists(s: &Server, namespace: &str, pod: &str) -> bool {
    s.kubectl(&["get", "pod", pod, "-n", namespace])
        .status
        .success()
}

fn priority_class(s: &Server, name: &str, value: i32, policy: &str) {
    s.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            r#"{{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{{"name":"{name}"}},"value":{value},"preemptionPolicy":"{policy}"}}"#
        ),
    );
}

#[test]
fn a_high_priority_pod_preempts_a_low_priority_one() {
    let s = Server::start(bin());
    add_sim_node(&s, "n1", "4", "");
    priority_class(&s, "low", 100, "PreemptLowerPriority");
    priority_class(&s, "high", 1000, "PreemptLowerPriority");
    priority_class(&s, "polite", 1000, "Never");
    let low = r#""priorityClassName":"low","terminationGracePeriodSeconds":1"#;
    add_pod(&s, "default", "low-1", "2", "", low);
    wait_running_on(&s, "default", "low-1");
    add_pod(&s, "default", "low-2", "2", "", low);
    wait_running_on(&s, "default", "low-2");

    // preemptionPolicy Never: it waits and evicts nobody.
    add_pod(
        &s,
        "default",
        "polite",
        "2",
        "",
        r#""priorityClassName":"polite""#,
    );
    let mut description = String::new();
    let said = s.wait_for(WAIT, || {
        description = s.ok(&["describe", "pod", "polite"]);
        description.contains("FailedScheduling")
    });
    assert!(said, "{description}");
    assert!(
        description.contains(
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
        ),
        "{description}"
    );
    s.ok(&["delete", "pod", "polite", "--wait=false"]);

    // One victim is enough: the other low-priority pod is reprieved.
    add_pod(
        &s,
        "default",
        "high",
        "2",
        "",
        r#""priorityClassName":"high""#,
    );
    let node = wait_running_on(&s, "default", "high");
    assert_eq!(node, "n1");
    assert_eq!(
        field(&s, "default", "high", ".status.nominatedNodeName"),
        "n1"
    );
    let survivors: Vec<&str> = ["low-1", "low-2"]
        .into_iter()
        .filter(|p| exists(&s, "default", p))
        .collect();
    assert_eq!(survivors.len(), 1, "exactly one victim: {survivors:?}");
    let uid = field(&s, "default", "high", ".metadata.uid");
    let events = s.ok(&["get", "events", "--field-selector", "reason=Preempted"]);
    assert!(
        events.contains(&format!("Preempted by pod {uid} on node n1")),
        "{events}"
    );
    let high_events = s.ok(&["describe", "pod", "high"]);
    assert!(
        high_events.contains("0/1 nodes are available: 1 Insufficient cpu.")
            && high_events.contains("Successfully assigned default/high to n1"),
        "{high_events}"
    );
}

#[test]
fn namespace_selectors_see_namespace_labels() {
    let s = Server::start(bin());
    add_sim_node(&s, "a", "4", r#""topology.kubernetes.io/zone":"zone-a""#);
    add_sim_node(&s, "b", "4", r#""topology.kubernetes.io/zone":"zone-b""#);
    s.ok(&["create", "namespace", "team-x"]);
    s.ok(&["label", "namespace", "team-x", "team=x"]);
    add_pod(&s, "team-x", "db", "100m", r#""labels":{"app":"db"}"#, "");
    let db_node = wait_running_on(&s, "team-x", "db");
    // Affinity to app=db pods in namespaces labelled team=x: only the db's node qualifies.
    let affinity = r#""affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"db"}},"namespaceSelector":{"matchLabels":{"team":"x"}},"topologyKey":"kubernetes.io/hostname"}]}}"#;
    for i in 0..3 {
        let name = format!("web-{i}");
        add_pod(&s, "default", &name, "100m", "", affinity);
        assert_eq!(wait_running_on(&s, "default", &name), db_node);
    }
    // A selector no namespace matches leaves the pod pending with upstream's reason.
    let unmatched = affinity.replace(r#""team":"x""#, r#""team":"y""#);
    add_pod(&s, "default", "lonely", "100m", "", &unmatched);
    let mut description = String::new();
    let said = s.wait_for(WAIT, || {
        description = s.ok(&["describe", "pod", "lonely"]);
        description.contains("FailedScheduling")
    });
    assert!(said, "{description}");
    assert!(
        description.contains("0/2 nodes are available: 2 node(s) didn't match pod affinity rules."),
        "{description}"
    );
}
