// NetSharedRead.*: streams read into the loop's shared buffer and hold storage only for
// bytes their data callback left unconsumed: none when idle, about the pending size for
// a partial message, growing in place for a large one, and never the bytes of another
// stream.
#include "unit/net/net_test_util.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

using namespace weft;
using namespace weft::net;
using namespace weft::net::test;

namespace {

TEST(NetSharedRead, IdleStreamHoldsNoReadBuffer) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop);
  std::string got;
  client.connect(server.address(), [](std::error_code) {});
  client.read_start([&](std::span<char> d) {
    got.append(d.data(), d.size());
    return d.size();
  });
  client.write("a whole message\n");
  run_until(loop, [&] { return got.size() == 16; });
  EXPECT_EQ(got, "a whole message\n");
  EXPECT_EQ(client.buffered_bytes(), 0u);
  EXPECT_EQ(client.read_buffer_capacity(), 0u);  // the read went to the loop's buffer
  ASSERT_EQ(server.streams().size(), 1u);
  EXPECT_EQ(server.streams()[0]->read_buffer_capacity(), 0u);
  client.close();
  server.close_all();
  finish(loop);
}

TEST(NetSharedRead, PartialMessageKeepsStorageSizedToIt) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop);
  std::vector<std::string> lines;
  std::vector<std::size_t> delivered;
  client.connect(server.address(), [](std::error_code) {});
  client.read_start([&](std::span<char> d) {
    delivered.push_back(d.size());
    std::string_view view(d.data(), d.size());
    std::size_t used = 0;
    for (std::size_t nl; (nl = view.find('\n', used)) != std::string_view::npos; used = nl + 1) {
      lines.emplace_back(view.substr(used, nl - used));
    }
    return used;
  });
  client.write("one\ntwo\nthr");
  run_until(loop, [&] { return lines.size() == 2 && client.buffered_bytes() == 3; });
  EXPECT_GT(client.read_buffer_capacity(), 0u);
  EXPECT_LE(client.read_buffer_capacity(), 64u);  // sized to the 3 pending bytes, not a buffer
  client.write("ee\n");
  run_until(loop, [&] { return lines.size() == 3; });
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(delivered.back(), 6u);  // "thr" again, in front of "ee\n"
  EXPECT_EQ(client.read_buffer_capacity(), 0u);
  client.close();
  server.close_all();
  finish(loop);
}

// A message much larger than one read is gathered across many reads (in place), then
// delivered in one contiguous span; the storage goes away once it is consumed.
TEST(NetSharedRead, LargePartialMessageGrowsThenIsFreed) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop, StreamOptions{.read_buffer_size = 512, .max_read_buffer = 1 << 20});
  std::string message;
  for (int i = 0; message.size() < 200 * 1024; ++i) message += std::to_string(i) + ',';
  message += '\n';
  std::string got;
  std::size_t deliveries = 0;
  client.connect(server.address(), [](std::error_code) {});
  client.read_start([&](std::span<char> d) {
    ++deliveries;
    if (d.empty() || d.back() != '\n') return std::size_t{0};  // wait for the whole line
    got.assign(d.data(), d.size());
    return d.size();
  });
  client.write(message);
  run_until(loop, [&] { return !got.empty(); });
  EXPECT_EQ(got, message);
  EXPECT_GT(deliveries, 10u);
  EXPECT_EQ(client.read_buffer_capacity(), 0u);
  client.close();
  server.close_all();
  finish(loop);
}

// With reads as large as the shared buffer, a pending tail plus a read would not fit in
// it: such reads go to the stream's own storage.
TEST(NetSharedRead, LargeReadsWithAPendingTail) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop, StreamOptions{.read_buffer_size = 1 << 20, .max_read_buffer = 4 << 20});
  std::string message(300 * 1024, 'x');
  for (std::size_t i = 0; i < message.size(); i += 1000)
    message[i] = static_cast<char>('a' + i % 26);
  message += '\n';
  std::string got;
  client.connect(server.address(), [](std::error_code) {});
  client.read_start([&](std::span<char> d) {
    // Consumes all but the last 40,000 bytes until the line is complete.
    if (d.empty() || d.back() != '\n') {
      const std::size_t keep = std::min<std::size_t>(d.size(), 40000);
      got.append(d.data(), d.size() - keep);
      return d.size() - keep;
    }
    got.append(d.data(), d.size());
    return d.size();
  });
  client.write(message);
  run_until(loop, [&] { return got.size() == message.size(); });
  EXPECT_EQ(got, message);
  EXPECT_EQ(client.read_buffer_capacity(), 0u);
  client.close();
  server.close_all();
  finish(loop);
}

