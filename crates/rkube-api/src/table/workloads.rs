//! Printers of workload kinds: apps, batch, autoscaling, policy and replication controllers.

use serde_json::{Value, json};

use super::duration::{human_duration, parse_rfc3339, since};
use super::{
    AGE, CONTAINERS, Column, IMAGES, NAME, Printer, age, array_at, bool_or, containers_and_images,
    int_at, int_or, int_or_string, integer, name, opt_str, str_at, text,
};
use crate::selector::{LabelSelector, format_label_selector, format_labels};

/// The printer of a workload kind, if upstream has one.
pub(super) fn printer(group: &str, kind: &str) -> Option<Printer> {
    let printer: Printer = match (group, kind) {
        ("apps", "Deployment") => (DEPLOYMENT_COLUMNS, deployment_cells),
        ("apps", "ReplicaSet") => (REPLICASET_COLUMNS, replicaset_cells),
        ("", "ReplicationController") => (RC_COLUMNS, rc_cells),
        ("apps", "StatefulSet") => (STATEFULSET_COLUMNS, statefulset_cells),
        ("apps", "DaemonSet") => (DAEMONSET_COLUMNS, daemonset_cells),
        ("apps", "ControllerRevision") => (REVISION_COLUMNS, revision_cells),
        ("batch", "Job") => (JOB_COLUMNS, job_cells),
        ("batch", "CronJob") => (CRONJOB_COLUMNS, cronjob_cells),
        ("autoscaling", "HorizontalPodAutoscaler") => (HPA_COLUMNS, hpa_cells),
        ("policy", "PodDisruptionBudget") => (PDB_COLUMNS, pdb_cells),
        _ => return None,
    };
    Some(printer)
}

const SELECTOR: Column = text(
    "Selector",
    "A label query over pods that should match the replica count.",
)
.wide();

