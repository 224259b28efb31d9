//! A minimal HTTPS client for the benchmark: one HTTP/2 connection per [`ApiConnection`],
//! authenticated with the admin client certificate, many concurrent streams on it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tracing::{Instrument, debug, debug_span};

/// Content type of a JSON merge patch.
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";
/// Content type of a JSON body.
pub const JSON: &str = "application/json";

/// The client TLS configuration: the cluster CA as the only root, the admin certificate as the
/// client certificate, ALPN h2.
#[derive(Clone)]
pub struct ClientCredentials {
    tls: Arc<rustls::ClientConfig>,
}

impl ClientCredentials {
    /// Loads `ca.crt`, `admin.crt` and `admin.key` from the server's `tls` directory.
    pub fn load(tls_dir: &Path) -> Result<ClientCredentials> {
        let read = |name: &str| {
            let path = tls_dir.join(name);
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
        };
        let (ca, cert, key) = (read("ca.crt")?, read("admin.crt")?, read("admin.key")?);
        let mut roots = rustls::RootCertStore::empty();
        for der in CertificateDer::pem_slice_iter(&ca) {
            roots
                .add(der.context("parsing ca.crt")?)
                .context("adding the cluster CA")?;
        }
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
            .collect::<Result<_, _>>()
            .context("parsing admin.crt")?;
        let key = PrivateKeyDer::from_pem_slice(&key).context("parsing admin.key")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .context("using the admin client certificate")?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(ClientCredentials {
            tls: Arc::new(config),
        })
    }
}

/// One TLS + HTTP/2 connection to the API server. Cloning shares the connection.
#[derive(Clone)]
pub struct ApiConnection {
    sender: SendRequest<Full<Bytes>>,
    base: String,
}

impl ApiConnection {
    /// Connects to `addr`, verifying the serving certificate for that IP address.
    pub async fn connect(
        addr: SocketAddr,
        credentials: &ClientCredentials,
    ) -> Result<ApiConnection> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true)?;
        let connector = tokio_rustls::TlsConnector::from(credentials.tls.clone());
        let tls = connector
            .connect(ServerName::IpAddress(addr.ip().into()), tcp)
            .await
            .context("TLS handshake")?;
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            bail!("the server did not negotiate HTTP/2");
        }
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(tls))
            .await
            .context("HTTP/2 handshake")?;
        tokio::spawn(
            async move {
                if let Err(e) = connection.await {
                    debug!(error = %e, "connection ended");
                }
            }
            .instrument(debug_span!("bench-conn", %addr)),
        );
        Ok(ApiConnection {
            sender,
            base: format!("https://{addr}"),
        })
    }

    /// Sends a request and returns the response with its body unread.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Response<Incoming>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::ACCEPT, JSON);
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        let request = builder.body(Full::new(body))?;
        let mut sender = self.sender.clone();
        sender.ready().await.context("connection closed")?;
        Ok(sender.send_request(request).await?)
    }

    /// Sends a request and reads the whole response body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes)> {
        let response = self.send(method, path, content_type, body).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// GETs `path` and parses the JSON answer; a non-2xx status is an error.
    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let (status, body) = self.call(Method::GET, path, None, Bytes::new()).await?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&body));
        }
        serde_json::from_slice(&body).with_context(|| format!("GET {path}: parsing the answer"))
    }

    /// POSTs a JSON body; 2xx and, when `conflict_ok`, 409 count as success.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        conflict_ok: bool,
    ) -> Result<()> {
        let (status, answer) = self
            .call(
                Method::POST,
                path,
                Some(JSON),
                Bytes::from(body.to_string()),
            )
            .await?;
        if status.is_success() || (conflict_ok && status == StatusCode::CONFLICT) {
            Ok(())
        } else {
            bail!(
                "POST {path}: {status}: {}",
                String::from_utf8_lossy(&answer)
            )
        }
    }
}
