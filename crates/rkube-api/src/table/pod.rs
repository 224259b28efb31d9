//! The pod printer: upstream's READY / STATUS / RESTARTS computation.

use serde_json::{Value, json};

use super::duration::{parse_rfc3339, since};
use super::{AGE, Column, NAME, age, array_at, bool_or, int_at, name, opt_str, str_at, text};

/// Pod columns (upstream `podColumnDefinitions`).
pub(super) const POD_COLUMNS: &[Column] = &[
    NAME,
    text("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    text("Status", "The aggregate status of the containers in this pod."),
    text(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    text("IP", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.").wide(),
    text("Node", "NodeName indicates in which node this pod is scheduled.").wide(),
    text("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on the node.").wide(),
    text("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness.").wide(),
];

/// The time a container last terminated (`lastState.terminated.finishedAt`).
fn last_terminated(status: &Value) -> Option<i64> {
    status.pointer("/lastState/terminated")?;
    opt_str(status, "/lastState/terminated/finishedAt").and_then(parse_rfc3339)
}

fn later(current: Option<i64>, candidate: Option<i64>) -> Option<i64> {
    match (current, candidate) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (None, b) => b,
        (a, None) => a,
    }
}

fn condition_true(pod: &Value, kind: &str) -> bool {
    array_at(pod, "/status/conditions")
        .iter()
        .find(|c| str_at(c, "/type") == kind)
        .is_some_and(|c| str_at(c, "/status") == "True")
}

fn non_empty<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    opt_str(value, pointer).filter(|s| !s.is_empty())
}

/// The reason a terminated container without a reason is shown with.
fn exit_text(terminated: &Value, prefix: &str) -> String {
    let signal = int_at(terminated, "/signal");
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", int_at(terminated, "/exitCode"))
    }
}

