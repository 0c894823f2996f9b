//! `ProxyBody`: an upstream response body on its way to the client. Bytes pass through as
//! they arrive (JSON) or event by event (SSE). The body owns the upstream body, so when the
//! client goes away and hyper drops it, the upstream request is cancelled with it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use tokio::time::{Instant, Sleep};

use super::pool::Lease;
use crate::authz::{ListFilter, Rewrite, unfilterable};
use crate::mcp::{CODE_UNAVAILABLE, RequestId, jsonrpc_error, sse};

/// Errors a streamed body can end with (the connection is then aborted).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Rewrites the data of an `event: endpoint` (legacy HTTP+SSE); `None` ends the stream.
pub type EndpointRewrite = Box<dyn FnMut(&str) -> Option<String> + Send>;

/// Runs when the body is dropped (stream gauge, legacy endpoint registration).
pub struct OnClose(Option<Box<dyn FnOnce() + Send>>);

impl OnClose {
    /// Wraps a closure to run exactly once, on drop.
    pub fn new(f: impl FnOnce() + Send + 'static) -> Self {
        Self(Some(Box::new(f)))
    }
}

impl Drop for OnClose {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

struct SseState {
    framer: sse::Framer,
    keepalive: Deadline,
    saw_response: bool,
    /// An event carried an `id:`: the client can resume with `Last-Event-ID`.
    saw_event_id: bool,
    rewrite: Option<EndpointRewrite>,
}

/// A timer armed only when the body has to wait: a frame disarms it (no timer-wheel work or
/// clock read per frame), the next wait arms it `after` from then. A small JSON answer that is
/// complete at the first poll never touches a timer.
struct Deadline {
    after: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl Deadline {
    fn new(after: Duration) -> Self {
        Self {
            after,
            sleep: None,
            armed: false,
        }
    }

    /// Something happened: the next wait starts a fresh period.
    fn disarm(&mut self) {
        self.armed = false;
    }

    /// Waiting: true once a whole period has passed since the wait began.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            let deadline = Instant::now() + self.after;
            match self.sleep.as_mut() {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        let expired = self
            .sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
        if expired {
            self.armed = false;
        }
        expired
    }
}

/// A streamed upstream body with idle deadline, SSE framing and failure events.
pub struct ProxyBody {
    upstream: Incoming,
    idle: Deadline,
    sse: Option<SseState>,
    request_id: Option<RequestId>,
    done: bool,
    /// The upstream body reached its end (not an error, not abandoned).
    upstream_finished: bool,
    lease: Option<Lease>,
    on_failure: Option<OnFailure>,
    /// `*/list` answers to filter for the caller, event by event.
    filter: Option<ListFilter>,
    server_requests: Option<ServerRequests>,
    _on_close: Vec<OnClose>,
}

/// Which requests the upstream may send the client on a stream (`sampling/createMessage`,
/// `elicitation/create`, `roots/list`, …); any other is dropped and reported.
pub struct ServerRequests {
    pub allowed: std::sync::Arc<[Box<str>]>,
    /// Reports one dropped request (audit), with its method name.
    pub on_dropped: Box<dyn Fn(&str) + Send + Sync>,
}

/// Reports a stream that ended abnormally (audit), with the failure's reason label.
pub type OnFailure = Box<dyn FnOnce(&'static str) + Send>;

impl Drop for ProxyBody {
    /// A body read to its end returns its connection to the pool; any other takes it down.
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take()
            && (self.upstream_finished || self.upstream.is_end_stream())
        {
            lease.release();
        }
    }
}

impl fmt::Debug for ProxyBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyBody")
            .field("sse", &self.sse.is_some())
            .field("done", &self.done)
            .finish()
    }
}

/// How the body should treat the upstream bytes.
pub struct StreamOptions {
    pub idle_after: Duration,
    /// `Some((keepalive interval, max event bytes))` for `text/event-stream` bodies.
    pub sse: Option<(Duration, usize)>,
    /// The request's id, for the error event when the stream fails before its response.
    pub request_id: Option<RequestId>,
    pub rewrite: Option<EndpointRewrite>,
    pub on_close: Vec<OnClose>,
    /// The upstream connection, returned to its pool when the body was read to its end.
    pub lease: Option<Lease>,
    /// Called once if the stream ends abnormally.
    pub on_failure: Option<OnFailure>,
    /// Filters `*/list` answers in SSE events (JSON answers are filtered whole, before the
    /// response starts: see `forward::respond`).
    pub filter: Option<ListFilter>,
    /// Polices the requests the upstream sends on an SSE stream.
    pub server_requests: Option<ServerRequests>,
}

