//! The scheduling framework: the `Status` every plugin returns, the per-cycle state plugins
//! share, one trait per extension point, and the cluster events that can make a pod schedulable.

pub mod cycle_state;
pub mod events;
pub mod interface;
pub mod status;

pub use cycle_state::CycleState;
pub use events::{ActionType, ClusterEvent, EventResource, node_update_action, pod_update_action};
pub use interface::{
    BindPlugin, FilterPlugin, MAX_NODE_SCORE, MIN_NODE_SCORE, NodeScore, PermitPlugin, Plugin,
    PluginExtensions, PostBindPlugin, PostFilterContext, PostFilterPlugin, PostFilterResult,
    PreBindPlugin, PreEnqueuePlugin, PreFilterPlugin, PreFilterResult, PreScorePlugin,
    QueueSortPlugin, QueuedPodInfo, ReservePlugin, ScorePlugin, default_normalize_score,
};
pub use status::{Status, StatusCode};
