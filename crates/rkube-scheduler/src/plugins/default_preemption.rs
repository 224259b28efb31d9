//! DefaultPreemption (PostFilter): when no node fits, find nodes where evicting lower-priority
//! pods would let the pod in, pick the victims on each (remove every lower-priority pod, then
//! reprieve the most important ones that can stay, PDB-violating ones first), and choose one
//! node as upstream's `pickOneNodeForPreemption` does: fewest PDB violations, lowest highest
//! victim priority, smallest sum of priorities, fewest victims, latest start of the highest-
//! priority victims, then the first.
//!
//! The plugin does no I/O. On success it returns the nominated node and writes a
//! [`PreemptionOutcome`] (node and victims) into the `CycleState` under
//! [`PREEMPTION_OUTCOME_KEY`]; the caller deletes the victims and sets the pod's
//! `status.nominatedNodeName`. PodDisruptionBudgets come from the caller as a
//! [`PodDisruptionBudgets`] under [`PDBS_KEY`] (none: no pod is protected).
//!
//! Pods nominated to a node by earlier preemptions count as running there when at least as
//! important as the preemptor; less important ones lose their nomination to the chosen node.
//!
//! Deviation: candidates are tried from the first potential node (upstream starts at a random
//! offset).

use std::cmp::Ordering;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Deserialize;

use crate::affinity::label_selector_matches;
use crate::algorithm::{NodeToStatus, reason_histogram};
use crate::framework::{
    CycleState, Plugin, PluginExtensions, PostFilterContext, PostFilterPlugin, PostFilterResult,
    Status, StatusCode,
};
use crate::node_info::{NodeInfo, PodInfo};
use crate::plugins::priority_sort::pod_priority;
use crate::registry::{RegistryError, decode_args};

/// The plugin's name.
pub const NAME: &str = "DefaultPreemption";
/// CycleState key under which the caller stores [`PodDisruptionBudgets`].
pub const PDBS_KEY: &str = "rkube.io/PodDisruptionBudgets";
/// CycleState key under which the plugin leaves its [`PreemptionOutcome`].
pub const PREEMPTION_OUTCOME_KEY: &str = "rkube.io/PreemptionOutcome";
/// Status of a node where no pod has a lower priority.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
/// Status of a node where removing pods cannot help.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// The cluster's PodDisruptionBudgets (written by the caller into the cycle state).
#[derive(Debug, Clone, Default)]
pub struct PodDisruptionBudgets(pub Arc<Vec<PodDisruptionBudget>>);

/// What the caller must do after a successful preemption: delete `victims`, clear the
/// `status.nominatedNodeName` of `displaced_nominations` and set the pod's to `node_name`.
#[derive(Debug, Clone, PartialEq)]
pub struct PreemptionOutcome {
    /// The nominated node.
    pub node_name: String,
    /// Pods to evict, most important first.
    pub victims: Vec<Arc<Pod>>,
    /// Less important pods nominated to the same node, which lose their nomination
    /// (upstream's `getLowerPriorityNominatedPods`).
    pub displaced_nominations: Vec<Arc<Pod>>,
}

/// `DefaultPreemptionArgs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DefaultPreemptionArgs {
    /// Candidates to find, as a percentage of the potential nodes (default 10).
    pub min_candidate_nodes_percentage: i32,
    /// Candidates to find at least (default 100).
    pub min_candidate_nodes_absolute: i32,
}

