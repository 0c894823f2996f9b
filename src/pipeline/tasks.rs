//! Stage 8 (tasks): a task (2025-11-25 `tasks/*`) belongs to the principal whose
//! task-augmented `tools/call` created it, exactly like a session id. The `taskId` of the
//! creating answer (`result.task.taskId`, JSON or SSE) is bound in the state store; a
//! `tasks/get`, `tasks/result`, `tasks/cancel` or `tasks/update` naming a task that is not the
//! caller's gets the answer an unknown task gets (`-32602`), nothing forwarded; a `tasks/list`
//! answer keeps the caller's tasks only.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use super::context::RequestContext;
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::mcp::{McpCall, Message, RequestId, sse};
use crate::state::{SessionCheck, SessionKey, SessionStore};
use crate::upstream::{ServerRequests, Upstream};

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
        for (_, call) in parsed.unwrap_or_default() {
            match call {
                McpCall::ToolCall { task: true, .. } => answer.creates = true,
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
pub(super) const MAX_TASK_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Binds and filters the task ids of one JSON body or SSE event's data.
pub(super) struct Binder<'a> {
    pub store: &'a SessionStore,
    pub route: &'a str,
    pub owner: &'a str,
    pub tasks: TaskAnswer,
    pub request_id: Option<&'a RequestId>,
}

impl Binder<'_> {
    /// A whole answer (JSON, or SSE event by event, where the requests `police` refuses are
    /// dropped) with its task ids bound or filtered; `None` when it is not UTF-8.
    pub(super) async fn answer(&self, body: Bytes, is_sse: bool, police: &ServerRequests) -> Option<Bytes> {
        let text = std::str::from_utf8(&body).ok()?;
        if !is_sse {
            return Some(self.message(text).await.map_or(body.clone(), Bytes::from));
        }
        let mut out = BytesMut::with_capacity(body.len());
        for raw in sse::split_events(text.as_bytes()) {
            match sse::parse_event(raw) {
                Some(event) if event.has_data && police.refuses(&event.data) => {}
                Some(event) if event.has_data => match self.message(&event.data).await {
                    Some(rewritten) => out.extend_from_slice(&sse::write_event(event.name, event.id, &rewritten)),
                    None => out.extend_from_slice(raw),
                },
                _ => out.extend_from_slice(raw),
            }
        }
        Some(out.freeze())
    }

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
