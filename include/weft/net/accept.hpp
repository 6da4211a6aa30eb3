// co_await listener.accept(): the coroutine form of accepting (included by listener.hpp).
//
//   net::Listener listener(loop);
//   if (auto ec = listener.listen(addr)) ...;        // no callback: coroutine mode
//   for (;;) { net::Stream s = co_await listener.accept(); ... }
//
// In coroutine mode the listener watches its socket only while an accept is pending:
// connections wait in the kernel's backlog until a coroutine accepts them (the backlog
// is the queue; a full one makes the kernel refuse or drop new SYNs). accept() takes the
// next connection at once if one is pending, without a loop pass.
// Errors (std::system_error): invalid_argument if the listener was started with a
// callback (the two forms do not mix), bad_file_descriptor if it is not listening,
// device_or_resource_busy if another accept is pending, operation_canceled if the
// listener is closed or the token cancelled while waiting, and accept(2)'s resource
// errors (EMFILE, ENFILE, ENOBUFS, ENOMEM: back off and try again; the callback form's
// descriptor shedding is not applied here).
// Cancel safety: safe. A connection is taken from the backlog only in the step that
// resumes the coroutine with it; an accept destroyed or cancelled before that has taken
// nothing, and the connection stays in the backlog for the next accept.
#pragma once

#include <weft/cancel.hpp>
#include <weft/net/socket.hpp>
#include <weft/net/stream.hpp>

#include <coroutine>
#include <system_error>

namespace weft::net {

class Listener;

class [[nodiscard]] AcceptAwaiter {
 public:
  AcceptAwaiter(Listener& l, StreamOptions opts, CancelToken token) noexcept
      : l_(&l), opts_(opts), token_(std::move(token)) {}
  AcceptAwaiter(const AcceptAwaiter&) = delete;
  AcceptAwaiter& operator=(const AcceptAwaiter&) = delete;
  ~AcceptAwaiter();

  bool await_ready();
  void await_suspend(std::coroutine_handle<> h);
  Stream await_resume();

 private:
  friend class Listener;
  // Called by the listener: a connection (or an error) for the pending accept.
  void complete(Socket s, std::error_code ec);
  void fail_later(std::error_code ec);  // listener closed: resume in the pending phase

  Listener* l_;
  StreamOptions opts_;
  CancelToken token_;
  CancelRegistration reg_;
  weft::detail::DeferredResume deferred_;
  std::coroutine_handle<> h_;
  Socket socket_;
  std::error_code ec_;
  bool waiting_ = false;
};

}  // namespace weft::net
