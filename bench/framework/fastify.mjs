// Fastify 4 with its logger (pino, to a file), @fastify/cors and @fastify/compress: the peer
// of framework_server for bench/framework/run.sh. No response schema: the body goes through
// JSON.stringify, as in Express and as nlohmann::json serializes it in weft.
//   node fastify.mjs --port N [--host H] [--access-log FILE] [--no-middleware]
import Fastify from 'fastify';
import cors from '@fastify/cors';
import compress from '@fastify/compress';
import { makeItems, parseArgs } from './items.mjs';

const args = parseArgs(process.argv.slice(2));
const items = makeItems();
const app = Fastify({
  logger: args.middleware ? { level: 'info', file: args.accessLog } : false,
  keepAliveTimeout: 60_000,
});
if (args.middleware) {
  await app.register(cors);
  await app.register(compress);
}
app.get('/api/items', async () => items);
app.get('/plaintext', async (request, reply) => {
  reply.type('text/plain');
  return 'Hello, World!';
});
await app.listen({ port: args.port, host: args.host });
console.log(`fastify listening on http://${args.host}:${args.port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
