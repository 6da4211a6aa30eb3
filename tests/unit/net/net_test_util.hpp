// Helpers for the net tests: bounded loop runs and plain blocking client sockets.
#pragma once

#include <weft/net/tcp.hpp>
#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace weft::net::test {

using namespace std::chrono_literals;

// Runs the loop until pred() holds or `limit` passes (then the test fails). A repeating
// guard timer bounds every poll wait.
template <class Pred>
bool run_until(Loop& loop, Pred pred, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  Timer guard(loop);
  guard.start([] {}, 5ms, 5ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "run_until: condition not reached in time";
      return false;
    }
    loop.run(RunMode::once);
  }
  return true;
}

// Closes everything given, runs the close phase and checks that the loop closes clean.
inline void finish(Loop& loop) {
  loop.run();
  EXPECT_FALSE(loop.close()) << loop.describe_open_handles();
}

inline std::string to_string(std::span<char> d) { return std::string(d.data(), d.size()); }

// A blocking client socket connected to addr (or -1).
inline int blocking_connect(const SocketAddress& addr) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, addr.data(), addr.size()) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// An echo server: every accepted stream writes back what it reads and half-closes at
// end of input.
class EchoServer {
 public:
  EchoServer(Loop& loop, const SocketAddress& addr) : loop_(loop), listener_(loop) {
    std::error_code ec = listener_.listen(addr, [this](Socket s) { accept(std::move(s)); });
    EXPECT_FALSE(ec) << ec.message();
  }
  Listener& listener() { return listener_; }
  SocketAddress address() const { return listener_.local_address(); }
  std::vector<std::unique_ptr<Stream>>& streams() { return streams_; }
  void close_all() {
    listener_.close();
    for (auto& s : streams_) s->close();
  }

 private:
  void accept(Socket s) {
    auto stream = std::make_unique<Stream>(loop_, std::move(s));
    Stream* p = stream.get();
    p->read_start([p](std::span<char> d) {
      p->write(std::string_view(d.data(), d.size()));
      return d.size();
    });
    p->on_end([p] { p->shutdown(WriteCallback{}); });
    streams_.push_back(std::move(stream));
  }

  Loop& loop_;
  Listener listener_;
  std::vector<std::unique_ptr<Stream>> streams_;
};

}  // namespace weft::net::test
