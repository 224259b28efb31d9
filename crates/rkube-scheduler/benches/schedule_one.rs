//! Times `SchedulingAlgorithm::schedule_one` on 5,000 simulated-shape nodes (32 CPU, 256 GiB,
//! 110 pods, three zones), assuming each placed pod onto its node like the scheduler cache
//! does, and prints nanoseconds per pod for several profiles and for pods in groups of 100
//! with required anti-affinity per host or a zone spread constraint (the shapes of
//! `rkube bench scheduler`).
//!
//! Run: `cargo bench -p rkube-scheduler --bench schedule_one [-- WORD]` (only the runs whose
//! label contains WORD).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{
    Affinity, Container, Node, NodeSpec, NodeStatus, Pod, PodAffinityTerm, PodAntiAffinity,
    PodSpec, ResourceRequirements, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use rkube_scheduler::config::ProfileConfig;
use rkube_scheduler::node_info::PodInfo;
use rkube_scheduler::{
    CycleState, Profile, Registry, SchedulerConfiguration, SchedulingAlgorithm, Snapshot,
};

const NODES: usize = 5_000;
const PODS: usize = 10_000;
const GROUP_SIZE: usize = 100;

/// What the pods ask for besides resources.
#[derive(Clone, Copy)]
enum Shape {
    Plain,
    AntiAffinity,
    Spread,
}

fn quantities(list: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    list.iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

fn node(i: usize) -> Arc<Node> {
    let name = format!("sim-{i}");
    let zone = ["zone-a", "zone-b", "zone-c"][i % 3];
    Arc::new(Node {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(
                [
                    ("kubernetes.io/hostname".to_string(), name),
                    ("kubernetes.io/os".to_string(), "linux".to_string()),
                    ("topology.kubernetes.io/zone".to_string(), zone.to_string()),
                ]
                .into(),
            ),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            allocatable: Some(quantities(&[
                ("cpu", "32"),
                ("memory", "256Gi"),
                ("pods", "110"),
            ])),
            ..Default::default()
        }),
    })
}

fn pod(i: usize, shape: Shape) -> Pod {
    let group = format!("g{}", i / GROUP_SIZE);
    let selector = LabelSelector {
        match_labels: Some([("group".to_string(), group.clone())].into()),
        ..Default::default()
    };
    let (affinity, spread) = match shape {
        Shape::Plain => (None, None),
        Shape::AntiAffinity => (
            Some(Affinity {
                pod_anti_affinity: Some(PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![
                        PodAffinityTerm {
                            label_selector: Some(selector),
                            topology_key: "kubernetes.io/hostname".into(),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            None,
        ),
        Shape::Spread => (
            None,
            Some(vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: "topology.kubernetes.io/zone".into(),
                when_unsatisfiable: "DoNotSchedule".into(),
                label_selector: Some(selector),
                ..Default::default()
            }]),
        ),
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("pod-{i}")),
            namespace: Some("default".into()),
            labels: Some([("group".to_string(), group)].into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("registry.k8s.io/pause:3.10".into()),
                resources: Some(ResourceRequirements {
                    requests: Some(quantities(&[("cpu", "100m"), ("memory", "128Mi")])),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            node_selector: Some([("kubernetes.io/os".to_string(), "linux".to_string())].into()),
            affinity,
            topology_spread_constraints: spread,
            ..Default::default()
        }),
        status: None,
    }
}

fn run(label: &str, profile: &Profile, percentage: i32, shape: Shape) {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !wanted.is_empty() && !wanted.iter().any(|w| label.contains(w.as_str())) {
        return;
    }
    let mut snapshot = Snapshot::new((0..NODES).map(node).collect(), Vec::new());
    let mut algorithm = SchedulingAlgorithm::new(percentage, 7);
    let pods: Vec<Pod> = (0..PODS).map(|i| pod(i, shape)).collect();
    let start = Instant::now();
    let mut evaluated = 0usize;
    for pod in pods {
        let result = algorithm.schedule_one(profile, &mut CycleState::default(), &pod, &snapshot);
        let Ok(result) = result else {
            eprintln!("{label}: unexpected failure: {result:?}");
            return;
        };
        evaluated += result.evaluated_nodes;
        let mut placed = pod;
        if let Some(spec) = placed.spec.as_mut() {
            spec.node_name = Some(result.suggested_host.clone());
        }
        if let Some(node) = snapshot.get_mut(&result.suggested_host) {
            node.add_pod(PodInfo::new(Arc::new(placed)));
        }
    }
    let elapsed = start.elapsed();
    println!(
        "{label:<48} {NODES} nodes, {PODS} pods: {:>9} ns/pod ({:.0} pods/s, {} nodes evaluated/pod)",
        elapsed.as_nanos() / PODS as u128,
        PODS as f64 / elapsed.as_secs_f64(),
        evaluated / PODS
    );
}

fn profile(yaml: &str) -> Profile {
    let config = SchedulerConfiguration::from_yaml(yaml).unwrap_or_else(|e| panic!("config: {e}"));
    let profile_config = config
        .profiles
        .first()
        .cloned()
        .unwrap_or_else(ProfileConfig::default);
    Profile::build(&profile_config, &Registry::in_tree()).unwrap_or_else(|e| panic!("profile: {e}"))
}

fn main() {
    let defaults = profile("{}");
    let minimal = profile(
        r#"
profiles:
- plugins:
    multiPoint:
      disabled:
      - name: '*'
      enabled:
      - name: PrioritySort
      - name: NodeResourcesFit
"#,
    );
    run(
        "default plugins, adaptive percentage (10%)",
        &defaults,
        0,
        Shape::Plain,
    );
    run(
        "default plugins, 100% of nodes",
        &defaults,
        100,
        Shape::Plain,
    );
    run(
        "PrioritySort + NodeResourcesFit, adaptive",
        &minimal,
        0,
        Shape::Plain,
    );
    run(
        "PrioritySort + NodeResourcesFit, 100%",
        &minimal,
        100,
        Shape::Plain,
    );
    run(
        "default plugins, required anti-affinity per host",
        &defaults,
        0,
        Shape::AntiAffinity,
    );
    run(
        "default plugins, zone spread (maxSkew 1)",
        &defaults,
        0,
        Shape::Spread,
    );
}
