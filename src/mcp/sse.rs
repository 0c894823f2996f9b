//! SSE framing for streamed responses. The framer cuts the upstream byte stream at event
//! boundaries without changing a byte, so the gateway forwards whole events (never half of
//! one), can put its own keep-alive comment or error event between events, and can rewrite a
//! single event (the legacy `endpoint` event now, filtered `*/list` results later).

use bytes::{Bytes, BytesMut};

/// Splits a byte stream into complete SSE events.
#[derive(Debug)]
pub struct Framer {
    pending: BytesMut,
    /// Bytes of `pending` already scanned.
    scanned: usize,
    at_line_start: bool,
    last_was_cr: bool,
    max_event_bytes: usize,
}

/// One event is larger than the configured cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLarge;

impl Framer {
    /// A framer that refuses events larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            pending: BytesMut::new(),
            scanned: 0,
            at_line_start: true,
            last_was_cr: false,
            max_event_bytes,
        }
    }

    /// Adds upstream bytes; returns every complete event now available, as one contiguous
    /// run of the original bytes (empty when none completed).
    pub fn push(&mut self, chunk: &[u8]) -> Result<Bytes, EventTooLarge> {
        self.pending.extend_from_slice(chunk);
        let mut boundary = None;
        let bytes = &self.pending[self.scanned..];
        for (offset, &byte) in bytes.iter().enumerate() {
            let position = self.scanned + offset;
            match byte {
                b'\n' if self.last_was_cr => {
                    // Second half of CRLF: the line ended at the CR already.
                    self.last_was_cr = false;
                    if boundary == Some(position) {
                        boundary = Some(position + 1);
                    }
                }
                b'\n' | b'\r' => {
                    self.last_was_cr = byte == b'\r';
                    if self.at_line_start {
                        boundary = Some(position + 1);
                    }
                    self.at_line_start = true;
                }
                _ => {
                    self.at_line_start = false;
                    self.last_was_cr = false;
                }
            }
        }
        self.scanned = self.pending.len();
        let complete = match boundary {
            Some(end) => {
                self.scanned -= end;
                self.pending.split_to(end).freeze()
            }
            None => Bytes::new(),
        };
        if self.pending.len() > self.max_event_bytes {
            return Err(EventTooLarge);
        }
        Ok(complete)
    }

    /// True when bytes of an unfinished event are held back.
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// The fields of one event that the gateway reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Event<'a> {
    /// `event:` name; `None` means the default `message`.
    pub name: Option<&'a str>,
    /// `id:` value.
    pub id: Option<&'a str>,
    /// All `data:` lines joined with `\n`.
    pub data: String,
    /// Whether any `data:` line was present.
    pub has_data: bool,
}

/// Splits a run of complete events (as returned by [`Framer::push`]) into single events.
pub fn split_events(run: &[u8]) -> Vec<&[u8]> {
    let mut events = Vec::new();
    let mut start = 0;
    let mut at_line_start = true;
    let mut index = 0;
    while index < run.len() {
        let byte = run[index];
        if byte == b'\r' || byte == b'\n' {
            let mut end = index + 1;
            if byte == b'\r' && run.get(index + 1) == Some(&b'\n') {
                end += 1;
            }
            if at_line_start {
                events.push(&run[start..end]);
                start = end;
            }
            at_line_start = true;
            index = end;
        } else {
            at_line_start = false;
            index += 1;
        }
    }
    if start < run.len() {
        events.push(&run[start..]);
    }
    events
}

/// Parses one event's fields (per the WHATWG EventSource rules for field lines); `None` when
/// the event is not UTF-8.
pub fn parse_event(raw: &[u8]) -> Option<Event<'_>> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut event = Event::default();
    for line in text.split(['\n', '\r']) {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => event.name = Some(value),
            "id" => event.id = Some(value),
            "data" => {
                if event.has_data {
                    event.data.push('\n');
                }
                event.data.push_str(value);
                event.has_data = true;
            }
            _ => {}
        }
    }
    Some(event)
}

/// Writes an event with the given name, id and data (data split into lines).
pub fn write_event(name: Option<&str>, id: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(name) = name {
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(id);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// A comment line that keeps idle-killing intermediaries from closing a quiet stream.
pub const KEEPALIVE: &[u8] = b": keepalive\n\n";

#[cfg(test)]
mod tests {
    use super::{EventTooLarge, Framer, parse_event, split_events, write_event};

    fn feed(framer: &mut Framer, chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend_from_slice(&framer.push(chunk).unwrap());
        }
        out
    }

    #[test]
    fn forwards_whole_events_only_and_keeps_bytes() {
        let mut framer = Framer::new(1024);
        assert!(framer.push(b"id: 1\ndata: {\"a\"").unwrap().is_empty());
        assert!(framer.has_partial());
        let out = framer.push(b":1}\n\nretry: 100\n\n: comment\n\nid: 2\ndata:").unwrap();
        assert_eq!(&out[..], b"id: 1\ndata: {\"a\":1}\n\nretry: 100\n\n: comment\n\n");
        assert_eq!(&framer.push(b" x\n\n").unwrap()[..], b"id: 2\ndata: x\n\n");
        assert!(!framer.has_partial());
    }

    #[test]
    fn handles_crlf_and_cr_split_across_chunks() {
        let mut framer = Framer::new(1024);
        let input: &[&[u8]] = &[b"data: a\r", b"\n\r", b"\ndata: b\r\r", b"data: c\n", b"\n"];
        let out = feed(&mut framer, input);
        assert_eq!(out, b"data: a\r\n\r\ndata: b\r\rdata: c\n\n");
        assert!(!framer.has_partial());
        let events = split_events(&out);
        assert_eq!(events.len(), 3);
        assert_eq!(parse_event(events[1]).unwrap().data, "b");
    }

    #[test]
    fn priming_event_with_empty_data_passes() {
        let mut framer = Framer::new(1024);
        let out = framer.push(b"id: abc\ndata: \n\n").unwrap();
        let event = parse_event(&out).unwrap();
        assert_eq!((event.id, event.has_data, event.data.as_str()), (Some("abc"), true, ""));
    }

    #[test]
    fn caps_event_size() {
        let mut framer = Framer::new(8);
        assert_eq!(framer.push(b"data: 0123456789"), Err(EventTooLarge));
    }

    #[test]
    fn parses_and_writes_events() {
        let event = parse_event(b"event: endpoint\ndata: /messages/?session_id=1\n\n").unwrap();
        assert!(parse_event(b"data: \xff\n\n").is_none());
        assert_eq!(event.name, Some("endpoint"));
        assert_eq!(event.data, "/messages/?session_id=1");
        let written = write_event(Some("message"), None, "{\"a\":1}\nx");
        assert_eq!(&written[..], b"event: message\ndata: {\"a\":1}\ndata: x\n\n");
    }
}
