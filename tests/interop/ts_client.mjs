#!/usr/bin/env node
// TypeScript SDK (@modelcontextprotocol/sdk 1.32.2) client fixture for the Portcullis interop
// tests; talks to @modelcontextprotocol/server-everything.
//
// Usage: node ts_client.mjs URL MODE [-H 'Name: value']...
//   URL   http://127.0.0.1:PORT/mcp (MODE streamableHttp) or http://127.0.0.1:PORT/sse (MODE sse)
//   MODE  streamableHttp   StreamableHTTPClientTransport (legacy era, initialize handshake)
//         sse              SSEClientTransport (legacy HTTP+SSE: GET /sse, POST /message?sessionId=)
//   -H    extra HTTP header sent on every request (repeatable)
// Env:
//   MCP_HEADERS         JSON object of extra HTTP headers, e.g. {"Authorization":"Bearer t"}
//                       (-H wins on a name clash)
//   MCP_CLIENT_TIMEOUT  overall timeout in seconds (default 30)
//   NODE_EXTRA_CA_CERTS custom CA for https URLs (standard Node variable)
//
// Steps: connect, list tools, call echo {message:"hi"}, call trigger-long-running-operation
// {duration: 1, steps: 3} with an onprogress callback, then (streamableHttp) DELETE the session.
// Prints ONE JSON line on stdout:
//   {"protocol":"2025-11-25","tools":[sorted names],"echo":"Echo: hi","progress":[1,2,3],
//    "progress_wire":[1,2,3],"done":"Long running operation completed. ...",
//    "session_terminated":true|null}
// "progress" is what the SDK's onprogress callback saw; "progress_wire" is every
// notifications/progress that reached the transport. The SDK dispatches notifications in a
// microtask but responses synchronously, so when the last progress event and the result arrive
// in the same read (always with SSEClientTransport here), the SDK drops the last progress
// ("unknown token" on stderr): progress = [1,2], progress_wire = [1,2,3].
// Exit status: 0 on success, 1 on any failure (message on stderr), 2 on bad usage.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';

const MODES = ['streamableHttp', 'sse'];

function usage() {
  console.error('usage: node ts_client.mjs URL streamableHttp|sse [-H "Name: value"]...');
  process.exit(2);
}

function parseArgs(argv) {
  const pos = [];
  const extra = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-H' && i + 1 < argv.length) extra.push(argv[++i]);
    else pos.push(argv[i]);
  }
  if (pos.length !== 2 || !MODES.includes(pos[1])) usage();
  return { url: pos[0], mode: pos[1], extra };
}

function parseHeaders(extra) {
  const headers = {};
  const raw = (process.env.MCP_HEADERS || '').trim();
  if (raw) {
    const obj = JSON.parse(raw);
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new Error('MCP_HEADERS must be a JSON object');
    }
    for (const [k, v] of Object.entries(obj)) headers[k] = String(v);
  }
  for (const h of extra) {
    const i = h.indexOf(':');
    if (i <= 0) throw new Error(`bad header ${JSON.stringify(h)}, expected 'Name: value'`);
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  return headers;
}

function textOf(result) {
  if (result.isError) throw new Error(`tool returned isError: ${JSON.stringify(result.content)}`);
  const t = (result.content || []).find((c) => c.type === 'text');
  if (!t) throw new Error(`no text content in ${JSON.stringify(result)}`);
  return t.text;
}

async function run({ url, mode, headers, timeoutMs }) {
  const requestInit = Object.keys(headers).length ? { headers } : undefined;
  const transport =
    mode === 'sse'
      ? new SSEClientTransport(new URL(url), { requestInit })
      : new StreamableHTTPClientTransport(new URL(url), { requestInit });
  // Record the negotiated version (the Client hands it to the transport after initialize).
  let protocol = null;
  const origSet = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (v) => {
    protocol = v;
    origSet?.(v);
  };

  const client = new Client({ name: 'portcullis-interop-ts', version: '1.0.0' });
  client.onerror = (e) => console.error(`ts_client: protocol error: ${e?.message ?? e}`);
  const reqOpts = { timeout: timeoutMs };
  await client.connect(transport, reqOpts);
  // Also record every progress notification as it arrives on the wire, before the SDK's
  // Protocol layer sees it (see README: the SDK may drop the last one in sse mode).
  const progressWire = [];
  const inner = transport.onmessage;
  transport.onmessage = (msg, extra) => {
    if (msg && msg.method === 'notifications/progress') progressWire.push(msg.params?.progress);
    inner?.call(transport, msg, extra);
  };
  try {
    const tools = (await client.listTools(undefined, reqOpts)).tools.map((t) => t.name).sort();
    const echo = textOf(await client.callTool({ name: 'echo', arguments: { message: 'hi' } }, undefined, reqOpts));
    const progress = [];
    const done = textOf(
      await client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
        undefined,
        { ...reqOpts, onprogress: (p) => progress.push(p.progress) },
      ),
    );
    let sessionTerminated = null;
    if (mode === 'streamableHttp') {
      await transport.terminateSession(); // DELETE with Mcp-Session-Id
      sessionTerminated = transport.sessionId === undefined;
    }
    return { protocol, tools, echo, progress, progress_wire: progressWire, done, session_terminated: sessionTerminated };
  } finally {
    await client.close().catch(() => {});
  }
}

async function main() {
  const { url, mode, extra } = parseArgs(process.argv.slice(2));
  const timeoutS = Number(process.env.MCP_CLIENT_TIMEOUT || '30');
  const timer = setTimeout(() => {
    console.error(`ts_client: FAILED (${mode} ${url}): timeout after ${timeoutS}s`);
    process.exit(1);
  }, timeoutS * 1000);
  try {
    const headers = parseHeaders(extra);
    const out = await run({ url, mode, headers, timeoutMs: timeoutS * 1000 });
    process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
  } catch (e) {
    clearTimeout(timer);
    console.error(`ts_client: FAILED (${mode} ${url}): ${e?.name ?? 'Error'}: ${e?.message ?? e}`);
    process.exit(1);
  }
}

main();
