// The inspector's page: a live list of the exchanges (server-sent events
// from /api/events), a filter, and a detail pane read from
// /api/requests/http/ID. Everything it shows comes from this htc.
"use strict";

const $ = (id) => document.getElementById(id);
const rows = $("rows");
const MAX_ROWS = 2000;
const summaries = new Map(); // id -> summary
let selected = null;         // the id shown in the detail pane
let current = null;          // its full exchange
let awaitReplayOf = null;    // select the replay of this id when it arrives
let tunnels = [];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtTime(iso) {
  const d = new Date(iso);
  const p = (n, w) => String(n).padStart(w || 2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function fmtDuration(ns) {
  const ms = ns / 1e6;
  if (ms < 1) return `${(ns / 1e3).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

function fmtSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

function statusClass(code) {
  return "s" + (code ? String(code)[0] : "0");
}

// ---- the list ------------------------------------------------------------

function matches(s, f) {
  if (!f) return true;
  const text = `${s.method} ${s.uri} ${s.status_code || ""} ${s.tunnel_name} ${s.error || ""}`.toLowerCase();
  return f.split(/\s+/).every((w) => text.includes(w));
}

function applyFilter() {
  const f = $("filter").value.trim().toLowerCase();
  for (const tr of rows.children) tr.hidden = !matches(summaries.get(tr.dataset.id), f);
}

function addRow(s) {
  if (summaries.has(s.id)) return;
  summaries.set(s.id, s);
  const tr = el("tr", s.replay_of ? "replay" : "");
  tr.dataset.id = s.id;
  const status = s.status_code ? String(s.status_code) : "—";
  tr.append(
    el("td", "", fmtTime(s.start)),
    el("td", "method", s.method),
    el("td", "path", s.uri),
    el("td", statusClass(s.status_code), s.error && !s.status_code ? `${status} ${s.error}` : status),
    el("td", "num", fmtDuration(s.duration)),
    el("td", "num", fmtSize(s.size)),
    el("td", "", s.tunnel_name),
  );
  tr.title = s.error ? `${s.uri}\n${s.error}` : s.uri;
  tr.hidden = !matches(s, $("filter").value.trim().toLowerCase());
  rows.prepend(tr);
  while (rows.children.length > MAX_ROWS) {
    summaries.delete(rows.lastElementChild.dataset.id);
    rows.lastElementChild.remove();
  }
  $("empty").hidden = true;
  if (awaitReplayOf !== null && s.replay_of === awaitReplayOf) {
    awaitReplayOf = null;
    select(s.id);
  }
}

function clearList() {
  rows.replaceChildren();
  summaries.clear();
  $("empty").hidden = false;
}

rows.addEventListener("click", (ev) => {
  const tr = ev.target.closest("tr");
  if (tr) select(tr.dataset.id);
});

// ---- the detail pane -----------------------------------------------------

function decode(b64) {
  const bin = atob(b64 || "");
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// The bytes after the head (the captured body).
function bodyOf(raw) {
  for (let i = 0; i + 3 < raw.length; i++)
    if (raw[i] === 13 && raw[i + 1] === 10 && raw[i + 2] === 13 && raw[i + 3] === 10) return raw.subarray(i + 4);
  return new Uint8Array(0);
}

function header(headers, name) {
  for (const k of Object.keys(headers || {})) if (k.toLowerCase() === name) return headers[k][0];
  return "";
}

function fillHeaders(table, headers) {
  table.replaceChildren();
  for (const [k, vs] of Object.entries(headers || {}))
    for (const v of vs) {
      const tr = el("tr");
      tr.append(el("td", "", k), el("td", "", v));
      table.append(tr);
    }
}

function hexPreview(b) {
  const lines = [];
  for (let i = 0; i < Math.min(b.length, 512); i += 16) {
    const row = Array.from(b.subarray(i, i + 16));
    const hex = row.map((x) => x.toString(16).padStart(2, "0")).join(" ");
    const asc = row.map((x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : ".")).join("");
    lines.push(`${i.toString(16).padStart(6, "0")}  ${hex.padEnd(47)}  ${asc}`);
  }
  return lines.join("\n");
}

function asText(b) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch (e) {
    return null;
  }
}

function fillBody(div, part) {
  div.replaceChildren();
  if (!part) return;
  const body = bodyOf(decode(part.raw));
  const total = part.body_size;
  if (total === 0) {
    div.append(el("p", "info", "no body"));
    return;
  }
  const type = header(part.headers, "content-type").toLowerCase();
  const info = el("p", "info", `${fmtSize(total)}${type ? ", " + type : ""}`);
  if (part.truncated)
    info.append(el("span", "cut", ` — truncated: the first ${fmtSize(body.length)} are kept (--inspect-body)`));
  div.append(info);
  const text = asText(body);
  let shown;
  if (text !== null && /json/.test(type) && !part.truncated) {
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch (e) {
      shown = text;
    }
  } else if (text !== null && !/[\x00-\x08\x0e-\x1f]/.test(text)) {
    shown = text;
  } else {
    div.append(el("p", "info", "binary; hex of the first bytes:"));
    shown = hexPreview(body);
  }
  div.append(el("pre", "", shown));
}

function tunnelOf(x) {
  return tunnels.find((t) => t.name === x.tunnel_name);
}

function show(x) {
  current = x;
  const q = x.request;
  const r = x.response;
  $("detail").hidden = false;
  $("d-line").textContent = `${q.method} ${q.uri} ${q.proto}`;
  $("d-note").replaceChildren();
  const meta = [`#${x.id}`, new Date(x.start).toLocaleString(), fmtDuration(x.duration), `from ${x.remote_addr || "?"}`,
    `binding ${x.tunnel_name}`];
  if (x.replay_of) meta.push(`replay of #${x.replay_of}`);
  if (x.error) meta.push(`error: ${x.error}`);
  $("d-meta").textContent = meta.join(" · ");
  fillHeaders($("d-req-headers"), q.headers);
  fillBody($("d-req-body"), q);
  $("d-resp-line").textContent = r ? `Response: ${r.proto} ${r.status}` : "Response: none";
  $("d-resp-line").className = r ? statusClass(r.status_code) : "s0";
  fillHeaders($("d-resp-headers"), r ? r.headers : {});
  fillBody($("d-resp-body"), r);
}

async function select(id) {
  selected = id;
  for (const tr of rows.children) tr.classList.toggle("sel", tr.dataset.id === id);
  const res = await fetch(`/api/requests/http/${encodeURIComponent(id)}`);
  if (selected !== id) return;
  if (!res.ok) {
    $("detail").hidden = false;
    $("d-line").textContent = `#${id} is gone (the ring keeps only the last requests)`;
    return;
  }
  show(await res.json());
}

function note(text, pre) {
  const n = $("d-note");
  n.replaceChildren(text);
  if (pre) n.append(el("pre", "", pre));
}

// ---- actions -------------------------------------------------------------

const JSON_HEADERS = { "Content-Type": "application/json" };

$("replay").addEventListener("click", async () => {
  if (!current) return;
  awaitReplayOf = current.id;
  const res = await fetch("/api/requests/http", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ id: current.id }) });
  if (!res.ok) {
    awaitReplayOf = null;
    const e = await res.json().catch(() => ({}));
    note(`replay refused: ${e.msg || res.status}`);
  } else {
    note("replayed: the new request is selected when its response is complete");
  }
});

