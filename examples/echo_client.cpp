// echo_client: drives an echo server with C connections, each sending M messages of S
// bytes one at a time (send, then read the echo back: a round trip per message), in
// weft's coroutine style. Prints messages/s and the client's CPU time per message.
//
//   echo_client --port N [--host 127.0.0.1] --connections C --messages M --size S
//               [--timeout SECONDS]
#include <weft/net/tcp.hpp>
#include <weft/weft.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Args {
  std::uint16_t port = 9000;
  std::string host = "127.0.0.1";
  unsigned connections = 50;
  unsigned long messages = 10000;
  std::size_t size = 64;
  long timeout_seconds = 10;
};

bool parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--port")
      a.port = static_cast<std::uint16_t>(std::atoi(v));
    else if (flag == "--host")
      a.host = v;
    else if (flag == "--connections")
      a.connections = static_cast<unsigned>(std::atoi(v));
    else if (flag == "--messages")
      a.messages = std::strtoul(v, nullptr, 10);
    else if (flag == "--size")
      a.size = std::strtoul(v, nullptr, 10);
    else if (flag == "--timeout")
      a.timeout_seconds = std::atol(v);
    else
      return false;
  }
  return argc % 2 == 1 && a.connections > 0 && a.size > 0;
}

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

// One connection: M round trips, each read under the timeout.
weft::Task<void> run_connection(weft::Loop& loop, const Args& a, unsigned long& done) {
  // Options in a named variable: GCC 12 destroys a braced temporary inside a co_await
  // expression twice (harmless here, fatal once it holds a CancelToken).
  const weft::net::ConnectOptions opts{.timeout = std::chrono::seconds(5)};
  weft::net::Stream s = co_await weft::net::connect(loop, a.host, a.port, opts);
  const std::string message(a.size, 'm');
  std::string reply(a.size, '\0');
  const auto timeout = std::chrono::seconds(a.timeout_seconds);
  for (unsigned long i = 0; i < a.messages; ++i) {
    co_await s.write_all(message);
    co_await weft::with_timeout(timeout, s.read_exactly(reply));
    ++done;
  }
  co_await s.shutdown();
  s.close();
}

weft::Task<void> run_all(weft::Loop& loop, const Args& a, unsigned long& done) {
  // when_all takes a fixed set; C connections are spawned and joined through a counter
  // that cancels a token the main task waits on.
  unsigned remaining = a.connections;
  std::exception_ptr first_error;
  weft::CancelSource all_done;
  for (unsigned c = 0; c < a.connections; ++c) {
    weft::spawn(loop, [&]() -> weft::Task<void> {
      try {
        co_await run_connection(loop, a, done);
      } catch (...) {
        if (!first_error) first_error = std::current_exception();
      }
      if (--remaining == 0) all_done.cancel();
    });
  }
  try {
    co_await weft::sleep(std::chrono::hours(24 * 365), all_done.token());
  } catch (const std::system_error&) {
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: echo_client --port N [--host H] --connections C --messages M --size S "
                 "[--timeout SECONDS]\n");
    return 2;
  }
  weft::Loop loop;
  unsigned long done = 0;
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    weft::run_until_complete(loop, run_all(loop, args, done));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_client: %s\n", e.what());
    return 1;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  std::printf("%lu messages of %zu bytes over %u connections in %.3f s\n", done, args.size,
              args.connections, wall);
  std::printf("messages/s: %.0f\n", static_cast<double>(done) / wall);
  std::printf("client CPU us/message: %.3f\n", cpu * 1e6 / static_cast<double>(done));
  return 0;
}
