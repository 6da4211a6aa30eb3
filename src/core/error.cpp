#include <weft/error.hpp>

#include <string>

namespace weft {
namespace {

class WeftCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::queue_full:
        return "queue full";
      case errc::loop_busy:
        return "loop has open handles or pending requests";
      case errc::loop_gone:
        return "the loop no longer exists";
      case errc::work_threw:
        return "the pool job threw an exception";
      case errc::wrong_thread:
        return "called from a thread that does not own the loop";
      case errc::unexpected_eof:
        return "end of input before the expected bytes";
    }
    return "unknown weft error";
  }
};

}  // namespace

const std::error_category& weft_category() noexcept {
  static const WeftCategory category;
  return category;
}

}  // namespace weft
