'use strict';
// Peer for bench/app/run_pg.sh: weft-serve's items API (POST and GET by id) on PostgreSQL
// through the `pg` package (a pool of connections, pg's default of 10: concurrent requests
// commit on different connections, so PostgreSQL's own group commit applies to them).
// Table items(id BIGINT PRIMARY KEY, doc JSONB), created if missing; ids from a sequence.
//   node node_pg.js --db postgres://user@host:port/db --port P [--host 127.0.0.1] [--root DIR]
const {Pool} = require('pg');
const {arg, serve} = require('./node_app_common');

const pool = new Pool({connectionString: arg('--db', 'postgres://postgres@127.0.0.1/postgres')});
const INSERT = "WITH n AS (SELECT nextval('items_id_seq') AS id) " +
  "INSERT INTO items(id, doc) SELECT id, jsonb_set($1::jsonb, '{id}', to_jsonb(id)) FROM n RETURNING doc::text";

async function main() {
  await pool.query('CREATE SEQUENCE IF NOT EXISTS items_id_seq');
  await pool.query('CREATE TABLE IF NOT EXISTS items(id BIGINT PRIMARY KEY, doc JSONB NOT NULL)');
  serve('pg', {
    get: (id, cb) => pool.query('SELECT doc::text AS doc FROM items WHERE id = $1', [id])
      .then((r) => cb(null, r.rows[0] && r.rows[0].doc), (e) => cb(e)),
    insert: (doc, cb) => pool.query(INSERT, [doc]).then((r) => cb(null, r.rows[0].doc), (e) => cb(e)),
    byCategory: (category, cb) => pool.query("SELECT doc::text AS doc FROM items WHERE doc->>'category' = $1", [category])
      .then((r) => cb(null, r.rows.map((x) => x.doc)), (e) => cb(e)),
  });
}
main().catch((e) => { console.error(e.message); process.exit(1); });
