//! The schemas of built-in kinds, generated from k8s-openapi's `JsonSchema` impls and reshaped
//! to look like upstream's `/openapi/v3` components (names such as `io.k8s.api.core.v1.Pod`,
//! `$ref`s wrapped in `allOf` where siblings sit next to them, GVK extensions on kinds).

use k8s_openapi::Resource;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::patch_metadata;

/// Where component schemas live in an OpenAPI v3 document.
pub const V3_REF_PREFIX: &str = "#/components/schemas/";

/// Schema names of the metadata types every document needs.
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// Schema name of `ListMeta`.
pub const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
/// Schema name of `DeleteOptions`.
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
/// Schema name of `Status`.
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
/// Schema name of `Patch`.
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
/// Schema name of `WatchEvent`.
pub const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";

/// A generator configured like upstream's v3 output: refs under `#/components/schemas/`.
pub fn generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|settings| settings.meta_schema = None)
        .into_generator()
}

/// Adds a type to the generator and returns its schema name.
fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

macro_rules! builtin_kinds {
    ($($path:path),* $(,)?) => {
        /// Adds the schema of the k8s-openapi type for `group/version, Kind=kind` to the generator
        /// and returns its schema name, or `None` when k8s-openapi has no such kind.
        pub fn add_builtin_kind(generator: &mut SchemaGenerator, group: &str, version: &str, kind: &str) -> Option<String> {
            $(
                if <$path as Resource>::GROUP == group
                    && <$path as Resource>::VERSION == version
                    && <$path as Resource>::KIND == kind
                {
                    return Some(add::<$path>(generator));
                }
            )*
            None
        }
    };
}

