// FetchContext: timeouts, the user's token and the errors they turn into.
#include <chrono>
#include <string>

#include "http_client/internal.hpp"

namespace weft::http::detail {

namespace {
std::string ms(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}
}  // namespace

FetchContext::FetchContext(Loop& l, FetchOptions options)
    : loop(l), opts(std::move(options)), timer_(l) {
  if (opts.timeouts.total > Duration::zero()) {
    has_total_ = true;
    total_due_ = loop.now() + opts.timeouts.total;
  }
  user_reg_.attach(opts.token, [this] {
    why_ = Why::user;
    if (source_) source_->cancel();
  });
}

FetchContext::~FetchContext() = default;

CancelToken FetchContext::arm(Duration limit, const char* name) {
  check_alive();
  disarm();
  why_ = Why::none;
  // A source nobody cancelled serves the next wait too (the previous wait's registrations
  // are gone with its awaiter): one allocation per fetch instead of one per wait.
  if (!source_ || source_->cancelled()) source_ = std::make_unique<CancelSource>();
  name_ = name;
  limit_ = limit;
  const TimePoint now = loop.now();
  TimePoint due = limit > Duration::zero() ? now + limit : TimePoint::max();
  Why cause = Why::limit;
  if (has_total_ && total_due_ <= due) {
    due = total_due_;
    cause = Why::total;
  }
  if (due != TimePoint::max()) {
    timer_.start(
        [this, cause] {
          why_ = cause;
          source_->cancel();
        },
        due > now ? due - now : Duration::zero());
  }
  return source_->token();
}

// Keeps why_: the error raised after a cancelled wait still needs it.
void FetchContext::disarm() noexcept { timer_.stop(); }

void FetchContext::check_alive() {
  if (why_ == Why::user || opts.token.cancelled())
    throw FetchError(FetchErrc::cancelled, "fetch cancelled",
                     std::make_error_code(std::errc::operation_canceled));
  if (why_ == Why::total || (has_total_ && loop.now() >= total_due_)) {
    throw FetchError(FetchErrc::timeout, "total timeout (" + ms(opts.timeouts.total) + ") expired",
                     std::make_error_code(std::errc::timed_out));
  }
}

void FetchContext::fail(std::error_code ec, const std::string& doing, const std::string& where) {
  const Why why = why_;
  timer_.stop();
  if (ec == std::errc::operation_canceled && why == Why::limit) {
    throw FetchError(FetchErrc::timeout,
                     std::string(name_) + " timeout (" + ms(limit_) + ") expired " + doing +
                         (where.empty() ? "" : " (" + where + ")"),
                     std::make_error_code(std::errc::timed_out));
  }
  if (ec == std::errc::operation_canceled) check_alive();
  if (ec == std::errc::timed_out) {
    throw FetchError(FetchErrc::timeout,
                     std::string(name_) + " timeout expired " + doing +
                         (where.empty() ? "" : " (" + where + ")"),
                     ec);
  }
  throw FetchError(FetchErrc::io, "error " + doing + " (" + where + "): " + ec.message(), ec);
}

}  // namespace weft::http::detail
