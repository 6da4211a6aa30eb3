#include <weft/net/write_queue.hpp>

#include <sys/uio.h>

#include <algorithm>

namespace weft::net::detail {

void WriteQueue::push_copy(std::string_view data, WriteCallback done) {
  if (data.empty() && !done) return;
  // Extend the last segment when it is a copied one without a callback: a burst of small
  // writes becomes one iovec.
  if (!empty() && segments_.back().kind == Kind::copied && !segments_.back().done) {
    arena_.append(data);
    segments_.back().len += data.size();
    segments_.back().done = std::move(done);
  } else {
    Segment& s = segments_.emplace_back();
    s.kind = Kind::copied;
    s.offset = arena_.size();
    s.len = data.size();
    s.done = std::move(done);
    arena_.append(data);
  }
  bytes_ += data.size();
}

void WriteQueue::push_owned(std::string&& data, std::size_t skip, WriteCallback done) {
  Segment& s = segments_.emplace_back();
  s.kind = Kind::owned;
  s.owned = std::move(data);
  s.len = s.owned.size() - skip;
  s.done = std::move(done);
  bytes_ += s.len;
}

void WriteQueue::push_borrowed(std::string_view data, WriteCallback done) {
  Segment& s = segments_.emplace_back();
  s.kind = Kind::borrowed;
  s.ptr = data.data();
  s.len = data.size();
  s.done = std::move(done);
  bytes_ += s.len;
}

void WriteQueue::push_file(int fd, std::uint64_t offset, std::size_t len,
                           std::shared_ptr<const void> keep_alive, WriteCallback done) {
  Segment& s = segments_.emplace_back();
  s.kind = Kind::file;
  s.file_fd = fd;
  s.file_offset = offset;
  s.len = len;
  s.keep_alive = std::move(keep_alive);
  s.done = std::move(done);
  bytes_ += len;
}

bool WriteQueue::front_is_file() const noexcept {
  return !empty() && segments_[head_].kind == Kind::file;
}

WriteQueue::FileRange WriteQueue::front_file() const noexcept {
  const Segment& s = segments_[head_];
  return {s.file_fd, s.file_offset, s.len};
}

const char* WriteQueue::data_of(const Segment& s) const noexcept {
  switch (s.kind) {
    case Kind::copied:
      return arena_.data() + s.offset;
    case Kind::owned:
      return s.owned.data() + (s.owned.size() - s.len);
    case Kind::borrowed:
      return s.ptr;
    case Kind::file:
      return nullptr;
  }
  return nullptr;
}

int WriteQueue::fill(iovec* iov, int max, bool* file_follows) const noexcept {
  int n = 0;
  if (file_follows) *file_follows = false;
  for (std::size_t i = head_; i < segments_.size() && n < max; ++i) {
    const Segment& s = segments_[i];
    if (s.kind == Kind::file) {
      if (file_follows) *file_follows = true;
      break;
    }
    if (s.len == 0) continue;
    iov[n].iov_base = const_cast<char*>(data_of(s));  // NOLINT: iovec is not const-correct
    iov[n].iov_len = s.len;
    ++n;
  }
  return n;
}

void WriteQueue::advance(std::size_t n, std::vector<WriteCallback>& done) {
  bytes_ -= n;
  while (!empty()) {
    Segment& s = segments_[head_];
    const std::size_t take = std::min(n, s.len);
    s.len -= take;
    if (s.kind == Kind::copied) s.offset += take;
    if (s.kind == Kind::borrowed) s.ptr += take;
    if (s.kind == Kind::file) s.file_offset += take;
    n -= take;
    if (s.len != 0) break;
    pop_front(done);
  }
  reset_if_empty();
}

void WriteQueue::clear(std::vector<WriteCallback>& done) {
  while (!empty()) pop_front(done);
  bytes_ = 0;
  reset_if_empty();
}

void WriteQueue::pop_front(std::vector<WriteCallback>& done) {
  Segment& s = segments_[head_++];
  if (s.done) done.push_back(std::move(s.done));
  s.owned = std::string();  // release a big owned buffer now, not at the next reuse
  s.keep_alive.reset();     // and a file's descriptor
}

void WriteQueue::reset_if_empty() noexcept {
  if (empty()) {  // an idle stream holds no write storage (queueing is the slow path)
    if (segments_.capacity()) std::vector<Segment>().swap(segments_);
    head_ = 0;
    if (arena_.capacity() > 15) std::string().swap(arena_);
    arena_.clear();
    return;
  }
  // A stream that never fully drains: drop the written prefix once it dominates.
  if (head_ >= 64 && head_ * 2 >= segments_.size()) {
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  // Likewise for the arena: compact once the written prefix is large and the larger part.
  const std::size_t first = first_copied_offset();
  if (first >= 64 * 1024 && first * 2 >= arena_.size()) {
    arena_.erase(0, first);
    for (std::size_t i = head_; i < segments_.size(); ++i) {
      if (segments_[i].kind == Kind::copied) segments_[i].offset -= first;
    }
  }
}

std::size_t WriteQueue::first_copied_offset() const noexcept {
  for (std::size_t i = head_; i < segments_.size(); ++i) {
    if (segments_[i].kind == Kind::copied) return segments_[i].offset;
  }
  return arena_.size();
}

}  // namespace weft::net::detail
