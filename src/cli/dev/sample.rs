//! The built-in sample MCP server of `portcullis dev`: the seed's weather and file tools,
//! answering JSON (no SSE) in both protocol eras. It stores nothing on disk: files and
//! forecasts live in memory, so the demo cannot touch the machine.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// In-memory state of the sample tools.
#[derive(Debug, Default)]
struct Store {
    forecasts: BTreeMap<String, String>,
    files: BTreeMap<String, String>,
}

/// The tools offered, with their input schemas.
fn tools() -> Value {
    let string = |desc: &str| json!({ "type": "string", "description": desc });
    let tool = |name: &str, desc: &str, props: Value, required: &[&str]| json!({ "name": name, "description": desc, "inputSchema": { "type": "object", "properties": props, "required": required } });
    json!([
        tool(
            "get_weather",
            "Current forecast for a city",
            json!({ "city": string("City name") }),
            &["city"]
        ),
        tool(
            "set_weather",
            "Set the forecast for a city",
            json!({ "city": string("City name"), "forecast": string("Forecast") }),
            &["city", "forecast"]
        ),
        tool(
            "read_file",
            "Read a file (in memory)",
            json!({ "path": string("File path") }),
            &["path"]
        ),
        tool(
            "write_file",
            "Write a file (in memory)",
            json!({ "path": string("File path"), "content": string("Content") }),
            &["path", "content"]
        ),
        tool(
            "delete_file",
            "Delete a file (in memory)",
            json!({ "path": string("File path") }),
            &["path"]
        ),
        tool("list_users", "List the demo users", json!({}), &[]),
    ])
}

fn text_result(text: String, is_error: bool) -> Value {
    json!({ "content": [{ "type": "text", "text": text }], "isError": is_error })
}

fn call(store: &Mutex<Store>, name: &str, args: &Value) -> Option<Value> {
    let arg = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
    let result = match name {
        "get_weather" => {
            let city = arg("city");
            let forecast = store
                .forecasts
                .get(&city)
                .cloned()
                .unwrap_or_else(|| "sunny, 21 °C".into());
            text_result(format!("{city}: {forecast}"), false)
        }
        "set_weather" => {
            store.forecasts.insert(arg("city"), arg("forecast"));
            text_result(format!("forecast for {} set", arg("city")), false)
        }
        "read_file" => match store.files.get(&arg("path")) {
            Some(content) => text_result(content.clone(), false),
            None => text_result(format!("no such file: {}", arg("path")), true),
        },
        "write_file" => {
            store.files.insert(arg("path"), arg("content"));
            text_result(format!("wrote {}", arg("path")), false)
        }
        "delete_file" => {
            let existed = store.files.remove(&arg("path")).is_some();
            text_result(
                format!("{} {}", if existed { "deleted" } else { "no such file:" }, arg("path")),
                !existed,
            )
        }
        "list_users" => text_result("guest, user, premium, admin".into(), false),
        _ => return None,
    };
    Some(result)
}

const MODERN: &str = "2026-07-28";

fn answer(store: &Mutex<Store>, message: &Value, modern: bool) -> Option<Value> {
    let id = message.get("id")?.clone();
    let method = message.get("method").and_then(Value::as_str).unwrap_or_default();
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    let server_info = json!({ "name": "portcullis-sample", "version": env!("CARGO_PKG_VERSION") });
    let mut result = match method {
        "initialize" => {
            let asked = params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("2025-11-25");
            let known = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
            let version = if known.contains(&asked) { asked } else { "2025-11-25" };
            json!({ "protocolVersion": version, "capabilities": { "tools": { "listChanged": false } }, "serverInfo": server_info })
        }
        "server/discover" => json!({
            "supportedVersions": [MODERN],
            "capabilities": { "tools": { "listChanged": false } },
            "serverInfo": server_info,
        }),
        "ping" => json!({}),
        "tools/list" => json!({ "tools": tools() }),
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str).unwrap_or_default();
            let args = params.get("arguments").cloned().unwrap_or(json!({}));
            match call(store, name, &args) {
                Some(result) => result,
                None => {
                    return Some(
                        json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32602, "message": format!("Unknown tool: {name}") } }),
                    );
                }
            }
        }
        _ => {
            return Some(
                json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32601, "message": "Method not found" } }),
            );
        }
    };
    if modern && let Some(object) = result.as_object_mut() {
        object.insert("resultType".into(), json!("complete"));
        object.insert("ttlMs".into(), json!(0));
        object.insert("cacheScope".into(), json!("private"));
        object.insert(
            "_meta".into(),
            json!({ "io.modelcontextprotocol/serverInfo": server_info }),
        );
    }
    Some(json!({ "jsonrpc": "2.0", "id": id, "result": result }))
}

async fn handle(store: Arc<Mutex<Store>>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let respond = |status: StatusCode, body: Bytes| {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        response
    };
    if request.method() != Method::POST {
        let mut response = respond(StatusCode::METHOD_NOT_ALLOWED, Bytes::new());
        response
            .headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static("POST"));
        return response;
    }
    let modern = request
        .headers()
        .get("mcp-protocol-version")
        .is_some_and(|v| v.as_bytes() >= MODERN.as_bytes());
    let Ok(body) = request.into_body().collect().await.map(|c| c.to_bytes()) else {
        return respond(StatusCode::BAD_REQUEST, Bytes::new());
    };
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return respond(
            StatusCode::BAD_REQUEST,
            Bytes::from_static(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#),
        );
    };
    match answer(&store, &message, modern) {
        Some(reply) => respond(StatusCode::OK, Bytes::from(reply.to_string())),
        None => respond(StatusCode::ACCEPTED, Bytes::new()),
    }
}

/// Starts the sample server on 127.0.0.1 (a free port); returns its address.
pub async fn start() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let store = Arc::new(Mutex::new(Store::default()));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let store = Arc::clone(&store);
                    async move { Ok::<_, Infallible>(handle(store, request).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}
