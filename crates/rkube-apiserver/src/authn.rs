//! Authentication: who sent a request. A trait, so tokens (service accounts) and other
//! methods can join the client-certificate authenticator later.

/// An authenticated user, as upstream's `user.Info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// User name (the certificate's CN).
    pub name: String,
    /// Groups (the certificate's O entries, plus `system:authenticated`).
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The in-process identity of the server's own components.
    pub fn loopback() -> Self {
        UserInfo {
            name: "system:apiserver".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }

    /// Whether the user belongs to `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// What a request presented to prove who it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    /// The verified client certificate chain's leaf (DER), if the TLS handshake had one.
    pub client_cert: Option<&'a [u8]>,
    /// The `Authorization: Bearer` token, if any.
    pub bearer_token: Option<&'a str>,
}

/// Decides who a request is from; `None` means "not authenticated by me".
pub trait Authenticator: Send + Sync {
    /// Authenticates the credentials.
    fn authenticate(&self, credentials: &Credentials<'_>) -> Option<UserInfo>;
}

/// Authenticates by client certificate. The TLS layer has already verified the chain against the
/// cluster CA; this reads the subject: CN is the user, each O a group.
#[derive(Debug, Default)]
pub struct ClientCertAuthenticator;

impl Authenticator for ClientCertAuthenticator {
    fn authenticate(&self, credentials: &Credentials<'_>) -> Option<UserInfo> {
        let der = credentials.client_cert?;
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let subject = cert.subject();
        let name = subject
            .iter_common_name()
            .next()?
            .as_str()
            .ok()?
            .to_string();
        let mut groups: Vec<String> = subject
            .iter_organization()
            .filter_map(|o| o.as_str().ok().map(str::to_string))
            .collect();
        groups.push("system:authenticated".into());
        Some(UserInfo { name, groups })
    }
}

/// Tries each authenticator in turn.
pub struct UnionAuthenticator(pub Vec<Box<dyn Authenticator>>);

impl Authenticator for UnionAuthenticator {
    fn authenticate(&self, credentials: &Credentials<'_>) -> Option<UserInfo> {
        self.0.iter().find_map(|a| a.authenticate(credentials))
    }
}
