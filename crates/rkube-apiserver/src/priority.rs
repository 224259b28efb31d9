//! Upstream's `Priority` admission plugin and the built-in PriorityClasses.
//!
//! A new Pod gets `spec.priority` (and `spec.preemptionPolicy`) from the PriorityClass its
//! `spec.priorityClassName` names, or from the global default class (whose name is then written
//! into the pod), or 0 and `PreemptLowerPriority` when there is none. A pod may carry those
//! fields itself only if they equal what the class gives. Updates keep the values set at
//! creation (validation forbids changing them). A PriorityClass may be marked `globalDefault`
//! only while no other class is.

use serde_json::{Map, Value, json};

use crate::ApiServer;
use crate::rest::{parse_stored, store_error};
use crate::status::{ApiError, Subject};

/// Where PriorityClasses are stored: `/<group>/<plural>/` of cluster-scoped
/// `scheduling.k8s.io/v1` `priorityclasses`.
pub const PRIORITY_CLASS_PREFIX: &str = "/scheduling.k8s.io/priorityclasses/";

/// The preemption policy of pods and classes that set none.
pub const PREEMPT_LOWER_PRIORITY: &str = "PreemptLowerPriority";

/// The classes every cluster has (upstream's `SystemPriorityClasses`): name, value, description.
pub const SYSTEM_PRIORITY_CLASSES: &[(&str, i64, &str)] = &[
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// Whether `name` is one of the classes every cluster has; those cannot be deleted.
pub fn is_system_class(name: &str) -> bool {
    SYSTEM_PRIORITY_CLASSES.iter().any(|(n, _, _)| *n == name)
}

/// Why the plugin refuses a write (each becomes a 403 Forbidden naming the object).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The pod names a PriorityClass that does not exist.
    #[error("no PriorityClass with name {0} was found")]
    ClassNotFound(String),
    /// The pod sets `spec.priority` to something other than its class's value.
    #[error(
        "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {computed} from the given PriorityClass name"
    )]
    PriorityMismatch {
        /// What the pod set.
        given: String,
        /// What the class gives.
        computed: i64,
    },
    /// The pod sets `spec.preemptionPolicy` to something other than its class's policy.
    #[error(
        "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {computed} from the given PriorityClass name"
    )]
    PreemptionPolicyMismatch {
        /// What the pod set.
        given: String,
        /// What the class gives.
        computed: String,
    },
    /// A second PriorityClass is being marked `globalDefault`.
    #[error("PriorityClass {0} is already marked as default. Only one default can exist")]
    DefaultExists(String),
}

/// What the plugin reads of a PriorityClass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityClassInfo {
    /// `metadata.name`.
    pub name: String,
    /// `value`.
    pub value: i64,
    /// `preemptionPolicy` (stored classes always have one; defaulting sets it).
    pub preemption_policy: Option<String>,
    /// `globalDefault`.
    pub global_default: bool,
}

