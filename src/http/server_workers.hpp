// Server::State: the whole server — what the loops share, loop 0's Impl (on the
// constructor's loop) and the extra loop threads (ServerOptions::workers > 1).
//
// Threads. Everything in State belongs to loop 0's thread, except ExtraLoop's members
// marked otherwise. Loop 0 talks to an extra loop only through Loop::post (under
// ExtraLoop::mutex, so it never posts to a loop that is gone); an extra thread talks back
// only by posting one "exited" note to loop 0, which then joins it.
#pragma once

#include "http/server_impl.hpp"

#include <weft/loop_thread.hpp>

#include <memory>
#include <vector>

namespace weft::http {

// One extra loop thread (a LoopThread): its Impl lives on that thread, from start to exit.
class ExtraLoop {
 public:
  struct Setup {
    std::shared_ptr<Runtime> runtime;
    ServerShared* shared;
    LoopCounters* counters;
    net::SocketAddress address;
    Loop::KeepAlive loop0_alive;  // released once the exited note is posted
    Function<void()> on_exit;     // posted to loop 0 when the thread ends
    Loop* loop0;
    unsigned index;  // for the thread's name
  };

  ExtraLoop() = default;
  ExtraLoop(const ExtraLoop&) = delete;
  ExtraLoop& operator=(const ExtraLoop&) = delete;
  ~ExtraLoop();  // joins

  // Starts the thread and waits until its listener listens, or for the error.
  std::error_code start(Setup setup);
  // Graceful close of this loop's share (no-op once the loop is gone). Thread-safe.
  void close(Duration deadline);
  // Drops this loop's share at once and stops its loop. Thread-safe.
  void stop();
  void join();

 private:
  void open(LoopThread& thread, Setup& setup);

  std::unique_ptr<LoopThread> thread_;
  std::unique_ptr<ServerImpl> impl_;  // the loop thread's own
};

struct Server::State {
  State(Loop& loop, ServerOptions options);
  ~State();

  std::error_code listen(const net::SocketAddress& address);
  void close(Duration deadline, Function<void()> done);
  void maybe_finish_close();
  void on_extra_exit(std::uint64_t serial);
  void stop_extras() noexcept;
  ServerStats stats() const noexcept;
  unsigned workers() const noexcept { return shared.options.workers; }
  bool listening() const noexcept { return impl0.listener && impl0.listener->is_listening(); }

  // Alive while the State is: notes from extra threads find it through this (loop 0).
  struct Token {
    State* state;
  };

  Loop& loop;
  ServerShared shared;
  ServerImpl impl0;
  struct Extra {
    std::uint64_t serial;
    std::unique_ptr<ExtraLoop> loop;
    bool exited = false;
  };
  std::vector<Extra> extras;
  std::shared_ptr<Token> token = std::make_shared<Token>(Token{this});
  std::vector<Function<void()>> close_done;
  std::uint64_t next_serial = 0;
  bool closing = false;
  bool impl0_closed = false;
  bool closed = false;
};

}  // namespace weft::http
