// TCP streams and listeners over loopback: echo, batching, backpressure, half-close,
// reset, connect errors and timeouts.
#include "unit/net/net_test_util.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

using namespace weft;
using namespace weft::net;
using namespace weft::net::test;

namespace {

// Connects a client Stream, sends `message`, half-closes, and collects the echo.
void echo_round_trip(const SocketAddress& bind_addr) {
  Loop loop;
  EchoServer server(loop, bind_addr);
  ASSERT_NE(server.address().port(), 0);

  Stream client(loop);
  std::string received;
  bool connected = false, ended = false, connect_called_inside = false, in_connect = true;
  client.connect(server.address(), [&](std::error_code ec) {
    EXPECT_FALSE(ec) << ec.message();
    connect_called_inside = in_connect;
    connected = true;
    EXPECT_EQ(client.peer_address().to_string(), server.address().to_string());
  });
  in_connect = false;
  client.read_start([&](std::span<char> d) {
    received += to_string(d);
    return d.size();
  });
  client.on_end([&] { ended = true; });
  EXPECT_TRUE(client.write("hello, "));
  EXPECT_TRUE(client.write(std::string("weft")));
  client.shutdown(WriteCallback{});

  run_until(loop, [&] { return ended; });
  EXPECT_TRUE(connected);
  EXPECT_FALSE(connect_called_inside);
  EXPECT_EQ(received, "hello, weft");

  client.close();
  server.close_all();
  finish(loop);
}

}  // namespace

TEST(NetTcp, EchoRoundTripIpv4) { echo_round_trip(SocketAddress::ipv4_loopback(0)); }

TEST(NetTcp, EchoRoundTripIpv6) {
  int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (probe < 0) GTEST_SKIP() << "no IPv6";
  ::close(probe);
  echo_round_trip(SocketAddress::ipv6_loopback(0));
}

TEST(NetTcp, ListenerReportsBoundAddressAndRejectsBusyPort) {
  Loop loop;
  Listener a(loop);
  ASSERT_FALSE(a.listen(SocketAddress::ipv4_loopback(0), [](Socket) {}));
  EXPECT_TRUE(a.is_listening());
  EXPECT_NE(a.port(), 0);
  EXPECT_EQ(a.local_address().ip(), "127.0.0.1");
  Listener b(loop);
  std::error_code ec = b.listen(a.local_address(), [](Socket) {});
  EXPECT_EQ(ec, std::errc::address_in_use);
  EXPECT_FALSE(b.is_listening());

  // SO_REUSEPORT: two listeners on one port.
  Listener c(loop), d(loop);
  ListenOptions o;
  o.reuse_port = true;
  ASSERT_FALSE(c.listen(
      SocketAddress::ipv4_loopback(0), [](Socket) {}, o));
  EXPECT_FALSE(d.listen(
      c.local_address(), [](Socket) {}, o));
  a.close();
  b.close();
  c.close();
  d.close();
  finish(loop);
}

TEST(NetTcp, AcceptsManyConnectionsInOneBatch) {
  Loop loop;
  Listener listener(loop);
  std::vector<std::uint64_t> accepted_in_iteration;
  std::vector<Socket> sockets;
  ASSERT_FALSE(listener.listen(SocketAddress::ipv4_loopback(0), [&](Socket s) {
    accepted_in_iteration.push_back(loop.iteration_count());
    sockets.push_back(std::move(s));
  }));
  constexpr int kClients = 64;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    int fd = blocking_connect(listener.local_address());  // completes through the backlog
    ASSERT_GE(fd, 0);
    clients.push_back(fd);
  }
  run_until(loop, [&] { return accepted_in_iteration.size() == kClients; });
  ASSERT_EQ(accepted_in_iteration.size(), std::size_t{kClients});
  EXPECT_EQ(accepted_in_iteration.front(), accepted_in_iteration.back());  // one batch
  EXPECT_EQ(listener.accepted_count(), std::uint64_t{kClients});
  for (int fd : clients) ::close(fd);
  listener.close();
  finish(loop);
}

