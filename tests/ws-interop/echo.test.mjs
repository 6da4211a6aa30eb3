// Interop: Node's ws client (pinned in package-lock.json) against weft's WebSocket echo
// (hello_http's GET /ws). 10,000 messages of random sizes and kinds each way (text with
// multi-byte UTF-8, binary up to 300 KB: every length encoding), checked byte for byte;
// with and without the client offering permessage-deflate (weft declines it for now);
// ping/pong; the closing handshake with a code and reason. And the other way: weft's
// client (interop_client) against a ws server, 10,000 messages checked by the client.
//
// WEFT_HELLO_HTTP: the hello_http binary; WEFT_WS_CLIENT: interop_client. Run by ctest
// (tests/ws-interop/CMakeLists.txt).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let WebSocket;
try {
  WebSocket = require('ws');
} catch {
  throw new Error('tests/ws-interop: the ws package is missing: run scripts/install-deps');
}

let server;
let url;
// How many messages each long test sends (ctest sets fewer under the sanitizers).
const N = Number(process.env.WEFT_WS_INTEROP_MESSAGES ?? 10000);

before(async () => {
  const bin = process.env.WEFT_HELLO_HTTP;
  assert.ok(bin, 'WEFT_HELLO_HTTP must name the hello_http binary');
  server = spawn(bin, ['--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  url = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/([\d.]+):(\d+)/);
      if (m) resolve(`ws://${m[1]}:${m[2]}/ws`);
    });
    server.on('exit', (code) => reject(new Error(`hello_http exited (${code})`)));
  });
});

after(() => {
  server.kill('SIGTERM');
});

// A deterministic generator (the failures reproduce).
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function randomSize(r) {
  const p = r();
  if (p < 0.9) return Math.floor(r() * 2000);
  if (p < 0.99) return 2000 + Math.floor(r() * 68000);
  return 65536 + Math.floor(r() * 240000);
}

const alphabet = ['a', 'Z', ' ', '~', 'é', 'κ', '€', '😀', '\u{10FFFF}'];
const widths = alphabet.map((c) => Buffer.byteLength(c));
function randomText(r, size) {
  const parts = [];
  for (let n = 0; n < size;) {
    const i = Math.floor(r() * alphabet.length);
    parts.push(alphabet[i]);
    n += widths[i];
  }
  return parts.join('');
}

function randomMessage(r) {
  const size = randomSize(r);
  if (r() < 0.5) return { text: randomText(r, size) };
  const b = Buffer.alloc(size);
  let x = Math.floor(r() * 4294967296) >>> 0;
  for (let i = 0; i < size; ++i) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return { binary: b };
}

function open(options = {}, path = '/ws') {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/\/ws$/, path), options);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// Sends `count` messages keeping `window` in flight; each echo must equal its message.
async function echoMany(ws, count, seed, window = 64) {
  const r = rng(seed);
  const sent = [];
  let received = 0;
  let bytes = 0;
  await new Promise((resolve, reject) => {
    const next = () => {
      while (sent.length < count && sent.length - received < window) {
        const m = randomMessage(r);
        sent.push(m);
        ws.send(m.text ?? m.binary, { binary: m.text === undefined });
      }
    };
    ws.on('message', (data, isBinary) => {
      const want = sent[received++];
      try {
        if (want.text !== undefined) {
          assert.equal(isBinary, false, `message ${received - 1}: kind`);
          assert.equal(data.toString('utf8'), want.text, `message ${received - 1}: text`);
          bytes += data.length;
        } else {
          assert.equal(isBinary, true, `message ${received - 1}: kind`);
          assert.ok(Buffer.compare(data, want.binary) === 0, `message ${received - 1}: bytes`);
          bytes += data.length;
        }
      } catch (e) {
        reject(e);
        return;
      }
      if (received === count) resolve();
      else next();
    });
    ws.on('close', (code) => reject(new Error(`closed early: ${code}`)));
    next();
  });
  ws.removeAllListeners('message');
  ws.removeAllListeners('close');
  return bytes;
}

function closeWith(ws, code, reason) {
  return new Promise((resolve) => {
    ws.once('close', (c, r) => resolve([c, r.toString()]));
    ws.close(code, reason);
  });
}

