'use strict';
// Loads a db.json (gen_seed.js's output) into the SQLite file the Node peers serve:
//   node load_sqlite.js db.json items.sqlite
// Table items(id INTEGER PRIMARY KEY, doc TEXT): doc is the item's JSON text, "id" included,
// exactly as GET /api/items/:id returns it. One transaction; WAL mode is set here and persists
// in the file. The target must not exist yet (a fresh file each run).
const fs = require('fs');
const Database = require('better-sqlite3');

const [src, dst] = process.argv.slice(2);
if (!src || !dst) throw new Error('usage: node load_sqlite.js db.json items.sqlite');
if (fs.existsSync(dst)) throw new Error(`${dst} exists`);
const { items } = JSON.parse(fs.readFileSync(src, 'utf8'));
const db = new Database(dst);
db.pragma('journal_mode = WAL');
db.exec('CREATE TABLE items(id INTEGER PRIMARY KEY, doc TEXT NOT NULL)');
const insert = db.prepare('INSERT INTO items(id, doc) VALUES (?, ?)');
db.transaction(() => {
  for (const item of items) insert.run(item.id, JSON.stringify(item));
})();
db.pragma('wal_checkpoint(TRUNCATE)');
db.close();
console.log(`loaded ${items.length} items into ${dst}`);
