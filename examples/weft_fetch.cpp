// weft-fetch: a small curl with fetch()'s defaults, on weft's HTTP client.
//
//   weft-fetch URL [-X METHOD] [-H 'k: v']... [-d BODY] [-o FILE] [-v] [--timeout S]
//              [--cacert FILE] [-k] [--proxy URL]
//   weft-fetch --bench [-c CONNECTIONS] [-d SECONDS] URL
//
// Redirects are followed (up to 20) and gzip/deflate bodies decoded (Accept-Encoding:
// gzip, deflate is sent). The body goes to stdout (or FILE); -v prints the exchange to
// stderr ("> " request heads, "< " response heads). Exit status: 0 when a response came
// (whatever its status: 404 is an answer, not a failure), 1 with a one-line reason on
// stderr when the exchange failed (DNS, connect, TLS, timeout, malformed or truncated
// response), 2 for bad arguments. --timeout bounds the whole fetch (total timeout).
// https: the server's certificate is verified against the system CA store (--cacert FILE:
// that PEM bundle instead; -k: not verified at all); a verify failure exits 1 with
// OpenSSL's reason. HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured (http::Client);
// --proxy URL names the proxy instead ("http://user:password@host:port": Basic credentials
// sent to the proxy only).
//
// --bench: CONNECTIONS coroutines (default 50) fetch URL back to back for SECONDS
// (default 10) over a pool of as many keep-alive connections, then print one
// `key: value` per line: requests_per_s, p50_ms, p99_ms, errors, cpu_us_per_request
// (the process's utime + stime / requests).
#include <weft/http/client.hpp>
#include <weft/weft.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::http::ClientResponse;
using weft::http::FetchError;
using weft::http::FetchOptions;

struct Args {
  std::string url, output, cacert;
  FetchOptions fetch;
  bool verbose = false, insecure = false, bench = false;
  double timeout_s = 0;
  unsigned connections = 50;
  double seconds = 10;
  std::string data;
  bool has_data = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(
      stderr,
      "weft-fetch: %s\nusage: weft-fetch URL [-X METHOD] [-H 'k: v'] [-d BODY] [-o FILE] [-v] "
      "[--timeout S] [--cacert FILE] [-k] [--proxy URL]\n       weft-fetch --bench [-c "
      "CONNECTIONS] [-d SECONDS] URL\n",
      why.c_str());
  std::exit(2);
}

double number(const std::string& flag, const char* v) {
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || d < 0) usage("bad value for " + flag + ": " + v);
  return d;
}

void add_header(Args& a, const std::string& line) {
  const std::size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0) usage("bad header (want 'Name: value'): " + line);
  std::string value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
  a.fetch.headers.emplace_back(line.substr(0, colon), value);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "-X")
      a.fetch.method = value();
    else if (flag == "-H")
      add_header(a, value());
    else if (flag == "-d") {
      a.data = value();
      a.has_data = true;
    } else if (flag == "-o")
      a.output = value();
    else if (flag == "-v")
      a.verbose = true;
    else if (flag == "--timeout")
      a.timeout_s = number(flag, value());
    else if (flag == "--cacert")
      a.cacert = value();
    else if (flag == "-k")
      a.insecure = true;
    else if (flag == "--proxy")
      a.fetch.proxy = value();
    else if (flag == "--bench")
      a.bench = true;
    else if (flag == "-c")
      a.connections = static_cast<unsigned>(number(flag, value()));
    else if (!flag.empty() && flag[0] == '-')
      usage("unknown flag " + flag);
    else if (a.url.empty())
      a.url = flag;
    else
      usage("more than one URL");
  }
  if (a.url.empty()) usage("no URL");
  if (a.bench) {
    if (a.has_data) a.seconds = number("-d", a.data.c_str());
    if (a.connections == 0) usage("-c must be at least 1");
  } else if (a.has_data) {
    a.fetch.body = a.data;
    if (a.fetch.method == "GET") a.fetch.method = "POST";  // as curl -d
  }
  if (a.timeout_s > 0)
    a.fetch.timeouts.total =
        std::chrono::duration_cast<weft::Duration>(std::chrono::duration<double>(a.timeout_s));
  return a;
}

