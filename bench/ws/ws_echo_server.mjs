// The peer for bench/ws: Node's ws (from tests/ws-interop/node_modules) as an echo server.
//   node ws_echo_server.mjs PORT
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../tests/ws-interop/package.json', import.meta.url));
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[2]), perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
wss.on('listening', () => console.log(`ws echo listening on ${wss.address().port}`));
