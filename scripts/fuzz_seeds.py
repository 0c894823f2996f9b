#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, taken from the test suite's own inputs: every JSON-RPC
body, SSE chunk and Host / Origin value written in tests/it, the shipped gateway.toml and the
config snippets of the config tests. Writes fuzz/corpus/<target>/seed-<hash>; existing corpus
files (what earlier runs found) are kept.
"""
import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests" / "it"
CORPUS = ROOT / "fuzz" / "corpus"


def rust_strings(text):
    """The contents of Rust string literals: raw (r#"..."#) as written, plain ones unescaped."""
    for m in re.finditer(r'r(#+)"(.*?)"\1', text, re.S):
        yield m.group(2)
    for m in re.finditer(r'(?<![r#A-Za-z0-9_])"((?:[^"\\\n]|\\.)*)"', text):
        raw = m.group(1)
        try:
            yield bytes(raw, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
        except (UnicodeDecodeError, UnicodeEncodeError):
            yield raw


def write(target, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    blob = data.encode() if isinstance(data, str) else data
    (folder / f"seed-{hashlib.sha256(blob).hexdigest()[:16]}").write_bytes(blob)


def main():
    counts = {}
    for path in sorted(TESTS.rglob("*.rs")):
        for s in rust_strings(path.read_text()):
            stripped = s.lstrip()
            if stripped.startswith(('{"jsonrpc"', '[{"jsonrpc"', '[{')) or '"jsonrpc":"2.0"' in s:
                write("envelope", s)
                write("sse", f"\x07event: message\ndata: {s}\n\n")
                counts["envelope"] = counts.get("envelope", 0) + 1
            if "data:" in s and "\n\n" in s:
                write("sse", "\x05" + s)
                counts["sse"] = counts.get("sse", 0) + 1
            if "[[upstreams]]" in s or s.startswith("[server]"):
                write("config", s)
                counts["config"] = counts.get("config", 0) + 1
            if re.fullmatch(r"(https?://)?[A-Za-z0-9.\-\[\]:@%/ ]{1,80}", s) and ("." in s or ":" in s):
                write("host_origin", s)
                counts["host_origin"] = counts.get("host_origin", 0) + 1
    write("config", (ROOT / "gateway.toml").read_text())
    # Token shapes: a well-formed HS256 access token's header and claims, `alg: none`, a
    # `crit` header, an embedded jwk, and broken segmentations.
    for token in [
        "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJhbGljZSIsImlzcyI6InBvcnRjdWxsaXMiLCJleHAiOjk5OTk5OTk5OTl9.c2lnbmF0dXJl",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
        "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl19.e30.c2ln",
        "eyJhbGciOiJFUzI1NiIsImp3ayI6eyJrdHkiOiJFQyJ9fQ.e30.c2ln",
        "a.b", "a.b.c.d", "..", "eyJ9.eyJ9.eyJ9",
    ]:
        write("jwt", token)
    print("seeds:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
