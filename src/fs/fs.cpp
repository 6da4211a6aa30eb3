// weft::fs public API: errors, File, and the coroutine and callback forms of each
// operation (each a thin wrapper that moves its arguments into a pool job).
#include <weft/fs.hpp>

#include "fs/ops.hpp"
#include "fs/submit.hpp"

namespace weft::fs {

using detail::make_op;
using detail::submit_callback;

const char* to_string(FileType t) noexcept {
  switch (t) {
    case FileType::regular:
      return "regular";
    case FileType::directory:
      return "directory";
    case FileType::symlink:
      return "symlink";
    case FileType::fifo:
      return "fifo";
    case FileType::socket:
      return "socket";
    case FileType::character:
      return "character";
    case FileType::block:
      return "block";
    case FileType::unknown:
      break;
  }
  return "unknown";
}

namespace {

std::string describe(const ErrorInfo& e) {
  std::string s = std::string(e.op) + " '" + e.path + "'";
  if (!e.dest.empty()) s += " -> '" + e.dest + "'";
  return s;
}

}  // namespace

Error::Error(ErrorInfo info)
    : std::system_error(info.code, describe(info)),
      info_(std::make_shared<const ErrorInfo>(std::move(info))) {}

// ---- File --------------------------------------------------------------------------

File::File() noexcept = default;
File::File(Loop* loop, int fd, std::string path)
    : loop_(loop),
      fd_(fd >= 0 ? std::make_shared<detail::Descriptor>(fd) : nullptr),
      path_(std::move(path)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

bool File::is_open() const noexcept { return fd_ != nullptr; }
int File::fd() const noexcept { return fd_ ? fd_->get() : -1; }
Loop& File::loop() const { return loop_ ? *loop_ : current_loop(); }

namespace {

// The work of an operation on a File: `fn(fd)` with the descriptor kept alive, or EBADF
// when the File was closed before the call.
template <class T, class F>
auto on_descriptor(std::shared_ptr<detail::Descriptor> d, std::string path, const char* op, F fn) {
  return [d = std::move(d), path = std::move(path), op, fn]() -> Outcome<T> {
    if (!d) return detail::sys_error(op, path, EBADF);
    return fn(d->get(), path);
  };
}

// close(): reports close(2)'s error when this job holds the last reference.
auto close_work(std::shared_ptr<detail::Descriptor> d, std::string path) {
  return [d = std::move(d), path = std::move(path)]() mutable -> Outcome<void> {
    if (d && d.use_count() == 1) {
      if (int err = d->close()) return detail::sys_error("close", path, err);
    }
    d.reset();  // in-flight operations close it when the last one ends
    return {};
  };
}

auto read_fn(std::uint64_t offset, std::size_t size) {
  return
      [offset, size](int fd, const std::string& p) { return detail::pread(fd, p, offset, size); };
}
auto write_fn(std::uint64_t offset, std::string data) {
  return [offset, data = std::move(data)](int fd, const std::string& p) {
    return detail::pwrite(fd, p, offset, data);
  };
}
auto stat_fn() {
  return [](int fd, const std::string& p) { return detail::fstat(fd, p); };
}
auto sync_fn() {
  return [](int fd, const std::string& p) { return detail::fsync(fd, p); };
}

}  // namespace

Op<std::string> File::read(std::uint64_t offset, std::size_t size) {
  return make_op<std::string>(
      loop(), "read", path_, on_descriptor<std::string>(fd_, path_, "read", read_fn(offset, size)));
}
WorkHandle File::read(std::uint64_t offset, std::size_t size, Callback<std::string> cb) {
  return submit_callback<std::string>(
      loop(), "read", path_, on_descriptor<std::string>(fd_, path_, "read", read_fn(offset, size)),
      std::move(cb));
}

Op<std::size_t> File::write(std::uint64_t offset, std::string data) {
  return make_op<std::size_t>(
      loop(), "write", path_,
      on_descriptor<std::size_t>(fd_, path_, "write", write_fn(offset, std::move(data))));
}
WorkHandle File::write(std::uint64_t offset, std::string data, Callback<std::size_t> cb) {
  return submit_callback<std::size_t>(
      loop(), "write", path_,
      on_descriptor<std::size_t>(fd_, path_, "write", write_fn(offset, std::move(data))),
      std::move(cb));
}

Op<Stat> File::stat() {
  return make_op<Stat>(loop(), "fstat", path_, on_descriptor<Stat>(fd_, path_, "fstat", stat_fn()));
}
WorkHandle File::stat(Callback<Stat> cb) {
  return submit_callback<Stat>(loop(), "fstat", path_,
                               on_descriptor<Stat>(fd_, path_, "fstat", stat_fn()), std::move(cb));
}

Op<void> File::sync() {
  return make_op<void>(loop(), "fsync", path_, on_descriptor<void>(fd_, path_, "fsync", sync_fn()));
}
WorkHandle File::sync(Callback<void> cb) {
  return submit_callback<void>(loop(), "fsync", path_,
                               on_descriptor<void>(fd_, path_, "fsync", sync_fn()), std::move(cb));
}

Op<void> File::close() {
  Loop& l = loop();
  return make_op<void>(l, "close", path_, close_work(std::move(fd_), path_));
}
WorkHandle File::close(Callback<void> cb) {
  Loop& l = loop();
  return submit_callback<void>(l, "close", path_, close_work(std::move(fd_), path_), std::move(cb));
}

// ---- operations on paths -----------------------------------------------------------

namespace {

auto open_work(Loop* loop, std::string path, OpenFlags flags, unsigned mode) {
  return [loop, path = std::move(path), flags, mode]() -> Outcome<File> {
    Outcome<int> fd = detail::open_fd(path, detail::to_open_flags(flags), mode);
    if (!fd) return fd.failure();
    return File(loop, *fd, path);
  };
}

}  // namespace

// NOLINTBEGIN(performance-unnecessary-value-param): the public fs API takes paths by
// value (a caller may move one in); each operation keeps two copies of it (the error's
// path and the pool job's), so a const reference would not save the copies.
Op<File> open(Loop& loop, std::string path, OpenFlags flags, unsigned mode) {
  return make_op<File>(loop, "open", path, open_work(&loop, path, flags, mode));
}
WorkHandle open(Loop& loop, std::string path, OpenFlags flags, unsigned mode, Callback<File> cb) {
  return submit_callback<File>(loop, "open", path, open_work(&loop, path, flags, mode),
                               std::move(cb));
}

// One path, one detail function: the coroutine and callback forms.
#define WEFT_FS_PATH_OP(T, name, call)                                              \
  Op<T> name(Loop& loop, std::string path) {                                        \
    return make_op<T>(loop, #name, path, [path]() -> Outcome<T> { return call; });  \
  }                                                                                 \
  WorkHandle name(Loop& loop, std::string path, Callback<T> cb) {                   \
    return submit_callback<T>(                                                      \
        loop, #name, path, [path]() -> Outcome<T> { return call; }, std::move(cb)); \
  }

WEFT_FS_PATH_OP(Stat, stat, detail::stat(path, true))
WEFT_FS_PATH_OP(Stat, lstat, detail::stat(path, false))
WEFT_FS_PATH_OP(std::vector<DirEntry>, readdir, detail::readdir(path))
WEFT_FS_PATH_OP(void, unlink, detail::unlink(path))
WEFT_FS_PATH_OP(void, rmdir, detail::rmdir(path))
WEFT_FS_PATH_OP(std::uint64_t, remove_all, detail::remove_all(path))
WEFT_FS_PATH_OP(std::string, realpath, detail::realpath(path))
WEFT_FS_PATH_OP(std::string, read_file, detail::read_file(path))

#undef WEFT_FS_PATH_OP

Op<void> mkdir(Loop& loop, std::string path, MkdirOptions options) {
  return make_op<void>(loop, "mkdir", path,
                       [path, options] { return detail::mkdir(path, options); });
}
WorkHandle mkdir(Loop& loop, std::string path, MkdirOptions options, Callback<void> cb) {
  return submit_callback<void>(
      loop, "mkdir", path, [path, options] { return detail::mkdir(path, options); }, std::move(cb));
}

Op<void> rename(Loop& loop, std::string from, std::string to) {
  return make_op<void>(loop, "rename", from,
                       [from, to = std::move(to)] { return detail::rename(from, to); });
}
WorkHandle rename(Loop& loop, std::string from, std::string to, Callback<void> cb) {
  return submit_callback<void>(
      loop, "rename", from, [from, to = std::move(to)] { return detail::rename(from, to); },
      std::move(cb));
}

Op<void> write_file(Loop& loop, std::string path, std::string data, WriteOptions options) {
  return make_op<void>(loop, "write_file", path, [path, data = std::move(data), options] {
    return detail::write_file(path, data, options);
  });
}
WorkHandle write_file(Loop& loop, std::string path, std::string data, WriteOptions options,
                      Callback<void> cb) {
  return submit_callback<void>(
      loop, "write_file", path,
      [path, data = std::move(data), options] { return detail::write_file(path, data, options); },
      std::move(cb));
}

Op<void> append_file(Loop& loop, std::string path, std::string data) {
  return make_op<void>(loop, "append_file", path,
                       [path, data = std::move(data)] { return detail::append_file(path, data); });
}
WorkHandle append_file(Loop& loop, std::string path, std::string data, Callback<void> cb) {
  return submit_callback<void>(
      loop, "append_file", path,
      [path, data = std::move(data)] { return detail::append_file(path, data); }, std::move(cb));
}
// NOLINTEND(performance-unnecessary-value-param)

}  // namespace weft::fs
