//! Builds the kube-rs `Client` every rkube component talks to the API with.
//!
//! Two ways, one client type: [`in_process`] hands each request straight to the
//! [`ApiServer`] in this process (a tower service, no sockets, no TLS) as the controller
//! manager's identity; [`from_kubeconfig`] connects to a remote server over HTTPS. Components
//! written against `kube::Client` therefore run unchanged in the server or on another host.
//! This crate owns only the transport: it must never reach into the API server's store or
//! internals, and must never skip authentication or authorization (in-process requests carry
//! a user and go through the same request path as any other).

use std::path::Path;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Request, Response};
use http_body_util::BodyExt;
use rkube_apiserver::ApiServer;
use rkube_apiserver::authn::UserInfo;

/// The user in-process controllers act as (upstream's kube-controller-manager identity).
pub const CONTROLLER_MANAGER_USER: &str = "system:kube-controller-manager";

/// Errors of building or using a client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body of an outgoing request could not be read.
    #[error("reading the request body: {0}")]
    RequestBody(#[source] kube::Error),
    /// The kubeconfig file could not be read or used.
    #[error("loading kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The client could not be built from the configuration (TLS, proxy, auth).
    #[error("building the client: {0}")]
    Build(#[source] kube::Error),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A client whose requests are served by `api` in this process, as
/// [`CONTROLLER_MANAGER_USER`] in the `system:masters` group. Must be called inside a tokio
/// runtime (kube's request buffer spawns a task).
pub fn in_process(api: ApiServer) -> kube::Client {
    in_process_as(api, controller_manager())
}

/// Like [`in_process`], with another identity.
pub fn in_process_as(api: ApiServer, user: UserInfo) -> kube::Client {
    kube::Client::new(InProcessTransport { api, user }, "default")
}

/// The identity of in-process controllers.
pub fn controller_manager() -> UserInfo {
    UserInfo {
        name: CONTROLLER_MANAGER_USER.into(),
        groups: vec!["system:masters".into(), "system:authenticated".into()],
    }
}

/// A client for the server named by the current context of the kubeconfig at `path`.
pub async fn from_kubeconfig(path: &Path) -> Result<kube::Client> {
    let kubeconfig_error = |source| Error::Kubeconfig {
        path: path.display().to_string(),
        source,
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .map_err(kubeconfig_error)?;
    kube::Client::try_from(config).map_err(Error::Build)
}

/// The tower service behind [`in_process`]: collects the request body and calls
/// [`ApiServer::handle`] with a fixed user. Responses (watches included) stream back as the
/// server produces them.
#[derive(Clone)]
pub struct InProcessTransport {
    api: ApiServer,
    user: UserInfo,
}

impl tower::Service<Request<kube::client::Body>> for InProcessTransport {
    type Response = Response<rkube_apiserver::Body>;
    type Error = Error;
    type Future = BoxFuture<'static, Result<Self::Response>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<kube::client::Body>) -> Self::Future {
        let api = self.api.clone();
        let user = self.user.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let bytes: Bytes = body.collect().await.map_err(Error::RequestBody)?.to_bytes();
            let response = api
                .handle(Request::from_parts(parts, bytes), Some(user))
                .await;
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
    use rkube_apiserver::authz::BootstrapAuthorizer;
    use rkube_apiserver::{ApiServer, Config};
    use rkube_store::{MemoryStore, Store};

    use super::*;

    fn api_server() -> ApiServer {
        let config = Config {
            service_cidr: ([10, 43, 0, 0].into(), 16),
            node_port_range: (30000, 32767),
            advertise_address: "127.0.0.1".into(),
            port: 6443,
        };
        ApiServer::new(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            Box::new(BootstrapAuthorizer),
            config,
        )
    }

    #[tokio::test]
    async fn in_process_client_creates_lists_and_watches() -> anyhow::Result<()> {
        let api = api_server();
        api.start().await?;
        let client = in_process(api);
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let names: Vec<String> = namespaces
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        assert!(names.contains(&"kube-system".to_string()), "{names:?}");

        let cms: Api<ConfigMap> = Api::namespaced(client, "default");
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("a".into());
        let created = cms.create(&PostParams::default(), &cm).await?;
        assert!(created.metadata.uid.is_some());

        let rv = created
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default();
        let mut stream = Box::pin(cms.watch(&WatchParams::default(), &rv).await?);
        cm.metadata.name = Some("b".into());
        cms.create(&PostParams::default(), &cm).await?;
        use futures_util::StreamExt;
        let event = stream.next().await;
        match event {
            Some(Ok(WatchEvent::Added(o))) => assert_eq!(o.metadata.name.as_deref(), Some("b")),
            other => panic!("unexpected {other:?}"),
        }
        Ok(())
    }
}
