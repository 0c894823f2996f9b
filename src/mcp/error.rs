//! JSON-RPC error objects the gateway writes itself, and its own error codes.

use bytes::Bytes;

use super::RequestId;

/// Gateway-defined JSON-RPC code: policy denied (outside the reserved -32768..-32000).
pub const CODE_POLICY_DENIED: i64 = -31403;
/// Gateway-defined JSON-RPC code: rate limited.
pub const CODE_RATE_LIMITED: i64 = -31429;
/// Gateway-defined JSON-RPC code: a dependency (upstream, state store) is unavailable.
pub const CODE_UNAVAILABLE: i64 = -31503;

/// `{"jsonrpc":"2.0","id":ID,"error":{"code":C,"message":M[,"data":D]}}` with the id's exact
/// bytes (or `null`).
pub fn jsonrpc_error(id: Option<&RequestId>, code: i64, message: &str, data: Option<&serde_json::Value>) -> Bytes {
    let id = id.map_or("null", RequestId::as_json);
    let message = serde_json::Value::from(message);
    let data = data.map(|d| format!(",\"data\":{d}")).unwrap_or_default();
    Bytes::from(format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":{code},\"message\":{message}{data}}}}}"
    ))
}

#[cfg(test)]
mod tests {
    use super::jsonrpc_error;

    #[test]
    fn error_bodies_echo_the_exact_id() {
        let body = jsonrpc_error(None, -32700, "Parse error", None);
        assert_eq!(
            &body[..],
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#
        );
    }
}
