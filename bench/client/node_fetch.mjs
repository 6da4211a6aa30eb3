// bench/client/node_fetch.mjs URL CONNECTIONS SECONDS: Node's fetch (undici) with
// CONNECTIONS concurrent request loops for SECONDS; prints requests_per_s, errors and
// cpu_us_per_request (process.cpuUsage: user + system of this process).
const [url, conns = '50', secs = '10'] = process.argv.slice(2);
const until = Date.now() + Number(secs) * 1000;
let done = 0, errors = 0;
async function loop() {
  while (Date.now() < until) {
    try { const r = await fetch(url); await r.text(); done++; } catch { errors++; }
  }
}
const cpu0 = process.cpuUsage(), t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: Number(conns) }, loop));
const wall = Number(process.hrtime.bigint() - t0) / 1e9, cpu = process.cpuUsage(cpu0);
console.log(`requests_per_s: ${(done / wall).toFixed(0)}\nerrors: ${errors}\ncpu_us_per_request: ${((cpu.user + cpu.system) / done).toFixed(2)}`);