TEST(NetTcp, BackpressureReportsHighWaterMarkAndDrains) {
  Loop loop;
  std::unique_ptr<Stream> server;
  Listener listener(loop);
  ASSERT_FALSE(listener.listen(SocketAddress::ipv4_loopback(0), [&](Socket s) {
    server = std::make_unique<Stream>(loop, std::move(s));
  }));
  Stream client(loop);  // the slow reader: does not read until told to
  client.connect(listener.local_address(), [](std::error_code ec) { EXPECT_FALSE(ec); });
  run_until(loop, [&] { return server != nullptr; });

  const std::string chunk(16 * 1024, 'x');
  std::size_t written = 0;
  int drains = 0;
  server->on_drain([&] { ++drains; });
  EXPECT_EQ(server->high_water_mark(), std::size_t{64 * 1024});
  // Writes succeed until the kernel buffers are full and the queue passes the mark.
  while (server->write(chunk)) {
    written += chunk.size();
    ASSERT_LT(written, std::size_t{64} << 20) << "write() never reported the high-water mark";
  }
  written += chunk.size();
  EXPECT_TRUE(server->needs_drain());
  EXPECT_GT(server->queued_bytes(), server->high_water_mark());
  EXPECT_LT(server->queued_bytes(), server->high_water_mark() + chunk.size() + 1);

  loop.run(RunMode::nowait);
  EXPECT_EQ(drains, 0);  // nobody read yet

  std::size_t received = 0;
  client.read_start([&](std::span<char> d) {
    received += d.size();
    return d.size();
  });
  run_until(loop, [&] { return drains == 1 && received == written; });
  EXPECT_EQ(server->queued_bytes(), 0u);
  EXPECT_FALSE(server->needs_drain());

  client.close();
  server->close();
  listener.close();
  finish(loop);
}

TEST(NetTcp, HalfCloseKeepsTheOtherDirectionOpen) {
  Loop loop;
  std::unique_ptr<Stream> server;
  std::string server_got;
  bool server_end = false;
  Listener listener(loop);
  ASSERT_FALSE(listener.listen(SocketAddress::ipv4_loopback(0), [&](Socket s) {
    server = std::make_unique<Stream>(loop, std::move(s));
    server->read_start([&](std::span<char> d) {
      server_got += to_string(d);
      return d.size();
    });
    server->on_end([&] {
      server_end = true;
      // The client's write side is shut; ours still works.
      server->write("pong", [&](std::error_code ec) { EXPECT_FALSE(ec); });
      server->shutdown(WriteCallback{});
    });
  }));

  Stream client(loop);
  std::string client_got;
  bool client_end = false, shut = false;
  client.connect(listener.local_address(), [](std::error_code ec) { EXPECT_FALSE(ec); });
  client.read_start([&](std::span<char> d) {
    client_got += to_string(d);
    return d.size();
  });
  client.on_end([&] { client_end = true; });
  client.write("ping");
  client.shutdown([&](std::error_code ec) {
    EXPECT_FALSE(ec);
    shut = true;
  });
  run_until(loop, [&] { return client_end; });
  EXPECT_TRUE(shut);
  EXPECT_TRUE(server_end);
  EXPECT_EQ(server_got, "ping");
  EXPECT_EQ(client_got, "pong");

  // Writing after shutdown fails with EPIPE, delivered later.
  std::error_code late;
  bool inside = true;
  EXPECT_FALSE(client.write("more", [&](std::error_code ec) {
    late = ec ? ec : std::error_code{1, std::generic_category()};
    EXPECT_FALSE(inside);
  }));
  inside = false;
  run_until(loop, [&] { return bool(late); });
  EXPECT_EQ(late, std::errc::broken_pipe);

  client.close();
  server->close();
  listener.close();
  finish(loop);
}

TEST(NetTcp, ResetSendsRst) {
  Loop loop;
  std::unique_ptr<Stream> server;
  Listener listener(loop);
  ASSERT_FALSE(listener.listen(SocketAddress::ipv4_loopback(0), [&](Socket s) {
    server = std::make_unique<Stream>(loop, std::move(s));
    server->reset();
  }));
  Stream client(loop);
  std::error_code error;
  int errors = 0;
  bool ended = false;
  client.connect(listener.local_address(), [](std::error_code ec) { EXPECT_FALSE(ec); });
  client.read_start([](std::span<char> d) { return d.size(); });
  client.on_end([&] { ended = true; });
  client.on_error([&](std::error_code ec) {
    error = ec;
    ++errors;
  });
  run_until(loop, [&] { return errors > 0; });
  EXPECT_EQ(error, std::errc::connection_reset);
  EXPECT_FALSE(ended);
  // Delivered once: later writes fail with the same error, no second on_error.
  std::error_code write_error;
  EXPECT_FALSE(client.write("x", [&](std::error_code ec) { write_error = ec; }));
  run_until(loop, [&] { return bool(write_error); });
  EXPECT_EQ(write_error, std::errc::connection_reset);
  EXPECT_EQ(errors, 1);
  client.close();
  listener.close();
  finish(loop);
}