builtin_kinds! {
    k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration,
    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding,
    k8s_openapi::api::admissionregistration::v1beta1::ValidatingAdmissionPolicy,
    k8s_openapi::api::admissionregistration::v1beta1::ValidatingAdmissionPolicyBinding,
    k8s_openapi::api::apiserverinternal::v1alpha1::StorageVersion,
    k8s_openapi::api::apps::v1::ControllerRevision,
    k8s_openapi::api::apps::v1::DaemonSet,
    k8s_openapi::api::apps::v1::Deployment,
    k8s_openapi::api::apps::v1::ReplicaSet,
    k8s_openapi::api::apps::v1::StatefulSet,
    k8s_openapi::api::authentication::v1::SelfSubjectReview,
    k8s_openapi::api::authentication::v1::TokenRequest,
    k8s_openapi::api::authentication::v1::TokenReview,
    k8s_openapi::api::authorization::v1::LocalSubjectAccessReview,
    k8s_openapi::api::authorization::v1::SelfSubjectAccessReview,
    k8s_openapi::api::authorization::v1::SelfSubjectRulesReview,
    k8s_openapi::api::authorization::v1::SubjectAccessReview,
    k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler,
    k8s_openapi::api::autoscaling::v1::Scale,
    k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler,
    k8s_openapi::api::batch::v1::CronJob,
    k8s_openapi::api::batch::v1::Job,
    k8s_openapi::api::certificates::v1::CertificateSigningRequest,
    k8s_openapi::api::certificates::v1alpha1::ClusterTrustBundle,
    k8s_openapi::api::certificates::v1beta1::ClusterTrustBundle,
    k8s_openapi::api::coordination::v1::Lease,
    k8s_openapi::api::coordination::v1alpha2::LeaseCandidate,
    k8s_openapi::api::coordination::v1beta1::LeaseCandidate,
    k8s_openapi::api::core::v1::Binding,
    k8s_openapi::api::core::v1::ComponentStatus,
    k8s_openapi::api::core::v1::ConfigMap,
    k8s_openapi::api::core::v1::Endpoints,
    k8s_openapi::api::core::v1::Event,
    k8s_openapi::api::core::v1::LimitRange,
    k8s_openapi::api::core::v1::Namespace,
    k8s_openapi::api::core::v1::Node,
    k8s_openapi::api::core::v1::PersistentVolume,
    k8s_openapi::api::core::v1::PersistentVolumeClaim,
    k8s_openapi::api::core::v1::Pod,
    k8s_openapi::api::core::v1::PodTemplate,
    k8s_openapi::api::core::v1::ReplicationController,
    k8s_openapi::api::core::v1::ResourceQuota,
    k8s_openapi::api::core::v1::Secret,
    k8s_openapi::api::core::v1::Service,
    k8s_openapi::api::core::v1::ServiceAccount,
    k8s_openapi::api::discovery::v1::EndpointSlice,
    k8s_openapi::api::events::v1::Event,
    k8s_openapi::api::flowcontrol::v1::FlowSchema,
    k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration,
    k8s_openapi::api::networking::v1::Ingress,
    k8s_openapi::api::networking::v1::IngressClass,
    k8s_openapi::api::networking::v1::IPAddress,
    k8s_openapi::api::networking::v1::NetworkPolicy,
    k8s_openapi::api::networking::v1::ServiceCIDR,
    k8s_openapi::api::networking::v1beta1::IPAddress,
    k8s_openapi::api::networking::v1beta1::ServiceCIDR,
    k8s_openapi::api::node::v1::RuntimeClass,
    k8s_openapi::api::policy::v1::Eviction,
    k8s_openapi::api::policy::v1::PodDisruptionBudget,
    k8s_openapi::api::rbac::v1::ClusterRole,
    k8s_openapi::api::rbac::v1::ClusterRoleBinding,
    k8s_openapi::api::rbac::v1::Role,
    k8s_openapi::api::rbac::v1::RoleBinding,
    k8s_openapi::api::resource::v1alpha3::DeviceClass,
    k8s_openapi::api::resource::v1alpha3::DeviceTaintRule,
    k8s_openapi::api::resource::v1alpha3::ResourceClaim,
    k8s_openapi::api::resource::v1alpha3::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1alpha3::ResourceSlice,
    k8s_openapi::api::resource::v1beta1::DeviceClass,
    k8s_openapi::api::resource::v1beta1::ResourceClaim,
    k8s_openapi::api::resource::v1beta1::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1beta1::ResourceSlice,
    k8s_openapi::api::resource::v1beta2::DeviceClass,
    k8s_openapi::api::resource::v1beta2::ResourceClaim,
    k8s_openapi::api::resource::v1beta2::ResourceClaimTemplate,
    k8s_openapi::api::resource::v1beta2::ResourceSlice,
    k8s_openapi::api::scheduling::v1::PriorityClass,
    k8s_openapi::api::storage::v1::CSIDriver,
    k8s_openapi::api::storage::v1::CSINode,
    k8s_openapi::api::storage::v1::CSIStorageCapacity,
    k8s_openapi::api::storage::v1::StorageClass,
    k8s_openapi::api::storage::v1::VolumeAttachment,
    k8s_openapi::api::storage::v1alpha1::VolumeAttributesClass,
    k8s_openapi::api::storage::v1beta1::VolumeAttributesClass,
    k8s_openapi::api::storagemigration::v1alpha1::StorageVersionMigration,
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService,
}

/// Adds the meta types the paths of every document refer to.
pub fn add_meta_types(generator: &mut SchemaGenerator) {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
    add::<meta::ObjectMeta>(generator);
    add::<meta::ListMeta>(generator);
    add::<meta::DeleteOptions>(generator);
    add::<meta::Status>(generator);
    add::<meta::Patch>(generator);
    add::<meta::WatchEvent<()>>(generator);
}

/// The schema name a list kind gets: the kind's name with its last segment replaced.
pub fn list_schema_name(kind_schema_name: &str, list_kind: &str) -> String {
    match kind_schema_name.rsplit_once('.') {
        Some((prefix, _)) => format!("{prefix}.{list_kind}"),
        None => list_kind.to_string(),
    }
}

