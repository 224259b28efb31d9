//! The scheduler in `rkube server`, driven with the real kubectl. No node agent runs these
//! nodes: they are plain Node objects created with capacity and a Ready condition in their
//! status; pods only need `spec.nodeName` set by the scheduler. Each test shares one server
//! between several scenarios, kept apart by namespaces and node labels.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use rkube_testkit::Server;

const WAIT: Duration = Duration::from_secs(30);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rkube"))
}

/// A Ready node with `cpu` CPUs, 8 GiB, 110 pods, the given labels and taints (JSON members
/// and objects, may be empty). Nodes keep the status they are created with.
fn node_manifest(name: &str, cpu: &str, labels: &str, taints: &str) -> String {
    let labels = if labels.is_empty() {
        format!(r#"{{"kubernetes.io/hostname":"{name}"}}"#)
    } else {
        format!(r#"{{"kubernetes.io/hostname":"{name}",{labels}}}"#)
    };
    let resources = format!(r#"{{"cpu":"{cpu}","memory":"8Gi","pods":"110"}}"#);
    format!(
        r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{name}","labels":{labels}}},"spec":{{"taints":[{taints}]}},"status":{{"capacity":{resources},"allocatable":{resources},"conditions":[{{"type":"Ready","status":"True","reason":"KubeletReady","message":"test node"}}]}}}}"#
    )
}

/// Creates all `objects` with one `kubectl apply`.
fn apply_all(s: &Server, objects: &[String]) {
    let list = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
        objects.join(",")
    );
    s.ok_stdin(&["apply", "-f", "-"], &list);
}

/// Creates a Ready node (see [`node_manifest`]).
fn add_node(s: &Server, name: &str, cpu: &str, labels: &str, taints: &str) {
    apply_all(s, &[node_manifest(name, cpu, labels, taints)]);
}

/// Splits `namespace/name` (or a bare name, in `default`).
fn namespace_and_name(pod: &str) -> (&str, &str) {
    pod.split_once('/').unwrap_or(("default", pod))
}

/// A pod (`name` or `namespace/name`) requesting `cpu`, with labels and extra spec fields
/// (JSON members, may be empty).
fn pod_manifest(pod: &str, cpu: &str, labels: &str, extra_spec: &str) -> String {
    let (namespace, name) = namespace_and_name(pod);
    let extra = if extra_spec.is_empty() {
        String::new()
    } else {
        format!(",{extra_spec}")
    };
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"{namespace}","labels":{{{labels}}}}},"spec":{{"containers":[{{"name":"c","image":"busybox","resources":{{"requests":{{"cpu":"{cpu}"}}}}}}]{extra}}}}}"#
    )
}

/// Creates a pod (see [`pod_manifest`]) without labels.
fn add_pod(s: &Server, pod: &str, cpu: &str, extra_spec: &str) {
    apply_all(s, &[pod_manifest(pod, cpu, "", extra_spec)]);
}

/// Waits until every pod of `namespace` named in `pods` is bound; returns their nodes in order.
fn wait_for_nodes(s: &Server, namespace: &str, pods: &[String]) -> Vec<String> {
    let mut bound = HashMap::new();
    s.wait_for(WAIT, || {
        let table = s.ok(&[
            "get",
            "pods",
            "-n",
            namespace,
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name}={.spec.nodeName}{"\n"}{end}"#,
        ]);
        bound = table
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(_, node)| !node.is_empty())
            .map(|(pod, node)| (pod.to_string(), node.to_string()))
            .collect();
        settled_or_pause(pods.iter().all(|p| bound.contains_key(p)))
    });
    pods.iter()
        .map(|p| {
            bound
                .get(p)
                .cloned()
                .unwrap_or_else(|| panic!("pod {namespace}/{p} was not scheduled"))
        })
        .collect()
}

/// Passes `done` through, pausing first when it is false: polling with kubectl processes back
/// to back would take the CPU the server needs on a small machine.
fn settled_or_pause(done: bool) -> bool {
    if !done {
        std::thread::sleep(Duration::from_millis(150));
    }
    done
}

fn node_of(s: &Server, pod: &str) -> String {
    let (namespace, name) = namespace_and_name(pod);
    s.ok(&[
        "get",
        "pod",
        name,
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.nodeName}",
    ])
}

fn wait_for_node(s: &Server, pod: &str) -> String {
    let mut node = String::new();
    s.wait_for(WAIT, || {
        node = node_of(s, pod);
        settled_or_pause(!node.is_empty())
    });
    assert!(!node.is_empty(), "pod {pod} was not scheduled");
    node
}

