//! Reading PEM/DER material from disk, with errors that name the config key.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use super::error::TlsError;

fn read(path: &Path, key: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::at(key, format!("cannot read {}: {e}", path.display())))
}

/// A PEM certificate chain (at least one certificate).
pub fn certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path, key)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::at(key, format!("{}: not a PEM certificate file: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsError::at(
            key,
            format!("{}: no PEM certificate found", path.display()),
        ));
    }
    Ok(certs)
}

/// A PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(path: &Path, key: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path, key)?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| TlsError::at(key, format!("{}: no usable PEM private key: {e}", path.display())))
}

/// CRLs from a PEM file (one or more) or a single DER file.
pub fn crls(path: &Path, key: &str) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let bytes = read(path, key)?;
    if bytes.starts_with(b"-----") || bytes.iter().take(64).all(u8::is_ascii) {
        let crls = CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::at(key, format!("{}: not a PEM CRL file: {e}", path.display())))?;
        if crls.is_empty() {
            return Err(TlsError::at(key, format!("{}: no PEM CRL found", path.display())));
        }
        return Ok(crls);
    }
    Ok(vec![CertificateRevocationListDer::from(bytes)])
}

/// The modification times of `paths`, to notice changed files.
pub fn stamps(paths: &[&Path]) -> Vec<Option<std::time::SystemTime>> {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}
