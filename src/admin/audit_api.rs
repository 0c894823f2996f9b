//! `GET /admin/audit?range=1h|24h|7d`: the security audit report as JSON, for the admin token
//! or a credential holding `metrics:view`.

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};

use super::viewer::{error, viewer};
use crate::audit::Range;
use crate::config::Secret;
use crate::gateway::Gateway;
use crate::server::{GatewayBody, json_response};

/// The range a query asks for (`24h` when none); `None` for anything else.
pub fn range_of(query: Option<&str>) -> Option<Range> {
    let asked = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "range")
        .map(|(_, v)| v.into_owned());
    let asked = asked.as_deref().unwrap_or("24h");
    Range::parse(asked)
}

/// Answers the report call.
pub async fn report(
    gateway: &Gateway,
    token: Option<&Secret>,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Response<GatewayBody> {
    match viewer(gateway, token, headers).await {
        Err(refused) => return refused,
        Ok((None, _)) => {
            return error(StatusCode::FORBIDDEN, "insufficient_scope", "metrics:view required");
        }
        Ok((Some(_), _)) => {}
    }
    let Some(range) = range_of(query) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_range",
            "range must be one of 1h, 24h, 7d",
        );
    };
    let Some(monitor) = gateway.monitor() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "audit_off",
            "[audit] sink = \"off\": nothing is aggregated",
        );
    };
    let report = monitor.report(range).await;
    let mut response = json_response(
        StatusCode::OK,
        Bytes::from(serde_json::to_vec(&report).unwrap_or_default()),
    );
    crate::server::no_store(response.headers_mut());
    response
}
