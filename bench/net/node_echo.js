// Node's net echo server, the comparison point of bench/net/run.sh.
//   node node_echo.js --port N
const net = require('net');
const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 9000;
net.createServer((s) => {
  s.setNoDelay(true);
  s.on('data', (d) => s.write(d));
  s.on('end', () => s.end());
  s.on('error', () => s.destroy());
}).listen(port, '127.0.0.1', () => console.log(`node echo on 127.0.0.1:${port}`));
