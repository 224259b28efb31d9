use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::*;
use crate::framework::StatusCode;
use crate::node_info::Snapshot;
use crate::node_info::tests::{NodeBuilder, PodBuilder};

/// Name, incoming pod, running pods, expected codes on n1..n4.
type Case = (&'static str, Arc<Pod>, Vec<Arc<Pod>>, [StatusCode; 4]);

const OK: StatusCode = StatusCode::Success;
const NO: StatusCode = StatusCode::Unschedulable;
const NEVER: StatusCode = StatusCode::UnschedulableAndUnresolvable;

fn app(name: &str, value: &str) -> PodBuilder {
    let mut builder = PodBuilder::new(name);
    builder.0.metadata.labels = Some(BTreeMap::from([("app".to_string(), value.to_string())]));
    builder
}

fn selector(value: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([("app".to_string(), value.to_string())])),
        ..Default::default()
    }
}

fn constraint(key: &str, skew: i32, when: &str) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: skew,
        topology_key: key.to_string(),
        when_unsatisfiable: when.to_string(),
        label_selector: Some(selector("web")),
        ..Default::default()
    }
}

fn spread(builder: PodBuilder, constraints: Vec<TopologySpreadConstraint>) -> Arc<Pod> {
    builder
        .with_spec(|s| s.topology_spread_constraints = Some(constraints))
        .build()
}

/// n1, n2 in zone a; n3 in zone b; n4 has no zone label.
fn nodes() -> Vec<Arc<Node>> {
    let node = |name: &str, zone: Option<&str>| {
        let b = NodeBuilder::new(name).label(LABEL_HOSTNAME, name);
        match zone {
            Some(z) => b.label("zone", z).build(),
            None => b.build(),
        }
    };
    vec![
        node("n1", Some("a")),
        node("n2", Some("a")),
        node("n3", Some("b")),
        node("n4", None),
    ]
}

fn filter_codes(
    pod: &Pod,
    nodes: Vec<Arc<Node>>,
    pods: Vec<Arc<Pod>>,
) -> Vec<(StatusCode, String)> {
    let ext = new(None).expect("builds");
    let snapshot = Snapshot::new(nodes, pods);
    let mut state = CycleState::default();
    let (_, status) =
        ext.pre_filter
            .as_ref()
            .expect("prefilter")
            .pre_filter(&mut state, pod, snapshot.nodes());
    let mut infos: Vec<_> = snapshot.nodes().iter().collect();
    infos.sort_by_key(|n| n.name().to_string());
    infos
        .into_iter()
        .map(|node| {
            let s = if status.is_skip() {
                Status::success()
            } else {
                ext.filter
                    .as_ref()
                    .expect("filter")
                    .filter(&state, pod, node)
            };
            (s.code(), s.message())
        })
        .collect()
}

