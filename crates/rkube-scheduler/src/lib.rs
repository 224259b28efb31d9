//! rkube's scheduler core, in the image of kube-scheduler: node snapshots, the plugin framework
//! (one small trait per extension point, one `Status` type, a registry of plugins by name),
//! profiles built from a `KubeSchedulerConfiguration`, the scheduling algorithm and the
//! scheduling queue.
//!
//! This crate owns the *decisions*: which node a pod goes to, why it cannot go anywhere, and when
//! an unschedulable pod is worth retrying. It must never do I/O: it does not talk to the API,
//! sleep or read the clock (time is passed in); wiring to the API lives above it.

pub mod affinity;
pub mod algorithm;
pub mod config;
pub mod framework;
pub mod node_info;
pub mod node_memo;
pub mod plugins;
pub mod profile;
pub mod queue;
pub mod registry;
pub mod resources;
pub mod runner;

pub use algorithm::{FitError, ScheduleError, ScheduleResult, SchedulingAlgorithm};
pub use config::SchedulerConfiguration;
pub use framework::{CycleState, Status, StatusCode};
pub use node_info::{NodeInfo, Snapshot};
pub use profile::{Profile, Profiles};
pub use queue::SchedulingQueue;
pub use registry::Registry;
pub use resources::Resource;
