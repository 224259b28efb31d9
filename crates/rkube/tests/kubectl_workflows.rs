//! The everyday kubectl workflows against a real `rkube server`: create, apply, get in every
//! output format, describe, edit, patch, label, annotate, scale, delete, diff, dry runs, wait.

use std::path::Path;
use std::time::Duration;

use rkube_testkit::Server;

fn server() -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_rkube")))
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
"#;

#[test]
fn typed_create_commands_use_protobuf_and_work() {
    let s = server();
    assert_eq!(
        s.ok(&[
            "create",
            "configmap",
            "cfg",
            "--from-literal=a=1",
            "--from-literal=b=2"
        ])
        .trim(),
        "configmap/cfg created"
    );
    assert_eq!(s.ok(&["get", "cm", "cfg", "-o", "jsonpath={.data.b}"]), "2");
    assert_eq!(
        s.ok(&[
            "create",
            "deployment",
            "nginx",
            "--image=nginx",
            "--replicas=3"
        ])
        .trim(),
        "deployment.apps/nginx created"
    );
    let d = s.get_json(&["get", "deployment", "nginx"]);
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx"
    );
    assert_eq!(
        d["spec"]["strategy"]["type"], "RollingUpdate",
        "defaults applied"
    );
    s.ok(&[
        "create",
        "secret",
        "generic",
        "pw",
        "--from-literal=password=hunter2",
    ]);
    assert_eq!(
        s.ok(&["get", "secret", "pw", "-o", "jsonpath={.data.password}"]),
        "aHVudGVyMg=="
    );
    s.ok(&["create", "service", "clusterip", "svc", "--tcp=80:8080"]);
    let svc = s.get_json(&["get", "svc", "svc"]);
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.43.")),
        "{svc}"
    );
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    s.ok(&["create", "namespace", "team-a"]);
    s.ok(&["create", "job", "once", "--image=busybox", "-n", "team-a"]);
    s.ok(&[
        "create",
        "cronjob",
        "tick",
        "--image=busybox",
        "--schedule=*/5 * * * *",
    ]);
    s.ok(&["create", "serviceaccount", "robot"]);
    s.ok(&[
        "create",
        "role",
        "reader",
        "--verb=get,list",
        "--resource=pods",
    ]);
    s.ok(&[
        "create",
        "rolebinding",
        "reader",
        "--role=reader",
        "--serviceaccount=default:robot",
    ]);
    s.ok(&["create", "priorityclass", "high", "--value=1000"]);
    s.ok(&["create", "quota", "q", "--hard=pods=10"]);
    s.ok(&[
        "create",
        "poddisruptionbudget",
        "pdb",
        "--selector=app=web",
        "--min-available=1",
    ]);
    s.ok(&["create", "ingress", "ing", "--rule=example.com/=svc:80"]);
}

#[test]
fn apply_twice_is_unchanged_then_configured_then_server_side() {
    let s = server();
    assert_eq!(
        s.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT).trim(),
        "deployment.apps/web created"
    );
    assert_eq!(
        s.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT).trim(),
        "deployment.apps/web unchanged"
    );
    let changed = DEPLOYMENT.replace("replicas: 2", "replicas: 4");
    assert_eq!(
        s.ok_stdin(&["apply", "-f", "-"], &changed).trim(),
        "deployment.apps/web configured"
    );
    let d = s.get_json(&["get", "deploy", "web"]);
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(d["metadata"]["generation"], 2);
    let image = changed.replace("nginx:1.25", "nginx:1.26");
    assert_eq!(
        s.ok_stdin(
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            &image
        )
        .trim(),
        "deployment.apps/web serverside-applied"
    );
    let d = s.get_json(&["get", "deploy", "web", "--show-managed-fields"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );
    let managers: Vec<&str> = d["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"kubectl"), "{managers:?}");
}

#[test]
fn server_side_apply_reports_conflicts() {
    let s = server();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  key: one\n";
    s.ok_stdin(
        &["apply", "--server-side", "--field-manager=alice", "-f", "-"],
        cm,
    );
    let err = s.fails_stdin(
        &["apply", "--server-side", "--field-manager=bob", "-f", "-"],
        Some(&cm.replace("one", "two")),
    );
    assert!(
        err.contains("conflict") && err.contains("alice") && err.contains(".data.key"),
        "{err}"
    );
    s.ok_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=bob",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &cm.replace("one", "two"),
    );
    assert_eq!(
        s.ok(&["get", "cm", "shared", "-o", "jsonpath={.data.key}"]),
        "two"
    );
}