#[test]
fn do_not_schedule_filter() {
    let web = |name: &str, node: &str| app(name, "web").node(node).build();
    let zone1 = || constraint("zone", 1, "DoNotSchedule");
    let cases: Vec<Case> = vec![
        (
            "empty cluster: every labelled node fits",
            spread(app("p", "web"), vec![zone1()]),
            vec![],
            [OK, OK, OK, NEVER],
        ),
        (
            "zone a has one more: only zone b",
            spread(app("p", "web"), vec![zone1()]),
            vec![web("w1", "n1")],
            [NO, NO, OK, NEVER],
        ),
        (
            "the pod itself does not match the selector",
            spread(app("p", "other"), vec![zone1()]),
            vec![web("w1", "n1")],
            [OK, OK, OK, NEVER],
        ),
        (
            "pods in another namespace do not count",
            spread(app("p", "web"), vec![zone1()]),
            vec![{
                let mut p = (*web("w1", "n1")).clone();
                p.metadata.namespace = Some("other".into());
                Arc::new(p)
            }],
            [OK, OK, OK, NEVER],
        ),
        (
            "hostname spread",
            spread(
                app("p", "web"),
                vec![constraint(LABEL_HOSTNAME, 1, "DoNotSchedule")],
            ),
            vec![
                web("w1", "n1"),
                web("w2", "n2"),
                web("w3", "n3"),
                web("w4", "n4"),
            ],
            [OK, OK, OK, OK],
        ),
        (
            "hostname spread, one node behind",
            spread(
                app("p", "web"),
                vec![constraint(LABEL_HOSTNAME, 1, "DoNotSchedule")],
            ),
            vec![web("w1", "n1"), web("w2", "n2"), web("w3", "n3")]
                .into_iter()
                .chain([web("w4", "n1"), web("w5", "n2"), web("w6", "n3")])
                .collect(),
            [NO, NO, NO, OK],
        ),
        (
            "minDomains above the domain count: the minimum is 0",
            spread(
                app("p", "web"),
                vec![TopologySpreadConstraint {
                    min_domains: Some(3),
                    ..zone1()
                }],
            ),
            vec![web("w1", "n3")],
            [OK, OK, NO, NEVER],
        ),
        (
            "ScheduleAnyway constraints do not filter",
            spread(
                app("p", "web"),
                vec![constraint("zone", 1, "ScheduleAnyway")],
            ),
            vec![web("w1", "n1")],
            [OK, OK, OK, OK],
        ),
    ];
    for (name, pod, pods, want) in cases {
        let got = filter_codes(&pod, nodes(), pods);
        let codes: Vec<StatusCode> = got.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, want, "{name}: {got:?}");
        for (code, message) in got {
            match code {
                NO => assert_eq!(message, ERR_REASON_CONSTRAINTS_NOT_MATCH),
                NEVER => assert_eq!(message, ERR_REASON_NODE_LABEL_NOT_MATCH),
                _ => {}
            }
        }
    }
}

#[test]
fn node_inclusion_policies() {
    // n3 (zone b) is excluded by the pod's nodeSelector (Honor): zone b does not count, so
    // zone a's two pods are the minimum.
    let pods = vec![
        app("w1", "web").node("n1").build(),
        app("w2", "web").node("n2").build(),
    ];
    let mut nodes = nodes();
    nodes[2] = NodeBuilder::new("n3")
        .label(LABEL_HOSTNAME, "n3")
        .label("zone", "b")
        .taint("dedicated", "x", "NoSchedule")
        .build();
    let with_selector = |b: PodBuilder| {
        b.with_spec(|s| {
            s.node_selector = Some(BTreeMap::from([(LABEL_HOSTNAME.to_string(), "n1".into())]))
        })
    };
    let zone1 = constraint("zone", 1, "DoNotSchedule");
    let honor = spread(with_selector(app("p", "web")), vec![zone1.clone()]);
    assert_eq!(filter_codes(&honor, nodes.clone(), pods.clone())[0].0, OK);
    let ignore = spread(
        with_selector(app("p", "web")),
        vec![TopologySpreadConstraint {
            node_affinity_policy: Some("Ignore".into()),
            ..zone1.clone()
        }],
    );
    assert_eq!(filter_codes(&ignore, nodes.clone(), pods.clone())[0].0, NO);
    // Taints: ignored by default (zone b counts, 0 pods) ; honoured, n3 drops out.
    let taints_ignored = spread(app("p", "web"), vec![zone1.clone()]);
    assert_eq!(
        filter_codes(&taints_ignored, nodes.clone(), pods.clone())[0].0,
        NO
    );
    let taints_honored = spread(
        app("p", "web"),
        vec![TopologySpreadConstraint {
            node_taints_policy: Some("Honor".into()),
            ..zone1
        }],
    );
    assert_eq!(filter_codes(&taints_honored, nodes, pods)[0].0, OK);
}

