//! Optional span export over OTLP/HTTP (JSON), with the `opentelemetry` SDK's batch
//! processor: one server span per request, its stage timings as span events. Off by default;
//! when off nothing is built and the request path only checks an `Option`.

use std::time::SystemTime;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use super::trace::{TraceContext, TraceSettings};

thread_local! {
    /// The ids of the span being built on this thread.
    static NEXT_IDS: std::cell::Cell<Option<([u8; 16], [u8; 8])>> = const { std::cell::Cell::new(None) };
}

/// Gives the SDK the ids the gateway chose (the span id the upstream already saw as its
/// parent); random ones otherwise.
#[derive(Debug)]
struct RequestIds;

impl opentelemetry_sdk::trace::IdGenerator for RequestIds {
    fn new_trace_id(&self) -> TraceId {
        let preset = NEXT_IDS.with(std::cell::Cell::get);
        TraceId::from_bytes(preset.map_or_else(|| rand::random::<u128>().max(1).to_be_bytes(), |(t, _)| t))
    }

    fn new_span_id(&self) -> SpanId {
        let preset = NEXT_IDS.with(std::cell::Cell::get);
        SpanId::from_bytes(preset.map_or_else(|| rand::random::<u64>().max(1).to_be_bytes(), |(_, s)| s))
    }
}

/// What one finished request reports.
#[derive(Debug)]
pub struct RequestSpan<'a> {
    pub trace: &'a TraceContext,
    pub start: SystemTime,
    pub end: SystemTime,
    pub route: Option<&'a str>,
    pub http_method: &'a str,
    pub jsonrpc_method: Option<&'a str>,
    pub target: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub status: Option<u16>,
    pub reason: &'static str,
    pub request_id: &'a str,
    /// Stage names and when they finished.
    pub stages: &'a [(&'static str, SystemTime)],
}

/// The span exporter.
pub struct SpanExport {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl std::fmt::Debug for SpanExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpanExport")
    }
}

impl SpanExport {
    /// The exporter of `settings`; `None` when no endpoint is set.
    pub fn new(settings: &TraceSettings) -> Result<Option<Self>, String> {
        let Some(endpoint) = &settings.otlp_endpoint else {
            return Ok(None);
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| format!("OTLP exporter: {e}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_id_generator(RequestIds)
            .with_resource(
                Resource::builder()
                    .with_service_name(settings.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = provider.tracer("portcullis");
        Ok(Some(Self { provider, tracer }))
    }

    /// Queues the span of one request (never blocks: the batch processor drops when full).
    pub fn record(&self, span: &RequestSpan<'_>) {
        let trace = span.trace;
        let parent = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_bytes(trace.trace_id),
            SpanId::from_bytes(trace.parent.unwrap_or([0; 8])),
            TraceFlags::new(trace.flags & 1),
            true,
            TraceState::default(),
        ));
        let parent = if trace.parent.is_some() { parent } else { Context::new() };
        let mut attributes = vec![
            KeyValue::new("http.request.method", span.http_method.to_string()),
            KeyValue::new("portcullis.request_id", span.request_id.to_string()),
            KeyValue::new("portcullis.outcome", span.reason),
        ];
        let optional = [
            ("http.route", span.route),
            ("rpc.method", span.jsonrpc_method),
            ("mcp.target", span.target),
            ("enduser.id", span.subject),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                attributes.push(KeyValue::new(key, value.to_string()));
            }
        }
        if let Some(status) = span.status {
            attributes.push(KeyValue::new("http.response.status_code", i64::from(status)));
        }
        let mut builder = self
            .tracer
            .span_builder("portcullis.request")
            .with_kind(SpanKind::Server)
            .with_start_time(span.start)
            .with_attributes(attributes);
        builder.events = Some(
            span.stages
                .iter()
                .map(|(name, at)| opentelemetry::trace::Event::new(*name, *at, Vec::new(), 0))
                .collect(),
        );
        // The SDK takes ids from its generator: this one hands out the request's.
        NEXT_IDS.with(|next| next.set(Some((trace.trace_id, trace.span_id))));
        let mut started = builder.start_with_context(&self.tracer, &parent);
        NEXT_IDS.with(|next| next.set(None));
        if span.reason != "ok" {
            opentelemetry::trace::Span::set_status(&mut started, Status::error(span.reason));
        }
        opentelemetry::trace::Span::end_with_timestamp(&mut started, span.end);
    }

    /// Sends what is queued (shutdown, tests).
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }
}
