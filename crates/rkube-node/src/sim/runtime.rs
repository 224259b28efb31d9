//! The node/pod state machine behind [`NodeRuntime`], and its simulated implementation
//! [`SimRuntime`]: nodes that are always healthy and pods whose containers "run" without
//! existing. The agent loop (watchers, leases, deletion) is shared; a real runtime implements
//! the same trait with a CRI runtime behind it.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
    HostIP, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus, NodeSystemInfo, Pod,
    PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Annotation naming how long a Never/OnFailure pod runs, in seconds (default 1).
pub const RUN_SECONDS_ANNOTATION: &str = "sim.rkube.io/run-seconds";
/// Annotation naming the exit code of a Never/OnFailure pod's containers (default 0).
pub const EXIT_CODE_ANNOTATION: &str = "sim.rkube.io/exit-code";
/// The kubelet version simulated nodes report.
pub const KUBELET_VERSION: &str = "v1.33.0";

/// What the agent knows about a pod's node when it asks the runtime about the pod.
#[derive(Debug, Clone, Default)]
pub struct PodContext {
    /// The IP the pod gets when it starts (from the node's pod CIDR), if any.
    pub pod_ip: Option<String>,
    /// The node's InternalIP.
    pub host_ip: Option<String>,
}

/// The runtime's answer for one pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodSync {
    /// The status to write, when it differs from the current one.
    pub status: Option<PodStatus>,
    /// When to look at the pod again (a container due to finish).
    pub recheck_after: Option<Duration>,
}

/// A node runtime: reports a node's status and drives its pods' containers.
pub trait NodeRuntime: Send + Sync + 'static {
    /// The status the node should report at `now`, built on its current status (fields the
    /// runtime does not own, and transition times of unchanged conditions, are kept).
    fn node_status(&self, node: &Node, node_ip: &str, now: Timestamp) -> NodeStatus;
    /// Advances `pod` (bound to this node, not being deleted) at `now`.
    fn sync_pod(&self, pod: &Pod, context: &PodContext, now: Timestamp) -> PodSync;
}

/// The simulated runtime: no containers, every node healthy, every container starts at once.
#[derive(Debug, Clone, Default)]
pub struct SimRuntime;

/// Default capacity of a simulated node that declares none.
pub fn default_capacity() -> BTreeMap<String, Quantity> {
    [
        ("cpu", "32"),
        ("memory", "256Gi"),
        ("pods", "110"),
        ("ephemeral-storage", "100Gi"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
    .collect()
}

fn time(t: Timestamp) -> Time {
    Time(t)
}

fn node_condition(type_: &str, status: &str, reason: &str, message: &str) -> NodeCondition {
    NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        ..Default::default()
    }
}

/// Keeps the transition time of a condition whose status did not change, and the heartbeat
/// when nothing about it changed.
fn carry_node_condition(
    mut wanted: NodeCondition,
    current: Option<&NodeCondition>,
    now: Timestamp,
) -> NodeCondition {
    match current {
        Some(c) if c.status == wanted.status => {
            wanted.last_transition_time = c.last_transition_time.clone().or(Some(time(now)));
            let same = c.reason == wanted.reason && c.message == wanted.message;
            wanted.last_heartbeat_time = if same && c.last_heartbeat_time.is_some() {
                c.last_heartbeat_time.clone()
            } else {
                Some(time(now))
            };
        }
        _ => {
            wanted.last_transition_time = Some(time(now));
            wanted.last_heartbeat_time = Some(time(now));
        }
    }
    wanted
}

fn pod_condition(
    type_: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<String>,
) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.map(Into::into),
        message,
        ..Default::default()
    }
}

fn carry_pod_conditions(
    wanted: Vec<PodCondition>,
    current: &[PodCondition],
    now: Timestamp,
) -> Vec<PodCondition> {
    wanted
        .into_iter()
        .map(|mut c| {
            let old = current.iter().find(|o| o.type_ == c.type_);
            c.last_transition_time = match old {
                Some(o) if o.status == c.status && o.last_transition_time.is_some() => {
                    o.last_transition_time.clone()
                }
                _ => Some(time(now)),
            };
            c.last_probe_time = None;
            c
        })
        .collect()
}

