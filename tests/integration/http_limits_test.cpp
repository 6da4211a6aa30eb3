// Connection limits: max_connections sheds the extra connection at once; 10,000
// concurrent keep-alive connections each get two responses.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

TEST(HttpLimits, MaxConnectionsShedsTheSixth) {
  Loop loop;
  http::ServerStats stats;
  {
    http::ServerOptions o;
    o.max_connections = 5;
    http::Server server(loop, o);
    server.get("/plaintext", [](Request&) { return Response::text("ok"); });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      std::vector<RawClient> five;
      for (int i = 0; i < 5; ++i) {
        five.push_back(RawClient::tcp(port));
        ASSERT_TRUE(five.back().ok());
        ASSERT_TRUE(five.back().send(get_request("/plaintext")));
        auto r = five.back().read_response();
        ASSERT_TRUE(r) << i << ": " << five.back().error();
        EXPECT_EQ(r->status, 200);
      }
      RawClient sixth = RawClient::tcp(port);
      ASSERT_TRUE(sixth.ok());  // the kernel accepts; the server answers 503 and closes
      const auto t0 = Clock::now();
      (void)sixth.send(get_request("/plaintext"));
      auto over = sixth.read_response(false, 1000ms);
      ASSERT_TRUE(over) << sixth.error();
      EXPECT_EQ(over->status, 503);
      EXPECT_EQ(over->header("Retry-After").value_or(""), "1");
      EXPECT_NE(sixth.wait_closed(1000ms), CloseKind::timeout);
      EXPECT_LT(Clock::now() - t0, 1000ms);
      for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(five[static_cast<std::size_t>(i)].send(get_request("/plaintext")));
        auto r = five[static_cast<std::size_t>(i)].read_response();
        ASSERT_TRUE(r) << i << ": " << five[static_cast<std::size_t>(i)].error();
        EXPECT_EQ(r->status, 200);
      }
      // a slot frees up when one of the five leaves
      five[0].close();
      bool served = false;
      for (int attempt = 0; attempt < 100 && !served; ++attempt) {
        RawClient again = RawClient::tcp(port);
        if (again.ok() && again.send(get_request("/plaintext"))) {
          auto r = again.read_response(false, 500ms);
          served = r && r->status == 200;
        }
        if (!served) std::this_thread::sleep_for(20ms);
      }
      EXPECT_TRUE(served) << "no connection accepted after one of the five closed";
    });
    stats = server.stats();
  }
  weft::testing::expect_clean_close(loop);
  EXPECT_GE(stats.connections_rejected, 1u);
  EXPECT_EQ(stats.open_connections, 0u);
}

// ---- 10,000 keep-alive connections ---------------------------------------------------------

struct ManyResult {
  int connected = 0;
  int round1_ok = 0;
  int round2_ok = 0;
  char error[256] = {};
};

