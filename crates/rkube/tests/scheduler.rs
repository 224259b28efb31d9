//! The scheduler in `rkube server`, driven with the real kubectl. There is no node agent yet, so
//! nodes are plain Node objects given capacity and a Ready condition through the status
//! subresource; pods only need `spec.nodeName` set by the scheduler.

use std::path::Path;
use std::time::Duration;

use rkube_testkit::Server;

const WAIT: Duration = Duration::from_secs(30);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rkube"))
}

/// Creates a Ready node with 4 CPUs (or `cpu`), 8 GiB, 110 pods, the given labels and taints.
fn add_node(s: &Server, name: &str, cpu: &str, labels: &str, taints: &str) {
    let labels = if labels.is_empty() {
        format!(r#"{{"kubernetes.io/hostname":"{name}"}}"#)
    } else {
        format!(r#"{{"kubernetes.io/hostname":"{name}",{labels}}}"#)
    };
    let manifest = format!(
        r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{name}","labels":{labels}}},"spec":{{"taints":[{taints}]}}}}"#
    );
    s.ok_stdin(&["apply", "-f", "-"], &manifest);
    let resources = format!(r#"{{"cpu":"{cpu}","memory":"8Gi","pods":"110"}}"#);
    let status = format!(
        r#"{{"status":{{"capacity":{resources},"allocatable":{resources},"conditions":[{{"type":"Ready","status":"True","reason":"KubeletReady","message":"test node"}}]}}}}"#
    );
    s.ok(&[
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
}

/// Creates a pod requesting `cpu`, with extra spec fields (JSON members, may be empty).
fn add_pod(s: &Server, name: &str, cpu: &str, extra_spec: &str) {
    let extra = if extra_spec.is_empty() {
        String::new()
    } else {
        format!(",{extra_spec}")
    };
    let manifest = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}"}},"spec":{{"containers":[{{"name":"c","image":"busybox","resources":{{"requests":{{"cpu":"{cpu}"}}}}}}]{extra}}}}}"#
    );
    s.ok_stdin(&["apply", "-f", "-"], &manifest);
}

fn node_of(s: &Server, pod: &str) -> String {
    s.ok(&["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"])
}

fn wait_for_node(s: &Server, pod: &str) -> String {
    let mut node = String::new();
    s.wait_for(WAIT, || {
        node = node_of(s, pod);
        !node.is_empty()
    });
    assert!(!node.is_empty(), "pod {pod} was not scheduled");
    node
}

/// Waits until `kubectl describe pod` contains `text`; returns the description.
fn wait_for_description(s: &Server, pod: &str, text: &str) -> String {
    let mut description = String::new();
    let found = s.wait_for(WAIT, || {
        description = s.ok(&["describe", "pod", pod]);
        description.contains(text)
    });
    assert!(
        found,
        "describe pod {pod} never showed {text:?}:\n{description}"
    );
    description
}

#[test]
fn places_pods_by_node_selector_taints_and_cordon() {
    let s = Server::start(bin());
    add_node(&s, "ssd", "4", r#""disktype":"ssd""#, "");
    add_node(
        &s,
        "gpu",
        "4",
        "",
        r#"{"key":"dedicated","value":"gpu","effect":"NoSchedule"}"#,
    );
    add_node(&s, "plain", "4", "", "");

    add_pod(
        &s,
        "wants-ssd",
        "100m",
        r#""nodeSelector":{"disktype":"ssd"}"#,
    );
    assert_eq!(wait_for_node(&s, "wants-ssd"), "ssd");

    add_pod(
        &s,
        "tolerates-gpu",
        "100m",
        r#""nodeSelector":{"kubernetes.io/hostname":"gpu"},"tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}]"#,
    );
    assert_eq!(wait_for_node(&s, "tolerates-gpu"), "gpu");

    // Without a toleration the tainted node is never chosen.
    for i in 0..4 {
        let name = format!("any-{i}");
        add_pod(&s, &name, "100m", "");
        assert_ne!(
            wait_for_node(&s, &name),
            "gpu",
            "{name} landed on the tainted node"
        );
    }

    // Cordoned, the only matching node takes nothing; uncordoned, the pod goes there.
    s.ok(&["cordon", "ssd"]);
    add_pod(
        &s,
        "waits-for-ssd",
        "100m",
        r#""nodeSelector":{"disktype":"ssd"}"#,
    );
    let description = wait_for_description(&s, "waits-for-ssd", "FailedScheduling");
    assert!(
        description.contains("0/3 nodes are available:")
            && description.contains("1 node(s) were unschedulable")
            && description.contains("1 node(s) had untolerated taint {dedicated: gpu}"),
        "{description}"
    );
    assert_eq!(node_of(&s, "waits-for-ssd"), "");
    s.ok(&["uncordon", "ssd"]);
    assert_eq!(wait_for_node(&s, "waits-for-ssd"), "ssd");
}

#[test]
fn a_pod_too_big_stays_pending_until_a_bigger_node_appears() {
    let s = Server::start(bin());
    add_node(&s, "small-a", "2", "", "");
    add_node(&s, "small-b", "2", "", "");
    add_pod(&s, "fits", "500m", "");
    let node = wait_for_node(&s, "fits");

    add_pod(&s, "too-big", "16", "");
    let description = wait_for_description(&s, "too-big", "FailedScheduling");
    assert!(
        description.contains("0/2 nodes are available: 2 Insufficient cpu."),
        "{description}"
    );
    assert!(
        description.contains("Status:           Pending"),
        "{description}"
    );
    let condition = s.ok(&[
        "get",
        "pod",
        "too-big",
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}"#,
    ]);
    assert_eq!(condition, "Unschedulable");

    let events = s.ok(&["get", "events"]);
    assert!(
        events.contains("Scheduled")
            && events.contains(&format!("Successfully assigned default/fits to {node}")),
        "{events}"
    );

    add_node(&s, "big", "32", "", "");
    assert_eq!(wait_for_node(&s, "too-big"), "big");
}

#[test]
fn profiles_come_from_the_configuration_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("scheduler.yaml");
    std::fs::write(
        &config,
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: default-scheduler\n- schedulerName: second-scheduler\n",
    )
    .expect("writing the configuration");
    let config = config.to_string_lossy().to_string();
    let s = Server::start_with(bin(), &["--scheduler-config", &config]);
    add_node(&s, "n1", "4", "", "");
    add_pod(
        &s,
        "second",
        "100m",
        r#""schedulerName":"second-scheduler""#,
    );
    assert_eq!(wait_for_node(&s, "second"), "n1");
    let description = wait_for_description(&s, "second", "Scheduled");
    assert!(description.contains("second-scheduler"), "{description}");

    // A pod for a scheduler nobody runs is left alone.
    add_pod(&s, "elsewhere", "100m", r#""schedulerName":"not-here""#);
    add_pod(&s, "after", "100m", "");
    wait_for_node(&s, "after");
    assert_eq!(node_of(&s, "elsewhere"), "");
}

#[test]
fn disabled_scheduler_leaves_pods_pending() {
    let s = Server::start_with(bin(), &["--disable-scheduler"]);
    add_node(&s, "n1", "4", "", "");
    add_pod(&s, "p", "100m", "");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(node_of(&s, "p"), "");
}
