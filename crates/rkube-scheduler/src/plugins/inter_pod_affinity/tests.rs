use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Node, Pod, PodAffinity, PodAffinityTerm, PodAntiAffinity, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::*;
use crate::affinity::NAMESPACE_LABELS_KEY;
use crate::framework::{PluginExtensions, StatusCode};
use crate::node_info::Snapshot;
use crate::node_info::tests::{NodeBuilder, PodBuilder};

fn labelled(name: &str, labels: &[(&str, &str)]) -> PodBuilder {
    let mut builder = PodBuilder::new(name);
    builder.0.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    builder
}

fn term(key: &str, value: &str, topology: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(key.to_string(), value.to_string())])),
            ..Default::default()
        }),
        topology_key: topology.to_string(),
        ..Default::default()
    }
}

fn with_affinity(builder: PodBuilder, affinity: Affinity) -> PodBuilder {
    builder.with_spec(|s| s.affinity = Some(affinity))
}

fn required(affinity: Vec<PodAffinityTerm>, anti: Vec<PodAffinityTerm>) -> Affinity {
    Affinity {
        pod_affinity: (!affinity.is_empty()).then(|| PodAffinity {
            required_during_scheduling_ignored_during_execution: Some(affinity),
            ..Default::default()
        }),
        pod_anti_affinity: (!anti.is_empty()).then(|| PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(anti),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn nodes() -> Vec<Arc<Node>> {
    vec![
        NodeBuilder::new("n1")
            .label("kubernetes.io/hostname", "n1")
            .label("zone", "a")
            .build(),
        NodeBuilder::new("n2")
            .label("kubernetes.io/hostname", "n2")
            .label("zone", "a")
            .build(),
        NodeBuilder::new("n3")
            .label("kubernetes.io/hostname", "n3")
            .label("zone", "b")
            .build(),
    ]
}

fn filter_all(
    pod: &Pod,
    pods: Vec<Arc<Pod>>,
    namespaces: Option<NamespaceLabels>,
) -> Vec<(String, StatusCode, String)> {
    let ext = new(None).expect("builds");
    let snapshot = Snapshot::new(nodes(), pods);
    filter_with(&ext, &snapshot, pod, namespaces)
}

/// Runs PreFilter and Filter of `ext` (which may remember earlier cycles) over every node.
fn filter_with(
    ext: &PluginExtensions,
    snapshot: &Snapshot,
    pod: &Pod,
    namespaces: Option<NamespaceLabels>,
) -> Vec<(String, StatusCode, String)> {
    let mut state = CycleState::default();
    if let Some(ns) = namespaces {
        state.write(NAMESPACE_LABELS_KEY, ns);
    }
    let pre = ext.pre_filter.as_ref().expect("prefilter");
    let (_, status) = pre.pre_filter(&mut state, pod, snapshot.nodes());
    let mut names: Vec<_> = snapshot.nodes().iter().collect();
    names.sort_by_key(|n| n.name().to_string());
    names
        .into_iter()
        .map(|node| {
            let status = if status.is_skip() {
                Status::success()
            } else {
                ext.filter
                    .as_ref()
                    .expect("filter")
                    .filter(&state, pod, node)
            };
            (node.name().to_string(), status.code(), status.message())
        })
        .collect()
}

/// Name, incoming pod, running pods, expectation.
type Case<T> = (&'static str, Arc<Pod>, Vec<Arc<Pod>>, T);

const OK: StatusCode = StatusCode::Success;
const NO: StatusCode = StatusCode::Unschedulable;
const NEVER: StatusCode = StatusCode::UnschedulableAndUnresolvable;

#[test]
fn required_affinity_and_anti_affinity_filter() {
    let db_on_n1 = labelled("db", &[("app", "db")]).node("n1").build();
    let cases: Vec<Case<[StatusCode; 3]>> = vec![
        (
            "affinity to a zone with a db",
            with_affinity(
                labelled("web", &[]),
                required(vec![term("app", "db", "zone")], vec![]),
            )
            .build(),
            vec![db_on_n1.clone()],
            [OK, OK, NEVER],
        ),
        (
            "affinity by hostname",
            with_affinity(
                labelled("web", &[]),
                required(vec![term("app", "db", "kubernetes.io/hostname")], vec![]),
            )
            .build(),
            vec![db_on_n1.clone()],
            [OK, NEVER, NEVER],
        ),
        (
            "no matching pod anywhere: nothing fits",
            with_affinity(
                labelled("web", &[]),
                required(vec![term("app", "cache", "zone")], vec![]),
            )
            .build(),
            vec![db_on_n1.clone()],
            [NEVER, NEVER, NEVER],
        ),
        (
            "first pod of a self-affine group fits anywhere",
            with_affinity(
                labelled("web", &[("app", "web")]),
                required(vec![term("app", "web", "zone")], vec![]),
            )
            .build(),
            vec![db_on_n1.clone()],
            [OK, OK, OK],
        ),
        (
            "anti-affinity to a zone with a db",
            with_affinity(
                labelled("web", &[]),
                required(vec![], vec![term("app", "db", "zone")]),
            )
            .build(),
            vec![db_on_n1.clone()],
            [NO, NO, OK],
        ),
        (
            "pod in another namespace is not selected",
            with_affinity(
                labelled("web", &[]),
                required(vec![], vec![term("app", "db", "zone")]),
            )
            .build(),
            vec![{
                let mut p = (*db_on_n1).clone();
                p.metadata.namespace = Some("other".into());
                Arc::new(p)
            }],
            [OK, OK, OK],
        ),
        (
            "existing pod's anti-affinity (symmetry)",
            labelled("web", &[("app", "web")]).build(),
            vec![
                with_affinity(
                    labelled("db", &[("app", "db")]),
                    required(vec![], vec![term("app", "web", "kubernetes.io/hostname")]),
                )
                .node("n2")
                .build(),
            ],
            [OK, NO, OK],
        ),
    ];
    for (name, pod, pods, want) in cases {
        let got = filter_all(&pod, pods, None);
        let codes: Vec<StatusCode> = got.iter().map(|(_, c, _)| *c).collect();
        assert_eq!(codes, want, "{name}: {got:?}");
        for (_, code, message) in &got {
            match code {
                StatusCode::UnschedulableAndUnresolvable => {
                    assert_eq!(message, ERR_REASON_AFFINITY, "{name}")
                }
                StatusCode::Unschedulable => assert!(
                    message == ERR_REASON_ANTI_AFFINITY
                        || message == ERR_REASON_EXISTING_ANTI_AFFINITY,
                    "{name}"
                ),
                _ => {}
            }
        }
    }
}

#[test]
fn existing_anti_affinity_reason() {
    let existing = with_affinity(
        labelled("db", &[("app", "db")]),
        required(vec![], vec![term("app", "web", "zone")]),
    )
    .node("n3")
    .build();
    let got = filter_all(
        &labelled("web", &[("app", "web")]).build(),
        vec![existing],
        None,
    );
    assert_eq!(got[2].2, ERR_REASON_EXISTING_ANTI_AFFINITY);
    assert_eq!(got[0].1, OK);
}

#[test]
fn namespace_selector_uses_namespace_labels() {
    let mut anti = term("app", "db", "zone");
    anti.namespace_selector = Some(LabelSelector {
        match_labels: Some(BTreeMap::from([("team".to_string(), "x".to_string())])),
        ..Default::default()
    });
    let pod = with_affinity(labelled("web", &[]), required(vec![], vec![anti])).build();
    let mut db = (*labelled("db", &[("app", "db")]).node("n1").build()).clone();
    db.metadata.namespace = Some("team-x".into());
    let labels = NamespaceLabels(Arc::new(HashMap::from([(
        "team-x".to_string(),
        BTreeMap::from([("team".to_string(), "x".to_string())]),
    )])));
    let codes = |ns| {
        filter_all(&pod, vec![Arc::new(db.clone())], ns)
            .into_iter()
            .map(|(_, c, _)| c)
            .collect::<Vec<_>>()
    };
    assert_eq!(codes(Some(labels)), [NO, NO, OK]);
    assert_eq!(codes(None), [OK, OK, OK]);
}

fn codes(got: Vec<(String, StatusCode, String)>) -> Vec<StatusCode> {
    got.into_iter().map(|(_, c, _)| c).collect()
}

#[test]
fn remembered_counts_follow_the_pods_of_each_node() {
    let ext = new(None).expect("builds");
    let anti = |name: &str| {
        with_affinity(
            labelled(name, &[("app", "web")]),
            required(vec![], vec![term("app", "web", "kubernetes.io/hostname")]),
        )
    };
    let mut snapshot = Snapshot::new(nodes(), vec![anti("w1").node("n1").build()]);
    let pod = anti("w9").build();
    assert_eq!(
        codes(filter_with(&ext, &snapshot, &pod, None)),
        [NO, OK, OK]
    );
    // The same pod shape again: n1 is remembered, n2 has changed since.
    assert!(snapshot.add_pod(anti("w2").node("n2").build()));
    assert_eq!(
        codes(filter_with(&ext, &snapshot, &pod, None)),
        [NO, NO, OK]
    );
    assert!(snapshot.remove_pod(&anti("w1").node("n1").build()));
    assert_eq!(
        codes(filter_with(&ext, &snapshot, &pod, None)),
        [OK, NO, OK]
    );
    // A pod with other labels is not taken for the remembered shape.
    let other = labelled("db", &[("app", "db")]).build();
    assert_eq!(
        codes(filter_with(&ext, &snapshot, &other, None)),
        [OK, OK, OK]
    );
}

#[test]
fn remembered_counts_do_not_outlive_namespace_labels() {
    let ext = new(None).expect("builds");
    let mut anti = term("app", "web", "kubernetes.io/hostname");
    anti.namespace_selector = Some(LabelSelector {
        match_labels: Some(BTreeMap::from([("team".to_string(), "x".to_string())])),
        ..Default::default()
    });
    let mut running = (*with_affinity(
        labelled("guard", &[("app", "guard")]),
        required(vec![], vec![anti]),
    )
    .node("n1")
    .build())
    .clone();
    running.metadata.namespace = Some("team-x".into());
    let snapshot = Snapshot::new(nodes(), vec![Arc::new(running)]);
    let pod = labelled("web", &[("app", "web")]).build();
    let labelled_default = NamespaceLabels(Arc::new(HashMap::from([(
        "default".to_string(),
        BTreeMap::from([("team".to_string(), "x".to_string())]),
    )])));
    let with_labels = filter_with(&ext, &snapshot, &pod, Some(labelled_default));
    assert_eq!(codes(with_labels), [NO, OK, OK]);
    assert_eq!(
        codes(filter_with(&ext, &snapshot, &pod, None)),
        [OK, OK, OK]
    );
}

#[test]
fn match_label_keys_narrow_the_selector() {
    let mut t = term("app", "web", "kubernetes.io/hostname");
    t.match_label_keys = Some(vec!["rev".into()]);
    let pod = with_affinity(
        labelled("web", &[("app", "web"), ("rev", "2")]),
        required(vec![], vec![t]),
    )
    .build();
    let old = labelled("old", &[("app", "web"), ("rev", "1")])
        .node("n1")
        .build();
    let new_rev = labelled("new", &[("app", "web"), ("rev", "2")])
        .node("n2")
        .build();
    let codes: Vec<_> = filter_all(&pod, vec![old, new_rev], None)
        .into_iter()
        .map(|(_, c, _)| c)
        .collect();
    assert_eq!(codes, [OK, NO, OK]);
}

#[test]
fn add_and_remove_pod_update_counts() {
    let ext = new(None).expect("builds");
    let pod = with_affinity(
        labelled("web", &[]),
        required(vec![], vec![term("app", "db", "kubernetes.io/hostname")]),
    )
    .build();
    let db = labelled("db", &[("app", "db")]).node("n1").build();
    let snapshot = Snapshot::new(nodes(), vec![db.clone()]);
    let n1 = snapshot.get("n1").expect("n1");
    let mut state = CycleState::default();
    let pre = ext.pre_filter.as_ref().expect("prefilter");
    let filter = ext.filter.as_ref().expect("filter");
    assert!(
        pre.pre_filter(&mut state, &pod, snapshot.nodes())
            .1
            .is_success()
    );
    assert_eq!(filter.filter(&state, &pod, n1).code(), NO);
    let info = PodInfo::new(db);
    assert!(pre.remove_pod(&mut state, &pod, &info, n1).is_success());
    assert_eq!(filter.filter(&state, &pod, n1).code(), OK);
    assert!(pre.add_pod(&mut state, &pod, &info, n1).is_success());
    assert_eq!(filter.filter(&state, &pod, n1).code(), NO);
}

#[test]
fn pre_filter_skips_without_constraints() {
    let ext = new(None).expect("builds");
    let snapshot = Snapshot::new(nodes(), vec![]);
    let mut state = CycleState::default();
    let (_, status) = ext.pre_filter.as_ref().expect("prefilter").pre_filter(
        &mut state,
        &labelled("p", &[]).build(),
        snapshot.nodes(),
    );
    assert!(status.is_skip());
}

fn preferred(affinity: Vec<(i32, PodAffinityTerm)>, anti: Vec<(i32, PodAffinityTerm)>) -> Affinity {
    let weighted = |v: Vec<(i32, PodAffinityTerm)>| {
        v.into_iter()
            .map(|(weight, pod_affinity_term)| WeightedPodAffinityTerm {
                weight,
                pod_affinity_term,
            })
            .collect::<Vec<_>>()
    };
    Affinity {
        pod_affinity: Some(PodAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(weighted(affinity)),
            ..Default::default()
        }),
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(weighted(anti)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn scores(pod: &Pod, pods: Vec<Arc<Pod>>) -> Vec<(String, i64)> {
    let ext = new(None).expect("builds");
    let snapshot = Snapshot::new(nodes(), pods.clone());
    let mut state = CycleState::default();
    let _ =
        ext.pre_filter
            .as_ref()
            .expect("prefilter")
            .pre_filter(&mut state, pod, snapshot.nodes());
    let infos: Vec<&NodeInfo> = snapshot.nodes().iter().collect();
    if ext
        .pre_score
        .as_ref()
        .expect("prescore")
        .pre_score(&mut state, pod, &infos)
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
            score: score.score(&state, pod, info).expect("score"),
        })
        .collect();
    assert!(score.normalize_scores(&state, pod, &mut raw).is_success());
    let mut out: Vec<(String, i64)> = raw
        .into_iter()
        .map(|s| (infos[s.node].name().to_string(), s.score))
        .collect();
    out.sort();
    out
}

#[test]
fn preferred_terms_score() {
    let db = labelled("db", &[("app", "db")]).node("n1").build();
    let cache = labelled("cache", &[("app", "cache")]).node("n3").build();
    let cases: Vec<Case<Vec<i64>>> = vec![
        (
            "no preferences, no affine pods: skip",
            labelled("web", &[]).build(),
            vec![db.clone()],
            vec![],
        ),
        (
            "affinity to db's zone",
            with_affinity(
                labelled("web", &[]),
                preferred(vec![(5, term("app", "db", "zone"))], vec![]),
            )
            .build(),
            vec![db.clone(), cache.clone()],
            vec![100, 100, 0],
        ),
        (
            "affinity to db, anti-affinity to cache (heavier)",
            with_affinity(
                labelled("web", &[]),
                preferred(
                    vec![(5, term("app", "db", "zone"))],
                    vec![(10, term("app", "cache", "kubernetes.io/hostname"))],
                ),
            )
            .build(),
            vec![db.clone(), cache.clone()],
            vec![100, 100, 0],
        ),
        (
            "existing pod's required affinity to the incoming pod (hard weight)",
            labelled("web", &[("app", "web")]).build(),
            vec![
                with_affinity(
                    labelled("db", &[("app", "db")]),
                    required(vec![term("app", "web", "kubernetes.io/hostname")], vec![]),
                )
                .node("n2")
                .build(),
            ],
            vec![0, 100, 0],
        ),
    ];
    for (name, pod, pods, want) in cases {
        let got: Vec<i64> = scores(&pod, pods).into_iter().map(|(_, s)| s).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn args_are_validated() {
    assert!(new(Some(&serde_json::json!({"hardPodAffinityWeight": 101}))).is_err());
    assert!(new(Some(&serde_json::json!({"hardPodAffinityWeight": 0}))).is_ok());
}

fn sized_nodes() -> Vec<Arc<Node>> {
    ["n1", "n2", "n3"]
        .iter()
        .map(|n| {
            NodeBuilder::new(n)
                .label("kubernetes.io/hostname", n)
                .allocatable(&[("cpu", "8"), ("memory", "8Gi"), ("pods", "110")])
                .build()
        })
        .collect()
}

#[test]
fn anti_affinity_spreads_replicas_one_per_node_end_to_end() {
    use crate::algorithm::{ScheduleError, SchedulingAlgorithm};
    use crate::config::SchedulerConfiguration;
    use crate::profile::Profiles;
    use crate::registry::Registry;

    let profiles = Profiles::build(&SchedulerConfiguration::default(), &Registry::in_tree())
        .expect("default profile");
    let profile = profiles.get("default-scheduler").expect("profile");
    let replica = |i: usize| {
        with_affinity(
            labelled(&format!("web-{i}"), &[("app", "web")]),
            required(vec![], vec![term("app", "web", "kubernetes.io/hostname")]),
        )
        .build()
    };
    let mut algorithm = SchedulingAlgorithm::default();
    let mut placed: Vec<Arc<Pod>> = Vec::new();
    let mut used = HashSet::new();
    for i in 0..3 {
        let snapshot = Snapshot::new(sized_nodes(), placed.clone());
        let pod = replica(i);
        let result = algorithm
            .schedule_one(profile, &mut CycleState::default(), &pod, &snapshot)
            .expect("fits");
        assert!(used.insert(result.suggested_host.clone()), "{used:?}");
        let mut bound = (*pod).clone();
        if let Some(spec) = bound.spec.as_mut() {
            spec.node_name = Some(result.suggested_host);
        }
        placed.push(Arc::new(bound));
    }
    let snapshot = Snapshot::new(sized_nodes(), placed);
    let result =
        algorithm.schedule_one(profile, &mut CycleState::default(), &replica(3), &snapshot);
    let Err(ScheduleError::Fit(fit)) = result else {
        panic!("expected a fit error, got {result:?}");
    };
    assert_eq!(
        fit.to_string(),
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: \
         0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
}

#[test]
fn nodes_count_pods_with_terms_as_pods_come_and_go() {
    let db = with_affinity(
        labelled("db", &[("app", "db")]),
        required(vec![], vec![term("app", "web", "kubernetes.io/hostname")]),
    )
    .node("n1")
    .build();
    let cache = with_affinity(
        labelled("cache", &[("app", "cache")]),
        preferred(
            vec![(10, term("app", "db", "kubernetes.io/hostname"))],
            vec![],
        ),
    )
    .node("n1")
    .build();
    let plain = labelled("plain", &[]).node("n1").build();
    let mut snapshot = Snapshot::new(nodes(), vec![db.clone(), cache.clone(), plain]);
    let n1 = snapshot.get("n1").expect("n1");
    assert_eq!(
        (n1.pods_with_affinity, n1.pods_with_required_anti_affinity),
        (2, 1)
    );
    assert!(snapshot.remove_pod(&db));
    let n1 = snapshot.get("n1").expect("n1");
    assert_eq!(
        (n1.pods_with_affinity, n1.pods_with_required_anti_affinity),
        (1, 0)
    );
    // A pod without terms of its own is not kept off n1 once the anti-affinity is gone.
    let web = labelled("web", &[("app", "web")]).build();
    let pods: Vec<_> = snapshot
        .nodes()
        .iter()
        .flat_map(|n| n.pods.iter().map(|p| p.pod.clone()))
        .collect();
    let got = filter_all(&web, pods, None);
    assert!(got.iter().all(|(_, code, _)| *code == OK), "{got:?}");
    assert!(snapshot.add_pod(db));
    assert_eq!(
        snapshot
            .get("n1")
            .map(|n| n.pods_with_required_anti_affinity),
        Some(1)
    );
}
