//! The node simulator against a real `rkube server` with the real kubectl: simulated nodes
//! become Ready with distinct pod CIDRs and a Lease each, pods bound to them run, finish and
//! go away as on a real node.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use rkube_testkit::Server;

const WAIT: Duration = Duration::from_secs(30);

fn server(extra: &[&str]) -> Server {
    Server::start_with(Path::new(env!("CARGO_BIN_EXE_rkube")), extra)
}

/// Polls `probe` every 200 ms until it holds or `WAIT` passes.
fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if probe() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

fn get(s: &Server, args: &[&str]) -> String {
    let out = s.kubectl(args);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn ready_status(s: &Server, node: &str) -> String {
    get(
        s,
        &[
            "get",
            "node",
            node,
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
        ],
    )
}

fn pod_cidr(s: &Server, node: &str) -> String {
    get(s, &["get", "node", node, "-o", "jsonpath={.spec.podCIDR}"])
}

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let Some((base, prefix)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(ip), Ok(base), Ok(prefix)) = (
        ip.parse::<Ipv4Addr>(),
        base.parse::<Ipv4Addr>(),
        prefix.parse::<u32>(),
    ) else {
        return false;
    };
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(base) & mask
}

fn pod_on(name: &str, node: &str, restart: &str, annotations: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"default","annotations":{{{annotations}}}}},
"spec":{{"nodeName":"{node}","restartPolicy":"{restart}","containers":[{{"name":"app","image":"nginx:1.27"}}]}}}}"#
    )
}

fn phase(s: &Server, pod: &str) -> String {
    get(s, &["get", "pod", pod, "-o", "jsonpath={.status.phase}"])
}

/// The STATUS column of `kubectl get pod`.
fn status_column(s: &Server, pod: &str) -> String {
    get(s, &["get", "pod", pod, "--no-headers"])
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn simulated_nodes_are_ready_with_cidrs_and_leases() {
    let s = server(&["--simulated-nodes", "3"]);
    eventually("3 Ready nodes", || {
        (0..3).all(|i| ready_status(&s, &format!("sim-{i}")) == "True")
    });
    let table = s.ok(&["get", "nodes"]);
    assert_eq!(table.matches(" Ready ").count(), 3, "{table}");
    eventually("pod CIDRs", || {
        (0..3).all(|i| !pod_cidr(&s, &format!("sim-{i}")).is_empty())
    });
    let mut cidrs: Vec<String> = (0..3).map(|i| pod_cidr(&s, &format!("sim-{i}"))).collect();
    assert!(
        cidrs
            .iter()
            .all(|c| c.starts_with("10.42.") && c.ends_with("/24")),
        "{cidrs:?}"
    );
    cidrs.sort();
    cidrs.dedup();
    assert_eq!(cidrs.len(), 3, "pod CIDRs not distinct: {cidrs:?}");

    let zone = get(
        &s,
        &[
            "get",
            "node",
            "sim-1",
            "-o",
            r#"jsonpath={.metadata.labels.topology\.kubernetes\.io/zone}"#,
        ],
    );
    assert_eq!(zone, "zone-b");
    let cpu = get(
        &s,
        &[
            "get",
            "node",
            "sim-0",
            "-o",
            "jsonpath={.status.allocatable.cpu}",
        ],
    );
    assert_eq!(cpu, "32");

    eventually("a Lease per node", || {
        let leases = get(
            &s,
            &["get", "leases", "-n", "kube-node-lease", "-o", "name"],
        );
        (0..3).all(|i| {
            leases
                .lines()
                .any(|l| l == format!("lease.coordination.k8s.io/sim-{i}"))
        })
    });
    let lease = s.get_json(&["get", "lease", "sim-0", "-n", "kube-node-lease"]);
    assert_eq!(lease["spec"]["holderIdentity"], "sim-0");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
    assert_eq!(lease["metadata"]["ownerReferences"][0]["kind"], "Node");

    // A node from a manifest with the annotation is run too, keeping its declared capacity.
    s.ok_stdin(
        &["apply", "-f", "-"],
        r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"gpu-1","labels":{"disktype":"ssd"},
"annotations":{"sim.rkube.io/node":"true"}},"spec":{"taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]},
"status":{"capacity":{"cpu":"8","memory":"64Gi","pods":"20"}}}"#,
    );
    eventually("the applied node Ready", || {
        ready_status(&s, "gpu-1") == "True"
    });
    eventually("the applied node's pod CIDR", || {
        !pod_cidr(&s, "gpu-1").is_empty()
    });
    assert!(!cidrs.contains(&pod_cidr(&s, "gpu-1")));
    // A node without the annotation is left alone.
    s.ok_stdin(
        &["apply", "-f", "-"],
        r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"real-1"}}"#,
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(ready_status(&s, "real-1"), "");
}

