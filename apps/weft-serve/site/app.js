// The bundled site's live examples: each runs a real request against this server and shows
// the status, the interesting headers and the body.
"use strict";

const examples = [
  { what: "Create a document (the collection appears with its first one)", method: "POST",
    path: "/api/demo", body: { title: "Hello from the browser", views: 3, tags: ["weft"] } },
  { what: "List a collection", method: "GET", path: "/api/demo" },
  { what: "One document by id", method: "GET", path: "/api/demo/1" },
  { what: "Filter and sort", method: "GET", path: "/api/demo?views_gte=1&_sort=views&_order=desc" },
  { what: "A page, with X-Total-Count and Link headers", method: "GET", path: "/api/demo?_page=1&_limit=2" },
  { what: "Merge into a document (null removes a field)", method: "PATCH", path: "/api/demo/1",
    body: { views: 4, tags: null } },
  { what: "Replace a document", method: "PUT", path: "/api/demo/1", body: { title: "Replaced" } },
  { what: "Bad JSON gets a 400 that says where", method: "POST", path: "/api/demo", raw: '{"title": oops}' },
  { what: "An unknown id is a 404", method: "GET", path: "/api/demo/999999" },
  { what: "Delete a document", method: "DELETE", path: "/api/demo/1" },
];

const shownHeaders = ["content-type", "location", "x-total-count", "link", "allow"];

async function run(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined && method !== "GET" && method !== "DELETE") {
    init.body = body;
    init.headers["Content-Type"] = "application/json";
  }
  const started = performance.now();
  const res = await fetch(path, init);
  const text = await res.text();
  const ms = (performance.now() - started).toFixed(1);
  const headers = shownHeaders.filter((h) => res.headers.has(h))
    .map((h) => `${h}: ${res.headers.get(h)}`).join("\n");
  return { status: res.status, statusText: res.statusText, headers, text, ms };
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

function show(pre, r) {
  pre.hidden = false;
  pre.textContent = "";
  const status = document.createElement("span");
  status.className = r.status < 400 ? "status-ok" : "status-err";
  status.textContent = `${r.status} ${r.statusText}  (${r.ms} ms)\n`;
  pre.append(status, `${r.headers}${r.headers ? "\n\n" : ""}${pretty(r.text)}`);
}

async function runInto(pre, method, path, body) {
  try {
    show(pre, await run(method, path, body));
  } catch (e) {
    pre.hidden = false;
    pre.textContent = `request failed: ${e}`;
  }
  refreshCollections();
}

function exampleBox(ex) {
  const box = document.createElement("div");
  box.className = "example";
  const body = ex.raw ?? (ex.body ? JSON.stringify(ex.body) : undefined);
  box.innerHTML = `<div class="muted"></div><div class="line"><code></code><button>Run</button></div>
    <pre class="result" hidden></pre>`;
  box.querySelector(".muted").textContent = ex.what;
  box.querySelector("code").textContent = `${ex.method} ${ex.path}${body ? "  " + body : ""}`;
  const pre = box.querySelector("pre");
  box.querySelector("button").addEventListener("click", () => runInto(pre, ex.method, ex.path, body));
  return box;
}

async function refreshCollections() {
  const p = document.getElementById("collections");
  try {
    const res = await fetch("/api");
    const all = await res.json();
    const names = Object.entries(all).map(([name, n]) => `${name} (${n})`);
    p.textContent = names.length ? `Collections: ${names.join(", ")}` : "No collections yet: create one below.";
  } catch (e) {
    p.textContent = `Collections: unavailable (${e})`;
  }
}

// ---- Live: one collection followed with EventSource -----------------------------------
// The list is loaded once, then kept current by the change events (create/update replace
// the document, delete removes it). EventSource reconnects by itself and sends
// Last-Event-ID, so the server replays what was missed; a "reload" event (the cursor is
// older than the kept history) reloads the list.
let live = null;

function renderLive(docs) {
  const ul = document.getElementById("live-docs");
  ul.replaceChildren();
  for (const doc of docs.values()) {
    const li = document.createElement("li");
    li.textContent = JSON.stringify(doc);
    ul.append(li);
  }
}

async function loadLive(name, docs) {
  const res = await fetch(`/api/${encodeURIComponent(name)}?_limit=100`);
  docs.clear();
  if (res.ok) for (const doc of await res.json()) docs.set(String(doc.id), doc);
  renderLive(docs);
}

function follow(name) {
  if (live) live.close();
  const state = document.getElementById("live-state");
  const docs = new Map();
  // Subscribe first (live from now), then load: a change in between is applied twice at
  // worst, which leaves the same document.
  live = new EventSource(`/api/${encodeURIComponent(name)}/_changes`);
  live.onopen = () => { state.textContent = `following ${name}`; };
  live.onerror = () => { state.textContent = "reconnecting…"; };
  live.onmessage = (event) => {
    const change = JSON.parse(event.data);
    if (change.op === "delete") docs.delete(String(change.doc_id));
    else docs.set(String(change.doc_id), change.doc);
    state.textContent = `following ${name}: change ${change.id} (${change.op})`;
    renderLive(docs);
  };
  live.addEventListener("reload", () => loadLive(name, docs));
  loadLive(name, docs);
}

function setup() {
  document.getElementById("live-follow").addEventListener("click",
    () => follow(document.getElementById("live-name").value));
  follow(document.getElementById("live-name").value);
  const list = document.getElementById("examples");
  for (const ex of examples) list.append(exampleBox(ex));
  const form = document.getElementById("custom");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const method = document.getElementById("method").value;
    runInto(form.querySelector("pre"), method, document.getElementById("path").value,
      document.getElementById("body").value);
  });
  refreshCollections();
}

setup();
