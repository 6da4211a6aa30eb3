'use strict';
// Minimal Node.js static file server used by `bench/http/run.sh --suite static` as a peer
// for weft's static_server and nginx:
//   node node_static.js --root DIR --port 18081 [--host 127.0.0.1]
// Core `http` + `fs` only, the way a typical hand-written static server looks: per request
// fs.stat for Content-Length (and a Content-Type from the extension), then
// fs.createReadStream(file).pipe(res). No caching of any kind (no fd or stat cache, no
// ETag / Last-Modified, no conditional or range requests); GET and HEAD only.
const http = require('http');
const fs = require('fs');
const path = require('path');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const root = path.resolve(arg('--root', '.'));
const port = Number(arg('--port', '18081'));
const host = arg('--host', '127.0.0.1');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
};

function fail(res, code) {
  res.writeHead(code, {'Content-Length': 0});
  res.end();
}

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405);
  let rel;
  try {
    rel = decodeURIComponent(req.url.split('?', 1)[0]);
  } catch {
    return fail(res, 400);
  }
  const file = path.join(root, path.normalize(rel));
  if (file !== root && !file.startsWith(root + path.sep)) return fail(res, 403);
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) return fail(res, 404);
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream',
      'Content-Length': st.size,
    });
    if (req.method === 'HEAD') return res.end();
    const stream = fs.createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
});
// Same 60 s keep-alive timeout as the other servers in bench/http/run.sh (Node's default is 5 s).
server.keepAliveTimeout = 60000;
server.listen(port, host, () => {
  console.log(`node ${process.version} serving ${root} on http://${host}:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
