// tls::Session: a TLS session a client may resume on its next connection to the same
// server (an abbreviated handshake: no certificate exchange, no verification, one round
// trip less). Taken from a connected client Stream (Stream::session()) and handed to the
// next one (the Stream constructor or tls::ConnectOptions::session); the server decides
// whether it resumes (Stream::session_reused()).
//
// A cheap, copyable reference (OpenSSL's SSL_SESSION is reference counted and immutable
// once made); any thread. Empty (default) means "no session": a full handshake.
// Only resume a session with a server of the same name (the HTTP client keys them by
// origin): the server's identity was verified for that name when the session was made.
#pragma once

#include <memory>

struct ssl_session_st;  // OpenSSL's SSL_SESSION

namespace weft::tls {

class Session {
 public:
  Session() = default;
  // Takes one reference of `s` (SSL_get1_session's); null: empty.
  static Session adopt(ssl_session_st* s);
  explicit operator bool() const noexcept { return s_ != nullptr; }
  ssl_session_st* native() const noexcept { return s_.get(); }

 private:
  std::shared_ptr<ssl_session_st> s_;
};

}  // namespace weft::tls