const SKIP = new Set(["host", "content-length", "connection", "transfer-encoding", "x-forwarded-for",
  "x-forwarded-proto", "x-forwarded-host", "x-real-ip"]);

function shq(s) {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

function curlOf(x) {
  const q = x.request;
  const t = tunnelOf(x);
  const base = t && t.public_url ? t.public_url.replace(/\/$/, "") : `http://${header(q.headers, "host")}`;
  const parts = ["curl"];
  if (q.method !== "GET") parts.push("-X", shq(q.method));
  parts.push(shq(base + q.uri));
  for (const [k, vs] of Object.entries(q.headers || {}))
    if (!SKIP.has(k.toLowerCase())) for (const v of vs) parts.push("-H", shq(`${k}: ${v}`));
  const body = bodyOf(decode(q.raw));
  if (q.body_size > 0) {
    const text = asText(body);
    if (text === null) parts.push(`# binary body of ${q.body_size} bytes left out`);
    else parts.push("--data-binary", shq(text) + (q.truncated ? "  # truncated" : ""));
  }
  return parts.join(" ");
}

$("curl").addEventListener("click", async () => {
  if (!current) return;
  const cmd = curlOf(current);
  try {
    await navigator.clipboard.writeText(cmd);
    note("copied:", cmd);
  } catch (e) {
    note("copy it from here:", cmd);
  }
});

$("clear").addEventListener("click", async () => {
  await fetch("/api/requests/http", { method: "DELETE", headers: JSON_HEADERS });
});

$("filter").addEventListener("input", applyFilter);

// ---- live updates ----------------------------------------------------------

async function loadTunnels() {
  try {
    const res = await fetch("/api/tunnels");
    tunnels = (await res.json()).tunnels;
    $("tunnels").textContent = tunnels
      .map((t) => `${t.name}: ${t.public_url || "(no public URL)"} → ${t.config.addr}`)
      .join("   ");
  } catch (e) {
    $("tunnels").textContent = "";
  }
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => {
    clearList(); // the stream starts with every request kept
    $("live").textContent = "live";
    $("live").className = "";
    loadTunnels();
  });
  es.addEventListener("request", (ev) => addRow(JSON.parse(ev.data)));
  es.addEventListener("clear", () => {
    clearList();
    selected = current = null;
    $("detail").hidden = true;
  });
  es.addEventListener("error", () => {
    $("live").textContent = "offline, retrying";
    $("live").className = "off";
  });
}

loadTunnels();
connect();
