//! An MCP client identity talking to a test gateway in the 2025-11-25 era: a bearer token of
//! the harness key, a session once initialized, fresh ids; and reading one message out of a
//! JSON or SSE answer.

use std::path::Path;

use http::StatusCode;
use serde_json::{Value, json};

use super::{Answer, TestGateway, mcp_post, token, with_body};

/// One MCP client identity talking to the gateway (2025-11-25, with a session once initialized).
pub struct Caller<'g> {
    gateway: &'g TestGateway,
    pub token: String,
    pub session: Option<String>,
    next_id: u64,
}

impl<'g> Caller<'g> {
    pub fn new(gateway: &'g TestGateway, subject: &str, roles: &[&str]) -> Self {
        Self {
            gateway,
            token: token(subject, roles),
            session: None,
            next_id: 1,
        }
    }

    pub fn request(&self, builder: http::request::Builder) -> http::request::Builder {
        let builder = builder
            .header("authorization", format!("Bearer {}", self.token))
            .header("mcp-protocol-version", "2025-11-25");
        match &self.session {
            Some(session) => builder.header("mcp-session-id", session),
            None => builder,
        }
    }

    pub async fn post(&self, body: &str) -> Answer {
        let builder = self.request(mcp_post(&self.gateway.url("/mcp"), body));
        self.gateway.call(with_body(builder, body)).await
    }

    /// Sends a request with a fresh id; returns (id, answer).
    pub async fn send(&mut self, method: &str, params: &str) -> (u64, Answer) {
        let id = self.next_id;
        self.next_id += 1;
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#);
        (id, self.post(&body).await)
    }

    pub async fn initialize(&mut self) {
        let params =
            r#"{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"authz-test","version":"1"}}"#;
        let (id, answer) = self.send("initialize", params).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert!(message(&answer, id).get("result").is_some());
        self.session = answer
            .headers
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_string());
        let note = self
            .post(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
        assert_eq!(note.status, StatusCode::ACCEPTED, "{}", note.text());
    }

    /// Every page of a list, following `nextCursor`; returns the item names and the page count.
    pub async fn all_pages(&mut self, method: &str, member: &str, field: &str) -> (Vec<String>, usize) {
        let (mut names, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
        loop {
            let params = cursor.map_or("{}".to_string(), |c| json!({ "cursor": c }).to_string());
            let (id, answer) = self.send(method, &params).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
            let result = message(&answer, id)["result"].clone();
            let items = result[member]
                .as_array()
                .unwrap_or_else(|| panic!("{method}: {result}"));
            names.extend(items.iter().map(|i| i[field].as_str().unwrap().to_string()));
            pages += 1;
            assert!(pages <= 10, "bounded");
            match result.get("nextCursor").and_then(Value::as_str) {
                Some(next) => cursor = Some(next.to_string()),
                None => return (names, pages),
            }
        }
    }
}

/// The JSON-RPC message answering `id`, from a JSON or an SSE answer.
pub fn message(answer: &Answer, id: u64) -> Value {
    let sse = answer
        .headers
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/event-stream"));
    if !sse {
        return answer.json();
    }
    let text = answer.text();
    text.split("\n\n")
        .map(|event| {
            event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter_map(|data| serde_json::from_str::<Value>(&data).ok())
        .find(|m| m["id"] == json!(id))
        .unwrap_or_else(|| panic!("no answer to {id} in {text}"))
}

/// The lines of a `PY_SERVER_CALL_LOG` file (none when it was never written).
pub fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
