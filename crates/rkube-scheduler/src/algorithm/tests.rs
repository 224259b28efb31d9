use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PodStatus,
};

use super::*;
use crate::config::{PluginRef, PluginSet, Plugins, ProfileConfig};
use crate::framework::{Plugin, PluginExtensions, PostFilterPlugin, PostFilterResult};
use crate::node_info::tests::{NodeBuilder, PodBuilder};
use crate::registry::{Registry, RegistryError};

fn default_profile() -> Profile {
    Profile::build(&ProfileConfig::default(), &Registry::in_tree()).expect("default profile")
}

fn node(name: &str, cpu: &str) -> NodeBuilder {
    NodeBuilder::new(name).allocatable(&[("cpu", cpu), ("memory", "64Gi"), ("pods", "110")])
}

fn schedule(
    profile: &Profile,
    pod: &Pod,
    nodes: Vec<Arc<Node>>,
    pods: Vec<Arc<Pod>>,
) -> Result<ScheduleResult, ScheduleError> {
    let snapshot = Snapshot::new(nodes, pods);
    SchedulingAlgorithm::default().schedule_one(profile, &mut CycleState::default(), pod, &snapshot)
}

fn fit_message(result: Result<ScheduleResult, ScheduleError>) -> String {
    match result {
        Err(ScheduleError::Fit(fit)) => fit.to_string(),
        other => panic!("expected a FitError, got {other:?}"),
    }
}

#[test]
fn fit_error_aggregates_reasons_like_upstream() {
    let nodes = vec![
        node("gpu", "8")
            .taint("dedicated", "gpu", "NoSchedule")
            .build(),
        node("a", "1").build(),
        node("b", "1").build(),
    ];
    let pod = PodBuilder::new("p").requests(&[("cpu", "2")]).build();
    assert_eq!(
        fit_message(schedule(&default_profile(), &pod, nodes, vec![])),
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    );
}

#[test]
fn histogram_counts_every_reason_and_sorts_as_strings() {
    let mut nodes: Vec<Arc<Node>> = (0..10)
        .map(|i| node(&format!("small-{i}"), "1").build())
        .collect();
    nodes.push(
        node("tiny-mem", "8")
            .allocatable(&[("cpu", "1"), ("memory", "1"), ("pods", "110")])
            .build(),
    );
    nodes.push(NodeBuilder::new("cordoned").unschedulable().build());
    nodes.push(NodeBuilder::new("cordoned-2").unschedulable().build());
    let pod = PodBuilder::new("p")
        .requests(&[("cpu", "2"), ("memory", "1Gi")])
        .build();
    assert_eq!(
        fit_message(schedule(&default_profile(), &pod, nodes, vec![])),
        "0/13 nodes are available: 1 Insufficient memory, 11 Insufficient cpu, 2 node(s) were unschedulable. preemption: 0/13 nodes are available: 11 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    );
}

struct NoVictims;

impl Plugin for NoVictims {
    fn name(&self) -> &'static str {
        "TestPreemption"
    }
}

impl PostFilterPlugin for NoVictims {
    fn post_filter(
        &self,
        _state: &mut CycleState,
        _pod: &Pod,
        context: &PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status) {
        let n = context.snapshot.len();
        (
            Some(PostFilterResult {
                nominated_node_name: Some(String::new()),
            }),
            Status::unschedulable(format!(
                "preemption: 0/{n} nodes are available: {n} No preemption victims found for incoming pod."
            )),
        )
    }
}

fn no_victims(_args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    Ok(PluginExtensions {
        post_filter: Some(Arc::new(NoVictims)),
        ..Default::default()
    })
}

#[test]
fn post_filter_message_is_appended() {
    let mut registry = Registry::in_tree();
    registry
        .register("TestPreemption", no_victims)
        .expect("registers");
    let config = ProfileConfig {
        plugins: Some(Plugins {
            post_filter: PluginSet {
                enabled: vec![PluginRef {
                    name: "TestPreemption".into(),
                    weight: None,
                }],
                disabled: vec![],
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let profile = Profile::build(&config, &registry).expect("builds");
    let nodes = vec![
        node("gpu", "8")
            .taint("dedicated", "gpu", "NoSchedule")
            .build(),
        node("a", "1").build(),
        node("b", "1").build(),
    ];
    let pod = PodBuilder::new("p").requests(&[("cpu", "2")]).build();
    let result = schedule(&profile, &pod, nodes, vec![]);
    let Err(ScheduleError::Fit(fit)) = &result else {
        panic!("expected FitError: {result:?}");
    };
    assert_eq!(fit.nominated_node_name.as_deref(), Some(""));
    assert_eq!(
        fit.to_string(),
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. \
         preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
}

fn pod_with_required_terms(terms: Vec<NodeSelectorTerm>) -> Arc<Pod> {
    PodBuilder::new("p")
        .requests(&[("cpu", "2")])
        .with_spec(|s| {
            s.affinity = Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: terms,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            })
        })
        .build()
}

fn name_in(names: &[&str]) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: None,
        match_fields: Some(vec![NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(names.iter().map(|n| n.to_string()).collect()),
        }]),
    }
}

