// weft::fs — asynchronous file system operations on the pool's `fs` class.
//
// Every blocking system call runs on a pool thread (WorkClass::fs); nothing here blocks
// the loop (one documented exception: a File destroyed while still open is closed with a
// plain close(2) — see File). Each operation has three forms:
//
//   coroutine, explicit loop:   std::string s = co_await fs::read_file(loop, path);
//   coroutine, current loop:    std::string s = co_await fs::read_file(path);
//   callback:                   fs::read_file(loop, path, [](fs::Outcome<std::string>& r) {
//                                 if (!r) log(r.what()); else use(r.value());
//                               });
//
// The coroutine forms follow weft's error rule: they return the value or throw fs::Error
// (a std::system_error: code() is the errno in std::system_category, path() the path the
// failure concerns, what() like "open '/x/y': No such file or directory"). The forms
// without a Loop use Loop::current() and must be awaited inside Loop::run().
//
// The callback forms take one shape everywhere: void(fs::Outcome<T>&), where fs::Outcome<T>
// is weft::Result<T, fs::ErrorInfo>. The callback runs on the loop thread that made the
// call, never inside the call (a refused submission is delivered in the next pending
// phase). An Outcome carries the value, or an ErrorInfo: the error_code (errno in
// std::system_category; weft::errc::queue_full when the pool refused the job;
// std::errc::operation_canceled when it was canceled) with the operation and path.
// The callback may move the value out (std::move(r).value()).
//
// Cancellation, the same for every operation:
//   * coroutine destroyed while suspended (its Task dropped, or its loop destroyed; also
//     with_timeout and when_any): a queued job is removed and never runs; a running job
//     runs to the end and its result is dropped (a File it opened is closed, a write it
//     started completes, including an atomic rename).
//   * token: co_await fs::read_file(path).with_token(token) — every Op takes one this way
//     (a method rather than one more parameter, so that the defaulted arguments before it
//     need not be spelled out). Cancelled while the job is queued: removed, never runs,
//     and the await throws fs::Error with operation_canceled in the next pending phase.
//     Cancelled while it runs: read_file and remove_all stop early (between reads, between
//     entries; what was removed stays removed), every other call runs to its end; the
//     coroutine resumes once the call has returned — so nothing it still does can race
//     with what the coroutine does next (a cancelled write_file cannot overlap the next
//     write of the same file) — and the await throws operation_canceled. A token already
//     cancelled starts nothing.
//   * callback form: the returned WorkHandle's cancel() removes a job that has not
//     started (the callback then gets operation_canceled); a running job cannot be
//     stopped — cancel() returns false and the callback gets the result.
//
// Paths and data are copied (or moved) into the job, so the caller's buffers may go away
// as soon as the call returns. All paths are plain POSIX paths, relative ones resolved
// against the process's working directory when the job runs.
#pragma once

#include <weft/async.hpp>
#include <weft/error.hpp>
#include <weft/function.hpp>
#include <weft/pool.hpp>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft::fs {

// ---- values ------------------------------------------------------------------------

enum class FileType : unsigned char {
  regular,
  directory,
  symlink,
  fifo,
  socket,
  character,
  block,
  unknown,  // readdir only: the entry vanished before its type could be read
};
const char* to_string(FileType) noexcept;

// Nanosecond time stamps on the system clock.
using FileTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

// The result of stat(), lstat() and File::stat().
struct Stat {
  FileType type = FileType::unknown;
  std::uint32_t mode = 0;  // st_mode: the type bits and the permission bits
  std::uint64_t size = 0;
  std::uint64_t ino = 0;
  std::uint64_t dev = 0;
  std::uint64_t nlink = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  FileTime atime{};
  FileTime mtime{};
  FileTime ctime{};

  std::uint32_t permissions() const noexcept { return mode & 07777u; }
  bool is_regular() const noexcept { return type == FileType::regular; }
  bool is_directory() const noexcept { return type == FileType::directory; }
  bool is_symlink() const noexcept { return type == FileType::symlink; }
};

// One entry of readdir(); "." and ".." are never listed.
struct DirEntry {
  std::string name;
  FileType type = FileType::unknown;  // the entry itself: a symlink is reported as symlink
  friend bool operator==(const DirEntry&, const DirEntry&) = default;
};

