// Helpers for the HTTP server integration tests: a raw-socket client with deadlines, a
// strict HTTP/1.1 response reader, a curl runner, and a harness that runs the server's
// loop on the test thread while client code runs on a std::thread.
//
// Threading rule of every test: the server and its loop are touched only on the loop
// (test) thread; client threads talk to it through sockets, Loop::post and atomics.
#pragma once

#include <weft/http/server.hpp>
#include <weft/loop.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::itest {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

// ---- responses ---------------------------------------------------------------------------

struct HttpResponse {
  int version_minor = 1;
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;
  std::vector<std::size_t> chunk_sizes;  // sizes of the chunks, for chunked bodies

  // The first value of a header (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
  std::size_t header_count(std::string_view name) const;
  bool connection_close() const;  // "Connection: close" present
};

// Parses a head ("HTTP/1.1 200 OK\r\n...\r\n\r\n" without the final empty line's bytes
// needed to be exactly there: `head` is everything before "\r\n\r\n").
bool parse_head(std::string_view head, HttpResponse& out, std::string& error);

// Splits curl -i output: skips 1xx blocks, parses the final head, the rest is the body
// (curl has removed the chunked framing already).
std::optional<HttpResponse> parse_curl_output(std::string_view out, std::string* error = nullptr,
                                              int* informational = nullptr);

// ---- raw socket client ---------------------------------------------------------------------

enum class CloseKind { none, eof, reset, timeout };
const char* to_string(CloseKind k);

class RawClient {
 public:
  RawClient() = default;
  explicit RawClient(int fd) : fd_(fd) {}
  RawClient(RawClient&& o) noexcept;
  RawClient& operator=(RawClient&& o) noexcept;
  ~RawClient();

  // Connects to 127.0.0.1:port (TCP_NODELAY on). rcvbuf > 0 sets SO_RCVBUF first.
  static RawClient tcp(std::uint16_t port, int rcvbuf = 0, Ms timeout = 2000ms);
  static RawClient unix_socket(const std::string& path, Ms timeout = 2000ms);
  // errno of the last failed connect (0 if it succeeded).
  int connect_errno() const noexcept { return connect_errno_; }

  bool ok() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }

  bool send(std::string_view data, Ms timeout = 5000ms);
  // One send() per byte (TCP_NODELAY is on: each is its own segment).
  bool send_bytewise(std::string_view data, Ms timeout = 10000ms);
  void shutdown_write();
  // Closes with SO_LINGER 0: the peer gets a RST.
  void reset();
  void close();

  // Reads one response. head_request: the response has no body. Informational (1xx)
  // responses are returned like any other. nullopt on timeout, EOF or a framing error
  // (error() says which).
  std::optional<HttpResponse> read_response(bool head_request = false, Ms timeout = 5000ms);
  // Reads (and keeps in buffered()) until EOF/RST or timeout.
  CloseKind wait_closed(Ms timeout = 2000ms);
  // Reads whatever arrives within `timeout` (for "nothing arrives" checks).
  std::string read_some(Ms timeout);

  const std::string& error() const noexcept { return error_; }
  std::string_view buffered() const noexcept { return std::string_view(buf_).substr(pos_); }
  std::uint64_t bytes_received() const noexcept { return received_; }

 private:
  enum class Fill { data, eof, reset, timeout, error };
  Fill fill(Clock::time_point deadline);
  bool need(std::size_t n, Clock::time_point deadline);  // ensure n unread bytes
  std::optional<std::size_t> find_in_buffer(std::string_view what, Clock::time_point deadline);

  int fd_ = -1;
  int connect_errno_ = 0;
  std::string buf_;
  std::size_t pos_ = 0;
  std::uint64_t received_ = 0;
  std::string error_;
  bool eof_ = false;
};

// A request with the usual framing: "GET /x HTTP/1.1\r\nHost: t\r\n\r\n".
std::string get_request(std::string_view path, std::string_view extra_headers = {},
                        std::string_view version = "HTTP/1.1");
std::string post_request(std::string_view path, std::string_view body,
                         std::string_view extra_headers = {});

// ---- curl ------------------------------------------------------------------------------------

struct CurlResult {
  int exit_code = -1;  // curl's exit status; -1: did not run / killed
  std::string out;
  std::string err;
};
// Runs Debian's curl with -q --silent --show-error --noproxy '*' --max-time 10 + args.
CurlResult run_curl(const std::vector<std::string>& args, Ms timeout = 15000ms);
std::string base_url(std::uint16_t port);

// ---- harness ---------------------------------------------------------------------------------

struct RunOptions {
  Duration close_deadline = std::chrono::seconds(1);
  Ms limit = 30000ms;  // the loop must have returned by then (else loop.stop() + failure)
};

// Runs `client` on a std::thread while loop.run() runs on this thread. When the client
// returns, server.close(close_deadline) is posted to the loop (unless the server is
// already closing); the loop then returns once everything has closed.
void run_with_client(Loop& loop, http::Server& server, std::function<void()> client,
                     RunOptions options = {});

// Reads VmRSS of this process in KiB.
long rss_kib();

}  // namespace weft::itest