// Two streams with partial messages take turns on the shared buffer: each one's pending
// bytes stay its own.
TEST(NetSharedRead, PendingBytesStayWithTheirStream) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream a(loop), b(loop);
  std::vector<std::string> lines_a, lines_b;
  auto line_reader = [](std::vector<std::string>& lines) {
    return [&lines](std::span<char> d) {
      std::string_view view(d.data(), d.size());
      std::size_t used = 0;
      for (std::size_t nl; (nl = view.find('\n', used)) != std::string_view::npos; used = nl + 1) {
        lines.emplace_back(view.substr(used, nl - used));
      }
      return used;
    };
  };
  a.connect(server.address(), [](std::error_code) {});
  b.connect(server.address(), [](std::error_code) {});
  a.read_start(line_reader(lines_a));
  b.read_start(line_reader(lines_b));
  a.write("alpha-");
  run_until(loop, [&] { return a.buffered_bytes() == 6; });
  b.write("bravo-");
  run_until(loop, [&] { return b.buffered_bytes() == 6; });
  b.write("two\nbr");
  run_until(loop, [&] { return lines_b.size() == 1; });
  a.write("one\n");
  run_until(loop, [&] { return lines_a.size() == 1; });
  b.write("avo\n");
  run_until(loop, [&] { return lines_b.size() == 2; });
  EXPECT_EQ(lines_a, (std::vector<std::string>{"alpha-one"}));
  EXPECT_EQ(lines_b, (std::vector<std::string>{"bravo-two", "bravo"}));
  EXPECT_EQ(a.read_buffer_capacity(), 0u);
  EXPECT_EQ(b.read_buffer_capacity(), 0u);
  a.close();
  b.close();
  server.close_all();
  finish(loop);
}

// Paused with bytes unconsumed: they are kept (and only they), and read_start()
// re-delivers them, followed by what arrived meanwhile.
TEST(NetSharedRead, PausedStreamKeepsItsUnconsumedBytes) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop);
  std::vector<std::string> seen;
  client.connect(server.address(), [](std::error_code) {});
  client.read_start([&](std::span<char> d) {
    seen.emplace_back(d.data(), d.size());
    if (seen.size() == 1) {
      client.read_stop();
      return std::size_t{4};  // "head", the rest waits
    }
    return d.size();
  });
  client.write("head+tail");
  run_until(loop, [&] { return seen.size() == 1 && client.buffered_bytes() == 5; });
  EXPECT_LE(client.read_buffer_capacity(), 64u);
  client.write("+more");
  loop.run(RunMode::nowait);
  ASSERT_FALSE(client.read_start());
  run_until(loop, [&] {
    std::string all;
    for (std::size_t i = 1; i < seen.size(); ++i) all += seen[i];
    return all == "+tail+more";
  });
  EXPECT_EQ(seen[0], "head+tail");
  EXPECT_EQ(seen[1].substr(0, 5), "+tail");
  EXPECT_EQ(client.read_buffer_capacity(), 0u);
  client.close();
  server.close_all();
  finish(loop);
}

// A callback that throws: the loop reports it, and the bytes are delivered again.
TEST(NetSharedRead, BytesSurviveAThrowingCallback) {
  Loop loop;
  int reported = 0;
  loop.set_uncaught_exception_handler([&](std::exception_ptr) { ++reported; });
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop);
  std::string got;
  bool thrown = false;
  client.connect(server.address(), [](std::error_code) {});
  client.read_start([&](std::span<char> d) -> std::size_t {
    if (!thrown) {
      thrown = true;
      throw std::runtime_error("first delivery");
    }
    got.append(d.data(), d.size());
    return d.size();
  });
  client.write("kept\n");
  run_until(loop, [&] { return reported == 1 && client.buffered_bytes() == 5; });
  ASSERT_FALSE(client.read_start());
  run_until(loop, [&] { return got == "kept\n"; });
  EXPECT_EQ(client.read_buffer_capacity(), 0u);
  client.close();
  server.close_all();
  finish(loop);
}

}  // namespace
