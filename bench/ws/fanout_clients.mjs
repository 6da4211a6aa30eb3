// bench/ws fan-out: opens COUNT connections to URL, then asks for one publish (POST
// PUBLISH_URL with a 32-byte body) and reports the ms from the request until the last
// connection received the message.
//   node fanout_clients.mjs URL COUNT PUBLISH_URL [--wait]
// --wait: prints "ready" once every subscriber is connected and publishes only when a line
// arrives on stdin (run.sh reads the server's CPU time around the publish).
import http from 'node:http';
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../tests/ws-interop/package.json', import.meta.url));
const WebSocket = require('ws');
const [url, count, publishUrl] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const wait = process.argv[5] === '--wait';
const sockets = [];
for (let i = 0; i < count; i += 500) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + 500); ++j) {
    batch.push(new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.on('open', () => resolve(ws));
      ws.on('error', reject);
    }));
  }
  sockets.push(...(await Promise.all(batch)));
}
await new Promise((r) => setTimeout(r, 500));
if (wait) {
  console.log('ready');
  await new Promise((resolve) => process.stdin.once('data', resolve));
}
let received = 0;
const done = new Promise((resolve) => {
  for (const ws of sockets) ws.once('message', () => { if (++received === count) resolve(); });
});
const start = process.hrtime.bigint();
const req = http.request(publishUrl, { method: 'POST' });
req.end('x'.repeat(32));
await done;
const ms = Number(process.hrtime.bigint() - start) / 1e6;
console.log(JSON.stringify({ subscribers: count, ms_to_last: Number(ms.toFixed(1)) }));
for (const ws of sockets) ws.terminate();
process.exit(0);
