//! The Kubernetes kinds rkube serves, as pure functions.
//!
//! This crate owns what a kind *is*: its group, version, resource name, scope and short names
//! (`resources`), how its objects are defaulted and validated, how label and field selectors
//! match them, how `kubectl get` prints them as tables, how patches apply to them and what
//! their OpenAPI schemas say. Objects are `serde_json::Value`s as they travel on the wire.
//! It must never do I/O: no files, no network, no clocks other than values passed in.

pub mod apply;
pub mod conversion;
pub mod defaults;
pub mod fields;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod resources;
pub mod schema;
pub mod selector;
pub mod table;
pub mod validation;

pub use resources::{ResourceInfo, Subresource};
