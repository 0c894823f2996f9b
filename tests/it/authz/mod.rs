//! Tool-level authorization: the policy matrix against a real server, the bypass catalogue, list filtering, session binding, `explain`.

mod policy;
