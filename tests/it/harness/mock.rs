//! An in-process recording upstream: every request it receives is recorded (method, path,
//! headers, exact body bytes), and a per-test handler decides the answer, including streamed
//! SSE bodies with delays and "hang forever".

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the upstream received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: http::Method,
    pub path_and_query: String,
    /// The request target exactly as sent.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// How the mock answers.
pub enum Reply {
    Json(StatusCode, &'static str),
    /// SSE: each chunk after its delay; the stream then ends (or hangs if `hold` is true).
    Sse {
        chunks: Vec<(Duration, Bytes)>,
        hold: bool,
    },
    /// SSE chunks, then the connection is aborted mid-body.
    SseThenAbort(Vec<(Duration, Bytes)>),
    /// Never answers.
    Hang,
    /// Another reply with these extra response headers.
    WithHeaders(Box<Reply>, Vec<(&'static str, &'static str)>),
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// The running mock.
pub struct Mock {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Recorded>>>,
    pub cancelled: Arc<AtomicBool>,
    /// TCP connections accepted so far.
    pub connections: Arc<AtomicUsize>,
}

impl Mock {
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub fn last(&self) -> Recorded {
        self.received
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("upstream received a request")
    }

    /// True once the gateway closed a streamed response of this mock (bounded wait).
    pub async fn saw_cancel(&self) -> bool {
        crate::harness::eventually(|| self.cancelled.load(Ordering::SeqCst)).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// A body fed from a channel; notes when the receiver side (the gateway) went away.
/// `None` on the channel aborts the body (the connection is reset mid-response).
struct ChannelBody(mpsc::Receiver<Option<Bytes>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|chunk| match chunk {
            Some(Some(bytes)) => Some(Ok(Frame::data(bytes))),
            Some(None) => Some(Err(std::io::Error::other("aborted by the mock"))),
            None => None,
        })
    }
}

type MockBody = http_body_util::Either<http_body_util::Full<Bytes>, ChannelBody>;

/// Starts a mock upstream with `handler`.
pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Mock {
    start_with(handler, true).await
}

/// Same; with `keep_alive` false, every response closes its connection.
pub async fn start_with(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static, keep_alive: bool) -> Mock {
    start_full(handler, keep_alive, None).await
}

/// Same, serving TLS with `tls` when given.
pub async fn start_full(
    handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    keep_alive: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let cancelled = Arc::new(AtomicBool::new(false));
    let handler: Handler = Arc::new(handler);
    let connections = Arc::new(AtomicUsize::new(0));
    let (rec, can, conns) = (received.clone(), cancelled.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            conns.fetch_add(1, Ordering::SeqCst);
            let (handler, rec, can, tls) = (handler.clone(), rec.clone(), can.clone(), tls.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let (handler, rec, can) = (handler.clone(), rec.clone(), can.clone());
                    async move { Ok::<_, Infallible>(answer(request, &handler, &rec, &can).await) }
                });
                let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                builder.http1().keep_alive(keep_alive);
                match tls {
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                    }
                    Some(config) => {
                        if let Ok(stream) = tokio_rustls::TlsAcceptor::from(config).accept(stream).await {
                            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                }
            });
        }
    });
    Mock {
        addr,
        received,
        cancelled,
        connections,
    }
}

async fn answer(
    request: Request<Incoming>,
    handler: &Handler,
    rec: &Mutex<Vec<Recorded>>,
    cancelled: &Arc<AtomicBool>,
) -> Response<MockBody> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let recorded = Recorded {
        method: parts.method,
        path_and_query: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        uri: parts.uri.to_string(),
        headers: parts.headers,
        body,
    };
    rec.lock().unwrap().push(recorded.clone());
    reply(handler(&recorded), cancelled).await
}

async fn reply(answer: Reply, cancelled: &Arc<AtomicBool>) -> Response<MockBody> {
    match answer {
        Reply::WithHeaders(inner, headers) => {
            let mut response = Box::pin(reply(*inner, cancelled)).await;
            for (name, value) in headers {
                response
                    .headers_mut()
                    .append(name, http::HeaderValue::from_static(value));
            }
            response
        }
        Reply::Json(status, text) => json(status, Bytes::from_static(text.as_bytes())),
        Reply::Hang => {
            let (tx, rx) = mpsc::channel::<Option<Bytes>>(1);
            let cancelled = cancelled.clone();
            // Headers never come; the gateway's response deadline must fire.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop((tx, cancelled));
            Response::new(http_body_util::Either::Right(ChannelBody(rx)))
        }
        Reply::Sse { chunks, hold } => sse_response(chunks, hold, false, cancelled),
        Reply::SseThenAbort(chunks) => sse_response(chunks, false, true, cancelled),
    }
}

fn sse_response(
    chunks: Vec<(Duration, Bytes)>,
    hold: bool,
    abort: bool,
    cancelled: &Arc<AtomicBool>,
) -> Response<MockBody> {
    {
        {
            let (tx, rx) = mpsc::channel::<Option<Bytes>>(16);
            let cancelled = cancelled.clone();
            tokio::spawn(async move {
                for (delay, chunk) in chunks {
                    tokio::time::sleep(delay).await;
                    if tx.send(Some(chunk)).await.is_err() {
                        cancelled.store(true, Ordering::SeqCst);
                        return;
                    }
                }
                if abort {
                    let _ = tx.send(None).await;
                    tx.closed().await;
                } else if hold {
                    tx.closed().await;
                    cancelled.store(true, Ordering::SeqCst);
                }
            });
            let mut response = Response::new(http_body_util::Either::Right(ChannelBody(rx)));
            response
                .headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            response
                .headers_mut()
                .insert("mcp-session-id", "sess-1".parse().unwrap());
            response
        }
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<MockBody> {
    let mut response = Response::new(http_body_util::Either::Left(http_body_util::Full::new(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

/// A mock answering every request with the same SSE chunks.
pub async fn sse(chunks: Vec<(Duration, Bytes)>, hold: bool) -> Mock {
    start(move |_| Reply::Sse {
        chunks: chunks.clone(),
        hold,
    })
    .await
}

/// One SSE answer: each JSON-RPC message in `messages` as a `message` event, then the end.
pub fn sse_events(messages: &[&str]) -> Reply {
    let text: String = messages
        .iter()
        .map(|m| format!("event: message\ndata: {m}\n\n"))
        .collect();
    Reply::Sse {
        chunks: vec![(Duration::ZERO, Bytes::from(text))],
        hold: false,
    }
}

/// The usual answer: echoes nothing, just a fixed JSON-RPC result for id 1.
/// An upstream with sessions: POST answers are one SSE event answering id 1 (SSE answers carry
/// `mcp-session-id: sess-1`), anything else gets `{}`.
pub async fn session_upstream() -> Mock {
    start(|request| match request.method {
        http::Method::POST => Reply::Sse {
            chunks: vec![(
                Duration::ZERO,
                Bytes::from_static(b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"),
            )],
            hold: false,
        },
        _ => Reply::Json(StatusCode::OK, "{}"),
    })
    .await
}

pub fn ok_json(_: &Recorded) -> Reply {
    Reply::Json(StatusCode::OK, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#)
}
