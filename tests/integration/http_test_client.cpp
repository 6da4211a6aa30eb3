#include "http_test_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

extern char** environ;

namespace weft::itest {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

int connect_with_timeout(int fd, const sockaddr* sa, socklen_t len, Ms timeout) {
  if (::connect(fd, sa, len) == 0) return 0;
  if (errno != EINPROGRESS && errno != EAGAIN) return errno;
  if (!wait_fd(fd, POLLOUT, Clock::now() + timeout)) return ETIMEDOUT;
  int err = 0;
  socklen_t elen = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  return err;
}

}  // namespace

// ---- responses -----------------------------------------------------------------------------

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return std::nullopt;
}

std::size_t HttpResponse::header_count(std::string_view name) const {
  return static_cast<std::size_t>(std::count_if(
      headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }));
}

bool HttpResponse::connection_close() const {
  auto v = header("Connection");
  return v && iequals(*v, "close");
}

bool parse_head(std::string_view head, HttpResponse& out, std::string& error) {
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' || line[12] != ' ') {
    if (!(line.size() == 12 && line.substr(0, 7) == "HTTP/1." && line[8] == ' ')) {
      error = "bad status line: " + std::string(line);
      return false;
    }
  }
  out.version_minor = line[7] - '0';
  out.status = 0;
  auto code = line.substr(9, 3);
  if (std::from_chars(code.data(), code.data() + 3, out.status).ec != std::errc{}) {
    error = "bad status code: " + std::string(line);
    return false;
  }
  out.reason = line.size() > 13 ? std::string(line.substr(13)) : std::string();
  out.headers.clear();
  while (eol != std::string_view::npos) {
    std::size_t start = eol + 2;
    eol = head.find("\r\n", start);
    std::string_view field =
        head.substr(start, eol == std::string_view::npos ? head.npos : eol - start);
    if (field.empty()) continue;
    if (field.find('\n') != field.npos || field.find('\r') != field.npos) {
      error = "bare CR/LF in response head";
      return false;
    }
    auto colon = field.find(':');
    if (colon == field.npos || colon == 0) {
      error = "bad header line: " + std::string(field);
      return false;
    }
    out.headers.emplace_back(std::string(field.substr(0, colon)),
                             std::string(trim(field.substr(colon + 1))));
  }
  return true;
}

std::optional<HttpResponse> parse_curl_output(std::string_view out, std::string* error,
                                              int* informational) {
  std::string err;
  if (informational) *informational = 0;
  for (;;) {
    auto end = out.find("\r\n\r\n");
    if (end == out.npos) {
      if (error) *error = "no complete head in curl output: " + std::string(out.substr(0, 200));
      return std::nullopt;
    }
    HttpResponse r;
    if (!parse_head(out.substr(0, end), r, err)) {
      if (error) *error = err;
      return std::nullopt;
    }
    out.remove_prefix(end + 4);
    if (r.status >= 100 && r.status < 200) {
      if (informational) ++*informational;
      continue;
    }
    r.body = std::string(out);
    return r;
  }
}

// ---- raw socket client ---------------------------------------------------------------------

const char* to_string(CloseKind k) {
  switch (k) {
    case CloseKind::none:
      return "none";
    case CloseKind::eof:
      return "eof";
    case CloseKind::reset:
      return "reset";
    case CloseKind::timeout:
      return "timeout (still open)";
  }
  return "?";
}

RawClient::RawClient(RawClient&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      connect_errno_(o.connect_errno_),
      buf_(std::move(o.buf_)),
      pos_(o.pos_),
      received_(o.received_),
      error_(std::move(o.error_)),
      eof_(o.eof_) {}

RawClient& RawClient::operator=(RawClient&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    connect_errno_ = o.connect_errno_;
    buf_ = std::move(o.buf_);
    pos_ = o.pos_;
    received_ = o.received_;
    error_ = std::move(o.error_);
    eof_ = o.eof_;
  }
  return *this;
}

RawClient::~RawClient() { close(); }

RawClient RawClient::tcp(std::uint16_t port, int rcvbuf, Ms timeout) {
  RawClient c;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    c.connect_errno_ = errno;
    return c;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int err = connect_with_timeout(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa, timeout);
  if (err) {
    ::close(fd);
    c.connect_errno_ = err;
    return c;
  }
  c.fd_ = fd;
  return c;
}