impl Default for DefaultPreemptionArgs {
    fn default() -> Self {
        DefaultPreemptionArgs {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

fn start_time(pod: &Pod) -> Option<&Time> {
    pod.status.as_ref().and_then(|s| s.start_time.as_ref())
}

/// Start times with "not started" (now) after every real time.
fn compare_start(a: Option<&Time>, b: Option<&Time>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Upstream's `MoreImportantPod` as an ordering: higher priority first, then earlier start.
fn importance(a: &Pod, b: &Pod) -> Ordering {
    pod_priority(b)
        .cmp(&pod_priority(a))
        .then_with(|| compare_start(start_time(a), start_time(b)))
}

/// A node where preemption works, with its victims.
#[derive(Debug, Clone)]
struct Candidate {
    node_name: String,
    victims: Vec<PodInfo>,
    pdb_violations: usize,
}

/// Preempts lower-priority pods.
#[derive(Debug, Default)]
pub struct DefaultPreemptionPlugin {
    args: DefaultPreemptionArgs,
}

impl Plugin for DefaultPreemptionPlugin {
    fn name(&self) -> &'static str {
        NAME
    }
}

/// Splits pods (most important first) into those whose eviction would violate a PDB and the
/// others, counting down each budget's `disruptionsAllowed` as pods are taken.
fn split_by_pdb_violation(
    pods: Vec<PodInfo>,
    pdbs: &[PodDisruptionBudget],
) -> (Vec<PodInfo>, Vec<PodInfo>) {
    let mut allowed: Vec<i32> = pdbs
        .iter()
        .map(|p| p.status.as_ref().map_or(0, |s| s.disruptions_allowed))
        .collect();
    let (mut violating, mut non_violating) = (Vec::new(), Vec::new());
    for info in pods {
        let pod = &info.pod;
        let mut violated = false;
        if pod.metadata.labels.as_ref().is_some_and(|l| !l.is_empty()) {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.metadata.namespace != pod.metadata.namespace {
                    continue;
                }
                let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                    continue;
                };
                let empty = selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
                    && selector
                        .match_expressions
                        .as_ref()
                        .is_none_or(|m| m.is_empty());
                if empty || !label_selector_matches(selector, pod.metadata.labels.as_ref()) {
                    continue;
                }
                let name = pod.metadata.name.as_deref().unwrap_or("");
                if pdb
                    .status
                    .as_ref()
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .is_some_and(|d| d.contains_key(name))
                {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(info);
        } else {
            non_violating.push(info);
        }
    }
    (violating, non_violating)
}

impl DefaultPreemptionPlugin {
    /// Upstream's `SelectVictimsOnNode`: the victims (most important first) and how many of
    /// them violate a PDB, or why preemption does not help on the node.
    fn select_victims_on_node(
        &self,
        input: &CycleState,
        pod: &Pod,
        context: &PostFilterContext<'_>,
        node: &NodeInfo,
        pdbs: &[PodDisruptionBudget],
    ) -> Result<(Vec<PodInfo>, usize), Status> {
        let priority = pod_priority(pod);
        let mut potential: Vec<PodInfo> = node
            .pods
            .iter()
            .filter(|p| pod_priority(&p.pod) < priority)
            .cloned()
            .collect();
        if potential.is_empty() {
            return Err(Status::unresolvable(NO_VICTIMS));
        }
        // The cycle state as PreFilter left it, to remove and add pods in.
        let mut state = input.clone();
        let mut node = node.clone();
        for victim in &potential {
            node.remove_pod(&victim.pod);
            let status = context
                .profile
                .run_pre_filter_extensions(&mut state, pod, victim, &node, false);
            if !status.is_success() {
                return Err(status);
            }
        }
        let nominated = context.snapshot.nominated_pods(node.name());
        let filters = context.profile.enabled_filters(&state);
        let status = context
            .profile
            .run_filters_with_nominated(&filters, &state, pod, &node, nominated);
        if !status.is_success() {
            return Err(status);
        }
        potential.sort_by(|a, b| importance(&a.pod, &b.pod));
        let (violating, non_violating) = split_by_pdb_violation(potential, pdbs);
        let mixed = !violating.is_empty() && !non_violating.is_empty();
        let mut victims = Vec::new();
        let mut violations = 0;
        for (is_violating, info) in violating
            .into_iter()
            .map(|p| (true, p))
            .chain(non_violating.into_iter().map(|p| (false, p)))
        {
            node.add_pod(info.clone());
            let status = context
                .profile
                .run_pre_filter_extensions(&mut state, pod, &info, &node, true);
            if !status.is_success() {
                return Err(status);
            }
            if !context
                .profile
                .run_filters_with_nominated(&filters, &state, pod, &node, nominated)
                .is_success()
            {
                node.remove_pod(&info.pod);
                let status = context
                    .profile
                    .run_pre_filter_extensions(&mut state, pod, &info, &node, false);
                if !status.is_success() {
                    return Err(status);
                }
                if is_violating {
                    violations += 1;
                }
                victims.push(info);
            }
        }
        if mixed {
            victims.sort_by(|a, b| importance(&a.pod, &b.pod));
        }
        Ok((victims, violations))
    }
}

/// Upstream's `pickOneNodeForPreemption`.
fn pick_one(candidates: &[Candidate]) -> Option<&Candidate> {
    let highest = |c: &Candidate| c.victims.first().map_or(i32::MIN, |v| pod_priority(&v.pod));
    let sum = |c: &Candidate| -> i64 {
        c.victims
            .iter()
            .map(|v| i64::from(pod_priority(&v.pod)) + i64::from(i32::MAX) + 1)
            .sum()
    };
    let earliest_of_highest = |c: &Candidate| -> Option<Time> {
        let top = highest(c);
        c.victims
            .iter()
            .filter(|v| pod_priority(&v.pod) == top)
            .map(|v| start_time(&v.pod))
            .min_by(|a, b| compare_start(*a, *b))
            .flatten()
            .cloned()
    };
    let mut remaining: Vec<&Candidate> = candidates.iter().collect();
    let keep_min = |remaining: &mut Vec<&Candidate>, key: &dyn Fn(&Candidate) -> i64| {
        if let Some(best) = remaining.iter().map(|c| key(c)).min() {
            remaining.retain(|c| key(c) == best);
        }
    };
    keep_min(&mut remaining, &|c| c.pdb_violations as i64);
    keep_min(&mut remaining, &|c| i64::from(highest(c)));
    keep_min(&mut remaining, &sum);
    keep_min(&mut remaining, &|c| c.victims.len() as i64);
    if remaining.len() > 1 {
        let starts: Vec<Option<Time>> = remaining.iter().map(|c| earliest_of_highest(c)).collect();
        let mut best = 0;
        for i in 1..starts.len() {
            if compare_start(starts[i].as_ref(), starts[best].as_ref()) == Ordering::Greater {
                best = i;
            }
        }
        return Some(remaining[best]);
    }
    remaining.first().copied()
}

impl PostFilterPlugin for DefaultPreemptionPlugin {
    fn post_filter(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        context: &PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status) {
        if pod
            .spec
            .as_ref()
            .and_then(|s| s.preemption_policy.as_deref())
            == Some("Never")
        {
            return (
                None,
                Status::unschedulable("preemption: not eligible due to preemptionPolicy=Never."),
            );
        }
        let snapshot = context.snapshot;
        let priority = pod_priority(pod);
        if let Some(nominated) = pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .filter(|n| !n.is_empty())
            && let Some(node) = snapshot.get(nominated)
            && context
                .node_statuses
                .get(nominated)
                .is_none_or(|s| s.code() != StatusCode::UnschedulableAndUnresolvable)
            && node.pods.iter().any(|p| {
                p.pod.metadata.deletion_timestamp.is_some() && pod_priority(&p.pod) < priority
            })
        {
            return (
                None,
                Status::unschedulable(
                    "preemption: not eligible due to a terminating pod on the nominated node.",
                ),
            );
        }
        let pdbs = state
            .read::<PodDisruptionBudgets>(PDBS_KEY)
            .cloned()
            .unwrap_or_default();
        let mut statuses = NodeToStatus::default();
        let potential: Vec<&NodeInfo> = snapshot
            .nodes()
            .iter()
            .filter(|node| {
                let helps = context
                    .node_statuses
                    .get(node.name())
                    .is_some_and(|s| s.code() != StatusCode::UnschedulableAndUnresolvable);
                if !helps {
                    statuses.set(node.name(), Status::unresolvable(NOT_HELPFUL));
                }
                helps
            })
            .collect();
        let by_percentage =
            potential.len() as i64 * i64::from(self.args.min_candidate_nodes_percentage) / 100;
        let num_candidates = by_percentage
            .max(i64::from(self.args.min_candidate_nodes_absolute))
            .min(potential.len() as i64) as usize;
        let mut candidates = Vec::new();
        let mut non_violating = 0;
        for node in potential {
            match self.select_victims_on_node(state, pod, context, node, &pdbs.0) {
                Ok((victims, _)) if victims.is_empty() => {
                    statuses.set(
                        node.name(),
                        Status::error(format!(
                            "expected at least one victim pod on node {:?}",
                            node.name()
                        )),
                    );
                }
                Ok((victims, pdb_violations)) => {
                    if pdb_violations == 0 {
                        non_violating += 1;
                    }
                    candidates.push(Candidate {
                        node_name: node.name().to_string(),
                        victims,
                        pdb_violations,
                    });
                    if non_violating > 0 && candidates.len() >= num_candidates {
                        break;
                    }
                }
                Err(status) if status.code() == StatusCode::Error => return (None, status),
                Err(status) => statuses.set(node.name(), status),
            }
        }
        let Some(chosen) = pick_one(&candidates) else {
            let histogram = reason_histogram(&statuses, snapshot.len());
            let mut message = format!("preemption: 0/{} nodes are available:", snapshot.len());
            if !histogram.is_empty() {
                message.push_str(&format!(" {}.", histogram.join(", ")));
            }
            return (
                Some(PostFilterResult {
                    nominated_node_name: Some(String::new()),
                }),
                Status::unschedulable(message),
            );
        };
        state.write(
            PREEMPTION_OUTCOME_KEY,
            PreemptionOutcome {
                node_name: chosen.node_name.clone(),
                victims: chosen.victims.iter().map(|v| v.pod.clone()).collect(),
                displaced_nominations: snapshot
                    .nominated_pods(&chosen.node_name)
                    .iter()
                    .filter(|p| pod_priority(&p.pod) < pod_priority(pod))
                    .map(|p| p.pod.clone())
                    .collect(),
            },
        );
        (
            Some(PostFilterResult {
                nominated_node_name: Some(chosen.node_name.clone()),
            }),
            Status::success(),
        )
    }
}

/// Builds the plugin from `DefaultPreemptionArgs`.
pub fn new(args: Option<&serde_json::Value>) -> Result<PluginExtensions, RegistryError> {
    let args: DefaultPreemptionArgs = decode_args(NAME, args)?;
    if !(0..=100).contains(&args.min_candidate_nodes_percentage)
        || args.min_candidate_nodes_absolute < 0
        || (args.min_candidate_nodes_percentage == 0 && args.min_candidate_nodes_absolute == 0)
    {
        return Err(RegistryError::InvalidArgs {
            plugin: NAME.to_string(),
            message: "minCandidateNodesPercentage/minCandidateNodesAbsolute out of range".into(),
        });
    }
    Ok(PluginExtensions {
        post_filter: Some(Arc::new(DefaultPreemptionPlugin { args })),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;
