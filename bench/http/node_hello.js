'use strict';
// Node.js core `http` hello-world server used by bench/http/run.sh as a peer for weft.
//   node node_hello.js --port 18081 [--host 127.0.0.1]
// GET /plaintext -> 200 "Hello, World!" (text/plain); GET / -> 200 "OK"; anything else -> 404.
const http = require('http');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const port = Number(arg('--port', '18081'));
const host = arg('--host', '127.0.0.1');

const HELLO = Buffer.from('Hello, World!');
const OK = Buffer.from('OK');

const server = http.createServer((req, res) => {
  if (req.url === '/plaintext') {
    res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': HELLO.length});
    res.end(HELLO);
  } else if (req.url === '/') {
    res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': OK.length});
    res.end(OK);
  } else {
    res.writeHead(404, {'Content-Length': 0});
    res.end();
  }
});
// Node's default keepAliveTimeout is 5 s, which would close the idle connections of the
// RSS-per-connection measurement before it is read; nginx and weft are run with 60 s too.
server.keepAliveTimeout = 60000;
server.listen(port, host, () => {
  console.log(`node ${process.version} listening on http://${host}:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
