#include "demo.hpp"

#include "rest.hpp"

#include <weft/async.hpp>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <memory>

namespace weft::serve {

// Spins for `ms` milliseconds. Not inlined and not static, so a stall's stack names it.
[[gnu::noinline]] long weft_demo_burn_cpu(long ms);
[[gnu::noinline]] long weft_demo_burn_cpu(long ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  volatile unsigned long sink = 0;
  while (std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < 1000; ++i) sink = sink + static_cast<unsigned long>(i);
  }
  return ms;
}

namespace {

// The whole of a small file, or "" if it cannot be read (start-up only, before listen).
std::string read_small_file(const std::string& path) {
  std::string out;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[8192];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

// ?ms=N in 1..5000, or nullopt.
std::optional<long> burn_ms(const http::Request& req) {
  std::string_view v = req.raw_query("ms");
  long ms = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
  if (ec != std::errc() || end != v.data() + v.size() || ms < 1 || ms > 5000) return std::nullopt;
  return ms;
}

http::Response burned(long ms, const char* where) {
  return http::Response::json("{\"burned_ms\":" + std::to_string(ms) + ",\"where\":\"" + where +
                              "\"}");
}

}  // namespace

std::string bundled_dashboard_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "dashboard";
  return (exe.parent_path().parent_path() / "share" / "weft-serve" / "dashboard").string();
}

namespace {

// GET (and HEAD) on a demo route: 405. A GET is what an <img> on any page sends; the demo
// blocks the loop, so only a POST runs it (which observe::mount's Origin check guards).
http::Response post_only(http::Request&) {
  http::Response res = error_response(405, "the demo routes answer POST only");
  res.header("Allow", "POST");
  return res;
}

}  // namespace

void mount_demo(http::Server& server) {
  server.post("/_weft/demo/block", [](http::Request& req) {
    auto ms = burn_ms(req);
    if (!ms) return error_response(400, "ms must be an integer from 1 to 5000");
    return burned(weft_demo_burn_cpu(*ms), "loop");
  });
  server.post("/_weft/demo/offload", [](http::Request& req) -> Task<http::Response> {
    auto ms = burn_ms(req);
    if (!ms) co_return error_response(400, "ms must be an integer from 1 to 5000");
    const long n = *ms;
    long done = co_await offload(req.loop(), [n] { return weft_demo_burn_cpu(n); });
    co_return burned(done, "cpu pool");
  });
  server.get("/_weft/demo/block", post_only);
  server.get("/_weft/demo/offload", post_only);
}

// The dashboard's three files are read once, at start-up (before listen: nothing is
// served yet), and answered from memory. The page is at /_weft/ (and /_weft: the router
// ignores a trailing slash, so the page names its files by absolute paths).
void mount_dashboard(http::Server& server, const std::string& dashboard_dir) {
  static constexpr std::pair<const char*, const char*> files[] = {
      {"index.html", "text/html; charset=utf-8"},
      {"dashboard.js", "text/javascript; charset=utf-8"},
      {"dashboard.css", "text/css; charset=utf-8"}};
  for (const auto& file : files) {
    const char* name = file.first;
    const char* type = file.second;  // (not a structured binding: clang 14 cannot capture one)
    auto body = std::make_shared<const std::string>(read_small_file(dashboard_dir + "/" + name));
    std::string route =
        std::string("/_weft/") + (std::string_view(name) == "index.html" ? "" : name);
    server.get(route, [body, type](http::Request&) {
      if (body->empty()) return error_response(500, "the dashboard is missing from this install");
      http::Response res = http::Response::bytes(*body, type);
      res.header("Cache-Control", "no-cache");
      return res;
    });
  }
}

}  // namespace weft::serve
