// WriteQueue: the bytes a Stream could not hand to the kernel yet (internal).
//
// Four kinds of segment: copied (bytes appended to one reusable arena, so a small write
// that has to wait costs a memcpy, not an allocation), owned (a moved-in std::string),
// borrowed (the caller keeps the bytes alive until its callback ran) and file (a range
// of an open file, sent with sendfile; a keep-alive token holds the descriptor open). Segments live
// in a vector reused across writes: a busy stream allocates nothing once warmed up.
#pragma once

#include <weft/function.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

struct iovec;

namespace weft::net {

using WriteCallback = Function<void(std::error_code)>;

namespace detail {

class WriteQueue {
 public:
  bool empty() const noexcept { return head_ == segments_.size(); }
  std::size_t bytes() const noexcept { return bytes_; }

  void push_copy(std::string_view data, WriteCallback done);
  // skip: leading bytes of data already written.
  void push_owned(std::string&& data, std::size_t skip, WriteCallback done);
  void push_borrowed(std::string_view data, WriteCallback done);
  void push_file(int fd, std::uint64_t offset, std::size_t len,
                 std::shared_ptr<const void> keep_alive, WriteCallback done);

  // A file range at the front of the queue, if the front segment is one.
  struct FileRange {
    int fd;
    std::uint64_t offset;
    std::size_t len;
  };
  bool front_is_file() const noexcept;
  FileRange front_file() const noexcept;

  // Fills up to max iovecs with the queued bytes, oldest first, stopping before the
  // first file segment (*file_follows tells whether one does); returns the count.
  int fill(iovec* iov, int max, bool* file_follows = nullptr) const noexcept;
  // Drops n written bytes. The callbacks of segments now fully written are appended to
  // `done` (in order) for the caller to run when it may call user code.
  void advance(std::size_t n, std::vector<WriteCallback>& done);
  // Empties the queue; every segment's callback is appended to `done`.
  void clear(std::vector<WriteCallback>& done);

 private:
  enum class Kind : unsigned char { copied, owned, borrowed, file };
  struct Segment {
    Kind kind;
    std::size_t offset = 0;     // copied: position in arena_ of the first unwritten byte
    const char* ptr = nullptr;  // borrowed/owned: first unwritten byte
    std::size_t len = 0;        // unwritten bytes
    std::string owned;
    int file_fd = -1;  // file: the descriptor and the next offset
    std::uint64_t file_offset = 0;
    std::shared_ptr<const void> keep_alive;
    WriteCallback done;
  };
  const char* data_of(const Segment& s) const noexcept;
  void pop_front(std::vector<WriteCallback>& done);
  void reset_if_empty() noexcept;
  std::size_t first_copied_offset() const noexcept;

  std::vector<Segment> segments_;
  std::size_t head_ = 0;  // first live segment
  std::string arena_;     // bytes of copied segments, in order
  std::size_t bytes_ = 0;
};

}  // namespace detail
}  // namespace weft::net