TEST(NetTcp, ConnectRefusedIsReportedLater) {
  Loop loop;
  // A port with nobody listening: bind one, read its number, close it.
  SocketAddress addr;
  {
    Listener probe(loop);
    ASSERT_FALSE(probe.listen(SocketAddress::ipv4_loopback(0), [](Socket) {}));
    addr = probe.local_address();
  }
  Stream client(loop);
  std::error_code result;
  bool called = false, inside = true;
  client.connect(addr, [&](std::error_code ec) {
    EXPECT_FALSE(inside);
    result = ec;
    called = true;
  });
  inside = false;
  EXPECT_FALSE(called);
  run_until(loop, [&] { return called; });
  EXPECT_EQ(result, std::errc::connection_refused);
  EXPECT_FALSE(client.is_connected());
  EXPECT_FALSE(client.write("x"));
  client.close();
  finish(loop);
}

namespace {

// A listener whose accept queue is full (backlog 0, one connection never accepted), so
// the kernel drops further SYNs: connects to it hang until their timeout.
struct FullBacklog {
  int listen_fd = -1;
  int filler = -1;
  SocketAddress addr;
  FullBacklog() {
    listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SocketAddress any = SocketAddress::ipv4_loopback(0);
    EXPECT_EQ(::bind(listen_fd, any.data(), any.size()), 0);
    EXPECT_EQ(::listen(listen_fd, 0), 0);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len);
    addr = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    filler = blocking_connect(addr);
  }
  ~FullBacklog() {
    ::close(filler);
    ::close(listen_fd);
  }
};

}  // namespace

TEST(NetTcp, ConnectTimesOut) {
  Loop loop;
  FullBacklog full;
  Stream client(loop);
  std::error_code result;
  bool called = false;
  // The deadline counts from the loop's time (cached at the start of its iteration, as in
  // libuv), which may be a little before a clock read here.
  const auto start = loop.now();
  client.connect(
      full.addr,
      [&](std::error_code ec) {
        result = ec;
        called = true;
      },
      100ms);
  run_until(loop, [&] { return called; });
  if (!result) GTEST_SKIP() << "this kernel accepted past a full backlog";
  EXPECT_EQ(result, std::errc::timed_out);
  EXPECT_GE(loop.now() - start, 100ms);
  EXPECT_FALSE(client.is_connected());
  client.close();
  finish(loop);
}

TEST(NetTcp, ConnectTimesOutOnManualClock) {
  ManualClock clock;  // auto-advances: the loop jumps to the deadline instead of waiting
  Loop loop(LoopOptions{nullptr, &clock});
  FullBacklog full;
  Stream client(loop);
  std::error_code result;
  client.connect(
      full.addr, [&](std::error_code ec) { result = ec; }, std::chrono::hours(1));
  loop.run();  // returns once the connect finished; the hour passes at once
  if (result != std::errc::timed_out) GTEST_SKIP() << "kernel accepted past a full backlog";
  client.close();
  finish(loop);
}

TEST(NetTcp, PartialConsumeKeepsUnconsumedBytes) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop);
  std::vector<std::string> lines;
  client.connect(server.address(), [](std::error_code) {});
  // Consumes whole lines only; a partial line stays in the buffer for the next delivery.
  client.read_start([&](std::span<char> d) {
    std::string_view view(d.data(), d.size());
    std::size_t used = 0;
    for (std::size_t nl; (nl = view.find('\n', used)) != std::string_view::npos; used = nl + 1) {
      lines.emplace_back(view.substr(used, nl - used));
    }
    return used;
  });
  client.write("alpha\nbe");
  run_until(loop, [&] { return lines.size() == 1 && client.buffered_bytes() == 2; });
  client.write("ta\ngamma\n");
  run_until(loop, [&] { return lines.size() == 3; });
  EXPECT_EQ(lines, (std::vector<std::string>{"alpha", "beta", "gamma"}));
  EXPECT_EQ(client.buffered_bytes(), 0u);
  client.close();
  server.close_all();
  finish(loop);
}

TEST(NetTcp, PauseAndResumeRedeliverBufferedBytes) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop);
  std::vector<std::string> lines;
  client.connect(server.address(), [](std::error_code) {});
  // Takes one line per delivery and pauses, like a server running one request at a time.
  client.read_start([&](std::span<char> d) -> std::size_t {
    std::string_view view(d.data(), d.size());
    std::size_t nl = view.find('\n');
    if (nl == std::string_view::npos) return 0;
    lines.emplace_back(view.substr(0, nl));
    client.read_stop();
    return nl + 1;
  });
  client.write("one\ntwo\nthree\n");
  run_until(loop, [&] { return lines.size() == 1; });
  loop.run(RunMode::nowait);
  EXPECT_EQ(lines.size(), 1u);  // paused
  while (lines.size() < 3) {
    std::size_t before = lines.size();
    EXPECT_FALSE(client.read_start());
    EXPECT_EQ(lines.size(), before);  // never delivered inside read_start()
    run_until(loop, [&] { return lines.size() == before + 1; });
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
  client.close();
  server.close_all();
  finish(loop);
}

