//! The SSE framer and the list filter on its events: any byte stream cut at any points is
//! framed into whole events (never more than the bound), and each event's data goes through
//! the filter a restricted caller gets.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use portcullis::authz::{Kind, ListFilter};
use portcullis::mcp::sse;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the cut points, the rest is the stream.
    let Some((&step, stream)) = data.split_first() else { return };
    let step = usize::from(step % 64) + 1;
    let filter = ListFilter::new(Arc::new(|kind: Kind, name: &str| kind == Kind::Tool && name.starts_with('a')));
    let mut framer = sse::Framer::new(4096);
    for chunk in stream.chunks(step) {
        let Ok(run) = framer.push(chunk) else { return };
        for raw in sse::split_events(&run) {
            if let Some(event) = sse::parse_event(raw) {
                let _ = filter.body(&event.data);
            }
        }
    }
});
