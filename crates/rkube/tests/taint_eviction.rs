//! The taint eviction controller in `rkube server`, driven with the real kubectl: a NoExecute
//! taint on a simulated node deletes the pods that do not tolerate it at once, those that
//! tolerate it for a while after that while, and leaves those tolerating it for ever;
//! removing the taint calls pending evictions off.

use std::path::Path;
use std::time::{Duration, Instant};

use rkube_testkit::Server;

const WAIT: Duration = Duration::from_secs(20);
const NODE: &str = "sim-0";

fn server() -> Server {
    Server::start_with(
        Path::new(env!("CARGO_BIN_EXE_rkube")),
        &["--simulated-nodes", "1"],
    )
}

/// Polls `probe` every 100 ms until it holds or `WAIT` passes.
fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if probe() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// A pod bound to [`NODE`] with the given grace period and tolerations (a JSON array).
fn pod(name: &str, grace_seconds: u32, tolerations: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"default"}},
"spec":{{"nodeName":"{NODE}","terminationGracePeriodSeconds":{grace_seconds},"tolerations":{tolerations},
"containers":[{{"name":"app","image":"nginx:1.27"}}]}}}}"#
    )
}

/// Tolerating `dedicated=gpu:NoExecute`, for `seconds` or for ever.
fn gpu_toleration(seconds: Option<u32>) -> String {
    let seconds = seconds
        .map(|s| format!(r#","tolerationSeconds":{s}"#))
        .unwrap_or_default();
    format!(
        r#"[{{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoExecute"{seconds}}}]"#
    )
}

/// The pod as JSON, or `None` once it is gone.
fn pod_json(s: &Server, name: &str) -> Option<serde_json::Value> {
    let out = s.kubectl(&["get", "pod", name, "-o", "json"]);
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn exists(s: &Server, name: &str) -> bool {
    pod_json(s, name).is_some()
}

/// Whether the pod exists with a deletion timestamp.
fn terminating(s: &Server, name: &str) -> bool {
    pod_json(s, name).is_some_and(|p| p["metadata"]["deletionTimestamp"].is_string())
}

/// Whether the pod exists and nobody asked for its deletion.
fn untouched(s: &Server, name: &str) -> bool {
    pod_json(s, name).is_some_and(|p| p["metadata"]["deletionTimestamp"].is_null())
}

/// The messages of the `TaintManagerEviction` events in `default`.
fn eviction_events(s: &Server) -> Vec<String> {
    let events = s.get_json(&["get", "events", "-n", "default"]);
    events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            e["reason"] == "TaintManagerEviction"
                && e["type"] == "Normal"
                && e["source"]["component"] == "taint-eviction-controller"
                && e["involvedObject"]["kind"] == "Pod"
        })
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn no_execute_taints_evict_pods_by_their_tolerations() {
    let s = server();
    eventually("the simulated node Ready", || {
        let out = s.kubectl(&[
            "get",
            "node",
            NODE,
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
        ]);
        String::from_utf8_lossy(&out.stdout).trim() == "True"
    });
    let pods = [
        pod("intolerant", 0, "[]"),
        pod("three", 30, &gpu_toleration(Some(3))),
        pod("eight", 0, &gpu_toleration(Some(8))),
        pod("forever", 0, &gpu_toleration(None)),
    ];
    s.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
            pods.join(",")
        ),
    );
    for name in ["intolerant", "three", "eight", "forever"] {
        eventually(&format!("{name} Running"), || {
            pod_json(&s, name).is_some_and(|p| p["status"]["phase"] == "Running")
        });
    }

    let tainted = Instant::now();
    s.ok(&["taint", "nodes", NODE, "dedicated=gpu:NoExecute"]);
    eventually("the intolerant pod gone", || !exists(&s, "intolerant"));
    assert!(
        untouched(&s, "three"),
        "the pod tolerating 3 s was deleted together with the intolerant one"
    );

    eventually("the pod tolerating 3 s deleted", || {
        terminating(&s, "three")
    });
    let after = tainted.elapsed();
    assert!(
        after >= Duration::from_millis(2950),
        "the pod tolerating 3 s was deleted after {after:?}"
    );
    let three = pod_json(&s, "three").unwrap_or_default();
    let disruption = three["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "DisruptionTarget")
        .cloned()
        .unwrap_or_default();
    assert_eq!(disruption["status"], "True", "{three}");
    assert_eq!(disruption["reason"], "DeletionByTaintManager");
    assert_eq!(
        disruption["message"],
        "Taint manager: deleting due to NoExecute taint"
    );

    // Untainting before the 8 s are up calls the last eviction off.
    assert!(
        tainted.elapsed() < Duration::from_secs(7),
        "too slow to untaint before the 8 s deadline: {:?}",
        tainted.elapsed()
    );
    s.ok(&["taint", "nodes", NODE, "dedicated-"]);
    let deadline_passed = tainted + Duration::from_secs(10);
    while Instant::now() < deadline_passed {
        assert!(
            untouched(&s, "eight"),
            "the 8 s eviction was not called off"
        );
        assert!(untouched(&s, "forever"), "the pod tolerating for ever went");
        std::thread::sleep(Duration::from_millis(250));
    }

    eventually("the eviction events", || {
        let events = eviction_events(&s);
        [
            "Marking for deletion Pod default/intolerant",
            "Marking for deletion Pod default/three",
            "Cancelling deletion of Pod default/eight",
        ]
        .iter()
        .all(|m| events.iter().any(|e| e == m))
    });
    let events = eviction_events(&s);
    assert!(
        !events.iter().any(|e| e.ends_with("default/forever")),
        "{events:?}"
    );
}
