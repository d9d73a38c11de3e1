//! `mqtts://`: the broker's certificate checked with the workspace's one TLS stack (rustls with
//! the `ring` provider, passed explicitly, so nothing depends on a process-wide default).

use std::path::Path;
use std::sync::Arc;

use rumqttc::tokio_rustls::rustls::pki_types::CertificateDer;
use rumqttc::tokio_rustls::rustls::pki_types::pem::PemObject;
use rumqttc::tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// The client configuration: the CAs of `ca_file` (PEM), or the Mozilla root programme
/// (webpki-roots) without one. The error names the file and the problem.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let roots = match ca_file {
        Some(path) => {
            let fail = |e: String| format!("[mqtt] ca_file '{}': {e}", path.display());
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))? {
                let cert = cert.map_err(|e| fail(e.to_string()))?;
                roots.add(cert).map_err(|e| fail(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(fail("no PEM CERTIFICATE block in the file".into()));
            }
            roots
        }
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("[mqtt] TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
