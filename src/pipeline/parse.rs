//! Stage 5: the body parsed strictly into JSON-RPC messages and the `McpCall` each one makes
//! (the 2026-07-28 `Mcp-Method` / `Mcp-Name` mirror checked against it), and the upstream
//! endpoint a legacy HTTP+SSE POST is bound for.

use http::Method;
use http::request::Parts;
use http::uri::PathAndQuery;

use super::context::RequestContext;
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::mcp::headers::{HeaderError, Mirror};
use crate::mcp::{self, Body, EnvelopeError, McpCall, Message, MessageKind};
use crate::upstream::{Upstream, legacy};

/// The messages of a body and what each asks for.
pub(super) type Parsed<'b> = Vec<(Message<'b>, McpCall<'b>)>;

fn header_reject(error: HeaderError) -> Reject {
    match error {
        HeaderError::UnknownVersion(requested) => Reject::UnsupportedVersion { requested },
        HeaderError::Mismatch(mismatch) => Reject::HeaderMismatch(mismatch.0),
    }
}

/// A POST body's messages (`None` for GET and DELETE, which carry none). `legacy` says the
/// POST goes to a legacy HTTP+SSE endpoint (its token stands for the session).
pub(super) fn parse<'b>(
    parts: &Parts,
    bytes: &'b [u8],
    upstream: &Upstream,
    legacy: bool,
    ctx: &mut RequestContext,
) -> Result<Option<Parsed<'b>>, Reject> {
    if parts.method != Method::POST {
        // A GET or DELETE names its revision too (a POST's is read with its mirror headers).
        mcp::headers::protocol_version(&parts.headers).map_err(header_reject)?;
        return Ok(None);
    }
    let parsed = parse_body(bytes, &parts.headers, upstream, ctx)?;
    // A response answers a request the server sent on a session's stream: without the
    // session (or the legacy endpoint's token) there is nothing it can answer, and the
    // upstream would have to guess whose sampling or elicitation it completes.
    let session = legacy || parts.headers.contains_key("mcp-session-id");
    if !session && parsed.iter().any(|(message, _)| message.kind == MessageKind::Response) {
        return Err(invalid("a response needs the Mcp-Session-Id of the session it answers"));
    }
    Ok(Some(parsed))
}

/// What the later stages need to know of the body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asks {
    /// The body is one `initialize`: its answer's session id is bound (stage 9).
    pub initialize: bool,
    /// A message asks for a `tools/list` page: the tools' `Mcp-Param-*` headers are learned
    /// from the answer (stage 10).
    pub tools_list: bool,
    /// Messages that create or list tasks: the answer binds or filters task ids (stage 10).
    pub tasks: super::tasks::TaskAnswer,
}

impl Asks {
    pub(super) fn of(parsed: Option<&[(Message<'_>, McpCall<'_>)]>) -> Self {
        Self {
            initialize: matches!(parsed, Some([(_, McpCall::Initialize)])),
            tools_list: parsed.is_some_and(|messages| {
                messages
                    .iter()
                    .any(|(_, call)| matches!(call, McpCall::List(mcp::ListKind::Tools)))
            }),
            tasks: super::tasks::TaskAnswer::of(parsed),
        }
    }
}

impl Gateway {
    /// The upstream endpoint of a legacy POST (`?portcullis_session=TOKEN`), honoured only for
    /// the principal whose stream announced it; an unknown token is 404.
    pub(super) fn legacy_target(
        &self,
        parts: &Parts,
        upstream: &Upstream,
        owner: &str,
    ) -> Result<Option<PathAndQuery>, Reject> {
        match legacy::token_in_query(parts.uri.query()) {
            Some(token) if parts.method == Method::POST => Ok(Some(
                self.legacy
                    .lookup(upstream, owner, token)
                    .ok_or(Reject::UnknownSession)?,
            )),
            _ => Ok(None),
        }
    }
}

