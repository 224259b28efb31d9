use super::*;
use crate::framework::StatusCode;
use crate::node_info::PodInfo;
use crate::node_info::tests::{NodeBuilder, PodBuilder};
use crate::plugins::test_support::{run_filter, run_score};
use crate::resources::tests::container;

fn node(alloc: &[(&str, &str)], pods: &[Arc<Pod>]) -> NodeInfo {
    let mut info = NodeInfo::new(NodeBuilder::new("n").allocatable(alloc).build());
    for pod in pods {
        info.add_pod(PodInfo::new(pod.clone()));
    }
    info
}

const ALLOC: &[(&str, &str)] = &[
    ("cpu", "10"),
    ("memory", "20"),
    ("pods", "32"),
    ("example.com/foo", "5"),
    ("hugepages-2Mi", "4"),
];

#[test]
fn filter_table() {
    let ext = new(None).expect("builds");
    let used = PodBuilder::new("used")
        .requests(&[("cpu", "5"), ("memory", "19")])
        .build();
    type Case = (&'static str, Arc<Pod>, Vec<Arc<Pod>>, Vec<&'static str>);
    let cases: Vec<Case> = vec![
        (
            "no requests fit",
            PodBuilder::new("p").build(),
            vec![used.clone()],
            vec![],
        ),
        (
            "fits",
            PodBuilder::new("p")
                .requests(&[("cpu", "5"), ("memory", "1")])
                .build(),
            vec![used.clone()],
            vec![],
        ),
        (
            "cpu",
            PodBuilder::new("p")
                .requests(&[("cpu", "6"), ("memory", "1")])
                .build(),
            vec![used.clone()],
            vec!["Insufficient cpu"],
        ),
        (
            "cpu and memory",
            PodBuilder::new("p")
                .requests(&[("cpu", "6"), ("memory", "2")])
                .build(),
            vec![used.clone()],
            vec!["Insufficient cpu", "Insufficient memory"],
        ),
        (
            "init container peak",
            PodBuilder::new("p")
                .requests(&[("cpu", "1")])
                .with_spec(|s| s.init_containers = Some(vec![container("i", &[("cpu", "6")])]))
                .build(),
            vec![used.clone()],
            vec!["Insufficient cpu"],
        ),
        (
            "extended resource",
            PodBuilder::new("p")
                .requests(&[("example.com/foo", "6")])
                .build(),
            vec![],
            vec!["Insufficient example.com/foo"],
        ),
        (
            "unknown extended resource",
            PodBuilder::new("p")
                .requests(&[("example.com/bar", "1")])
                .build(),
            vec![],
            vec!["Insufficient example.com/bar"],
        ),
        (
            "hugepages",
            PodBuilder::new("p")
                .requests(&[("hugepages-2Mi", "5")])
                .build(),
            vec![],
            vec!["Insufficient hugepages-2Mi"],
        ),
        (
            "ephemeral storage",
            PodBuilder::new("p")
                .requests(&[("ephemeral-storage", "1")])
                .build(),
            vec![],
            vec!["Insufficient ephemeral-storage"],
        ),
    ];
    for (name, pod, pods, reasons) in cases {
        let status = run_filter(&ext, &pod, &node(ALLOC, &pods));
        assert_eq!(status.reasons(), reasons.as_slice(), "{name}");
        if !reasons.is_empty() {
            assert_eq!(status.code(), StatusCode::Unschedulable, "{name}");
        }
    }
}

#[test]
fn too_many_pods_even_without_requests() {
    let ext = new(None).expect("builds");
    let existing = PodBuilder::new("e").build();
    let full = node(&[("cpu", "10"), ("pods", "1")], &[existing]);
    let status = run_filter(&ext, &PodBuilder::new("p").build(), &full);
    assert_eq!(status.reasons(), ["Too many pods"]);
    let status = run_filter(
        &ext,
        &PodBuilder::new("p").requests(&[("cpu", "11")]).build(),
        &full,
    );
    assert_eq!(status.reasons(), ["Too many pods", "Insufficient cpu"]);
}

