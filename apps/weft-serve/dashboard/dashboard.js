// The dashboard: reads /_weft/stats/stream (one JSON snapshot a second, shape documented in
// include/weft/observe/stats.hpp) and draws the last two minutes on plain canvases.
"use strict";

const keep = 120;  // samples on screen
const series = { lag_p99: [], lag_max: [], util: [], rps: [], fs: [], slow: [], cpu: [] };
let previous = null;  // the last snapshot, for per-second rates
let updates = 0;

function push(name, value) {
  const s = series[name];
  s.push(value);
  if (s.length > keep) s.shift();
}

function totalRequests(snap) {
  if (!snap.http || !snap.http.requests) return 0;
  return Object.values(snap.http.requests).reduce((a, b) => a + b, 0);
}

function poolLoad(pool) { return pool ? pool.queued + pool.running : 0; }

function draw(canvasId, lines, colors, fixedMax) {
  const canvas = document.getElementById(canvasId);
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const max = fixedMax ?? Math.max(1, ...lines.flat()) * 1.15;
  ctx.strokeStyle = "#e4e7ec";
  ctx.beginPath(); ctx.moveTo(0, h - 0.5); ctx.lineTo(w, h - 0.5); ctx.stroke();
  ctx.fillStyle = "#667085";
  ctx.font = "11px system-ui";
  ctx.fillText(max >= 10 ? max.toFixed(0) : max.toPrecision(2), 4, 12);
  lines.forEach((line, i) => {
    ctx.strokeStyle = colors[i];
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    line.forEach((v, x) => {
      const px = (x + keep - line.length) * (w / (keep - 1));
      const py = h - (v / max) * (h - 16) - 1;
      if (x === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    });
    ctx.stroke();
  });
}

function text(id, value) { document.getElementById(id).textContent = value; }

function stallRow(stall) {
  const tr = document.createElement("tr");
  const cells = [stall.began, stall.kind === "loop" ? "loop" : `pool (${stall.class})`,
    stall.label || "(unlabelled)", `${stall.duration_ms.toFixed(0)} ms${stall.ongoing ? " so far" : ""}`];
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = c;
    tr.append(td);
  }
  const td = document.createElement("td");
  if (stall.stack && stall.stack.length) {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = `${stall.stack.length} frames`;
    const pre = document.createElement("pre");
    pre.textContent = stall.stack.join("\n");
    details.append(summary, pre);
    td.append(details);
  }
  tr.append(td);
  return tr;
}

function showStalls(snap) {
  const body = document.getElementById("stalls");
  const stalls = snap.recent_stalls || [];
  if (!stalls.length) return;
  body.replaceChildren(...stalls.slice().reverse().map(stallRow));
}

function update(snap) {
  const win = snap.loop.window || {};
  const lag = win.lag_ms || snap.loop.lag_ms;
  const seconds = previous ? Math.max(0.001, snap.time - previous.time) : 1;
  const rps = previous ? (totalRequests(snap) - totalRequests(previous)) / seconds : 0;
  push("lag_p99", lag.p99); push("lag_max", lag.max);
  push("util", win.utilization ?? snap.loop.utilization);
  push("rps", rps);
  for (const p of ["fs", "slow", "cpu"]) push(p, poolLoad(snap.pools[p]));
  draw("chart-lag", [series.lag_p99, series.lag_max], ["#2f6fde", "#b42318"]);
  draw("chart-util", [series.util], ["#067647"], 1);
  draw("chart-rps", [series.rps], ["#2f6fde"]);
  draw("chart-pools", [series.fs, series.slow, series.cpu], ["#2f6fde", "#dc6803", "#7a5af8"]);
  text("lag", `${lag.p99.toFixed(1)} ms`);
  text("util", `${((win.utilization ?? snap.loop.utilization) * 100).toFixed(0)} %`);
  text("rps", rps.toFixed(0));
  text("stall-count", String(snap.loop.stalls.count));
  showStalls(snap);
  previous = snap;
  updates += 1;
  document.body.dataset.updates = String(updates);
  text("status", `${snap.loops} loop${snap.loops > 1 ? "s" : ""}, up ${snap.uptime_s.toFixed(0)} s — updated ${new Date(snap.time * 1000).toLocaleTimeString()}`);
}

function connect() {
  const source = new EventSource("/_weft/stats/stream");
  source.onmessage = (event) => update(JSON.parse(event.data));
  source.onerror = () => text("status", "disconnected — retrying…");
}

async function demo(kind) {
  const ms = document.getElementById("demo-ms").value;
  text("demo-result", `${kind}: running…`);
  const started = performance.now();
  const res = await fetch(`/_weft/demo/${kind}?ms=${encodeURIComponent(ms)}`, { method: "POST" });
  const took = (performance.now() - started).toFixed(0);
  text("demo-result", res.ok ? `${kind}: done in ${took} ms` : `${kind}: ${res.status} ${await res.text()}`);
}

document.getElementById("block").addEventListener("click", () => demo("block"));
document.getElementById("offload").addEventListener("click", () => demo("offload"));
connect();