fn annotation<T: std::str::FromStr>(pod: &Pod, key: &str) -> Option<T> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)?
        .trim()
        .parse()
        .ok()
}

/// How long a Never/OnFailure pod runs.
pub fn run_duration(pod: &Pod) -> Duration {
    annotation::<f64>(pod, RUN_SECONDS_ANNOTATION)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(1))
}

/// The exit code a Never/OnFailure pod's containers finish with.
pub fn exit_code(pod: &Pod) -> i32 {
    annotation(pod, EXIT_CODE_ANNOTATION).unwrap_or(0)
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

fn container_id(pod: &Pod, name: &str) -> String {
    let mut h = DefaultHasher::new();
    pod.metadata.uid.hash(&mut h);
    pod.metadata.name.hash(&mut h);
    name.hash(&mut h);
    format!("sim://{:016x}", h.finish())
}

fn base_status(pod: &Pod, c: &Container) -> ContainerStatus {
    let image = c.image.clone().unwrap_or_default();
    ContainerStatus {
        name: c.name.clone(),
        image_id: format!("sim://{image}"),
        image,
        container_id: Some(container_id(pod, &c.name)),
        restart_count: 0,
        ..Default::default()
    }
}

fn running(pod: &Pod, c: &Container, started: &Time) -> ContainerStatus {
    ContainerStatus {
        ready: true,
        started: Some(true),
        state: Some(ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(started.clone()),
            }),
            ..Default::default()
        }),
        ..base_status(pod, c)
    }
}

fn terminated(
    pod: &Pod,
    c: &Container,
    code: i32,
    started: &Time,
    finished: &Time,
    ready: bool,
) -> ContainerStatus {
    ContainerStatus {
        ready,
        started: Some(false),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                container_id: Some(container_id(pod, &c.name)),
                exit_code: code,
                reason: Some(if code == 0 { "Completed" } else { "Error" }.into()),
                started_at: Some(started.clone()),
                finished_at: Some(finished.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..base_status(pod, c)
    }
}

impl SimRuntime {
    /// The status of a pod whose containers all run since `started`.
    fn running_status(
        &self,
        pod: &Pod,
        context: &PodContext,
        started: &Time,
        now: Timestamp,
    ) -> PodStatus {
        let spec = pod.spec.clone().unwrap_or_default();
        let current = pod.status.clone().unwrap_or_default();
        let init = spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| {
                if c.restart_policy.as_deref() == Some("Always") {
                    running(pod, c, started)
                } else {
                    terminated(pod, c, 0, started, started, true)
                }
            })
            .collect::<Vec<_>>();
        let containers = spec
            .containers
            .iter()
            .map(|c| running(pod, c, started))
            .collect();
        let conditions = [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ]
        .into_iter()
        .map(|t| pod_condition(t, "True", None, None))
        .collect();
        let pod_ip = current.pod_ip.clone().or_else(|| context.pod_ip.clone());
        let conditions = carry_pod_conditions(
            conditions,
            current.conditions.as_deref().unwrap_or_default(),
            now,
        );
        PodStatus {
            phase: Some("Running".into()),
            conditions: Some(conditions),
            host_ip: context.host_ip.clone(),
            host_ips: context.host_ip.clone().map(|ip| vec![HostIP { ip }]),
            pod_ips: pod_ip.clone().map(|ip| vec![PodIP { ip }]),
            pod_ip,
            start_time: Some(started.clone()),
            init_container_statuses: (!init.is_empty()).then_some(init),
            container_statuses: Some(containers),
            ..current
        }
    }

    /// The status of a pod whose containers exited with `code`.
    fn finished_status(&self, pod: &Pod, started: &Time, code: i32, now: Timestamp) -> PodStatus {
        let spec = pod.spec.clone().unwrap_or_default();
        let current = pod.status.clone().unwrap_or_default();
        let finished = time(now);
        let init = spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| {
                if c.restart_policy.as_deref() == Some("Always") {
                    terminated(pod, c, 0, started, &finished, false)
                } else {
                    terminated(pod, c, 0, started, started, true)
                }
            })
            .collect::<Vec<_>>();
        let containers = spec
            .containers
            .iter()
            .map(|c| terminated(pod, c, code, started, &finished, false))
            .collect::<Vec<_>>();
        let (phase, reason, message) = if code == 0 {
            ("Succeeded", "PodCompleted", None)
        } else {
            let names = containers
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            (
                "Failed",
                "ContainersNotReady",
                Some(format!("containers with unready status: [{names}]")),
            )
        };
        let conditions = vec![
            pod_condition("PodReadyToStartContainers", "False", None, None),
            pod_condition("Initialized", "True", None, None),
            pod_condition("Ready", "False", Some(reason), message.clone()),
            pod_condition("ContainersReady", "False", Some(reason), message),
            pod_condition("PodScheduled", "True", None, None),
        ];
        PodStatus {
            phase: Some(phase.into()),
            conditions: Some(carry_pod_conditions(
                conditions,
                current.conditions.as_deref().unwrap_or_default(),
                now,
            )),
            init_container_statuses: (!init.is_empty()).then_some(init),
            container_statuses: Some(containers),
            ..current
        }
    }
}

