//! The HTTPS front: TLS with optional client certificates (verified against the cluster CA),
//! HTTP/1.1 and HTTP/2, authentication, body collection with the 3 MiB limit, then
//! [`crate::ApiServer::handle`].

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{Instrument, debug, info_span};

use crate::authn::{Authenticator, Credentials, UserInfo};
use crate::pki::Pki;
use crate::status::ApiError;
use crate::{ApiServer, Body, MAX_BODY_BYTES};

/// Errors building the TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM block did not parse.
    #[error("parsing {what}: {source}")]
    Pem {
        /// Which PEM.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built.
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The server's TLS configuration: serving certificate, optional client certificates signed by
/// the cluster CA, ALPN h2 and http/1.1.
pub fn tls_config(pki: &Pki) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca.cert_pem.as_bytes()) {
        roots.add(cert.map_err(|source| TlsError::Pem {
            what: "ca certificate",
            source,
        })?)?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()?;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.serving.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|source| TlsError::Pem {
                what: "serving certificate",
                source,
            })?;
    let key = PrivateKeyDer::from_pem_slice(pki.serving.key_pem.as_bytes()).map_err(|source| {
        TlsError::Pem {
            what: "serving key",
            source,
        }
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    api: ApiServer,
    authenticator: Arc<dyn Authenticator>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    debug!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let api = api.clone();
        let authenticator = authenticator.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(
            async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(t) => t,
                    Err(e) => {
                        debug!(error = %e, "TLS handshake failed");
                        return;
                    }
                };
                // A client certificate belongs to the connection: authenticate it once.
                let cert_user = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| {
                        authenticator.authenticate(&Credentials {
                            client_cert: Some(c.as_ref()),
                            bearer_token: None,
                        })
                    });
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let api = api.clone();
                    let authenticator = authenticator.clone();
                    let cert_user = cert_user.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            dispatch(api, authenticator.as_ref(), cert_user, req).await,
                        )
                    }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                tokio::select! {
                    res = conn => if let Err(e) = res { debug!(error = %e, "connection ended") },
                    _ = conn_shutdown.changed() => {}
                }
            }
            .instrument(info_span!("conn", %peer)),
        );
    }
}

async fn dispatch(
    api: ApiServer,
    authenticator: &dyn Authenticator,
    cert_user: Option<UserInfo>,
    req: Request<Incoming>,
) -> Response<Body> {
    // As upstream: a valid client certificate wins; otherwise a bearer token may authenticate.
    let user = cert_user.or_else(|| {
        let bearer = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)?;
        authenticator.authenticate(&Credentials {
            client_cert: None,
            bearer_token: Some(bearer),
        })
    });
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return crate::error_response(&ApiError::too_large(MAX_BODY_BYTES));
    }
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    let bytes: Bytes = match limited.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return crate::error_response(&ApiError::too_large(MAX_BODY_BYTES));
        }
        Err(e) => {
            return crate::error_response(&ApiError::bad_request(format!(
                "reading the request body: {e}"
            )));
        }
    };
    api.handle(Request::from_parts(parts, bytes), user).await
}
