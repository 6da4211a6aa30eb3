// The peer for bench/ws: Node's ws (from tests/ws-interop/node_modules) as an echo server.
//   node ws_echo_server.mjs PORT
import http from 'node:http';
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../tests/ws-interop/package.json', import.meta.url));
const { WebSocketServer } = require('ws');
// POST /publish sends the body to every connection (the fan-out benchmark), as
// hello_http's POST /publish does.
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    for (const ws of wss.clients) ws.send(body, { binary: false });
    res.writeHead(204).end();
  });
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
server.listen(Number(process.argv[2]), '127.0.0.1');
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
server.on('listening', () => console.log(`ws echo listening on ${server.address().port}`));