impl NodeRuntime for SimRuntime {
    fn node_status(&self, node: &Node, node_ip: &str, now: Timestamp) -> NodeStatus {
        let current = node.status.clone().unwrap_or_default();
        let old = current.conditions.clone().unwrap_or_default();
        let find = |t: &str| old.iter().find(|c| c.type_ == t);
        let wanted = [
            node_condition(
                "NetworkUnavailable",
                "False",
                "RouteCreated",
                "RouteController created a route",
            ),
            node_condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            node_condition(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            node_condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            node_condition(
                "Ready",
                "True",
                "KubeletReady",
                "kubelet is posting ready status",
            ),
        ];
        let mut conditions: Vec<NodeCondition> = wanted
            .into_iter()
            .map(|c| {
                let prev = find(&c.type_);
                carry_node_condition(c, prev, now)
            })
            .collect();
        // Conditions other components own stay as they are.
        conditions.extend(
            old.iter()
                .filter(|c| {
                    ![
                        "NetworkUnavailable",
                        "MemoryPressure",
                        "DiskPressure",
                        "PIDPressure",
                        "Ready",
                    ]
                    .contains(&c.type_.as_str())
                })
                .cloned(),
        );
        let name = node.metadata.name.clone().unwrap_or_default();
        let capacity = current
            .capacity
            .clone()
            .filter(|c| !c.is_empty())
            .or_else(|| current.allocatable.clone().filter(|a| !a.is_empty()))
            .unwrap_or_else(default_capacity);
        let allocatable = current
            .allocatable
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| capacity.clone());
        let addresses = current
            .addresses
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| {
                vec![
                    NodeAddress {
                        type_: "InternalIP".into(),
                        address: node_ip.to_string(),
                    },
                    NodeAddress {
                        type_: "Hostname".into(),
                        address: name.clone(),
                    },
                ]
            });
        let node_info = current
            .node_info
            .clone()
            .filter(|i| !i.kubelet_version.is_empty())
            .unwrap_or_else(|| {
                let mut h = DefaultHasher::new();
                name.hash(&mut h);
                let id = format!("{:016x}{:016x}", h.finish(), h.finish().rotate_left(17));
                NodeSystemInfo {
                    architecture: "amd64".into(),
                    operating_system: "linux".into(),
                    boot_id: id.clone(),
                    machine_id: id.clone(),
                    system_uuid: id,
                    kernel_version: "6.8.0-sim".into(),
                    os_image: "rkube simulated node".into(),
                    container_runtime_version: "sim://0.1.0".into(),
                    kubelet_version: KUBELET_VERSION.into(),
                    kube_proxy_version: String::new(),
                    swap: None,
                }
            });
        NodeStatus {
            conditions: Some(conditions),
            capacity: Some(capacity),
            allocatable: Some(allocatable),
            addresses: Some(addresses),
            node_info: Some(node_info),
            daemon_endpoints: current
                .daemon_endpoints
                .clone()
                .or(Some(NodeDaemonEndpoints {
                    kubelet_endpoint: Some(k8s_openapi::api::core::v1::DaemonEndpoint {
                        port: 10250,
                    }),
                })),
            ..current
        }
    }

    fn sync_pod(&self, pod: &Pod, context: &PodContext, now: Timestamp) -> PodSync {
        let status = pod.status.clone().unwrap_or_default();
        let phase = status.phase.as_deref().unwrap_or("Pending");
        if phase == "Succeeded" || phase == "Failed" {
            return PodSync::default();
        }
        let finishes = restart_policy(pod) != "Always";
        let run_for = run_duration(pod);
        if let (Some(started), "Running") = (&status.start_time, phase) {
            if !finishes {
                return PodSync::default();
            }
            let elapsed = now.duration_since(started.0).unsigned_abs();
            if elapsed >= run_for {
                return PodSync {
                    status: Some(self.finished_status(pod, started, exit_code(pod), now)),
                    recheck_after: None,
                };
            }
            return PodSync {
                status: None,
                recheck_after: Some(run_for - elapsed),
            };
        }
        PodSync {
            status: Some(self.running_status(pod, context, &time(now), now)),
            recheck_after: finishes.then_some(run_for),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(restart: &str, annotations: &[(&str, &str)]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("default".into()),
                uid: Some("u1".into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            spec: Some(PodSpec {
                restart_policy: Some(restart.into()),
                node_name: Some("sim-0".into()),
                init_containers: Some(vec![Container {
                    name: "init".into(),
                    image: Some("busybox".into()),
                    ..Default::default()
                }]),
                containers: vec![Container {
                    name: "app".into(),
                    image: Some("nginx".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            }),
        }
    }

    fn context() -> PodContext {
        PodContext {
            pod_ip: Some("10.42.0.2".into()),
            host_ip: Some("10.42.0.1".into()),
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn state(s: &ContainerStatus) -> &ContainerState {
        s.state.as_ref().unwrap_or_else(|| panic!("no state"))
    }

    #[test]
    fn pending_pod_starts_running_and_ready() {
        let p = pod("Always", &[]);
        let sync = SimRuntime.sync_pod(&p, &context(), at(0));
        assert_eq!(sync.recheck_after, None);
        let s = sync.status.unwrap_or_else(|| panic!("no status"));
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(s.pod_ip.as_deref(), Some("10.42.0.2"));
        assert_eq!(s.host_ip.as_deref(), Some("10.42.0.1"));
        assert_eq!(s.start_time, Some(Time(at(0))));
        let c = &s.container_statuses.unwrap_or_default()[0];
        assert!(c.ready && c.started == Some(true) && c.restart_count == 0);
        assert!(state(c).running.is_some());
        assert!(
            c.container_id
                .as_deref()
                .is_some_and(|id| id.starts_with("sim://"))
        );
        let init = &s.init_container_statuses.unwrap_or_default()[0];
        let t = state(init).terminated.clone().unwrap_or_default();
        assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
        let conditions = s.conditions.unwrap_or_default();
        assert_eq!(conditions.len(), 5);
        assert!(conditions.iter().all(|c| c.status == "True"));
    }

    #[test]
    fn running_always_pod_is_left_alone() {
        let mut p = pod("Always", &[]);
        p.status = SimRuntime.sync_pod(&p, &context(), at(0)).status;
        let again = SimRuntime.sync_pod(&p, &context(), at(100));
        assert_eq!(again, PodSync::default());
    }

    #[test]
    fn never_pod_succeeds_after_run_seconds() {
        let mut p = pod("Never", &[(RUN_SECONDS_ANNOTATION, "5")]);
        let first = SimRuntime.sync_pod(&p, &context(), at(0));
        assert_eq!(first.recheck_after, Some(Duration::from_secs(5)));
        p.status = first.status;
        let early = SimRuntime.sync_pod(&p, &context(), at(2));
        assert_eq!(early.status, None);
        assert_eq!(early.recheck_after, Some(Duration::from_secs(3)));
        let done = SimRuntime
            .sync_pod(&p, &context(), at(5))
            .status
            .unwrap_or_default();
        assert_eq!(done.phase.as_deref(), Some("Succeeded"));
        assert_eq!(done.pod_ip.as_deref(), Some("10.42.0.2"));
        let c = &done.container_statuses.unwrap_or_default()[0];
        assert!(!c.ready);
        let t = state(c).terminated.clone().unwrap_or_default();
        assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
        assert_eq!(t.started_at, Some(Time(at(0))));
        assert_eq!(t.finished_at, Some(Time(at(5))));
        let ready = done
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "Ready");
        assert_eq!(
            ready.map(|c| (c.status, c.reason)),
            Some(("False".into(), Some("PodCompleted".into())))
        );
        p.status = Some(PodStatus {
            phase: Some("Succeeded".into()),
            ..Default::default()
        });
        assert_eq!(
            SimRuntime.sync_pod(&p, &context(), at(9)),
            PodSync::default()
        );
    }

    #[test]
    fn failing_exit_code_fails_the_pod() {
        let mut p = pod("OnFailure", &[(EXIT_CODE_ANNOTATION, "3")]);
        p.status = SimRuntime.sync_pod(&p, &context(), at(0)).status;
        let done = SimRuntime
            .sync_pod(&p, &context(), at(1))
            .status
            .unwrap_or_default();
        assert_eq!(done.phase.as_deref(), Some("Failed"));
        let c = &done.container_statuses.unwrap_or_default()[0];
        let t = state(c).terminated.clone().unwrap_or_default();
        assert_eq!((t.exit_code, t.reason.as_deref()), (3, Some("Error")));
    }

    #[test]
    fn annotations_parse_with_defaults() {
        assert_eq!(run_duration(&pod("Never", &[])), Duration::from_secs(1));
        assert_eq!(
            run_duration(&pod("Never", &[(RUN_SECONDS_ANNOTATION, "0.5")])),
            Duration::from_millis(500)
        );
        assert_eq!(
            run_duration(&pod("Never", &[(RUN_SECONDS_ANNOTATION, "x")])),
            Duration::from_secs(1)
        );
        assert_eq!(exit_code(&pod("Never", &[(EXIT_CODE_ANNOTATION, "7")])), 7);
    }

    #[test]
    fn node_becomes_ready_with_defaults_and_is_stable() {
        let node = Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let status = SimRuntime.node_status(&node, "10.42.0.1", at(0));
        let types: Vec<_> = status
            .conditions
            .iter()
            .flatten()
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect();
        assert_eq!(
            types,
            [
                ("NetworkUnavailable", "False"),
                ("MemoryPressure", "False"),
                ("DiskPressure", "False"),
                ("PIDPressure", "False"),
                ("Ready", "True")
            ]
        );
        assert_eq!(status.capacity, Some(default_capacity()));
        assert_eq!(status.allocatable, Some(default_capacity()));
        assert_eq!(
            status
                .node_info
                .as_ref()
                .map(|i| i.kubelet_version.as_str()),
            Some(KUBELET_VERSION)
        );
        let node = Node {
            status: Some(status.clone()),
            ..node
        };
        assert_eq!(SimRuntime.node_status(&node, "10.42.0.1", at(60)), status);
    }

    #[test]
    fn node_keeps_declared_capacity() {
        let mut capacity = BTreeMap::new();
        capacity.insert("cpu".to_string(), Quantity("4".into()));
        let node = Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                ..Default::default()
            },
            status: Some(NodeStatus {
                capacity: Some(capacity.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let status = SimRuntime.node_status(&node, "10.0.0.1", at(0));
        assert_eq!(status.capacity, Some(capacity.clone()));
        assert_eq!(status.allocatable, Some(capacity));
    }
}