impl PriorityClassInfo {
    /// Reads a PriorityClass object.
    pub fn from_object(class: &Value) -> PriorityClassInfo {
        PriorityClassInfo {
            name: crate::object::name(class).to_string(),
            value: class.get("value").and_then(Value::as_i64).unwrap_or(0),
            preemption_policy: class
                .get("preemptionPolicy")
                .and_then(Value::as_str)
                .map(str::to_string),
            global_default: class
                .get("globalDefault")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

/// The global default class: the `globalDefault` one, or the lowest-valued of several (which
/// only a race can produce), as upstream picks.
pub fn global_default(classes: &[PriorityClassInfo]) -> Option<&PriorityClassInfo> {
    classes
        .iter()
        .filter(|c| c.global_default)
        .fold(None, |best: Option<&PriorityClassInfo>, c| match best {
            Some(b) if b.value <= c.value => Some(b),
            _ => Some(c),
        })
}

/// The priority fields of a new pod's client, read before defaulting fills them in.
///
/// Defaulting gives a pod without `priorityClassName` priority 0 and `PreemptLowerPriority` (what
/// this plugin does when there is no default class); admission must see only what the client
/// sent, so that a global default class applies and a client-set value is checked.
#[derive(Debug, Clone, Copy)]
pub struct ClientPriorityFields {
    priority: bool,
    preemption_policy: bool,
}

impl ClientPriorityFields {
    /// Which of `spec.priority` and `spec.preemptionPolicy` the pod carries.
    pub fn of(pod: &Value) -> ClientPriorityFields {
        ClientPriorityFields {
            priority: pod.pointer("/spec/priority").is_some_and(|v| !v.is_null()),
            preemption_policy: pod
                .pointer("/spec/preemptionPolicy")
                .is_some_and(|v| !v.is_null()),
        }
    }

    /// Removes the fields defaulting added that the client did not send.
    pub fn drop_defaulted(self, pod: &mut Value) {
        let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        if !self.priority {
            spec.remove("priority");
        }
        if !self.preemption_policy {
            spec.remove("preemptionPolicy");
        }
    }
}

/// Sets a new pod's priority from `class` (the named class, or the global default; `None` when
/// the pod names none and there is no default): the class name, `spec.priority` and
/// `spec.preemptionPolicy`. Refuses values the pod set itself that differ.
pub fn assign(pod: &mut Value, class: Option<&PriorityClassInfo>) -> Result<(), Error> {
    let (name, value, policy) = match class {
        Some(c) => (c.name.as_str(), c.value, c.preemption_policy.as_deref()),
        None => ("", 0, Some(PREEMPT_LOWER_PRIORITY)),
    };
    if !pod.get("spec").is_some_and(Value::is_object) {
        pod["spec"] = json!({});
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if let Some(given) = present(spec, "priority")
        && given.as_i64() != Some(value)
    {
        return Err(Error::PriorityMismatch {
            given: render(given),
            computed: value,
        });
    }
    if let Some(policy) = policy
        && let Some(given) = present(spec, "preemptionPolicy")
        && given.as_str() != Some(policy)
    {
        return Err(Error::PreemptionPolicyMismatch {
            given: render(given),
            computed: policy.to_string(),
        });
    }
    if name.is_empty() {
        spec.remove("priorityClassName");
    } else {
        spec.insert("priorityClassName".into(), json!(name));
    }
    spec.insert("priority".into(), json!(value));
    if let Some(policy) = policy {
        spec.insert("preemptionPolicy".into(), json!(policy));
    }
    Ok(())
}

fn present<'a>(spec: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    spec.get(field).filter(|v| !v.is_null())
}

/// A value as Go's `%d`/`%s` would print it: numbers and strings bare.
fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// On update a pod keeps the priority fields set at creation when the new object omits them.
pub fn keep_on_update(new: &mut Value, old: &Value) {
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["priority", "preemptionPolicy"] {
        if present(spec, field).is_none()
            && let Some(v) = old
                .pointer(&format!("/spec/{field}"))
                .filter(|v| !v.is_null())
        {
            spec.insert(field.into(), v.clone());
        }
    }
}

/// Whether `class` may be written as `globalDefault` given the current default `existing`:
/// a create may not add a second one; an update may not mark another class default.
pub fn check_default(
    class: &PriorityClassInfo,
    existing: Option<&PriorityClassInfo>,
    is_create: bool,
) -> Result<(), Error> {
    match existing {
        Some(d) if class.global_default && (is_create || d.name != class.name) => {
            Err(Error::DefaultExists(d.name.clone()))
        }
        _ => Ok(()),
    }
}

async fn stored_classes(api: &ApiServer) -> Result<Vec<PriorityClassInfo>, ApiError> {
    let list = api
        .inner
        .store
        .list(PRIORITY_CLASS_PREFIX, rkube_store::ListOptions::default())
        .await
        .map_err(store_error)?;
    list.items
        .iter()
        .map(|kv| parse_stored(kv).map(|c| PriorityClassInfo::from_object(&c)))
        .collect()
}

async fn stored_class(api: &ApiServer, name: &str) -> Result<Option<PriorityClassInfo>, ApiError> {
    let key = format!("{PRIORITY_CLASS_PREFIX}{name}");
    match api.inner.store.get(&key).await.map_err(store_error)? {
        Some(kv) => Ok(Some(PriorityClassInfo::from_object(&parse_stored(&kv)?))),
        None => Ok(None),
    }
}

fn refuse(group: &str, resource: &str, kind: &str, name: &str, e: &Error) -> ApiError {
    let subject = Subject {
        group,
        resource,
        kind,
        name,
    };
    ApiError::forbidden_message(subject, &e.to_string())
}

/// Admits a Pod write: resolves the priority of a new pod (`old` is `None`), keeps it on update.
pub async fn admit_pod(
    api: &ApiServer,
    pod: &mut Value,
    old: Option<&Value>,
) -> crate::status::Result<()> {
    if let Some(old) = old {
        keep_on_update(pod, old);
        return Ok(());
    }
    let named = pod
        .pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let class = match named {
        Some(name) => match stored_class(api, &name).await? {
            Some(c) => Some(c),
            None => {
                let e = Error::ClassNotFound(name);
                return Err(refuse("", "pods", "Pod", crate::object::name(pod), &e));
            }
        },
        None => global_default(&stored_classes(api).await?).cloned(),
    };
    assign(pod, class.as_ref()).map_err(|e| refuse("", "pods", "Pod", crate::object::name(pod), &e))
}

/// Admits a PriorityClass write: at most one may be the global default.
pub async fn admit_priority_class(
    api: &ApiServer,
    class: &Value,
    old: Option<&Value>,
) -> crate::status::Result<()> {
    let info = PriorityClassInfo::from_object(class);
    if !info.global_default {
        return Ok(());
    }
    let classes = stored_classes(api).await?;
    check_default(&info, global_default(&classes), old.is_none()).map_err(|e| {
        refuse(
            "scheduling.k8s.io",
            "priorityclasses",
            "PriorityClass",
            &info.name,
            &e,
        )
    })
}

/// The built-in classes as objects to create at start.
pub fn system_classes() -> Vec<Value> {
    SYSTEM_PRIORITY_CLASSES
        .iter()
        .map(|(name, value, description)| {
            json!({
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
                "preemptionPolicy": PREEMPT_LOWER_PRIORITY,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, value: i64, policy: Option<&str>, global: bool) -> PriorityClassInfo {
        PriorityClassInfo {
            name: name.into(),
            value,
            preemption_policy: policy.map(str::to_string),
            global_default: global,
        }
    }

    #[test]
    fn the_store_prefix_is_where_priority_classes_live() {
        let info = rkube_api::resources::find_builtin("scheduling.k8s.io", "v1", "priorityclasses");
        let Some(info) = info else {
            panic!("priorityclasses are not a built-in resource");
        };
        assert_eq!(
            rkube_api::resources::object_key(&info, "", "x"),
            format!("{PRIORITY_CLASS_PREFIX}x")
        );
    }

    #[test]
    fn a_named_class_gives_value_and_policy() {
        let high = class("high", 1000, Some("Never"), false);
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"priorityClassName": "high"}});
        assert_eq!(assign(&mut pod, Some(&high)), Ok(()));
        assert_eq!(pod["spec"]["priority"], json!(1000));
        assert_eq!(pod["spec"]["preemptionPolicy"], json!("Never"));
        assert_eq!(pod["spec"]["priorityClassName"], json!("high"));
    }

    #[test]
    fn without_a_class_priority_is_zero_and_no_name_is_written() {
        let mut pod = json!({"spec": {"priorityClassName": ""}});
        assert_eq!(assign(&mut pod, None), Ok(()));
        assert_eq!(
            pod["spec"],
            json!({"priority": 0, "preemptionPolicy": "PreemptLowerPriority"})
        );
    }

    #[test]
    fn the_default_class_name_is_written_into_the_pod() {
        let def = class("dflt", 7, Some("PreemptLowerPriority"), true);
        let mut pod = json!({"spec": {}});
        assert_eq!(assign(&mut pod, Some(&def)), Ok(()));
        assert_eq!(pod["spec"]["priorityClassName"], json!("dflt"));
        assert_eq!(pod["spec"]["priority"], json!(7));
    }

    #[test]
    fn a_matching_client_value_is_accepted_and_a_different_one_refused() {
        let high = class("high", 1000, Some("PreemptLowerPriority"), false);
        let mut pod =
            json!({"spec": {"priority": 1000, "preemptionPolicy": "PreemptLowerPriority"}});
        assert_eq!(assign(&mut pod, Some(&high)), Ok(()));
        let mut pod = json!({"spec": {"priority": 5}});
        let err = assign(&mut pod, Some(&high)).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(
                "the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"
            )
        );
        let mut pod = json!({"spec": {"preemptionPolicy": "Never"}});
        let err = assign(&mut pod, Some(&high)).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(
                "the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name"
            )
        );
        // Without a class, a client-set priority must be 0.
        let mut pod = json!({"spec": {"priority": 3}});
        assert!(matches!(
            assign(&mut pod, None),
            Err(Error::PriorityMismatch { computed: 0, .. })
        ));
    }

    #[test]
    fn a_class_without_policy_leaves_the_pods_policy() {
        let old = class("old", 10, None, false);
        let mut pod = json!({"spec": {"preemptionPolicy": "Never"}});
        assert_eq!(assign(&mut pod, Some(&old)), Ok(()));
        assert_eq!(pod["spec"]["preemptionPolicy"], json!("Never"));
    }

    #[test]
    fn the_lowest_global_default_wins() {
        let classes = vec![
            class("a", 100, None, true),
            class("b", 5, None, true),
            class("c", 1, None, false),
        ];
        assert_eq!(global_default(&classes).map(|c| c.name.as_str()), Some("b"));
        assert_eq!(global_default(&classes[2..]), None);
    }

    #[test]
    fn only_one_default_may_exist() {
        let existing = class("a", 1, None, true);
        let second = class("b", 2, None, true);
        assert_eq!(
            check_default(&second, Some(&existing), true)
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some("PriorityClass a is already marked as default. Only one default can exist")
        );
        assert!(check_default(&second, Some(&existing), false).is_err());
        assert_eq!(check_default(&existing, Some(&existing), false), Ok(()));
        assert_eq!(check_default(&second, None, true), Ok(()));
        let plain = class("c", 3, None, false);
        assert_eq!(check_default(&plain, Some(&existing), true), Ok(()));
    }

    #[test]
    fn defaulted_fields_are_dropped_and_client_fields_kept() {
        let mut pod = json!({"spec": {"priority": 4}});
        let fields = ClientPriorityFields::of(&pod);
        pod["spec"]["preemptionPolicy"] = json!("PreemptLowerPriority");
        fields.drop_defaulted(&mut pod);
        assert_eq!(pod["spec"], json!({"priority": 4}));
    }

    #[test]
    fn updates_keep_the_creation_values() {
        let old = json!({"spec": {"priority": 9, "preemptionPolicy": "Never"}});
        let mut new = json!({"spec": {"preemptionPolicy": "PreemptLowerPriority"}});
        keep_on_update(&mut new, &old);
        assert_eq!(
            new["spec"],
            json!({"priority": 9, "preemptionPolicy": "PreemptLowerPriority"})
        );
    }

    #[test]
    fn system_classes_are_upstreams() {
        let classes = system_classes();
        assert_eq!(classes.len(), 2);
        assert_eq!(
            classes[0]["metadata"]["name"],
            json!("system-node-critical")
        );
        assert_eq!(classes[0]["value"], json!(2_000_001_000));
        assert_eq!(classes[1]["value"], json!(2_000_000_000));
        assert_eq!(
            classes[1]["preemptionPolicy"],
            json!("PreemptLowerPriority")
        );
    }

    async fn started_server() -> ApiServer {
        let config = crate::Config {
            service_cidr: (std::net::Ipv4Addr::new(10, 43, 0, 0), 16),
            node_port_range: (30000, 32767),
            advertise_address: "127.0.0.1".into(),
            port: 6443,
        };
        let api = ApiServer::new(
            std::sync::Arc::new(rkube_store::MemoryStore::new()),
            Box::new(crate::authz::BootstrapAuthorizer),
            config,
        );
        if let Err(e) = api.start().await {
            panic!("start: {e:?}");
        }
        api
    }

    fn pod(name: &str, spec_extra: Value) -> Value {
        let mut spec = json!({"containers": [{"name": "c", "image": "busybox"}]});
        if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
            s.extend(extra.clone());
        }
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
    }