const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    text("Ready", "Number of the pod with ready state"),
    text("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
    text("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
    AGE,
    CONTAINERS,
    IMAGES,
    text("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.").wide(),
];

/// The selector column of deployments: the canonical string, `<invalid>` if it does not parse.
fn selector_string(obj: &Value) -> String {
    match LabelSelector::from_json(obj.pointer("/spec/selector").unwrap_or(&Value::Null)) {
        Ok(selector) => selector.to_string(),
        Err(_) => "<invalid>".to_string(),
    }
}

fn deployment_cells(obj: &Value, now: i64) -> Vec<Value> {
    let (containers, images) = containers_and_images(obj, "/spec/template/spec/containers");
    vec![
        json!(name(obj)),
        json!(format!(
            "{}/{}",
            int_at(obj, "/status/readyReplicas"),
            int_or(obj, "/spec/replicas", 1)
        )),
        json!(int_at(obj, "/status/updatedReplicas")),
        json!(int_at(obj, "/status/availableReplicas")),
        age(obj, now),
        containers,
        images,
        json!(selector_string(obj)),
    ]
}

const REPLICASET_COLUMNS: &[Column] = &[
    NAME,
    integer("Desired", "Replicas is the number of desired pods."),
    integer(
        "Current",
        "Replicas is the most recently observed number of replicas.",
    ),
    integer(
        "Ready",
        "The number of ready replicas for this replica set.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn replicaset_cells(obj: &Value, now: i64) -> Vec<Value> {
    let (containers, images) = containers_and_images(obj, "/spec/template/spec/containers");
    vec![
        json!(name(obj)),
        json!(int_or(obj, "/spec/replicas", 1)),
        json!(int_at(obj, "/status/replicas")),
        json!(int_at(obj, "/status/readyReplicas")),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(
            obj.pointer("/spec/selector").unwrap_or(&Value::Null)
        )),
    ]
}

const RC_COLUMNS: &[Column] = &[
    NAME,
    integer("Desired", "Replicas is the number of desired replicas."),
    integer(
        "Current",
        "Replicas is the most recently observed number of replicas.",
    ),
    integer(
        "Ready",
        "The number of ready replicas for this replication controller.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn rc_cells(obj: &Value, now: i64) -> Vec<Value> {
    let (containers, images) = containers_and_images(obj, "/spec/template/spec/containers");
    vec![
        json!(name(obj)),
        json!(int_or(obj, "/spec/replicas", 1)),
        json!(int_at(obj, "/status/replicas")),
        json!(int_at(obj, "/status/readyReplicas")),
        age(obj, now),
        containers,
        images,
        json!(format_labels(obj.pointer("/spec/selector"))),
    ]
}

const STATEFULSET_COLUMNS: &[Column] = &[
    NAME,
    text("Ready", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

fn statefulset_cells(obj: &Value, now: i64) -> Vec<Value> {
    let (containers, images) = containers_and_images(obj, "/spec/template/spec/containers");
    vec![
        json!(name(obj)),
        json!(format!(
            "{}/{}",
            int_at(obj, "/status/readyReplicas"),
            int_or(obj, "/spec/replicas", 1)
        )),
        age(obj, now),
        containers,
        images,
    ]
}

const DAEMONSET_COLUMNS: &[Column] = &[
    NAME,
    integer(
        "Desired",
        "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).",
    ),
    integer(
        "Current",
        "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
    ),
    integer(
        "Ready",
        "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
    ),
    integer(
        "Up-to-date",
        "The total number of nodes that are running updated daemon pod",
    ),
    integer(
        "Available",
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
    ),
    text(
        "Node Selector",
        "NodeSelector is a selector which must be true for the pod to fit on a node.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn daemonset_cells(obj: &Value, now: i64) -> Vec<Value> {
    let (containers, images) = containers_and_images(obj, "/spec/template/spec/containers");
    vec![
        json!(name(obj)),
        json!(int_at(obj, "/status/desiredNumberScheduled")),
        json!(int_at(obj, "/status/currentNumberScheduled")),
        json!(int_at(obj, "/status/numberReady")),
        json!(int_at(obj, "/status/updatedNumberScheduled")),
        json!(int_at(obj, "/status/numberAvailable")),
        json!(format_labels(
            obj.pointer("/spec/template/spec/nodeSelector")
        )),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(
            obj.pointer("/spec/selector").unwrap_or(&Value::Null)
        )),
    ]
}

const REVISION_COLUMNS: &[Column] = &[
    NAME,
    text("Controller", "Controller of the object"),
    text(
        "Revision",
        "Revision indicates the revision of the state represented by Data.",
    ),
    AGE,
];

fn revision_cells(obj: &Value, now: i64) -> Vec<Value> {
    let controller = array_at(obj, "/metadata/ownerReferences")
        .iter()
        .find(|r| bool_or(r, "/controller", false))
        .map(|r| {
            let group = str_at(r, "/apiVersion")
                .rsplit_once('/')
                .map(|(g, _)| g)
                .unwrap_or("");
            let kind = str_at(r, "/kind");
            let group_kind = if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            };
            if group_kind.is_empty() {
                str_at(r, "/name").to_string()
            } else {
                format!("{}/{}", group_kind.to_lowercase(), str_at(r, "/name"))
            }
        })
        .unwrap_or_else(|| "<none>".to_string());
    vec![
        json!(name(obj)),
        json!(controller),
        json!(int_at(obj, "/revision")),
        age(obj, now),
    ]
}

const JOB_COLUMNS: &[Column] = &[
    NAME,
    text("Status", "Status of the job."),
    text(
        "Completions",
        "The number of pods which reached phase Succeeded.",
    ),
    text("Duration", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    text(
        "Selector",
        "A label query over pods that should match the pod count.",
    )
    .wide(),
];

fn job_condition(job: &Value, kind: &str) -> bool {
    array_at(job, "/status/conditions")
        .iter()
        .find(|c| str_at(c, "/type") == kind)
        .is_some_and(|c| str_at(c, "/status") == "True")
}

fn job_cells(job: &Value, now: i64) -> Vec<Value> {
    let succeeded = int_at(job, "/status/succeeded");
    let completions = match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = int_at(job, "/spec/parallelism");
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let start = opt_str(job, "/status/startTime").and_then(parse_rfc3339);
    let end = opt_str(job, "/status/completionTime").and_then(parse_rfc3339);
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(s), None) => human_duration(now - s),
        (Some(s), Some(e)) => human_duration(e - s),
    };
    let status = if job_condition(job, "Complete") {
        "Complete"
    } else if job_condition(job, "Failed") {
        "Failed"
    } else if job
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        "Terminating"
    } else if job_condition(job, "Suspended") {
        "Suspended"
    } else if job_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (containers, images) = containers_and_images(job, "/spec/template/spec/containers");
    vec![
        json!(name(job)),
        json!(status),
        json!(completions),
        json!(duration),
        age(job, now),
        containers,
        images,
        json!(format_label_selector(
            job.pointer("/spec/selector").unwrap_or(&Value::Null)
        )),
    ]
}

const CRONJOB_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Schedule",
        "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    ),
    text(
        "Timezone",
        "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
    ),
    Column::new(
        "Suspend",
        "boolean",
        "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.",
    ),
    integer("Active", "A list of pointers to currently running jobs."),
    text(
        "Last Schedule",
        "Information when was the last time the job was successfully scheduled.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    text(
        "Selector",
        "A label query over pods that should match the pod count.",
    )
    .wide(),
];

