//! The JSON-RPC envelope parser and policy target extraction: any bytes, with and without
//! batches; whatever parses must classify (or be refused as invalid params) without panicking,
//! and a target the policy would judge must be a string the body really holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::mcp::{self, Body};

fuzz_target!(|data: &[u8]| {
    for batches in [false, true] {
        let Ok(body) = mcp::parse(data, batches) else { continue };
        let messages = match &body {
            Body::Single(message) => std::slice::from_ref(message),
            Body::Batch(messages) => messages.as_slice(),
        };
        for message in messages {
            let _ = message.method.as_deref().map(mcp::methods::disguised);
            if let Ok(call) = mcp::classify(message) {
                let _ = portcullis::authz::target(&call);
            }
        }
    }
});
