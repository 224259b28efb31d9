use super::*;

/// Real request bodies captured from kubectl 1.32, next to `--dry-run=client -o json` output
/// of the same command (what kubectl would have sent as JSON). Commands without
/// `--dry-run` (`auth can-i`, `auth whoami`, `certificate approve|deny`) have decodes checked
/// by hand against the Go types.
const FIXTURES: &[(&str, &[u8], &str)] = &[
    (
        "clusterrole",
        include_bytes!("testdata/clusterrole.bin"),
        include_str!("testdata/clusterrole.json"),
    ),
    (
        "clusterrole-aggregation",
        include_bytes!("testdata/clusterrole-aggregation.bin"),
        include_str!("testdata/clusterrole-aggregation.json"),
    ),
    (
        "clusterrolebinding",
        include_bytes!("testdata/clusterrolebinding.bin"),
        include_str!("testdata/clusterrolebinding.json"),
    ),
    (
        "configmap",
        include_bytes!("testdata/configmap.bin"),
        include_str!("testdata/configmap.json"),
    ),
    (
        "cronjob",
        include_bytes!("testdata/cronjob.bin"),
        include_str!("testdata/cronjob.json"),
    ),
    (
        "deployment",
        include_bytes!("testdata/deployment.bin"),
        include_str!("testdata/deployment.json"),
    ),
    (
        "deployment-zero-replicas",
        include_bytes!("testdata/deployment-zero-replicas.bin"),
        include_str!("testdata/deployment-zero-replicas.json"),
    ),
    (
        "hpa",
        include_bytes!("testdata/hpa.bin"),
        include_str!("testdata/hpa.json"),
    ),
    (
        "ingress",
        include_bytes!("testdata/ingress.bin"),
        include_str!("testdata/ingress.json"),
    ),
    (
        "ingress-default-backend",
        include_bytes!("testdata/ingress-default-backend.bin"),
        include_str!("testdata/ingress-default-backend.json"),
    ),
    (
        "job",
        include_bytes!("testdata/job.bin"),
        include_str!("testdata/job.json"),
    ),
    (
        "job-from-cronjob",
        include_bytes!("testdata/job-from-cronjob.bin"),
        include_str!("testdata/job-from-cronjob.json"),
    ),
    (
        "namespace",
        include_bytes!("testdata/namespace.bin"),
        include_str!("testdata/namespace.json"),
    ),
    (
        "pdb",
        include_bytes!("testdata/pdb.bin"),
        include_str!("testdata/pdb.json"),
    ),
    (
        "pdb-percent",
        include_bytes!("testdata/pdb-percent.bin"),
        include_str!("testdata/pdb-percent.json"),
    ),
    (
        "priorityclass",
        include_bytes!("testdata/priorityclass.bin"),
        include_str!("testdata/priorityclass.json"),
    ),
    (
        "priorityclass-zero",
        include_bytes!("testdata/priorityclass-zero.bin"),
        include_str!("testdata/priorityclass-zero.json"),
    ),
    (
        "quota",
        include_bytes!("testdata/quota.bin"),
        include_str!("testdata/quota.json"),
    ),
    (
        "role",
        include_bytes!("testdata/role.bin"),
        include_str!("testdata/role.json"),
    ),
    (
        "rolebinding",
        include_bytes!("testdata/rolebinding.bin"),
        include_str!("testdata/rolebinding.json"),
    ),
    (
        "secret-docker-registry",
        include_bytes!("testdata/secret-docker-registry.bin"),
        include_str!("testdata/secret-docker-registry.json"),
    ),
    (
        "secret-generic",
        include_bytes!("testdata/secret-generic.bin"),
        include_str!("testdata/secret-generic.json"),
    ),
    (
        "service-clusterip",
        include_bytes!("testdata/service-clusterip.bin"),
        include_str!("testdata/service-clusterip.json"),
    ),
    (
        "service-externalname",
        include_bytes!("testdata/service-externalname.bin"),
        include_str!("testdata/service-externalname.json"),
    ),
    (
        "service-nodeport",
        include_bytes!("testdata/service-nodeport.bin"),
        include_str!("testdata/service-nodeport.json"),
    ),
    (
        "serviceaccount",
        include_bytes!("testdata/serviceaccount.bin"),
        include_str!("testdata/serviceaccount.json"),
    ),
    (
        "selfsubjectaccessreview",
        include_bytes!("testdata/selfsubjectaccessreview.bin"),
        include_str!("testdata/selfsubjectaccessreview.json"),
    ),
    (
        "selfsubjectrulesreview",
        include_bytes!("testdata/selfsubjectrulesreview.bin"),
        include_str!("testdata/selfsubjectrulesreview.json"),
    ),
    (
        "selfsubjectreview",
        include_bytes!("testdata/selfsubjectreview.bin"),
        include_str!("testdata/selfsubjectreview.json"),
    ),
    (
        "csr-approve",
        include_bytes!("testdata/csr-approve.bin"),
        include_str!("testdata/csr-approve.json"),
    ),
    (
        "csr-deny",
        include_bytes!("testdata/csr-deny.bin"),
        include_str!("testdata/csr-deny.json"),
    ),
];

