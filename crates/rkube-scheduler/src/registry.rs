//! Plugins found by name (upstream's `runtime.Registry`): each entry is a plugin's constructor,
//! which decodes the plugin's args and says which extension points it implements. Adding a
//! plugin touches its own file and one line of `Registry::in_tree`.

use std::collections::BTreeMap;

use crate::framework::PluginExtensions;
use crate::plugins;

/// Why a plugin cannot be registered or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two plugins registered under one name.
    #[error("a plugin named {0} already exists")]
    Duplicate(String),
    /// A configuration names a plugin nobody registered.
    #[error("plugin {0:?} does not exist")]
    NotFound(String),
    /// A plugin's args could not be decoded or are out of range.
    #[error("invalid args for plugin {plugin}: {message}")]
    InvalidArgs {
        /// The plugin.
        plugin: String,
        /// What is wrong.
        message: String,
    },
}

/// Builds a plugin from its args (`None` when the configuration gives none).
pub type PluginFactory =
    fn(args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError>;

/// Decodes a plugin's args into its typed form, with defaults when absent.
pub fn decode_args<T: serde::de::DeserializeOwned + Default>(
    plugin: &str,
    args: Option<&serde_json::Value>,
) -> Result<T, RegistryError> {
    match args {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(value) => {
            serde_json::from_value(value.clone()).map_err(|e| RegistryError::InvalidArgs {
                plugin: plugin.to_string(),
                message: e.to_string(),
            })
        }
    }
}

/// Plugin constructors by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    factories: BTreeMap<&'static str, PluginFactory>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Every plugin rkube ships.
    pub fn in_tree() -> Registry {
        let mut registry = Registry::new();
        let entries: [(&'static str, PluginFactory); 13] = [
            (
                plugins::scheduling_gates::NAME,
                plugins::scheduling_gates::new,
            ),
            (plugins::priority_sort::NAME, plugins::priority_sort::new),
            (plugins::node_name::NAME, plugins::node_name::new),
            (
                plugins::node_unschedulable::NAME,
                plugins::node_unschedulable::new,
            ),
            (plugins::node_affinity::NAME, plugins::node_affinity::new),
            (
                plugins::taint_toleration::NAME,
                plugins::taint_toleration::new,
            ),
            (
                plugins::node_resources_fit::NAME,
                plugins::node_resources_fit::new,
            ),
            (
                plugins::balanced_allocation::NAME,
                plugins::balanced_allocation::new,
            ),
            (plugins::node_ports::NAME, plugins::node_ports::new),
            (plugins::image_locality::NAME, plugins::image_locality::new),
            (
                plugins::inter_pod_affinity::NAME,
                plugins::inter_pod_affinity::new,
            ),
            (
                plugins::pod_topology_spread::NAME,
                plugins::pod_topology_spread::new,
            ),
            (
                plugins::default_preemption::NAME,
                plugins::default_preemption::new,
            ),
        ];
        for (name, factory) in entries {
            registry.factories.insert(name, factory);
        }
        registry
    }

    /// Adds a plugin (out-of-tree plugins, tests).
    pub fn register(
        &mut self,
        name: &'static str,
        factory: PluginFactory,
    ) -> Result<(), RegistryError> {
        if self.factories.contains_key(name) {
            return Err(RegistryError::Duplicate(name.to_string()));
        }
        self.factories.insert(name, factory);
        Ok(())
    }

    /// Whether a plugin of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }

    /// Builds a plugin.
    pub fn build(
        &self,
        name: &str,
        args: Option<&serde_json::Value>,
    ) -> Result<PluginExtensions, RegistryError> {
        let factory = self
            .factories
            .get(name)
            .ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
        factory(args)
    }

    /// Registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.factories.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_tree_plugins_build_with_default_args() {
        let registry = Registry::in_tree();
        for name in registry.names() {
            assert!(registry.build(name, None).is_ok(), "{name}");
        }
        assert_eq!(
            registry.build("Nope", None).err(),
            Some(RegistryError::NotFound("Nope".into()))
        );
        let mut registry = registry;
        assert!(
            registry
                .register(plugins::node_name::NAME, plugins::node_name::new)
                .is_err()
        );
    }
}