// A client of n connections driven by epoll; only syscalls (it may run in a forked child).
// Round 1: every connection sends "GET /ka/<i>" and reads its answer; round 2 starts once
// all n answers are in (so all n connections are open at once) and does the same again.
ManyResult many_client(std::uint16_t port, int n, Ms limit) {
  ManyResult res;
  auto fail = [&res](const char* what, int i, int err) {
    if (!res.error[0]) {
      std::snprintf(res.error, sizeof res.error, "%s (connection %d): %s", what, i,
                    err ? std::strerror(err) : "-");
    }
  };
  const auto deadline = Clock::now() + limit;
  struct Conn {
    int fd = -1;
    int state = 0;  // 0 connecting, 1 reading round 1, 2 idle, 3 reading round 2, 4 done
    std::string in;
  };
  std::vector<Conn> conns(static_cast<std::size_t>(n));
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto request = [](int i) {
    return "GET /ka/" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
  };
  auto send_request = [&](int i) -> bool {
    const std::string r = request(i);
    ssize_t w = ::send(conns[static_cast<std::size_t>(i)].fd, r.data(), r.size(), MSG_NOSIGNAL);
    if (w != static_cast<ssize_t>(r.size())) {
      fail("send", i, w < 0 ? errno : 0);
      return false;
    }
    return true;
  };
  // returns 1 complete and valid, 0 incomplete, -1 bad
  auto check_response = [&](int i) -> int {
    std::string& in = conns[static_cast<std::size_t>(i)].in;
    auto end = in.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    auto cl = in.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return -1;
    std::size_t len = 0;
    std::from_chars(in.data() + cl + 16, in.data() + end, len);
    if (in.size() < end + 4 + len) return 0;
    const std::string want = "k" + std::to_string(i);
    const bool ok = in.compare(0, 15, "HTTP/1.1 200 OK") == 0 && in.size() == end + 4 + len &&
                    in.compare(end + 4, len, want) == 0 &&
                    in.find("Connection: close") == std::string::npos;
    in.clear();
    return ok ? 1 : -1;
  };
  int next = 0, connecting = 0;
  constexpr int kMaxConnecting = 200;  // stay well under the listen backlog (511)
  std::vector<epoll_event> events(1024);
  bool round2_started = false;
  while (!res.error[0] && res.round2_ok < n) {
    if (Clock::now() > deadline) {
      fail("timed out", res.round1_ok < n ? res.round1_ok : res.round2_ok, 0);
      break;
    }
    while (next < n && connecting < kMaxConnecting) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        fail("socket", next, errno);
        break;
      }
      conns[static_cast<std::size_t>(next)].fd = fd;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
        fail("connect", next, errno);
        break;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u32 = static_cast<std::uint32_t>(next);
      ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      ++connecting;
      ++next;
    }
    if (!round2_started && res.round1_ok == n) {
      round2_started = true;
      for (int i = 0; i < n && !res.error[0]; ++i) {
        conns[static_cast<std::size_t>(i)].state = 3;
        send_request(i);
      }
    }
    int k = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < k && !res.error[0]; ++e) {
      const int i = static_cast<int>(events[static_cast<std::size_t>(e)].data.u32);
      Conn& c = conns[static_cast<std::size_t>(i)];
      if (c.state == 0) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          fail("connect completion", i, err);
          break;
        }
        --connecting;
        ++res.connected;
        c.state = 1;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = static_cast<std::uint32_t>(i);
        ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        send_request(i);
        continue;
      }
      char buf[4096];
      ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        fail(r == 0 ? "closed by the server" : "recv", i, r < 0 ? errno : 0);
        break;
      }
      if (c.state != 1 && c.state != 3) {
        fail("unexpected bytes", i, 0);
        break;
      }
      c.in.append(buf, static_cast<std::size_t>(r));
      int ok = check_response(i);
      if (ok < 0) {
        fail("bad response", i, 0);
      } else if (ok > 0) {
        if (c.state == 1) {
          c.state = 2;
          ++res.round1_ok;
        } else {
          c.state = 4;
          ++res.round2_ok;
        }
      }
    }
  }
  // Close with a RST (SO_LINGER 0): 10,000 client-side TIME_WAIT entries per run would
  // crowd the ephemeral port range for repeated or concurrent runs on one machine.
  linger no_linger{1, 0};
  for (auto& c : conns) {
    if (c.fd < 0) continue;
    ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
    ::close(c.fd);
  }
  ::close(ep);
  return res;
}

