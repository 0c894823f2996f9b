//! `portcullis dev`: the zero-setup demo. A built-in sample MCP server, the gateway in front
//! of it with a fresh HS256 secret and an API key, credentials printed for the roles guest,
//! user, premium and admin, and copy-paste commands. Its config is written to a temp folder,
//! so `token issue --config <that file>` and SIGHUP work as in production.

mod demo;
mod sample;

pub(super) use demo::command;