void print_head(bool outgoing, std::string_view head) {
  std::size_t at = 0;
  while (at < head.size()) {
    std::size_t end = head.find("\r\n", at);
    if (end == std::string_view::npos) end = head.size();
    if (end > at)
      std::fprintf(stderr, "%c %.*s\n", outgoing ? '>' : '<', static_cast<int>(end - at),
                   head.data() + at);
    at = end + 2;
  }
  std::fprintf(stderr, "%c\n", outgoing ? '>' : '<');
}

weft::http::ClientOptions client_options(const Args& a) {
  weft::http::ClientOptions co;
  co.ca_file = a.cacert;
  co.verify_tls = !a.insecure;
  return co;
}

weft::Task<int> fetch_once(Args& a) {
  weft::http::Client client(*weft::Loop::current(), client_options(a));
  if (a.verbose) a.fetch.trace = print_head;
  std::ofstream file;
  if (!a.output.empty()) {
    file.open(a.output, std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "weft-fetch: cannot write %s\n", a.output.c_str());
      co_return 1;
    }
  }
  try {
    ClientResponse res = co_await client.fetch(a.url, a.fetch);
    for (;;) {
      std::string piece = co_await res.body_chunk();
      if (piece.empty()) break;
      if (file.is_open())
        file.write(piece.data(), static_cast<std::streamsize>(piece.size()));
      else
        std::fwrite(piece.data(), 1, piece.size(), stdout);
    }
  } catch (const FetchError& e) {
    std::fprintf(stderr, "weft-fetch: %s\n", e.what());
    co_return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-fetch: %s\n", e.what());
    co_return 1;
  }
  std::fflush(stdout);
  co_return 0;
}

struct BenchState {
  std::vector<double> latencies_ms;
  std::uint64_t errors = 0;
  std::string first_error;
  weft::TimePoint until{};
};

weft::Task<void> bench_worker(weft::http::Client& client, const Args& a, BenchState& st) {
  weft::Loop& loop = client.loop();
  while (loop.now() < st.until) {
    const auto start = std::chrono::steady_clock::now();
    bool failed = false;
    try {
      ClientResponse res = co_await client.fetch(a.url, a.fetch);
      std::string body = co_await res.text();
      const std::chrono::duration<double, std::milli> took =
          std::chrono::steady_clock::now() - start;
      st.latencies_ms.push_back(took.count());
    } catch (const std::exception& e) {
      if (st.errors++ == 0) st.first_error = e.what();
      failed = true;
    }
    if (failed) co_await weft::sleep(std::chrono::milliseconds(1));  // no spinning on refusals
  }
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int bench(weft::Loop& loop, const Args& a) {
  weft::http::ClientOptions co = client_options(a);
  co.max_connections_per_origin = a.connections;
  co.max_idle_per_origin = a.connections;
  weft::http::Client client(loop, co);
  BenchState st;
  st.until = loop.now() +
             std::chrono::duration_cast<weft::Duration>(std::chrono::duration<double>(a.seconds));
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (unsigned i = 0; i < a.connections; ++i) weft::spawn(loop, bench_worker(client, a, st));
  loop.run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  std::sort(st.latencies_ms.begin(), st.latencies_ms.end());
  const auto pct = [&](double p) {
    if (st.latencies_ms.empty()) return 0.0;
    return st.latencies_ms[std::min(
        st.latencies_ms.size() - 1,
        static_cast<std::size_t>(p * static_cast<double>(st.latencies_ms.size())))];
  };
  const double n = static_cast<double>(st.latencies_ms.size());
  std::printf(
      "requests_per_s: %.0f\np50_ms: %.3f\np99_ms: %.3f\nerrors: %llu\ncpu_us_per_request: %.2f\n",
      n / wall, pct(0.50), pct(0.99), static_cast<unsigned long long>(st.errors),
      n > 0 ? cpu * 1e6 / n : 0.0);
  if (st.errors > 0) std::fprintf(stderr, "weft-fetch: first error: %s\n", st.first_error.c_str());
  return n > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse_args(argc, argv);
  weft::Loop loop;
  int rc = 0;
  if (a.bench) {
    rc = bench(loop, a);
  } else {
    rc = weft::run_until_complete(loop, fetch_once(a));
  }
  loop.run();
  return rc;
}
