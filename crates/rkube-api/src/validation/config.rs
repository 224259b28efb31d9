//! ConfigMap, Secret and ServiceAccount validation.

use serde_json::Value;

use super::meta;
use super::names::{self, NameRule};
use super::pod::normalized;
use super::{FieldError, immutable, index, items, key, obj_of, str_of};

/// Upstream's `MaxSecretSize`: 1 MiB, also the ConfigMap limit.
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

fn is_immutable(obj: &Value) -> bool {
    obj.get("immutable").and_then(Value::as_bool) == Some(true)
}

/// Validates a ConfigMap: keys, no key in both `data` and `binaryData`, 1 MiB in total.
pub fn validate_config_map(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let mut total = 0usize;
    let data = obj_of(obj, "data");
    for (k, v) in data.into_iter().flatten() {
        for msg in names::is_config_map_key(k) {
            errors.push(FieldError::invalid(key("data", k), k.as_str(), msg));
        }
        total += v.as_str().map_or(0, str::len);
    }
    for (k, v) in obj_of(obj, "binaryData").into_iter().flatten() {
        for msg in names::is_config_map_key(k) {
            errors.push(FieldError::invalid(key("binaryData", k), k.as_str(), msg));
        }
        if data.is_some_and(|d| d.contains_key(k)) {
            errors.push(FieldError::invalid(
                key("binaryData", k),
                k.as_str(),
                "duplicate of key present in data",
            ));
        }
        total += v.as_str().map_or(0, decoded_len);
    }
    if total > MAX_DATA_SIZE {
        errors.push(FieldError::too_long("[]", MAX_DATA_SIZE));
    }
    errors
}

/// Validates a ConfigMap update: nothing may change once `immutable` is true.
pub fn validate_config_map_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if is_immutable(old) {
        if !is_immutable(new) {
            errors.push(FieldError::forbidden(
                "immutable",
                "field is immutable when `immutable` is set",
            ));
        }
        for field in ["data", "binaryData"] {
            if normalized_map(new.get(field)) != normalized_map(old.get(field)) {
                errors.push(FieldError::forbidden(
                    field,
                    "field is immutable when `immutable` is set",
                ));
            }
        }
    }
    errors
}

fn normalized_map(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Object(m)) if !m.is_empty() => normalized(&Value::Object(m.clone())),
        _ => Value::Null,
    }
}

/// Decoded length of a base64 value (as upstream counts secret bytes).
fn decoded_len(encoded: &str) -> usize {
    let padding = encoded.bytes().rev().take_while(|b| *b == b'=').count();
    (encoded.len() / 4 * 3).saturating_sub(padding)
}

/// Validates a Secret: keys, 1 MiB in total and the keys each well-known type requires.
pub fn validate_secret(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    let data = obj_of(obj, "data");
    let mut total = 0usize;
    for (k, v) in data.into_iter().flatten() {
        for msg in names::is_config_map_key(k) {
            errors.push(FieldError::invalid(key("data", k), k.as_str(), msg));
        }
        total += v.as_str().map_or(0, decoded_len);
    }
    if total > MAX_DATA_SIZE {
        errors.push(FieldError::too_long("data", MAX_DATA_SIZE));
    }
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    let require = |k: &str, errors: &mut Vec<FieldError>| {
        if !has(k) {
            errors.push(FieldError::required(key("data", k), ""));
        }
    };
    match str_of(obj, "type") {
        "kubernetes.io/service-account-token" => {
            let annotation = obj
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if annotation.is_empty() {
                errors.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => require(".dockercfg", &mut errors),
        "kubernetes.io/dockerconfigjson" => require(".dockerconfigjson", &mut errors),
        "kubernetes.io/basic-auth" => {
            if !has("username") && !has("password") {
                errors.push(FieldError::required("data[username]", ""));
                errors.push(FieldError::required("data[password]", ""));
            }
        }
        "kubernetes.io/ssh-auth" => require("ssh-privatekey", &mut errors),
        "kubernetes.io/tls" => {
            require("tls.key", &mut errors);
            require("tls.crt", &mut errors);
        }
        "bootstrap.kubernetes.io/token" | "Opaque" | "" => {}
        other => {
            for msg in names::is_qualified_name(other) {
                errors.push(FieldError::invalid("type", other, msg));
            }
        }
    }
    errors
}

/// Validates a Secret update: `type` is fixed, nothing changes once `immutable` is true.
pub fn validate_secret_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    immutable(new.get("type"), old.get("type"), "type", &mut errors);
    if is_immutable(old) {
        if !is_immutable(new) {
            errors.push(FieldError::forbidden(
                "immutable",
                "field is immutable when `immutable` is set",
            ));
        }
        if normalized_map(new.get("data")) != normalized_map(old.get("data")) {
            errors.push(FieldError::forbidden(
                "data",
                "field is immutable when `immutable` is set",
            ));
        }
    }
    errors
}

/// Validates a ServiceAccount: its secrets and image pull secrets name something.
pub fn validate_service_account(obj: &Value) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(obj, true, NameRule::Subdomain);
    for (i, secret) in items(obj.get("imagePullSecrets")).iter().enumerate() {
        if str_of(secret, "name").is_empty() {
            errors.push(FieldError::required(
                format!("{}.name", index("imagePullSecrets", i)),
                "",
            ));
        }
    }
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
    fn config_map_keys() {
        let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a b": "x", "ok.key": "y"}});
        assert_eq!(
            messages(&validate_config_map(&cm)),
            vec![
                "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
            ]
        );
    }

    #[test]
    fn immutable_config_map() {
        let old = json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": true});
        let new = json!({"metadata": {"name": "c"}, "data": {"a": "2"}, "immutable": true});
        assert_eq!(
            messages(&validate_config_map_update(&new, &old)),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        let new = json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": false});
        assert_eq!(
            messages(&validate_config_map_update(&new, &old)),
            vec!["immutable: Forbidden: field is immutable when `immutable` is set"]
        );
    }

    #[test]
    fn secrets() {
        let old = json!({"metadata": {"name": "s"}, "type": "Opaque"});
        let new = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
        assert_eq!(
            messages(&validate_secret_update(&new, &old)),
            vec!["type: Invalid value: \"kubernetes.io/tls\": field is immutable"]
        );
        let mut new = new;
        new["metadata"]["namespace"] = json!("d");
        assert_eq!(
            messages(&validate_secret(&new)),
            vec!["data[tls.key]: Required value"]
        );
        assert_eq!(decoded_len("eA=="), 1);
    }
}
