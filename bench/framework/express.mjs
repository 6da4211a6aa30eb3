// Express 4 behind morgan ('combined', to a file), cors() and compression(): the peer of
// framework_server for bench/framework/run.sh.
//   node express.mjs --port N [--host H] [--access-log FILE] [--no-middleware]
import fs from 'node:fs';
import express from 'express';
import cors from 'cors';
import morgan from 'morgan';
import compression from 'compression';
import { makeItems, parseArgs } from './items.mjs';

const args = parseArgs(process.argv.slice(2));
const items = makeItems();
const app = express();
app.disable('x-powered-by');
app.set('etag', false);  // weft and Fastify send no ETag for a dynamic response
if (args.middleware) {
  app.use(morgan('combined', { stream: fs.createWriteStream(args.accessLog, { flags: 'a' }) }));
  app.use(cors());
  app.use(compression());
}
app.get('/api/items', (req, res) => res.json(items));
app.get('/plaintext', (req, res) => res.type('text/plain').send('Hello, World!'));
const server = app.listen(args.port, args.host, () => {
  console.log(`express listening on http://${args.host}:${args.port}`);
});
server.keepAliveTimeout = 60_000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