impl ProxyBody {
    /// Wraps an upstream body.
    pub fn new(upstream: Incoming, options: StreamOptions) -> Self {
        let sse = options.sse.map(|(keepalive_every, max_event)| SseState {
            framer: sse::Framer::new(max_event),
            keepalive: Deadline::new(keepalive_every),
            saw_response: false,
            saw_event_id: false,
            rewrite: options.rewrite,
        });
        Self {
            filter: options.filter,
            server_requests: options.server_requests,
            upstream,
            idle: Deadline::new(options.idle_after),
            sse,
            request_id: options.request_id,
            done: false,
            upstream_finished: false,
            lease: options.lease,
            on_failure: options.on_failure,
            _on_close: options.on_close,
        }
    }

    /// Ends the stream after a failure: SSE clients get an error event carrying their id
    /// (unless their response already went through); plain bodies are aborted.
    fn fail(&mut self, why: &'static str) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        tracing::warn!(reason = why, "upstream stream ended abnormally");
        if let Some(report) = self.on_failure.take() {
            report(why);
        }
        match &self.sse {
            Some(state) if !state.saw_response => {
                let Some(id) = &self.request_id else {
                    return Poll::Ready(None);
                };
                let message = format!("Upstream stream failed: {why}");
                let error = jsonrpc_error(Some(id), CODE_UNAVAILABLE, &message, None);
                let text = String::from_utf8_lossy(&error);
                Poll::Ready(Some(Ok(Frame::data(sse::write_event(Some("message"), None, &text)))))
            }
            Some(_) => Poll::Ready(None),
            None => Poll::Ready(Some(Err(why.to_string().into()))),
        }
    }

    fn on_sse_data(&mut self, chunk: &[u8]) -> Result<Option<Bytes>, &'static str> {
        let request_id = self.request_id.clone();
        let filter = self.filter.as_ref();
        let police = self.server_requests.as_ref();
        let Some(state) = self.sse.as_mut() else {
            return Ok(None);
        };
        let run = state.framer.push(chunk).map_err(|_| "sse_event_too_large")?;
        if run.is_empty() {
            return Ok(None);
        }
        let needs_rewrite = state.rewrite.is_some();
        let watch_response = request_id.is_some() && !state.saw_response;
        let requests = police.is_some() && might_name_a_method(&run);
        if !needs_rewrite && !watch_response && filter.is_none() && !requests {
            return Ok(Some(run));
        }
        let mut out = BytesMut::with_capacity(run.len());
        for raw in sse::split_events(&run) {
            let Some(event) = sse::parse_event(raw) else {
                // Not UTF-8: no valid event to read; never let one slip past a rewrite, a
                // filter or the policing of server requests (a lenient decoder reads it).
                if needs_rewrite || filter.is_some() || police.is_some() {
                    return Err("sse_not_utf8");
                }
                out.extend_from_slice(raw);
                continue;
            };
            state.saw_event_id |= event.id.is_some_and(|id| !id.is_empty());
            if police.is_some_and(|police| event.has_data && police.refuses(&event.data)) {
                continue;
            }
            if let (Some(filter), true) = (filter, event.has_data) {
                let replaced = match filter.body(&event.data) {
                    Rewrite::Keep => None,
                    Rewrite::Replace(text) => Some(text),
                    Rewrite::Drop => {
                        // Never passed on. A notification or server request is just dropped;
                        // the request an answer (or an unreadable event) may have answered
                        // gets an error instead.
                        if is_message_from_server(&event.data) {
                            continue;
                        }
                        if let (Some(id), false) = (&request_id, state.saw_response) {
                            state.saw_response = true;
                            let error = unfilterable(Some(id));
                            out.extend_from_slice(&sse::write_event(
                                Some("message"),
                                None,
                                &String::from_utf8_lossy(&error),
                            ));
                        }
                        continue;
                    }
                };
                if let Some(text) = replaced {
                    if let Some(id) = &request_id {
                        state.saw_response |= is_response_to(&text, id);
                    }
                    out.extend_from_slice(&sse::write_event(event.name, event.id, &text));
                    continue;
                }
            }
            if let (Some(id), true) = (&request_id, event.has_data) {
                state.saw_response |= is_response_to(&event.data, id);
            }
            match (&mut state.rewrite, event.name) {
                (Some(rewrite), Some("endpoint")) => {
                    let data = rewrite(&event.data).ok_or("endpoint_rewrite_refused")?;
                    out.extend_from_slice(&sse::write_event(Some("endpoint"), event.id, &data));
                }
                _ => out.extend_from_slice(raw),
            }
        }
        Ok(Some(out.freeze()))
    }
}

#[derive(Deserialize)]
struct ResponseProbe<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    result: Option<IgnoredAny>,
    error: Option<IgnoredAny>,
}

impl ServerRequests {
    /// Whether `data` is a request this upstream may not send; reports it when so.
    pub fn refuses(&self, data: &str) -> bool {
        match refused_request(data, &self.allowed) {
            Some(method) => {
                (self.on_dropped)(&method);
                true
            }
            None => false,
        }
    }
}

