#include "app/serve_process.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace weft::serve_test {

ServeProcess::~ServeProcess() {
  if (pid_ > 0) stop(SIGKILL);
  if (reader_.joinable()) reader_.join();
}

bool ServeProcess::start(const std::vector<std::string>& args, const std::string& cwd,
                         bool wait_listening, Ms timeout) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return false;
  {
    std::lock_guard lock(mu_);
    output_.clear();
  }
  std::vector<std::string> all = {WEFT_SERVE_BINARY, "--port", "0"};
  all.insert(all.end(), args.begin(), args.end());
  // argv and the environment are built before fork(): the child only calls async-signal-
  // safe functions.
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_) envp.push_back(e.data());  // first: getenv() takes the first match
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  envp.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  reader_ = std::thread([this, fd = pipe_fds[0]] { read_output(fd); });
  if (!wait_listening) return true;
  // "listening on http://HOST:PORT" (or https:// with --tls-cert)
  if (!wait_output("listening on http", timeout)) return false;
  auto out = output();
  auto at = out.find("://", out.find("listening on http")) + 3;
  auto colon = out.find("]:", at) != std::string::npos ? out.find("]:", at) + 1 : out.find(':', at);
  port_ = static_cast<std::uint16_t>(std::atoi(out.c_str() + colon + 1));
  return port_ != 0;
}

void ServeProcess::read_output(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard lock(mu_);
    output_.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
}

std::string ServeProcess::output() const {
  std::lock_guard lock(mu_);
  return output_;
}

bool ServeProcess::wait_output(const std::string& text, Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (output().find(text) != std::string::npos) return true;
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited early
      pid_ = -1;
      return output().find(text) != std::string::npos;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

int ServeProcess::reap(Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);  // our own child
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ServeProcess::stop(int signum, Ms timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signum);  // our own child
  return reap(timeout);
}

int ServeProcess::wait_exit(Ms timeout) {
  if (pid_ <= 0) return -1;
  return reap(timeout);
}

std::optional<HttpResponse> ApiClient::request(const std::string& method, const std::string& target,
                                               const std::string& body,
                                               const std::string& content_type) {
  std::string req =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    if (!content_type.empty()) req += "Content-Type: " + content_type + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!conn_.ok()) conn_ = itest::RawClient::tcp(port_);
    if (!conn_.ok()) return std::nullopt;
    if (conn_.send(req)) {
      auto res = conn_.read_response(method == "HEAD", 10000ms);
      if (res) {
        if (res->connection_close()) conn_ = itest::RawClient();
        return res;
      }
    }
    conn_ = itest::RawClient();  // closed by the server (keep-alive timeout): retry once
  }
  return std::nullopt;
}

HttpResponse ApiClient::must(std::optional<HttpResponse> r) {
  EXPECT_TRUE(r.has_value()) << "no response";
  return r ? std::move(*r) : HttpResponse{};
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/weft-serve-test-XXXXXX";
  const char* p = ::mkdtemp(tmpl);
  path_ = p ? p : "/tmp";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (path_ != "/tmp") std::filesystem::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& content) const {
  std::ofstream(file(name), std::ios::binary) << content;
}

}  // namespace weft::serve_test
