//! Bad input gets upstream's status code and message, and changes nothing.

use std::path::Path;

use rkube_testkit::Server;

fn server() -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_rkube")))
}

fn raw_create(s: &Server, path: &str, body: &[u8]) -> String {
    let file = s.data_dir().join("body.json");
    std::fs::write(&file, body).expect("write body");
    s.fails(&["create", "--raw", path, "-f", file.to_str().expect("utf-8")])
}

#[test]
fn malformed_bodies_are_400() {
    let s = server();
    let err = raw_create(
        &s,
        "/api/v1/namespaces/default/configmaps",
        b"{\"metadata\": {\"name\": ",
    );
    assert!(err.contains("BadRequest") || err.contains("400"), "{err}");
    let err = raw_create(&s, "/api/v1/namespaces/default/configmaps", b"[1,2]");
    assert!(err.contains("BadRequest") || err.contains("400"), "{err}");
    let names = s.ok(&["get", "cm", "-o", "name"]);
    assert!(names.trim().is_empty(), "{names}");
}

#[test]
fn namespace_mismatch_and_wrong_kind_are_400() {
    let s = server();
    let err = raw_create(
        &s,
        "/api/v1/namespaces/default/configmaps",
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"kube-system"}}"#,
    );
    assert!(
        err.contains(
            "the namespace of the provided object does not match the namespace sent on the request"
        ),
        "{err}"
    );
    let err = raw_create(
        &s,
        "/api/v1/namespaces/default/configmaps",
        br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#,
    );
    assert!(
        err.contains("BadRequest") || err.contains("does not match"),
        "{err}"
    );
    s.fails(&["get", "cm", "x"]);
    s.fails(&["get", "cm", "x", "-n", "kube-system"]);
}

#[test]
fn unknown_kind_and_version() {
    let s = server();
    let err = s.fails_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Gadget\nmetadata:\n  name: g\n"),
    );
    assert!(
        err.contains("no matches for kind \"Gadget\" in version \"v1\""),
        "{err}"
    );
    let err = s.fails_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: apps/v9\nkind: Deployment\nmetadata:\n  name: g\n"),
    );
    assert!(
        err.contains("no matches for kind \"Deployment\" in version \"apps/v9\""),
        "{err}"
    );
    let err = s.fails(&["get", "--raw", "/apis/apps/v9/deployments"]);
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
}

#[test]
fn invalid_objects_are_422_with_field_causes() {
    let s = server();
    let pod =
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: c\n";
    let err = s.fails_stdin(&["create", "-f", "-"], Some(pod));
    assert!(
        err.contains("The Pod \"x\" is invalid: spec.containers[0].image: Required value"),
        "{err}"
    );
    let long = "a".repeat(254);
    let err = s.fails(&["create", "configmap", &long]);
    assert!(
        err.contains("is invalid") && err.contains("metadata.name"),
        "{err}"
    );
    let err = s.fails(&["create", "configmap", "Upper"]);
    assert!(err.contains("a lowercase RFC 1123 subdomain"), "{err}");
    let err = s.fails_stdin(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 70000\n"),
    );
    assert!(
        err.contains(
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        ),
        "{err}"
    );
    s.fails(&["get", "pod", "x"]);
    s.fails(&["get", "svc", "s"]);
}

#[test]
fn immutable_fields_and_stale_versions() {
    let s = server();
    s.ok(&["create", "deployment", "web", "--image=nginx"]);
    let err = s.fails(&["patch", "deploy", "web", "--type=merge", "-p", r#"{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}"#]);
    assert!(err.contains("field is immutable"), "{err}");

    s.ok(&["create", "configmap", "v", "--from-literal=a=1"]);
    let old = s.ok(&["get", "cm", "v", "-o", "yaml"]);
    s.ok(&["label", "cm", "v", "bump=1"]);
    let err = s.fails_stdin(&["replace", "-f", "-"], Some(&old));
    assert!(
        err.contains(
            "Operation cannot be fulfilled on configmaps \"v\": the object has been modified"
        ),
        "{err}"
    );

    s.ok(&["create", "service", "clusterip", "svc", "--tcp=80:80"]);
    let err = s.fails(&[
        "patch",
        "svc",
        "svc",
        "--type=merge",
        "-p",
        r#"{"spec":{"clusterIP":"10.43.99.99"}}"#,
    ]);
    assert!(
        err.contains("field is immutable") || err.contains("spec.clusterIP"),
        "{err}"
    );
}

#[test]
fn conflicting_service_addresses_are_rejected() {
    let s = server();
    let svc = |name: &str, ip: &str, node_port: u16| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  type: NodePort\n  clusterIP: {ip}\n  ports:\n  - port: 80\n    nodePort: {node_port}\n"
        )
    };
    s.ok_stdin(&["create", "-f", "-"], &svc("one", "10.43.0.50", 30080));
    let err = s.fails_stdin(
        &["create", "-f", "-"],
        Some(&svc("two", "10.43.0.50", 30081)),
    );
    assert!(err.contains("provided IP is already allocated"), "{err}");
    let err = s.fails_stdin(
        &["create", "-f", "-"],
        Some(&svc("two", "10.43.0.51", 30080)),
    );
    assert!(err.contains("provided port is already allocated"), "{err}");
    let err = s.fails_stdin(
        &["create", "-f", "-"],
        Some(&svc("two", "10.99.0.1", 30082)),
    );
    assert!(err.contains("not in the valid range"), "{err}");
    let err = s.fails_stdin(
        &["create", "-f", "-"],
        Some(&svc("two", "10.43.0.52", 40000)),
    );
    assert!(
        err.contains("provided port is not in the valid range"),
        "{err}"
    );
    s.fails(&["get", "svc", "two"]);
}