fn cronjob_cells(obj: &Value, now: i64) -> Vec<Value> {
    let last_schedule = match opt_str(obj, "/status/lastScheduleTime") {
        Some(t) => since(Some(t), now),
        None => "<none>".to_string(),
    };
    let suspend = match obj.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) | None => "False",
    };
    let (containers, images) =
        containers_and_images(obj, "/spec/jobTemplate/spec/template/spec/containers");
    vec![
        json!(name(obj)),
        json!(str_at(obj, "/spec/schedule")),
        json!(opt_str(obj, "/spec/timeZone").unwrap_or("<none>")),
        json!(suspend),
        json!(array_at(obj, "/status/active").len()),
        json!(last_schedule),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(
            obj.pointer("/spec/jobTemplate/spec/selector")
                .unwrap_or(&Value::Null)
        )),
    ]
}

const HPA_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Reference",
        "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
    ),
    text(
        "Targets",
        "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).",
    ),
    text(
        "MinPods",
        "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
    ),
    text(
        "MaxPods",
        "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
    ),
    text(
        "Replicas",
        "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
    ),
    AGE,
];

fn quantity_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// One metric of upstream `formatHPAMetrics` (v2 shape).
fn format_metric(spec: &Value, status: Option<&Value>) -> String {
    let unknown = || "<unknown>".to_string();
    let current = |source: &str, field: &str| -> Option<String> {
        let value = status?.pointer(&format!("/{source}/current/{field}"))?;
        Some(quantity_text(Some(value)))
    };
    match str_at(spec, "/type") {
        kind @ ("External" | "Object") => {
            let source = if kind == "External" {
                "external"
            } else {
                "object"
            };
            if let Some(target) = spec.pointer(&format!("/{source}/target/averageValue")) {
                let now = current(source, "averageValue").unwrap_or_else(unknown);
                format!("{now}/{} (avg)", quantity_text(Some(target)))
            } else {
                let has_status = status.and_then(|s| s.get(source)).is_some();
                let now = if has_status {
                    current(source, "value").unwrap_or_else(|| "0".to_string())
                } else {
                    unknown()
                };
                format!(
                    "{now}/{}",
                    quantity_text(spec.pointer(&format!("/{source}/target/value")))
                )
            }
        }
        "Pods" => {
            let has_status = status.and_then(|s| s.get("pods")).is_some();
            let now = if has_status {
                current("pods", "averageValue").unwrap_or_else(|| "0".to_string())
            } else {
                unknown()
            };
            format!(
                "{now}/{}",
                quantity_text(spec.pointer("/pods/target/averageValue"))
            )
        }
        kind @ ("Resource" | "ContainerResource") => {
            let source = if kind == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let resource = str_at(spec, &format!("/{source}/name"));
            if let Some(target) = spec.pointer(&format!("/{source}/target/averageValue")) {
                let has_status = status.and_then(|s| s.get(source)).is_some();
                let now = if has_status {
                    current(source, "averageValue").unwrap_or_else(|| "0".to_string())
                } else {
                    unknown()
                };
                format!("{resource}: {now}/{}", quantity_text(Some(target)))
            } else {
                let now = status
                    .and_then(|s| s.pointer(&format!("/{source}/current/averageUtilization")))
                    .and_then(Value::as_i64)
                    .map(|u| format!("{u}%"))
                    .unwrap_or_else(unknown);
                let target = spec
                    .pointer(&format!("/{source}/target/averageUtilization"))
                    .and_then(Value::as_i64)
                    .map(|u| format!("{u}%"))
                    .unwrap_or_else(|| "<auto>".to_string());
                format!("{resource}: {now}/{target}")
            }
        }
        _ => "<unknown type>".to_string(),
    }
}