#[test]
fn kubectl_bodies_decode_to_what_kubectl_would_send_as_json() {
    let mut failures = Vec::new();
    for (name, body, expected) in FIXTURES {
        let mut expected: Value = match serde_json::from_str(expected) {
            Ok(value) => value,
            Err(error) => panic!("{name}.json: {error}"),
        };
        let decoded = decode_request(body);
        if let Ok(decoded) = &decoded {
            drop_nil_slices(&mut expected, decoded);
        }
        match decoded {
            Ok(decoded) if decoded == expected => {}
            Ok(decoded) => failures.push(format!(
                "{name}:\n  got      {decoded}\n  expected {expected}"
            )),
            Err(error) => failures.push(format!("{name}: {error}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Go writes `null` for a nil slice without `omitempty` (`"rules": null`); the wire cannot
/// tell nil from empty, so the decoder leaves such fields out.
fn drop_nil_slices(expected: &mut Value, decoded: &Value) {
    match (expected, decoded) {
        (Value::Object(expected), Value::Object(decoded)) => {
            expected.retain(|key, value| !value.is_null() || decoded.contains_key(key));
            for (key, value) in expected.iter_mut() {
                if let Some(decoded) = decoded.get(key) {
                    drop_nil_slices(value, decoded);
                }
            }
        }
        (Value::Array(expected), Value::Array(decoded)) => {
            for (value, decoded) in expected.iter_mut().zip(decoded) {
                drop_nil_slices(value, decoded);
            }
        }
        _ => {}
    }
}

#[test]
fn token_request_from_kubectl_create_token() {
    let decoded = decode_request(include_bytes!("testdata/token.bin")).ok();
    let expected = serde_json::json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {"creationTimestamp": null},
        "spec": {"audiences": ["a1"], "expirationSeconds": 600},
        "status": {"token": "", "expirationTimestamp": null}
    });
    assert_eq!(decoded, Some(expected));
}

/// A minimal protobuf encoder for building bodies by hand.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn varint(mut self, number: u32, value: u64) -> Self {
        push_varint(&mut self.0, u64::from(number) << 3);
        push_varint(&mut self.0, value);
        self
    }

    fn bytes(mut self, number: u32, value: &[u8]) -> Self {
        push_varint(&mut self.0, (u64::from(number) << 3) | 2);
        push_varint(&mut self.0, value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }

    fn text(self, number: u32, value: &str) -> Self {
        self.bytes(number, value.as_bytes())
    }

    fn message(self, number: u32, value: Body) -> Self {
        self.bytes(number, &value.0)
    }

    fn map_entry(self, number: u32, key: &str, value: &[u8]) -> Self {
        self.message(number, Body::default().text(1, key).bytes(2, value))
    }
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn envelope(api_version: &str, kind: &str, object: Body) -> Vec<u8> {
    let type_meta = Body::default().text(1, api_version).text(2, kind);
    let unknown = Body::default().message(1, type_meta).message(2, object);
    [MAGIC, &unknown.0].concat()
}

fn object_meta(name: &str) -> Body {
    // name=1, namespace=3, generation=7 (zero: dropped), creationTimestamp=8 (zero: null)
    Body::default()
        .text(1, name)
        .text(3, "")
        .varint(7, 0)
        .message(8, Body::default())
}

fn decode(body: &[u8]) -> Value {
    match decode_request(body) {
        Ok(value) => value,
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn deployment_with_selector_template_and_container() {
    let labels = || Body::default().map_entry(11, "app", b"web");
    let container = Body::default()
        .text(1, "nginx")
        .text(2, "nginx")
        .message(6, Body::default().varint(3, 80))
        .text(14, ""); // imagePullPolicy "" is dropped
    // restartPolicy "" (plain, omitempty) is dropped; terminationGracePeriodSeconds 0 is a
    // pointer set to zero and kept.
    let pod_spec = Body::default()
        .message(2, container)
        .text(3, "")
        .varint(4, 0);
    let template = Body::default()
        .message(1, labels().message(8, Body::default()))
        .message(2, pod_spec);
    let spec = Body::default()
        .varint(1, 0) // replicas 0: a pointer set to zero, kept
        .message(2, Body::default().map_entry(1, "app", b"web"))
        .message(3, template)
        .message(4, Body::default())
        .varint(5, 0); // minReadySeconds 0 (plain, omitempty) is dropped
    let body = envelope(
        "apps/v1",
        "Deployment",
        Body::default()
            .message(1, object_meta("web").map_entry(11, "app", b"web"))
            .message(2, spec)
            .message(3, Body::default().varint(2, 0)),
    );
    let expected = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                "spec": {
                    "containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}],
                    "terminationGracePeriodSeconds": 0
                }
            },
            "strategy": {}
        },
        "status": {}
    });
    assert_eq!(decode(&body), expected);
}

#[test]
fn configmap_and_secret_bytes_become_base64() {
    let configmap = envelope(
        "v1",
        "ConfigMap",
        Body::default()
            .message(1, object_meta("cm"))
            .map_entry(2, "a", b"b")
            .map_entry(3, "bin", &[0, 1, 0xff]),
    );
    let expected = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "creationTimestamp": null},
        "data": {"a": "b"},
        "binaryData": {"bin": "AAH/"}
    });
    assert_eq!(decode(&configmap), expected);

    let secret = envelope(
        "v1",
        "Secret",
        Body::default()
            .message(1, object_meta("s"))
            .map_entry(2, "password", b"hunter2")
            .map_entry(2, "empty", b"")
            .text(3, "Opaque")
            .varint(5, 1),
    );
    let expected = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s", "creationTimestamp": null},
        "data": {"password": "aHVudGVyMg==", "empty": ""},
        "type": "Opaque",
        "immutable": true
    });
    assert_eq!(decode(&secret), expected);
}

