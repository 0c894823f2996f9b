//! W3C trace context: the `traceparent` a caller sent (continued when `[telemetry]
//! trust_traceparent` allows it) and the gateway's own span, which becomes the parent the
//! upstream sees.

use http::{HeaderMap, HeaderValue};

/// Whose `traceparent` is continued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustTraceparent {
    /// Authenticated callers only (an anonymous one cannot pick trace ids).
    Authenticated,
    Never,
    Always,
}

/// `[telemetry]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSettings {
    pub trust: TrustTraceparent,
    /// OTLP/HTTP JSON traces endpoint; `None`: no export.
    pub otlp_endpoint: Option<String>,
    pub service_name: String,
}

impl Default for TraceSettings {
    fn default() -> Self {
        Self {
            trust: TrustTraceparent::Authenticated,
            otlp_endpoint: None,
            service_name: "portcullis".into(),
        }
    }
}

/// The trace a request belongs to and the gateway's span in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    /// The caller's span (the parent of the gateway's), when its `traceparent` was continued.
    pub parent: Option<[u8; 8]>,
    pub span_id: [u8; 8],
    pub flags: u8,
    /// The caller's `tracestate`, passed on with a continued trace.
    pub state: Option<HeaderValue>,
}

impl TraceContext {
    /// The gateway's span for a request with `headers`; the caller's trace is continued when
    /// `trusted` and its `traceparent` is valid, otherwise a new trace starts.
    pub fn start(headers: &HeaderMap, trusted: bool) -> Self {
        let incoming = trusted
            .then(|| headers.get("traceparent").and_then(|v| parse(v.as_bytes())))
            .flatten();
        let span_id = nonzero_span();
        match incoming {
            Some((trace_id, parent, flags)) => Self {
                trace_id,
                parent: Some(parent),
                span_id,
                flags,
                state: headers.get("tracestate").filter(|v| v.len() <= 512).cloned(),
            },
            None => Self {
                trace_id: rand::random::<u128>().max(1).to_be_bytes(),
                parent: None,
                span_id,
                flags: 1,
                state: None,
            },
        }
    }

    /// The `traceparent` the upstream gets: same trace, the gateway's span as parent.
    pub fn traceparent(&self) -> HeaderValue {
        let mut text = String::with_capacity(55);
        text.push_str("00-");
        text.push_str(&hex(&self.trace_id));
        text.push('-');
        text.push_str(&hex(&self.span_id));
        text.push('-');
        text.push_str(&hex(&[self.flags]));
        HeaderValue::from_str(&text)
            .unwrap_or_else(|_| HeaderValue::from_static("00-00000000000000000000000000000001-0000000000000001-00"))
    }

    /// The trace id as 32 lowercase hex digits (in the audit event).
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }
}

/// A version-00 `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`; later versions by their
/// first four fields), refusing all-zero ids, upper-case hex and version `ff`.
pub fn parse(value: &[u8]) -> Option<([u8; 16], [u8; 8], u8)> {
    if value.len() < 55 || (value.len() > 55 && value[55] != b'-') {
        return None;
    }
    let text = std::str::from_utf8(value).ok()?;
    let (version, rest) = text.split_at(2);
    if version == "ff" || !is_hex(version) || (version == "00" && value.len() != 55) {
        return None;
    }
    let rest = rest.strip_prefix('-')?;
    let (trace, rest) = (rest.get(..32)?, rest.get(32..)?);
    let (span, rest) = (rest.strip_prefix('-')?.get(..16)?, rest.get(17..)?);
    let flags = rest.strip_prefix('-')?.get(..2)?;
    if !(is_hex(trace) && is_hex(span) && is_hex(flags)) {
        return None;
    }
    let trace_id = u128::from_str_radix(trace, 16).ok()?;
    let span_id = u64::from_str_radix(span, 16).ok()?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some((
        trace_id.to_be_bytes(),
        span_id.to_be_bytes(),
        u8::from_str_radix(flags, 16).ok()?,
    ))
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn nonzero_span() -> [u8; 8] {
    rand::random::<u64>().max(1).to_be_bytes()
}

/// `bytes` as lowercase hex digits.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{TraceContext, parse};

    #[test]
    fn continues_a_valid_traceparent_with_a_new_parent() {
        let mut headers = http::HeaderMap::new();
        let sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        headers.insert("traceparent", http::HeaderValue::from_static(sent));
        let ctx = TraceContext::start(&headers, true);
        let out = ctx.traceparent();
        let out = out.to_str().unwrap_or_default();
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{out}");
        assert!(!out.contains("00f067aa0ba902b7"), "{out}");
        assert_ne!(TraceContext::start(&headers, false).trace_id, ctx.trace_id);
    }

    #[test]
    fn refuses_malformed_traceparents() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
        assert!(parse(b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future").is_some());
    }
}
