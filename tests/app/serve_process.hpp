// Test support for weft-serve: runs the real binary as a child process and talks HTTP to it.
//
// ServeProcess starts weft-serve with the given flags (plus --port 0), collects its stdout
// and stderr on a thread (so the child never blocks on a full pipe), waits for its
// "listening on http://HOST:PORT" line and stops it with a signal, reporting the exit
// status. ApiClient is a keep-alive HTTP/1.1 client over the integration tests' RawClient.
#pragma once

#include "integration/http_test_client.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace weft::serve_test {

using namespace std::chrono_literals;
using itest::HttpResponse;
using itest::Ms;

class ServeProcess {
 public:
  ServeProcess() = default;
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Starts weft-serve with `args` in directory `cwd`. With wait_listening, returns once the
  // server listens (true) or has exited / timed out (false).
  bool start(const std::vector<std::string>& args, const std::string& cwd,
             bool wait_listening = true, Ms timeout = 20000ms);
  // Sends `signum` and waits for the exit; the exit status (128 + signal when killed by
  // one), or -1 on timeout (the child is then SIGKILLed).
  int stop(int signum = SIGTERM, Ms timeout = 20000ms);
  // Waits for the child to exit by itself.
  int wait_exit(Ms timeout = 20000ms);
  // Waits until the output contains `text`.
  bool wait_output(const std::string& text, Ms timeout = 10000ms);

  // "NAME=value" added to the environment of the next start() (the test's own is inherited).
  void set_env(std::vector<std::string> entries) { env_ = std::move(entries); }

  std::uint16_t port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }
  std::string output() const;

 private:
  void read_output(int fd);
  int reap(Ms timeout);

  std::vector<std::string> env_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::string output_;
  std::thread reader_;
};

// One keep-alive connection; reconnects when the server closed it.
class ApiClient {
 public:
  explicit ApiClient(std::uint16_t port) : port_(port) {}

  // Sends one request and reads its response; nullopt on a transport failure.
  std::optional<HttpResponse> request(const std::string& method, const std::string& target,
                                      const std::string& body = "",
                                      const std::string& content_type = "application/json");
  HttpResponse get(const std::string& target) { return must(request("GET", target)); }
  HttpResponse post(const std::string& target, const std::string& body) {
    return must(request("POST", target, body));
  }
  HttpResponse send(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    return must(request(method, target, body));
  }

 private:
  static HttpResponse must(std::optional<HttpResponse> r);
  std::uint16_t port_;
  itest::RawClient conn_;
};

// A fresh directory under /tmp, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const noexcept { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace weft::serve_test
