//! The web dashboard: one self-contained page that polls the REST API with a session cookie
//! (the key is exchanged once at sign-in, see `session`; the page keeps none), showing the
//! queue, connectors, routes, the
//! SMPP server's bound clients, IoT devices and open alerts, recent messages and inbound SMS
//! live.

use std::sync::OnceLock;

use axum::response::Html;
use sha2::{Digest, Sha256};

const PAGE: &str = include_str!("../assets/dashboard.html");

/// `GET /`.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// The page's Content Security Policy: its one inline script by hash (nothing injected into
/// it could run), requests to this origin only, no framing.
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let script = PAGE
            .split_once("<script>")
            .and_then(|(_, rest)| rest.split_once("</script>"))
            .map_or("", |(s, _)| s);
        let hash = base64(&Sha256::digest(script));
        format!(
            "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'"
        )
    })
}

/// Standard base64 with padding (RFC 4648 §4), for the CSP hash source.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn the_policy_names_the_pages_script_by_hash() {
        let csp = content_security_policy();
        assert!(csp.contains("script-src 'sha256-") && csp.contains("frame-ancestors 'none'"));
        assert!(
            !csp.contains("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
            "not the empty script"
        );
    }
}