/// Upstream `formatHPAMetrics`, reading v2 objects and v1 `targetCPUUtilizationPercentage`.
fn format_hpa_metrics(hpa: &Value) -> String {
    let specs = array_at(hpa, "/spec/metrics");
    if specs.is_empty() {
        return match hpa
            .pointer("/spec/targetCPUUtilizationPercentage")
            .and_then(Value::as_i64)
        {
            Some(target) => {
                let now = hpa
                    .pointer("/status/currentCPUUtilizationPercentage")
                    .and_then(Value::as_i64)
                    .map(|u| format!("{u}%"))
                    .unwrap_or_else(|| "<unknown>".to_string());
                format!("cpu: {now}/{target}%")
            }
            None => "<none>".to_string(),
        };
    }
    const MAX: usize = 2;
    let statuses = array_at(hpa, "/status/currentMetrics");
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| format_metric(spec, statuses.get(i)))
        .collect();
    if list.len() > MAX {
        format!("{} + {} more...", list[..MAX].join(", "), list.len() - MAX)
    } else {
        list.join(", ")
    }
}

fn hpa_cells(hpa: &Value, now: i64) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        str_at(hpa, "/spec/scaleTargetRef/kind"),
        str_at(hpa, "/spec/scaleTargetRef/name")
    );
    vec![
        json!(name(hpa)),
        json!(reference),
        json!(format_hpa_metrics(hpa)),
        json!(int_or(hpa, "/spec/minReplicas", 1).to_string()),
        json!(int_at(hpa, "/spec/maxReplicas")),
        json!(int_at(hpa, "/status/currentReplicas")),
        age(hpa, now),
    ]
}

