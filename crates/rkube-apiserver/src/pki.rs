//! The cluster's certificates: a CA, the API server's serving certificate and the admin client
//! certificate, generated on first start, kept in the data directory and reused; and the admin
//! kubeconfig that authenticates with that client certificate.

use std::path::{Path, PathBuf};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// Errors creating or loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Generating or parsing a certificate failed.
    #[error("certificate {what}: {source}")]
    Cert {
        /// Which certificate.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
}

type Result<T> = std::result::Result<T, PkiError>;

/// PEM-encoded certificate and key.
#[derive(Debug, Clone)]
pub struct CertPair {
    /// Certificate (PEM).
    pub cert_pem: String,
    /// Private key (PEM, PKCS#8).
    pub key_pem: String,
}

/// The cluster's certificates.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The cluster CA.
    pub ca: CertPair,
    /// The API server's serving certificate, signed by the CA.
    pub serving: CertPair,
    /// The admin client certificate (CN=admin, O=system:masters), signed by the CA.
    pub admin: CertPair,
}

impl Pki {
    /// Loads the certificates from `dir`, creating what is missing. The serving certificate is
    /// made anew when its names do not cover `hosts` (e.g. a new bind address).
    pub fn load_or_create(dir: &Path, hosts: &[String]) -> Result<Pki> {
        std::fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            path: dir.into(),
            source,
        })?;
        let ca = match read_pair(dir, "ca")? {
            Some(pair) => pair,
            None => write_pair(dir, "ca", &new_ca()?)?,
        };
        let ca_key = KeyPair::from_pem(&ca.key_pem).map_err(|source| PkiError::Cert {
            what: "ca key",
            source,
        })?;
        let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, &ca_key)
            .map_err(|source| PkiError::Cert { what: "ca", source })?;

        let wanted_hosts = hosts.join(",");
        let hosts_file = dir.join("serving.hosts");
        let serving = match (
            read_pair(dir, "serving")?,
            std::fs::read_to_string(&hosts_file).ok(),
        ) {
            (Some(pair), Some(saved)) if saved == wanted_hosts => pair,
            _ => {
                let pair = write_pair(dir, "serving", &new_serving(hosts, &issuer)?)?;
                write_file(&hosts_file, wanted_hosts.as_bytes())?;
                pair
            }
        };
        let admin = match read_pair(dir, "admin")? {
            Some(pair) => pair,
            None => write_pair(
                dir,
                "admin",
                &new_client("admin", &["system:masters"], &issuer)?,
            )?,
        };
        Ok(Pki { ca, serving, admin })
    }

    /// Signs a client certificate for `user` in `groups` with the cluster CA.
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<CertPair> {
        let ca_key = KeyPair::from_pem(&self.ca.key_pem).map_err(|source| PkiError::Cert {
            what: "ca key",
            source,
        })?;
        let issuer = Issuer::from_ca_cert_pem(&self.ca.cert_pem, &ca_key)
            .map_err(|source| PkiError::Cert { what: "ca", source })?;
        new_client(user, groups, &issuer)
    }

    /// A kubeconfig for `server` that authenticates with `client`.
    pub fn kubeconfig(&self, server: &str, client: &CertPair) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {server}\n  name: rkube\ncontexts:\n- context:\n    cluster: rkube\n    user: admin\n  name: rkube\ncurrent-context: rkube\npreferences: {{}}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&self.ca.cert_pem),
            b64(&client.cert_pem),
            b64(&client.key_pem),
        )
    }
}

fn new_ca() -> Result<CertPair> {
    let err = |source| PkiError::Cert { what: "ca", source };
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("rkube-ca@{}", unix_now()));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_after = rcgen::date_time_ymd(2126, 1, 1);
    let cert = params.self_signed(&key).map_err(err)?;
    Ok(CertPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn new_serving(hosts: &[String], issuer: &Issuer<'_, &KeyPair>) -> Result<CertPair> {
    let err = |source| PkiError::Cert {
        what: "serving",
        source,
    };
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "kube-apiserver");
    params.distinguished_name = dn;
    for host in hosts {
        let san = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.clone().try_into().map_err(err)?),
        };
        if !params.subject_alt_names.contains(&san) {
            params.subject_alt_names.push(san);
        }
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_after = rcgen::date_time_ymd(2126, 1, 1);
    let cert = params.signed_by(&key, issuer).map_err(err)?;
    Ok(CertPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn new_client(user: &str, groups: &[&str], issuer: &Issuer<'_, &KeyPair>) -> Result<CertPair> {
    let err = |source| PkiError::Cert {
        what: "client",
        source,
    };
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, user);
    for group in groups {
        dn.push(DnType::OrganizationName, *group);
    }
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_after = rcgen::date_time_ymd(2126, 1, 1);
    let cert = params.signed_by(&key, issuer).map_err(err)?;
    Ok(CertPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn read_pair(dir: &Path, name: &str) -> Result<Option<CertPair>> {
    let cert_path = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    if !cert_path.exists() || !key_path.exists() {
        return Ok(None);
    }
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| PkiError::Io {
            path: p.into(),
            source,
        })
    };
    Ok(Some(CertPair {
        cert_pem: read(&cert_path)?,
        key_pem: read(&key_path)?,
    }))
}

fn write_pair(dir: &Path, name: &str, pair: &CertPair) -> Result<CertPair> {
    write_file(&dir.join(format!("{name}.crt")), pair.cert_pem.as_bytes())?;
    write_file(&dir.join(format!("{name}.key")), pair.key_pem.as_bytes())?;
    Ok(pair.clone())
}

/// Writes `data` to `path` atomically (temporary file, fsync, rename), readable by the owner only.
pub fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| PkiError::Io {
        path: path.into(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(data).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_and_reuses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let a = Pki::load_or_create(dir.path(), &hosts).expect("create");
        let b = Pki::load_or_create(dir.path(), &hosts).expect("load");
        assert_eq!(a.ca.cert_pem, b.ca.cert_pem);
        assert_eq!(a.serving.cert_pem, b.serving.cert_pem);
        assert_eq!(a.admin.cert_pem, b.admin.cert_pem);
        let c = Pki::load_or_create(dir.path(), &["localhost".to_string()]).expect("new hosts");
        assert_eq!(a.ca.cert_pem, c.ca.cert_pem);
        assert_ne!(a.serving.cert_pem, c.serving.cert_pem);
    }
}
