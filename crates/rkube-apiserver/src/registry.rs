//! The resources this server serves right now: the built-in kinds plus the versions of every
//! established CustomResourceDefinition. Readers take a cheap snapshot (`Arc<Registry>`); the
//! CRD handler publishes a new snapshot when CRDs change.

use std::collections::HashMap;
use std::sync::Arc;

use rkube_api::ResourceInfo;
use serde_json::Value;

/// What a custom resource version adds to its [`ResourceInfo`].
#[derive(Debug, Clone, PartialEq)]
pub struct CustomVersion {
    /// The whole CustomResourceDefinition.
    pub crd: Arc<Value>,
    /// `schema.openAPIV3Schema` of this version, if any.
    pub schema: Option<Value>,
    /// `additionalPrinterColumns` of this version.
    pub printer_columns: Vec<Value>,
    /// Whether the status subresource is enabled.
    pub status: bool,
    /// The scale subresource paths (`specReplicasPath`, `statusReplicasPath`, `labelSelectorPath`).
    pub scale: Option<Value>,
}

/// One served resource at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    /// Names, scope, verbs, subresources.
    pub info: ResourceInfo,
    /// Set for custom resources.
    pub custom: Option<CustomVersion>,
}

/// The versions of one group, preferred first.
#[derive(Debug, Clone)]
pub struct GroupVersions {
    /// Group name ("" for core).
    pub group: String,
    /// Versions, the preferred one first.
    pub versions: Vec<String>,
}

/// A snapshot of everything served.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_gvr: HashMap<(String, String, String), Arc<Served>>,
    groups: Vec<GroupVersions>,
    order: Vec<Arc<Served>>,
}

/// Upstream's order of built-in groups in discovery.
const GROUP_ORDER: &[&str] = &[
    "",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
];

impl Registry {
    /// The built-in resources.
    pub fn builtin() -> Registry {
        let mut r = Registry::default();
        for info in rkube_api::resources::builtin_resources() {
            r.insert(Served { info, custom: None });
        }
        r.sort_groups();
        r
    }

    fn insert(&mut self, served: Served) {
        let key = (
            served.info.group.clone(),
            served.info.version.clone(),
            served.info.plural.clone(),
        );
        let served = Arc::new(served);
        if let Some(pos) = self.order.iter().position(|s| {
            (
                s.info.group.as_str(),
                s.info.version.as_str(),
                s.info.plural.as_str(),
            ) == (key.0.as_str(), key.1.as_str(), key.2.as_str())
        }) {
            self.order[pos] = served.clone();
        } else {
            self.order.push(served.clone());
        }
        match self.groups.iter_mut().find(|g| g.group == key.0) {
            Some(g) if !g.versions.contains(&key.1) => g.versions.push(key.1.clone()),
            Some(_) => {}
            None => self.groups.push(GroupVersions {
                group: key.0.clone(),
                versions: vec![key.1.clone()],
            }),
        }
        self.by_gvr.insert(key, served);
    }

    fn sort_groups(&mut self) {
        let rank = |g: &str| {
            GROUP_ORDER
                .iter()
                .position(|x| *x == g)
                .unwrap_or(GROUP_ORDER.len())
        };
        self.groups.sort_by(|a, b| {
            rank(&a.group)
                .cmp(&rank(&b.group))
                .then(a.group.cmp(&b.group))
        });
        for g in &mut self.groups {
            g.versions
                .sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
    }

    /// The resource served at group/version/resource.
    pub fn lookup(&self, group: &str, version: &str, resource: &str) -> Option<Arc<Served>> {
        self.by_gvr
            .get(&(group.to_string(), version.to_string(), resource.to_string()))
            .cloned()
    }

    /// Every served group with its versions, in discovery order.
    pub fn groups(&self) -> &[GroupVersions] {
        &self.groups
    }

    /// The versions served for a group, preferred first.
    pub fn group(&self, group: &str) -> Option<&GroupVersions> {
        self.groups.iter().find(|g| g.group == group)
    }

    /// The resources of one group version, in registration order.
    pub fn resources(&self, group: &str, version: &str) -> impl Iterator<Item = &Arc<Served>> {
        self.order
            .iter()
            .filter(move |s| s.info.group == group && s.info.version == version)
    }

    /// A new registry: this one with the custom resources of the given CRDs (replacing all
    /// previously registered custom resources).
    pub fn with_custom(&self, custom: Vec<Served>) -> Registry {
        let mut r = Registry::default();
        for s in self.order.iter().filter(|s| s.custom.is_none()) {
            r.insert((**s).clone());
        }
        for s in custom {
            r.insert(s);
        }
        r.sort_groups();
        r
    }
}

/// Kubernetes version ordering: GA > beta > alpha, then by numbers (v2 > v1, v1beta2 > v1beta1).
pub fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (level, num) = if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        return (0, 0, 0);
    };
    match num.parse::<u32>() {
        Ok(minor) => (level, major, minor),
        Err(_) => (0, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ordering_like_upstream() {
        let mut v = vec![
            "v1beta1", "v1", "v2", "v1alpha1", "v2beta2", "v1beta2", "foo",
        ];
        v.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(
            v,
            [
                "v2", "v1", "v2beta2", "v1beta2", "v1beta1", "v1alpha1", "foo"
            ]
        );
    }
}
