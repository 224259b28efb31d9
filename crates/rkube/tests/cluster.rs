//! Cluster-level behaviour with a real `rkube server` and the real kubectl: start, discovery,
//! authentication, restart and crash recovery.

use std::path::Path;

use rkube_testkit::Server;

fn server() -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_rkube")))
}

#[test]
fn version_and_default_namespaces() {
    let s = server();
    let v = s.get_json(&["version"]);
    assert_eq!(v["serverVersion"]["gitVersion"], "v1.33.0");
    let out = s.ok(&["get", "namespaces"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("STATUS") && lines[0].contains("AGE"),
        "{out}"
    );
    for ns in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(ns) && l.contains("Active")),
            "{ns} missing:\n{out}"
        );
    }
    let svc = s.get_json(&["get", "service", "kubernetes", "-n", "default"]);
    assert_eq!(svc["spec"]["clusterIP"], "10.43.0.1");
    assert_eq!(svc["spec"]["ports"][0]["port"], 443);
    let ep = s.get_json(&["get", "endpoints", "kubernetes", "-n", "default"]);
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], s.port);
}

#[test]
fn api_resources_and_versions_are_complete() {
    let s = server();
    let out = s.ok(&["api-resources"]);
    for (name, short, group, kind) in [
        ("pods", "po", "v1", "Pod"),
        ("services", "svc", "v1", "Service"),
        ("namespaces", "ns", "v1", "Namespace"),
        ("configmaps", "cm", "v1", "ConfigMap"),
        ("deployments", "deploy", "apps/v1", "Deployment"),
        ("replicasets", "rs", "apps/v1", "ReplicaSet"),
        ("daemonsets", "ds", "apps/v1", "DaemonSet"),
        ("statefulsets", "sts", "apps/v1", "StatefulSet"),
        ("cronjobs", "cj", "batch/v1", "CronJob"),
        (
            "horizontalpodautoscalers",
            "hpa",
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
        ),
        (
            "customresourcedefinitions",
            "crd,crds",
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
        ),
    ] {
        assert!(
            out.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.first() == Some(&name)
                    && f.contains(&short)
                    && f.contains(&group)
                    && f.last() == Some(&kind)
            }),
            "{name} missing or wrong in api-resources:\n{out}"
        );
    }
    let versions = s.ok(&["api-versions"]);
    for gv in [
        "v1",
        "apps/v1",
        "batch/v1",
        "autoscaling/v1",
        "autoscaling/v2",
        "networking.k8s.io/v1",
        "rbac.authorization.k8s.io/v1",
        "policy/v1",
        "storage.k8s.io/v1",
        "scheduling.k8s.io/v1",
        "coordination.k8s.io/v1",
        "discovery.k8s.io/v1",
        "events.k8s.io/v1",
        "apiextensions.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing:\n{versions}"
        );
    }
}

