//! Authorization: may this user do this? A trait; RBAC arrives later as another implementation.

use crate::authn::UserInfo;

/// What a request wants to do, as upstream's authorizer attributes.
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    /// The user.
    pub user: &'a UserInfo,
    /// The verb (get, list, create, ... for resources; get, post, ... for other paths).
    pub verb: &'a str,
    /// For resource requests: group, resource, subresource, namespace, name.
    pub resource: Option<ResourceAttributes<'a>>,
    /// For other requests: the path.
    pub path: &'a str,
}

/// The resource part of [`Attributes`].
#[derive(Debug, Clone, Copy)]
pub struct ResourceAttributes<'a> {
    /// API group.
    pub group: &'a str,
    /// Resource (plural).
    pub resource: &'a str,
    /// Subresource, if any.
    pub subresource: Option<&'a str>,
    /// Namespace, if any.
    pub namespace: Option<&'a str>,
    /// Name, if any.
    pub name: Option<&'a str>,
}

/// An authorizer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied (403).
    Deny,
}

/// Decides whether a request is allowed.
pub trait Authorizer: Send + Sync {
    /// Decides.
    fn authorize(&self, attributes: &Attributes<'_>) -> Decision;
}

/// Until RBAC lands: `system:masters` may do everything; every authenticated user may read
/// discovery, OpenAPI, health and version (upstream's `system:discovery` and
/// `system:public-info-viewer` roles) and ask about itself (`system:basic-user`: the self
/// reviews); nothing else is allowed.
#[derive(Debug, Default)]
pub struct BootstrapAuthorizer;

impl Authorizer for BootstrapAuthorizer {
    fn authorize(&self, a: &Attributes<'_>) -> Decision {
        if a.user.in_group("system:masters") {
            return Decision::Allow;
        }
        if let Some(r) = &a.resource {
            let self_review = a.verb == "create"
                && matches!(
                    (r.group, r.resource),
                    (
                        "authorization.k8s.io",
                        "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
                    ) | ("authentication.k8s.io", "selfsubjectreviews")
                );
            return if self_review {
                Decision::Allow
            } else {
                Decision::Deny
            };
        }
        let public = a.resource.is_none()
            && a.verb == "get"
            && (a.path == "/api"
                || a.path == "/apis"
                || a.path.starts_with("/api/")
                || a.path.starts_with("/apis/")
                || a.path.starts_with("/openapi/")
                || a.path == "/version"
                || a.path.starts_with("/healthz")
                || a.path.starts_with("/livez")
                || a.path.starts_with("/readyz"));
        if public {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }
}