#[test]
fn get_in_every_output_format() {
    let s = server();
    s.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    let table = s.ok(&["get", "deployments"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert!(
        table.lines().nth(1).expect("row").starts_with("web"),
        "{table}"
    );
    let wide = s.ok(&["get", "deploy", "-o", "wide"]);
    assert!(
        wide.lines()
            .next()
            .expect("header")
            .contains("CONTAINERS   IMAGES"),
        "{wide}"
    );
    assert!(
        wide.contains("nginx:1.25") && wide.contains("app=web"),
        "{wide}"
    );
    let yaml = s.ok(&["get", "deploy", "web", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("replicas: 2"),
        "{yaml}"
    );
    assert_eq!(
        s.ok(&["get", "deploy", "-o", "name"]).trim(),
        "deployment.apps/web"
    );
    assert_eq!(
        s.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].name}"
        ]),
        "nginx"
    );
    let cc = s.ok(&[
        "get",
        "deploy",
        "-o",
        "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas",
    ]);
    assert_eq!(
        cc.lines()
            .nth(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["web", "2"])
    );
    let pods = s.ok(&["get", "pods", "-A"]);
    assert!(pods.is_empty() || pods.contains("No resources"), "{pods}");
}

#[test]
fn label_and_field_selectors() {
    let s = server();
    for (name, tier) in [("a", "front"), ("b", "back"), ("c", "front")] {
        s.ok(&["create", "configmap", name]);
        s.ok(&["label", "configmap", name, &format!("tier={tier}")]);
    }
    s.ok(&["label", "configmap", "c", "canary=true"]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["get", "cm", "-o", "name"];
        full.extend_from_slice(args);
        s.ok(&full)
            .lines()
            .map(|l| l.trim_start_matches("configmap/").to_string())
            .filter(|n| n != "kube-root-ca.crt")
            .collect()
    };
    assert_eq!(names(&["-l", "tier=front"]), ["a", "c"]);
    assert_eq!(names(&["-l", "tier!=front"]), ["b"]);
    assert_eq!(names(&["-l", "tier in (back,front),!canary"]), ["a", "b"]);
    assert_eq!(names(&["-l", "canary"]), ["c"]);
    assert_eq!(names(&["--field-selector", "metadata.name=b"]), ["b"]);
    assert_eq!(
        names(&["--field-selector", "metadata.name!=b", "-l", "tier=front"]),
        ["a", "c"]
    );
    let err = s.fails(&["get", "cm", "--field-selector", "spec.nodeName=x"]);
    assert!(err.contains("field label not supported"), "{err}");
}

#[test]
fn label_annotate_patch_every_type() {
    let s = server();
    s.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert_eq!(
        s.ok(&["label", "deploy", "web", "env=prod"]).trim(),
        "deployment.apps/web labeled"
    );
    assert_eq!(
        s.ok(&["annotate", "deploy", "web", "owner=team"]).trim(),
        "deployment.apps/web annotated"
    );
    assert_eq!(
        s.ok(&["label", "deploy", "web", "env-"]).trim(),
        "deployment.apps/web unlabeled"
    );
    let d = s.get_json(&["get", "deploy", "web"]);
    assert!(d["metadata"]["labels"].get("env").is_none());
    assert_eq!(d["metadata"]["annotations"]["owner"], "team");

    // Strategic merge: the container list merges by name; as upstream orders it, the new item
    // comes before the ones only the server had.
    let smp =
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}"#;
    assert_eq!(
        s.ok(&["patch", "deploy", "web", "-p", smp]).trim(),
        "deployment.apps/web patched"
    );
    let d = s.get_json(&["get", "deploy", "web"]);
    let names: Vec<&str> = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["sidecar", "nginx"]);

    // Merge patch replaces lists.
    let merge =
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"busybox"}]}}}}"#;
    s.ok(&["patch", "deploy", "web", "--type=merge", "-p", merge]);
    let d = s.get_json(&["get", "deploy", "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // JSON patch.
    s.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":5}]"#,
    ]);
    assert_eq!(
        s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "5"
    );
    let err = s.fails(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/spec/replicas","value":7}]"#,
    ]);
    assert!(
        err.contains("The request is invalid: testing value /spec/replicas failed"),
        "{err}"
    );

    // Status is a subresource: a spec patch cannot change it.
    s.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":9}}"#,
    ]);
    assert_eq!(
        s.ok(&["get", "deploy", "web", "-o", "jsonpath={.status.replicas}"]),
        ""
    );
    s.ok(&[
        "patch",
        "deploy",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":9}}"#,
    ]);
    assert_eq!(
        s.ok(&["get", "deploy", "web", "-o", "jsonpath={.status.replicas}"]),
        "9"
    );
}

