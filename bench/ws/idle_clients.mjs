// bench/ws: opens COUNT WebSocket connections to URL (in batches), prints "ready" and
// holds them until stdin closes.
//   node idle_clients.mjs URL COUNT
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../tests/ws-interop/package.json', import.meta.url));
const WebSocket = require('ws');
const [url, count] = [process.argv[2], Number(process.argv[3])];
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
console.log('ready');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