#[test]
fn match_label_keys_narrow_counting() {
    let mut pod_builder = app("p", "web");
    pod_builder
        .0
        .metadata
        .labels
        .get_or_insert_default()
        .insert("rev".into(), "2".into());
    let pod = spread(
        pod_builder,
        vec![TopologySpreadConstraint {
            match_label_keys: Some(vec!["rev".into()]),
            ..constraint("zone", 1, "DoNotSchedule")
        }],
    );
    // Old revision pods in zone a do not count.
    let pods = vec![app("old", "web").node("n1").build()];
    let codes: Vec<_> = filter_codes(&pod, nodes(), pods)
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(codes, [OK, OK, OK, NEVER]);
}

#[test]
fn add_and_remove_pod() {
    let ext = new(None).expect("builds");
    let pod = spread(
        app("p", "web"),
        vec![constraint("zone", 1, "DoNotSchedule")],
    );
    let existing = app("w1", "web").node("n1").build();
    let snapshot = Snapshot::new(nodes(), vec![existing.clone()]);
    let n1 = snapshot.get("n1").expect("n1");
    let pre = ext.pre_filter.as_ref().expect("prefilter");
    let filter = ext.filter.as_ref().expect("filter");
    let mut state = CycleState::default();
    assert!(
        pre.pre_filter(&mut state, &pod, snapshot.nodes())
            .1
            .is_success()
    );
    assert_eq!(filter.filter(&state, &pod, n1).code(), NO);
    let info = PodInfo::new(existing);
    assert!(pre.remove_pod(&mut state, &pod, &info, n1).is_success());
    assert_eq!(filter.filter(&state, &pod, n1).code(), OK);
    assert!(pre.add_pod(&mut state, &pod, &info, n1).is_success());
    assert_eq!(filter.filter(&state, &pod, n1).code(), NO);
    // A copy of n1 changed after PreFilter (as preemption makes) is looked up by its labels,
    // not by what PreFilter remembered for its position.
    let mut copy = n1.clone();
    assert!(copy.remove_pod(&info.pod));
    assert_ne!(copy.generation(), n1.generation());
    assert_eq!(copy.position(), n1.position());
    assert_eq!(filter.filter(&state, &pod, &copy).code(), NO);
    let mut unlabelled = NodeInfo::new(NodeBuilder::new("bare").build());
    unlabelled.add_pod(PodInfo::new(app("x", "db").node("bare").build()));
    assert_eq!(filter.filter(&state, &pod, &unlabelled).code(), NEVER);
}

fn scores(pod: &Pod, pods: Vec<Arc<Pod>>, state: &mut CycleState) -> Vec<(String, i64)> {
    let ext = new(None).expect("builds");
    let snapshot = Snapshot::new(nodes(), pods);
    let _ = ext
        .pre_filter
        .as_ref()
        .expect("prefilter")
        .pre_filter(state, pod, snapshot.nodes());
    let infos: Vec<&NodeInfo> = snapshot.nodes().iter().collect();
    if ext
        .pre_score
        .as_ref()
        .expect("prescore")
        .pre_score(state, pod, &infos)
        .is_skip()
    {
        return Vec::new();
    }
    let score = ext.score.as_ref().expect("score");
    let mut raw: Vec<NodeScore> = infos
        .iter()
        .enumerate()
        .map(|(node, info)| NodeScore {
            node,
            score: score.score(state, pod, info).expect("score"),
        })
        .collect();
    assert!(score.normalize_scores(state, pod, &mut raw).is_success());
    let mut out: Vec<_> = raw
        .into_iter()
        .map(|s| (infos[s.node].name().to_string(), s.score))
        .collect();
    out.sort();
    out
}

