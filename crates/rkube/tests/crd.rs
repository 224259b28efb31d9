//! The CustomResourceDefinition workflow with the real kubectl: define, serve, validate,
//! default, prune, print columns, scale, delete.

use std::path::Path;

use rkube_testkit::Server;

fn server() -> Server {
    Server::start(Path::new(env!("CARGO_BIN_EXE_rkube")))
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [cronSpec]
            properties:
              cronSpec:
                type: string
                pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
              image:
                type: string
                default: busybox
              replicas:
                type: integer
                minimum: 1
                maximum: 10
          status:
            type: object
            properties:
              replicas:
                type: integer
"#;

const CRONTAB: &str = r#"
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-cron
spec:
  cronSpec: "* * * * */5"
  replicas: 2
"#;

#[test]
fn crd_lifecycle() {
    let s = server();
    s.ok_stdin(&["apply", "-f", "-"], CRD);
    s.ok(&[
        "wait",
        "--for=condition=established",
        "crd/crontabs.stable.example.com",
        "--timeout=10s",
    ]);
    assert_eq!(
        s.ok(&[
            "get",
            "crd",
            "crontabs.stable.example.com",
            "-o",
            "jsonpath={.metadata.finalizers}"
        ]),
        r#"["customresourcecleanup.apiextensions.k8s.io"]"#
    );
    let resources = s.ok(&["api-resources", "--api-group=stable.example.com"]);
    assert!(
        resources
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["crontabs", "ct", "stable.example.com/v1", "true", "CronTab"]),
        "{resources}"
    );

    assert_eq!(
        s.ok_stdin(&["apply", "-f", "-"], CRONTAB).trim(),
        "crontab.stable.example.com/my-cron created"
    );
    assert_eq!(
        s.ok_stdin(&["apply", "-f", "-"], CRONTAB).trim(),
        "crontab.stable.example.com/my-cron unchanged"
    );
    let ct = s.get_json(&["get", "ct", "my-cron"]);
    assert_eq!(
        ct["spec"]["image"], "busybox",
        "schema default applied: {ct}"
    );
    assert_eq!(ct["metadata"]["generation"], 1);

    let table = s.ok(&["get", "crontabs"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SPEC", "REPLICAS", "AGE"]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .expect("row")
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["my-cron", "*", "*"], "{table}");

    // Validation from the schema, with upstream's messages.
    let bad = CRONTAB.replace("replicas: 2", "replicas: 11");
    let err = s.fails_stdin(&["apply", "-f", "-"], Some(&bad));
    assert!(
        err.contains("spec.replicas") && err.contains("should be less than or equal to 10"),
        "{err}"
    );
    let missing = CRONTAB.replace("  cronSpec: \"* * * * */5\"\n", "");
    let err = s.fails_stdin(
        &["create", "-f", "-"],
        Some(&missing.replace("my-cron", "other")),
    );
    assert!(err.contains("spec.cronSpec: Required value"), "{err}");

    // Unknown fields are pruned (or rejected by kubectl's strict validation).
    let extra = CRONTAB
        .replace("my-cron", "pruned")
        .replace("replicas: 2", "replicas: 2\n  bogus: 1");
    s.ok_stdin(&["apply", "--validate=false", "-f", "-"], &extra);
    assert!(
        s.get_json(&["get", "ct", "pruned"])["spec"]
            .get("bogus")
            .is_none()
    );
    let err = s.fails_stdin(
        &["apply", "-f", "-"],
        Some(&extra.replace("pruned", "strict")),
    );
    assert!(err.contains("unknown field \"spec.bogus\""), "{err}");

    // Scale and status subresources.
    assert_eq!(
        s.ok(&["scale", "ct", "my-cron", "--replicas=5"]).trim(),
        "crontab.stable.example.com/my-cron scaled"
    );
    assert_eq!(
        s.ok(&["get", "ct", "my-cron", "-o", "jsonpath={.spec.replicas}"]),
        "5"
    );
    s.ok(&[
        "patch",
        "ct",
        "my-cron",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":5}}"#,
    ]);
    assert_eq!(
        s.ok(&["get", "ct", "my-cron", "-o", "jsonpath={.status.replicas}"]),
        "5"
    );
    let err = s.fails(&["patch", "ct", "my-cron", "-p", r#"{"spec":{"replicas":3}}"#]);
    assert!(
        err.contains("strategic merge patch")
            || err.contains("UnsupportedMediaType")
            || err.contains("not supported"),
        "{err}"
    );

    // `kubectl get all` includes the category.
    assert!(
        s.ok(&["get", "all"])
            .contains("crontab.stable.example.com/my-cron")
    );

    // Deleting the CRD removes its objects and stops serving them.
    s.ok(&["delete", "crd", "crontabs.stable.example.com"]);
    let err = s.fails(&["get", "crontabs"]);
    assert!(
        err.contains("the server doesn't have a resource type \"crontabs\"")
            || err.contains("the server could not find the requested resource"),
        "{err}"
    );
    s.ok_stdin(&["apply", "-f", "-"], CRD);
    s.ok(&[
        "wait",
        "--for=condition=established",
        "crd/crontabs.stable.example.com",
        "--timeout=10s",
    ]);
    let out = s.kubectl(&["get", "crontabs", "-o", "name"]);
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

#[test]
fn cluster_scoped_crd() {
    let s = server();
    let crd = CRD
        .replace("scope: Namespaced", "scope: Cluster")
        .replace("crontabs.stable.example.com", "globals.stable.example.com")
        .replace("plural: crontabs", "plural: globals")
        .replace("singular: crontab", "singular: global")
        .replace("kind: CronTab", "kind: Global")
        .replace("shortNames: [ct]", "shortNames: [gl]");
    s.ok_stdin(&["apply", "-f", "-"], &crd);
    s.ok(&[
        "wait",
        "--for=condition=established",
        "crd/globals.stable.example.com",
        "--timeout=10s",
    ]);
    s.ok_stdin(&["apply", "-f", "-"], &CRONTAB.replace("CronTab", "Global"));
    assert_eq!(
        s.ok(&["get", "globals", "-o", "name"]).trim(),
        "global.stable.example.com/my-cron"
    );
    let obj = s.get_json(&["get", "gl", "my-cron"]);
    assert!(obj["metadata"].get("namespace").is_none(), "{obj}");
}
