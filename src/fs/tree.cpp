// Directory trees (pool thread): mkdir (optionally `mkdir -p`) and remove_all.
#include "fs/ops.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

namespace weft::fs::detail {

namespace {

bool is_directory(const std::string& path) noexcept {
  struct ::stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string strip_trailing_slashes(std::string path) {
  std::size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return path.empty() ? path : "/";
  path.resize(end + 1);
  return path;
}

// mkdir(2) treating an existing directory as success.
int make_one(const std::string& path, unsigned mode) noexcept {
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) == 0) return 0;
  int err = errno;
  if (err == EEXIST && is_directory(path)) return 0;
  return err;
}

// `mkdir -p`: on ENOENT the parent is created first (recursively), then path again. The
// depth of the recursion is the number of missing components.
Outcome<void> make_parents(const std::string& path, unsigned mode) {
  int err = make_one(path, mode);
  if (err == ENOENT) {
    std::string parent = dirname(path);
    if (parent == path || parent == "." || parent == "/") return sys_error("mkdir", path, err);
    Outcome<void> up = make_parents(parent, mode);
    if (!up) return up;
    err = make_one(path, mode);
  }
  if (err) return sys_error("mkdir", path, err);
  return {};
}

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

bool is_dot_or_dotdot(const char* n) noexcept {
  return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

class TreeRemover {
 public:
  // Removes `name` relative to parent_fd; `path` is its full path for errors.
  Outcome<void> remove(int parent_fd, const std::string& name, const std::string& path) {
    // A cancelled await (Op::with_token) stops between entries.
    if (this_job::stop_requested()) return sys_error("remove_all", path, ECANCELED);
    struct ::stat st {};
    if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) return {};  // already gone (or never there)
      return sys_error("lstat", path);
    }
    if (S_ISDIR(st.st_mode)) {
      Outcome<void> inner = remove_children(parent_fd, name, path);
      if (!inner) return inner;
    }
    if (::unlinkat(parent_fd, name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
      if (errno == ENOENT) return {};
      return sys_error(S_ISDIR(st.st_mode) ? "rmdir" : "unlink", path);
    }
    ++removed_;
    return {};
  }

  std::uint64_t removed() const noexcept { return removed_; }

 private:
  // Lists the directory first, then removes: no deletion while readdir iterates.
  Outcome<void> remove_children(int parent_fd, const std::string& name, const std::string& path) {
    int fd = ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return sys_error("open", path);
    std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd));
    if (!dir) {
      int err = errno;
      ::close(fd);
      return sys_error("opendir", path, err);
    }
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      const dirent* e = ::readdir(dir.get());
      if (!e) {
        if (errno != 0) return sys_error("readdir", path);
        break;
      }
      if (!is_dot_or_dotdot(e->d_name)) names.emplace_back(e->d_name);
    }
    for (const std::string& child : names) {
      std::string child_path = path;
      child_path.append("/").append(child);
      Outcome<void> r = remove(::dirfd(dir.get()), child, child_path);
      if (!r) return r;
    }
    return {};
  }

  std::uint64_t removed_ = 0;
};

}  // namespace

Outcome<void> mkdir(const std::string& path, MkdirOptions options) {
  if (!options.recursive) {
    if (::mkdir(path.c_str(), static_cast<mode_t>(options.mode)) < 0) {
      return sys_error("mkdir", path);
    }
    return {};
  }
  return make_parents(strip_trailing_slashes(path), options.mode);
}

Outcome<std::uint64_t> remove_all(const std::string& path) {
  TreeRemover remover;
  Outcome<void> r = remover.remove(AT_FDCWD, path, path);
  if (!r) return r.failure();
  return remover.removed();
}

}  // namespace weft::fs::detail