#[test]
fn schedule_anyway_scores() {
    let web = |name: &str, node: &str| app(name, "web").node(node).build();
    let values = |v: Vec<(String, i64)>| v.into_iter().map(|(_, s)| s).collect::<Vec<_>>();
    // zone a has 2 pods, zone b none; n4 lacks the zone label and is ignored.
    let pod = spread(
        app("p", "web"),
        vec![constraint("zone", 1, "ScheduleAnyway")],
    );
    let got = values(scores(
        &pod,
        vec![web("w1", "n1"), web("w2", "n2")],
        &mut CycleState::default(),
    ));
    // ln(4) * 2 = 2.77 -> 3 for zone a, 0 for zone b: (3 + 0 - s) * 100 / 3.
    assert_eq!(got, vec![0, 0, 100, 0]);
    // No constraints and no default selector: skipped.
    assert!(scores(&app("p", "web").build(), vec![], &mut CycleState::default()).is_empty());
}

#[test]
fn system_defaults_apply_with_a_default_selector() {
    let mut state = CycleState::default();
    state.write(DEFAULT_SELECTOR_KEY, DefaultSpreadSelector(selector("web")));
    let pods = vec![
        app("w1", "web").node("n1").build(),
        app("w2", "web").node("n1").build(),
    ];
    let got = scores(&app("p", "web").build(), pods, &mut state);
    // Only the hostname default applies (the nodes have no topology.kubernetes.io/zone):
    // n1 = 2 * ln(6) + 2 -> 6, the others 2; normalized (6 + 2 - s) * 100 / 6.
    let values: Vec<i64> = got.iter().map(|(_, s)| *s).collect();
    assert_eq!(values, [33, 100, 100, 100]);
}

#[test]
fn args_validation() {
    assert!(new(Some(&serde_json::json!({"defaultingType": "Other"}))).is_err());
    assert!(
        new(Some(&serde_json::json!({
            "defaultingType": "System",
            "defaultConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]
        })))
        .is_err()
    );
    assert!(
        new(Some(&serde_json::json!({
            "defaultingType": "List",
            "defaultConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]
        })))
        .is_ok()
    );
}

#[test]
fn zone_spread_end_to_end() {
    use crate::algorithm::SchedulingAlgorithm;
    use crate::config::SchedulerConfiguration;
    use crate::profile::Profiles;
    use crate::registry::Registry;

    let profiles = Profiles::build(&SchedulerConfiguration::default(), &Registry::in_tree())
        .expect("default profile");
    let profile = profiles.get("default-scheduler").expect("profile");
    let zone_nodes: Vec<Arc<Node>> = (0..6)
        .map(|i| {
            NodeBuilder::new(&format!("n{i}"))
                .label(LABEL_HOSTNAME, &format!("n{i}"))
                .label(LABEL_ZONE, ["zone-a", "zone-b", "zone-c"][i % 3])
                .allocatable(&[("cpu", "8"), ("memory", "8Gi"), ("pods", "110")])
                .build()
        })
        .collect();
    let mut algorithm = SchedulingAlgorithm::default();
    let mut placed: Vec<Arc<Pod>> = Vec::new();
    for i in 0..6 {
        let snapshot = Snapshot::new(zone_nodes.clone(), placed.clone());
        let pod = spread(
            app(&format!("w{i}"), "web"),
            vec![constraint(LABEL_ZONE, 1, "DoNotSchedule")],
        );
        let result = algorithm
            .schedule_one(profile, &mut CycleState::default(), &pod, &snapshot)
            .expect("fits");
        let mut bound = (*pod).clone();
        if let Some(spec) = bound.spec.as_mut() {
            spec.node_name = Some(result.suggested_host);
        }
        placed.push(Arc::new(bound));
    }
    let mut per_zone: HashMap<String, usize> = HashMap::new();
    let snapshot = Snapshot::new(zone_nodes, placed);
    for node in snapshot.nodes() {
        let zone = node_label(node, LABEL_ZONE).cloned().unwrap_or_default();
        *per_zone.entry(zone).or_default() += node.pods.len();
    }
    assert_eq!(
        per_zone.values().copied().collect::<HashSet<_>>(),
        HashSet::from([2])
    );
}