TEST(NetTcp, WritesInDataCallbackAreGatheredAndCallbacksRunLater) {
  Loop loop;
  std::unique_ptr<Stream> server;
  std::vector<std::error_code> done;
  Listener listener(loop);
  ASSERT_FALSE(listener.listen(SocketAddress::ipv4_loopback(0), [&](Socket s) {
    server = std::make_unique<Stream>(loop, std::move(s));
    server->read_start([&](std::span<char> d) {
      // Three responses to one read: queued while the callback runs, one writev after.
      for (int i = 0; i < 3; ++i) {
        server->write("r", [&](std::error_code ec) { done.push_back(ec); });
        EXPECT_EQ(done.size(), 0u);
      }
      EXPECT_EQ(server->queued_bytes(), 3u);
      return d.size();
    });
  }));
  Stream client(loop);
  std::string got;
  client.connect(listener.local_address(), [](std::error_code) {});
  client.read_start([&](std::span<char> d) {
    got += to_string(d);
    return d.size();
  });
  client.write("q");
  run_until(loop, [&] { return got == "rrr" && done.size() == 3; });
  for (auto ec : done) EXPECT_FALSE(ec);
  client.close();
  server->close();
  listener.close();
  finish(loop);
}

TEST(NetTcp, KeepaliveAndNoDelayOptions) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop);
  bool connected = false;
  client.connect(server.address(), [&](std::error_code ec) { connected = !ec; });
  run_until(loop, [&] { return connected; });
  int v = 0;
  socklen_t len = sizeof v;
  ::getsockopt(client.fd(), IPPROTO_TCP, TCP_NODELAY, &v, &len);
  EXPECT_EQ(v, 1);  // on by default
  EXPECT_FALSE(client.set_keepalive(true, std::chrono::seconds(30)));
  ::getsockopt(client.fd(), SOL_SOCKET, SO_KEEPALIVE, &v, &len);
  EXPECT_EQ(v, 1);
  EXPECT_FALSE(client.set_no_delay(false));
  ::getsockopt(client.fd(), IPPROTO_TCP, TCP_NODELAY, &v, &len);
  EXPECT_EQ(v, 0);
  client.close();
  server.close_all();
  finish(loop);
}

TEST(NetTcp, ReadStartBeforeConnect) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop);
  std::string got;
  EXPECT_FALSE(client.read_start([&](std::span<char> d) {
    got += to_string(d);
    return d.size();
  }));
  EXPECT_FALSE(client.write("early"));  // not connected: fails (ENOTCONN, delivered later)
  client.connect(server.address(), [](std::error_code ec) { EXPECT_FALSE(ec); });
  client.write("late");
  run_until(loop, [&] { return got == "late"; });
  client.close();
  server.close_all();
  finish(loop);
}

TEST(NetTcp, ThrowingDataCallbackDoesNotWedgeTheStream) {
  Loop loop;
  std::vector<std::string> reported;
  loop.set_uncaught_exception_handler([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      reported.emplace_back(ex.what());
    }
  });
  std::unique_ptr<Stream> server;
  Listener listener(loop);
  bool thrown = false;
  ASSERT_FALSE(listener.listen(SocketAddress::ipv4_loopback(0), [&](Socket s) {
    server = std::make_unique<Stream>(loop, std::move(s));
    server->read_start([&](std::span<char> d) -> std::size_t {
      if (!thrown) {
        thrown = true;
        throw std::runtime_error("handler bug");
      }
      server->write(std::string_view(d.data(), d.size()));
      return d.size();
    });
  }));
  Stream client(loop);
  std::string got;
  client.connect(listener.local_address(), [](std::error_code) {});
  client.read_start([&](std::span<char> d) {
    got += to_string(d);
    return d.size();
  });
  client.write("a");
  run_until(loop, [&] { return thrown; });
  client.write("b");
  run_until(loop, [&] { return !got.empty(); });
  EXPECT_EQ(got, "ab");  // "a" was not consumed by the throwing call: delivered again
  EXPECT_EQ(reported, std::vector<std::string>{"handler bug"});
  client.close();
  server->close();
  listener.close();
  finish(loop);
}