#[test]
fn requests_without_valid_credentials_get_401() {
    let s = server();
    // A kubeconfig that trusts the CA but presents no client certificate.
    let config = std::fs::read_to_string(&s.kubeconfig).expect("kubeconfig");
    let anonymous: String = config
        .lines()
        .filter(|l| !l.contains("client-certificate-data") && !l.contains("client-key-data"))
        .map(|l| {
            if l.trim() == "user:" {
                "  user:\n    token: not-a-valid-token".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = s.data_dir().join("anonymous.kubeconfig");
    std::fs::write(&path, anonymous).expect("write kubeconfig");
    let out = s.kubectl(&[
        "--kubeconfig",
        path.to_str().expect("utf-8 path"),
        "get",
        "configmaps",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Unauthorized") || stderr.contains("You must be logged in"),
        "{stderr}"
    );
}

#[test]
fn restart_keeps_everything_and_revisions_keep_increasing() {
    let mut s = server();
    s.ok(&["create", "configmap", "before", "--from-literal=a=1"]);
    let rv1: u64 = s
        .ok(&[
            "get",
            "cm",
            "before",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .expect("rv");
    s.restart();
    assert_eq!(
        s.ok(&["get", "cm", "before", "-o", "jsonpath={.data.a}"]),
        "1"
    );
    s.ok(&["create", "configmap", "after", "--from-literal=b=2"]);
    let rv2: u64 = s
        .ok(&[
            "get",
            "cm",
            "after",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .expect("rv");
    assert!(rv2 > rv1, "{rv2} <= {rv1}");
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut s = server();
    let mut manifest = String::new();
    for i in 0..50 {
        manifest.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: crash-{i}\ndata:\n  i: \"{i}\"\n"));
    }
    s.ok_stdin(&["apply", "-f", "-"], &manifest);
    s.ok(&["label", "cm", "crash-7", "survived=yes"]);
    s.ok(&["delete", "cm", "crash-9"]);
    let last: u64 = s
        .ok(&[
            "get",
            "cm",
            "crash-7",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .expect("rv");
    s.kill();
    s.start_again();
    let names = s.ok(&["get", "cm", "-o", "name"]);
    for i in 0..50 {
        let present = names.lines().any(|l| l == format!("configmap/crash-{i}"));
        assert_eq!(present, i != 9, "crash-{i}:\n{names}");
    }
    assert_eq!(
        s.ok(&[
            "get",
            "cm",
            "crash-7",
            "-o",
            "jsonpath={.metadata.labels.survived}"
        ]),
        "yes"
    );
    s.ok(&["create", "configmap", "post-crash"]);
    let next: u64 = s
        .ok(&[
            "get",
            "cm",
            "post-crash",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .expect("rv");
    assert!(next > last, "{next} <= {last}");
}

#[test]
fn server_help_and_version() {
    let bin = env!("CARGO_BIN_EXE_rkube");
    let out = std::process::Command::new(bin)
        .arg("--version")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("rkube "));
    let out = std::process::Command::new(bin)
        .args(["server", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--data-dir",
        "--bind-address",
        "--secure-port",
        "--write-kubeconfig",
        "--service-cidr",
    ] {
        assert!(help.contains(flag), "{flag} missing from help:\n{help}");
    }
}

#[test]
fn auth_can_i_whoami_and_forbidden_users() {
    use base64::Engine;
    let s = server();
    assert_eq!(
        s.ok(&["auth", "can-i", "create", "deployments"]).trim(),
        "yes"
    );
    let who = s.ok(&["auth", "whoami"]);
    assert!(
        who.contains("admin") && who.contains("system:masters"),
        "{who}"
    );

    // A user with a valid certificate but no rights: authenticated, then refused with 403.
    let pki = rkube_apiserver::pki::Pki::load_or_create(
        &s.data_dir().join("tls"),
        &["localhost".to_string(), "127.0.0.1".to_string()],
    )
    .expect("pki");
    let jane = pki
        .issue_client("jane", &["developers"])
        .expect("client cert");
    let b64 = |p: &str| base64::engine::general_purpose::STANDARD.encode(p.as_bytes());
    let config = std::fs::read_to_string(&s.kubeconfig).expect("kubeconfig");
    let mut lines: Vec<String> = config.lines().map(str::to_string).collect();
    for l in &mut lines {
        if l.trim_start().starts_with("client-certificate-data:") {
            *l = format!("    client-certificate-data: {}", b64(&jane.cert_pem));
        } else if l.trim_start().starts_with("client-key-data:") {
            *l = format!("    client-key-data: {}", b64(&jane.key_pem));
        }
    }
    let path = s.data_dir().join("jane.kubeconfig");
    std::fs::write(&path, lines.join("\n")).expect("write");
    let kc = path.to_str().expect("utf-8");
    let out = s.kubectl(&["--kubeconfig", kc, "get", "configmaps"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error from server (Forbidden): configmaps is forbidden: User \"jane\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""),
        "{err}"
    );
    assert_eq!(
        String::from_utf8_lossy(
            &s.kubectl(&["--kubeconfig", kc, "auth", "can-i", "list", "pods"])
                .stdout
        )
        .trim(),
        "no"
    );
}
