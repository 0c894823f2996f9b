//! Stage 8 (tasks): a task (2025-11-25 `tasks/*`) belongs to the principal whose
//! task-augmented `tools/call` created it, exactly like a session id. The `taskId` of the
//! creating answer (`result.task.taskId`, JSON or SSE) is bound in the state store; a
//! `tasks/get`, `tasks/result`, `tasks/cancel` or `tasks/update` naming a task that is not the
//! caller's gets the answer an unknown task gets (`-32602`), nothing forwarded; a `tasks/list`
//! answer keeps the caller's tasks only.

use bytes::{Bytes, BytesMut};
use http::{Response, header};
use hyper::body::Incoming;
use serde_json::Value;

use super::context::RequestContext;
use super::reject::into_response;
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::mcp::{McpCall, Message, RequestId, sse};
use crate::server::GatewayBody;
use crate::state::{SessionCheck, SessionKey, SessionStore};
use crate::upstream::{Lease, ServerRequests, Upstream};

/// What an answer does to task bindings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TaskAnswer {
    /// A task-augmented `tools/call` is answered: bind the task ids it returns.
    pub creates: bool,
    /// A `tasks/list` is answered: keep the caller's tasks only.
    pub lists: bool,
}

impl TaskAnswer {
    pub(super) fn of(parsed: Option<&[(Message<'_>, McpCall<'_>)]>) -> Self {
        let mut answer = Self::default();
        for (message, call) in parsed.unwrap_or_default() {
            match call {
                McpCall::ToolCall { task: true, .. } => answer.creates = true,
                // 2026-07-28: the server decides to run a call as a task when the client
                // declared the tasks extension.
                McpCall::ToolCall { .. }
                    if message
                        .params
                        .is_some_and(|p| p.get().contains("io.modelcontextprotocol/tasks")) =>
                {
                    answer.creates = true;
                }
                McpCall::TaskList => answer.lists = true,
                _ => {}
            }
        }
        answer
    }

    pub(super) fn any(self) -> bool {
        self.creates || self.lists
    }
}

