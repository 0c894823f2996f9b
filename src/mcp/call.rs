//! `McpCall`: what a JSON-RPC message asks the upstream for, decided from the body alone.
//! Policy (a later stage) matches on this closed enum.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::jsonrpc::{Message, MessageKind};

/// Which list a `*/list` request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Tools,
    Resources,
    ResourceTemplates,
    Prompts,
}

/// What one message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpCall<'a> {
    /// `tools/call` with `params.name`; `task` when its answer may create a task (2025-11-25
    /// `params.task`; 2026-07-28 a client declaring the tasks extension in `params._meta`):
    /// the answer's task id is bound to the caller.
    ToolCall { name: Cow<'a, str>, task: bool },
    /// `resources/read`, `resources/subscribe`, `resources/unsubscribe` with `params.uri`.
    ResourceRead { uri: Cow<'a, str> },
    /// `prompts/get` with `params.name`.
    PromptGet { name: Cow<'a, str> },
    /// `completion/complete`: the prompt name (`of_prompt`) or resource-template URI of `params.ref`.
    Complete { target: Cow<'a, str>, of_prompt: bool },
    /// `subscriptions/listen` (2026-07-28): the resource URIs of
    /// `params.notifications.resourceSubscriptions`.
    Listen { uris: Vec<Cow<'a, str>> },
    /// A `*/list` request (results are filtered on the way back).
    List(ListKind),
    /// `tasks/get`, `tasks/result`, `tasks/cancel`, `tasks/update` with `params.taskId`: the
    /// task must be bound to the caller.
    Task { id: Cow<'a, str> },
    /// `tasks/list`: the answer keeps the caller's tasks only.
    TaskList,
    /// `initialize` (2025-era handshake).
    Initialize,
    /// A notification (no id).
    Notification,
    /// A JSON-RPC response the client posts (answer to sampling, elicitation, roots).
    Response,
    /// Any other request, e.g. `ping`, `server/discover`.
    Other,
}

impl McpCall<'_> {
    /// The tool, resource or prompt the call names, for audit.
    pub fn target(&self) -> Option<&str> {
        match self {
            Self::ToolCall { name, .. } | Self::PromptGet { name } => Some(name),
            Self::ResourceRead { uri } => Some(uri),
            Self::Complete { target, .. } => Some(target),
            Self::Listen { uris } => uris.first().map(Cow::as_ref),
            Self::Task { id } => Some(id),
            Self::TaskList | Self::List(_) | Self::Initialize | Self::Notification | Self::Response | Self::Other => {
                None
            }
        }
    }
}

/// Why a message's params cannot be classified; answered with `-32602` and the request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidParams(pub String);

#[derive(Deserialize)]
struct NameParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct ToolParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    task: Option<serde::de::IgnoredAny>,
    #[serde(default, borrow, rename = "_meta")]
    meta: Option<&'a RawValue>,
}

/// The 2026-07-28 tasks extension a client declares in its capabilities (SEP-2663).
const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

#[derive(Deserialize)]
struct TaskParams<'a> {
    #[serde(borrow, rename = "taskId")]
    task_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct UriParams<'a> {
    #[serde(borrow)]
    uri: Cow<'a, str>,
}

#[derive(Deserialize)]
struct CompleteParams<'a> {
    #[serde(borrow, rename = "ref")]
    reference: CompleteRef<'a>,
}

#[derive(Deserialize)]
struct CompleteRef<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    uri: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ListenParams<'a> {
    #[serde(borrow, default)]
    notifications: Option<ListenNotifications<'a>>,
}

#[derive(Deserialize)]
struct ListenNotifications<'a> {
    #[serde(borrow, default, rename = "resourceSubscriptions")]
    resource_subscriptions: Option<Vec<Cow<'a, str>>>,
}

fn params<'a, T: Deserialize<'a>>(params: Option<&'a RawValue>, what: &str) -> Result<T, InvalidParams> {
    let raw = params.ok_or_else(|| InvalidParams(format!("missing params ({what} required)")))?;
    serde_json::from_str(raw.get()).map_err(|_| InvalidParams(format!("params.{what} must be a string")))
}

