//! rkube's node agent. For now only [`sim`], the simulated runtime: it runs annotated Nodes
//! and the pods bound to them without containers, for tests and scale. The real agent (CRI
//! runtime, CNI, volumes, probes) comes later and implements the same [`sim::NodeRuntime`].

pub mod sim;
