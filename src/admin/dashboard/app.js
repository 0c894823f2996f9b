// Portcullis live security dashboard. No libraries, no eval, no inline handlers (strict CSP).
// Data arrives over a fetch()-read SSE stream (EventSource cannot send an Authorization header).
// All data is written with textContent / setAttribute only: audit events carry attacker text.
'use strict';
(function () {
  const STREAM_URL = 'dashboard/events';          // relative: works behind a path prefix
  const TOKEN_KEY = 'portcullis.admin.token';
  const WINDOW_MS = 300 * 1000, MAX_POINTS = 300, MAX_EVENTS = 500, MAX_FINDINGS = 100;
  const STALE_MS = 20000, BACKOFF_MIN = 1000, BACKOFF_MAX = 10000;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {   // the only way data reaches the DOM: textContent
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  };
  const num = (v) => (typeof v === 'number' && isFinite(v) ? v : (isFinite(+v) && v !== null && v !== '' ? +v : 0));
  const fmt = (v) => num(v).toLocaleString('en-US');
  const str = (v) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const ms = (t) => { const x = typeof t === 'number' ? t : Date.parse(t); return isFinite(x) ? x : NaN; };
  const clock = (t) => {
    const x = ms(t);
    if (!isFinite(x)) return str(t);
    const d = new Date(x), p = (n, w) => String(n).padStart(w || 2, '0');
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()) + '.' + p(d.getMilliseconds(), 3);
  };

  // ------------------------------------------------------------------ state
  let token = null, abort = null, backoff = BACKOFF_MIN, retryTimer = 0, staleTimer = 0, gen = 0;
  let points = [], lastTick = null;      // points: {t, requests, allowed, denied, auth_failures, rate_limited}
  let decisions = new Map();             // reason -> count over this page session
  let findings = [], findingKeys = new Map(), freshKeys = new Set();
  let events = [], fresh = [];           // newest first, each {ev, tr, text, cls, alive}; fresh: not yet rendered
  let shownKey = null;                   // the filter the table body currently reflects
  const rowOf = new WeakMap();           // tr -> row record
  const dirty = {};
  let frame = 0;

  function reset() {
    points = []; lastTick = null; decisions = new Map();
    findings = []; findingKeys = new Map(); freshKeys = new Set(); events = []; fresh = []; shownKey = null;
    markDirty('charts', 'stats', 'lists', 'anomalies', 'events');
  }

  // ------------------------------------------------------------------ UI state
  function setStatus(text, kind) {
    const s = $('conn-status');
    s.textContent = text;
    s.className = 'pill pill-' + (kind || 'idle');
  }
  function loginError(text) { $('login-error').textContent = text || ''; $('login-error').hidden = !text; }
  function showLogin(error) {
    $('dashboard').hidden = true; $('logout').hidden = true; $('login').hidden = false;
    loginError(error);
    $('login-submit').disabled = false;
    $('token').value = '';
    $('token').focus();
  }
  function showDashboard() {
    $('login').hidden = true; $('dashboard').hidden = false; $('logout').hidden = false;
    markDirty('charts', 'stats', 'lists', 'anomalies', 'events');
  }

  // ------------------------------------------------------------------ connection
  function stop() {
    gen++;
    clearTimeout(retryTimer); clearTimeout(staleTimer);
    if (abort) { abort.abort(); abort = null; }
  }
  function signOut(error) {
    stop();
    token = null;
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage disabled */ }
    reset();
    setStatus(error ? 'token refused' : 'signed out', error ? 'bad' : 'idle');
    showLogin(error);
  }
  function scheduleReconnect(why) {
    const my = gen, wait = backoff;
    backoff = Math.min(BACKOFF_MAX, backoff * 2);
    setStatus('reconnecting… (' + Math.round(wait / 1000) + ' s' + (why ? ', ' + why : '') + ')', 'wait');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => { if (my === gen) connect(); }, wait);
  }
  function armStale(my) {   // on expiry the pending fetch / read fails and schedules a reconnect
    clearTimeout(staleTimer);
    staleTimer = setTimeout(() => { if (my === gen && abort) abort.abort(); }, STALE_MS);
  }

  async function connect() {
    stop();
    const my = gen, ctl = new AbortController();
    abort = ctl;
    if ($('dashboard').hidden) setStatus('connecting…', 'wait');
    armStale(my);                                    // bounds a hung request as well as a silent stream
    let resp;
    try {
      resp = await fetch(STREAM_URL, {
        headers: { Authorization: 'Bearer ' + token, Accept: 'text/event-stream' },
        cache: 'no-store', credentials: 'same-origin', signal: ctl.signal,
      });
    } catch (e) { if (my === gen) scheduleReconnect('network error'); return; }
    if (my !== gen) return;
    clearTimeout(staleTimer);
    if (resp.status === 401 || resp.status === 403) {
      signOut(resp.status === 401 ? 'The token was refused (HTTP 401). Check it and try again.'
        : 'The token was refused (HTTP 403): it may not view the dashboard (scope metrics:view).');
      return;
    }
    if (!resp.ok || !resp.body) { scheduleReconnect('HTTP ' + resp.status); return; }
    backoff = BACKOFF_MIN;
    setStatus('live', 'live');
    showDashboard();
    armStale(my);
    const reader = resp.body.getReader(), parser = sseParser((type, data) => { if (my === gen) onEvent(type, data); });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (my !== gen) return;
        if (done) break;
        armStale(my);
        parser(value);
      }
    } catch (e) { /* aborted (stale, sign-out) or network error */ }
    if (my === gen) { abort = null; scheduleReconnect('stream ended'); }
  }

  // Minimal text/event-stream parser (WHATWG rules: event/data fields, comments, CR/LF/CRLF).
  function sseParser(dispatch) {
    const decoder = new TextDecoder('utf-8');
    let buf = '', type = '', data = [], first = true;
    return function (chunk) {
      buf += decoder.decode(chunk, { stream: true });
      if (first && buf.length) { if (buf.charCodeAt(0) === 0xfeff) buf = buf.slice(1); first = false; }
      let start = 0;
      for (;;) {
        let i = start, n = buf.length;
        while (i < n && buf[i] !== '\n' && buf[i] !== '\r') i++;
        if (i >= n) break;
        if (buf[i] === '\r' && i + 1 >= n) break;     // wait: may be a CRLF split across chunks
        const line = buf.slice(start, i);
        start = i + (buf[i] === '\r' && buf[i + 1] === '\n' ? 2 : 1);
        if (line === '') {
          if (data.length) dispatch(type || 'message', data.join('\n'));
          type = ''; data = [];
          continue;
        }
        if (line[0] === ':') continue;               // comment / keepalive
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        let value = c < 0 ? '' : line.slice(c + 1);
        if (value[0] === ' ') value = value.slice(1);
        if (field === 'event') type = value;
        else if (field === 'data') data.push(value);
      }
      buf = buf.slice(start);
    };
  }

  // ------------------------------------------------------------------ data intake
  function onEvent(type, raw) {
    let d = null;
    try { d = JSON.parse(raw); } catch (e) { console.warn('dashboard: bad JSON in', type, 'event'); }
    if (d && typeof d === 'object') (type === 'hello' ? onHello : type === 'tick' ? onTick : String)(d);
  }

  function toPoint(h) {
    const requests = num(h.requests), denied = num(h.denied);   // history has no "allowed": derive it
    return { t: num(h.unix_ms), requests, denied, auth_failures: num(h.auth_failures), rate_limited: num(h.rate_limited),
      allowed: h.allowed !== undefined ? num(h.allowed) : Math.max(0, requests - denied) };
  }
  function addPoint(p) {
    const last = points[points.length - 1];
    if (last && p.t < last.t) return;
    if (last && p.t === last.t) points[points.length - 1] = p;   // same second re-sent
    else points.push(p);
    const cutoff = p.t - WINDOW_MS;
    let drop = 0;
    while (drop < points.length && points[drop].t <= cutoff) drop++;
    if (points.length - drop > MAX_POINTS) drop = points.length - MAX_POINTS;
    if (drop) points.splice(0, drop);
  }

  function onHello(d) {
    points = [];   // the server's history is authoritative (also after a reconnect)
    (Array.isArray(d.history) ? d.history : []).filter((h) => h && typeof h === 'object')
      .map(toPoint).sort((a, b) => a.t - b.t).forEach(addPoint);
    addFindings(d.findings, false);
    markDirty('charts', 'anomalies');
  }

  function onTick(d) {
    lastTick = d;
    if (d.unix_ms !== undefined) addPoint(toPoint(d));
    if (d.decisions && typeof d.decisions === 'object') {
      for (const k of Object.keys(d.decisions)) decisions.set(k, (decisions.get(k) || 0) + num(d.decisions[k]));
    }
    addFindings(d.anomalies, true);
    if (Array.isArray(d.events) && d.events.length) addEvents(d.events);
    markDirty('charts', 'stats', 'lists');
  }

  const findingTime = (f) => {
    const ev = f.evidence && typeof f.evidence === 'object' ? f.evidence : {};
    return ms(f.time || f.raised_at || ev.last_seen || ev.time || ev.first_seen);
  };
  function addFindings(list, live) {
    if (!Array.isArray(list) || !list.length) return;
    const batch = list.filter((f) => f && typeof f === 'object').map((f, i) => ({ f, i, t: findingTime(f) }));
    batch.sort((a, b) => (isFinite(a.t) && isFinite(b.t) && a.t !== b.t ? a.t - b.t : a.i - b.i));  // oldest first
    for (const { f } of batch) {
      const key = str(f.kind) + '\u0000' + str(f.summary);
      const old = findingKeys.get(key);   // de-duplicate by kind+summary; a live repeat moves to the top
      if (old && !live) continue;
      if (old) findings.splice(findings.indexOf(old), 1);
      findingKeys.set(key, f);
      findings.unshift(f);
      if (live) freshKeys.add(f);
    }
    for (const f of findings.splice(MAX_FINDINGS)) findingKeys.delete(str(f.kind) + '\u0000' + str(f.summary));
    markDirty('anomalies');
  }

  function decisionClass(ev) {
    const d = str(ev.decision).toLowerCase(), status = num(ev.status);
    if (d.includes('error') || d.includes('fail') || status >= 500) return 'error';
    if (d.includes('allow') || d === 'ok') return 'allow';
    if (d.includes('den') || d.includes('refus') || d.includes('reject') || d.includes('block') || d.includes('limit')) return 'deny';
    if (!d && status) return status >= 400 ? 'deny' : 'allow';
    return d ? 'other' : '';
  }
  const COLS = [
    (e) => [clock(e.time), ''], (e) => [e.event, ''], (e) => [e.subject, ''],
    (e) => [e.peer_ip !== undefined ? e.peer_ip : e.ip, ''],
    (e) => [e.jsonrpc_method !== undefined ? e.jsonrpc_method : e.method, ''],
    (e) => [e.target !== undefined ? e.target : e.tool, ''], (e) => [e.decision, 'decision'],
    (e) => [e.reason, ''], (e) => [e.status, 'num'],
    (e) => [e.duration_ms === undefined || e.duration_ms === null ? '' : num(e.duration_ms).toFixed(1), 'num'],
  ];
  function makeRow(ev) {
    const tr = el('tr'), cls = decisionClass(ev), parts = [];
    if (cls) tr.className = 'd-' + cls;
    for (const col of COLS) {
      const [v, c] = col(ev), text = str(v);
      const td = el('td', c, text);
      if (text.length > 24) td.title = text;
      tr.appendChild(td);
      parts.push(text);
    }
    if (ev.time !== undefined) tr.firstChild.title = str(ev.time);
    const rec = { ev, tr, cls, alive: true, text: (parts.join(' ') + ' ' + str(ev.route)).toLowerCase() };
    rowOf.set(tr, rec);
    return rec;
  }
  function addEvents(list) {
    const batch = list.filter((e) => e && typeof e === 'object').map((e, i) => ({ e, i, t: ms(e.time) }));
    batch.sort((a, b) => (isFinite(a.t) && isFinite(b.t) && a.t !== b.t ? b.t - a.t : b.i - a.i));  // newest first
    const rows = batch.slice(0, MAX_EVENTS).map((b) => makeRow(b.e));
    events = rows.concat(events);
    fresh = rows.concat(fresh);
    for (const r of events.splice(MAX_EVENTS)) r.alive = false;
    if (fresh.length > MAX_EVENTS) fresh.length = MAX_EVENTS;
    markDirty('events');
  }

  // ------------------------------------------------------------------ rendering (one frame at a time)
  function markDirty() {
    for (const k of arguments) dirty[k] = true;
    if (!frame) frame = requestAnimationFrame(render);
  }
  function render() {
    frame = 0;
    if ($('dashboard').hidden) return;
    const parts = { stats: renderStats, charts: renderCharts, lists: renderLists, anomalies: renderAnomalies, events: renderEvents };
    for (const k of Object.keys(parts)) if (dirty[k]) { dirty[k] = false; parts[k](); }
  }

  function renderStats() {
    const t = lastTick || {}, tot = t.totals_1h || {}, act = t.active || {};
    const set = (id, v) => { $(id).textContent = lastTick ? fmt(v) : '–'; };
    set('stat-rate', t.requests); set('stat-requests', tot.requests); set('stat-denials', tot.denials);
    set('stat-auth-failures', tot.auth_failures); set('stat-rate-limited', tot.rate_limited);
    set('active-sessions', act.sessions); set('active-streams', act.streams); set('active-connections', act.connections);
    $('last-update').textContent = lastTick ? 'updated ' + clock(t.time !== undefined ? t.time : t.unix_ms) : '';
  }

  function barList(ul, items, empty) {
    const max = items.reduce((m, it) => Math.max(m, it[1]), 0) || 1;
    ul.replaceChildren(...(items.length ? items.map(([k, v]) => {
      const li = el('li'), bar = el('span', 'bar');
      bar.style.width = Math.max(2, (100 * v) / max).toFixed(1) + '%';
      li.append(bar, el('span', 'k', k), el('span', 'v', fmt(v)));
      li.title = k + ': ' + fmt(v);
      return li;
    }) : [el('li', 'empty', empty)]));
  }
  const pairs = (arr, key) => (Array.isArray(arr) ? arr : [])
    .filter((x) => x && typeof x === 'object').map((x) => [str(x[key]), num(x.count)]);

  function renderLists() {
    const t = lastTick || {};
    barList($('decisions'), [...decisions.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)), 'no requests yet');
    barList($('auth-ips'), pairs(t.auth_failures_by_ip, 'ip'), 'no authentication failures');
    barList($('top-principals'), pairs(t.top_principals, 'subject'), 'no principals yet');
    barList($('top-tools'), pairs(t.top_tools, 'tool'), 'no tool calls yet');
    const ups = Array.isArray(t.upstreams) ? t.upstreams.filter((u) => u && typeof u === 'object') : [];
    $('upstreams').replaceChildren(...(ups.length ? ups.map((u) => {
      const li = el('li', u.healthy === true ? 'healthy' : 'unhealthy');
      li.append(el('span', 'name', str(u.name)), el('span', 'route', str(u.route)),
        el('span', 'detail', (u.healthy === true ? 'healthy' : 'unhealthy') + (u.detail ? ' · ' + str(u.detail) : '')));
      return li;
    }) : [el('li', 'empty', 'no upstreams reported')]));
  }

  const SEVERITIES = { low: 'sev-low', medium: 'sev-medium', high: 'sev-high' };
  function renderAnomalies() {
    $('anomalies').replaceChildren(...findings.map((f) => {
      const sev = str(f.severity).toLowerCase(), li = el('li', SEVERITIES[sev] || 'sev-unknown');
      li.setAttribute('data-kind', str(f.kind));
      li.setAttribute('data-severity', sev);
      if (freshKeys.has(f)) li.classList.add('fresh');
      const head = el('div', 'a-head');
      head.append(el('span', 'sev', sev || '?'), el('span', 'a-kind', str(f.kind)));
      const t = findingTime(f);
      if (isFinite(t)) head.append(el('span', 'a-time', clock(t)));
      li.append(head, el('div', 'a-summary', str(f.summary)));
      if (f.evidence && typeof f.evidence === 'object') {
        const dl = el('div', 'a-evidence');
        for (const k of Object.keys(f.evidence).slice(0, 12)) {
          const v = str(f.evidence[k]), item = el('span', null, k + ': ');
          item.append(el('b', null, v.length > 120 ? v.slice(0, 117) + '…' : v));
          dl.append(item);
        }
        li.append(dl);
      }
      return li;
    }));
    freshKeys.clear();
    $('anomalies-empty').hidden = findings.length > 0;
    const badge = $('anomaly-count');   // red when any high-severity finding is listed
    badge.textContent = String(findings.length);
    badge.classList.toggle('hot', findings.some((f) => str(f.severity).toLowerCase() === 'high'));
  }

  // Incremental: a tick only prepends its new rows and drops evicted ones (re-laying out 500 rows
  // every second is what costs at 10 000 events/min); a filter change re-renders from the buffer.
  function renderEvents() {
    const q = $('filter-text').value.trim().toLowerCase(), want = $('filter-decision').value;
    const match = (r) => (want === 'all' || r.cls === want) && (!q || r.text.includes(q));
    const body = $('events').tBodies[0], key = want + '\u0000' + q;
    if (key !== shownKey) {
      body.replaceChildren(...events.filter(match).map((r) => r.tr));
      shownKey = key;
    } else {
      const add = fresh.filter((r) => r.alive && match(r));
      if (add.length) { const frag = document.createDocumentFragment(); frag.append(...add.map((r) => r.tr)); body.prepend(frag); }
      while (body.lastChild && !(rowOf.get(body.lastChild) || {}).alive) body.lastChild.remove();
    }
    fresh = [];
    const n = body.rows.length;
    $('events-count').textContent = n === events.length ? '· ' + n : '· ' + n + ' of ' + events.length;
  }

  // ------------------------------------------------------------------ canvas charts
  let style = null;   // computed style of :root, looked up once per frame (theme colours live in app.css)
  const css = (name) => (style || (style = getComputedStyle(document.documentElement))).getPropertyValue(name).trim();
  function niceMax(v) {
    if (v <= 5) return 5;
    const p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
  }
  function drawChart(canvas, series) {
    const dpr = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);   // draw in CSS pixels
    const L = 46, R = 10, T = 26, B = 22, pw = w - L - R, ph = h - T - B;
    const now = points.length ? points[points.length - 1].t : Date.now();
    let peak = 0;
    for (const p of points) for (const s of series) peak = Math.max(peak, p[s.key]);
    const ymax = niceMax(peak * 1.1);
    const X = (t) => L + pw - ((now - t) / WINDOW_MS) * pw, Y = (v) => T + ph - (v / ymax) * ph;
    g.font = '11px ' + (css('--mono') || 'monospace'); g.lineWidth = 1;
    g.textAlign = 'right'; g.textBaseline = 'middle';   // grid + y labels
    for (let i = 0; i <= 4; i++) {
      const v = (ymax * i) / 4, y = Math.round(Y(v)) + 0.5;
      g.strokeStyle = css('--c-grid'); g.beginPath(); g.moveTo(L, y); g.lineTo(L + pw, y); g.stroke();
      g.fillStyle = css('--c-axis');
      g.fillText(v >= 1000 ? (v / 1000).toFixed(v % 1000 ? 1 : 0) + 'k' : String(+v.toFixed(1)), L - 6, y);
    }
    g.textAlign = 'center'; g.textBaseline = 'top';     // x labels: -5m … now
    for (let s = 300; s >= 0; s -= 60) {
      const x = Math.round(X(now - s * 1000)) + 0.5;
      g.strokeStyle = css('--c-grid'); g.beginPath(); g.moveTo(x, T); g.lineTo(x, T + ph); g.stroke();
      g.fillStyle = css('--c-axis');
      g.fillText(s === 0 ? 'now' : '-' + s / 60 + 'm', Math.min(Math.max(x, L + 12), L + pw - 12), T + ph + 6);
    }
    g.save(); g.translate(11, T + ph / 2); g.rotate(-Math.PI / 2);
    g.textAlign = 'center'; g.textBaseline = 'middle'; g.fillText('per second', 0, 0); g.restore();
    g.save(); g.beginPath(); g.rect(L, T - 2, pw, ph + 4); g.clip();   // series, clipped to the plot
    const path = (key) => {
      g.beginPath();
      points.forEach((p, i) => { const x = X(p.t), y = Y(p[key]); if (i) g.lineTo(x, y); else g.moveTo(x, y); });
    };
    if (points.length && series[0].fill) {        // area under the primary series
      const color = css(series[0].color), grad = g.createLinearGradient(0, T, 0, T + ph);
      path(series[0].key);
      g.lineTo(X(points[points.length - 1].t), T + ph); g.lineTo(X(points[0].t), T + ph); g.closePath();
      grad.addColorStop(0, color + '55'); grad.addColorStop(1, color + '05');
      g.fillStyle = grad; g.fill();
    }
    for (let i = series.length - 1; i >= 0 && points.length; i--) {   // primary series drawn last, on top
      const s = series[i], color = css(s.color);
      path(s.key);
      g.strokeStyle = color; g.lineWidth = i ? 1.4 : 1.8; g.lineJoin = 'round'; g.stroke();
      if (points.length === 1) { g.fillStyle = color; g.fillRect(X(points[0].t) - 2, Y(points[0][s.key]) - 2, 4, 4); }
    }
    g.restore();
    g.textAlign = 'left'; g.textBaseline = 'middle';    // legend (top right) with latest values
    const last = points[points.length - 1];
    let x = L + pw;
    for (let i = series.length - 1; i >= 0; i--) {
      const s = series[i], label = s.label + (last ? ' ' + fmt(last[s.key]) : '');
      x -= g.measureText(label).width + 26;
      g.fillStyle = css(s.color); g.fillRect(x, 9, 12, 3);
      g.fillStyle = css('--text') || '#ddd'; g.fillText(label, x + 16, 11);
    }
    canvas.setAttribute('data-points', String(points.length));
    canvas.setAttribute('data-last', String(last ? last.requests : 0));
  }
  function renderCharts() {
    style = null;
    drawChart($('chart-traffic'), [
      { key: 'requests', label: 'requests/s', color: '--c-requests', fill: true },
      { key: 'allowed', label: 'allowed', color: '--c-allowed' },
    ]);
    drawChart($('chart-refusals'), [
      { key: 'denied', label: 'denied', color: '--c-denied', fill: true },
      { key: 'auth_failures', label: 'auth failures', color: '--c-auth' },
      { key: 'rate_limited', label: 'rate limited', color: '--c-ratelimited' },
    ]);
  }

  function watchDpr() {   // redraw crisp when the window moves to a screen with another pixel ratio
    try {
      matchMedia('(resolution: ' + (window.devicePixelRatio || 1) + 'dppx)')
        .addEventListener('change', () => { markDirty('charts'); watchDpr(); }, { once: true });
    } catch (e) { /* no matchMedia */ }
  }

  // ------------------------------------------------------------------ wiring
  function init() {
    $('login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = $('token').value.trim();
      if (!v) { loginError('Enter a token.'); return; }
      token = v;
      try { sessionStorage.setItem(TOKEN_KEY, v); } catch (err) { /* storage disabled: memory only */ }
      loginError(null);
      $('login-submit').disabled = true;
      $('token').value = '';
      connect();
    });
    $('logout').addEventListener('click', () => signOut(null));
    $('filter-text').addEventListener('input', () => markDirty('events'));
    $('filter-decision').addEventListener('change', () => markDirty('events'));
    window.addEventListener('resize', () => markDirty('charts'));
    watchDpr();
    let saved = null;
    try { saved = sessionStorage.getItem(TOKEN_KEY); } catch (e) { /* storage disabled */ }
    if (saved) { token = saved; $('login').hidden = true; connect(); } else showLogin(null);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
