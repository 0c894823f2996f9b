//! `${NAME}` interpolation over the parsed TOML tree, before typed deserialization, so a
//! missing variable is reported with the key that referenced it.

use toml::Value;

use super::ConfigError;

/// Replaces `${NAME}` in every string of `value` with the variable's value from `lookup`.
/// `$$` is a literal `$`. A missing variable is an error naming the key path.
pub fn interpolate(value: &mut Value, path: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            if text.contains('$') {
                *text = expand(text, lookup).map_err(|message| ConfigError::at(path, message))?;
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate(item, &format!("{path}[{index}]"), lookup)?;
            }
        }
        Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                interpolate(item, &child, lookup)?;
            }
        }
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Datetime(_) => {}
    }
    Ok(())
}

fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| "unterminated `${` (write `$$` for a literal `$`)".to_string())?;
            let name = &body[..end];
            let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("`${{{name}}}` is not a valid variable name"));
            }
            let value = lookup(name).ok_or_else(|| format!("environment variable `{name}` is not set"))?;
            out.push_str(&value);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::interpolate;
    use toml::Value;

    fn lookup(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn replaces_and_names_missing_keys() {
        let mut value: Value = toml::from_str("[a]\nb = \"Bearer ${TOKEN}\"\nc = [\"x$$y\", \"$z\"]\n").unwrap();
        interpolate(&mut value, "", &lookup).unwrap();
        assert_eq!(value["a"]["b"].as_str(), Some("Bearer s3cret"));
        assert_eq!(value["a"]["c"][0].as_str(), Some("x$y"));
        assert_eq!(value["a"]["c"][1].as_str(), Some("$z"));

        let mut missing: Value = toml::from_str("[u]\nlist = [\"${NOPE}\"]\n").unwrap();
        let err = interpolate(&mut missing, "", &lookup).unwrap_err();
        assert_eq!(err.key, "u.list[0]");
        assert!(err.message.contains("NOPE"), "{}", err.message);
    }
}
