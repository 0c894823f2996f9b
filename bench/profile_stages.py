#!/usr/bin/env python3
"""Folds `perf script -F comm,tid,ip,sym,srcline` output (call graphs with inlined frames) into
the share of the gateway's CPU each request stage takes, and a flat list of the hottest functions.

    perf script -i perf.data -F comm,tid,ip,sym,srcline | bench/profile_stages.py [--top N]

A frame is matched as `function-path-without-generics @file.rs`: inlined async stage bodies
show only as `{async_fn#0}`, so their source file (`@read_body.rs`) names them.

Each sample is charged to one stage: the innermost frame of its stack that names a stage (so
an allocation inside the JSON parse is the parse's, a `writev` issued by the upstream connection
is the upstream write's). Kernel time is charged the same way, through the user frames that made
the system call; samples whose stack names no stage are the runtime's (scheduler, epoll, wakeups).
"""

import collections
import re
import sys

# Stages inside the request handler (`Gateway::handle`): (stage, frame patterns), checked from
# the innermost frame outwards up to the handler; the first frame matching decides.
HANDLER_STAGES = [
    ("auth (JWT / API key / token cache)", [r"@authenticate\.rs", r"portcullis::auth::", r"jsonwebtoken", r"aws_lc"]),
    ("JSON-RPC parse + strict checks", [r"@parse\.rs", r"portcullis::mcp::", r"@strict\.rs", r"@jsonrpc\.rs", r"@fold\.rs", r"@methods\.rs", r"@params\.rs"]),
    ("rate limit", [r"@limit\.rs", r"portcullis::ratelimit", r"limit_ip", r"limit_request"]),
    ("authz", [r"@authorize\.rs", r"portcullis::authz"]),
    ("session / tasks", [r"@session\.rs", r"@tasks\.rs", r"portcullis::state"]),
    ("audit event: build + serialize + enqueue", [r"RequestContext::emit", r"RequestContext::finish", r"RequestContext::new", r"AuditLog", r"AuditEvent", r"telemetry::audit", r"new_request_id", r"@audit\.rs"]),
    ("metrics", [r"telemetry::metrics", r"prometheus_client", r"Metrics::"]),
    ("edge checks + routing + config snapshot", [r"@edge\.rs", r"@metadata\.rs", r"Snapshot::route", r"reloader", r"arc_swap"]),
    ("body read", [r"@read_body\.rs", r"read_body"]),
    ("upstream request: headers built", [r"build_request", r"request_headers", r"forwarded_for"]),
    ("upstream pool: checkout, send, wait", [r"ConnPool::", r"@pool\.rs", r"@forward\.rs"]),
    ("respond: response head + body setup", [r"@respond\.rs", r"response_headers", r"ProxyBody::new"]),
]
# Stages of the client connection outside the handler (hyper's server dispatcher polls the body).
CONNECTION_STAGES = [
    ("respond: body relay + lease release", [r"ProxyBody", r"GatewayBody", r"portcullis::upstream::stream", r"Lease::release", r"@stream\.rs.*portcullis|portcullis.*@stream\.rs"]),
    ("client connection: HTTP/1 parse", [r"role::Server as .*::parse", r"httparse"]),
    ("client connection: response encode", [r"role::Server as .*::encode"]),
]
UPSTREAM_TASK = "upstream connection task (hyper client: encode, parse, socket I/O)"
CLIENT_IO = "client connection: socket I/O + hyper dispatch"
DRIVER = "request driver (handle, handle_inner, task polling)"
AUDIT_WRITER = "audit: writer thread"
RUNTIME = "runtime (scheduler, epoll, timers, wakeups)"
ORDER = [s for s, _ in HANDLER_STAGES] + [DRIVER] + [s for s, _ in CONNECTION_STAGES] + [CLIENT_IO, UPSTREAM_TASK, AUDIT_WRITER, RUNTIME]


def compiled(stages):
    return [(name, [re.compile(p) for p in pats]) for name, pats in stages]


HANDLER = compiled(HANDLER_STAGES)
CONNECTION = compiled(CONNECTION_STAGES)


def strip_generics(sym):
    """`poll<hyper::..::Server<..>>` -> `poll`; keeps `<X as Trait>` and `<impl X>` qualifiers."""
    out, depth = [], 0
    for i, ch in enumerate(sym):
        generic = i > 0 and (sym[i - 1].isalnum() or sym[i - 1] in "_:") and not sym.startswith("<impl ", i)
        if ch == "<" and (depth or generic):
            depth += 1
            continue
        if ch == ">" and depth:
            depth -= 1
            continue
        if not depth:
            out.append(ch)
    return "".join(out)


def samples(stream):
    comm, frames = None, []
    for line in stream:
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
            continue
        if not line.startswith((" ", "\t")):
            comm = line.split()[0] if line.split() else "?"
            frames = []
            continue
        if line.startswith("\t"):
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                ip, sym = parts
                frames.append((ip, strip_generics(sym.replace(" (inlined)", ""))))
        elif frames:  # the srcline of the frame above: "  file.rs:12 (inlined)"
            src = line.strip().split(":")[0]
            if not src.startswith("["):
                ip, sym = frames[-1]
                frames[-1] = (ip, f"{sym} @{src.rsplit('/', 1)[-1]}")
    if comm is not None:
        yield comm, frames


def first_match(frames, stages):
    for _, sym in frames:
        for name, pats in stages:
            if any(p.search(sym) for p in pats):
                return name
    return None


def stage_of(comm, frames):
    if comm.startswith("portcullis-audi"):
        return AUDIT_WRITER
    syms = [sym for _, sym in frames]
    if any("ConnPool::handshake" in sym for sym in syms):
        return UPSTREAM_TASK
    handler = [i for i, sym in enumerate(syms) if "Gateway>::handle" in sym]
    if handler:
        return first_match(frames[: handler[-1] + 1], HANDLER) or DRIVER
    if any("server::accept" in sym or "hyper::proto::h1::dispatch" in sym for sym in syms):
        return first_match(frames, CONNECTION) or CLIENT_IO
    return RUNTIME


def main():
    top = 25
    if "--top" in sys.argv:
        top = int(sys.argv[sys.argv.index("--top") + 1])
    by_stage = collections.Counter()
    kernel_by_stage = collections.Counter()
    flat = collections.Counter()
    total = 0
    for comm, frames in samples(sys.stdin):
        if not frames:
            continue
        total += 1
        stage = stage_of(comm, frames)
        by_stage[stage] += 1
        leaf_ip, leaf_sym = frames[0]
        if leaf_ip.startswith("ffffffff"):
            kernel_by_stage[stage] += 1
            flat["[kernel] " + leaf_sym] += 1
        else:
            flat[leaf_sym[:110]] += 1
    if not total:
        sys.exit("profile_stages.py: no samples on stdin")
    kernel = sum(kernel_by_stage.values())
    print(f"{total} samples; {100 * kernel / total:.1f} % in the kernel (system calls, loopback TCP)\n")
    print("| stage | share of the gateway's CPU | of which kernel |")
    print("|---|---:|---:|")
    for name in ORDER:
        n = by_stage.get(name, 0)
        if n:
            print(f"| {name} | {100 * n / total:.1f} % | {100 * kernel_by_stage.get(name, 0) / total:.1f} % |")
    print(f"\nHottest functions (self time, top {top}):\n")
    print("| self | function |")
    print("|---:|---|")
    for sym, n in flat.most_common(top):
        print(f"| {100 * n / total:.1f} % | `{sym.replace('|', '/')}` |")


if __name__ == "__main__":
    main()
