use super::*;
use crate::config::SchedulerConfiguration;

fn names<T: ?Sized + crate::framework::Plugin>(list: &[Arc<T>]) -> Vec<&'static str> {
    list.iter().map(|p| p.name()).collect()
}

#[test]
fn default_profile_has_upstream_order_and_weights() {
    let profiles = Profiles::build(&SchedulerConfiguration::default(), &Registry::in_tree())
        .expect("default profile");
    let profile = profiles.get("default-scheduler").expect("present");
    assert_eq!(profile.queue_sort.name(), "PrioritySort");
    assert_eq!(names(&profile.pre_enqueue), ["SchedulingGates"]);
    assert_eq!(
        names(&profile.pre_filter),
        [
            "NodeAffinity",
            "NodePorts",
            "NodeResourcesFit",
            "PodTopologySpread",
            "InterPodAffinity"
        ]
    );
    assert_eq!(names(&profile.post_filter), ["DefaultPreemption"]);
    assert!(profile.bind.is_empty());
    assert_eq!(
        names(&profile.filter),
        [
            "NodeUnschedulable",
            "NodeName",
            "TaintToleration",
            "NodeAffinity",
            "NodePorts",
            "NodeResourcesFit",
            "PodTopologySpread",
            "InterPodAffinity"
        ]
    );
    let weights: Vec<_> = profile
        .score
        .iter()
        .map(|s| (s.plugin.name(), s.weight))
        .collect();
    assert_eq!(
        weights,
        [
            ("TaintToleration", 3),
            ("NodeAffinity", 2),
            ("NodeResourcesFit", 1),
            ("PodTopologySpread", 2),
            ("InterPodAffinity", 2),
            ("NodeResourcesBalancedAllocation", 1),
            ("ImageLocality", 1)
        ]
    );
    assert_eq!(profiles.pod_initial_backoff, Duration::from_secs(1));
    assert_eq!(profiles.pod_max_backoff, Duration::from_secs(10));
}

#[test]
fn second_profile_disables_and_reweights() {
    let config = SchedulerConfiguration::from_yaml(
        r#"
profiles:
- schedulerName: default-scheduler
- schedulerName: custom
  plugins:
    score:
      enabled:
      - name: ImageLocality
        weight: 9
      disabled:
      - name: '*'
    filter:
      disabled:
      - name: NodePorts
"#,
    )
    .expect("valid");
    let profiles = Profiles::build(&config, &Registry::in_tree()).expect("builds");
    let custom = profiles.get("custom").expect("present");
    let weights: Vec<_> = custom
        .score
        .iter()
        .map(|s| (s.plugin.name(), s.weight))
        .collect();
    assert_eq!(weights, [("ImageLocality", 9)]);
    assert!(!names(&custom.filter).contains(&"NodePorts"));
    assert!(names(&custom.pre_filter).contains(&"NodePorts"));
    let mut pod = k8s_openapi::api::core::v1::Pod::default();
    assert!(profiles.for_pod(&pod).is_some());
    pod.spec = Some(k8s_openapi::api::core::v1::PodSpec {
        scheduler_name: Some("other".into()),
        ..Default::default()
    });
    assert!(profiles.for_pod(&pod).is_none());
}

#[test]
fn unknown_plugin_and_wrong_point_fail() {
    let config = SchedulerConfiguration::from_yaml(
        "profiles:\n- plugins:\n    filter:\n      enabled:\n      - name: Nope\n",
    )
    .expect("valid");
    assert!(matches!(
        Profiles::build(&config, &Registry::in_tree()),
        Err(ProfileError::Plugin { .. })
    ));
    let config = SchedulerConfiguration::from_yaml(
        "profiles:\n- plugins:\n    filter:\n      enabled:\n      - name: ImageLocality\n",
    )
    .expect("valid");
    assert!(matches!(
        Profiles::build(&config, &Registry::in_tree()),
        Err(ProfileError::NotExtending { .. })
    ));
    let config = SchedulerConfiguration::from_yaml(
        "profiles:\n- plugins:\n    queueSort:\n      disabled:\n      - name: '*'\n",
    )
    .expect("valid");
    assert!(matches!(
        Profiles::build(&config, &Registry::in_tree()),
        Err(ProfileError::QueueSort { .. })
    ));
}

struct Recorder;

impl crate::framework::Plugin for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }
}

impl ReservePlugin for Recorder {
    fn reserve(&self, state: &mut CycleState, _pod: &Pod, node: &str) -> Status {
        state.write("reserved", node.to_string());
        if node == "bad" {
            Status::unschedulable("cannot reserve")
        } else {
            Status::success()
        }
    }
    fn unreserve(&self, state: &mut CycleState, _pod: &Pod, _node: &str) {
        state.write("reserved", String::new());
    }
}

impl PermitPlugin for Recorder {
    fn permit(&self, _state: &mut CycleState, _pod: &Pod, node: &str) -> (Status, Duration) {
        match node {
            "wait" => (
                Status::new(StatusCode::Wait, Vec::<String>::new()),
                Duration::from_secs(5),
            ),
            "deny" => (Status::unschedulable("denied"), Duration::ZERO),
            _ => (Status::success(), Duration::ZERO),
        }
    }
}

impl BindPlugin for Recorder {
    fn bind(&self, _state: &mut CycleState, _pod: &Pod, node: &str) -> Status {
        if node == "other" {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

fn recorder(_args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    let plugin = Arc::new(Recorder);
    Ok(PluginExtensions {
        reserve: Some(plugin.clone()),
        permit: Some(plugin.clone()),
        bind: Some(plugin),
        ..Default::default()
    })
}

#[test]
fn binding_cycle_extension_points() {
    let mut registry = Registry::in_tree();
    registry.register("Recorder", recorder).expect("registers");
    let config = SchedulerConfiguration::from_yaml(
        "profiles:\n- plugins:\n    multiPoint:\n      enabled:\n      - name: Recorder\n",
    )
    .expect("valid");
    let profiles = Profiles::build(&config, &registry).expect("builds");
    let profile = profiles.get("default-scheduler").expect("present");
    let pod = Pod::default();
    let mut state = CycleState::default();
    assert!(
        profile
            .run_reserve_plugins(&mut state, &pod, "good")
            .is_success()
    );
    assert_eq!(
        state.read::<String>("reserved").map(String::as_str),
        Some("good")
    );
    let status = profile.run_reserve_plugins(&mut state, &pod, "bad");
    assert_eq!(status.plugin(), Some("Recorder"));
    assert_eq!(
        state.read::<String>("reserved").map(String::as_str),
        Some("")
    );
    let (status, timeout) = profile.run_permit_plugins(&mut state, &pod, "wait");
    assert_eq!(
        (status.code(), timeout),
        (StatusCode::Wait, Duration::from_secs(5))
    );
    let (status, _) = profile.run_permit_plugins(&mut state, &pod, "deny");
    assert_eq!(status.message(), "denied");
    assert!(
        profile
            .run_bind_plugins(&mut state, &pod, "good")
            .is_success()
    );
    assert!(
        profile
            .run_bind_plugins(&mut state, &pod, "other")
            .is_skip()
    );
    assert!(
        profile
            .run_pre_bind_plugins(&mut state, &pod, "good")
            .is_success()
    );
}
