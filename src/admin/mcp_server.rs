//! `/admin/mcp`: a small MCP server (Streamable HTTP, both eras; stateless: no sessions) with
//! one tool, `get_security_audit(time_range)`, listed and callable only for callers holding
//! `metrics:view`. Everyone else sees an empty tool list and gets the same `-32602 Unknown
//! tool` a name nobody knows gets. The wire shapes are those `tests/interop/admin_mcp_spec.md`
//! checked against the Python SDK client.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde_json::{Value, json};

use super::viewer::viewer;
use crate::audit::Range;
use crate::config::Secret;
use crate::gateway::Gateway;
use crate::server::{GatewayBody, json_response};
use crate::telemetry::AuditEvent;

/// The endpoint.
pub const PATH: &str = "/admin/mcp";
const TOOL: &str = "get_security_audit";
const MODERN: &str = "2026-07-28";
const LEGACY: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// Answers one HTTP request to `/admin/mcp`.
pub async fn handle(
    gateway: &Gateway,
    token: Option<&Secret>,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<GatewayBody> {
    let (viewer, principal) = match viewer(gateway, token, headers).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if method != Method::POST {
        let mut response = Response::new(GatewayBody::empty());
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let version = headers.get("mcp-protocol-version").and_then(|v| v.to_str().ok());
    let modern = match version {
        Some(MODERN) => true,
        None => false,
        Some(v) if LEGACY.contains(&v) => false,
        Some(other) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                -32022,
                &format!("Unsupported protocol version: {other}"),
                Some(json!({ "supported": [LEGACY[3], MODERN], "requested": other })),
            );
        }
    };
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return rpc_error(StatusCode::BAD_REQUEST, &Value::Null, -32700, "Parse error", None);
    };
    let Some(object) = message.as_object().filter(|o| o.get("jsonrpc") == Some(&json!("2.0"))) else {
        return rpc_error(StatusCode::BAD_REQUEST, &Value::Null, -32600, "Invalid Request", None);
    };
    let Some(id) = object
        .get("id")
        .filter(|id| id.is_string() || id.is_i64() || id.is_u64())
    else {
        // A notification, or a response the client POSTs: nothing to answer.
        let mut response = Response::new(GatewayBody::empty());
        *response.status_mut() = StatusCode::ACCEPTED;
        return response;
    };
    let name = object.get("method").and_then(Value::as_str).unwrap_or_default();
    let params = object.get("params").cloned().unwrap_or_else(|| json!({}));
    if modern {
        if headers.get("mcp-method").and_then(|v| v.to_str().ok()) != Some(name) {
            return rpc_error(StatusCode::BAD_REQUEST, id, -32020, "Header mismatch: Mcp-Method", None);
        }
        let named = params.get("name").and_then(Value::as_str);
        if name == "tools/call" && headers.get("mcp-name").and_then(|v| v.to_str().ok()) != named {
            return rpc_error(StatusCode::BAD_REQUEST, id, -32020, "Header mismatch: Mcp-Name", None);
        }
    }
    let actor = viewer.as_ref().map_or_else(
        || {
            principal
                .as_ref()
                .map(|p| format!("{}:{}", p.method.label(), p.subject))
        },
        |v| Some(v.actor()),
    );
    let result = match (name, modern) {
        ("initialize", false) => {
            let asked = params.get("protocolVersion").and_then(Value::as_str);
            let version = asked.filter(|v| LEGACY.contains(v)).unwrap_or(LEGACY[3]);
            json!({
                "protocolVersion": version,
                "capabilities": { "tools": { "listChanged": false } },
                "serverInfo": server_info(),
                "instructions": "Portcullis admin MCP server: the security audit of this gateway.",
            })
        }
        ("server/discover", true) => json!({
            "supportedVersions": [MODERN],
            "capabilities": { "tools": { "listChanged": false } },
            "instructions": "Portcullis admin MCP server: the security audit of this gateway.",
            "ttlMs": 0,
            "cacheScope": "private",
        }),
        ("ping", false) => json!({}),
        ("tools/list", _) => {
            let tools = if viewer.is_some() { vec![tool()] } else { Vec::new() };
            let mut result = json!({ "tools": tools });
            if modern {
                result["ttlMs"] = json!(0);
                result["cacheScope"] = json!("private");
            }
            result
        }
        ("tools/call", _) => {
            let called = params.get("name").and_then(Value::as_str).unwrap_or_default();
            if called != TOOL || viewer.is_none() {
                audit(gateway, actor.as_deref(), called, "deny", "unknown_tool");
                return rpc_error(StatusCode::OK, id, -32602, &format!("Unknown tool: {called}"), None);
            }
            let asked = params.pointer("/arguments/time_range").and_then(Value::as_str);
            audit(gateway, actor.as_deref(), TOOL, "allow", "ok");
            call(gateway, asked).await
        }
        _ => {
            let status = if modern { StatusCode::NOT_FOUND } else { StatusCode::OK };
            return rpc_error(status, id, -32601, &format!("Method not found: {name}"), None);
        }
    };
    let mut result = result;
    if modern {
        result["resultType"] = json!("complete");
        result["_meta"] = json!({ "io.modelcontextprotocol/serverInfo": server_info() });
    }
    let body = json!({ "jsonrpc": "2.0", "id": id, "result": result });
    let mut response = json_response(StatusCode::OK, Bytes::from(body.to_string()));
    crate::server::no_store(response.headers_mut());
    response
}

