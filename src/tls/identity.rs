//! What a certificate says: the identity of a verified client certificate (SAN URI such as a
//! SPIFFE id, SAN DNS, or subject CN), and the facts `portcullis check` reports.

use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Which name of a client certificate is its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectFrom {
    SanUri,
    SanDns,
    Cn,
}

/// The identity of `cert` per `from`; `None` when the certificate has no such name (such a
/// client is not identified, it does not fall back to another name).
pub fn identity(cert: &CertificateDer<'_>, from: SubjectFrom) -> Option<String> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
    match from {
        SubjectFrom::Cn => parsed
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned),
        SubjectFrom::SanUri | SubjectFrom::SanDns => {
            let san = parsed.subject_alternative_name().ok()??;
            san.value.general_names.iter().find_map(|name| match (from, name) {
                (SubjectFrom::SanUri, GeneralName::URI(uri)) => Some((*uri).to_owned()),
                (SubjectFrom::SanDns, GeneralName::DNSName(dns)) => Some((*dns).to_owned()),
                _ => None,
            })
        }
    }
}

/// Facts about a certificate for `portcullis check` and the expiry metric.
#[derive(Debug, Clone)]
pub struct CertFacts {
    pub subject: String,
    pub sans: Vec<String>,
    pub not_after_unix: i64,
}

/// Reads subject, SANs and expiry of `cert`.
pub fn facts(cert: &CertificateDer<'_>) -> Option<CertFacts> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let sans = parsed
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| san.value.general_names.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    Some(CertFacts {
        subject: parsed.subject().to_string(),
        sans,
        not_after_unix: parsed.validity().not_after.timestamp(),
    })
}

/// The DNS names a certificate is valid for (for SNI selection).
pub fn dns_names(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, parsed)) = X509Certificate::from_der(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// `*` matches any run of characters (including none); everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_whole_strings() {
        assert!(glob_match(
            "spiffe://example.org/agent/*",
            "spiffe://example.org/agent/a1"
        ));
        assert!(!glob_match(
            "spiffe://example.org/agent/*",
            "spiffe://example.org/admin/a1"
        ));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "abxbc"));
        assert!(!glob_match("a*b*c", "abxbcd"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exact2"));
        assert!(!glob_match("ab*ba", "aba"), "prefix and suffix may not overlap");
    }
}
