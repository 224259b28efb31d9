use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::policy::v1::{PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::*;
use crate::algorithm::{ScheduleError, SchedulingAlgorithm};
use crate::config::SchedulerConfiguration;
use crate::node_info::Snapshot;
use crate::node_info::tests::{NodeBuilder, PodBuilder};
use crate::profile::Profiles;
use crate::registry::Registry;

fn node(name: &str, cpu: &str) -> Arc<Node> {
    NodeBuilder::new(name)
        .label("kubernetes.io/hostname", name)
        .allocatable(&[("cpu", cpu), ("memory", "8Gi"), ("pods", "110")])
        .build()
}

fn pod(name: &str, cpu: &str, priority: i32) -> PodBuilder {
    let mut b = PodBuilder::new(name)
        .requests(&[("cpu", cpu)])
        .priority(priority);
    b.0.metadata.labels = Some(BTreeMap::from([("app".to_string(), name.to_string())]));
    b
}

struct Outcome {
    message: String,
    nominated: Option<String>,
    victims: Vec<String>,
}

fn preempt(
    nodes: Vec<Arc<Node>>,
    pods: Vec<Arc<Pod>>,
    incoming: Arc<Pod>,
    pdbs: Vec<PodDisruptionBudget>,
) -> Outcome {
    let profiles = Profiles::build(&SchedulerConfiguration::default(), &Registry::in_tree())
        .expect("default profile");
    let profile = profiles.get("default-scheduler").expect("profile");
    let snapshot = Snapshot::new(nodes, pods);
    let mut state = CycleState::default();
    state.write(PDBS_KEY, PodDisruptionBudgets(Arc::new(pdbs)));
    let result =
        SchedulingAlgorithm::default().schedule_one(profile, &mut state, &incoming, &snapshot);
    let Err(ScheduleError::Fit(fit)) = result else {
        panic!("expected a fit error, got {result:?}");
    };
    let victims = state
        .read::<PreemptionOutcome>(PREEMPTION_OUTCOME_KEY)
        .map(|o| {
            o.victims
                .iter()
                .map(|v| v.metadata.name.clone().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    Outcome {
        message: fit.to_string(),
        nominated: fit.nominated_node_name.clone(),
        victims,
    }
}

#[test]
fn picks_node_and_victims() {
    struct Case {
        name: &'static str,
        pods: Vec<Arc<Pod>>,
        want_node: &'static str,
        want_victims: Vec<&'static str>,
    }
    let cases = vec![
        Case {
            name: "only lower-priority pods are victims",
            pods: vec![
                pod("low", "2", 0).node("n1").build(),
                pod("high", "2", 10).node("n2").build(),
            ],
            want_node: "n1",
            want_victims: vec!["low"],
        },
        Case {
            name: "lowest highest-victim priority wins",
            pods: vec![
                pod("a", "2", 3).node("n1").build(),
                pod("b", "2", 1).node("n2").build(),
            ],
            want_node: "n2",
            want_victims: vec!["b"],
        },
        Case {
            name: "smallest priority sum wins",
            pods: vec![
                pod("a1", "1", 2).node("n1").build(),
                pod("a2", "1", 2).node("n1").build(),
                pod("b1", "1", 2).node("n2").build(),
                pod("b2", "1", 1).node("n2").build(),
            ],
            want_node: "n2",
            want_victims: vec!["b1", "b2"],
        },
        Case {
            name: "fewer victims give a smaller priority sum",
            pods: vec![
                pod("a1", "1", 1).node("n1").build(),
                pod("a2", "1", 1).node("n1").build(),
                pod("b1", "2", 1).node("n2").build(),
            ],
            want_node: "n2",
            want_victims: vec!["b1"],
        },
        Case {
            name: "more important pods are reprieved",
            pods: vec![
                pod("keep", "1", 4).node("n1").build(),
                pod("evict", "1", 0).node("n1").build(),
                pod("high", "2", 10).node("n2").build(),
            ],
            want_node: "n1",
            want_victims: vec!["evict"],
        },
    ];
    for case in cases {
        let nodes = vec![
            node(
                "n1",
                if case.name.contains("reprieved") {
                    "3"
                } else {
                    "2"
                },
            ),
            node("n2", "2"),
            node("n3", "1"),
        ];
        let incoming = pod("incoming", "2", 5).build();
        let got = preempt(nodes, case.pods, incoming, vec![]);
        assert_eq!(
            got.nominated.as_deref(),
            Some(case.want_node),
            "{}",
            case.name
        );
        assert_eq!(got.victims, case.want_victims, "{}", case.name);
        assert_eq!(
            got.message, "0/3 nodes are available: 3 Insufficient cpu.",
            "{}",
            case.name
        );
    }
}

#[test]
fn pdb_violations_are_avoided() {
    let pdb = PodDisruptionBudget {
        metadata: ObjectMeta {
            name: Some("protect-a".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_string(), "a".to_string())])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: Some(PodDisruptionBudgetStatus {
            disruptions_allowed: 0,
            ..Default::default()
        }),
    };
    let pods = vec![
        pod("a", "2", 0).node("n1").build(),
        pod("b", "2", 1).node("n2").build(),
    ];
    let nodes = vec![node("n1", "2"), node("n2", "2")];
    let got = preempt(nodes, pods, pod("incoming", "2", 5).build(), vec![pdb]);
    assert_eq!(got.nominated.as_deref(), Some("n2"));
    assert_eq!(got.victims, ["b"]);
}

#[test]
fn failure_messages() {
    let nodes = || vec![node("n1", "2"), node("n2", "2"), node("n3", "1")];
    let higher = || {
        vec![
            pod("h1", "2", 10).node("n1").build(),
            pod("h2", "2", 10).node("n2").build(),
        ]
    };
    let got = preempt(nodes(), higher(), pod("incoming", "2", 5).build(), vec![]);
    assert_eq!(
        got.message,
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: \
         3 No preemption victims found for incoming pod."
    );
    assert_eq!(got.nominated.as_deref(), Some(""));

    let never = pod("incoming", "2", 50)
        .with_spec(|s| s.preemption_policy = Some("Never".into()))
        .build();
    let got = preempt(nodes(), higher(), never, vec![]);
    assert_eq!(
        got.message,
        "0/3 nodes are available: 3 Insufficient cpu. preemption: not eligible due to \
         preemptionPolicy=Never."
    );
    assert_eq!(got.nominated, None);

    // A node selector no node matches: preemption cannot help anywhere.
    let selector = pod("incoming", "1", 50)
        .with_spec(|s| s.node_selector = Some(BTreeMap::from([("x".into(), "y".into())])))
        .build();
    let got = preempt(nodes(), higher(), selector, vec![]);
    assert_eq!(
        got.message,
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
}

#[test]
fn anti_affinity_victims_are_found_through_pre_filter_extensions() {
    use k8s_openapi::api::core::v1::{Affinity, PodAffinityTerm, PodAntiAffinity};
    // The incoming pod refuses to share a node with app=low; n1 has room but runs `low`.
    let incoming = pod("incoming", "1", 5)
        .with_spec(|s| {
            s.affinity = Some(Affinity {
                pod_anti_affinity: Some(PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![
                        PodAffinityTerm {
                            label_selector: Some(LabelSelector {
                                match_labels: Some(BTreeMap::from([(
                                    "app".to_string(),
                                    "low".to_string(),
                                )])),
                                ..Default::default()
                            }),
                            topology_key: "kubernetes.io/hostname".into(),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            })
        })
        .build();
    let pods = vec![
        pod("low", "1", 0).node("n1").build(),
        pod("other", "1", 0).node("n1").build(),
    ];
    let got = preempt(vec![node("n1", "4")], pods, incoming, vec![]);
    assert_eq!(got.nominated.as_deref(), Some("n1"));
    assert_eq!(got.victims, ["low"]);
}

#[test]
fn args_validation() {
    assert!(
        new(Some(
            &serde_json::json!({"minCandidateNodesPercentage": 101})
        ))
        .is_err()
    );
    assert!(new(None).is_ok());
}
