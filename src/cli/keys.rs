//! `portcullis keys create / list / show / revoke / rotate`: dynamic API keys, through the
//! store or a running gateway's admin API. `create` and `rotate` print the new key once.

use std::path::Path;
use std::process::ExitCode;

use super::KeysCommand;
use super::access::{self, Failure};
use crate::config;
use crate::credentials::NewKey;

fn duration(text: Option<&str>, flag: &str) -> Result<Option<std::time::Duration>, Failure> {
    text.map(|t| config::parse_duration(t).map_err(|e| Failure(format!("{flag}: {e}"), 1)))
        .transpose()
}

fn text(value: &serde_json::Value, field: &str) -> String {
    value[field].as_str().unwrap_or("-").to_string()
}

/// The roles of a key record, comma-separated.
fn roles(value: &serde_json::Value) -> String {
    let roles: Vec<&str> = value["roles"]
        .as_array()
        .map(|r| r.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    roles.join(",")
}

/// A new key, as a human reads it.
fn created(value: &serde_json::Value) -> String {
    let mut out = format!(
        "id:       {}\nkey:      {}\nsubject:  {}\nroles:    {}\nexpires:  {}\n",
        text(value, "id"),
        text(value, "key"),
        text(value, "subject"),
        roles(value),
        text(value, "expires_at"),
    );
    if let Some(old) = value["replaces"].as_str() {
        out.push_str(&format!("replaces: {old}\n"));
    }
    out.push_str("The key is shown this once: store it now.");
    out
}

/// The key table (`keys list`).
fn table(value: &serde_json::Value) -> String {
    let mut out = format!(
        "{:<21} {:<12} {:<16} {:<16} {:<9} {:<24} {:<24} {:>6}  {}\n",
        "ID", "NAME", "SUBJECT", "ROLES", "STATUS", "CREATED", "EXPIRES", "USES", "LAST USED"
    );
    let mut expiring = 0;
    for key in value.as_array().map(Vec::as_slice).unwrap_or_default() {
        if key["status"] == "expiring" {
            expiring += 1;
        }
        out.push_str(&format!(
            "{:<21} {:<12} {:<16} {:<16} {:<9} {:<24} {:<24} {:>6}  {}\n",
            text(key, "id"),
            text(key, "name"),
            text(key, "subject"),
            roles(key),
            text(key, "status"),
            text(key, "created_at"),
            text(key, "expires_at"),
            key["use_count"].as_u64().unwrap_or(0),
            text(key, "last_used_at"),
        ));
    }
    if expiring > 0 {
        out.push_str(&format!("WARNING: {expiring} key(s) expire within 14 days\n"));
    }
    out
}

pub(super) fn run(command: KeysCommand, path: &Path) -> ExitCode {
    match command {
        KeysCommand::Create {
            subject,
            roles,
            permissions,
            name,
            ttl,
            json,
            admin,
        } => access::run(path, &admin, async |config, access| {
            access::known_roles(config, &roles)?;
            let new = NewKey {
                subject: subject.clone(),
                roles: roles.clone(),
                permissions: permissions.clone(),
                name: name.clone(),
                ttl: duration(ttl.as_deref(), "--ttl")?,
            };
            let value = access.create_key(new, ttl.as_deref()).await?;
            access::print(&value, json, created);
            Ok(())
        }),
        KeysCommand::List { json, admin } => access::run(path, &admin, async |_, access| {
            let value = access.list_keys().await?;
            access::print(&value, json, table);
            Ok(())
        }),
        KeysCommand::Show { id, json, admin } => access::run(path, &admin, async |_, access| {
            let value = access.show_key(&id).await?;
            access::print(&value, json, |v| serde_json::to_string_pretty(v).unwrap_or_default());
            Ok(())
        }),
        KeysCommand::Revoke { id, json, admin } => access::run(path, &admin, async |_, access| {
            let value = access.revoke_key(&id).await?;
            access::print(&value, json, |v| {
                format!("revoked {} (subject {})", text(v, "id"), text(v, "subject"))
            });
            Ok(())
        }),
        KeysCommand::Rotate { id, grace, json, admin } => access::run(path, &admin, async |_, access| {
            let grace_value = duration(grace.as_deref(), "--grace")?.unwrap_or_default();
            let value = access.rotate_key(&id, grace_value, grace.as_deref()).await?;
            access::print(&value, json, created);
            Ok(())
        }),
    }
}