#[test]
fn service_ports_with_int_and_string_target_ports() {
    let port = |name: &str, port: u64, target: Body| {
        Body::default()
            .text(1, name)
            .text(2, "TCP")
            .varint(3, port)
            .message(4, target)
            .varint(5, 0)
    };
    let spec = Body::default()
        .message(
            1,
            port("http", 80, Body::default().varint(1, 0).varint(2, 8080)),
        )
        .map_entry(2, "app", b"web")
        .message(
            1,
            port("named", 81, Body::default().varint(1, 1).text(3, "web")),
        )
        .message(1, port("unset", 82, Body::default()));
    let body = envelope(
        "v1",
        "Service",
        Body::default()
            .message(1, object_meta("svc"))
            .message(2, spec),
    );
    let value = decode(&body);
    assert_eq!(
        value["spec"]["ports"],
        serde_json::json!([
            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
            {"name": "named", "protocol": "TCP", "port": 81, "targetPort": "web"},
            {"name": "unset", "protocol": "TCP", "port": 82, "targetPort": 0}
        ])
    );
    assert_eq!(value["spec"]["selector"], serde_json::json!({"app": "web"}));
}

#[test]
fn special_types_take_their_json_forms() {
    // creationTimestamp set, deletionGracePeriodSeconds, an env var from an inline
    // LocalObjectReference, a quantity and a RawExtension.
    let meta = Body::default()
        .text(1, "p")
        .message(8, Body::default().varint(1, 1_700_000_000))
        .varint(10, 30);
    let env = Body::default().text(1, "A").message(
        3,
        Body::default().message(
            3,
            Body::default()
                .message(1, Body::default().text(1, "cm"))
                .text(2, "key"),
        ),
    );
    let resources = Body::default().map_entry(1, "cpu", &Body::default().text(1, "500m").0);
    let container = Body::default()
        .text(1, "c")
        .message(7, env)
        .message(8, resources);
    let pod = envelope(
        "v1",
        "Pod",
        Body::default()
            .message(1, meta)
            .message(2, Body::default().message(2, container)),
    );
    let value = decode(&pod);
    assert_eq!(
        value["metadata"]["creationTimestamp"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(value["metadata"]["deletionGracePeriodSeconds"], 30);
    let container = &value["spec"]["containers"][0];
    assert_eq!(
        container["env"][0]["valueFrom"]["configMapKeyRef"],
        serde_json::json!({"name": "cm", "key": "key"})
    );
    assert_eq!(container["resources"]["limits"]["cpu"], "500m");

    let revision = envelope(
        "apps/v1",
        "ControllerRevision",
        Body::default()
            .message(1, object_meta("r"))
            .message(2, Body::default().text(1, r#"{"spec":{"x":1}}"#))
            .varint(3, 0),
    );
    let value = decode(&revision);
    assert_eq!(value["data"], serde_json::json!({"spec": {"x": 1}}));
    assert_eq!(value["revision"], 0);
}

#[test]
fn packed_and_unpacked_repeated_numbers_are_both_read() {
    // PodSecurityContext.supplementalGroups (4, int64), packed then unpacked.
    let mut packed = Vec::new();
    push_varint(&mut packed, 1000);
    push_varint(&mut packed, 2000);
    let security_context = Body::default().bytes(4, &packed).varint(4, 3000);
    let pod = envelope(
        "v1",
        "Pod",
        Body::default()
            .message(1, object_meta("p"))
            .message(2, Body::default().message(14, security_context)),
    );
    assert_eq!(
        decode(&pod)["spec"]["securityContext"]["supplementalGroups"],
        serde_json::json!([1000, 2000, 3000])
    );
}

#[test]
fn unknown_fields_are_skipped() {
    let body = envelope(
        "v1",
        "Namespace",
        Body::default()
            .message(1, object_meta("ns"))
            .varint(99, 7)
            .text(98, "future"),
    );
    assert_eq!(
        decode(&body),
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns", "creationTimestamp": null}})
    );
}

#[test]
fn bad_bodies_are_rejected_with_a_reason() {
    assert!(matches!(
        decode_request(b"{\"kind\":\"Pod\"}"),
        Err(ProtobufError::MissingMagic)
    ));
    let unknown = envelope("example.com/v1", "Widget", Body::default());
    let error = decode_request(&unknown).err();
    assert_eq!(
        error.map(|e| e.to_string()),
        Some("no protobuf decoder for example.com/v1 Widget".to_string())
    );
    let mut truncated = envelope(
        "v1",
        "ConfigMap",
        Body::default().message(1, object_meta("x")),
    );
    truncated.truncate(truncated.len() - 2);
    assert!(matches!(
        decode_request(&truncated),
        Err(ProtobufError::Truncated)
    ));
    let no_kind = [MAGIC, &Body::default().message(2, Body::default()).0].concat();
    assert!(matches!(
        decode_request(&no_kind),
        Err(ProtobufError::MissingTypeMeta)
    ));
    let type_meta = Body::default().text(1, "v1").text(2, "ConfigMap");
    let gzip = Body::default().message(1, type_meta).text(3, "gzip");
    assert!(matches!(
        decode_request(&[MAGIC, &gzip.0].concat()),
        Err(ProtobufError::UnsupportedEncoding(_))
    ));
    // name (a string) sent as a varint
    let wrong_type = envelope(
        "v1",
        "ConfigMap",
        Body::default().message(1, Body::default().varint(1, 5)),
    );
    assert!(matches!(
        decode_request(&wrong_type),
        Err(ProtobufError::Malformed(_))
    ));
}

#[test]
fn delete_options_fall_back_to_meta_v1() {
    let body = envelope(
        "v1",
        "DeleteOptions",
        Body::default().varint(1, 0).text(4, "Foreground"),
    );
    assert_eq!(
        decode(&body),
        serde_json::json!({"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"})
    );
}

#[test]
fn eviction_from_kubectl_drain_carries_delete_options() {
    let body = envelope(
        "policy/v1",
        "Eviction",
        Body::default()
            .message(1, object_meta("web-1").text(3, "default"))
            .message(2, Body::default().varint(1, 0)),
    );
    assert_eq!(
        decode(&body),
        serde_json::json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": null},
            "deleteOptions": {"gracePeriodSeconds": 0}
        })
    );
}