#[test]
fn scale_describe_edit() {
    let s = server();
    s.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert_eq!(
        s.ok(&["scale", "deploy", "web", "--replicas=7"]).trim(),
        "deployment.apps/web scaled"
    );
    assert_eq!(
        s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "7"
    );
    let d = s.ok(&["describe", "deployment", "web"]);
    assert!(
        d.contains("Name:")
            && d.contains("web")
            && d.contains("nginx:1.25")
            && d.contains("Selector:"),
        "{d}"
    );

    s.ok(&["create", "configmap", "editme", "--from-literal=color=blue"]);
    let out = s.kubectl_env(
        &["edit", "cm", "editme"],
        None,
        &[("KUBE_EDITOR", "sed -i s/blue/green/")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "configmap/editme edited"
    );
    assert_eq!(
        s.ok(&["get", "cm", "editme", "-o", "jsonpath={.data.color}"]),
        "green"
    );
}

#[test]
fn dry_run_and_diff_change_nothing() {
    let s = server();
    assert_eq!(
        s.ok(&[
            "create",
            "configmap",
            "dry",
            "--from-literal=a=1",
            "--dry-run=server"
        ])
        .trim(),
        "configmap/dry created (server dry run)"
    );
    s.fails(&["get", "cm", "dry"]);
    s.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    let out = s.kubectl_stdin(&["diff", "-f", "-"], Some(DEPLOYMENT));
    assert_eq!(
        out.status.code(),
        Some(0),
        "no diff expected: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = s.kubectl_stdin(
        &["diff", "-f", "-"],
        Some(&DEPLOYMENT.replace("replicas: 2", "replicas: 3")),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.contains("-  replicas: 2") && diff.contains("+  replicas: 3"),
        "{diff}"
    );
    assert_eq!(
        s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "2"
    );
}

#[test]
fn delete_and_wait() {
    let s = server();
    s.ok(&["create", "configmap", "gone"]);
    assert_eq!(
        s.ok(&["delete", "cm", "gone", "--wait"]).trim(),
        "configmap \"gone\" deleted"
    );
    let err = s.fails(&["get", "cm", "gone"]);
    assert!(
        err.contains("Error from server (NotFound): configmaps \"gone\" not found"),
        "{err}"
    );

    s.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    s.ok(&["delete", "deploy", "web", "--cascade=foreground"]);
    s.fails(&["get", "deploy", "web"]);
    s.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    s.ok(&["delete", "deploy", "web", "--cascade=orphan"]);

    // Finalizers hold an object until they are removed; wait --for=delete sees it go.
    s.ok(&["create", "configmap", "held"]);
    s.ok(&[
        "patch",
        "cm",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ]);
    s.ok(&["delete", "cm", "held", "--wait=false"]);
    assert!(
        !s.ok(&[
            "get",
            "cm",
            "held",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}"
        ])
        .is_empty()
    );
    let waiter = std::thread::scope(|scope| {
        let h = scope.spawn(|| s.kubectl(&["wait", "--for=delete", "cm/held", "--timeout=20s"]));
        std::thread::sleep(Duration::from_millis(500));
        s.ok(&[
            "patch",
            "cm",
            "held",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ]);
        h.join().expect("waiter")
    });
    assert!(
        waiter.status.success(),
        "{}",
        String::from_utf8_lossy(&waiter.stderr)
    );
    s.fails(&["get", "cm", "held"]);

    // Deleting a namespace empties it and then removes it.
    s.ok(&["create", "namespace", "doomed"]);
    s.ok(&["create", "configmap", "inside", "-n", "doomed"]);
    s.ok(&["delete", "namespace", "doomed", "--timeout=30s"]);
    s.fails(&["get", "namespace", "doomed"]);
}

#[test]
fn wait_for_condition_and_jsonpath() {
    let s = server();
    s.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    let status = r#"{"status":{"observedGeneration":1,"replicas":2,"availableReplicas":2,"readyReplicas":2,"updatedReplicas":2,"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"ok"}]}}"#;
    s.ok(&[
        "patch",
        "deploy",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ]);
    assert_eq!(
        s.ok(&[
            "wait",
            "--for=condition=Available",
            "deploy/web",
            "--timeout=10s"
        ])
        .trim(),
        "deployment.apps/web condition met"
    );
    assert_eq!(
        s.ok(&[
            "wait",
            "--for=jsonpath={.status.readyReplicas}=2",
            "deploy/web",
            "--timeout=10s"
        ])
        .trim(),
        "deployment.apps/web condition met"
    );
    let ready = s.ok(&["get", "deploy", "web"]);
    assert!(
        ready
            .lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("2/2")),
        "{ready}"
    );
}

#[test]
fn explain_uses_openapi() {
    let s = server();
    let out = s.ok(&["explain", "pod.spec.containers.image"]);
    assert!(
        out.contains("KIND:") && out.contains("Pod") && out.contains("FIELD: image"),
        "{out}"
    );
    let out = s.ok(&["explain", "deployment.spec"]);
    assert!(
        out.contains("replicas") && out.contains("selector") && out.contains("template"),
        "{out}"
    );
}

#[test]
fn get_watch_streams_changes() {
    let s = server();
    s.ok(&["create", "configmap", "w1"]);
    let mut child = std::process::Command::new(rkube_testkit::KUBECTL)
        .args([
            "get",
            "configmaps",
            "--watch",
            "--output-watch-events",
            "--no-headers",
        ])
        .env("KUBECONFIG", &s.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    std::thread::sleep(Duration::from_millis(800));
    s.ok(&["create", "configmap", "w2"]);
    s.ok(&["label", "configmap", "w2", "x=y"]);
    s.ok(&["delete", "configmap", "w1"]);
    std::thread::sleep(Duration::from_millis(800));
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8_lossy(&out.stdout);
    let events: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        events,
        ["ADDED w1", "ADDED w2", "MODIFIED w2", "DELETED w1"],
        "{text}"
    );
}