#[test]
fn oversized_body_is_413() {
    let s = server();
    let big = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"a":"{}"}}}}"#,
        "x".repeat(3 * 1024 * 1024 + 10)
    );
    let err = raw_create(&s, "/api/v1/namespaces/default/configmaps", big.as_bytes());
    assert!(
        err.contains("413") || err.contains("too large") || err.contains("RequestEntityTooLarge"),
        "{err}"
    );
    s.fails(&["get", "cm", "big"]);
}

#[test]
fn creating_in_a_missing_namespace_is_404() {
    let s = server();
    let err = s.fails(&["create", "configmap", "x", "-n", "nowhere"]);
    assert!(err.contains("namespaces \"nowhere\" not found"), "{err}");
}

#[test]
fn duplicate_create_is_409() {
    let s = server();
    s.ok(&["create", "configmap", "dup"]);
    let err = s.fails(&["create", "configmap", "dup"]);
    assert!(
        err.contains("error: failed to create configmap: configmaps \"dup\" already exists"),
        "{err}"
    );
    let err = s.fails_stdin(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n"),
    );
    assert!(err.contains("Error from server (AlreadyExists): error when creating \"STDIN\": configmaps \"dup\" already exists"), "{err}");
}

/// Sends a raw body with curl (kubectl never sends these) and returns (status, body).
fn curl(s: &Server, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let tls = s.data_dir().join("tls");
    let file = s.data_dir().join("raw-body");
    std::fs::write(&file, body).expect("write body");
    let p = |f: &str| tls.join(f).to_string_lossy().to_string();
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "--cacert",
            &p("ca.crt"),
            "--cert",
            &p("admin.crt"),
            "--key",
            &p("admin.key"),
        ])
        .args([
            "-X",
            method,
            "-H",
            &format!("Content-Type: {content_type}"),
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .args([
            "-w",
            "\n%{http_code}",
            &format!("https://127.0.0.1:{}{path}", s.port),
        ])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn hostile_bodies_are_refused_and_the_server_survives() {
    let s = server();
    let cms = "/api/v1/namespaces/default/configmaps";
    // A YAML alias bomb ("billion laughs").
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\nextra:\n  a: &a [x,x,x,x,x,x,x,x,x,x]\n",
    );
    for i in 1..9u8 {
        let (prev, cur) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        bomb.push_str(&format!(
            "  {cur}: &{cur} [{}]\n",
            vec![format!("*{prev}"); 10].join(",")
        ));
    }
    let (code, body) = curl(&s, "POST", cms, "application/yaml", bomb.as_bytes());
    assert_eq!(code, 400, "{body}");
    let (code, body) = curl(
        &s,
        "PATCH",
        &format!("{cms}/bomb?fieldManager=t"),
        "application/apply-patch+yaml",
        bomb.as_bytes(),
    );
    assert_eq!(code, 400, "{body}");
    // Deep nesting.
    let deep = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"deep\"}},\"data\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (code, body) = curl(&s, "POST", cms, "application/json", deep.as_bytes());
    assert_eq!(code, 400, "{body}");
    // Protobuf garbage and a truncated envelope.
    let (code, _) = curl(
        &s,
        "POST",
        cms,
        "application/vnd.kubernetes.protobuf",
        &[7u8; 4096],
    );
    assert_eq!(code, 400);
    let (code, _) = curl(
        &s,
        "POST",
        cms,
        "application/vnd.kubernetes.protobuf",
        b"k8s\x00\x0a\x00\x12\xff\xff\xff\xff\x0f",
    );
    assert_eq!(code, 400);
    // An unknown media type, and a patch type that is not a patch.
    let (code, _) = curl(&s, "POST", cms, "text/plain", b"hello");
    assert_eq!(code, 415);
    let (code, _) = curl(
        &s,
        "PATCH",
        &format!("{cms}/x"),
        "application/yaml",
        b"a: b",
    );
    assert_eq!(code, 415);
    // Still serving, nothing written.
    assert!(s.ok(&["get", "cm", "-o", "name"]).trim().is_empty());
}