async fn call(gateway: &Gateway, asked: Option<&str>) -> Value {
    let Some(range) = asked.and_then(Range::parse) else {
        let text = format!(
            "Invalid time_range '{}': expected one of 1h, 24h, 7d",
            asked.unwrap_or_default()
        );
        return json!({ "content": [{ "type": "text", "text": text }], "isError": true });
    };
    let Some(monitor) = gateway.monitor() else {
        let text = "The audit is off ([audit] sink = \"off\"): nothing is aggregated";
        return json!({ "content": [{ "type": "text", "text": text }], "isError": true });
    };
    let report = monitor.report(range).await;
    let mut structured = serde_json::to_value(&report).unwrap_or_else(|_| json!({}));
    structured["time_range"] = json!(range.label());
    json!({
        "content": [{ "type": "text", "text": report.text() }],
        "structuredContent": structured,
        "isError": false,
    })
}

fn tool() -> Value {
    json!({
        "name": TOOL,
        "title": "Security audit",
        "description": "The gateway's security audit over a time range: failed authentications, permission denials, rate-limit violations and unusual access patterns (findings with evidence).",
        "inputSchema": {
            "type": "object",
            "properties": { "time_range": { "type": "string", "enum": ["1h", "24h", "7d"], "description": "Window to report on." } },
            "required": ["time_range"],
            "additionalProperties": false,
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "time_range": { "type": "string", "enum": ["1h", "24h", "7d"] },
                "range": { "type": "string" },
                "totals": { "type": "object" },
                "findings": { "type": "array" },
            },
            "required": ["time_range", "range", "totals", "findings"],
        },
        "annotations": { "title": "Security audit", "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false },
    })
}

fn server_info() -> Value {
    json!({ "name": "portcullis-admin", "version": env!("CARGO_PKG_VERSION") })
}

fn audit(gateway: &Gateway, actor: Option<&str>, target: &str, decision: &'static str, reason: &'static str) {
    let mut event = AuditEvent::new("admin_mcp", decision, reason);
    event.subject = actor;
    event.target = Some(target);
    event.jsonrpc_method = Some("tools/call");
    gateway.audit().record(&event);
}

fn rpc_error(status: StatusCode, id: &Value, code: i64, message: &str, data: Option<Value>) -> Response<GatewayBody> {
    let mut error = json!({ "code": code, "message": message });
    if let Some(data) = data {
        error["data"] = data;
    }
    let body = json!({ "jsonrpc": "2.0", "id": id, "error": error });
    json_response(status, Bytes::from(body.to_string()))
}
