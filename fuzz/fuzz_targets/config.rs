//! The config loader: any text is either a validated config or an error naming a key, never a
//! panic (environment references resolve to a fixed value).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = portcullis::config::load_str(text, &|name| (name == "SET").then(|| "http://127.0.0.1:1/mcp".to_string()));
});
