//! A profile: the plugins of one `schedulerName`, expanded per extension point from the merged
//! configuration the way upstream's framework does (`expandMultiPointPlugins`), and the calls
//! that run them in order (upstream's `frameworkImpl.Run*Plugins`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use crate::config::{
    PluginSet, Plugins, ProfileConfig, SchedulerConfiguration, default_plugins, merge_plugins,
};
use crate::framework::{
    BindPlugin, ClusterEvent, CycleState, FilterPlugin, MAX_NODE_SCORE, MIN_NODE_SCORE, NodeScore,
    PermitPlugin, PluginExtensions, PostBindPlugin, PostFilterContext, PostFilterPlugin,
    PostFilterResult, PreBindPlugin, PreEnqueuePlugin, PreFilterPlugin, PreFilterResult,
    PreScorePlugin, QueueSortPlugin, ReservePlugin, ScorePlugin, Status, StatusCode,
};
use crate::node_info::{NodeInfo, PodInfo, pod_key};
use crate::plugins::priority_sort::pod_priority;
use crate::registry::{Registry, RegistryError};

/// Why a profile cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A plugin could not be found or built.
    #[error("profile {profile}: {source}")]
    Plugin {
        /// The profile's scheduler name.
        profile: String,
        /// The cause.
        #[source]
        source: RegistryError,
    },
    /// A plugin was enabled at a point it does not implement.
    #[error("profile {profile}: plugin {plugin:?} does not extend {point} plugin")]
    NotExtending {
        /// The profile's scheduler name.
        profile: String,
        /// The plugin.
        plugin: String,
        /// The extension point.
        point: &'static str,
    },
    /// Not exactly one QueueSort plugin, or profiles disagree on it.
    #[error("profile {profile}: {message}")]
    QueueSort {
        /// The profile's scheduler name.
        profile: String,
        /// What is wrong.
        message: String,
    },
    /// The configuration itself is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// A Score plugin with its weight.
#[derive(Clone)]
pub struct WeightedScorePlugin {
    /// The plugin.
    pub plugin: Arc<dyn ScorePlugin>,
    /// Its weight (at least 1).
    pub weight: i64,
}

