//! The review kinds: objects that are evaluated and answered, never stored
//! (`kubectl auth can-i`, `kubectl auth whoami`, token reviews).

use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::Ctx;
use crate::authn::UserInfo;
use crate::authz::{Attributes, Decision, ResourceAttributes};
use crate::registry::Served;
use crate::status::{ApiError, Result};
use crate::{Body, json_response};

/// Whether the resource is a review kind.
pub(super) fn is_review(served: &Served) -> bool {
    served.custom.is_none()
        && matches!(
            (served.info.group.as_str(), served.info.plural.as_str()),
            (
                "authorization.k8s.io",
                "selfsubjectaccessreviews"
                    | "subjectaccessreviews"
                    | "localsubjectaccessreviews"
                    | "selfsubjectrulesreviews"
            ) | (
                "authentication.k8s.io",
                "selfsubjectreviews" | "tokenreviews"
            )
        )
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Ctx<'_> {
    pub(super) fn review(&self) -> Result<Response<Body>> {
        let ct = self
            .call
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let mut review = crate::codec::decode_object(ct, &self.call.body)?;
        review["apiVersion"] = json!(self.served.info.api_version());
        review["kind"] = json!(self.served.info.kind);
        let me = self.call.user;
        let status = match self.served.info.plural.as_str() {
            "selfsubjectreviews" => json!({"userInfo": {"username": me.name, "groups": me.groups}}),
            "tokenreviews" => {
                json!({"authenticated": false, "error": "token authentication is not enabled"})
            }
            "selfsubjectrulesreviews" => self.rules_review(me),
            plural => {
                let subject = if plural == "selfsubjectaccessreviews" {
                    me.clone()
                } else {
                    let name = review
                        .pointer("/spec/user")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if name.is_empty() && review.pointer("/spec/groups").is_none() {
                        return Err(ApiError::unprocessable_patch(
                            "spec.user or spec.groups: Required value",
                        ));
                    }
                    UserInfo {
                        name,
                        groups: strings(review.pointer("/spec/groups")),
                    }
                };
                let mut spec = review.get("spec").cloned().unwrap_or(json!({}));
                if let Some(ns) = self
                    .namespace()
                    .filter(|_| plural == "localsubjectaccessreviews")
                {
                    spec["resourceAttributes"]["namespace"] = json!(ns);
                }
                self.access_review(&subject, &spec)
            }
        };
        review["status"] = status;
        if review.get("metadata").is_none() {
            review["metadata"] = json!({"creationTimestamp": null});
        }
        Ok(json_response(StatusCode::CREATED, &review))
    }

    fn access_review(&self, subject: &UserInfo, spec: &Value) -> Value {
        let s = |p: &str| {
            spec.pointer(p)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let decision = if spec.get("resourceAttributes").is_some() {
            let attrs = Attributes {
                user: subject,
                verb: s("/resourceAttributes/verb").unwrap_or(""),
                resource: Some(ResourceAttributes {
                    group: s("/resourceAttributes/group").unwrap_or(""),
                    resource: s("/resourceAttributes/resource").unwrap_or(""),
                    subresource: s("/resourceAttributes/subresource"),
                    namespace: s("/resourceAttributes/namespace"),
                    name: s("/resourceAttributes/name"),
                }),
                path: "",
            };
            self.call.api.inner.authorizer.authorize(&attrs)
        } else {
            let attrs = Attributes {
                user: subject,
                verb: s("/nonResourceAttributes/verb").unwrap_or(""),
                resource: None,
                path: s("/nonResourceAttributes/path").unwrap_or(""),
            };
            self.call.api.inner.authorizer.authorize(&attrs)
        };
        match decision {
            Decision::Allow => json!({"allowed": true}),
            Decision::Deny => json!({"allowed": false}),
        }
    }

    fn rules_review(&self, me: &UserInfo) -> Value {
        if me.in_group("system:masters") {
            json!({
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": false,
            })
        } else {
            json!({
                "resourceRules": [],
                "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/version", "/openapi", "/openapi/*"]}],
                "incomplete": false,
            })
        }
    }
}
