//! `portcullis explain --live`: asks the upstream itself (as an MCP client, 2025-11-25) for
//! every tool, resource and prompt it offers, following `nextCursor`, so `explain` can judge
//! names no rule lists. Goes straight to the upstream, with its configured headers.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt as _, Full};
use serde_json::{Value, json};

use crate::authz::Kind;
use crate::mcp::sse;
use crate::upstream::ConnPool;
use crate::upstream::Upstream;

/// Most pages read per list (a cursor loop in the upstream cannot hang `explain`).
const MAX_PAGES: usize = 100;

/// Every name of every list the upstream offers.
pub async fn lists(upstream: &Upstream, timeout: Duration) -> Result<Vec<(Kind, Vec<String>)>, String> {
    let pool = ConnPool::new(upstream, timeout);
    let mut client = Client {
        upstream,
        pool,
        session: None,
        next_id: 1,
        timeout,
    };
    let init = json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "portcullis-explain", "version": env!("CARGO_PKG_VERSION") } });
    let result = client.call("initialize", init).await?;
    client.notify("notifications/initialized").await?;
    let capabilities = result.get("capabilities").cloned().unwrap_or_default();
    let mut out: Vec<(Kind, Vec<String>)> = Vec::new();
    for (kind, capability, method, member, field) in [
        (Kind::Tool, "tools", "tools/list", "tools", "name"),
        (Kind::Resource, "resources", "resources/list", "resources", "uri"),
        (
            Kind::Resource,
            "resources",
            "resources/templates/list",
            "resourceTemplates",
            "uriTemplate",
        ),
        (Kind::Prompt, "prompts", "prompts/list", "prompts", "name"),
    ] {
        if capabilities.get(capability).is_none() {
            continue;
        }
        let names = client.all_pages(method, member, field).await?;
        match out.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, existing)) => existing.extend(names),
            None => out.push((kind, names)),
        }
    }
    client.close().await;
    Ok(out)
}

struct Client<'u> {
    upstream: &'u Upstream,
    pool: std::sync::Arc<ConnPool>,
    session: Option<HeaderValue>,
    next_id: u64,
    timeout: Duration,
}

impl Client<'_> {
    fn request(&self, method: Method, body: Bytes) -> Result<Request<Full<Bytes>>, String> {
        let path = self.upstream.url.path_and_query().map_or("/", |p| p.as_str());
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.upstream.host_header.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        for (name, value) in &self.upstream.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        if let Some(session) = &self.session {
            request.headers_mut().insert("mcp-session-id", session.clone());
        }
        Ok(request)
    }

    async fn send(&mut self, method: Method, body: Value) -> Result<(http::StatusCode, Bytes, bool), String> {
        let bytes = if body.is_null() {
            Bytes::new()
        } else {
            Bytes::from(body.to_string())
        };
        let request = self.request(method, bytes)?;
        let exchange = async {
            let (response, lease) = self.pool.send(request).await.map_err(|e| format!("upstream: {e}"))?;
            let status = response.status();
            if let Some(session) = response.headers().get("mcp-session-id") {
                self.session = Some(session.clone());
            }
            let sse = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"));
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("upstream body: {e}"))?;
            lease.release();
            Ok::<_, String>((status, body.to_bytes(), sse))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| "upstream did not answer in time".to_string())?
    }

    async fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let (status, bytes, sse) = self.send(Method::POST, body).await?;
        let messages: Vec<Value> = if sse {
            sse::split_events(&bytes)
                .into_iter()
                .filter_map(sse::parse_event)
                .filter_map(|event| serde_json::from_str(&event.data).ok())
                .collect()
        } else {
            serde_json::from_slice(&bytes).into_iter().collect()
        };
        let answer = messages
            .into_iter()
            .find(|m| m.get("id") == Some(&json!(id)))
            .ok_or_else(|| format!("{method}: no answer (HTTP {status})"))?;
        match answer.get("result") {
            Some(result) => Ok(result.clone()),
            None => Err(format!(
                "{method}: {}",
                answer.get("error").cloned().unwrap_or_default()
            )),
        }
    }

    async fn notify(&mut self, method: &str) -> Result<(), String> {
        self.send(Method::POST, json!({ "jsonrpc": "2.0", "method": method }))
            .await
            .map(|_| ())
    }

    async fn all_pages(&mut self, method: &str, member: &str, field: &str) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor.as_ref().map_or(json!({}), |c| json!({ "cursor": c }));
            let result = self.call(method, params).await?;
            let items = result
                .get(member)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            names.extend(
                items
                    .iter()
                    .filter_map(|i| i.get(field).and_then(Value::as_str))
                    .map(str::to_string),
            );
            match result.get("nextCursor").and_then(Value::as_str) {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        Ok(names)
    }

    /// Ends the session (best effort).
    async fn close(&mut self) {
        if self.session.is_some() {
            let _ = self.send(Method::DELETE, Value::Null).await;
        }
    }
}