#[test]
fn ignored_extended_resources() {
    let args = serde_json::json!({"ignoredResources": ["example.com/foo"], "ignoredResourceGroups": ["vendor.io"]});
    let ext = new(Some(&args)).expect("builds");
    let pod = PodBuilder::new("p")
        .requests(&[("example.com/foo", "100"), ("vendor.io/x", "1")])
        .build();
    assert!(run_filter(&ext, &pod, &node(ALLOC, &[])).is_success());
}

fn score_nodes(args: serde_json::Value) -> Vec<i64> {
    let ext = new(Some(&args)).expect("builds");
    let nodes = vec![
        NodeBuilder::new("n1")
            .allocatable(&[("cpu", "4"), ("memory", "10000"), ("pods", "10")])
            .build(),
        NodeBuilder::new("n2")
            .allocatable(&[("cpu", "6"), ("memory", "10000"), ("pods", "10")])
            .build(),
    ];
    let pod = PodBuilder::new("p")
        .requests(&[("cpu", "3"), ("memory", "5000")])
        .build();
    run_score(&ext, &pod, nodes, vec![])
        .into_iter()
        .map(|s| s.1)
        .collect()
}

#[test]
fn scoring_strategies() {
    assert_eq!(score_nodes(serde_json::Value::Null), [37, 50]);
    assert_eq!(
        score_nodes(serde_json::json!({"scoringStrategy": {"type": "MostAllocated"}})),
        [62, 50]
    );
    let least_shape = serde_json::json!({"scoringStrategy": {"type": "RequestedToCapacityRatio",
        "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]}}});
    assert_eq!(score_nodes(least_shape), [38, 50]);
    let most_shape = serde_json::json!({"scoringStrategy": {"type": "RequestedToCapacityRatio",
        "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]}}});
    assert_eq!(score_nodes(most_shape), [63, 50]);
    let weighted = serde_json::json!({"scoringStrategy": {"type": "LeastAllocated",
        "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}]}});
    // n1: (25*3 + 50) / 4 = 31; n2: 50
    assert_eq!(score_nodes(weighted), [31, 50]);
}

#[test]
fn best_effort_pods_score_with_defaults_and_unrequested_extended_resources_are_skipped() {
    let args = serde_json::json!({"scoringStrategy": {"resources": [{"name": "cpu", "weight": 1}, {"name": "example.com/gpu", "weight": 1}]}});
    let ext = new(Some(&args)).expect("builds");
    let nodes = vec![
        NodeBuilder::new("n1")
            .allocatable(&[("cpu", "1"), ("example.com/gpu", "4")])
            .build(),
    ];
    // 100m default on 1 cpu: 90; gpu not requested so not counted.
    let pod = PodBuilder::new("p").requests(&[]).build();
    let scores = run_score(&ext, &pod, nodes, vec![]);
    assert_eq!(scores[0].1, 90);
}

#[test]
fn invalid_args() {
    for args in [
        serde_json::json!({"scoringStrategy": {"type": "Bogus"}}),
        serde_json::json!({"scoringStrategy": {"type": "RequestedToCapacityRatio"}}),
        serde_json::json!({"scoringStrategy": {"type": "RequestedToCapacityRatio",
            "requestedToCapacityRatio": {"shape": [{"utilization": 50, "score": 1}, {"utilization": 10, "score": 2}]}}}),
        serde_json::json!({"scoringStrategy": {"type": "RequestedToCapacityRatio",
            "requestedToCapacityRatio": {"shape": [{"utilization": 50, "score": 11}]}}}),
        serde_json::json!({"scoringStrategy": {"resources": [{"name": "cpu", "weight": 101}]}}),
    ] {
        assert!(new(Some(&args)).is_err(), "{args}");
    }
}

#[test]
fn broken_linear_function() {
    let shape = [
        UtilizationShapePoint {
            utilization: 10,
            score: 10,
        },
        UtilizationShapePoint {
            utilization: 50,
            score: 90,
        },
        UtilizationShapePoint {
            utilization: 80,
            score: 10,
        },
    ];
    assert_eq!(broken_linear(&shape, 0), 10);
    assert_eq!(broken_linear(&shape, 30), 50);
    assert_eq!(broken_linear(&shape, 50), 90);
    assert_eq!(broken_linear(&shape, 65), 50);
    assert_eq!(broken_linear(&shape, 100), 10);
}
