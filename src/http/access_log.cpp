// http::access_log: lines formatted on the loop, written by a thread of their own.
#include <weft/http/access_log.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace weft::http {
namespace {

// The queue and its writer thread. Lines are appended under the lock (a string append);
// the thread swaps the whole batch out and writes it without the lock.
class LogWriter {
 public:
  LogWriter(AccessLogSink sink, std::size_t max_bytes)
      : sink_(std::move(sink)), max_bytes_(max_bytes), thread_([this] { run(); }) {}
  ~LogWriter() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  void push(std::string_view line) {
    bool was_empty;
    {
      std::lock_guard lock(mutex_);
      if (queued_.size() + line.size() > max_bytes_) {
        ++dropped_;
        return;
      }
      was_empty = queued_.empty();
      queued_.append(line);
    }
    if (was_empty) wake_.notify_one();
  }

 private:
  void run() {
    std::string batch;
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
      if (queued_.empty() && stopping_) return;
      batch.clear();
      batch.swap(queued_);
      const std::size_t dropped = std::exchange(dropped_, 0);
      lock.unlock();
      if (dropped) {
        const std::string note =
            "weft.http access_log: dropped " + std::to_string(dropped) + " lines (queue full)\n";
        sink_(note);
      }
      sink_(batch);
      lock.lock();
    }
  }

  AccessLogSink sink_;
  const std::size_t max_bytes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string queued_;
  std::size_t dropped_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7f) {  // a target is ASCII; anything else is escaped
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += ch;
    }
  }
  out += '"';
}

void append_number(std::string& out, long long n) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

// The wall-clock time, formatted per thread at most once a second.
struct TimeText {
  std::time_t second = -1;
  char iso[32];  // "2026-12-03T15:04:05"
  char clf[32];  // "03/Dec/2026:15:04:05 +0000"
};

const TimeText& time_text(std::time_t now) {
  thread_local TimeText t;
  if (t.second != now) {
    std::tm tm;
    ::gmtime_r(&now, &tm);
    std::strftime(t.iso, sizeof t.iso, "%Y-%m-%dT%H:%M:%S", &tm);
    std::strftime(t.clf, sizeof t.clf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    t.second = now;
  }
  return t;
}

struct LineFields {
  const Request& req;
  const Response& res;
  long long duration_us;
  std::chrono::system_clock::time_point wall;
};

void format_json(std::string& line, const LineFields& f) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(f.wall.time_since_epoch());
  const TimeText& t = time_text(static_cast<std::time_t>(ms.count() / 1000));
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms.count() % 1000));
  line.append("{\"time\":\"").append(t.iso).append(frac).append("\",\"id\":");
  append_json_string(line, f.req.id());
  line.append(",\"method\":");
  append_json_string(line, f.req.method().empty() ? "-" : f.req.method());
  line.append(",\"target\":");
  append_json_string(line, f.req.target().empty() ? "-" : f.req.target());
  line.append(",\"status\":");
  append_number(line, f.res.status_code());
  line.append(",\"bytes\":");
  append_number(line, static_cast<long long>(f.res.is_streamed() ? 0 : f.res.body_length()));
  line.append(",\"duration_us\":");
  append_number(line, f.duration_us);
  line.append(",\"peer\":");
  append_json_string(line, f.req.peer() ? f.req.peer()->to_string() : "-");
  line.append("}\n");
}

// Quotes and control bytes cannot break the line: they are shown as \xNN.
void append_clf_text(std::string& out, std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else {
      out += ch;
    }
  }
}

void format_common(std::string& line, const LineFields& f) {
  const auto s = std::chrono::system_clock::to_time_t(f.wall);
  line.append(f.req.peer() ? f.req.peer()->ip() : "-").append(" - - [");
  line.append(time_text(s).clf).append("] \"");
  append_clf_text(line, f.req.method().empty() ? "-" : f.req.method());
  line += ' ';
  append_clf_text(line, f.req.target().empty() ? "-" : f.req.target());
  line.append(f.req.version_minor() == 0 ? " HTTP/1.0\" " : " HTTP/1.1\" ");
  append_number(line, f.res.status_code());
  line += ' ';
  append_number(line, static_cast<long long>(f.res.is_streamed() ? 0 : f.res.body_length()));
  line += ' ';
  append_clf_text(line, f.req.id());
  line += ' ';
  append_number(line, f.duration_us);
  line += '\n';
}

}  // namespace

AccessLogSink log_to_fd(int fd) {
  return [fd](std::string_view lines) { write_all(fd, lines); };
}

AccessLogSink log_to_file(std::string path) {
  struct File {
    std::string path;
    int fd = -1;
    bool failed = false;
    ~File() {
      if (fd >= 0) ::close(fd);
    }
  };
  auto file = std::make_shared<File>();
  file->path = std::move(path);
  return [file](std::string_view lines) {
    if (file->fd < 0 && !file->failed) {
      file->fd = ::open(file->path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (file->fd < 0) {
        file->failed = true;
        std::fprintf(stderr, "weft.http: access_log %s: %s\n", file->path.c_str(),
                     std::strerror(errno));
      }
    }
    if (file->fd >= 0) write_all(file->fd, lines);
  };
}

Middleware access_log(AccessLogSink sink, AccessLogOptions options) {
  auto writer = std::make_shared<LogWriter>(std::move(sink), options.max_queued_bytes);
  const AccessLogFormat format = options.format;
  Middleware m;
  m.after = [writer, format](const Request& req, Response& res) {
    const auto now = std::chrono::steady_clock::now();
    const long long us =
        req.start_time() == TimePoint{}
            ? 0
            : std::chrono::duration_cast<std::chrono::microseconds>(now - req.start_time()).count();
    const LineFields f{req, res, us < 0 ? 0 : us, std::chrono::system_clock::now()};
    thread_local std::string line;
    line.clear();
    if (format == AccessLogFormat::json) {
      format_json(line, f);
    } else {
      format_common(line, f);
    }
    writer->push(line);
  };
  return m;
}

}  // namespace weft::http
