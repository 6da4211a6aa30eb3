'use strict';
// The HTTP side shared by node_sqlite3.js and node_better_sqlite3.js (core `http` only), so
// the two peers differ only in how they reach SQLite. weft-serve's items contract:
//   GET  /api/items/:id         -> 200, the stored document JSON (with "id"); 404 {} if absent
//   POST /api/items             -> JSON object body; 201, the stored document with its new id
//   GET  /api/items?category=X  -> 200, JSON array of the matches, X-Total-Count header
//   GET  /<file>                -> a file under --root (read once, then from memory)
// The backend passed to serve() does the SQL: get(id, cb(err, docText|undefined)),
// insert(bodyText, cb(err, docText)), byCategory(cat, cb(err, [docText]));
// cb is called synchronously (better-sqlite3) or later from the pool (sqlite3).
const http = require('http');
const fs = require('fs');
const path = require('path');

const MAX_BODY = 1 << 20;   // bytes; a larger POST body gets 413
const ITEM_RE = /^\/api\/items\/(\d{1,15})$/;

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

function send(res, code, body, headers) {
  const buf = Buffer.from(body);
  res.writeHead(code, Object.assign(
    {'Content-Type': 'application/json; charset=utf-8', 'Content-Length': buf.length}, headers));
  res.end(buf);
}
const fail = (res, code, message) => send(res, code, JSON.stringify({error: message}));

function readBody(req, res, done) {
  const parts = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) { fail(res, 413, 'body too large'); req.destroy(); return; }
    parts.push(c);
  });
  req.on('end', () => { if (size <= MAX_BODY) done(Buffer.concat(parts).toString('utf8')); });
}

function postItem(db, req, res) {
  readBody(req, res, (text) => {
    let doc;
    try { doc = JSON.parse(text); } catch { return fail(res, 400, 'body is not JSON'); }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return fail(res, 400, 'body is not a JSON object');
    delete doc.id;   // the database assigns it
    db.insert(JSON.stringify(doc), (err, stored) => {
      if (err) return fail(res, 500, String(err.message || err));
      send(res, 201, stored);
    });
  });
}

// Static files are read once (fs.readFile, on libuv's pool) and then served from memory:
// the most favourable case for these peers, and it keeps the mixed run about the loop (a
// request needs one loop turn, no pool round trips behind the database's work).
const fileCache = new Map();   // absolute path -> Buffer

function sendFile(res, data) {
  res.writeHead(200, {'Content-Type': 'application/octet-stream', 'Content-Length': data.length});
  res.end(data);
}

function serveFile(root, rel, res) {
  const file = path.join(root, path.normalize(rel));
  if (!file.startsWith(root + path.sep)) return fail(res, 403, 'forbidden');
  const cached = fileCache.get(file);
  if (cached) return sendFile(res, cached);
  fs.readFile(file, (err, data) => {
    if (err) return fail(res, 404, 'not found');
    fileCache.set(file, data);
    sendFile(res, data);
  });
}

function route(db, root, req, res) {
  const q = req.url.indexOf('?');
  const pathname = q < 0 ? req.url : req.url.slice(0, q);
  const m = ITEM_RE.exec(pathname);
  if (m && req.method === 'GET') {
    return db.get(Number(m[1]), (err, doc) => {
      if (err) return fail(res, 500, String(err.message || err));
      doc === undefined ? send(res, 404, '{}') : send(res, 200, doc);
    });
  }
  if (pathname === '/api/items' && req.method === 'POST') return postItem(db, req, res);
  if (pathname === '/api/items' && req.method === 'GET') {
    const category = new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1)).get('category');
    if (category === null) return fail(res, 400, 'only ?category= listing is implemented');
    return db.byCategory(category, (err, docs) => {
      if (err) return fail(res, 500, String(err.message || err));
      send(res, 200, '[' + docs.join(',') + ']', {'X-Total-Count': String(docs.length)});
    });
  }
  if (req.method === 'GET' && root) {
    let rel;
    try { rel = decodeURIComponent(pathname); } catch { return fail(res, 400, 'bad path'); }
    return serveFile(root, rel, res);
  }
  fail(res, 404, 'not found');
}

// The SQL both backends run. Durability and journal as weft-serve's defaults: WAL and
// synchronous=FULL. The insert is one statement: the next id and the stored document
// (the body with "id" set) in the same row, returned as stored.
const PRAGMAS = ['PRAGMA journal_mode=WAL', 'PRAGMA synchronous=FULL'];
const SQL = {
  get: 'SELECT doc FROM items WHERE id = ?',
  insert: "INSERT INTO items(id, doc) SELECT n, json_set(?, '$.id', n) " +
          'FROM (SELECT coalesce(max(id), 0) + 1 AS n FROM items) RETURNING doc',
  byCategory: "SELECT doc FROM items WHERE json_extract(doc, '$.category') = ? ORDER BY id",
};

function serve(name, db) {
  const port = Number(arg('--port', '18090'));
  const host = arg('--host', '127.0.0.1');
  const rootArg = arg('--root', '');
  const root = rootArg ? path.resolve(rootArg) : '';
  const server = http.createServer((req, res) => route(db, root, req, res));
  server.keepAliveTimeout = 60000;   // as in bench/http (Node's default is 5 s)
  server.listen(port, host, () => {
    console.log(`${name} (node ${process.version}) listening on http://${host}:${port}`);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
}

module.exports = {arg, serve, PRAGMAS, SQL};
