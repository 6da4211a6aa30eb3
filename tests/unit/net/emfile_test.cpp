// Descriptor exhaustion: the listener sheds pending connections with its spare
// descriptor instead of spinning on EMFILE, and serves again once descriptors free up.
#include "unit/net/net_test_util.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <cstdlib>

using namespace weft;
using namespace weft::net;
using namespace weft::net::test;

namespace {

int highest_open_fd() {
  int highest = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 1024;
  while (dirent* e = ::readdir(dir)) highest = std::max(highest, std::atoi(e->d_name));
  ::closedir(dir);
  return highest;
}

// Lowers RLIMIT_NOFILE and fills every remaining descriptor; restores both on scope exit.
class ExhaustDescriptors {
 public:
  ExhaustDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &old_);
    rlimit low = old_;
    low.rlim_cur = static_cast<rlim_t>(highest_open_fd() + 8);
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    for (;;) {
      int fd = ::dup(0);
      if (fd < 0) break;
      fillers_.push_back(fd);
    }
    EXPECT_EQ(errno, EMFILE);
  }
  ~ExhaustDescriptors() { release(); }
  void release() {
    for (int fd : fillers_) ::close(fd);
    fillers_.clear();
    ::setrlimit(RLIMIT_NOFILE, &old_);
  }

 private:
  rlimit old_{};
  std::vector<int> fillers_;
};

bool peer_closed(int fd) {
  char c;
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ssize_t n = ::recv(fd, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

}  // namespace

TEST(NetEmfile, ShedsPendingConnectionsWithoutSpinning) {
  Loop loop;
  Listener listener(loop);
  std::vector<Socket> accepted;
  std::vector<std::error_code> errors;
  ASSERT_FALSE(listener.listen(SocketAddress::ipv4_loopback(0),
                               [&](Socket s) { accepted.push_back(std::move(s)); }));
  listener.on_error([&](std::error_code ec) { errors.push_back(ec); });

  // Warm-up: serve one connection first. Besides checking the normal path, this runs
  // every virtual call of the loop once while descriptors are available (UBSan's vptr
  // check opens a pipe the first time it meets a type and would fail under EMFILE).
  {
    int first = blocking_connect(listener.local_address());
    run_until(loop, [&] { return accepted.size() == 1; });
    ::close(first);
    accepted.clear();
    Timer warm(loop);
    warm.start([&] { loop.stop(); }, 1ms);
    loop.run();
  }

  constexpr int kPending = 5;
  std::vector<int> clients;
  for (int i = 0; i < kPending; ++i) clients.push_back(blocking_connect(listener.local_address()));

  ExhaustDescriptors exhaust;
  const std::uint64_t start = loop.iteration_count();
  run_until(loop, [&] { return listener.shed_count() == kPending; });
  EXPECT_EQ(listener.shed_count(), std::uint64_t{kPending});
  EXPECT_TRUE(accepted.empty());
  EXPECT_LT(loop.iteration_count() - start, 10u);

  // Nothing pending any more: the loop must sleep, not spin on a readable listener.
  const std::uint64_t idle_start = loop.iteration_count();
  {
    Timer stop(loop);
    stop.start([&] { loop.stop(); }, 200ms);
    loop.run();
  }
  EXPECT_LT(loop.iteration_count() - idle_start, 10u) << "the loop spun while out of fds";

  for (int fd : clients) {
    EXPECT_TRUE(peer_closed(fd));
    ::close(fd);
  }

  // Descriptors are back: the listener serves normally.
  exhaust.release();
  int late = blocking_connect(listener.local_address());
  ASSERT_GE(late, 0);
  run_until(loop, [&] { return accepted.size() == 1; });
  EXPECT_TRUE(errors.empty());
  ::close(late);
  accepted.clear();
  listener.close();
  finish(loop);
}
