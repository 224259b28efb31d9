//! The scheduler's configuration file, in the form of upstream's
//! `kubescheduler.config.k8s.io/v1` `KubeSchedulerConfiguration`: profiles (one per
//! `schedulerName`) enabling/disabling plugins per extension point, score weights, plugin args.
//! Defaulting merges a profile's plugins with upstream's default set as `mergePlugins` does.

use serde::Deserialize;

/// The API version accepted.
pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";
/// The kind accepted.
pub const KIND: &str = "KubeSchedulerConfiguration";
/// Name of the default profile.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Upstream v1.33's default plugins in order (`getDefaultPlugins`), with their score weights.
/// Plugins rkube has not registered are left out when defaults are applied.
pub const DEFAULT_MULTI_POINT_PLUGINS: &[(&str, i32)] = &[
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", 0),
    ("NodeVolumeLimits", 0),
    ("VolumeBinding", 0),
    ("VolumeZone", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
];

/// Why a configuration is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The document is not valid YAML/JSON for this schema.
    #[error("decoding scheduler configuration: {0}")]
    Decode(String),
    /// Wrong apiVersion or kind.
    #[error(
        "unsupported scheduler configuration {api_version}/{kind}, expected {API_VERSION}/{KIND}"
    )]
    UnsupportedKind {
        /// apiVersion found.
        api_version: String,
        /// kind found.
        kind: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid scheduler configuration: {0}")]
    Invalid(String),
}

/// One plugin named in a plugin set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginRef {
    /// The plugin's name (`*` in `disabled` means all).
    pub name: String,
    /// Score weight (Score and MultiPoint only).
    #[serde(default)]
    pub weight: Option<i32>,
}

/// Plugins enabled and disabled at one extension point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PluginSet {
    /// Enabled, in order.
    pub enabled: Vec<PluginRef>,
    /// Disabled.
    pub disabled: Vec<PluginRef>,
}

/// Plugin sets per extension point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Plugins {
    /// PreEnqueue.
    pub pre_enqueue: PluginSet,
    /// QueueSort.
    pub queue_sort: PluginSet,
    /// PreFilter.
    pub pre_filter: PluginSet,
    /// Filter.
    pub filter: PluginSet,
    /// PostFilter.
    pub post_filter: PluginSet,
    /// PreScore.
    pub pre_score: PluginSet,
    /// Score.
    pub score: PluginSet,
    /// Reserve.
    pub reserve: PluginSet,
    /// Permit.
    pub permit: PluginSet,
    /// PreBind.
    pub pre_bind: PluginSet,
    /// Bind.
    pub bind: PluginSet,
    /// PostBind.
    pub post_bind: PluginSet,
    /// Every extension point a plugin implements.
    pub multi_point: PluginSet,
}

/// Arguments for one plugin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginConfig {
    /// The plugin's name.
    pub name: String,
    /// Its arguments (the plugin decodes them).
    #[serde(default)]
    pub args: serde_json::Value,
}

/// One profile.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProfileConfig {
    /// Pods whose `spec.schedulerName` is this are scheduled with this profile.
    pub scheduler_name: Option<String>,
    /// Overrides the global percentage for this profile.
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Plugins, merged with the defaults.
    pub plugins: Option<Plugins>,
    /// Plugin arguments.
    pub plugin_config: Vec<PluginConfig>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SchedulerConfiguration {
    /// `kubescheduler.config.k8s.io/v1`.
    pub api_version: Option<String>,
    /// `KubeSchedulerConfiguration`.
    pub kind: Option<String>,
    /// Share of nodes to find feasible before scoring (0 = adaptive).
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Initial backoff of a failed pod, seconds (default 1).
    pub pod_initial_backoff_seconds: Option<i64>,
    /// Maximum backoff, seconds (default 10).
    pub pod_max_backoff_seconds: Option<i64>,
    /// Profiles; one default profile when empty.
    pub profiles: Vec<ProfileConfig>,
}