#[test]
fn pods_on_simulated_nodes_run_finish_and_go_away() {
    let s = server(&["--simulated-nodes", "2"]);
    eventually("sim-0 Ready with a CIDR", || {
        ready_status(&s, "sim-0") == "True" && !pod_cidr(&s, "sim-0").is_empty()
    });
    let cidr = pod_cidr(&s, "sim-0");

    s.ok_stdin(&["apply", "-f", "-"], &pod_on("web", "sim-0", "Always", ""));
    eventually("web Running 1/1", || {
        let row = get(&s, &["get", "pod", "web", "--no-headers"]);
        let cols: Vec<&str> = row.split_whitespace().collect();
        cols.get(1) == Some(&"1/1") && cols.get(2) == Some(&"Running")
    });
    let pod = s.get_json(&["get", "pod", "web"]);
    let ip = pod["status"]["podIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(in_cidr(&ip, &cidr), "pod IP {ip} not in {cidr}");
    assert!(pod["status"]["startTime"].is_string());
    let c = &pod["status"]["containerStatuses"][0];
    assert_eq!(c["ready"], true);
    assert_eq!(c["started"], true);
    assert_eq!(c["restartCount"], 0);
    assert_eq!(c["image"], "nginx:1.27");
    assert!(c["state"]["running"]["startedAt"].is_string());
    assert!(
        c["containerID"]
            .as_str()
            .is_some_and(|id| id.starts_with("sim://"))
    );
    for t in [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodScheduled",
    ] {
        let found = pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|cond| cond["type"] == t && cond["status"] == "True");
        assert!(
            found,
            "condition {t} not True: {}",
            pod["status"]["conditions"]
        );
    }

    // Finishing pods.
    s.ok_stdin(
        &["apply", "-f", "-"],
        &pod_on(
            "job-ok",
            "sim-0",
            "Never",
            r#""sim.rkube.io/run-seconds":"1""#,
        ),
    );
    s.ok_stdin(
        &["apply", "-f", "-"],
        &pod_on(
            "job-bad",
            "sim-1",
            "Never",
            r#""sim.rkube.io/exit-code":"3""#,
        ),
    );
    eventually("job-ok Completed", || {
        status_column(&s, "job-ok") == "Completed"
    });
    assert_eq!(phase(&s, "job-ok"), "Succeeded");
    eventually("job-bad Error", || status_column(&s, "job-bad") == "Error");
    assert_eq!(phase(&s, "job-bad"), "Failed");
    let bad = s.get_json(&["get", "pod", "job-bad"]);
    let term = &bad["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 3);
    assert_eq!(term["reason"], "Error");
    assert!(term["startedAt"].is_string() && term["finishedAt"].is_string());
    assert_eq!(bad["status"]["containerStatuses"][0]["ready"], false);

    // Deleting a running pod: it stays Terminating for its grace period, then goes.
    let started = Instant::now();
    s.ok(&["delete", "pod", "web", "--grace-period=1", "--wait=false"]);
    eventually("web gone", || {
        !s.kubectl(&["get", "pod", "web"]).status.success()
    });
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "removed before its grace period"
    );

    s.ok_stdin(
        &["apply", "-f", "-"],
        &pod_on("quick", "sim-1", "Always", ""),
    );
    eventually("quick Running", || phase(&s, "quick") == "Running");
    s.ok(&["delete", "pod", "quick", "--now"]);
    assert!(!s.kubectl(&["get", "pod", "quick"]).status.success());
}

#[test]
fn rkube_sim_runs_nodes_of_another_server() {
    let s = server(&["--simulated-nodes", "1", "--disable-simulator"]);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        ready_status(&s, "sim-0"),
        "",
        "simulator ran although disabled"
    );
    let mut sim = std::process::Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(["sim", "--kubeconfig"])
        .arg(&s.kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting rkube sim: {e}"));
    let ready = Instant::now() + WAIT;
    let mut ok = false;
    while Instant::now() < ready {
        if ready_status(&s, "sim-0") == "True" {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = sim.kill();
    let _ = sim.wait();
    assert!(ok, "rkube sim did not make sim-0 Ready");
}