TEST(HttpLimits, TenThousandConcurrentKeepAliveConnections) {
  constexpr int kConnections = 10000;
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  const rlim_t in_process_need = 25000;
  const rlim_t per_process_need = kConnections + 500;
  bool forked_client = false;
  if (original.rlim_max == RLIM_INFINITY || original.rlim_max >= in_process_need) {
    rlimit raised = original;
    raised.rlim_cur = in_process_need;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0) << std::strerror(errno);
  } else if (original.rlim_max >= per_process_need) {
    // Client and server in one process need 2 × 10,000 descriptors, more than the hard
    // limit allows: run the client in a child process (each side then needs ~10,000).
    forked_client = true;
    rlimit raised = original;
    raised.rlim_cur = original.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0) << std::strerror(errno);
    std::printf(
        "[ info ] RLIMIT_NOFILE hard limit %lu < %lu: the client runs in a child "
        "process\n",
        static_cast<unsigned long>(original.rlim_max), static_cast<unsigned long>(in_process_need));
  } else {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << original.rlim_max << " is below "
                 << per_process_need << ": cannot hold " << kConnections << " connections";
  }

  int port_pipe[2] = {-1, -1}, result_pipe[2] = {-1, -1};
  pid_t child = -1;
  if (forked_client) {
    ASSERT_EQ(::pipe2(port_pipe, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(result_pipe, O_CLOEXEC), 0);
    std::fflush(nullptr);
    child = ::fork();  // before the loop exists: the child only makes syscalls, then _exit
    ASSERT_GE(child, 0) << std::strerror(errno);
    if (child == 0) {
      ::close(port_pipe[1]);
      ::close(result_pipe[0]);
      std::uint16_t port = 0;
      ManyResult res;
      if (::read(port_pipe[0], &port, sizeof port) == sizeof port) {
        res = many_client(port, kConnections, 40000ms);
      } else {
        std::snprintf(res.error, sizeof res.error, "no port from the parent");
      }
      (void)!::write(result_pipe[1], &res, sizeof res);
      ::_exit(0);
    }
    ::close(port_pipe[0]);
    ::close(result_pipe[1]);
  }

  ManyResult res;
  std::size_t max_open = 0;  // loop thread only
  std::uint64_t accepted = 0;
  Loop loop;
  {
    http::ServerOptions o;
    o.keep_alive_timeout = std::chrono::seconds(60);  // round 2 comes after all of round 1
    http::Server server(loop, o);
    server.get("/ka/:i", [&server, &max_open](Request& req) {
      max_open = std::max(max_open, server.stats().open_connections);
      return Response::text("k" + std::string(req.param("i")));
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    const auto t0 = Clock::now();
    run_with_client(
        loop, server,
        [&] {
          if (!forked_client) {
            res = many_client(port, kConnections, 40000ms);
            return;
          }
          EXPECT_EQ(::write(port_pipe[1], &port, sizeof port), static_cast<ssize_t>(sizeof port));
          std::size_t got = 0;
          while (got < sizeof res) {
            ssize_t r =
                ::read(result_pipe[0], reinterpret_cast<char*>(&res) + got, sizeof res - got);
            if (r <= 0) break;
            got += static_cast<std::size_t>(r);
          }
          EXPECT_EQ(got, sizeof res) << "the client process died";
          int status = 0;
          ::waitpid(child, &status, 0);
        },
        RunOptions{.limit = 60000ms});
    std::printf("[ info ] %d connections, 2 requests each: %lld ms\n", kConnections,
                static_cast<long long>(std::chrono::duration_cast<Ms>(Clock::now() - t0).count()));
    accepted = server.stats().connections_accepted;
  }
  weft::testing::expect_clean_close(loop);
  if (forked_client) {
    ::close(port_pipe[1]);
    ::close(result_pipe[0]);
  }
  ::setrlimit(RLIMIT_NOFILE, &original);
  EXPECT_EQ(res.error[0], '\0') << res.error;
  EXPECT_EQ(res.connected, kConnections);
  EXPECT_EQ(res.round1_ok, kConnections);
  EXPECT_EQ(res.round2_ok, kConnections);
  EXPECT_EQ(accepted, static_cast<std::uint64_t>(kConnections));
  EXPECT_EQ(max_open, static_cast<std::size_t>(kConnections)) << "not all open at once";
}

}  // namespace
}  // namespace weft::itest