const PDB_COLUMNS: &[Column] = &[
    NAME,
    text(
        "Min Available",
        "The minimum number of pods that must be available.",
    ),
    text(
        "Max Unavailable",
        "The maximum number of pods that may be unavailable.",
    ),
    integer(
        "Allowed Disruptions",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
];

fn pdb_cells(pdb: &Value, now: i64) -> Vec<Value> {
    vec![
        json!(name(pdb)),
        json!(
            int_or_string(pdb.pointer("/spec/minAvailable")).unwrap_or_else(|| "N/A".to_string())
        ),
        json!(
            int_or_string(pdb.pointer("/spec/maxUnavailable")).unwrap_or_else(|| "N/A".to_string())
        ),
        json!(int_at(pdb, "/status/disruptionsAllowed")),
        age(pdb, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_714_557_600; // 2024-05-01T10:00:00Z
    const CREATED: &str = "2024-05-01T09:58:00Z";

    fn template() -> Value {
        json!({"spec": {"containers": [{"name": "web", "image": "nginx:1"}, {"name": "side", "image": "busybox"}]}})
    }

    #[test]
    fn deployments() {
        let d = json!({"metadata": {"name": "d", "creationTimestamp": CREATED},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        assert_eq!(
            deployment_cells(&d, NOW),
            vec![
                json!("d"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("2m"),
                json!("web,side"),
                json!("nginx:1,busybox"),
                json!("app=web")
            ]
        );
    }

    #[test]
    fn replica_sets_and_stateful_sets() {
        let rs = json!({"metadata": {"name": "rs"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}}, "template": template()},
            "status": {"replicas": 2, "readyReplicas": 1}});
        assert_eq!(
            replicaset_cells(&rs, NOW)[..4].to_vec(),
            vec![json!("rs"), json!(2), json!(2), json!(1)]
        );
        assert_eq!(replicaset_cells(&rs, NOW)[7], "a=b");
        let sts = json!({"metadata": {"name": "s"}, "spec": {"replicas": 3, "template": template()}, "status": {"readyReplicas": 3}});
        assert_eq!(statefulset_cells(&sts, NOW)[1], "3/3");
        let rc = json!({"metadata": {"name": "rc"}, "spec": {"selector": {"app": "x"}, "template": template()}});
        assert_eq!(rc_cells(&rc, NOW)[1], json!(1));
        assert_eq!(rc_cells(&rc, NOW)[7], "app=x");
        let ds = json!({"metadata": {"name": "ds"}, "spec": {"template": template()}, "status": {"desiredNumberScheduled": 1}});
        assert_eq!(daemonset_cells(&ds, NOW)[6], "<none>");
        assert_eq!(daemonset_cells(&ds, NOW)[1], json!(1));
    }

    #[test]
    fn jobs() {
        let job = json!({"metadata": {"name": "j", "creationTimestamp": CREATED}, "spec": {"completions": 1, "template": template()},
            "status": {"succeeded": 1, "startTime": "2024-05-01T09:58:00Z", "completionTime": "2024-05-01T09:58:07Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(
            job_cells(&job, NOW)[..5].to_vec(),
            vec![
                json!("j"),
                json!("Complete"),
                json!("1/1"),
                json!("7s"),
                json!("2m")
            ]
        );
        let running = json!({"metadata": {"name": "j"}, "spec": {"parallelism": 3}, "status": {"startTime": "2024-05-01T09:59:00Z"}});
        assert_eq!(
            job_cells(&running, NOW)[1..4].to_vec(),
            vec![json!("Running"), json!("0/1 of 3"), json!("60s")]
        );
        let fresh = json!({"metadata": {"name": "j"}, "spec": {"completions": 2}});
        assert_eq!(job_cells(&fresh, NOW)[3], "");
    }

    #[test]
    fn cron_jobs() {
        let cj = json!({"metadata": {"name": "c", "creationTimestamp": CREATED}, "spec": {"schedule": "*/1 * * * *", "suspend": false,
            "jobTemplate": {"spec": {"template": template()}}}, "status": {"active": [{"name": "x"}], "lastScheduleTime": "2024-05-01T09:59:30Z"}});
        assert_eq!(
            cronjob_cells(&cj, NOW)[..7].to_vec(),
            vec![
                json!("c"),
                json!("*/1 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("30s"),
                json!("2m")
            ]
        );
    }

    #[test]
    fn autoscalers() {
        let hpa = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 30}}}]}});
        assert_eq!(
            hpa_cells(&hpa, NOW)[1..6].to_vec(),
            vec![
                json!("Deployment/web"),
                json!("cpu: 30%/80%"),
                json!("1"),
                json!(5),
                json!(2)
            ]
        );
        let v1 = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}});
        assert_eq!(hpa_cells(&v1, NOW)[2], "cpu: <unknown>/50%");
        let none = json!({"spec": {}});
        assert_eq!(hpa_cells(&none, NOW)[2], "<none>");
    }

    #[test]
    fn disruption_budgets_and_revisions() {
        let pdb = json!({"metadata": {"name": "p"}, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            pdb_cells(&pdb, NOW)[1..4].to_vec(),
            vec![json!("50%"), json!("N/A"), json!(1)]
        );
        let rev = json!({"metadata": {"name": "r", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "controller": true}]}, "revision": 2});
        assert_eq!(
            revision_cells(&rev, NOW)[1..3].to_vec(),
            vec![json!("daemonset.apps/ds"), json!(2)]
        );
    }
}
