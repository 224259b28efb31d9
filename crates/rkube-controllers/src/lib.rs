//! rkube's controllers: one module per controller, each a level-triggered reconciler.
//!
//! Event handlers only queue keys; workers re-read current state, compute the difference and
//! act. Controllers talk to the cluster only through a `kube::Client` (in-process or remote,
//! see `rkube-client`); they must never reach into the API server or its store, so each can
//! run in the server process or on another host unchanged.

pub mod garbage_collector;
pub mod namespace;
pub mod resources;
pub mod taint_eviction;
pub mod work_queue;

use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span};

pub use tokio_util::sync::CancellationToken as Shutdown;

/// Runs every controller until `shutdown` fires, then returns once they have stopped.
pub async fn run_all(client: kube::Client, shutdown: CancellationToken) {
    let gc = tokio::spawn(
        garbage_collector::run(client.clone(), shutdown.clone())
            .instrument(info_span!("garbage-collector")),
    );
    let namespaces = tokio::spawn(
        namespace::run(client.clone(), shutdown.clone())
            .instrument(info_span!("namespace-controller")),
    );
    let taint_eviction = tokio::spawn(
        taint_eviction::run(client, shutdown.clone())
            .instrument(info_span!("taint-eviction-controller")),
    );
    let _ = gc.await;
    let _ = namespaces.await;
    let _ = taint_eviction.await;
}
