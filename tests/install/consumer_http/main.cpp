// A program that uses only the HTTP layer of an installed weft: a server answers one
// request from a client on the same loop, then everything closes.
#include <weft/http/server.hpp>
#include <weft/net/stream.hpp>

#include <cstdio>
#include <string>

int main() {
  weft::Loop loop;
  std::string reply;
  {
    weft::http::Server server(loop);
    server.get("/", [](weft::http::Request&) { return weft::http::Response::text("42"); });
    if (server.listen(0, "127.0.0.1")) return 1;
    weft::net::Stream client(loop);
    auto address = weft::net::SocketAddress::parse("127.0.0.1", server.port());
    client.connect(*address, [&](std::error_code ec) {
      if (ec) return server.close();
      client.write("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
      client.read_start([&](std::span<char> data) {
        reply.append(data.data(), data.size());
        return data.size();
      });
      client.on_end([&] {
        client.close();
        server.close();
      });
    });
    loop.run();
  }
  const bool ok = reply.ends_with("\r\n\r\n42");
  std::printf("consumer: %s\n", ok ? "42" : reply.c_str());
  return loop.close() || !ok ? 1 : 0;
}
