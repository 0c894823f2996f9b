//! The shipped `gateway.toml` loads, and config errors name their key path.

#[test]
fn shipped_gateway_toml_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let config = portcullis::config::load_file(&path).unwrap_or_else(|e| panic!("gateway.toml: {e}"));
    assert_eq!(config.upstreams.len(), 1);
    assert_eq!(config.upstreams[0].route, "/mcp");
}

#[test]
fn errors_name_the_key_path() {
    let lookup = |name: &str| (name == "SET").then(|| "http://127.0.0.1:1/mcp".to_string());
    let cases = [
        ("[server]\nlisten = \"nope\"\n", "server.listen"),
        (
            "[server.timeouts]\nheader_read = \"10\"\n",
            "server.timeouts.header_read",
        ),
        (
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"x\"]\n",
            "server.trusted_proxies[1]",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"${UNSET}\"\nauth = \"none\"\n",
            "upstreams[0].url",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"${SET}\"\nauth = \"none\"\n[[upstreams]]\nname = \"b\"\nroute = \"/m\"\nurl = \"${SET}\"\nauth = \"none\"\n",
            "upstreams[1].route",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"${SET}\"\n",
            "upstreams[0].auth",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"${SET}\"\nauth = \"none\"\nextra = 1\n",
            "upstreams[0].extra",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/.well-known/x\"\nurl = \"${SET}\"\nauth = \"none\"\n",
            "upstreams[0].route",
        ),
        ("[audit]\nsink = \"file\"\n", "audit.path"),
        (
            "[server.tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
            "server.tls.cert",
        ),
        (
            "[server.tls]\ncert = \"/dev/null\"\nkey = \"/dev/null\"\nclient_auth = \"required\"\n",
            "server.tls.client_auth",
        ),
        ("[auth.mtls]\nsubject_from = \"san_uri\"\n", "auth.mtls"),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"${SET}\"\nauth = \"none\"\nca = \"/x.pem\"\n",
            "upstreams[0].ca",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"https://127.0.0.1:1/mcp\"\nauth = \"none\"\nca = \"/nonexistent.pem\"\n",
            "upstreams[0].ca",
        ),
        ("[admin]\ntoken = \"short\"\n", "admin.token"),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"${SET}\"\nauth = \"none\"\nheaders = { \"Content-Length\" = \"1\" }\n",
            "upstreams[0].headers.Content-Length",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"${SET}\"\nauth = \"none\"\nheaders = { \"Mcp-Session-Id\" = \"x\" }\n",
            "upstreams[0].headers.Mcp-Session-Id",
        ),
        // Authorization: every role referenced must exist; globs, regexes and permissions parse.
        (
            "[auth.api_keys]\n[[auth.api_keys.static]]\nid = \"k\"\nhash = \"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\nsubject = \"s\"\nroles = [\"usr\"]\n[roles]\nuser = [\"files:read\"]\n",
            "auth.api_keys.static[0].roles[0]",
        ),
        ("[roles]\nuser = [\"files:re*d\"]\n", "roles.user[0]"),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"${SET}\"\n[upstreams.resources]\n\"file:///[a\" = \"files:read\"\n",
            "upstreams[0].resources.\"file:///[a\"",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"${SET}\"\n[upstreams.tools]\nw = { permission = \"files:write\", args = { path = { pattern = \"(unclosed\" } } }\n",
            "upstreams[0].tools.w.args.path",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nroute = \"/m\"\nurl = \"${SET}\"\non_deny = \"shout\"\n",
            "upstreams[0].on_deny",
        ),
    ];
    for (text, key) in cases {
        let error = portcullis::config::load_str(text, &lookup).expect_err(text);
        assert_eq!(error.key, key, "{text} -> {error}");
    }
}

#[test]
fn schema_describes_the_file() {
    let schema = portcullis::config::json_schema();
    let text = schema.to_string();
    assert!(text.contains("max_body_bytes") && text.contains("upstreams") && text.contains("allow_batches"));
}
