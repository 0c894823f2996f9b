//! TLS on the public listener: rustls with the provider's safe defaults (TLS 1.2 and 1.3,
//! AEAD suites, no renegotiation, no early data), ALPN `h2` / `http/1.1`, certificates chosen
//! by SNI, optional or required client certificates checked against `client_ca` and CRLs.
//! The whole `ServerConfig` is rebuilt when a file changes and swapped in only if it builds,
//! so a broken file keeps the old certificate; open connections keep theirs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

use super::error::TlsError;
use super::files;
use super::identity::{self, CertFacts};
use super::settings::{ClientAuth, TlsSettings};

/// Picks a certificate by SNI; the first (`cert`/`key`) is the default.
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    by_name: Vec<(Vec<String>, Arc<CertifiedKey>)>,
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => name.split_once('.').is_some_and(|(_, rest)| rest == suffix),
        None => pattern == name,
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello.server_name().and_then(|sni| {
            let sni = sni.to_ascii_lowercase();
            self.by_name
                .iter()
                .find(|(names, _)| names.iter().any(|n| name_matches(n, &sni)))
                .map(|(_, key)| Arc::clone(key))
        });
        Some(chosen.unwrap_or_else(|| Arc::clone(&self.default)))
    }
}

fn certified_key(cert: &Path, key: &Path, at: &str) -> Result<(Arc<CertifiedKey>, Vec<String>), TlsError> {
    let chain = files::certs(cert, &format!("{at}.cert"))?;
    let private = files::private_key(key, &format!("{at}.key"))?;
    let names = identity::dns_names(&chain[0]);
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let certified = CertifiedKey::from_der(chain, private, &provider).map_err(|e| {
        TlsError::at(
            format!("{at}.key"),
            format!("{} does not fit {}: {e}", key.display(), cert.display()),
        )
    })?;
    Ok((Arc::new(certified), names))
}

/// Builds the rustls server config from the files `settings` names.
pub fn build(settings: &TlsSettings) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (default, _) = certified_key(&settings.cert, &settings.key, "server.tls")?;
    let mut by_name = Vec::with_capacity(settings.sni.len());
    for (index, (cert, key)) in settings.sni.iter().enumerate() {
        let (certified, names) = certified_key(cert, key, &format!("server.tls.sni[{index}]"))?;
        if names.is_empty() {
            return Err(TlsError::at(
                format!("server.tls.sni[{index}].cert"),
                "has no DNS names to match SNI against",
            ));
        }
        by_name.push((names, certified));
    }
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::at("server.tls", e.to_string()))?;
    let builder = match &settings.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in files::certs(ca, "server.tls.client_ca")? {
                roots
                    .add(cert)
                    .map_err(|e| TlsError::at("server.tls.client_ca", format!("{}: {e}", ca.display())))?;
            }
            let mut crls = Vec::new();
            for (index, path) in settings.crls.iter().enumerate() {
                crls.extend(files::crls(path, &format!("server.tls.crls[{index}]"))?);
            }
            let mut verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .with_crls(crls)
                .enforce_revocation_expiration();
            if settings.client_auth == ClientAuth::Optional {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::at("server.tls.crls", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(SniResolver { default, by_name }));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The live TLS config and the files it came from.
#[derive(Debug)]
pub struct TlsServer {
    settings: TlsSettings,
    current: ArcSwap<rustls::ServerConfig>,
    stamps: std::sync::Mutex<Vec<Option<std::time::SystemTime>>>,
}

impl TlsServer {
    /// Builds the first config (errors name the key).
    pub fn new(settings: &TlsSettings) -> Result<Self, TlsError> {
        let config = build(settings)?;
        Ok(Self {
            stamps: std::sync::Mutex::new(files::stamps(&watched(settings))),
            settings: settings.clone(),
            current: ArcSwap::from_pointee(config),
        })
    }

    /// The config new connections use.
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        self.current.load_full()
    }

    /// Rebuilds from disk if any file changed (or `force`). `Ok(true)` when a new config is
    /// live; `Err` keeps the old one.
    pub fn reload_if_changed(&self, force: bool) -> Result<bool, TlsError> {
        let now = files::stamps(&watched(&self.settings));
        let mut stamps = self.stamps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !force && *stamps == now {
            return Ok(false);
        }
        // Remember the new stamps even on failure: a broken file is reported once, and a
        // fixed file (new stamp) is picked up.
        *stamps = now;
        let config = build(&self.settings)?;
        self.current.store(Arc::new(config));
        Ok(true)
    }

    /// Subject, SANs and expiry of every served certificate.
    pub fn certificates(&self) -> Vec<(PathBuf, CertFacts)> {
        certificate_facts(&self.settings)
    }
}

fn watched(settings: &TlsSettings) -> Vec<&Path> {
    let mut paths: Vec<&Path> = vec![&settings.cert, &settings.key];
    for (cert, key) in &settings.sni {
        paths.push(cert);
        paths.push(key);
    }
    paths.extend(settings.client_ca.as_deref());
    paths.extend(settings.crls.iter().map(PathBuf::as_path));
    paths
}

/// Facts about the leaf of every served certificate file (unreadable files are skipped).
pub fn certificate_facts(settings: &TlsSettings) -> Vec<(PathBuf, CertFacts)> {
    std::iter::once(&settings.cert)
        .chain(settings.sni.iter().map(|(cert, _)| cert))
        .filter_map(|path| {
            let chain = files::certs(path, "").ok()?;
            identity::facts(&chain[0]).map(|facts| (path.clone(), facts))
        })
        .collect()
}
