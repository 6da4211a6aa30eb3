// The payload of GET /api/items, shared by express.mjs and fastify.mjs: the same 50
// objects framework_server.cpp builds (keys in alphabetical order, as nlohmann::json
// keeps them), so all three servers send byte-identical JSON (3.6 KB before compression).
const categories = ['books', 'garden', 'music', 'tools', 'toys'];

export function makeItems() {
  const items = [];
  for (let i = 1; i <= 50; i++) {
    items.push({
      category: categories[i % 5],
      id: i,
      in_stock: i % 3 !== 0,
      name: `item ${i}`,
      price: (i * 7919) % 10000,
    });
  }
  return items;
}

// --port N [--host H] [--access-log FILE] [--no-middleware]
export function parseArgs(argv) {
  const args = { port: 8080, host: '127.0.0.1', accessLog: 'access.log', middleware: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--no-middleware') args.middleware = false;
    else if (flag === '--port') args.port = Number(argv[++i]);
    else if (flag === '--host') args.host = argv[++i];
    else if (flag === '--access-log') args.accessLog = argv[++i];
    else throw new Error(`unknown flag ${flag}`);
  }
  return args;
}
