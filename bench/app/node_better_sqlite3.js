'use strict';
// Peer for bench/app/run.sh: weft-serve's items API on better-sqlite3 (synchronous: every
// query runs on the event loop thread, which waits for SQLite).
//   node node_better_sqlite3.js --db items.sqlite --port P [--host 127.0.0.1] [--root DIR]
const Database = require('better-sqlite3');
const {arg, serve, PRAGMAS, SQL} = require('./node_app_common');

const db = new Database(arg('--db', 'items.sqlite'), {fileMustExist: true});
for (const p of PRAGMAS) db.exec(p);
const get = db.prepare(SQL.get).pluck();
const insert = db.prepare(SQL.insert).pluck();
const byCategory = db.prepare(SQL.byCategory).pluck();

function call(fn, cb) {
  let result;
  try { result = fn(); } catch (err) { return cb(err); }
  cb(null, result);
}

serve('better-sqlite3', {
  get: (id, cb) => call(() => get.get(id), cb),
  insert: (doc, cb) => call(() => insert.get(doc), cb),
  byCategory: (category, cb) => call(() => byCategory.all(category), cb),
});
