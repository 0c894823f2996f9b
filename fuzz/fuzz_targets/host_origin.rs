//! Host, authority and Origin parsing at the edge: any header bytes, as `Host`, as an
//! absolute-form target and as `Origin`, are accepted or refused without panicking.
#![no_main]

use http::{HeaderMap, HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use portcullis::pipeline::edge;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else { return };
    let request = Request::builder().uri("/mcp").header("host", value.clone()).body(());
    if let Ok(request) = request {
        let _ = edge::check_host(&request);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(request) = Request::builder().uri(format!("http://{text}/mcp")).header("host", value.clone()).body(()) {
            let _ = edge::check_host(&request);
        }
    }
    let mut headers = HeaderMap::new();
    headers.insert("origin", value);
    let _ = edge::check_origin(&headers, &["https://app.example.com".to_string()], |o| o == "http://localhost:8080");
});
