// The blocking halves of weft::fs: plain POSIX calls, run on a pool thread.
//
// Each returns an Outcome: the value, or the errno with the failing call and path. None
// touches a loop. They may throw std::bad_alloc; the job wrappers (submit.hpp) turn that
// into ENOMEM.
#pragma once

#include <weft/fs.hpp>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

namespace weft::fs::detail {

// ErrorInfo for errno `err` (default: the current errno).
ErrorInfo sys_error(const char* op, std::string path, int err = errno);

// A descriptor shared by a File and its operations in flight; close(2)d when the last
// owner lets go, or earlier by close().
class Descriptor {
 public:
  explicit Descriptor(int fd) noexcept : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() { close(); }
  int get() const noexcept { return fd_; }
  // 0 or the errno of close(2) (EINTR counts as success: Linux always releases the fd).
  int close() noexcept;

 private:
  int fd_;
};

int to_open_flags(OpenFlags flags) noexcept;
Outcome<int> open_fd(const std::string& path, int flags, unsigned mode);
// Writes all of data (write(2) or pwrite(2) from `offset` when offset >= 0). 0 or errno.
int write_all(int fd, const char* data, std::size_t size, std::int64_t offset = -1) noexcept;
Stat to_stat(const void* native_stat) noexcept;  // a struct stat*

Outcome<Stat> stat(const std::string& path, bool follow);
Outcome<Stat> fstat(int fd, const std::string& path);
Outcome<std::string> pread(int fd, const std::string& path, std::uint64_t offset, std::size_t size);
Outcome<std::size_t> pwrite(int fd, const std::string& path, std::uint64_t offset,
                            const std::string& data);
Outcome<void> fsync(int fd, const std::string& path);

Outcome<std::vector<DirEntry>> readdir(const std::string& path);
Outcome<void> mkdir(const std::string& path, MkdirOptions options);
Outcome<void> rename(const std::string& from, const std::string& to);
Outcome<void> unlink(const std::string& path);
Outcome<void> rmdir(const std::string& path);
Outcome<std::uint64_t> remove_all(const std::string& path);
Outcome<std::string> realpath(const std::string& path);

Outcome<std::string> read_file(const std::string& path);
Outcome<void> write_file(const std::string& path, const std::string& data, WriteOptions options);
Outcome<void> append_file(const std::string& path, const std::string& data);

// Path helpers (pure): the directory part ("." when none, "/" for the root) and the
// last component; trailing slashes are ignored.
std::string dirname(const std::string& path);
std::string basename(const std::string& path);

}  // namespace weft::fs::detail