/// Stage 5: the strict envelope, the `McpCall` of each message, and the 2026-07-28 header
/// mirror. Records id, method and target in the context as soon as they are known, so a
/// refusal carries the request's id.
fn parse_body<'b>(
    bytes: &'b [u8],
    headers: &http::HeaderMap,
    upstream: &Upstream,
    ctx: &mut RequestContext,
) -> Result<Vec<(Message<'b>, McpCall<'b>)>, Reject> {
    let body = mcp::parse(bytes, upstream.allow_batches).map_err(envelope_reject)?;
    if let Body::Single(message) = &body {
        // Only a request's id may be echoed: a client's *response* carries the server's id,
        // and echoing it could fail an unrelated call of the client.
        if message.kind == MessageKind::Request {
            ctx.jsonrpc_id = message.id.clone();
        }
    }
    let mirror = Mirror::read(headers).map_err(header_reject)?;
    let messages = match &body {
        Body::Single(message) => {
            ctx.jsonrpc_method = message.method.as_deref().map(str::to_owned);
            std::slice::from_ref(message)
        }
        Body::Batch(messages) => {
            ctx.batch = true;
            if mirror.modern {
                return Err(invalid("batches are not part of protocol 2026-07-28"));
            }
            // Batches were part of 2025-03-26 alone (a client of that revision may not send the
            // header, which it introduced later).
            if mirror.version.is_some_and(|v| v != mcp::headers::BATCH_VERSION) {
                return Err(invalid("batches are part of protocol 2025-03-26 only"));
            }
            if mirror.present() {
                return Err(Reject::HeaderMismatch(
                    "Mcp-Method / Mcp-Name cannot describe a batch".into(),
                ));
            }
            ctx.jsonrpc_method = Some("batch".into());
            messages.as_slice()
        }
    };
    let mut calls = Vec::with_capacity(messages.len());
    for message in messages {
        check_method(message, upstream, matches!(body, Body::Single(_)), mirror.modern)?;
        if mirror.modern && message.kind == MessageKind::Request {
            check_meta_version(message, mirror.version)?;
        }
        let call = mcp::classify(message).map_err(|e| match (&body, &message.kind) {
            (Body::Single(_), MessageKind::Request) => Reject::InvalidParams(e.0),
            _ => Reject::Envelope {
                reason: "invalid_params",
                code: -32602,
                message: e.0,
            },
        })?;
        if matches!(body, Body::Single(_)) {
            ctx.target = call.target().map(str::to_owned);
        }
        if mirror.modern && message.kind == MessageKind::Response {
            return Err(invalid("clients must not send responses in protocol 2026-07-28"));
        }
        mirror.check(message, &call).map_err(|e| Reject::HeaderMismatch(e.0))?;
        if let McpCall::ToolCall { name, .. } = &call
            && let Some(mirrored) = upstream.param_headers.of(name)
        {
            mcp::params::check(headers, &mirrored, message.params, mirror.modern)
                .map_err(|e| Reject::HeaderMismatch(e.0))?;
        }
        calls.push(call);
    }
    let messages = match body {
        Body::Single(message) => vec![message],
        Body::Batch(messages) => messages,
    };
    Ok(messages.into_iter().zip(calls).collect())
}

/// A method is forwarded only as itself: a lenient spelling of a policed method (`TOOLS/CALL`,
/// `tools/call `, `/tools/call`) is not found, never passed on as an unknown method carrying a
/// name the policy did not judge; and only the route's allow-list passes.
fn check_method(message: &Message<'_>, upstream: &Upstream, single: bool, modern: bool) -> Result<(), Reject> {
    let Some(method) = message.method.as_deref() else {
        return Ok(());
    };
    if modern && REMOVED_IN_2026.contains(&method) {
        return Err(Reject::RemovedMethod);
    }
    let single_request = single && message.kind == MessageKind::Request;
    if let Some(policed) = mcp::methods::disguised(method) {
        tracing::info!(upstream = %upstream.name, policed, "disguised_method");
        return Err(Reject::MethodNotFound {
            reason: "disguised_method",
            single_request,
        });
    }
    if !upstream.methods.allows(method) {
        return Err(Reject::MethodNotFound {
            reason: "method_not_forwarded",
            single_request,
        });
    }
    Ok(())
}

/// Methods 2026-07-28 removed (`tasks/result` and `tasks/list` with SEP-2663); a server of
/// that revision answers them 404 + `-32601`.
const REMOVED_IN_2026: [&str; 7] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
    "tasks/result",
    "tasks/list",
];

#[derive(serde::Deserialize)]
struct MetaParams<'a> {
    #[serde(borrow, default, rename = "_meta")]
    meta: Option<MetaVersion<'a>>,
}

#[derive(serde::Deserialize)]
struct MetaVersion<'a> {
    #[serde(borrow, default, rename = "io.modelcontextprotocol/protocolVersion")]
    version: Option<std::borrow::Cow<'a, str>>,
}

/// A 2026-07-28 request names its revision twice, in `MCP-Protocol-Version` and in
/// `params._meta["io.modelcontextprotocol/protocolVersion"]`: they must agree (400 `-32020`).
fn check_meta_version(message: &Message<'_>, header: Option<&str>) -> Result<(), Reject> {
    let Some(params) = message.params else {
        return Ok(());
    };
    let named = serde_json::from_str::<MetaParams<'_>>(params.get())
        .ok()
        .and_then(|p| p.meta)
        .and_then(|m| m.version);
    match named {
        Some(version) if Some(version.as_ref()) != header => Err(Reject::HeaderMismatch(
            "MCP-Protocol-Version does not match params._meta's protocol version".into(),
        )),
        _ => Ok(()),
    }
}

fn invalid(message: &str) -> Reject {
    Reject::Envelope {
        reason: "invalid_request",
        code: -32600,
        message: format!("Invalid request: {message}"),
    }
}

fn envelope_reject(error: EnvelopeError) -> Reject {
    let code = match error {
        EnvelopeError::Parse(_) => -32700,
        EnvelopeError::DuplicateKey(_)
        | EnvelopeError::AmbiguousKey(_)
        | EnvelopeError::Invalid(_)
        | EnvelopeError::BatchNotAllowed => -32600,
    };
    Reject::Envelope {
        reason: error.reason(),
        code,
        message: error.message(),
    }
}