impl Gateway {
    /// Refuses a body naming a task that is not the caller's; the store unreachable is 503.
    pub(super) async fn check_tasks(
        &self,
        upstream: &Upstream,
        owner: &str,
        parsed: Option<&[(Message<'_>, McpCall<'_>)]>,
        ctx: &RequestContext,
    ) -> Result<(), Reject> {
        let Some(parsed) = parsed else {
            return Ok(());
        };
        let single_request = !ctx.batch && ctx.jsonrpc_id.is_some();
        for (_, call) in parsed {
            let McpCall::Task { id } = call else {
                continue;
            };
            let key = SessionKey::task(&upstream.route, id.as_bytes());
            match self
                .sessions
                .check(key, owner)
                .await
                .map_err(|_| Reject::StateUnavailable)?
            {
                SessionCheck::Owner => {}
                SessionCheck::Unknown => {
                    return Err(Reject::TaskNotFound {
                        mismatch: false,
                        single_request,
                    });
                }
                SessionCheck::OtherPrincipal => {
                    tracing::warn!(subject = owner, route = %upstream.route, "task_mismatch");
                    return Err(Reject::TaskNotFound {
                        mismatch: true,
                        single_request,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Largest answer read to bind or filter tasks.
const MAX_TASK_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The answer to a body that creates or lists tasks: read whole (bounded in size and time;
/// such answers are one short message), task ids bound or filtered, then sent as read.
#[expect(clippy::too_many_arguments, reason = "one value per thing the answer depends on")]
pub(super) async fn respond_tasks(
    response: Response<Incoming>,
    lease: Lease,
    store: &SessionStore,
    upstream: &Upstream,
    owner: &str,
    tasks: TaskAnswer,
    idle: std::time::Duration,
    request_id: Option<&RequestId>,
    police: &ServerRequests,
) -> Result<(http::response::Parts, Bytes, bool), Response<GatewayBody>> {
    use http_body_util::BodyExt as _;
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
    let (parts, incoming) = response.into_parts();
    let limited = http_body_util::Limited::new(incoming, MAX_TASK_ANSWER_BYTES);
    let body = match tokio::time::timeout(idle, limited.collect()).await {
        Ok(Ok(collected)) => {
            lease.release();
            collected.to_bytes()
        }
        Ok(Err(error)) => {
            tracing::warn!(upstream = %upstream.name, %error, "upstream task answer unreadable or too large");
            return Err(into_response(Reject::UpstreamUnavailable, request_id));
        }
        Err(_) => {
            tracing::warn!(upstream = %upstream.name, "upstream task answer not received in time");
            return Err(into_response(Reject::UpstreamTimeout, request_id));
        }
    };
    let binder = Binder {
        store,
        route: &upstream.route,
        owner,
        tasks,
        request_id,
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return Err(into_response(Reject::UpstreamUnavailable, request_id));
    };
    let out = if is_sse {
        let mut out = BytesMut::with_capacity(body.len());
        for raw in sse::split_events(text.as_bytes()) {
            match sse::parse_event(raw) {
                Some(event) if event.has_data && police.refuses(&event.data) => {}
                Some(event) if event.has_data => match binder.message(&event.data).await {
                    Some(rewritten) => out.extend_from_slice(&sse::write_event(event.name, event.id, &rewritten)),
                    None => out.extend_from_slice(raw),
                },
                _ => out.extend_from_slice(raw),
            }
        }
        out.freeze()
    } else {
        match binder.message(text).await {
            Some(rewritten) => Bytes::from(rewritten),
            None => body,
        }
    };
    Ok((parts, out, is_sse))
}

/// Binds and filters the task ids of one JSON body or SSE event's data.
struct Binder<'a> {
    store: &'a SessionStore,
    route: &'a str,
    owner: &'a str,
    tasks: TaskAnswer,
    request_id: Option<&'a RequestId>,
}

impl Binder<'_> {
    /// The rewritten text when a `tasks/list` result lost tasks; `None` to keep the text.
    async fn message(&self, text: &str) -> Option<String> {
        // A list answer read one way here and another by the client (repeated members, bad
        // JSON) could show other principals' tasks: it never passes.
        let readable = crate::mcp::strict_check(text.as_bytes()).is_ok();
        let parsed = serde_json::from_str::<Value>(text).ok().filter(|_| readable);
        let Some(mut value) = parsed else {
            return self
                .tasks
                .lists
                .then(|| String::from_utf8_lossy(&crate::authz::unfilterable(self.request_id)).into_owned());
        };
        let mut changed = false;
        match &mut value {
            Value::Array(items) => {
                for item in items {
                    changed |= self.one(item).await;
                }
            }
            item => changed |= self.one(item).await,
        }
        changed.then(|| value.to_string())
    }

    /// Binds the task one answer creates, or filters the tasks it lists; whether it changed.
    async fn one(&self, answer: &mut Value) -> bool {
        let Some(result) = answer.get_mut("result").and_then(Value::as_object_mut) else {
            return false;
        };
        if self.tasks.creates {
            // 2025-11-25: `result.task.taskId`; 2026-07-28 (SEP-2663): a result of
            // `resultType: "task"` with its own `taskId`.
            let created = result
                .get("task")
                .and_then(|t| t.get("taskId"))
                .or_else(|| {
                    result
                        .get("taskId")
                        .filter(|_| result.get("resultType") == Some(&Value::from("task")))
                })
                .and_then(Value::as_str);
            if let Some(id) = created {
                let key = SessionKey::task(self.route, id.as_bytes());
                match self.store.bind(key, self.owner).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(route = self.route, "task not bound"),
                    // Not bound: the caller's `tasks/*` requests fail closed (503 or unknown).
                    Err(_) => tracing::warn!(route = self.route, "task not bound: state store unavailable"),
                }
            }
        }
        let Some(Value::Array(listed)) = result.get_mut("tasks").filter(|_| self.tasks.lists) else {
            return false;
        };
        let before = listed.len();
        let mut kept = Vec::with_capacity(before);
        for task in listed.drain(..) {
            let Some(id) = task.get("taskId").and_then(Value::as_str) else {
                continue;
            };
            let key = SessionKey::task(self.route, id.as_bytes());
            // Unreachable store: the task is not shown (fail closed).
            if matches!(self.store.check(key, self.owner).await, Ok(SessionCheck::Owner)) {
                kept.push(task);
            }
        }
        let changed = kept.len() != before;
        *listed = kept;
        changed
    }
}