#[test]
fn pre_filter_result_restricts_nodes_and_counts_the_rest() {
    let nodes = vec![
        node("a", "1").build(),
        node("b", "1").build(),
        node("c", "8").build(),
    ];
    let pod = pod_with_required_terms(vec![name_in(&["a"])]);
    assert_eq!(
        fit_message(schedule(&default_profile(), &pod, nodes.clone(), vec![])),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    );
    let pod = pod_with_required_terms(vec![name_in(&["c"])]);
    let result = schedule(&default_profile(), &pod, nodes.clone(), vec![]).expect("fits c");
    assert_eq!(result.suggested_host, "c");
    assert_eq!((result.evaluated_nodes, result.feasible_nodes), (1, 1));
    // Conflicting terms: rejected in PreFilter, the PreFilter message replaces the histogram.
    let mut conflict = name_in(&["a"]);
    if let Some(fields) = conflict.match_fields.as_mut() {
        fields.push(NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(vec!["b".into()]),
        });
    }
    let pod = pod_with_required_terms(vec![conflict]);
    let result = schedule(&default_profile(), &pod, nodes, vec![]);
    let Err(ScheduleError::Fit(fit)) = &result else {
        panic!("expected FitError");
    };
    assert_eq!(
        fit.to_string(),
        "0/3 nodes are available: pod affinity terms conflict. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    assert_eq!(
        fit.diagnosis.unschedulable_plugins,
        BTreeSet::from(["NodeAffinity"])
    );
}

#[test]
fn no_nodes() {
    let pod = PodBuilder::new("p").build();
    assert!(matches!(
        schedule(&default_profile(), &pod, vec![], vec![]),
        Err(ScheduleError::NoNodesAvailable)
    ));
}

#[test]
fn picks_the_best_scored_node() {
    let nodes = vec![
        node("busy", "4").build(),
        node("idle", "4").build(),
        node("full", "1").build(),
    ];
    let pods = vec![
        PodBuilder::new("e")
            .node("busy")
            .requests(&[("cpu", "3")])
            .build(),
    ];
    let pod = PodBuilder::new("p").requests(&[("cpu", "1")]).build();
    let result = schedule(&default_profile(), &pod, nodes, pods).expect("schedules");
    assert_eq!(result.suggested_host, "idle");
    assert_eq!((result.evaluated_nodes, result.feasible_nodes), (3, 3));
}

#[test]
fn preferred_affinity_and_taints_shift_the_choice() {
    let nodes = vec![
        node("soft-tainted", "4")
            .taint("k", "v", "PreferNoSchedule")
            .build(),
        node("plain", "4").build(),
    ];
    let pod = PodBuilder::new("p").requests(&[("cpu", "1")]).build();
    let result = schedule(&default_profile(), &pod, nodes, vec![]).expect("schedules");
    assert_eq!(result.suggested_host, "plain");
}

#[test]
fn ties_are_broken_randomly() {
    let nodes: Vec<Arc<Node>> = (0..4)
        .map(|i| node(&format!("n{i}"), "4").build())
        .collect();
    let snapshot = Snapshot::new(nodes, vec![]);
    let profile = default_profile();
    let pod = PodBuilder::new("p").requests(&[("cpu", "1")]).build();
    let mut algorithm = SchedulingAlgorithm::new(0, 42);
    let chosen: BTreeSet<String> = (0..40)
        .map(|_| {
            algorithm
                .schedule_one(&profile, &mut CycleState::default(), &pod, &snapshot)
                .expect("schedules")
                .suggested_host
        })
        .collect();
    assert!(chosen.len() > 1, "{chosen:?}");
}

#[test]
fn number_of_feasible_nodes_to_find() {
    let cases = [
        (0, 50, 50),
        (0, 100, 100),
        (0, 1000, 420),
        (0, 5000, 500),
        (0, 6000, 300),
        (0, 10000, 500),
        (30, 1000, 300),
        (5, 1000, 100),
        (100, 1000, 1000),
        (50, 99, 99),
    ];
    for (percentage, nodes, expected) in cases {
        assert_eq!(
            num_feasible_nodes_to_find(percentage, nodes),
            expected,
            "{percentage}% of {nodes}"
        );
    }
}