/// Classifies a parsed message. Notifications that name a tool are classified by their
/// method like requests, so a `tools/call` without an id is still a tool call.
pub fn classify<'a>(message: &Message<'a>) -> Result<McpCall<'a>, InvalidParams> {
    if message.kind == MessageKind::Response {
        return Ok(McpCall::Response);
    }
    let method = message.method.as_deref().unwrap_or_default();
    let call = match method {
        "tools/call" => {
            let parsed = params::<ToolParams<'a>>(message.params, "name")?;
            McpCall::ToolCall {
                name: parsed.name,
                task: parsed.task.is_some() || parsed.meta.is_some_and(|m| m.get().contains(TASKS_EXTENSION)),
            }
        }
        "tasks/get" | "tasks/result" | "tasks/cancel" | "tasks/update" => McpCall::Task {
            id: params::<TaskParams<'a>>(message.params, "taskId")?.task_id,
        },
        "tasks/list" => McpCall::TaskList,
        "prompts/get" => McpCall::PromptGet {
            name: params::<NameParams<'a>>(message.params, "name")?.name,
        },
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => McpCall::ResourceRead {
            uri: params::<UriParams<'a>>(message.params, "uri")?.uri,
        },
        "completion/complete" => {
            // The target is chosen by `ref.type`, and the other field must be absent: policy
            // and upstream must not read different fields of one reference.
            let reference = params::<CompleteParams<'a>>(message.params, "ref")?.reference;
            let (target, of_prompt) = match (reference.kind.as_ref(), reference.name, reference.uri) {
                ("ref/prompt", Some(name), None) => (name, true),
                ("ref/resource", None, Some(uri)) => (uri, false),
                _ => {
                    return Err(InvalidParams(
                        "params.ref must be {type: \"ref/prompt\", name} or {type: \"ref/resource\", uri}".into(),
                    ));
                }
            };
            McpCall::Complete { target, of_prompt }
        }
        "subscriptions/listen" => {
            let parsed: ListenParams<'a> = match message.params {
                None => ListenParams { notifications: None },
                Some(raw) => serde_json::from_str(raw.get()).map_err(|_| {
                    InvalidParams("params.notifications.resourceSubscriptions must be an array of URIs".into())
                })?,
            };
            McpCall::Listen {
                uris: parsed
                    .notifications
                    .and_then(|n| n.resource_subscriptions)
                    .unwrap_or_default(),
            }
        }
        "tools/list" => McpCall::List(ListKind::Tools),
        "resources/list" => McpCall::List(ListKind::Resources),
        "resources/templates/list" => McpCall::List(ListKind::ResourceTemplates),
        "prompts/list" => McpCall::List(ListKind::Prompts),
        "initialize" => McpCall::Initialize,
        _ if message.kind == MessageKind::Notification => McpCall::Notification,
        _ => McpCall::Other,
    };
    Ok(call)
}

#[cfg(test)]
mod tests {
    use super::{McpCall, classify};
    use crate::mcp::jsonrpc::{Body, parse};

    fn call_of(body: &str) -> Result<McpCall<'static>, super::InvalidParams> {
        let leaked: &'static str = Box::leak(body.to_string().into_boxed_str());
        match parse(leaked.as_bytes(), false) {
            Ok(Body::Single(message)) => classify(&message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn finds_the_policy_target_in_the_body() {
        let tool =
            call_of(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{}}}"#);
        assert_eq!(tool.unwrap().target(), Some("read_file"));
        let note = call_of(r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete_file"}}"#);
        assert_eq!(note.unwrap().target(), Some("delete_file"));
        let res = call_of(r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}"#);
        assert_eq!(res.unwrap().target(), Some("file:///a"));
        let complete = call_of(
            r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"b"}}}"#,
        );
        assert_eq!(complete.unwrap().target(), Some("p"));
    }

    #[test]
    fn wrong_param_types_are_invalid_params() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["ok","delete_all"]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":{}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"secret://x","name":"ok"}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","uri":"secret://x"}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"name":"p"}}}"#,
        ] {
            assert!(call_of(body).is_err(), "{body}");
        }
    }
}