/// The schema name upstream gives a kind it has no Go type for (CRDs): the group reversed,
/// then version and kind, e.g. `com.example.stable.v1.CronTab`.
pub fn custom_schema_name(group: &str, version: &str, kind: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').filter(|p| !p.is_empty()).collect();
    parts.reverse();
    parts.push(version);
    parts.push(kind);
    parts.join(".")
}

/// A `$ref` to a component schema.
pub fn v3_ref(name: &str) -> Value {
    json!({ "$ref": format!("{V3_REF_PREFIX}{name}") })
}

/// The `x-kubernetes-group-version-kind` entry for one kind.
pub fn gvk_value(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// Adds one GVK to a schema's `x-kubernetes-group-version-kind` list (no duplicates).
pub fn add_gvk(schema: &mut Value, group: &str, version: &str, kind: &str) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let entry = gvk_value(group, version, kind);
    let list = object
        .entry("x-kubernetes-group-version-kind")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = list
        && !items.contains(&entry)
    {
        items.push(entry);
    }
}

/// The schema of `<Kind>List`, shaped like upstream's.
pub fn list_schema(kind_schema_name: &str, kind: &str) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string"
            },
            "items": {
                "description": format!("List of {kind} objects."),
                "type": "array",
                "items": { "allOf": [v3_ref(kind_schema_name)], "default": {} }
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string"
            },
            "metadata": {
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "allOf": [v3_ref(LIST_META)],
                "default": {}
            }
        },
        "required": ["items"]
    })
}

/// Takes the generated definitions and reshapes them like upstream's: scalar wrapper types get
/// upstream's shapes, kinds lose k8s-openapi's `metadata` requirement, list fields get their
/// patch metadata.
pub fn take_definitions(generator: &mut SchemaGenerator) -> Map<String, Value> {
    let mut definitions = generator.take_definitions(true);
    for (name, schema) in definitions.iter_mut() {
        reshape(name, schema);
    }
    definitions
}

/// Gives one generated definition upstream's shape.
fn reshape(name: &str, schema: &mut Value) {
    let description = schema.get("description").cloned();
    match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            *schema = json!({
                "format": "int-or-string",
                "oneOf": [{ "type": "integer" }, { "type": "string" }]
            });
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            *schema = json!({ "oneOf": [{ "type": "string" }, { "type": "number" }] });
        }
        _ => {}
    }
    if let (Some(description), Some(object)) = (description, schema.as_object_mut()) {
        object.entry("description").or_insert(description);
    }
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        let is_kind = name.starts_with("io.k8s.") && required.iter().any(|r| r == "metadata");
        if is_kind {
            required.retain(|r| r != "metadata");
        }
        if required.is_empty()
            && let Some(object) = schema.as_object_mut()
        {
            object.remove("required");
        }
    }
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for (property, property_schema) in properties.iter_mut() {
            add_default_to_struct_ref(property_schema);
            if let Some(meta) = patch_metadata::lookup(name, property) {
                meta.apply(property_schema);
            }
        }
    }
}

/// Upstream writes `"default": {}` next to `allOf`-wrapped refs of struct fields; harmless to
/// clients, it keeps the shape familiar.
fn add_default_to_struct_ref(property_schema: &mut Value) {
    let Some(object) = property_schema.as_object_mut() else {
        return;
    };
    if object.contains_key("allOf") && !object.contains_key("default") {
        let wraps_struct = object
            .get("allOf")
            .and_then(Value::as_array)
            .and_then(|all| all.first())
            .and_then(|first| first.get("$ref"))
            .and_then(Value::as_str)
            .is_some_and(|r| !SCALAR_TYPES.iter().any(|s| r.ends_with(s)));
        if wraps_struct {
            object.insert("default".to_string(), json!({}));
        }
    }
}

/// Component types whose values are not JSON objects.
const SCALAR_TYPES: &[&str] = &[
    "intstr.IntOrString",
    "resource.Quantity",
    "meta.v1.Time",
    "meta.v1.MicroTime",
    "runtime.RawExtension",
    "apiextensions.v1.JSON",
];