/// The plugins of one scheduler name, ready to run.
#[derive(Clone)]
pub struct Profile {
    /// Pods with this `spec.schedulerName` use this profile.
    pub scheduler_name: String,
    /// This profile's percentage of nodes to score, overriding the global one.
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Gate the queue.
    pub pre_enqueue: Vec<Arc<dyn PreEnqueuePlugin>>,
    /// Orders the queue.
    pub queue_sort: Arc<dyn QueueSortPlugin>,
    /// PreFilter, in order.
    pub pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    /// Filter, in order.
    pub filter: Vec<Arc<dyn FilterPlugin>>,
    /// PostFilter, in order.
    pub post_filter: Vec<Arc<dyn PostFilterPlugin>>,
    /// PreScore, in order.
    pub pre_score: Vec<Arc<dyn PreScorePlugin>>,
    /// Score with weights.
    pub score: Vec<WeightedScorePlugin>,
    /// Reserve.
    pub reserve: Vec<Arc<dyn ReservePlugin>>,
    /// Permit.
    pub permit: Vec<Arc<dyn PermitPlugin>>,
    /// PreBind.
    pub pre_bind: Vec<Arc<dyn PreBindPlugin>>,
    /// Bind.
    pub bind: Vec<Arc<dyn BindPlugin>>,
    /// PostBind.
    pub post_bind: Vec<Arc<dyn PostBindPlugin>>,
    /// For each enabled plugin, the cluster events that may undo its rejections.
    pub events: HashMap<String, Vec<ClusterEvent>>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("scheduler_name", &self.scheduler_name)
            .field("queue_sort", &self.queue_sort.name())
            .field(
                "pre_filter",
                &self.pre_filter.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .field(
                "filter",
                &self.filter.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .field(
                "post_filter",
                &self
                    .post_filter
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>(),
            )
            .field(
                "pre_score",
                &self.pre_score.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .field(
                "score",
                &self
                    .score
                    .iter()
                    .map(|p| (p.plugin.name(), p.weight))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A plugin enabled at an extension point, with its configured weight.
type Enabled<T> = (Arc<T>, Option<i32>);

/// Expands one extension point: part 1, plugins enabled both at the point and in multiPoint, in
/// the point's order; part 2, the other multiPoint plugins that implement the point and are
/// not disabled there; part 3, the rest of the point's enabled plugins.
fn expand<T: ?Sized>(
    profile: &str,
    point_name: &'static str,
    point: &PluginSet,
    multi_point: &PluginSet,
    instances: &HashMap<String, PluginExtensions>,
    get: impl Fn(&PluginExtensions) -> Option<Arc<T>>,
) -> Result<Vec<Enabled<T>>, ProfileError> {
    let disabled: HashSet<&str> = point.disabled.iter().map(|p| p.name.as_str()).collect();
    let all_disabled = disabled.contains("*");
    let explicit: HashSet<&str> = point.enabled.iter().map(|p| p.name.as_str()).collect();
    let mut overridden = HashSet::new();
    let mut from_multi_point = Vec::new();
    let mut seen = HashSet::new();
    for plugin in &multi_point.enabled {
        let Some(extension) = instances.get(&plugin.name).and_then(&get) else {
            continue;
        };
        if all_disabled || disabled.contains(plugin.name.as_str()) {
            continue;
        }
        if explicit.contains(plugin.name.as_str()) {
            overridden.insert(plugin.name.as_str());
            continue;
        }
        if seen.insert(plugin.name.as_str()) {
            from_multi_point.push((extension, plugin.weight));
        }
    }
    let mut first = Vec::new();
    let mut last = Vec::new();
    for plugin in &point.enabled {
        let extension = instances.get(&plugin.name).and_then(&get).ok_or_else(|| {
            ProfileError::NotExtending {
                profile: profile.to_string(),
                plugin: plugin.name.clone(),
                point: point_name,
            }
        })?;
        if !seen.insert(plugin.name.as_str()) && !overridden.contains(plugin.name.as_str()) {
            continue;
        }
        let weight = plugin.weight.or_else(|| {
            multi_point
                .enabled
                .iter()
                .find(|m| m.name == plugin.name)
                .and_then(|m| m.weight)
        });
        if overridden.contains(plugin.name.as_str()) {
            first.push((extension, weight));
        } else {
            last.push((extension, weight));
        }
    }
    first.extend(from_multi_point);
    first.extend(last);
    Ok(first)
}

fn strip<T: ?Sized>(list: Vec<Enabled<T>>) -> Vec<Arc<T>> {
    list.into_iter().map(|(p, _)| p).collect()
}

impl Profile {
    /// Builds a profile from its configuration, merged with upstream's defaults.
    pub fn build(config: &ProfileConfig, registry: &Registry) -> Result<Profile, ProfileError> {
        let name = config.scheduler_name().to_string();
        let defaults = default_plugins(|n| registry.contains(n));
        let plugins: Plugins = merge_plugins(&defaults, config.plugins.as_ref());
        let mut instances: HashMap<String, PluginExtensions> = HashMap::new();
        let points = [
            &plugins.multi_point,
            &plugins.pre_enqueue,
            &plugins.queue_sort,
            &plugins.pre_filter,
            &plugins.filter,
            &plugins.post_filter,
            &plugins.pre_score,
            &plugins.score,
            &plugins.reserve,
            &plugins.permit,
            &plugins.pre_bind,
            &plugins.bind,
            &plugins.post_bind,
        ];
        for set in points {
            for plugin in &set.enabled {
                if instances.contains_key(&plugin.name) {
                    continue;
                }
                let built = registry
                    .build(&plugin.name, config.plugin_args(&plugin.name))
                    .map_err(|source| ProfileError::Plugin {
                        profile: name.clone(),
                        source,
                    })?;
                instances.insert(plugin.name.clone(), built);
            }
        }
        let mp = &plugins.multi_point;
        let queue_sort = strip(expand(
            &name,
            "QueueSort",
            &plugins.queue_sort,
            mp,
            &instances,
            |e| e.queue_sort.clone(),
        )?);
        let [queue_sort] =
            <[_; 1]>::try_from(queue_sort).map_err(|list| ProfileError::QueueSort {
                profile: name.clone(),
                message: format!("one queue sort plugin required, found {}", list.len()),
            })?;
        let score = expand(&name, "Score", &plugins.score, mp, &instances, |e| {
            e.score.clone()
        })?
        .into_iter()
        .map(|(plugin, weight)| WeightedScorePlugin {
            plugin,
            weight: i64::from(weight.unwrap_or(0).max(1)),
        })
        .collect();
        let events = instances
            .iter()
            .map(|(plugin, extension)| (plugin.clone(), extension.events.clone()))
            .collect();
        Ok(Profile {
            percentage_of_nodes_to_score: config.percentage_of_nodes_to_score,
            pre_enqueue: strip(expand(
                &name,
                "PreEnqueue",
                &plugins.pre_enqueue,
                mp,
                &instances,
                |e| e.pre_enqueue.clone(),
            )?),
            queue_sort,
            pre_filter: strip(expand(
                &name,
                "PreFilter",
                &plugins.pre_filter,
                mp,
                &instances,
                |e| e.pre_filter.clone(),
            )?),
            filter: strip(expand(
                &name,
                "Filter",
                &plugins.filter,
                mp,
                &instances,
                |e| e.filter.clone(),
            )?),
            post_filter: strip(expand(
                &name,
                "PostFilter",
                &plugins.post_filter,
                mp,
                &instances,
                |e| e.post_filter.clone(),
            )?),
            pre_score: strip(expand(
                &name,
                "PreScore",
                &plugins.pre_score,
                mp,
                &instances,
                |e| e.pre_score.clone(),
            )?),
            score,
            reserve: strip(expand(
                &name,
                "Reserve",
                &plugins.reserve,
                mp,
                &instances,
                |e| e.reserve.clone(),
            )?),
            permit: strip(expand(
                &name,
                "Permit",
                &plugins.permit,
                mp,
                &instances,
                |e| e.permit.clone(),
            )?),
            pre_bind: strip(expand(
                &name,
                "PreBind",
                &plugins.pre_bind,
                mp,
                &instances,
                |e| e.pre_bind.clone(),
            )?),
            bind: strip(expand(&name, "Bind", &plugins.bind, mp, &instances, |e| {
                e.bind.clone()
            })?),
            post_bind: strip(expand(
                &name,
                "PostBind",
                &plugins.post_bind,
                mp,
                &instances,
                |e| e.post_bind.clone(),
            )?),
            events,
            scheduler_name: name,
        })
    }

    /// Runs PreEnqueue plugins; the first that does not succeed keeps the pod out of activeQ.
    pub fn run_pre_enqueue_plugins(&self, pod: &Pod) -> Status {
        for plugin in &self.pre_enqueue {
            let status = plugin.pre_enqueue(pod);
            if !status.is_success() {
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// Runs PreFilter plugins. Returns the merged node restriction and either Success or the
    /// first rejection / error (with its plugin); records plugins that returned Skip.
    pub fn run_pre_filter_plugins(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        nodes: &[NodeInfo],
    ) -> (PreFilterResult, Status, BTreeSet<&'static str>) {
        let mut result = PreFilterResult::default();
        let mut restricting = BTreeSet::new();
        for plugin in &self.pre_filter {
            let (plugin_result, status) = plugin.pre_filter(state, pod, nodes);
            if status.is_skip() {
                state.skip_filter_plugins.insert(plugin.name());
                continue;
            }
            if !status.is_success() {
                let status = if status.is_rejected() {
                    status
                } else {
                    Status::error(format!(
                        "running PreFilter plugin {:?}: {}",
                        plugin.name(),
                        status.message()
                    ))
                };
                return (result, status.with_plugin(plugin.name()), restricting);
            }
            if let Some(plugin_result) = plugin_result {
                if plugin_result.node_names.is_some() {
                    restricting.insert(plugin.name());
                }
                result = result.merge(plugin_result);
                if result.node_names.as_ref().is_some_and(BTreeSet::is_empty) {
                    let message = format!(
                        "node(s) didn't satisfy plugin(s) [{}] simultaneously",
                        restricting.iter().copied().collect::<Vec<_>>().join(" ")
                    );
                    let status = if restricting.len() == 1 {
                        Status::unresolvable(format!(
                            "node(s) didn't satisfy plugin {}",
                            plugin.name()
                        ))
                    } else {
                        Status::unresolvable(message)
                    };
                    return (result, status.with_plugin(plugin.name()), restricting);
                }
            }
        }
        (result, Status::success(), restricting)
    }

    /// The Filter plugins to run this cycle (those whose PreFilter did not return Skip).
    pub fn enabled_filters(&self, state: &CycleState) -> Vec<&dyn FilterPlugin> {
        self.filter
            .iter()
            .filter(|p| !state.skip_filter_plugins.contains(p.name()))
            .map(|p| p.as_ref())
            .collect()
    }

    /// Runs the PreFilter extensions (AddPod, or RemovePod when `add` is false) of the plugins
    /// whose PreFilter did not skip, after `other` was added to or removed from `node`.
    pub fn run_pre_filter_extensions(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        other: &PodInfo,
        node: &NodeInfo,
        add: bool,
    ) -> Status {
        for plugin in &self.pre_filter {
            if state.skip_filter_plugins.contains(plugin.name()) {
                continue;
            }
            let status = if add {
                plugin.add_pod(state, pod, other, node)
            } else {
                plugin.remove_pod(state, pod, other, node)
            };
            if !status.is_success() {
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// Upstream's `RunFilterPluginsWithNominatedPods`: the node must pass the filters both with
    /// the pods nominated to it that are at least as important as `pod` counted as running
    /// there (so that a pod does not take the room a preemption freed for another), and
    /// without them (so that affinity to a nominated pod does not count).
    pub fn run_filters_with_nominated(
        &self,
        filters: &[&dyn FilterPlugin],
        state: &CycleState,
        pod: &Pod,
        node: &NodeInfo,
        nominated: &[PodInfo],
    ) -> Status {
        let priority = pod_priority(pod);
        let key = pod_key(pod);
        let mut added: Option<(CycleState, NodeInfo)> = None;
        for other in nominated {
            if pod_priority(&other.pod) < priority || other.key() == key {
                continue;
            }
            let (state, node) = added.get_or_insert_with(|| (state.clone(), node.clone()));
            node.add_pod(other.clone());
            let status = self.run_pre_filter_extensions(state, pod, other, node, true);
            if !status.is_success() {
                return status;
            }
        }
        if let Some((state, node)) = &added {
            let status = run_filters(filters, state, pod, node);
            if !status.is_success() {
                return status;
            }
        }
        run_filters(filters, state, pod, node)
    }

    /// Runs PostFilter plugins until one succeeds or errs; returns the last rejection otherwise.
    pub fn run_post_filter_plugins(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        context: &PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status) {
        let mut result = None;
        let mut rejection = Status::unschedulable("");
        for plugin in &self.post_filter {
            let (plugin_result, status) = plugin.post_filter(state, pod, context);
            if status.is_success() || status.code() == StatusCode::Error {
                return (plugin_result, status.with_plugin(plugin.name()));
            }
            if plugin_result.is_some() {
                result = plugin_result;
            }
            rejection = status.with_plugin(plugin.name());
        }
        (result, rejection)
    }

    /// Runs PreScore plugins; records those that returned Skip.
    pub fn run_pre_score_plugins(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        nodes: &[&NodeInfo],
    ) -> Status {
        for plugin in &self.pre_score {
            let status = plugin.pre_score(state, pod, nodes);
            if status.is_skip() {
                state.skip_score_plugins.insert(plugin.name());
            } else if !status.is_success() {
                return Status::error(format!(
                    "running PreScore plugin {:?}: {}",
                    plugin.name(),
                    status.message()
                ))
                .with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// Runs Score plugins on the nodes, normalizes, weights and sums: one total per node.
    pub fn run_score_plugins(
        &self,
        state: &CycleState,
        pod: &Pod,
        nodes: &[&NodeInfo],
    ) -> Result<Vec<i64>, Status> {
        let mut totals = vec![0i64; nodes.len()];
        let mut scores: Vec<NodeScore> = Vec::with_capacity(nodes.len());
        for weighted in &self.score {
            let plugin = &weighted.plugin;
            if state.skip_score_plugins.contains(plugin.name()) {
                continue;
            }
            scores.clear();
            for (index, node) in nodes.iter().enumerate() {
                let score = plugin.score(state, pod, node).map_err(|status| {
                    Status::error(format!(
                        "running Score plugin {:?}: {}",
                        plugin.name(),
                        status.message()
                    ))
                    .with_plugin(plugin.name())
                })?;
                scores.push(NodeScore { node: index, score });
            }
            if plugin.has_normalize() {
                let status = plugin.normalize_scores(state, pod, &mut scores);
                if !status.is_success() {
                    return Err(Status::error(format!(
                        "running Normalize on Score plugin {:?}: {}",
                        plugin.name(),
                        status.message()
                    ))
                    .with_plugin(plugin.name()));
                }
            }
            for score in &scores {
                if !(MIN_NODE_SCORE..=MAX_NODE_SCORE).contains(&score.score) {
                    return Err(Status::error(format!(
                        "plugin {:?} returns an invalid score {}, it should in the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing",
                        plugin.name(),
                        score.score
                    ))
                    .with_plugin(plugin.name()));
                }
                totals[score.node] += score.score * weighted.weight;
            }
        }
        Ok(totals)
    }

    /// Runs Reserve plugins; on failure unreserves all and returns the failure.
    pub fn run_reserve_plugins(&self, state: &mut CycleState, pod: &Pod, node: &str) -> Status {
        for plugin in &self.reserve {
            let status = plugin.reserve(state, pod, node);
            if !status.is_success() {
                self.run_unreserve_plugins(state, pod, node);
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// Runs Unreserve of every Reserve plugin, in reverse order.
    pub fn run_unreserve_plugins(&self, state: &mut CycleState, pod: &Pod, node: &str) {
        for plugin in self.reserve.iter().rev() {
            plugin.unreserve(state, pod, node);
        }
    }

    /// Runs Permit plugins: the first rejection wins; otherwise Wait with the longest timeout
    /// if any plugin waits, else Success.
    pub fn run_permit_plugins(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        node: &str,
    ) -> (Status, Duration) {
        let mut wait: Option<Duration> = None;
        for plugin in &self.permit {
            let (status, timeout) = plugin.permit(state, pod, node);
            match status.code() {
                StatusCode::Success => {}
                StatusCode::Wait => wait = Some(wait.map_or(timeout, |w| w.max(timeout))),
                _ => return (status.with_plugin(plugin.name()), Duration::ZERO),
            }
        }
        match wait {
            Some(timeout) => (Status::new(StatusCode::Wait, Vec::<String>::new()), timeout),
            None => (Status::success(), Duration::ZERO),
        }
    }

    /// Runs PreBind plugins; stops at the first failure.
    pub fn run_pre_bind_plugins(&self, state: &mut CycleState, pod: &Pod, node: &str) -> Status {
        for plugin in &self.pre_bind {
            let status = plugin.pre_bind(state, pod, node);
            if !status.is_success() {
                return status.with_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// Runs Bind plugins until one does not Skip; Skip if all skip.
    pub fn run_bind_plugins(&self, state: &mut CycleState, pod: &Pod, node: &str) -> Status {
        for plugin in &self.bind {
            let status = plugin.bind(state, pod, node);
            if !status.is_skip() {
                return status.with_plugin(plugin.name());
            }
        }
        Status::skip()
    }

    /// Runs PostBind plugins.
    pub fn run_post_bind_plugins(&self, state: &mut CycleState, pod: &Pod, node: &str) {
        for plugin in &self.post_bind {
            plugin.post_bind(state, pod, node);
        }
    }
}

/// Runs the given Filter plugins on one node; stops at the first that does not succeed (the
/// algorithm computes `Profile::enabled_filters` once per cycle and calls this per node).
pub fn run_filters(
    filters: &[&dyn FilterPlugin],
    state: &CycleState,
    pod: &Pod,
    node: &NodeInfo,
) -> Status {
    for plugin in filters {
        let status = plugin.filter(state, pod, node);
        if !status.is_success() {
            if !status.is_rejected() {
                return Status::error(format!(
                    "running {:?} filter plugin: {}",
                    plugin.name(),
                    status.message()
                ))
                .with_plugin(plugin.name());
            }
            return status.with_plugin(plugin.name());
        }
    }
    Status::success()
}

/// Every profile by scheduler name, with the global settings.
#[derive(Debug, Clone)]
pub struct Profiles {
    by_name: HashMap<String, Arc<Profile>>,
    /// Global percentage of nodes to score (0 = adaptive).
    pub percentage_of_nodes_to_score: i32,
    /// Initial backoff.
    pub pod_initial_backoff: Duration,
    /// Maximum backoff.
    pub pod_max_backoff: Duration,
}

impl Profiles {
    /// Builds every profile of a configuration; all must share one QueueSort plugin.
    pub fn build(
        config: &SchedulerConfiguration,
        registry: &Registry,
    ) -> Result<Profiles, ProfileError> {
        config.validate()?;
        let mut by_name = HashMap::new();
        let mut queue_sort: Option<&'static str> = None;
        for profile_config in config.profiles_or_default() {
            let profile = Profile::build(&profile_config, registry)?;
            let sort = profile.queue_sort.name();
            if queue_sort.is_some_and(|q| q != sort) {
                return Err(ProfileError::QueueSort {
                    profile: profile.scheduler_name.clone(),
                    message: "all profiles must use the same queue sort plugin".to_string(),
                });
            }
            queue_sort = Some(sort);
            by_name.insert(profile.scheduler_name.clone(), Arc::new(profile));
        }
        let (initial, max) = config.backoff_seconds();
        Ok(Profiles {
            by_name,
            percentage_of_nodes_to_score: config.percentage_of_nodes_to_score.unwrap_or(0),
            pod_initial_backoff: Duration::from_secs(initial.unsigned_abs()),
            pod_max_backoff: Duration::from_secs(max.unsigned_abs()),
        })
    }

    /// The profile for a pod's `spec.schedulerName` (`default-scheduler` when unset); `None`
    /// means the pod belongs to another scheduler and must be left alone.
    pub fn for_pod(&self, pod: &Pod) -> Option<&Arc<Profile>> {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .filter(|n| !n.is_empty())
            .unwrap_or(crate::config::DEFAULT_SCHEDULER_NAME);
        self.by_name.get(name)
    }

    /// A profile by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Profile>> {
        self.by_name.get(name)
    }

    /// Scheduler names, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Scheduler name → its PreEnqueue plugins, for the queue.
    pub fn pre_enqueue_plugins(&self) -> HashMap<String, Vec<Arc<dyn PreEnqueuePlugin>>> {
        self.by_name
            .iter()
            .map(|(name, profile)| (name.clone(), profile.pre_enqueue.clone()))
            .collect()
    }

    /// Plugin name → events that may undo its rejections, over all profiles.
    pub fn plugin_events(&self) -> HashMap<String, Vec<ClusterEvent>> {
        let mut events: HashMap<String, Vec<ClusterEvent>> = HashMap::new();
        for profile in self.by_name.values() {
            for (name, list) in &profile.events {
                let entry = events.entry(name.clone()).or_default();
                for event in list {
                    if !entry.contains(event) {
                        entry.push(*event);
                    }
                }
            }
        }
        events
    }
}

#[cfg(test)]
mod tests;