// How open() opens a file; combine with |. O_CLOEXEC is always added.
enum class OpenFlags : unsigned {
  read = 1u << 0,
  write = 1u << 1,
  read_write = read | write,
  create = 1u << 2,     // O_CREAT, with open()'s mode (less the umask)
  truncate = 1u << 3,   // O_TRUNC
  append = 1u << 4,     // O_APPEND (implies write)
  exclusive = 1u << 5,  // O_EXCL: with create, fail with EEXIST if the file exists
};
constexpr OpenFlags operator|(OpenFlags a, OpenFlags b) noexcept {
  return static_cast<OpenFlags>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has(OpenFlags set, OpenFlags flag) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(flag)) != 0;
}

struct MkdirOptions {
  // Like `mkdir -p`: create missing parents; an existing directory is not an error (an
  // existing non-directory still fails with EEXIST).
  bool recursive = false;
  unsigned mode = 0777;  // less the umask; also used for the parents
};

struct WriteOptions {
  // Replace the file atomically: write a temporary file in the same directory (unique
  // name, O_EXCL), fsync it, rename it over the target, fsync the directory. Readers see
  // the old content or the new one, never a mix, and after a crash one of the two
  // survives. A failure leaves the target untouched and removes the temporary file. The
  // replacement keeps the permission bits of an existing regular target. A symlink at the
  // target is replaced by the file, not followed. Errors name the target path (op "open"
  // when the temporary file cannot be created, "write"/"fsync"/"rename" after), except a
  // failing fsync of the directory, reported for the directory once the new content is
  // already in place.
  bool atomic = false;
  // Non-atomic writes: fsync the file before closing it (atomic writes always do).
  bool fsync = false;
  unsigned mode = 0666;  // for a newly created file, less the umask
};

// ---- errors ------------------------------------------------------------------------

// What failed: the errno (or weft error), the failing call and the path(s) it concerns.
struct ErrorInfo {
  std::error_code code;
  // The system call that failed ("open", "read", "rename", ...), or the name of the weft
  // operation ("read_file", ...) when the job never ran (canceled, queue_full). A string
  // literal.
  const char* op = "";
  std::string path;
  std::string dest;  // rename's destination; empty otherwise
};

// Thrown by the coroutine forms. what(): "<op> '<path>'[ -> '<dest>']: <message>".
// Copying never throws (the details are shared).
class Error : public std::system_error {
 public:
  explicit Error(ErrorInfo info);
  const std::string& path() const noexcept { return info_->path; }
  const std::string& dest() const noexcept { return info_->dest; }
  const char* op() const noexcept { return info_->op; }
  const ErrorInfo& info() const noexcept { return *info_; }

 private:
  std::shared_ptr<const ErrorInfo> info_;
};

}  // namespace weft::fs

// How weft::Result reads an fs::ErrorInfo (see weft/error.hpp).
template <>
struct weft::ErrorTraits<weft::fs::ErrorInfo> {
  static std::error_code code(const fs::ErrorInfo& e) noexcept { return e.code; }
  static std::string message(const fs::ErrorInfo& e) { return fs::Error(e).what(); }
  [[noreturn]] static void raise(const fs::ErrorInfo& e) { throw fs::Error(e); }
};

namespace weft::fs {

// The result handed to a callback: weft::Result with the ErrorInfo as its error, so the
// failing call and path travel with the code (r.failure().op, r.failure().path).
// value() throws fs::Error.
template <class T>
using Outcome = Result<T, ErrorInfo>;

template <class T>
using Callback = Function<void(Outcome<T>&)>;

// ---- the awaitable -----------------------------------------------------------------

// co_await-ed once; resumes on the loop thread with the value or throws fs::Error. Owns
// its pool job (see the cancellation rules above). Built by the functions below.
template <class T>
class [[nodiscard]] Op {
 public:
  using Work = Function<Outcome<T>()>;
  Op(Loop& loop, Work work, const char* op, std::string path)
      : inner_(loop, std::move(work), WorkClass::fs), op_(op), path_(std::move(path)) {}

  // The token that cancels this operation (see "Cancellation" above). Before awaiting.
  Op with_token(CancelToken token) && {
    inner_.set_token(std::move(token));
    return std::move(*this);
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return inner_.await_suspend(h); }
  T await_resume() {
    Outcome<T> out = outcome();
    if constexpr (std::is_void_v<T>) {
      out.value();
    } else {
      return std::move(out).value();
    }
  }

