//! The resource types the server offers, from discovery: what the garbage collector watches
//! and what the namespace controller empties.

use std::collections::HashMap;
use std::sync::Arc;

use kube::Client;
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};

/// One served resource type at its preferred version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Group, version, kind and plural.
    pub api: ApiResource,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
}

impl Resource {
    /// `group/plural`: the same for every version of the resource.
    pub fn key(&self) -> String {
        format!("{}/{}", self.api.group, self.api.plural)
    }
}

/// A served resource with the verbs it supports.
#[derive(Debug, Clone)]
pub struct Served {
    /// The resource.
    pub resource: Arc<Resource>,
    /// Its verbs (`list`, `watch`, `delete`, `deletecollection`, …).
    pub verbs: Vec<String>,
}

impl Served {
    /// Whether the resource supports every verb of `verbs`.
    pub fn supports(&self, verbs: &[&str]) -> bool {
        verbs.iter().all(|v| self.verbs.iter().any(|s| s == v))
    }
}

/// Every resource the server offers, each once, at its group's preferred version.
pub async fn discover(client: &Client) -> Result<Vec<Served>, kube::Error> {
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(d) => d,
        Err(_) => Discovery::new(client.clone()).run().await?,
    };
    let mut served = Vec::new();
    for group in discovery.groups() {
        for (api, caps) in group.recommended_resources() {
            served.push(to_served(api, &caps));
        }
    }
    Ok(served)
}

fn to_served(api: ApiResource, caps: &ApiCapabilities) -> Served {
    Served {
        resource: Arc::new(Resource {
            api,
            namespaced: caps.scope == Scope::Namespaced,
        }),
        verbs: caps.operations.clone(),
    }
}

/// Finds the resource of an owner reference's `apiVersion` and `kind`.
#[derive(Debug, Default, Clone)]
pub struct KindIndex {
    by_kind: HashMap<(String, String), Arc<Resource>>,
}

impl KindIndex {
    /// An index over `served`.
    pub fn new(served: &[Served]) -> Self {
        let by_kind = served
            .iter()
            .map(|s| {
                let r = &s.resource;
                ((r.api.group.clone(), r.api.kind.clone()), r.clone())
            })
            .collect();
        KindIndex { by_kind }
    }

    /// The resource for `apiVersion` (any version of the group) and `kind`.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<Arc<Resource>> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        self.by_kind
            .get(&(group.to_string(), kind.to_string()))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_resolve_by_group_whatever_the_version() {
        let served = vec![Served {
            resource: Arc::new(Resource {
                api: ApiResource {
                    group: "apps".into(),
                    version: "v1".into(),
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    plural: "deployments".into(),
                },
                namespaced: true,
            }),
            verbs: vec!["list".into()],
        }];
        let index = KindIndex::new(&served);
        assert!(index.resolve("apps/v1beta2", "Deployment").is_some());
        assert!(index.resolve("v1", "Deployment").is_none());
        assert!(served[0].supports(&["list"]));
        assert!(!served[0].supports(&["list", "watch"]));
    }
}