RawClient RawClient::unix_socket(const std::string& path, Ms timeout) {
  RawClient c;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    c.connect_errno_ = errno;
    return c;
  }
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  int err = connect_with_timeout(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa, timeout);
  if (err) {
    ::close(fd);
    c.connect_errno_ = err;
    return c;
  }
  c.fd_ = fd;
  return c;
}

bool RawClient::send(std::string_view data, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd_, POLLOUT, deadline)) {
        error_ = "send timed out";
        return false;
      }
      continue;
    }
    error_ = std::string("send failed: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool RawClient::send_bytewise(std::string_view data, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  for (char c : data) {
    if (!send(std::string_view(&c, 1), std::max<Ms>(Ms(1), Ms(remaining_ms(deadline))))) {
      return false;
    }
  }
  return true;
}

void RawClient::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void RawClient::reset() {
  if (fd_ < 0) return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close();
}

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

RawClient::Fill RawClient::fill(Clock::time_point deadline) {
  if (eof_) return Fill::eof;
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > (1u << 20) && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char tmp[256 * 1024];
  for (;;) {
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<std::size_t>(n));
      received_ += static_cast<std::uint64_t>(n);
      return Fill::data;
    }
    if (n == 0) {
      eof_ = true;
      return Fill::eof;
    }
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) {
      eof_ = true;
      return Fill::reset;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      error_ = std::string("recv failed: ") + std::strerror(errno);
      return Fill::error;
    }
    if (!wait_fd(fd_, POLLIN, deadline)) return Fill::timeout;
  }
}

bool RawClient::need(std::size_t n, Clock::time_point deadline) {
  while (buf_.size() - pos_ < n) {
    Fill f = fill(deadline);
    if (f != Fill::data) {
      if (error_.empty()) {
        error_ = f == Fill::timeout ? "timed out waiting for data"
                 : f == Fill::reset ? "connection reset"
                                    : "connection closed";
      }
      return false;
    }
  }
  return true;
}

std::optional<std::size_t> RawClient::find_in_buffer(std::string_view what,
                                                     Clock::time_point deadline) {
  std::size_t scanned = 0;  // relative to pos_: fill() may move the unread bytes
  for (;;) {
    auto at = buf_.find(what, pos_ + scanned);
    if (at != std::string::npos) return at - pos_;
    const std::size_t unread = buf_.size() - pos_;
    scanned = unread >= what.size() ? unread - what.size() + 1 : 0;
    Fill f = fill(deadline);
    if (f != Fill::data) {
      if (error_.empty()) {
        error_ = f == Fill::timeout ? "timed out waiting for a response"
                 : f == Fill::reset ? "connection reset before a response"
                                    : "connection closed before a response";
      }
      return std::nullopt;
    }
  }
}

std::optional<HttpResponse> RawClient::read_response(bool head_request, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  error_.clear();
  auto head_len = find_in_buffer("\r\n\r\n", deadline);
  if (!head_len) return std::nullopt;
  HttpResponse r;
  if (!parse_head(std::string_view(buf_).substr(pos_, *head_len), r, error_)) return std::nullopt;
  pos_ += *head_len + 4;
  if (head_request || r.status < 200 || r.status == 204 || r.status == 304) return r;
  auto te = r.header("Transfer-Encoding");
  auto cl = r.header("Content-Length");
  if (te && cl) {
    error_ = "response has both Transfer-Encoding and Content-Length";
    return std::nullopt;
  }
  if (te) {
    if (!iequals(*te, "chunked")) {
      error_ = "unexpected Transfer-Encoding: " + *te;
      return std::nullopt;
    }
    r.chunked = true;
    for (;;) {
      auto line_len = find_in_buffer("\r\n", deadline);
      if (!line_len) return std::nullopt;
      std::string_view line = std::string_view(buf_).substr(pos_, *line_len);
      std::size_t size = 0;
      auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
      if (ec != std::errc{} || p != line.data() + line.size()) {
        error_ = "bad chunk size line: " + std::string(line.substr(0, 40));
        return std::nullopt;
      }
      pos_ += *line_len + 2;
      if (size == 0) break;
      if (!need(size + 2, deadline)) return std::nullopt;
      r.body.append(buf_, pos_, size);
      r.chunk_sizes.push_back(size);
      if (buf_.compare(pos_ + size, 2, "\r\n") != 0) {
        error_ = "chunk data not followed by CRLF";
        return std::nullopt;
      }
      pos_ += size + 2;
    }
    for (;;) {  // trailers, then the empty line
      auto line_len = find_in_buffer("\r\n", deadline);
      if (!line_len) return std::nullopt;
      pos_ += *line_len + 2;
      if (*line_len == 0) break;
    }
    return r;
  }
  if (cl) {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (ec != std::errc{} || p != cl->data() + cl->size()) {
      error_ = "bad Content-Length: " + *cl;
      return std::nullopt;
    }
    if (!need(n, deadline)) return std::nullopt;
    r.body.assign(buf_, pos_, n);
    pos_ += n;
    return r;
  }
  // delimited by close
  for (;;) {
    Fill f = fill(deadline);
    if (f == Fill::eof || f == Fill::reset) break;
    if (f != Fill::data) {
      error_ = "timed out reading a close-delimited body";
      return std::nullopt;
    }
  }
  r.body.assign(buf_, pos_);
  pos_ = buf_.size();
  return r;
}