/// Upstream `printPod` cells (wide).
pub(super) fn pod_cells(pod: &Value, now: i64) -> Vec<Value> {
    let init_specs = array_at(pod, "/spec/initContainers");
    let restartable: Vec<&str> = init_specs
        .iter()
        .filter(|c| str_at(c, "/restartPolicy") == "Always")
        .map(|c| str_at(c, "/name"))
        .collect();
    let total = array_at(pod, "/spec/containers").len() + restartable.len();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut restartable_restarts = 0i64;
    let mut last_restart: Option<i64> = None;
    let mut last_restartable_restart: Option<i64> = None;

    let phase = str_at(pod, "/status/phase");
    let mut reason = non_empty(pod, "/status/reason")
        .unwrap_or(phase)
        .to_string();
    if array_at(pod, "/status/conditions")
        .iter()
        .any(|c| str_at(c, "/type") == "PodScheduled" && str_at(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".to_string();
    }

    let mut initializing = false;
    for (i, status) in array_at(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        let count = int_at(status, "/restartCount");
        restarts += count;
        last_restart = later(last_restart, last_terminated(status));
        let is_restartable = restartable.contains(&str_at(status, "/name"));
        if is_restartable {
            restartable_restarts += count;
            last_restartable_restart = later(last_restartable_restart, last_terminated(status));
        }
        let terminated = status.pointer("/state/terminated");
        if terminated.is_some_and(|t| int_at(t, "/exitCode") == 0) {
            continue;
        }
        if is_restartable && bool_or(status, "/started", false) {
            if bool_or(status, "/ready", false) {
                ready += 1;
            }
            continue;
        }
        if let Some(terminated) = terminated {
            reason = match non_empty(terminated, "/reason") {
                Some(r) => format!("Init:{r}"),
                None => exit_text(terminated, "Init:"),
            };
        } else if let Some(waiting) =
            non_empty(status, "/state/waiting/reason").filter(|r| *r != "PodInitializing")
        {
            reason = format!("Init:{waiting}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for status in array_at(pod, "/status/containerStatuses").iter().rev() {
            restarts += int_at(status, "/restartCount");
            last_restart = later(last_restart, last_terminated(status));
            let terminated = status.pointer("/state/terminated");
            if let Some(waiting) = non_empty(status, "/state/waiting/reason") {
                reason = waiting.to_string();
            } else if let Some(terminated) = terminated {
                reason = match non_empty(terminated, "/reason") {
                    Some(r) => r.to_string(),
                    None => exit_text(terminated, ""),
                };
            } else if bool_or(status, "/ready", false) && status.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .to_string();
        }
    }

    let deleting = pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    if deleting && str_at(pod, "/status/reason") == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_text = match last_restart {
        Some(t) if restarts != 0 => format!(
            "{restarts} ({} ago)",
            since(Some(&super::format_rfc3339(t)), now)
        ),
        _ => restarts.to_string(),
    };

    let or_none = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };
    let pod_ip =
        opt_str(pod, "/status/podIPs/0/ip").unwrap_or_else(|| str_at(pod, "/status/podIP"));
    let gates = array_at(pod, "/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = array_at(pod, "/status/conditions");
        let true_count = gates
            .iter()
            .filter(|gate| {
                let kind = str_at(gate, "/conditionType");
                conditions
                    .iter()
                    .find(|c| str_at(c, "/type") == kind)
                    .is_some_and(|c| str_at(c, "/status") == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        json!(name(pod)),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_text),
        age(pod, now),
        json!(or_none(pod_ip)),
        json!(or_none(str_at(pod, "/spec/nodeName"))),
        json!(or_none(str_at(pod, "/status/nominatedNodeName"))),
        json!(readiness_gates),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_714_557_600; // 2024-05-01T10:00:00Z

    fn status_of(pod: Value) -> (String, String, String) {
        let cells = pod_cells(&pod, NOW);
        let s = |i: usize| cells[i].as_str().unwrap_or_default().to_string();
        (s(1), s(2), s(3))
    }

    fn meta() -> Value {
        json!({"name": "p", "creationTimestamp": "2024-05-01T09:59:00Z"})
    }

    #[test]
    fn pending_and_creating() {
        let pending = json!({"metadata": meta(), "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}});
        assert_eq!(
            status_of(pending),
            ("0/1".into(), "Pending".into(), "0".into())
        );
        let creating = json!({"metadata": meta(), "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending",
            "containerStatuses": [{"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert_eq!(status_of(creating).1, "ContainerCreating");
    }

    #[test]
    fn running_with_restarts() {
        let pod = json!({"metadata": meta(), "spec": {"containers": [{"name": "a"}, {"name": "b"}]}, "status": {"phase": "Running",
        "podIPs": [{"ip": "10.1.0.4"}],
        "containerStatuses": [
            {"name": "a", "ready": true, "restartCount": 3, "state": {"running": {}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T09:55:00Z"}}},
            {"name": "b", "ready": false, "restartCount": 0, "state": {"running": {}}}
        ]}});
        let cells = pod_cells(&pod, NOW);
        assert_eq!(cells[1], "1/2");
        assert_eq!(cells[2], "Running");
        assert_eq!(cells[3], "3 (5m ago)");
        assert_eq!(cells[4], "60s");
        assert_eq!(cells[5], "10.1.0.4");
        assert_eq!(cells[6], "<none>");
        assert_eq!(cells[8], "<none>");
    }

    #[test]
    fn crash_loop_completed_and_errors() {
        let crash = json!({"metadata": meta(), "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Running",
            "containerStatuses": [{"name": "a", "ready": false, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(
            status_of(crash),
            ("0/1".into(), "CrashLoopBackOff".into(), "5".into())
        );
        let done = json!({"metadata": meta(), "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Succeeded",
            "containerStatuses": [{"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
        assert_eq!(status_of(done).1, "Completed");
        let exit = json!({"metadata": meta(), "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Failed",
            "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 2}}}]}});
        assert_eq!(status_of(exit).1, "ExitCode:2");
    }

    #[test]
    fn init_containers() {
        let pod = json!({"metadata": meta(), "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
            {"name": "i2", "state": {"running": {}}}
        ]}});
        assert_eq!(status_of(pod).1, "Init:1/2");
        let failing = json!({"metadata": meta(), "spec": {"initContainers": [{"name": "i1"}], "containers": [{"name": "a"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
        ]}});
        assert_eq!(
            status_of(failing),
            ("0/1".into(), "Init:CrashLoopBackOff".into(), "2".into())
        );
        let sidecar = json!({"metadata": meta(), "spec": {"initContainers": [{"name": "s", "restartPolicy": "Always"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
              "initContainerStatuses": [{"name": "s", "started": true, "ready": true, "state": {"running": {}}}],
              "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]}});
        assert_eq!(status_of(sidecar).0, "2/2");
    }

    #[test]
    fn terminating_and_gates() {
        let pod = json!({"metadata": {"name": "p", "deletionTimestamp": "2024-05-01T10:00:00Z"},
            "spec": {"containers": [{"name": "a"}], "readinessGates": [{"conditionType": "x"}]},
            "status": {"phase": "Running", "conditions": [{"type": "x", "status": "True"}]}});
        let cells = pod_cells(&pod, NOW);
        assert_eq!(cells[2], "Terminating");
        assert_eq!(cells[4], "<unknown>");
        assert_eq!(cells[8], "1/1");
        let gated = json!({"metadata": meta(), "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}});
        assert_eq!(status_of(gated).1, "SchedulingGated");
    }
}