 private:
  Outcome<T> outcome() {
    try {
      return inner_.await_resume();
    } catch (const std::system_error& e) {  // refused (queue_full) or cancelled by the token
      return Outcome<T>(ErrorInfo{e.code(), op_, std::move(path_), {}});
    }
  }

  BlockingAwaiter<Work> inner_;
  const char* op_;
  std::string path_;
};

// ---- File --------------------------------------------------------------------------

namespace detail {
class Descriptor;
}

// An open file descriptor, owned. Move-only; loop-thread only. Operations run on the pool
// of the loop the file was opened on (or Loop::current() for a default-constructed File).
//
// Lifetime: every operation in flight shares ownership of the descriptor, so destroying
// or closing a File while an operation runs is safe — the descriptor is closed when the
// last of them ends (on that pool thread) and is never reused under a running call.
// Destroying an open File with nothing in flight closes the descriptor right there with
// close(2): on a local file system that is a short, non-blocking call, and it keeps
// RAII simple. Prefer `co_await file.close()` where a close may be slow (network file
// systems) or where its error matters (some file systems report write errors there).
class File {
 public:
  File() noexcept;
  // Adopts fd (a negative fd makes a closed File); for open() and tests.
  File(Loop* loop, int fd, std::string path);
  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  bool is_open() const noexcept;
  int fd() const noexcept;  // -1 when closed
  const std::string& path() const noexcept { return path_; }

  // pread: up to `size` bytes at `offset`; fewer only at end of file (empty past it).
  Op<std::string> read(std::uint64_t offset, std::size_t size);
  WorkHandle read(std::uint64_t offset, std::size_t size, Callback<std::string> cb);
  // pwrite, repeated until all of `data` is written; returns data.size(). On a file
  // opened with OpenFlags::append, Linux appends whatever the offset.
  Op<std::size_t> write(std::uint64_t offset, std::string data);
  WorkHandle write(std::uint64_t offset, std::string data, Callback<std::size_t> cb);
  // fstat.
  Op<Stat> stat();
  WorkHandle stat(Callback<Stat> cb);
  // fsync.
  Op<void> sync();
  WorkHandle sync(Callback<void> cb);
  // The File is closed at once (is_open() becomes false); close(2) runs on the pool and
  // its error is reported — unless operations are still in flight, in which case the
  // last of them closes the descriptor and the result is success. Closing a closed File
  // succeeds (idempotent). An operation started on a closed File fails with EBADF.
  Op<void> close();
  WorkHandle close(Callback<void> cb);

 private:
  Loop& loop() const;

