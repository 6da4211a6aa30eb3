// A program another project would write: a pool job and a coroutine on an installed weft,
// and the coroutine names of the core (<weft/weft.hpp>) and of sockets
// (<weft/net/tcp.hpp>): cancellation, combinators, connect/accept, reads and writes.
#include <weft/net/tcp.hpp>
#include <weft/weft.hpp>

#include <array>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

namespace {

weft::Task<void> server(weft::net::Listener& listener) {
  weft::net::Stream s = co_await listener.accept();
  std::string line;
  co_await s.read_until(line, "\n", 1024);
  co_await s.write_all(line);
  co_await s.shutdown();
  std::array<char, 16> rest;
  while (co_await s.read_some(rest) > 0) {
  }
  s.close();
}

weft::Task<std::string> client(weft::Loop& loop, std::uint16_t port) {
  weft::CancelSource source;
  weft::net::ConnectOptions opts{.timeout = 2s, .token = source.token()};
  weft::net::Stream c = co_await weft::net::connect(loop, "localhost", port, opts);
  co_await c.write_all("ping\n");
  std::array<char, 5> reply;
  co_await weft::with_timeout(2s, c.read_exactly(reply));
  co_await c.shutdown();
  std::array<char, 16> rest;
  while (co_await c.read_some(rest) > 0) {
  }
  c.close();
  co_return std::string(reply.data(), reply.size());
}

}  // namespace

int main() {
  weft::Loop loop;
  int answer = weft::run_until_complete(
      loop, []() -> weft::Task<int> { co_return co_await weft::blocking([] { return 6 * 7; }); }());
  std::printf("consumer: %d\n", answer);

  weft::net::Listener listener(loop);
  if (listener.listen(weft::net::SocketAddress::ipv4_loopback(0))) return 1;
  weft::spawn(loop, server(listener));
  auto [reply, slept] =
      weft::run_until_complete(loop, [&]() -> weft::Task<std::tuple<std::string, weft::Unit>> {
        co_return co_await weft::when_all(client(loop, listener.port()), weft::sleep(1ms));
      }());
  auto first = weft::run_until_complete(loop, []() -> weft::Task<std::size_t> {
    weft::CancelSource never;
    auto r =
        co_await weft::when_any(weft::sleep(1ms, never.token()),
                                weft::offload([] { return weft::this_job::stop_requested(); }));
    co_return r.index();
  }());
  listener.close();
  loop.run();
  std::printf("consumer: %s (when_any winner %zu)\n", reply.substr(0, 4).c_str(), first);
  return loop.close() || reply != "ping\n" ? 1 : 0;
}
