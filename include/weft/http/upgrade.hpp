// Protocol upgrade (RFC 9110 §7.8): how a handler hands its connection to another protocol
// (WebSocket: weft/ws/) after a 101 (Switching Protocols) response.
//
// The handler returns Response(101) carrying an Upgraded object (Response::upgrade). The
// server writes the 101 head, stops parsing HTTP on that connection (its header, request
// and keep-alive timeouts no longer apply) and from then on lends the connection's
// transport to the Upgraded through an UpgradedIo: every byte after the request's head —
// including bytes that arrived with it — goes to Upgraded::on_data, and writes go out
// through UpgradedIo. Only a synchronous handler's response to a request that was not
// pipelined behind others can switch; otherwise the server answers 400 and closes.
//
// Lifetime: the connection owns the Upgraded (shared). on_closed runs exactly once, when
// the transport is gone (closed by either side, failed, or the server destroyed); the
// UpgradedIo must not be used after it. A graceful server close() calls on_server_close
// and lets the protocol end the connection itself (before close()'s deadline, when
// whatever is left is closed).
//
// Parking (plain TCP only, like idle keep-alive connections: ServerOptions::park_idle_after):
// when the protocol says it is parkable (nothing half-read, idle that long) and nothing is
// queued, the server frees the connection object and keeps only the socket, a watcher and
// the Upgraded. on_moved hands the protocol the parked connection's UpgradedIo (the old one
// must not be used any more): its writes go straight to the socket, and a write the kernel
// does not take whole, input, pause_input, shutdown or close unpark it first (a new
// connection object, handed over by on_moved again, before the call continues on it).
#pragma once

#include <weft/clock.hpp>
#include <weft/loop.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace weft::http {

// The connection's transport as the upgraded protocol sees it. Loop thread only.
class UpgradedIo {
 public:
  // Copies what cannot be written now. False when queued bytes exceed the high-water mark
  // (see set_high_water_mark) or the transport failed.
  virtual bool write(std::string_view bytes) = 0;
  // One frame shared by many sockets: a large one is kept alive (not copied) until written;
  // a small one (16 KiB or less) is written like write() (the rest copied when the socket
  // does not take it whole), which spares a completion callback per socket.
  virtual bool write_shared(const std::shared_ptr<const std::string>& bytes) = 0;
  virtual std::size_t queued_bytes() const noexcept = 0;
  // on_drain fires when the queue empties after write() returned false.
  virtual void set_high_water_mark(std::size_t bytes) noexcept = 0;
  virtual void pause_input() = 0;
  virtual void resume_input() = 0;
  // Half-close: queued bytes are written, then FIN; input is still delivered (the protocol
  // closes once the peer has finished too, or at its own deadline).
  virtual void shutdown() = 0;
  // At once: queued bytes are dropped.
  virtual void close() = 0;
  virtual Loop& loop() const noexcept = 0;

 protected:
  ~UpgradedIo() = default;
};

class Upgraded {
 public:
  virtual ~Upgraded() = default;
  // The 101 was queued: the protocol starts (writes may follow at once).
  virtual void on_open(UpgradedIo& io) = 0;
  // Every unconsumed input byte, as net::Stream delivers them; returns how many it used.
  virtual std::size_t on_data(std::span<char> bytes) = 0;
  virtual void on_drain() = 0;
  virtual void on_end() = 0;  // the peer sent its FIN
  virtual void on_closed(std::error_code error) = 0;
  virtual void on_server_close() = 0;
  // Whether the connection may be parked now (see "Parking"): the protocol holds no partial
  // input and received nothing for idle_after. The default: never.
  virtual bool parkable(TimePoint /*now*/, Duration /*idle_after*/) const noexcept { return false; }
  // The transport object changed (parked or unparked): io from now on.
  virtual void on_moved(UpgradedIo& /*io*/) {}
};

}  // namespace weft::http
