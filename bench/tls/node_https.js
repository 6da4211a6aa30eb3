'use strict';
// Node.js core `https` hello-world server: bench/tls/peers.sh's second peer for weft.
//   node node_https.js --port 18443 --cert cert.pem --key key.pem [--host 127.0.0.1]
// GET /plaintext -> 200 "Hello, World!" (text/plain); anything else -> 404.
// TLS as weft's and nginx's in the benchmark: TLS 1.2 and 1.3, Mozilla "intermediate"
// TLS 1.2 ciphers in the server's order, groups X25519:P-256:P-384, session tickets on
// (Node's default, resumption in TLS 1.2 and 1.3) and its default session cache.
const https = require('https');
const fs = require('fs');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const port = Number(arg('--port', '18443'));
const host = arg('--host', '127.0.0.1');

const CIPHERS = 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:' +
  'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:' +
  'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:' +
  'DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305';

const HELLO = Buffer.from('Hello, World!');
const server = https.createServer({
  cert: fs.readFileSync(arg('--cert')),
  key: fs.readFileSync(arg('--key')),
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
  ciphers: 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:' + CIPHERS,
  honorCipherOrder: true,
  ecdhCurve: 'X25519:prime256v1:secp384r1',
}, (req, res) => {
  if (req.url === '/plaintext') {
    res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': HELLO.length});
    res.end(HELLO);
  } else {
    res.writeHead(404, {'Content-Length': 0});
    res.end();
  }
});
server.keepAliveTimeout = 60000;  // as nginx and weft in the benchmark
server.listen(port, host, () => {
  console.log(`node ${process.version} listening on https://${host}:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
