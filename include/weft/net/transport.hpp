// Transport: the byte-stream interface shared by net::Stream (plain TCP / Unix) and
// tls::Stream (TLS over a net::Stream), so that the HTTP server, the HTTP client and
// WebSocket are written once against either.
//
// The contract of every member is net::Stream's (stream.hpp): reads deliver all unconsumed
// bytes in one span and the callback returns how many it consumed; write() returns false
// above the high-water mark and on_drain says when to continue; on_end / on_error fire at
// most once; no completion runs inside the call that started its operation; close() is
// idempotent and destroying the object in any state calls nothing back afterwards.
//
// The coroutine forms (read_some, read_until, read_exactly, write_all, shutdown(token)) are
// defined once here on top of the virtual callback API (stream_await.hpp has their cancel
// safety), so a tls::Stream has them exactly as a net::Stream does.
//
// Cost: code holding a concrete net::Stream (which is final) calls it directly; code
// holding a Transport& pays one indirect call per operation (the HTTP connection makes a
// handful per request).
#pragma once

#include <weft/cancel.hpp>
#include <weft/function.hpp>
#include <weft/handle.hpp>
#include <weft/net/address.hpp>
#include <weft/net/socket.hpp>
#include <weft/net/stream_await.hpp>
#include <weft/net/write_queue.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace weft::net {

// Receives every unconsumed byte; returns how many were consumed (clamped to the size).
using DataCallback = Function<std::size_t(std::span<char> unconsumed)>;

class Transport : public Handle {
 public:
  // -- reading ---------------------------------------------------------------------
  virtual std::error_code read_start(DataCallback cb) = 0;
  virtual std::error_code read_start() = 0;  // resumes with the current callback
  virtual void read_stop() noexcept = 0;
  virtual bool is_reading() const noexcept = 0;
  virtual std::size_t buffered_bytes() const noexcept = 0;
  virtual void on_end(Function<void()> cb) = 0;
  virtual void on_error(Function<void(std::error_code)> cb) = 0;
  virtual void on_drain(Function<void()> cb) = 0;
  virtual bool read_ended() const noexcept = 0;
  virtual std::error_code error() const noexcept = 0;

  // -- writing ---------------------------------------------------------------------
  virtual bool write(std::string_view data, WriteCallback done = {}) = 0;
  virtual bool write(std::string&& data, WriteCallback done = {}) = 0;
  bool write(const char* data, WriteCallback done = {}) {
    return write(std::string_view(data), std::move(done));
  }
  virtual bool write_borrowed(std::string_view data, WriteCallback done) = 0;
  virtual bool write_file(int fd, std::uint64_t offset, std::size_t len,
                          std::shared_ptr<const void> keep_alive, WriteCallback done = {}) = 0;
  virtual void cork() noexcept = 0;
  virtual void uncork() = 0;
  virtual void shutdown(WriteCallback done) = 0;
  virtual std::size_t queued_bytes() const noexcept = 0;
  virtual std::size_t high_water_mark() const noexcept = 0;
  virtual void set_high_water_mark(std::size_t bytes) noexcept = 0;
  virtual bool needs_drain() const noexcept = 0;

  // -- closing and addresses ---------------------------------------------------------
  virtual void close(Function<void()> on_close = {}) = 0;
  virtual void reset(Function<void()> on_close = {}) = 0;
  // An invalid Socket when the transport cannot be reduced to its socket (a TLS stream
  // never can: its session state lives in user space).
  virtual Socket detach_socket() = 0;
  virtual SocketAddress local_address() const noexcept = 0;
  virtual SocketAddress peer_address() const noexcept = 0;

  // -- coroutine forms (stream_await.hpp) --------------------------------------------
  ReadSomeAwaiter read_some(std::span<char> buf, CancelToken token = {}) noexcept {
    return ReadSomeAwaiter(*this, buf, std::move(token));
  }
  // Fills buf completely; throws weft::errc::unexpected_eof if the input ends first.
  // Cancel safety: NOT safe: bytes already copied into buf are consumed from the stream
  // and their count is lost with the coroutine.
  Task<std::size_t> read_exactly(std::span<char> buf, CancelToken token = {});
  ReadUntilAwaiter read_until(std::string& buf, std::string_view delim, std::size_t max,
                              CancelToken token = {}) noexcept {
    return ReadUntilAwaiter(*this, buf, delim, max, std::move(token));
  }
  WriteAllAwaiter write_all(std::string_view data, CancelToken token = {}) noexcept {
    return WriteAllAwaiter(*this, data, std::move(token));
  }
  ShutdownAwaiter shutdown(CancelToken token = {}) noexcept {
    return ShutdownAwaiter(*this, std::move(token));
  }

 protected:
  Transport(Loop& loop, HandleKind kind) : Handle(loop, kind) {}
  ~Transport() override = default;
};

}  // namespace weft::net
