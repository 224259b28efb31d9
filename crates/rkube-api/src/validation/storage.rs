//! PersistentVolume, PersistentVolumeClaim and StorageClass validation.

use serde_json::Value;

use super::container::parse_quantity;
use super::meta::{self, validate_label_selector};
use super::names::{self, NameRule};
use super::pod::normalized;
use super::{FieldError, child, immutable, index, items, obj_of, str_of};

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
const PV_SOURCES: &[&str] = &[
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "glusterfs",
    "nfs",
    "rbd",
    "iscsi",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
];

fn validate_access_modes(
    spec: &Value,
    path: &str,
    required_detail: &str,
    errors: &mut Vec<FieldError>,
) {
    let modes = items(spec.get("accessModes"));
    if modes.is_empty() {
        errors.push(FieldError::required(
            child(path, "accessModes"),
            required_detail,
        ));
    }
    for mode in modes {
        let mode = mode.as_str().unwrap_or("");
        if !ACCESS_MODES.contains(&mode) {
            errors.push(FieldError::not_supported(
                child(path, "accessModes"),
                mode,
                ACCESS_MODES,
            ));
        }
    }
    if let Some(mode) = spec.get("volumeMode").and_then(Value::as_str)
        && !VOLUME_MODES.contains(&mode)
    {
        errors.push(FieldError::not_supported(
            child(path, "volumeMode"),
            mode,
            VOLUME_MODES,
        ));
    }
}

/// Validates a PersistentVolume.
pub fn validate_persistent_volume(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, false, NameRule::Subdomain);
    let empty = Value::Object(serde_json::Map::new());
    let spec = obj.get("spec").unwrap_or(&empty);
    validate_access_modes(
        spec,
        "spec",
        "must specify at least 1 access mode",
        &mut errors,
    );
    let capacity = obj_of(spec, "capacity");
    match capacity {
        None => errors.push(FieldError::required("spec.capacity", "")),
        Some(c) if c.is_empty() => errors.push(FieldError::required("spec.capacity", "")),
        Some(c) if !c.contains_key("storage") || c.len() > 1 => {
            errors.push(FieldError::not_supported(
                "spec.capacity",
                Value::Object(c.clone()),
                &["storage"],
            ));
        }
        Some(c) => errors.extend(super::container::validate_resource_list(
            Some(c),
            "spec.capacity",
            false,
        )),
    }
    match str_of(spec, "persistentVolumeReclaimPolicy") {
        "" | "Delete" | "Recycle" | "Retain" => {}
        p => errors.push(FieldError::not_supported(
            "spec.persistentVolumeReclaimPolicy",
            p,
            &["Delete", "Recycle", "Retain"],
        )),
    }
    let mut sources = 0;
    for source in PV_SOURCES {
        if spec.get(*source).is_some_and(|v| !v.is_null()) {
            sources += 1;
            if sources > 1 {
                errors.push(FieldError::forbidden(
                    child("spec", source),
                    "may not specify more than 1 volume type",
                ));
            }
        }
    }
    if sources == 0 {
        errors.push(FieldError::required("spec", "must specify a volume type"));
    }
    if let Some(path) = obj.pointer("/spec/hostPath/path").and_then(Value::as_str)
        && path.is_empty()
    {
        errors.push(FieldError::required("spec.hostPath.path", ""));
    }
    let class = str_of(spec, "storageClassName");
    if !class.is_empty() {
        for msg in names::is_dns1123_subdomain(class) {
            errors.push(FieldError::invalid("spec.storageClassName", class, msg));
        }
    }
    errors
}

/// Validates a PersistentVolume update: `volumeMode` is fixed.
pub fn validate_persistent_volume_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    immutable(
        new.pointer("/spec/volumeMode"),
        old.pointer("/spec/volumeMode"),
        "spec.volumeMode",
        &mut errors,
    );
    errors
}

/// Validates a PersistentVolumeClaim.
pub fn validate_persistent_volume_claim(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let empty = Value::Object(serde_json::Map::new());
    let spec = obj.get("spec").unwrap_or(&empty);
    validate_access_modes(
        spec,
        "spec",
        "at least 1 access mode is required",
        &mut errors,
    );
    if let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) {
        errors.extend(validate_label_selector(selector, "spec.selector"));
    }
    match spec.pointer("/resources/requests/storage") {
        None => errors.push(FieldError::required("spec.resources[storage]", "")),
        Some(value) => match parse_quantity(value) {
            Some(q) if q.nanos <= 0 => {
                errors.push(FieldError::invalid(
                    "spec.resources[storage]",
                    q.canonical(),
                    "must be greater than zero",
                ));
            }
            Some(_) => {}
            None => errors.push(FieldError::invalid(
                "spec.resources[storage]",
                value.clone(),
                super::quantity::QuantityError::Format.to_string(),
            )),
        },
    }
    let class = str_of(spec, "storageClassName");
    if !class.is_empty() {
        for msg in names::is_dns1123_subdomain(class) {
            errors.push(FieldError::invalid("spec.storageClassName", class, msg));
        }
    }
    errors
}

