// bench/client/node_http.mjs URL CONNECTIONS SECONDS: Node's http.request (https.request
// for an https URL; NODE_EXTRA_CA_CERTS trusts a test certificate) with a keep-alive agent
// (maxSockets = CONNECTIONS), CONNECTIONS concurrent request loops; prints requests_per_s,
// errors and cpu_us_per_request.
import http from 'node:http';
import https from 'node:https';
const [url, conns = '50', secs = '10'] = process.argv.slice(2);
const mod = url.startsWith('https:') ? https : http;
const agent = new mod.Agent({ keepAlive: true, maxSockets: Number(conns) });
const until = Date.now() + Number(secs) * 1000;
let done = 0, errors = 0;
const once = () => new Promise((resolve) => {
  mod.get(url, { agent }, (res) => { res.on('data', () => {}); res.on('end', () => { done++; resolve(); }); })
    .on('error', () => { errors++; resolve(); });
});
async function loop() { while (Date.now() < until) await once(); }
const cpu0 = process.cpuUsage(), t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: Number(conns) }, loop));
const wall = Number(process.hrtime.bigint() - t0) / 1e9, cpu = process.cpuUsage(cpu0);
console.log(`requests_per_s: ${(done / wall).toFixed(0)}\nerrors: ${errors}\ncpu_us_per_request: ${((cpu.user + cpu.system) / done).toFixed(2)}`);
agent.destroy();