test(`${N} random messages echoed byte for byte (client offers permessage-deflate)`, async () => {
  const ws = await open();
  assert.equal(ws.extensions, '', 'weft declines permessage-deflate (not implemented yet)');
  const bytes = await echoMany(ws, N, 14);
  assert.ok(bytes > N * 100, `echoed ${bytes} bytes`);
  assert.deepEqual(await closeWith(ws, 1000, 'done'), [1000, 'done']);
});

test(`${N} random messages echoed byte for byte (no extensions offered)`, async () => {
  const ws = await open({ perMessageDeflate: false });
  await echoMany(ws, N, 15, 8);
  assert.deepEqual(await closeWith(ws, 4001, 'custom'), [4001, 'custom']);
});

test(`${N} random messages with permessage-deflate both ways`, async () => {
  const ws = await open({ perMessageDeflate: { threshold: 0 } }, '/ws-deflate');
  assert.equal(ws.extensions, 'permessage-deflate');
  assert.equal(ws._extensions['permessage-deflate'].params.server_no_context_takeover, true);
  const bytes = await echoMany(ws, N, 16);
  assert.ok(bytes > N * 100);
  assert.deepEqual(await closeWith(ws, 1000, 'zipped'), [1000, 'zipped']);
});

test('permessage-deflate with client_no_context_takeover and small windows', async () => {
  const ws = await open({
    perMessageDeflate: { threshold: 0, clientNoContextTakeover: true, clientMaxWindowBits: 9, serverMaxWindowBits: 10 },
  }, '/ws-deflate');
  const params = ws._extensions['permessage-deflate'].params;  // as the server answered
  assert.equal(params.client_no_context_takeover, true);
  assert.equal(params.server_max_window_bits, 10);
  assert.equal(params.client_max_window_bits, 9);
  await echoMany(ws, 2000, 17);
  await closeWith(ws, 1000, '');
});

test('ping is answered with a pong carrying its payload', async () => {
  const ws = await open();
  const payload = await new Promise((resolve) => {
    ws.once('pong', (d) => resolve(d.toString()));
    ws.ping('are you there');
  });
  assert.equal(payload, 'are you there');
  await closeWith(ws, 1000, '');
});

test('empty messages and a message of exactly 65535 and 65536 bytes', async () => {
  const ws = await open();
  const got = [];
  const want = [Buffer.alloc(0), Buffer.alloc(65535, 7), Buffer.alloc(65536, 8), Buffer.alloc(125, 1), Buffer.alloc(126, 2)];
  const done = new Promise((resolve) => {
    ws.on('message', (d) => {
      got.push(d);
      if (got.length === want.length) resolve();
    });
  });
  for (const b of want) ws.send(b);
  await done;
  got.forEach((g, i) => assert.ok(Buffer.compare(g, want[i]) === 0, `message ${i}`));
  await closeWith(ws, 1000, '');
});

async function weftClientAgainstWsServer(serverOptions, extraArgs, seed) {
  const bin = process.env.WEFT_WS_CLIENT;
  assert.ok(bin, 'WEFT_WS_CLIENT must name the interop_client binary');
  const wss = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: 0, ...serverOptions });
  await new Promise((resolve) => wss.once('listening', resolve));
  const closes = [];
  const extensions = [];
  wss.on('connection', (ws) => {
    extensions.push(ws.extensions);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code, reason) => closes.push([code, reason.toString()]));
  });
  const { port } = wss.address();
  const child = spawn(bin, [`ws://127.0.0.1:${port}/`, String(N), String(seed), ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const status = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(status, 0, `interop_client failed: ${out}`);
  assert.match(out, new RegExp(`${N} messages`));
  for (let i = 0; i < 100 && closes.length === 0; ++i) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(closes, [[1000, 'done']]);
  await new Promise((resolve) => wss.close(resolve));
  return extensions;
}

test(`weft client <-> ws server: ${N} random messages echoed byte for byte`, async () => {
  assert.deepEqual(await weftClientAgainstWsServer({}, [], 21), ['']);
});

test(`weft client <-> ws server with permessage-deflate: ${N} random messages`, async () => {
  const ext = await weftClientAgainstWsServer({ perMessageDeflate: { threshold: 0 } }, ['deflate'], 22);
  assert.deepEqual(ext, ['permessage-deflate']);
});