/// Waits until `kubectl describe pod` contains `text`; returns the description.
fn wait_for_description(s: &Server, pod: &str, text: &str) -> String {
    let (namespace, name) = namespace_and_name(pod);
    let mut description = String::new();
    let found = s.wait_for(WAIT, || {
        description = s.ok(&["describe", "pod", name, "-n", namespace]);
        settled_or_pause(description.contains(text))
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

/// Waits for a `FailedScheduling` event of `pod` with exactly upstream's `message`, then checks
/// the pod is still unbound.
fn wait_for_failure(s: &Server, pod: &str, message: &str) {
    let description = wait_for_description(s, pod, message);
    assert!(description.contains("FailedScheduling"), "{description}");
    assert_eq!(node_of(s, pod), "", "{pod} was bound after all");
}

/// A node selector term (required) or preference (preferred) matching `key` `In` `values`.
fn node_affinity_in(key: &str, values: &[&str]) -> String {
    let values = values
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(",");
    format!(r#"{{"matchExpressions":[{{"key":"{key}","operator":"In","values":[{values}]}}]}}"#)
}

#[test]
fn taints_reject_untolerating_pods_with_upstream_reasons_and_admit_tolerating_ones() {
    let s = Server::start(bin());
    apply_all(
        &s,
        &[
            node_manifest(
                "gpu",
                "4",
                "",
                r#"{"key":"dedicated","value":"gpu","effect":"NoSchedule"}"#,
            ),
            node_manifest("small-a", "1", "", ""),
            node_manifest("small-b", "1", "", ""),
        ],
    );

    // The tainted node's rejection is one preemption cannot resolve, the small nodes' is not
    // (but there is nothing to preempt). Tolerations: `Exists` with the key, and `Exists`
    // without a key, tolerate the taint; `Equal` with another value does not.
    let on_gpu = r#""nodeSelector":{"kubernetes.io/hostname":"gpu"}"#;
    apply_all(
        &s,
        &[
            pod_manifest("needs-2-cpu", "2", "", ""),
            pod_manifest(
                "tolerates-key",
                "100m",
                "",
                &format!(
                    r#"{on_gpu},"tolerations":[{{"key":"dedicated","operator":"Exists","effect":"NoSchedule"}}]"#
                ),
            ),
            pod_manifest(
                "tolerates-everything",
                "100m",
                "",
                &format!(r#"{on_gpu},"tolerations":[{{"operator":"Exists"}}]"#),
            ),
            pod_manifest(
                "tolerates-other-value",
                "100m",
                "",
                &format!(
                    r#"{on_gpu},"tolerations":[{{"key":"dedicated","operator":"Equal","value":"tpu","effect":"NoSchedule"}}]"#
                ),
            ),
        ],
    );
    wait_for_failure(
        &s,
        "needs-2-cpu",
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. \
         preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
         2 No preemption victims found for incoming pod.",
    );
    let tolerating = ["tolerates-key".to_string(), "tolerates-everything".into()];
    assert_eq!(wait_for_nodes(&s, "default", &tolerating), ["gpu", "gpu"]);
    wait_for_failure(
        &s,
        "tolerates-other-value",
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, \
         2 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    );
    // Out of the way of the nodes added below.
    s.ok(&["delete", "pod", "needs-2-cpu"]);

    // NoExecute keeps untolerating pods off the node like NoSchedule; a toleration with
    // tolerationSeconds admits the pod. PreferNoSchedule only scores: with both nodes
    // fitting, the untainted one wins, but a pod pinned to the tainted node still fits.
    apply_all(
        &s,
        &[
            node_manifest(
                "draining",
                "4",
                "",
                r#"{"key":"maintenance","value":"true","effect":"NoExecute"}"#,
            ),
            node_manifest(
                "prefer-tainted",
                "4",
                r#""pool":"prefer""#,
                r#"{"key":"spot","value":"true","effect":"PreferNoSchedule"}"#,
            ),
            node_manifest("prefer-clean", "4", r#""pool":"prefer""#, ""),
        ],
    );
    let on_draining = r#""nodeSelector":{"kubernetes.io/hostname":"draining"}"#;
    let mut pods = vec![
        pod_manifest("ignores-no-execute", "100m", "", on_draining),
        pod_manifest(
            "tolerates-no-execute",
            "100m",
            "",
            &format!(
                r#"{on_draining},"tolerations":[{{"key":"maintenance","operator":"Equal","value":"true","effect":"NoExecute","tolerationSeconds":3600}}]"#
            ),
        ),
    ];
    let avoiding: Vec<String> = (0..3).map(|i| format!("prefers-clean-{i}")).collect();
    for pod in &avoiding {
        pods.push(pod_manifest(
            pod,
            "100m",
            "",
            r#""nodeSelector":{"pool":"prefer"}"#,
        ));
    }
    // Created after them, so it does not make the tainted node the busier one while they
    // are placed.
    pods.push(pod_manifest(
        "pinned-to-prefer-tainted",
        "100m",
        "",
        r#""nodeSelector":{"kubernetes.io/hostname":"prefer-tainted"}"#,
    ));
    apply_all(&s, &pods);
    let mut placed = vec![
        "tolerates-no-execute".to_string(),
        "pinned-to-prefer-tainted".into(),
    ];
    placed.extend(avoiding);
    assert_eq!(
        wait_for_nodes(&s, "default", &placed),
        [
            "draining",
            "prefer-tainted",
            "prefer-clean",
            "prefer-clean",
            "prefer-clean"
        ]
    );
    wait_for_failure(
        &s,
        "ignores-no-execute",
        "0/6 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, \
         1 node(s) had untolerated taint {maintenance: true}, \
         4 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling.",
    );
}

#[test]
fn node_affinity_and_topology_spread_place_pods_by_zone() {
    let s = Server::start(bin());
    // Two nodes per zone; zone-c's nodes are much bigger, so resource scoring alone would send
    // everything there.
    let mut nodes = Vec::new();
    for zone in ["a", "b", "c"] {
        let cpu = if zone == "c" { "32" } else { "4" };
        for i in 1..=2 {
            nodes.push(node_manifest(
                &format!("zone-{zone}-{i}"),
                cpu,
                &format!(r#""topology.kubernetes.io/zone":"zone-{zone}","pool":"zoned""#),
                "",
            ));
        }
    }
    nodes.push(node_manifest(
        "blue",
        "4",
        r#""pool":"weights","color":"blue""#,
        "",
    ));
    nodes.push(node_manifest(
        "red",
        "4",
        r#""pool":"weights","color":"red""#,
        "",
    ));
    apply_all(&s, &nodes);
    s.ok(&["create", "namespace", "required"]);
    s.ok(&["create", "namespace", "spread"]);

    // Required node affinity with In over two zones: never zone-c. Over a zone no node is
    // in: nowhere.
    let required = |zones: &[&str]| {
        format!(
            r#""affinity":{{"nodeAffinity":{{"requiredDuringSchedulingIgnoredDuringExecution":{{"nodeSelectorTerms":[{}]}}}}}}"#,
            node_affinity_in("topology.kubernetes.io/zone", zones)
        )
    };
    let zone_a_or_b: Vec<String> = (0..6).map(|i| format!("zone-a-or-b-{i}")).collect();
    let mut pods: Vec<String> = zone_a_or_b
        .iter()
        .map(|pod| {
            pod_manifest(
                &format!("required/{pod}"),
                "100m",
                "",
                &required(&["zone-a", "zone-b"]),
            )
        })
        .collect();
    pods.push(pod_manifest(
        "required/zone-d",
        "100m",
        "",
        &required(&["zone-d"]),
    ));

    // maxSkew 1 with DoNotSchedule over zones: 6 pods, 2 per zone.
    let spread = r#""nodeSelector":{"pool":"zoned"},"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"spread"}}}]"#;
    let spread_pods: Vec<String> = (0..6).map(|i| format!("spread-{i}")).collect();
    for pod in &spread_pods {
        pods.push(pod_manifest(
            &format!("spread/{pod}"),
            "500m",
            r#""app":"spread""#,
            spread,
        ));
    }
    // Preferred terms of weight 1 (blue) and 80 (red) on otherwise equal nodes: red.
    let preferred = |terms: &[(u32, &str)]| {
        let terms = terms
            .iter()
            .map(|(weight, color)| {
                format!(
                    r#"{{"weight":{weight},"preference":{}}}"#,
                    node_affinity_in("color", &[color])
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        format!(
            r#""nodeSelector":{{"pool":"weights"}},"affinity":{{"nodeAffinity":{{"preferredDuringSchedulingIgnoredDuringExecution":[{terms}]}}}}"#
        )
    };
    // With the default plugin weights even a weight-1 preference outweighs red being half
    // allocated by then (NodeResourcesFit and BalancedAllocation both favour blue); pods of
    // one priority are scheduled in creation order.
    pods.extend([
        pod_manifest(
            "prefers-red-80",
            "2",
            "",
            &preferred(&[(1, "blue"), (80, "red")]),
        ),
        pod_manifest("prefers-red-1", "100m", "", &preferred(&[(1, "red")])),
        pod_manifest(
            "prefers-blue-80",
            "100m",
            "",
            &preferred(&[(80, "blue"), (1, "red")]),
        ),
    ]);
    apply_all(&s, &pods);

    for (pod, node) in zone_a_or_b
        .iter()
        .zip(wait_for_nodes(&s, "required", &zone_a_or_b))
    {
        assert!(
            node.starts_with("zone-a-") || node.starts_with("zone-b-"),
            "{pod} landed on {node}"
        );
    }
    wait_for_failure(
        &s,
        "required/zone-d",
        "0/8 nodes are available: 8 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/8 nodes are available: 8 Preemption is not helpful for scheduling.",
    );
    let mut per_zone = BTreeMap::<String, usize>::new();
    for node in wait_for_nodes(&s, "spread", &spread_pods) {
        let zone = node
            .rsplit_once('-')
            .map_or(node.clone(), |(z, _)| z.into());
        *per_zone.entry(zone).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = [
        ("zone-a".into(), 2),
        ("zone-b".into(), 2),
        ("zone-c".into(), 2),
    ]
    .into();
    assert_eq!(per_zone, expected);

    let weighted = [
        "prefers-red-80".to_string(),
        "prefers-red-1".into(),
        "prefers-blue-80".into(),
    ];
    assert_eq!(
        wait_for_nodes(&s, "default", &weighted),
        ["red", "red", "blue"]
    );
}

#[test]
fn anti_affinity_spreads_replicas_and_foreign_scheduler_names_are_ignored() {
    let s = Server::start(bin());
    let nodes: Vec<String> = ["n1", "n2", "n3"]
        .iter()
        .map(|name| node_manifest(name, "4", "", ""))
        .collect();
    apply_all(&s, &nodes);
    s.ok(&["create", "namespace", "apps"]);
    // Created first, so the rest of the test gives the scheduler time to (wrongly) act on it.
    add_pod(
        &s,
        "apps/for-someone-else",
        "100m",
        r#""schedulerName":"someone-else""#,
    );

    // Four replicas, each refusing to share a node with another: three nodes, three placed.
    let anti_affinity = r#""affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"kubernetes.io/hostname"}]}}"#;
    let replicas: Vec<String> = (0..4).map(|i| format!("web-{i}")).collect();
    let manifests: Vec<String> = replicas
        .iter()
        .map(|pod| {
            pod_manifest(
                &format!("apps/{pod}"),
                "100m",
                r#""app":"web""#,
                anti_affinity,
            )
        })
        .collect();
    apply_all(&s, &manifests);
    let mut placed = wait_for_nodes(&s, "apps", &replicas[..3]);
    placed.sort();
    assert_eq!(placed, ["n1", "n2", "n3"]);
    wait_for_failure(
        &s,
        "apps/web-3",
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
         preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
    );

    // The Scheduled event names namespace/pod and node, in describe and in get events.
    let node = node_of(&s, "apps/web-0");
    let assigned = format!("Successfully assigned apps/web-0 to {node}");
    let description = wait_for_description(&s, "apps/web-0", &assigned);
    assert!(
        description.lines().any(|l| {
            l.contains("Normal") && l.contains("Scheduled") && l.contains("default-scheduler")
        }),
        "{description}"
    );
    let events = s.ok(&["get", "events", "-n", "apps"]);
    assert!(
        events.contains("Scheduled") && events.contains(&assigned),
        "{events}"
    );

    // The pod for another scheduler was never touched: no node, no condition, no event.
    assert_eq!(node_of(&s, "apps/for-someone-else"), "");
    let pod = s.get_json(&["get", "pod", "for-someone-else", "-n", "apps"]);
    assert_eq!(pod["status"]["phase"], "Pending", "{pod}");
    assert!(
        pod["status"]["conditions"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "{pod}"
    );
    let events = s.get_json(&["get", "events", "-n", "apps"]);
    let about_it: Vec<&serde_json::Value> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["involvedObject"]["name"] == "for-someone-else")
        .collect();
    assert!(about_it.is_empty(), "{about_it:?}");
}
