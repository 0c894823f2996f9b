"""Authlib (a real OAuth 2.0 client library) refreshes tokens against Portcullis' token endpoint.

Usage: oauth_refresh.py --token-url URL --refresh-token RT --mcp-url URL [--client-id ID]
  --token-url      RFC 6749 token endpoint, e.g. http://127.0.0.1:PORT/oauth/token
  --refresh-token  a fresh refresh token (the head of a new family)
  --mcp-url        Streamable HTTP MCP endpoint behind the gateway, e.g. http://127.0.0.1:PORT/mcp
  --client-id      client_id to send in the body (public client, token_endpoint_auth_method
                   "none"); default "portcullis-interop"; '' sends no client_id at all

Client: authlib.integrations.httpx_client.OAuth2Client (on httpx2, which mcp 2.x already pulls in).
Every HTTP call has a 10 s timeout.

Steps:
  1. refresh with RT                    -> pair 2 (new access token, new refresh token)
  2. refresh with pair 2's refresh token -> pair 3 (rotation works twice)
  3. POST {"jsonrpc":"2.0","id":1,"method":"ping"} to --mcp-url with pair 3's access token;
     the HTTP status is recorded (not judged here)
  4. refresh with RT again (retired)    -> must fail with invalid_grant (reuse)
  5. refresh with pair 3's refresh token -> must fail with invalid_grant (family revoked)
Each successful refresh must answer Cache-Control: no-store, token_type Bearer, an
expires_in, a refresh_token unlike every earlier one, and the same family_id.

Prints ONE JSON line on stdout:
  {"library": "authlib 1.9.10", "refreshes": 2, "mcp_status": 200, "reuse_error": "invalid_grant",
   "after_reuse_error": "invalid_grant", "token_types": ["Bearer", "Bearer"]}
Exit status: 0 on success, 1 on any unexpected result (message on stderr), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys

import authlib
import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

TIMEOUT = 10.0
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
MCP_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-06-18",
}


class Unexpected(Exception):
    pass


def no_client_auth(client, method, uri, headers, body):
    """Token endpoint auth method that adds nothing (Authlib's "none" would send client_id=None)."""
    return uri, headers, body


def make_client(client_id: str) -> OAuth2Client:
    if client_id:
        # Public client: no secret, so Authlib picks token_endpoint_auth_method "none",
        # which puts client_id in the form body (RFC 6749 section 3.2.1).
        client = OAuth2Client(client_id=client_id, timeout=TIMEOUT)
        assert client.token_endpoint_auth_method == "none"
    else:
        client = OAuth2Client(token_endpoint_auth_method="no_client_id", timeout=TIMEOUT)
        client.register_client_auth_method(("no_client_id", no_client_auth))
    # Keep the raw token responses to check the headers Authlib does not surface.
    client.last_response = None

    def keep(resp):
        client.last_response = resp
        return resp

    client.register_compliance_hook("refresh_token_response", keep)
    return client


def refresh_ok(client: OAuth2Client, url: str, rt: str, step: str) -> dict:
    try:
        token = client.refresh_token(url, refresh_token=rt, timeout=TIMEOUT)
    except OAuthError as e:
        raise Unexpected(f"{step}: refresh failed: {e.error}: {e.description}") from e
    resp = client.last_response
    if resp is None or resp.status_code != 200:
        raise Unexpected(f"{step}: HTTP {getattr(resp, 'status_code', None)}, expected 200")
    cache_control = resp.headers.get("cache-control", "")
    if "no-store" not in cache_control.lower():
        raise Unexpected(f"{step}: Cache-Control {cache_control!r}, expected no-store")
    for key in ("access_token", "token_type", "expires_in", "refresh_token"):
        if not token.get(key):
            raise Unexpected(f"{step}: token response lacks {key}: {sorted(token)}")
    if token["refresh_token"] == rt:
        raise Unexpected(f"{step}: refresh_token was not rotated")
    return dict(token)


def refresh_fails(client: OAuth2Client, url: str, rt: str, step: str) -> str:
    try:
        token = client.refresh_token(url, refresh_token=rt, timeout=TIMEOUT)
    except OAuthError as e:
        resp = client.last_response
        status = getattr(resp, "status_code", None)
        if e.error != "invalid_grant":
            raise Unexpected(f"{step}: got {e.error} (HTTP {status}), expected invalid_grant: {e.description}") from e
        if status != 400:
            raise Unexpected(f"{step}: invalid_grant with HTTP {status}, expected 400")
        return e.error
    raise Unexpected(f"{step}: refresh succeeded (got a token with keys {sorted(token)}), expected invalid_grant")


def run(args: argparse.Namespace) -> dict:
    with make_client(args.client_id) as client:
        rt1 = args.refresh_token
        pair2 = refresh_ok(client, args.token_url, rt1, "refresh 1")
        pair3 = refresh_ok(client, args.token_url, pair2["refresh_token"], "refresh 2")
        if pair3["refresh_token"] == rt1:
            raise Unexpected("refresh 2: the first refresh token came back")
        if pair3["access_token"] == pair2["access_token"]:
            raise Unexpected("refresh 2: the access token was not renewed")
        if pair2.get("family_id") != pair3.get("family_id"):
            raise Unexpected(f"family_id changed within a family: {pair2.get('family_id')!r} -> {pair3.get('family_id')!r}")
        # The client now holds pair 3 (Authlib stores each refreshed token in client.token).
        if client.token.get("access_token") != pair3["access_token"]:
            raise Unexpected("Authlib did not keep the latest token")

        # withhold_token: send the header ourselves, so Authlib cannot auto-refresh a token it
        # thinks is near expiry (leeway 60 s) and spoil the rotation count.
        mcp = client.request(
            "POST",
            args.mcp_url,
            json=PING,
            headers={**MCP_HEADERS, "Authorization": f"Bearer {pair3['access_token']}"},
            withhold_token=True,
            timeout=TIMEOUT,
        )

        reuse_error = refresh_fails(client, args.token_url, rt1, "reuse of the first refresh token")
        after_reuse_error = refresh_fails(
            client, args.token_url, pair3["refresh_token"], "latest refresh token after reuse"
        )

    return {
        "library": f"authlib {authlib.__version__}",
        "refreshes": 2,
        "mcp_status": mcp.status_code,
        "reuse_error": reuse_error,
        "after_reuse_error": after_reuse_error,
        "token_types": [pair2["token_type"], pair3["token_type"]],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="oauth_refresh.py", description=__doc__.splitlines()[0])
    parser.add_argument("--token-url", required=True)
    parser.add_argument("--refresh-token", required=True)
    parser.add_argument("--mcp-url", required=True)
    parser.add_argument("--client-id", default="portcullis-interop")
    args = parser.parse_args(argv[1:])  # exits 2 on bad usage
    try:
        result = run(args)
    except Unexpected as e:
        print(f"oauth_refresh: FAILED: {e}", file=sys.stderr)
        return 1
    except (httpx2.HTTPError, OAuthError, ValueError) as e:
        print(f"oauth_refresh: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # anything else is a failure too, never a traceback-only exit
        print(f"oauth_refresh: FAILED (unexpected {type(e).__name__}): {e}", file=sys.stderr)
        return 1
    for t in result["token_types"]:
        if t.lower() != "bearer":
            print(f"oauth_refresh: FAILED: token_type {t!r}, expected Bearer", file=sys.stderr)
            return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