#[test]
fn partial_search_rotates_the_start() {
    let nodes: Vec<Arc<Node>> = (0..1000)
        .map(|i| node(&format!("n{i}"), "4").build())
        .collect();
    let snapshot = Snapshot::new(nodes, vec![]);
    let profile = default_profile();
    let pod = PodBuilder::new("p").requests(&[("cpu", "1")]).build();
    let mut algorithm = SchedulingAlgorithm::default();
    let result = algorithm
        .schedule_one(&profile, &mut CycleState::default(), &pod, &snapshot)
        .expect("schedules");
    assert_eq!((result.evaluated_nodes, result.feasible_nodes), (420, 420));
    assert_eq!(algorithm.next_start_node_index, 420);
    let index = snapshot
        .position(&result.suggested_host)
        .expect("known node");
    assert!(index < 420);
    let result = algorithm
        .schedule_one(&profile, &mut CycleState::default(), &pod, &snapshot)
        .expect("schedules");
    let index = snapshot
        .position(&result.suggested_host)
        .expect("known node");
    assert!((420..840).contains(&index), "{index}");
    assert_eq!(algorithm.next_start_node_index, 840);
}

#[test]
fn nominated_node_is_tried_first() {
    let nodes = vec![node("big", "32").build(), node("nominated", "2").build()];
    let mut pod = PodBuilder::new("p").requests(&[("cpu", "1")]).build();
    Arc::make_mut(&mut pod).status = Some(PodStatus {
        nominated_node_name: Some("nominated".into()),
        ..Default::default()
    });
    let result = schedule(&default_profile(), &pod, nodes, vec![]).expect("schedules");
    assert_eq!(result.suggested_host, "nominated");
}

#[test]
fn profile_without_filters_or_scores_takes_any_node() {
    let config = ProfileConfig {
        plugins: Some(Plugins {
            filter: PluginSet {
                enabled: vec![],
                disabled: vec![PluginRef {
                    name: "*".into(),
                    weight: None,
                }],
            },
            score: PluginSet {
                enabled: vec![],
                disabled: vec![PluginRef {
                    name: "*".into(),
                    weight: None,
                }],
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let profile = Profile::build(&config, &Registry::in_tree()).expect("builds");
    assert!(profile.filter.is_empty() && profile.score.is_empty());
    let nodes = vec![node("a", "1").build(), node("b", "1").build()];
    let pod = PodBuilder::new("p").requests(&[("cpu", "64")]).build();
    let result = schedule(&profile, &pod, nodes, vec![]).expect("no filter rejects");
    assert_eq!(result.feasible_nodes, 2);
}

#[test]
fn room_freed_for_a_nominated_pod_is_kept_for_it() {
    let nodes = vec![node("n1", "2").build()];
    let mut snapshot = Snapshot::new(nodes, vec![]);
    let nominated = PodBuilder::new("important")
        .priority(100)
        .requests(&[("cpu", "2")])
        .build();
    snapshot.set_nomination(&nominated, Some("n1"));
    let run = |pod: &Arc<Pod>, snapshot: &Snapshot| {
        SchedulingAlgorithm::default().schedule_one(
            &default_profile(),
            &mut CycleState::default(),
            pod,
            snapshot,
        )
    };
    // A less important pod does not take the room; an equally important one neither.
    let low = PodBuilder::new("low")
        .priority(10)
        .requests(&[("cpu", "1")])
        .build();
    assert!(
        fit_message(run(&low, &snapshot))
            .starts_with("0/1 nodes are available: 1 Insufficient cpu.")
    );
    let same = PodBuilder::new("same")
        .priority(100)
        .requests(&[("cpu", "1")])
        .build();
    assert!(run(&same, &snapshot).is_err());
    // A more important pod ignores the nomination, and so does the nominated pod itself.
    let high = PodBuilder::new("high")
        .priority(1000)
        .requests(&[("cpu", "1")])
        .build();
    assert_eq!(run(&high, &snapshot).expect("fits").suggested_host, "n1");
    assert_eq!(
        run(&nominated, &snapshot).expect("fits").suggested_host,
        "n1"
    );
    // Once the nomination is gone the room is free again.
    snapshot.forget_nomination("default/important");
    assert_eq!(run(&low, &snapshot).expect("fits").suggested_host, "n1");
}
