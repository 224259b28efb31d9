//! Kubernetes `Status` errors: every rejected request ends here, with upstream's code, reason
//! and message, so kubectl prints it as it would for upstream.

use serde_json::{Value, json};

/// One cause of an `Invalid` status (a field error).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusCause {
    /// Upstream's cause type, e.g. `FieldValueRequired`.
    pub reason: String,
    /// The message without the field, e.g. `Required value` (kubectl prefixes the field).
    pub message: String,
    /// The field path, e.g. `spec.containers[0].image`.
    pub field: String,
}

/// A failed request, rendered as a `metav1.Status`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Upstream's `reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// The human-readable message kubectl prints.
    pub message: String,
    /// `details`: the object's name, group and kind, and field causes (boxed: errors stay small).
    pub details: Option<Box<Value>>,
    /// For throttling-style errors: seconds after which to retry.
    pub retry_after: Option<u64>,
}

/// Result with [`ApiError`].
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The group/kind/name an error is about; `resource` is the plural used in messages.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// API group ("" for core).
    pub group: &'a str,
    /// Resource (plural), e.g. `pods`.
    pub resource: &'a str,
    /// Kind, e.g. `Pod`.
    pub kind: &'a str,
    /// Object name (may be empty).
    pub name: &'a str,
}

impl Subject<'_> {
    /// `pods` or `deployments.apps`, as upstream names a resource in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    fn details(&self) -> Value {
        let mut d = json!({"name": self.name, "kind": self.resource});
        if !self.group.is_empty() {
            d["group"] = json!(self.group);
        }
        d
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 Forbidden, with upstream's RBAC-style message.
    pub fn forbidden(
        subject: Subject<'_>,
        user: &str,
        verb: &str,
        namespace: Option<&str>,
    ) -> Self {
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        let what = match subject.name {
            "" => subject.qualified(),
            name => format!("{} \"{name}\"", subject.qualified()),
        };
        let mut e = Self::new(
            403,
            "Forbidden",
            format!(
                "{what} is forbidden: User \"{user}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
                subject.resource, subject.group
            ),
        );
        e.details = Some(Box::new(subject.details()));
        e
    }

    /// 403 Forbidden for a non-resource path.
    pub fn forbidden_path(user: &str, path: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!("forbidden: User \"{user}\" cannot get path \"{path}\""),
        )
    }

    /// 403 Forbidden with a free-form message (admission refusals).
    pub fn forbidden_message(subject: Subject<'_>, detail: &str) -> Self {
        let mut e = Self::new(
            403,
            "Forbidden",
            format!(
                "{} \"{}\" is forbidden: {detail}",
                subject.qualified(),
                subject.name
            ),
        );
        e.details = Some(Box::new(subject.details()));
        e
    }

    /// 404 NotFound for an object.
    pub fn not_found(subject: Subject<'_>) -> Self {
        let mut e = Self::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", subject.qualified(), subject.name),
        );
        e.details = Some(Box::new(subject.details()));
        e
    }

    /// 404 NotFound for a path the server does not serve.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(method: &str, what: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!(
                "the server does not allow this method on the requested resource ({method} {what})"
            ),
        )
    }

    /// 406 NotAcceptable.
    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf (asked for {accept})"
            ),
        )
    }

    /// 409 AlreadyExists.
    pub fn already_exists(subject: Subject<'_>) -> Self {
        let mut e = Self::new(
            409,
            "AlreadyExists",
            format!(
                "{} \"{}\" already exists",
                subject.qualified(),
                subject.name
            ),
        );
        e.details = Some(Box::new(subject.details()));
        e
    }

    /// 409 Conflict for a stale resourceVersion.
    pub fn conflict(subject: Subject<'_>) -> Self {
        Self::conflict_message(
            subject,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 Conflict with a specific message.
    pub fn conflict_message(subject: Subject<'_>, detail: &str) -> Self {
        let mut e = Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": {detail}",
                subject.qualified(),
                subject.name
            ),
        );
        e.details = Some(Box::new(subject.details()));
        e
    }

    /// 410 Expired (Gone): a compacted resourceVersion or continue token.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
            ),
        )
    }

    /// 422 Invalid with field causes: `The Pod "x" is invalid: spec.containers[0].image: Required value`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<StatusCause>) -> Self {
        let listed: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let message = match listed.len() {
            0 => format!("{kind} \"{name}\" is invalid"),
            1 => format!("{kind} \"{name}\" is invalid: {}", listed[0]),
            _ => format!("{kind} \"{name}\" is invalid: [{}]", listed.join(", ")),
        };
        let mut details = json!({"name": name, "kind": kind});
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        details["causes"] = Value::Array(
            causes
                .into_iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect(),
        );
        let mut e = Self::new(422, "Invalid", message);
        e.details = Some(Box::new(details));
        e
    }

    /// 500 InternalError.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }

    /// 503 ServiceUnavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// The `metav1.Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = (**d).clone();
        }
        s
    }
}

/// A `Status` of success, as returned by some deletes.
pub fn success_status(subject: Subject<'_>, uid: &str) -> Value {
    let mut details = subject.details();
    details["uid"] = json!(uid);
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_message_matches_upstream() {
        let s = Subject {
            group: "apps",
            resource: "deployments",
            kind: "Deployment",
            name: "web",
        };
        let e = ApiError::not_found(s);
        assert_eq!(e.message, "deployments.apps \"web\" not found");
        assert_eq!(e.to_status()["details"]["group"], "apps");
    }

    #[test]
    fn invalid_lists_several_causes_in_brackets() {
        let c = |f: &str| StatusCause {
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: f.into(),
        };
        let e = ApiError::invalid("", "Pod", "x", vec![c("a"), c("b")]);
        assert_eq!(
            e.message,
            "Pod \"x\" is invalid: [a: Required value, b: Required value]"
        );
        assert_eq!(e.code, 422);
    }
}
