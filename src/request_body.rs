//! Reading a request body within the size and time bounds of `[server]`.

use std::time::Duration;

use bytes::Bytes;
use http::header;
use http::request::Parts;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::error::Reject;

/// Reads the whole body: 413 past `max_bytes` (before reading when `Content-Length` says
/// so), 408 when it does not arrive within `deadline`.
pub async fn read(parts: &Parts, body: Incoming, max_bytes: u64, deadline: Duration) -> Result<Bytes, Reject> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes) {
        return Err(Reject::BodyTooLarge);
    }
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    match tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await {
        Err(_) => Err(Reject::BodyTimeout),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => Err(Reject::BodyTooLarge),
        Ok(Err(_)) => Err(Reject::BadRequest("request body could not be read")),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}
