// weft-serve's dashboard in a real browser: Debian's Chromium, headless, driven by
// Playwright. It loads with no console errors, its charts update from the SSE stream, and
// pressing "Burn on the loop" makes a stall appear with the route that caused it; the same
// work through offload() makes none. A screenshot is kept (WEFT_ARTIFACTS, default
// ./artifacts). Needs WEFT_SERVE (the binary) and /usr/bin/chromium: missing is a failure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, existsSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const binary = process.env.WEFT_SERVE;
const browserPath = process.env.WEFT_CHROMIUM || "/usr/bin/chromium";
const artifacts = process.env.WEFT_ARTIFACTS || path.resolve("artifacts");

function startServer() {
  assert.ok(binary && existsSync(binary), `WEFT_SERVE must name the weft-serve binary (got ${binary})`);
  const child = spawn(binary, ["--port", "0", "--demo", "--db", "sqlite::memory:"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const port = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft-serve did not start:\n${output}`)), 20000);
    const onData = (chunk) => {
      output += chunk;
      const m = output.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`weft-serve exited (${code}):\n${output}`)));
  });
  return { child, port, output: () => output };
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
    child.on("exit", (code) => { clearTimeout(timer); resolve(code); });
    child.kill("SIGTERM");
  });
}

test("dashboard: live charts, and a blocking handler shows up as a stall with its route", async () => {
  assert.ok(existsSync(browserPath), `${browserPath} is missing: apt-get install chromium`);
  const server = startServer();
  const port = await server.port;
  const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1100 } });
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/_weft/`);
    await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 3, null, { timeout: 15000 });
    assert.notEqual(await page.textContent("#util"), "–", "the utilization tile never updated");

    await page.fill("#demo-ms", "300");
    await page.click("#offload");
    await page.waitForFunction(() => /offload: done/.test(document.getElementById("demo-result").textContent),
      null, { timeout: 15000 });
    await page.click("#block");
    await page.waitForFunction(() => /block: done/.test(document.getElementById("demo-result").textContent),
      null, { timeout: 15000 });
    await page.waitForFunction(() => document.getElementById("stalls").textContent.includes("/_weft/demo/block"),
      null, { timeout: 15000 });
    const stalls = await page.textContent("#stalls");
    assert.match(stalls, /POST \/_weft\/demo\/block/, "the stall names the route");
    assert.doesNotMatch(stalls, /demo\/offload/, "offloaded work is not a loop stall");
    await page.waitForFunction(() => Number(document.body.dataset.updates) >= 6, null, { timeout: 15000 });

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, "dashboard.png"), fullPage: true });
    assert.deepEqual(problems, [], problems.join("\n"));
  } finally {
    await browser.close();
    const code = await stop(server.child);
    assert.equal(code, 0, `weft-serve exit status ${code}:\n${server.output()}`);
  }
});