CloseKind RawClient::wait_closed(Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    Fill f = fill(deadline);
    if (f == Fill::eof) return CloseKind::eof;
    if (f == Fill::reset) return CloseKind::reset;
    if (f == Fill::timeout) return CloseKind::timeout;
    if (f == Fill::error) return CloseKind::reset;
  }
}

std::string RawClient::read_some(Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::uint64_t before = received_;
  for (;;) {
    Fill f = fill(deadline);
    if (f != Fill::data) break;
  }
  // fill() may compact the buffer, but new bytes are always at its end
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(received_ - before, buf_.size()));
  return buf_.substr(buf_.size() - n);
}

std::string get_request(std::string_view path, std::string_view extra_headers,
                        std::string_view version) {
  std::string r = "GET ";
  r.append(path).append(" ").append(version).append("\r\nHost: test\r\n");
  r.append(extra_headers).append("\r\n");
  return r;
}

std::string post_request(std::string_view path, std::string_view body,
                         std::string_view extra_headers) {
  std::string r = "POST ";
  r.append(path).append(" HTTP/1.1\r\nHost: test\r\nContent-Length: ");
  r.append(std::to_string(body.size())).append("\r\n").append(extra_headers).append("\r\n");
  r.append(body);
  return r;
}

// ---- curl ------------------------------------------------------------------------------------

CurlResult run_curl(const std::vector<std::string>& args, Ms timeout) {
  CurlResult result;
  std::vector<std::string> all = {"curl",      "-q", "--silent",   "--show-error",
                                  "--noproxy", "*",  "--max-time", "10"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return result;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "curl", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    result.err = std::string("posix_spawnp(curl) failed: ") + std::strerror(rc);
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* into[2] = {&result.out, &result.err};
  int open = 2;
  bool killed = false;
  while (open > 0) {
    int r = ::poll(fds, 2, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::kill(pid, SIGKILL);  // our own child, by its pid
      killed = true;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        into[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!killed && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (killed) result.err += "\n[curl killed: timed out]";
  return result;
}

std::string base_url(std::uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

// ---- harness ---------------------------------------------------------------------------------

void run_with_client(Loop& loop, http::Server& server, std::function<void()> client,
                     RunOptions options) {
  std::mutex mu;
  std::condition_variable cv;
  bool loop_done = false;
  std::atomic<bool> watchdog_fired{false};

  std::thread client_thread([&] {
    client();
    loop.post([&server, d = options.close_deadline] {
      if (!server.is_closing()) server.close(d);
    });
  });
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, options.limit, [&] { return loop_done; })) {
      watchdog_fired = true;
      loop.stop();
    }
  });
  loop.run();
  {
    std::lock_guard lock(mu);
    loop_done = true;
  }
  cv.notify_all();
  watchdog.join();
  client_thread.join();
  EXPECT_FALSE(watchdog_fired.load())
      << "the loop did not return within " << options.limit.count() << " ms";
  if (watchdog_fired.load()) {
    // Let whatever the client left behind finish closing.
    server.close(std::chrono::milliseconds(0));
    for (int i = 0; i < 100 && loop.run(RunMode::nowait); ++i) {
    }
  }
}

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

}  // namespace weft::itest