/// Validates a PersistentVolumeClaim update: the spec is fixed except growing
/// `resources.requests.storage` of a bound claim, and binding `volumeName` once.
pub fn validate_persistent_volume_claim_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let empty = Value::Object(serde_json::Map::new());
    let mut new_spec = new.get("spec").unwrap_or(&empty).clone();
    let mut old_spec = old.get("spec").unwrap_or(&empty).clone();
    if str_of(&old_spec, "volumeName").is_empty()
        && let (Some(o), Some(n)) = (old_spec.as_object_mut(), new_spec.get("volumeName"))
    {
        o.insert("volumeName".to_string(), n.clone());
    }
    let bound = old.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
    let new_storage = new_spec
        .pointer("/resources/requests/storage")
        .and_then(parse_quantity);
    let old_storage = old_spec
        .pointer("/resources/requests/storage")
        .and_then(parse_quantity);
    if bound {
        if let (Some(n), Some(o)) = (new_storage, old_storage)
            && n < o
        {
            errors.push(FieldError::forbidden(
                "spec.resources.requests.storage",
                "field can not be less than previous value",
            ));
        }
        if let (Some(value), Some(requests)) = (
            old_spec.pointer("/resources/requests/storage").cloned(),
            new_spec
                .pointer_mut("/resources/requests")
                .and_then(Value::as_object_mut),
        ) {
            requests.insert("storage".to_string(), value);
        }
    }
    for spec in [&mut new_spec, &mut old_spec] {
        if let Some(s) = spec.as_object_mut() {
            s.remove("volumeAttributesClassName");
        }
    }
    if normalized(&new_spec) != normalized(&old_spec) {
        errors.push(FieldError::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
    errors
}

/// Validates a StorageClass.
pub fn validate_storage_class(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, false, NameRule::Subdomain);
    let provisioner = str_of(obj, "provisioner");
    if provisioner.is_empty() {
        errors.push(FieldError::required("provisioner", ""));
    } else {
        for msg in names::is_qualified_name(&provisioner.to_lowercase()) {
            errors.push(FieldError::invalid("provisioner", provisioner, msg));
        }
    }
    match obj.get("reclaimPolicy").and_then(Value::as_str) {
        None | Some("Delete") | Some("Retain") => {}
        Some(p) => errors.push(FieldError::not_supported(
            "reclaimPolicy",
            p,
            &["Delete", "Retain"],
        )),
    }
    match obj.get("volumeBindingMode").and_then(Value::as_str) {
        None => errors.push(FieldError::required("volumeBindingMode", "")),
        Some("Immediate") | Some("WaitForFirstConsumer") => {}
        Some(m) => errors.push(FieldError::not_supported(
            "volumeBindingMode",
            m,
            &["Immediate", "WaitForFirstConsumer"],
        )),
    }
    for (i, topology) in items(obj.get("allowedTopologies")).iter().enumerate() {
        if items(topology.get("matchLabelExpressions")).is_empty() {
            errors.push(FieldError::required(
                child(&index("allowedTopologies", i), "matchLabelExpressions"),
                "",
            ));
        }
    }
    errors
}

/// Validates a StorageClass update: parameters, provisioner, reclaim policy and binding mode
/// are fixed.
pub fn validate_storage_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let map = |v: &Value| normalized(v.get("parameters").unwrap_or(&Value::Null));
    if map(new) != map(old)
        && !(map(new).as_object().is_some_and(|m| m.is_empty()) && map(old).is_null())
    {
        errors.push(FieldError::forbidden(
            "parameters",
            "updates to parameters are forbidden.",
        ));
    }
    if str_of(new, "provisioner") != str_of(old, "provisioner") {
        errors.push(FieldError::forbidden(
            "provisioner",
            "updates to provisioner are forbidden.",
        ));
    }
    if str_of(new, "reclaimPolicy") != str_of(old, "reclaimPolicy") {
        errors.push(FieldError::forbidden(
            "reclaimPolicy",
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    immutable(
        new.get("volumeBindingMode"),
        old.get("volumeBindingMode"),
        "volumeBindingMode",
        &mut errors,
    );
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn pvc_rules() {
        let pvc = json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {"accessModes": ["ReadWriteOnce"]}});
        assert_eq!(
            messages(&validate_persistent_volume_claim(&pvc)),
            vec!["spec.resources[storage]: Required value"]
        );
        let pvc = json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {"accessModes": [], "resources": {"requests": {"storage": "1Gi"}}}});
        assert_eq!(
            messages(&validate_persistent_volume_claim(&pvc)),
            vec!["spec.accessModes: Required value: at least 1 access mode is required"]
        );
    }

    #[test]
    fn pvc_update() {
        let old = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Bound"}});
        let mut new = old.clone();
        new["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        assert!(validate_persistent_volume_claim_update(&new, &old).is_empty());
        new["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        assert_eq!(
            messages(&validate_persistent_volume_claim_update(&new, &old)),
            vec![
                "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
            ]
        );
    }

    #[test]
    fn pv_and_storage_class() {
        let pv = json!({"metadata": {"name": "p"}, "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/x"}, "persistentVolumeReclaimPolicy": "Keep"}});
        assert_eq!(
            messages(&validate_persistent_volume(&pv)),
            vec![
                "spec.persistentVolumeReclaimPolicy: Unsupported value: \"Keep\": supported values: \"Delete\", \"Recycle\", \"Retain\""
            ]
        );
        let old = json!({"metadata": {"name": "s"}, "provisioner": "a", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"});
        let mut new = old.clone();
        new["provisioner"] = json!("b");
        assert_eq!(
            messages(&validate_storage_class_update(&new, &old)),
            vec!["provisioner: Forbidden: updates to provisioner are forbidden."]
        );
        assert!(validate_storage_class(&old).is_empty());
    }
}
