// A misbehaving HTTP server for the client tests: a thread with blocking sockets on
// 127.0.0.1 (or a Unix socket) that runs a script per accepted connection.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <vector>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

namespace weft::http::ctest {

class RawConn {
 public:
  explicit RawConn(int fd) : fd_(fd) {}
  // Reads one request head (and a Content-Length body); empty when the peer closed.
  std::string read_request() {
    std::string got;
    char buf[4096];
    while (got.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return {};
      got.append(buf, static_cast<std::size_t>(n));
    }
    const std::size_t cl = got.find("Content-Length: ");
    if (cl != std::string::npos) {
      const std::size_t len = std::stoul(got.substr(cl + 16));
      const std::size_t body_at = got.find("\r\n\r\n") + 4;
      while (got.size() < body_at + len) {
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
    }
    requests.push_back(got);
    if (on_request) on_request(got);
    return got;
  }
  void send(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void reset() {  // RST instead of FIN
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  int fd() const { return fd_; }
  bool peer_closed() {
    char c;
    return ::recv(fd_, &c, 1, 0) <= 0;
  }
  std::vector<std::string> requests;
  std::function<void(const std::string&)> on_request;  // as each request is read

 private:
  int fd_;
};

class RawServer {
 public:
  using Script = std::function<void(RawConn&, int index)>;
  explicit RawServer(Script script, std::string unix_path = {}) : script_(std::move(script)) {
    if (unix_path.empty()) {
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
      socklen_t len = sizeof a;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    } else {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      ::unlink(unix_path.c_str());
      std::strncpy(a.sun_path, unix_path.c_str(), sizeof a.sun_path - 1);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
      path_ = unix_path;
    }
    ::listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    if (const int c = current_.load(); c >= 0) ::shutdown(c, SHUT_RDWR);  // a kept-alive one
    thread_.join();
    ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int accepted() const { return accepted_; }
  std::string last_request() {
    std::lock_guard<std::mutex> g(m_);
    return last_;
  }

 private:
  void serve() {
    for (int i = 0; !stop_; ++i) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++accepted_;
      current_ = c;
      if (stop_) ::shutdown(c, SHUT_RDWR);
      RawConn conn(c);
      conn.on_request = [this](const std::string& r) {
        std::lock_guard<std::mutex> g(m_);
        last_ = r;
      };
      script_(conn, i);
      current_ = -1;
      ::close(c);
    }
  }
  Script script_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::string path_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> current_{-1};
  std::mutex m_;
  std::string last_;
};

}  // namespace weft::http::ctest
