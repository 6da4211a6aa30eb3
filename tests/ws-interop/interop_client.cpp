// weft's WebSocket client for the interop test: connects to argv[1] (with
// permessage-deflate when argv[4] is "deflate"), sends argv[2]
// messages of random sizes and kinds (seed argv[3]) one after another, checks each echo
// byte for byte, closes with 1000 and prints a summary. Exit status 0 only if all matched.
#include <weft/loop.hpp>
#include <weft/task.hpp>
#include <weft/ws/client.hpp>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace {

std::string random_message(std::mt19937& rng, bool text) {
  const unsigned p = rng() % 100;
  const std::size_t n = p < 90   ? rng() % 2000
                        : p < 99 ? 2000 + rng() % 68000
                                 : 65536 + rng() % 240000;
  std::string m;
  m.reserve(n + 4);
  static const char* const pieces[] = {
      "a", "Z", " ", "~", "\xc3\xa9", "\xce\xba", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
  while (m.size() < n) {
    if (text) {
      m += pieces[rng() % 8];
    } else {
      m.push_back(static_cast<char>(rng()));
    }
  }
  return m;
}

weft::Task<int> run(std::string url, int count, unsigned seed, bool deflate) {
  weft::ws::ConnectOptions opts;
  opts.compression.enabled = deflate;
  auto c = co_await weft::ws::connect(url, opts);
  std::mt19937 rng(seed);
  std::size_t bytes = 0;
  for (int i = 0; i < count; ++i) {
    const bool text = rng() % 2 == 0;
    const std::string m = random_message(rng, text);
    c->send(m, text ? weft::ws::Opcode::text : weft::ws::Opcode::binary);
    auto echo = co_await c->receive();
    if (!echo || echo->data != m || (echo->op == weft::ws::Opcode::text) != text) {
      std::fprintf(stderr, "interop_client: message %d (%zu bytes) %s\n", i, m.size(),
                   echo ? "differs" : "not echoed");
      co_return 1;
    }
    bytes += m.size();
  }
  c->close(1000, "done");
  auto end = co_await c->receive();
  std::printf("interop_client: %d messages, %zu bytes echoed; close %u %s\n", count, bytes,
              c->close_code(), end ? "(unexpected message)" : "");
  co_return (!end && c->close_code() == 1000) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: interop_client ws://host:port/path COUNT SEED [deflate]\n");
    return 2;
  }
  weft::Loop loop;
  try {
    return weft::run_until_complete(
        loop, run(argv[1], std::atoi(argv[2]), static_cast<unsigned>(std::atoi(argv[3])),
                  argc == 5 && std::string(argv[4]) == "deflate"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "interop_client: %s\n", e.what());
    return 1;
  }
}