/// Whether a run of events could hold a request (a `method` member in any ASCII case, or
/// escaped, or spelled with non-ASCII letters a folding reader takes for ASCII ones).
fn might_name_a_method(run: &[u8]) -> bool {
    memchr::memmem::find(run, b"\\u").is_some()
        || !run.is_ascii()
        || run.windows(6).any(|w| w.eq_ignore_ascii_case(b"method"))
}

/// The top-level members of one message, as a case-folding reader (Go's `encoding/json`)
/// reads them: the `method` string and whether `id`, `result` or `error` are there. Two
/// members that fold to one name make the message unreadable.
#[derive(Default)]
struct MessageProbe {
    method: Option<String>,
    id: bool,
    answer: bool,
}

impl<'de> Deserialize<'de> for MessageProbe {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProbeVisitor;
        impl<'de> serde::de::Visitor<'de> for ProbeVisitor {
            type Value = MessageProbe;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC message")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<MessageProbe, A::Error> {
                let mut seen: Vec<String> = Vec::new();
                let mut probe = MessageProbe::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'_, str>>()? {
                    let folded = crate::mcp::fold::folded(&key).into_owned();
                    if seen.len() >= 64 || seen.contains(&folded) {
                        return Err(serde::de::Error::custom("ambiguous member"));
                    }
                    match folded.as_str() {
                        "method" => {
                            let method: serde_json::Value = map.next_value()?;
                            probe.method = Some(method.as_str().map_or_else(|| method.to_string(), str::to_owned));
                        }
                        other => {
                            map.next_value::<IgnoredAny>()?;
                            probe.id |= other == "id";
                            probe.answer |= other == "result" || other == "error";
                        }
                    }
                    seen.push(folded);
                }
                Ok(probe)
            }
        }
        deserializer.deserialize_map(ProbeVisitor)
    }
}

/// The method of a request in `data` that the upstream may not send (`<unreadable>` when the
/// data may name a method but cannot be read unambiguously); `None` when it may pass.
fn refused_request(data: &str, allowed: &[Box<str>]) -> Option<String> {
    if !might_name_a_method(data.as_bytes()) {
        return None;
    }
    let refused = |probe: MessageProbe| match probe.method {
        Some(method) if probe.id && !probe.answer && !allowed.iter().any(|m| **m == *method) => Some(method),
        _ => None,
    };
    let trimmed = data.trim_start();
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Vec<MessageProbe>>(data) {
            Ok(probes) => probes.into_iter().find_map(refused),
            Err(_) => Some("<unreadable>".into()),
        };
    }
    match serde_json::from_str::<MessageProbe>(data) {
        Ok(probe) => refused(probe),
        // A lenient reader could still take it for a request: never passed on.
        Err(_) if trimmed.starts_with('{') => Some("<unreadable>".into()),
        Err(_) => None,
    }
}

/// A readable notification or request (a `method`, neither `result` nor `error`).
fn is_message_from_server(data: &str) -> bool {
    serde_json::from_str::<MessageProbe>(data).is_ok_and(|probe| probe.method.is_some() && !probe.answer)
}

fn is_response_to(data: &str, id: &RequestId) -> bool {
    serde_json::from_str::<ResponseProbe<'_>>(data).is_ok_and(|probe| {
        probe.id.is_some_and(|raw| raw.get() == id.as_json()) && (probe.result.is_some() || probe.error.is_some())
    })
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.upstream).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    this.idle.disarm();
                    let frame = match frame.into_data() {
                        Ok(data) if this.sse.is_some() => match this.on_sse_data(&data) {
                            Ok(Some(run)) => Frame::data(run),
                            Ok(None) => continue,
                            Err(why) => return this.fail(why),
                        },
                        Ok(data) => Frame::data(data),
                        // Trailers mean nothing to MCP clients; SSE bodies never carry them.
                        Err(frame) if this.sse.is_none() => frame,
                        Err(_) => continue,
                    };
                    if let Some(state) = this.sse.as_mut() {
                        state.keepalive.disarm();
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Poll::Ready(Some(Err(error))) => {
                    tracing::debug!(%error, "upstream body error");
                    return this.fail("upstream_reset");
                }
                Poll::Ready(None) => {
                    this.upstream_finished = true;
                    // A stream that ends before the answer to its request and gave no event id to
                    // resume from has lost the request: say so instead of leaving the client waiting.
                    let lost = this.sse.as_ref().is_some_and(|s| !s.saw_response && !s.saw_event_id);
                    if lost && this.request_id.is_some() {
                        return this.fail("upstream_closed_before_response");
                    }
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => {}
            }
            if this.idle.poll_expired(cx) {
                return this.fail("stream_idle");
            }
            if let Some(state) = this.sse.as_mut()
                && state.keepalive.poll_expired(cx)
            {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(sse::KEEPALIVE)))));
            }
            return Poll::Pending;
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.sse.is_none() && self.upstream.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.sse.is_some() {
            SizeHint::default()
        } else {
            self.upstream.size_hint()
        }
    }
}