  Loop* loop_ = nullptr;
  std::shared_ptr<detail::Descriptor> fd_;
  std::string path_;
};

// ---- operations --------------------------------------------------------------------
// Each: coroutine form with a Loop, coroutine form on Loop::current(), callback form.
// Typical errors are listed; any errno of the underlying calls may be reported.

// open(2) with O_CLOEXEC. ENOENT, EACCES, EEXIST (create|exclusive), EISDIR (writing a
// directory), ENOTDIR.
Op<File> open(Loop& loop, std::string path, OpenFlags flags = OpenFlags::read,
              unsigned mode = 0666);
WorkHandle open(Loop& loop, std::string path, OpenFlags flags, unsigned mode, Callback<File> cb);
inline Op<File> open(std::string path, OpenFlags flags = OpenFlags::read, unsigned mode = 0666) {
  return open(current_loop(), std::move(path), flags, mode);
}

// stat(2) follows symlinks; lstat(2) describes the link itself. ENOENT, ENOTDIR, EACCES.
Op<Stat> stat(Loop& loop, std::string path);
WorkHandle stat(Loop& loop, std::string path, Callback<Stat> cb);
inline Op<Stat> stat(std::string path) { return stat(current_loop(), std::move(path)); }
Op<Stat> lstat(Loop& loop, std::string path);
WorkHandle lstat(Loop& loop, std::string path, Callback<Stat> cb);
inline Op<Stat> lstat(std::string path) { return lstat(current_loop(), std::move(path)); }

// The entries of a directory, in the order the file system returns them (unsorted).
// ENOENT, ENOTDIR, EACCES.
Op<std::vector<DirEntry>> readdir(Loop& loop, std::string path);
WorkHandle readdir(Loop& loop, std::string path, Callback<std::vector<DirEntry>> cb);
inline Op<std::vector<DirEntry>> readdir(std::string path) {
  return readdir(current_loop(), std::move(path));
}

// mkdir(2), or `mkdir -p` with recursive. EEXIST, ENOENT (missing parent, non-recursive),
// ENOTDIR (a component is not a directory), EACCES.
Op<void> mkdir(Loop& loop, std::string path, MkdirOptions options = {});
WorkHandle mkdir(Loop& loop, std::string path, MkdirOptions options, Callback<void> cb);
inline Op<void> mkdir(std::string path, MkdirOptions options = {}) {
  return mkdir(current_loop(), std::move(path), options);
}

// rename(2): replaces `to` atomically. The error's path() is `from`, dest() is `to`.
// ENOENT, EISDIR (file over a directory), ENOTEMPTY, ENOTDIR, EXDEV, EACCES.
Op<void> rename(Loop& loop, std::string from, std::string to);
WorkHandle rename(Loop& loop, std::string from, std::string to, Callback<void> cb);
inline Op<void> rename(std::string from, std::string to) {
  return rename(current_loop(), std::move(from), std::move(to));
}

// unlink(2) a non-directory: ENOENT, EISDIR, ENOTDIR, EACCES.
Op<void> unlink(Loop& loop, std::string path);
WorkHandle unlink(Loop& loop, std::string path, Callback<void> cb);
inline Op<void> unlink(std::string path) { return unlink(current_loop(), std::move(path)); }

// rmdir(2) an empty directory: ENOENT, ENOTEMPTY, ENOTDIR, EACCES.
Op<void> rmdir(Loop& loop, std::string path);
WorkHandle rmdir(Loop& loop, std::string path, Callback<void> cb);
inline Op<void> rmdir(std::string path) { return rmdir(current_loop(), std::move(path)); }

// Removes `path` and, for a directory, everything below it, like
// std::filesystem::remove_all: symlinks are removed, never followed; a missing path
// removes nothing. Returns the number of entries removed. Stops at the first error,
// reported with the path of the entry that failed (what was removed stays removed).
Op<std::uint64_t> remove_all(Loop& loop, std::string path);
WorkHandle remove_all(Loop& loop, std::string path, Callback<std::uint64_t> cb);
inline Op<std::uint64_t> remove_all(std::string path) {
  return remove_all(current_loop(), std::move(path));
}

// realpath(3): the absolute path with symlinks, "." and ".." resolved. ENOENT, ENOTDIR,
// ELOOP, EACCES.
Op<std::string> realpath(Loop& loop, std::string path);
WorkHandle realpath(Loop& loop, std::string path, Callback<std::string> cb);
inline Op<std::string> realpath(std::string path) {
  return realpath(current_loop(), std::move(path));
}

// The whole content of a file (read until end of file, so /proc files work too).
// ENOENT, EISDIR (op "read"), ENOTDIR, EACCES.
Op<std::string> read_file(Loop& loop, std::string path);
WorkHandle read_file(Loop& loop, std::string path, Callback<std::string> cb);
inline Op<std::string> read_file(std::string path) {
  return read_file(current_loop(), std::move(path));
}

// Creates or truncates `path` and writes `data` (see WriteOptions for atomic and fsync).
// ENOENT (missing directory), EISDIR, ENOTDIR, EACCES, ENOSPC; with atomic, a failing
// rename (e.g. EISDIR when the target is a directory) is reported as op "rename".
Op<void> write_file(Loop& loop, std::string path, std::string data, WriteOptions options = {});
WorkHandle write_file(Loop& loop, std::string path, std::string data, WriteOptions options,
                      Callback<void> cb);
inline Op<void> write_file(std::string path, std::string data, WriteOptions options = {}) {
  return write_file(current_loop(), std::move(path), std::move(data), options);
}

// Appends `data` (O_APPEND), creating the file (mode 0666 less the umask) if needed.
// Each call is one open/write/close; concurrent appends from several jobs do not
// interleave within a write(2), though a very large append may be split.
Op<void> append_file(Loop& loop, std::string path, std::string data);
WorkHandle append_file(Loop& loop, std::string path, std::string data, Callback<void> cb);
inline Op<void> append_file(std::string path, std::string data) {
  return append_file(current_loop(), std::move(path), std::move(data));
}

}  // namespace weft::fs