    const PODS: &str = "/api/v1/namespaces/default/pods";
    const CLASSES: &str = "/apis/scheduling.k8s.io/v1/priorityclasses";

    #[tokio::test]
    async fn pods_get_their_priority_through_the_api() {
        let api = started_server().await;
        let (code, list) = api.loopback("GET", CLASSES, None).await;
        assert_eq!(code, 200, "{list}");
        let names: Vec<&str> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.pointer("/metadata/name").and_then(Value::as_str))
            .collect();
        assert_eq!(
            names,
            vec!["system-cluster-critical", "system-node-critical"]
        );

        let (code, p) = api
            .loopback("POST", PODS, Some(&pod("plain", json!({}))))
            .await;
        assert_eq!(code, 201, "{p}");
        assert_eq!(p["spec"]["priority"], json!(0));
        assert_eq!(p["spec"]["preemptionPolicy"], json!("PreemptLowerPriority"));
        assert!(p["spec"].get("priorityClassName").is_none(), "{p}");

        let critical = pod("crit", json!({"priorityClassName": "system-node-critical"}));
        let (code, p) = api.loopback("POST", PODS, Some(&critical)).await;
        assert_eq!(code, 201, "{p}");
        assert_eq!(p["spec"]["priority"], json!(2_000_001_000));

