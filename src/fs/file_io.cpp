// Whole-file operations (pool thread): read_file, write_file (plain and atomic),
// append_file.
#include "fs/ops.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

namespace weft::fs::detail {

namespace {

// Closes fd on scope exit unless released; close errors are the caller's business when
// it calls close_now().
class FdGuard {
 public:
  explicit FdGuard(int fd) noexcept : fd_(fd) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  // 0 or the errno of close(2).
  int close_now() noexcept {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc < 0 && errno != EINTR ? errno : 0;
  }

 private:
  int fd_;
};

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxRead =
    4 * 1024 * 1024;  // per read(2): a cancelled job stops between reads

// Reads fd to its end; st_size is only a hint (0 for /proc files, stale if it grows).
int read_to_end(int fd, std::string& out) {
  struct ::stat st {};
  std::size_t hint = ::fstat(fd, &st) == 0 && st.st_size > 0
                         ? static_cast<std::size_t>(st.st_size) + 1
                         : kReadChunk;
  out.resize(hint);
  std::size_t len = 0;
  for (;;) {
    // A cancelled await (Op::with_token) stops a long read between two reads.
    if (this_job::stop_requested()) return ECANCELED;
    if (len == out.size()) out.resize(out.size() + std::max(out.size() / 2, kReadChunk));
    ssize_t n = ::read(fd, out.data() + len, std::min(out.size() - len, kMaxRead));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  out.resize(len);
  return 0;
}

// Writes, optionally fsyncs, and closes fd; the first error wins (as ErrorInfo).
Outcome<void> finish_write(FdGuard& fd, const std::string& path, const std::string& data,
                           bool sync) {
  if (int err = write_all(fd.get(), data.data(), data.size())) return sys_error("write", path, err);
  if (sync && ::fsync(fd.get()) < 0) return sys_error("fsync", path);
  if (int err = fd.close_now()) return sys_error("close", path, err);
  return {};
}

// A name for the temporary file of an atomic write: hidden, in the target's directory,
// unique in this process (a counter) and between processes (the pid); O_EXCL settles
// any remaining collision.
std::string temp_name(const std::string& dir, const std::string& base) {
  static std::atomic<std::uint64_t> counter{0};
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, ".weft-%ld-%llu.tmp", static_cast<long>(::getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1, std::memory_order_relaxed)));
  return (dir == "/" ? std::string("/") : dir + "/") + "." + base + suffix;
}

Outcome<void> write_plain(const std::string& path, const std::string& data, WriteOptions o) {
  Outcome<int> fd = open_fd(path, O_WRONLY | O_CREAT | O_TRUNC, o.mode);
  if (!fd) return fd.failure();
  FdGuard guard(*fd);
  return finish_write(guard, path, data, o.fsync);
}

// Creates the temporary file: the fd, or the error of open (reported for `path`).
Outcome<int> create_temp(const std::string& path, const std::string& tmp_dir,
                         const std::string& base, unsigned mode, std::string& tmp) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    tmp = temp_name(tmp_dir, base);
    Outcome<int> fd = open_fd(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd || fd.error() != std::errc::file_exists) {
      if (!fd) return sys_error("open", path, fd.error().value());
      return fd;
    }
  }
  return sys_error("open", path, EEXIST);
}

// fsync of the directory makes the rename durable. EINVAL: the file system cannot sync
// a directory (nothing more can be done there).
Outcome<void> sync_directory(const std::string& dir) {
  Outcome<int> fd = open_fd(dir, O_RDONLY | O_DIRECTORY, 0);
  if (!fd) return fd.failure();
  FdGuard guard(*fd);
  if (::fsync(guard.get()) < 0 && errno != EINVAL) return sys_error("fsync", dir);
  return {};
}

Outcome<void> write_atomic(const std::string& path, const std::string& data, WriteOptions o) {
  std::string dir = dirname(path);
  std::string base = basename(path);
  if (base.empty() || base == "/" || path.back() == '/') return sys_error("open", path, EISDIR);

  struct ::stat old {};
  bool keep_mode = ::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode);
  std::string tmp;
  Outcome<int> fd = create_temp(path, dir, base, o.mode, tmp);
  if (!fd) return fd.failure();
  FdGuard guard(*fd);

  Outcome<void> written = [&]() -> Outcome<void> {
    if (keep_mode && ::fchmod(guard.get(), old.st_mode & 07777) < 0)
      return sys_error("chmod", path);
    Outcome<void> w = finish_write(guard, path, data, /*sync=*/true);
    if (!w) return w;
    if (::rename(tmp.c_str(), path.c_str()) < 0) return sys_error("rename", path);
    return {};
  }();
  if (!written) {
    ::unlink(tmp.c_str());  // the target was never touched
    return written;
  }
  return sync_directory(dir);
}

}  // namespace

Outcome<std::string> read_file(const std::string& path) {
  Outcome<int> fd = open_fd(path, O_RDONLY | O_NOCTTY, 0);
  if (!fd) return fd.failure();
  FdGuard guard(*fd);
  std::string out;
  if (int err = read_to_end(guard.get(), out)) return sys_error("read", path, err);
  return out;
}

Outcome<void> write_file(const std::string& path, const std::string& data, WriteOptions options) {
  return options.atomic ? write_atomic(path, data, options) : write_plain(path, data, options);
}

Outcome<void> append_file(const std::string& path, const std::string& data) {
  Outcome<int> fd = open_fd(path, O_WRONLY | O_APPEND | O_CREAT, 0666);
  if (!fd) return fd.failure();
  FdGuard guard(*fd);
  return finish_write(guard, path, data, /*sync=*/false);
}

}  // namespace weft::fs::detail
