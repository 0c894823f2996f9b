//! `RequestContext`: what the stages of the flow has learned about one request, for its single audit event
//! and its metrics. Dropping an unfinished context (the client went away while the gateway
//! waited) still writes the event, with the outcome `client_disconnected`.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{Method, StatusCode};

use crate::auth::Principal;
use crate::gateway::Gateway;
use crate::mcp::RequestId;
use crate::server::ConnInfo;
use crate::telemetry::AuditEvent;
use crate::telemetry::metrics::method_label;
use crate::telemetry::spans::RequestSpan;
use crate::telemetry::trace::TraceContext;
use crate::upstream::Upstream;

/// Per-request facts gathered by the stages.
#[derive(Debug)]
pub struct RequestContext {
    gateway: Arc<Gateway>,
    started: Instant,
    pub request_id: String,
    pub conn: Arc<ConnInfo>,
    pub client_ip: Option<std::net::IpAddr>,
    pub method: Method,
    pub upstream: Option<Arc<Upstream>>,
    pub principal: Option<Arc<Principal>>,
    pub jsonrpc_id: Option<RequestId>,
    pub jsonrpc_method: Option<String>,
    pub target: Option<String>,
    pub session: Option<String>,
    /// The body is a JSON-RPC batch: no single id can carry a refusal.
    pub batch: bool,
    /// The gateway's span (set before forwarding).
    pub trace: Option<TraceContext>,
    /// Wall-clock start and stage marks, kept only while spans are exported.
    marks: Option<(SystemTime, Vec<(&'static str, SystemTime)>)>,
    finished: bool,
}

impl RequestContext {
    /// Starts the context of a request from `peer`.
    pub fn new(gateway: Arc<Gateway>, conn: Arc<ConnInfo>, method: Method) -> Self {
        let marks = gateway.spans.is_some().then(|| (SystemTime::now(), Vec::new()));
        Self {
            trace: None,
            marks,
            gateway,
            started: Instant::now(),
            request_id: new_request_id(),
            conn,
            client_ip: None,
            method,
            upstream: None,
            principal: None,
            jsonrpc_id: None,
            jsonrpc_method: None,
            target: None,
            session: None,
            batch: false,
            finished: false,
        }
    }

    /// Notes that the stage `name` is done (a span event; free when spans are off).
    pub fn mark(&mut self, name: &'static str) {
        if let Some((_, marks)) = &mut self.marks {
            marks.push((name, SystemTime::now()));
        }
    }

    /// Writes the audit event and metrics for the response about to be sent.
    pub fn finish(&mut self, status: StatusCode, reason: &'static str, detail: Option<&str>) {
        self.finished = true;
        self.emit(Some(status.as_u16()), reason, detail);
    }

    fn emit(&self, status: Option<u16>, reason: &'static str, detail: Option<&str>) {
        let seconds = self.started.elapsed().as_secs_f64();
        let route_name = self.upstream.as_ref().map(|u| &u.name);
        self.gateway
            .metrics
            .request(route_name, method_label(&self.method), reason, seconds);
        let mut event = AuditEvent::new("request", if reason == "ok" { "allow" } else { "deny" }, reason);
        event.request_id = Some(&self.request_id);
        event.peer_ip = Some(self.conn.peer.ip());
        event.client_ip = self.client_ip;
        event.subject = self.principal.as_ref().map(|p| p.subject.as_str());
        event.auth_method = self.principal.as_ref().map(|p| p.method.label());
        event.key_id = self.principal.as_ref().and_then(|p| p.token_id.as_deref());
        event.route = self.upstream.as_ref().map(|u| u.route.as_str());
        event.http_method = Some(self.method.as_str());
        event.jsonrpc_method = self.jsonrpc_method.as_deref();
        event.target = self.target.as_deref();
        event.session = self.session.as_deref();
        event.status = status;
        event.duration_ms = Some((seconds * 1e6).round() / 1e3);
        event.detail = detail;
        let trace_id = self.trace.as_ref().map(TraceContext::trace_id_hex);
        event.trace_id = trace_id.as_deref();
        self.gateway.audit.record(&event);
        if let (Some(spans), Some((start, marks))) = (&self.gateway.spans, &self.marks) {
            let fresh;
            let trace = match &self.trace {
                Some(trace) => trace,
                None => {
                    fresh = TraceContext::start(&http::HeaderMap::new(), false);
                    &fresh
                }
            };
            spans.record(&RequestSpan {
                trace,
                start: *start,
                end: SystemTime::now(),
                route: event.route,
                http_method: self.method.as_str(),
                jsonrpc_method: event.jsonrpc_method,
                target: event.target,
                subject: event.subject,
                status,
                reason,
                request_id: &self.request_id,
                stages: marks,
            });
        }
    }
}

impl Drop for RequestContext {
    fn drop(&mut self) {
        if !self.finished {
            self.emit(None, "client_disconnected", None);
        }
    }
}

/// What the audit shows of a session id: enough to correlate, never the id itself (a
/// session id in a log is material for session hijacking).
pub fn session_fingerprint(session_id: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(session_id);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// 128 random bits as 32 lowercase hex digits (written directly: no formatting machinery on
/// every request).
fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let value: u128 = rand::random();
    (0..32)
        .rev()
        .map(|nibble| char::from(HEX[((value >> (nibble * 4)) & 0xf) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_32_lowercase_hex_digits_and_differ() {
        let (a, b) = (super::new_request_id(), super::new_request_id());
        for id in [&a, &b] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
                "{id}"
            );
        }
        assert_ne!(a, b);
    }
}