impl SchedulerConfiguration {
    /// Parses a YAML or JSON document and checks apiVersion, kind and ranges.
    pub fn from_yaml(text: &str) -> Result<SchedulerConfiguration, ConfigError> {
        let config: SchedulerConfiguration =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Decode(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks apiVersion, kind, ranges and duplicate scheduler names.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let api_version = self
            .api_version
            .clone()
            .unwrap_or_else(|| API_VERSION.to_string());
        let kind = self.kind.clone().unwrap_or_else(|| KIND.to_string());
        if api_version != API_VERSION || kind != KIND {
            return Err(ConfigError::UnsupportedKind { api_version, kind });
        }
        let check_percentage = |p: Option<i32>, field: &str| match p {
            Some(p) if !(0..=100).contains(&p) => Err(ConfigError::Invalid(format!(
                "{field}: Invalid value: {p}: not in valid range [0-100]"
            ))),
            _ => Ok(()),
        };
        check_percentage(
            self.percentage_of_nodes_to_score,
            "percentageOfNodesToScore",
        )?;
        let (initial, max) = self.backoff_seconds();
        if initial <= 0 {
            return Err(ConfigError::Invalid(
                "podInitialBackoffSeconds: must be greater than 0".to_string(),
            ));
        }
        if max < initial {
            return Err(ConfigError::Invalid(
                "podMaxBackoffSeconds: must be greater than or equal to PodInitialBackoffSeconds"
                    .to_string(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, profile) in self.profiles.iter().enumerate() {
            check_percentage(
                profile.percentage_of_nodes_to_score,
                &format!("profiles[{i}].percentageOfNodesToScore"),
            )?;
            let name = profile.scheduler_name();
            if !names.insert(name.to_string()) {
                return Err(ConfigError::Invalid(format!(
                    "profiles[{i}].schedulerName: Duplicate value: \"{name}\""
                )));
            }
        }
        Ok(())
    }

    /// (initial, max) backoff in seconds with defaults 1 and 10.
    pub fn backoff_seconds(&self) -> (i64, i64) {
        (
            self.pod_initial_backoff_seconds.unwrap_or(1),
            self.pod_max_backoff_seconds.unwrap_or(10),
        )
    }

    /// The profiles, or the one default profile.
    pub fn profiles_or_default(&self) -> Vec<ProfileConfig> {
        if self.profiles.is_empty() {
            vec![ProfileConfig::default()]
        } else {
            self.profiles.clone()
        }
    }
}

impl ProfileConfig {
    /// The scheduler name, `default-scheduler` when unset.
    pub fn scheduler_name(&self) -> &str {
        self.scheduler_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_SCHEDULER_NAME)
    }

    /// Arguments given for a plugin.
    pub fn plugin_args(&self, name: &str) -> Option<&serde_json::Value> {
        self.plugin_config
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.args)
    }
}

/// Merges a custom plugin set into a default one like upstream: defaults minus disabled
/// (`*` drops all), a default re-enabled by the user is replaced in place (keeping its position,
/// taking the user's weight), other user plugins are appended.
pub fn merge_plugin_set(default: &PluginSet, custom: &PluginSet) -> PluginSet {
    let disabled: std::collections::HashSet<&str> =
        custom.disabled.iter().map(|p| p.name.as_str()).collect();
    let mut replaced = std::collections::HashSet::new();
    let mut enabled = Vec::new();
    if !disabled.contains("*") {
        for plugin in &default.enabled {
            if disabled.contains(plugin.name.as_str()) {
                continue;
            }
            match custom.enabled.iter().position(|c| c.name == plugin.name) {
                Some(index) => {
                    replaced.insert(index);
                    enabled.push(custom.enabled[index].clone());
                }
                None => enabled.push(plugin.clone()),
            }
        }
    }
    for (index, plugin) in custom.enabled.iter().enumerate() {
        if !replaced.contains(&index) {
            enabled.push(plugin.clone());
        }
    }
    PluginSet {
        enabled,
        disabled: custom
            .disabled
            .iter()
            .map(|p| PluginRef {
                name: p.name.clone(),
                weight: None,
            })
            .collect(),
    }
}

/// Upstream's default plugins restricted to those `is_registered` accepts, as a multiPoint set.
pub fn default_plugins(is_registered: impl Fn(&str) -> bool) -> Plugins {
    Plugins {
        multi_point: PluginSet {
            enabled: DEFAULT_MULTI_POINT_PLUGINS
                .iter()
                .filter(|(name, _)| is_registered(name))
                .map(|(name, weight)| PluginRef {
                    name: name.to_string(),
                    weight: (*weight > 0).then_some(*weight),
                })
                .collect(),
            disabled: Vec::new(),
        },
        ..Plugins::default()
    }
}

/// A profile's plugins merged with the defaults, point by point.
pub fn merge_plugins(defaults: &Plugins, custom: Option<&Plugins>) -> Plugins {
    let Some(custom) = custom else {
        return defaults.clone();
    };
    Plugins {
        pre_enqueue: merge_plugin_set(&defaults.pre_enqueue, &custom.pre_enqueue),
        queue_sort: merge_plugin_set(&defaults.queue_sort, &custom.queue_sort),
        pre_filter: merge_plugin_set(&defaults.pre_filter, &custom.pre_filter),
        filter: merge_plugin_set(&defaults.filter, &custom.filter),
        post_filter: merge_plugin_set(&defaults.post_filter, &custom.post_filter),
        pre_score: merge_plugin_set(&defaults.pre_score, &custom.pre_score),
        score: merge_plugin_set(&defaults.score, &custom.score),
        reserve: merge_plugin_set(&defaults.reserve, &custom.reserve),
        permit: merge_plugin_set(&defaults.permit, &custom.permit),
        pre_bind: merge_plugin_set(&defaults.pre_bind, &custom.pre_bind),
        bind: merge_plugin_set(&defaults.bind, &custom.bind),
        post_bind: merge_plugin_set(&defaults.post_bind, &custom.post_bind),
        multi_point: merge_plugin_set(&defaults.multi_point, &custom.multi_point),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(set: &PluginSet) -> Vec<(&str, Option<i32>)> {
        set.enabled
            .iter()
            .map(|p| (p.name.as_str(), p.weight))
            .collect()
    }

    #[test]
    fn parses_profiles() {
        let text = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 30
profiles:
- schedulerName: default-scheduler
- schedulerName: no-scoring
  plugins:
    score:
      disabled:
      - name: '*'
    multiPoint:
      enabled:
      - name: NodeAffinity
        weight: 5
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
"#;
        let config = SchedulerConfiguration::from_yaml(text).expect("valid config");
        assert_eq!(config.percentage_of_nodes_to_score, Some(30));
        assert_eq!(config.profiles.len(), 2);
        assert_eq!(config.profiles[1].scheduler_name(), "no-scoring");
        assert!(config.profiles[1].plugin_args("NodeResourcesFit").is_some());
        assert_eq!(config.backoff_seconds(), (1, 10));
    }

    #[test]
    fn rejects_bad_documents() {
        assert!(matches!(
            SchedulerConfiguration::from_yaml("apiVersion: v1\nkind: Pod\n"),
            Err(ConfigError::UnsupportedKind { .. })
        ));
        assert!(matches!(
            SchedulerConfiguration::from_yaml("percentageOfNodesToScore: 101\n"),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            SchedulerConfiguration::from_yaml(
                "profiles:\n- schedulerName: a\n- schedulerName: a\n"
            ),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            SchedulerConfiguration::from_yaml(
                "podInitialBackoffSeconds: 5\npodMaxBackoffSeconds: 2\n"
            ),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            SchedulerConfiguration::from_yaml("profiles: 3\n"),
            Err(ConfigError::Decode(_))
        ));
    }

    #[test]
    fn merge_replaces_in_place_and_appends() {
        let defaults = default_plugins(|n| {
            [
                "PrioritySort",
                "TaintToleration",
                "NodeAffinity",
                "ImageLocality",
            ]
            .contains(&n)
        });
        let custom = PluginSet {
            enabled: vec![
                PluginRef {
                    name: "Custom".into(),
                    weight: None,
                },
                PluginRef {
                    name: "NodeAffinity".into(),
                    weight: Some(7),
                },
            ],
            disabled: vec![PluginRef {
                name: "ImageLocality".into(),
                weight: None,
            }],
        };
        let merged = merge_plugin_set(&defaults.multi_point, &custom);
        assert_eq!(
            names(&merged),
            [
                ("PrioritySort", None),
                ("TaintToleration", Some(3)),
                ("NodeAffinity", Some(7)),
                ("Custom", None)
            ]
        );
        let all_disabled = PluginSet {
            enabled: vec![],
            disabled: vec![PluginRef {
                name: "*".into(),
                weight: None,
            }],
        };
        assert!(
            merge_plugin_set(&defaults.multi_point, &all_disabled)
                .enabled
                .is_empty()
        );
    }
}