        let missing = pod("x", json!({"priorityClassName": "missing"}));
        let (code, status) = api.loopback("POST", PODS, Some(&missing)).await;
        assert_eq!(code, 403, "{status}");
        assert_eq!(
            status["message"],
            json!("pods \"x\" is forbidden: no PriorityClass with name missing was found")
        );

        let low = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": "low"}, "value": 10, "globalDefault": true, "preemptionPolicy": "Never"});
        let (code, body) = api.loopback("POST", CLASSES, Some(&low)).await;
        assert_eq!(code, 201, "{body}");
        let mut other = low.clone();
        other["metadata"]["name"] = json!("other");
        let (code, status) = api.loopback("POST", CLASSES, Some(&other)).await;
        assert_eq!(code, 403, "{status}");
        assert_eq!(
            status["message"],
            json!(
                "priorityclasses.scheduling.k8s.io \"other\" is forbidden: PriorityClass low is already marked as default. Only one default can exist"
            )
        );

        let (code, p) = api
            .loopback("POST", PODS, Some(&pod("defaulted", json!({}))))
            .await;
        assert_eq!(code, 201, "{p}");
        assert_eq!(p["spec"]["priorityClassName"], json!("low"));
        assert_eq!(p["spec"]["priority"], json!(10));
        assert_eq!(p["spec"]["preemptionPolicy"], json!("Never"));

        let zero = pod("zero", json!({"priority": 0}));
        let (code, status) = api.loopback("POST", PODS, Some(&zero)).await;
        assert_eq!(code, 403, "{status}");

        // An update that omits the priority keeps it.
        let mut update = p.clone();
        if let Some(spec) = update["spec"].as_object_mut() {
            spec.remove("priority");
            spec.remove("preemptionPolicy");
        }
        update["metadata"]["labels"] = json!({"a": "b"});
        let (code, body) = api
            .loopback("PUT", &format!("{PODS}/defaulted"), Some(&update))
            .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["spec"]["priority"], json!(10));
    }
}
