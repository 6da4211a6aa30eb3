'use strict';
// Peer for bench/app/run.sh: weft-serve's items API on the `sqlite3` package (asynchronous:
// queries run on libuv's thread pool, results come back to the loop — the model weft
// implements natively). One connection; one prepared statement per query, reused (sqlite3
// runs a statement's calls one after another).
//   node node_sqlite3.js --db items.sqlite --port P [--host 127.0.0.1] [--root DIR]
const sqlite3 = require('sqlite3');
const {arg, serve, PRAGMAS, SQL} = require('./node_app_common');

const db = new sqlite3.Database(arg('--db', 'items.sqlite'), sqlite3.OPEN_READWRITE, (err) => {
  if (err) { console.error(err.message); process.exit(1); }
});
db.serialize(() => { for (const p of PRAGMAS) db.run(p); });
const get = db.prepare(SQL.get);
const insert = db.prepare(SQL.insert);
const byCategory = db.prepare(SQL.byCategory);

db.wait(() => serve('sqlite3', {
  get: (id, cb) => get.get(id, (err, row) => cb(err, row && row.doc)),
  insert: (doc, cb) => insert.get(doc, (err, row) => cb(err, row && row.doc)),
  byCategory: (category, cb) => byCategory.all(category, (err, rows) => cb(err, rows && rows.map((r) => r.doc))),
}));
