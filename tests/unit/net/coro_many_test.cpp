// 10,000 concurrent coroutine connections on one loop: one coroutine per connection
// (accept, hand accepting on, read a line, echo it, wait for the end). The client runs
// in a forked child (plain blocking syscalls) so each process needs ~10,000 descriptors.
#include "unit/net/net_test_util.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

using namespace weft;
using namespace weft::net;
using namespace std::chrono_literals;

namespace {

constexpr int kConnections = 10000;

// The child: opens every connection, sends one line on each, reads every echo while all
// are open, then closes them. Exit status 0 when all echoes were right.
[[noreturn]] void run_client(int port_fd) {
  std::uint16_t port = 0;
  if (::read(port_fd, &port, sizeof port) != sizeof port) ::_exit(10);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> fds;
  fds.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) ::_exit(11);
    char line[16];
    const int n = std::snprintf(line, sizeof line, "c%07d\n", i);
    if (::send(fd, line, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) ::_exit(12);
    fds.push_back(fd);
  }
  for (int i = 0; i < kConnections; ++i) {
    char want[16], got[16];
    const int n = std::snprintf(want, sizeof want, "c%07d\n", i);
    int have = 0;
    while (have < n) {
      const ssize_t r =
          ::read(fds[static_cast<std::size_t>(i)], got + have, static_cast<std::size_t>(n - have));
      if (r <= 0) ::_exit(13);
      have += static_cast<int>(r);
    }
    if (std::memcmp(want, got, static_cast<std::size_t>(n)) != 0) ::_exit(14);
  }
  for (int fd : fds) ::close(fd);
  ::_exit(0);
}

struct Counts {
  int open = 0, max_open = 0, served = 0, failed = 0;
};

// Not recursion: the coroutine spawns its successor (clang's -Winfinite-recursion cannot
// tell a coroutine from a function).
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Winfinite-recursion"
#endif
Task<void> connection(Loop& loop, Listener& listener, Counts& c) {
  try {
    Stream s = co_await listener.accept();
    spawn(loop, connection(loop, listener, c));
    ++c.open;
    c.max_open = std::max(c.max_open, c.open);
    try {
      std::string line;
      co_await with_timeout(30s, s.read_until(line, "\n", 64));
      co_await s.write_all(line);
      std::array<char, 16> rest;
      while (co_await with_timeout(30s, s.read_some(rest)) > 0) {
      }
      ++c.served;
    } catch (const std::system_error&) {
      ++c.failed;
    }
    --c.open;
    s.close();
    if (c.served + c.failed == kConnections) listener.close();
  } catch (const std::system_error&) {
    // the listener was closed: no more connections
  }
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

}  // namespace

TEST(CoroMany, TenThousandConcurrentConnectionsOnOneLoop) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  const rlim_t need = kConnections + 500;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << lim.rlim_max << " < " << need;
  }
  rlimit raised = lim;
  raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? need : std::max<rlim_t>(need, lim.rlim_cur);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0) << std::strerror(errno);

  int port_pipe[2];
  ASSERT_EQ(::pipe2(port_pipe, O_CLOEXEC), 0);
  std::fflush(nullptr);
  const pid_t child = ::fork();  // before the loop exists: the child only makes syscalls
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(port_pipe[1]);
    run_client(port_pipe[0]);
  }
  ::close(port_pipe[0]);

  Counts c;
  {
    Loop loop;
    Listener listener(loop);
    ASSERT_FALSE(listener.listen(SocketAddress::ipv4_loopback(0), {.backlog = 4096}));
    const std::uint16_t port = listener.port();
    ASSERT_EQ(::write(port_pipe[1], &port, sizeof port), static_cast<ssize_t>(sizeof port));
    ::close(port_pipe[1]);
    spawn(loop, connection(loop, listener, c));
    Timer guard(loop);
    guard.unref();
    guard.start(
        [&] {
          ADD_FAILURE() << "timed out: served " << c.served << ", open " << c.open;
          listener.close();
          loop.stop();
        },
        60s);
    loop.run();
    guard.close();
    loop.run();
    EXPECT_FALSE(loop.close()) << loop.describe_open_handles();
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "client status " << status;
  EXPECT_EQ(c.served, kConnections);
  EXPECT_EQ(c.failed, 0);
  EXPECT_EQ(c.max_open, kConnections);  // every connection was open at once
}
