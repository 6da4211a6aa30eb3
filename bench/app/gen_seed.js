'use strict';
// Deterministic seed for bench/app/run.sh, in json-server's db.json shape:
//   node gen_seed.js [--count 100000] [--out db.json]
//   {"items": [{"id": 1, "title": "...", "category": "c17", "price": 12.5, "body": "..."}, ...]}
// The same seed always gives the same bytes (a fixed-seed mulberry32 PRNG, no Date, no
// Math.random), so every server in one run, and every run, gets identical data.
// categories c0..c99 (none is "none-such", the mixed run's always-empty filter);
// body: 100..200 bytes of words.
const fs = require('fs');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const count = Number(arg('--count', '100000'));
const out = arg('--out', 'db.json');
if (!Number.isInteger(count) || count < 1) throw new Error(`bad --count ${count}`);

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(20261201);
const pick = (list) => list[Math.floor(rand() * list.length)];

const WORDS = ('alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike ' +
  'november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu ' +
  'loop pool queue socket buffer timer signal handle stream request response header body ' +
  'latency throughput worker thread process kernel epoll sqlite index table row column').split(' ');

function words(minBytes, maxBytes) {
  const target = minBytes + Math.floor(rand() * (maxBytes - minBytes + 1));
  let s = pick(WORDS);
  while (s.length < target) s += ' ' + pick(WORDS);
  return s.slice(0, target).trimEnd();
}

const fd = fs.openSync(out, 'w');
fs.writeSync(fd, '{\n  "items": [\n');
const chunk = [];
for (let id = 1; id <= count; id++) {
  const item = {
    id,
    title: words(12, 40),
    category: 'c' + Math.floor(rand() * 100),
    price: Math.round(rand() * 100000) / 100,
    body: words(100, 200),
  };
  chunk.push('    ' + JSON.stringify(item) + (id < count ? ',\n' : '\n'));
  if (chunk.length === 1000 || id === count) {
    fs.writeSync(fd, chunk.join(''));
    chunk.length = 0;
  }
}
fs.writeSync(fd, '  ]\n}\n');
fs.closeSync(fd);
