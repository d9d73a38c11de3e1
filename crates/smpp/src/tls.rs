//! SMPP over TLS. Carriers offer it (usually on port 3550) when the link crosses the internet,
//! and client applications outside the gateway's network need it for the same reason.
//!
//! This is rustls with the `ring` provider, the workspace's one TLS stack (DESIGN.md). The
//! configs are built with an explicit provider, so they never depend on a process-wide default.
//! PEM files are loaded here, and every error names the file and the problem, because a TLS
//! link that fails only at handshake time is the hardest kind to debug in the field.
//!
//! The streams are plain `AsyncRead + AsyncWrite`: the client and server drivers run over
//! them exactly as over TCP (see [`crate::supervisor::TlsDialer`] and
//! [`crate::server::Server::serve_tls`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore};

pub use tokio_rustls::client::TlsStream as ClientTlsStream;
pub use tokio_rustls::server::TlsStream as ServerTlsStream;
pub use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A TLS setting that cannot be used. The message names the file or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("cannot load {what} from '{path}': {reason}")]
    File {
        /// What the file should hold ("CA certificates", "private key", …).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// The name to verify the server certificate against is not a DNS name or IP address.
    #[error("'{0}' is not a valid TLS server name (a DNS name or an IP address)")]
    ServerName(String),
    /// rustls refused the combination (e.g. a key that does not match the certificate).
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// How an ESME verifies the SMSC and, optionally, proves who it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM file with the CA certificates that may sign the SMSC's certificate. `None` trusts
    /// the Mozilla root programme (webpki-roots), which fits SMSCs with public certificates.
    pub ca_file: Option<PathBuf>,
    /// The name the SMSC's certificate must carry. `None` means the host connected to.
    pub server_name: Option<String>,
    /// PEM certificate chain for mutual TLS, when the SMSC asks for a client certificate.
    pub cert_file: Option<PathBuf>,
    /// The private key of `cert_file`.
    pub key_file: Option<PathBuf>,
}

/// How the SMPP server proves who it is and, optionally, which clients it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key of `cert_file` (PKCS#8, PKCS#1 or SEC1 PEM).
    pub key_file: PathBuf,
    /// When set, clients must present a certificate signed by one of these CAs (mutual TLS).
    pub client_ca_file: Option<PathBuf>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |reason: String| TlsError::File {
        what,
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM CERTIFICATE block in the file".into()));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::File {
        what: "private key",
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn roots(what: &'static str, path: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(what, path)? {
        store.add(cert).map_err(|e| TlsError::File {
            what,
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(store)
}

fn config_error(e: rustls::Error) -> TlsError {
    TlsError::Config(e.to_string())
}

impl ClientTls {
    /// Loads the files and builds the rustls client configuration (TLS 1.2 and 1.3).
    pub fn load(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let roots = match &self.ca_file {
            Some(path) => roots("CA certificates", path)?,
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .with_root_certificates(roots);
        let config = match (&self.cert_file, &self.key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(certificates("client certificate", cert)?, private_key(key)?)
                .map_err(config_error)?,
            _ => {
                return Err(TlsError::Config(
                    "a client certificate needs both its certificate file and its key file".into(),
                ));
            }
        };
        Ok(Arc::new(config))
    }

    /// The name to verify: `server_name` if set, else `host`.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_owned()).map_err(|_| TlsError::ServerName(name.to_owned()))
    }
}

impl ServerTls {
    /// Loads the files and builds the rustls server configuration (TLS 1.2 and 1.3).
    pub fn load(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(config_error)?;
        let builder = match &self.client_ca_file {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let roots = Arc::new(roots("client CA certificates", path)?);
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(|e| TlsError::Config(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(
                certificates("server certificate", &self.cert_file)?,
                private_key(&self.key_file)?,
            )
            .map_err(config_error)?;
        Ok(Arc::new(config))
    }

    /// The acceptor for [`crate::server::Server::serve_tls`].
    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        Ok(TlsAcceptor::from(self.load()?))
    }
}
