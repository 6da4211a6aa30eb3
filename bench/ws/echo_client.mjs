// bench/ws load generator: CONNS connections to URL, each with one 32-byte text message in
// flight (send, wait for the echo, send again) for SECONDS; prints the round trips done.
//   node echo_client.mjs URL CONNS SECONDS
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../tests/ws-interop/package.json', import.meta.url));
const WebSocket = require('ws');
const [url, conns, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const payload = 'x'.repeat(32);
let count = 0;
let running = true;
const sockets = await Promise.all(Array.from({ length: conns }, () => new Promise((resolve, reject) => {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('open', () => resolve(ws));
  ws.on('error', reject);
})));
for (const ws of sockets) {
  ws.on('message', () => {
    ++count;
    if (running) ws.send(payload);
  });
}
console.error('connected');
const start = process.hrtime.bigint();
for (const ws of sockets) ws.send(payload);
await new Promise((r) => setTimeout(r, seconds * 1000));
running = false;
const ns = Number(process.hrtime.bigint() - start);
console.log(JSON.stringify({ messages: count, seconds: ns / 1e9, per_second: Math.round(count / (ns / 1e9)) }));
for (const ws of sockets) ws.terminate();
