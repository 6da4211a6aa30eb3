// Single POSIX calls of weft::fs (pool thread): descriptors, stat, pread/pwrite,
// readdir, rename, unlink, rmdir, realpath.
#include "fs/ops.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <memory>

namespace weft::fs::detail {

ErrorInfo sys_error(const char* op, std::string path, int err) {
  return ErrorInfo{std::error_code(err, std::system_category()), op, std::move(path), {}};
}

int Descriptor::close() noexcept {
  if (fd_ < 0) return 0;
  int rc = ::close(fd_);
  int err = rc < 0 ? errno : 0;
  fd_ = -1;
  return err == EINTR ? 0 : err;
}

int to_open_flags(OpenFlags flags) noexcept {
  bool rd = has(flags, OpenFlags::read);
  bool wr = has(flags, OpenFlags::write) || has(flags, OpenFlags::append);
  int f = O_CLOEXEC | (rd && wr ? O_RDWR : wr ? O_WRONLY : O_RDONLY);
  if (has(flags, OpenFlags::create)) f |= O_CREAT;
  if (has(flags, OpenFlags::truncate)) f |= O_TRUNC;
  if (has(flags, OpenFlags::append)) f |= O_APPEND;
  if (has(flags, OpenFlags::exclusive)) f |= O_EXCL;
  return f;
}

Outcome<int> open_fd(const std::string& path, int flags, unsigned mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
  } while (fd < 0 && errno == EINTR);  // open of a FIFO may be interrupted
  if (fd < 0) return sys_error("open", path);
  return fd;
}

int write_all(int fd, const char* data, std::size_t size, std::int64_t offset) noexcept {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = offset < 0 ? ::write(fd, data + done, size - done)
                           : ::pwrite(fd, data + done, size - done,
                                      static_cast<off_t>(offset) + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;  // no progress on a regular file: report rather than spin
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

namespace {

FileType type_of_mode(mode_t m) noexcept {
  switch (m & S_IFMT) {
    case S_IFREG:
      return FileType::regular;
    case S_IFDIR:
      return FileType::directory;
    case S_IFLNK:
      return FileType::symlink;
    case S_IFIFO:
      return FileType::fifo;
    case S_IFSOCK:
      return FileType::socket;
    case S_IFCHR:
      return FileType::character;
    case S_IFBLK:
      return FileType::block;
    default:
      return FileType::unknown;
  }
}

FileType type_of_dirent(unsigned char d_type) noexcept {
  switch (d_type) {
    case DT_REG:
      return FileType::regular;
    case DT_DIR:
      return FileType::directory;
    case DT_LNK:
      return FileType::symlink;
    case DT_FIFO:
      return FileType::fifo;
    case DT_SOCK:
      return FileType::socket;
    case DT_CHR:
      return FileType::character;
    case DT_BLK:
      return FileType::block;
    default:
      return FileType::unknown;
  }
}

FileTime to_time(const timespec& ts) noexcept {
  return FileTime(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

bool is_dot_or_dotdot(const char* n) noexcept {
  return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

}  // namespace

Stat to_stat(const void* native_stat) noexcept {
  const auto& st = *static_cast<const struct ::stat*>(native_stat);
  Stat s;
  s.type = type_of_mode(st.st_mode);
  s.mode = st.st_mode;
  s.size = static_cast<std::uint64_t>(st.st_size);
  s.ino = st.st_ino;
  s.dev = st.st_dev;
  s.nlink = st.st_nlink;
  s.uid = st.st_uid;
  s.gid = st.st_gid;
  s.atime = to_time(st.st_atim);
  s.mtime = to_time(st.st_mtim);
  s.ctime = to_time(st.st_ctim);
  return s;
}

Outcome<Stat> stat(const std::string& path, bool follow) {
  struct ::stat st {};
  if (::fstatat(AT_FDCWD, path.c_str(), &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0) {
    return sys_error(follow ? "stat" : "lstat", path);
  }
  return to_stat(&st);
}

Outcome<Stat> fstat(int fd, const std::string& path) {
  struct ::stat st {};
  if (::fstat(fd, &st) < 0) return sys_error("fstat", path);
  return to_stat(&st);
}

Outcome<std::string> pread(int fd, const std::string& path, std::uint64_t offset,
                           std::size_t size) {
  std::string buf(size, '\0');
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, buf.data() + got, size - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read", path);
    }
    if (n == 0) break;  // end of file
    got += static_cast<std::size_t>(n);
  }
  buf.resize(got);
  return buf;
}

Outcome<std::size_t> pwrite(int fd, const std::string& path, std::uint64_t offset,
                            const std::string& data) {
  if (offset > static_cast<std::uint64_t>(LLONG_MAX)) return sys_error("write", path, EINVAL);
  if (int err = write_all(fd, data.data(), data.size(), static_cast<std::int64_t>(offset))) {
    return sys_error("write", path, err);
  }
  return data.size();
}

Outcome<void> fsync(int fd, const std::string& path) {
  if (::fsync(fd) < 0) return sys_error("fsync", path);
  return {};
}

Outcome<std::vector<DirEntry>> readdir(const std::string& path) {
  std::unique_ptr<DIR, DirCloser> dir(::opendir(path.c_str()));
  if (!dir) return sys_error("opendir", path);
  std::vector<DirEntry> entries;
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(dir.get());
    if (!e) {
      if (errno != 0) return sys_error("readdir", path);
      break;
    }
    if (is_dot_or_dotdot(e->d_name)) continue;
    FileType type = type_of_dirent(e->d_type);
    if (e->d_type == DT_UNKNOWN) {  // some file systems do not fill d_type
      struct ::stat st {};
      if (::fstatat(::dirfd(dir.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        type = type_of_mode(st.st_mode);
      }
    }
    entries.push_back(DirEntry{e->d_name, type});
  }
  return entries;
}

Outcome<void> rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) < 0) {
    ErrorInfo e = sys_error("rename", from);
    e.dest = to;
    return e;
  }
  return {};
}

Outcome<void> unlink(const std::string& path) {
  if (::unlink(path.c_str()) < 0) return sys_error("unlink", path);
  return {};
}

Outcome<void> rmdir(const std::string& path) {
  if (::rmdir(path.c_str()) < 0) return sys_error("rmdir", path);
  return {};
}

Outcome<std::string> realpath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       &std::free);
  if (!resolved) return sys_error("realpath", path);
  return std::string(resolved.get());
}

std::string dirname(const std::string& path) {
  std::size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return path.empty() ? "." : "/";
  std::size_t slash = path.rfind('/', end);
  if (slash == std::string::npos) return ".";
  std::size_t dir_end = path.find_last_not_of('/', slash);
  return dir_end == std::string::npos ? "/" : path.substr(0, dir_end + 1);
}

std::string basename(const std::string& path) {
  std::size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return path.empty() ? "" : "/";
  std::size_t slash = path.rfind('/', end);
  std::size_t begin = slash == std::string::npos ? 0 : slash + 1;
  return path.substr(begin, end + 1 - begin);
}

}  // namespace weft::fs::detail
