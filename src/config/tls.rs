//! Validation of the TLS parts of the config: `[server.tls]`, `[auth.mtls]` and the TLS
//! settings of `https://` upstreams. Files are read and parsed at load, so a bad certificate
//! is a config error naming its key, not a runtime surprise.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::ConfigError;
use super::duration::parse_duration;
use super::raw::{RawMtls, RawTls, RawUpstream};
use crate::tls::identity::SubjectFrom;
use crate::tls::{ClientAuth, MtlsSettings, TlsSettings};

/// Validates `[server.tls]` and checks that its files build a working TLS config.
pub fn server_tls(raw: RawTls) -> Result<TlsSettings, ConfigError> {
    let client_auth = match (raw.client_auth.as_deref(), &raw.client_ca) {
        (None | Some("required"), Some(_)) => ClientAuth::Required,
        (Some("optional"), Some(_)) => ClientAuth::Optional,
        (Some(_), None) => return Err(ConfigError::at("server.tls.client_auth", "needs server.tls.client_ca")),
        (None, None) => ClientAuth::Optional,
        (Some(other), Some(_)) => {
            return Err(ConfigError::at(
                "server.tls.client_auth",
                format!("`{other}` is not one of \"optional\", \"required\""),
            ));
        }
    };
    if !raw.crls.is_empty() && raw.client_ca.is_none() {
        return Err(ConfigError::at("server.tls.crls", "needs server.tls.client_ca"));
    }
    let reload_check = parse_duration(&raw.reload_check).map_err(|m| ConfigError::at("server.tls.reload_check", m))?;
    let settings = TlsSettings {
        cert: raw.cert.into(),
        key: raw.key.into(),
        sni: raw.sni.into_iter().map(|s| (s.cert.into(), s.key.into())).collect(),
        client_ca: raw.client_ca.map(PathBuf::from),
        client_auth,
        crls: raw.crls.into_iter().map(PathBuf::from).collect(),
        reload_check: reload_check.max(Duration::from_millis(100)),
    };
    crate::tls::server::build(&settings).map_err(ConfigError::from)?;
    Ok(settings)
}

/// Validates `[auth.mtls]`.
pub fn mtls(raw: RawMtls, has_client_ca: bool) -> Result<MtlsSettings, ConfigError> {
    if !has_client_ca {
        return Err(ConfigError::at(
            "auth.mtls",
            "needs server.tls.client_ca (client certificates are verified there)",
        ));
    }
    let subject_from = match raw.subject_from.as_str() {
        "san_uri" => SubjectFrom::SanUri,
        "san_dns" => SubjectFrom::SanDns,
        "cn" => SubjectFrom::Cn,
        other => {
            return Err(ConfigError::at(
                "auth.mtls.subject_from",
                format!("`{other}` is not one of \"san_uri\", \"san_dns\", \"cn\""),
            ));
        }
    };
    let mut map = Vec::with_capacity(raw.map.len());
    for (index, entry) in raw.map.into_iter().enumerate() {
        if entry.pattern.is_empty() {
            return Err(ConfigError::at(
                format!("auth.mtls.map[{index}].match"),
                "must not be empty",
            ));
        }
        map.push((entry.pattern, entry.roles));
    }
    Ok(MtlsSettings { subject_from, map })
}

/// The rustls client config for an `https://` upstream: system roots unless `ca` is given,
/// and an optional client certificate.
pub fn upstream_tls(raw: &RawUpstream, key: &str) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    let identity = match (&raw.client_cert, &raw.client_key) {
        (Some(cert), Some(private)) => Some((cert.as_str(), private.as_str())),
        (None, None) => None,
        _ => {
            return Err(ConfigError::at(
                format!("{key}.client_cert"),
                "client_cert and client_key go together",
            ));
        }
    };
    if raw.ca.is_none() && system_roots().is_empty() {
        return Err(ConfigError::at(
            format!("{key}.ca"),
            "no system CA certificates found; set `ca`",
        ));
    }
    client_config(raw.ca.as_deref(), key, identity)
}

/// The system's CA certificates, read once per process (not at every reload).
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        roots
    })
}

/// A TLS client config for outbound connections of the config entry at `key` (upstreams,
/// identity providers): the PEM bundle `ca` or the system roots, and an optional client
/// certificate `(cert, key)` — the `client_cert` / `client_key` files.
pub fn client_config(
    ca: Option<&str>,
    key: &str,
    identity: Option<(&str, &str)>,
) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    let roots = match ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in crate::tls::files::certs(ca.as_ref(), &format!("{key}.ca"))? {
                roots
                    .add(cert)
                    .map_err(|e| ConfigError::at(format!("{key}.ca"), format!("{ca}: {e}")))?;
            }
            roots
        }
        None => system_roots().clone(),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::at(key, e.to_string()))?
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, private)) => {
            let chain = crate::tls::files::certs(cert.as_ref(), &format!("{key}.client_cert"))?;
            let private = crate::tls::files::private_key(private.as_ref(), &format!("{key}.client_key"))?;
            builder
                .with_client_auth_cert(chain, private)
                .map_err(|e| ConfigError::at(format!("{key}.client_key"), e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
