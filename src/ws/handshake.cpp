// The opening handshake (RFC 6455 §4.2): checks, Sec-WebSocket-Accept, subprotocols.
#include "ws/hub.hpp"

#include <weft/http/http_error.hpp>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>

namespace weft::ws::detail {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(item) for each comma-separated item of a field value, trimmed; stops when f
// returns true, and returns whether it did.
template <class F>
bool any_item(std::string_view list, F f) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    if (f(trim(list.substr(0, comma)))) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool has_token(std::string_view list, std::string_view token) {
  return any_item(list, [&](std::string_view item) { return iequals(item, token); });
}

// A key is 16 bytes in base64: 22 characters of the alphabet and "==".
bool is_valid_key(std::string_view key) noexcept {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
  }
  return true;
}

}  // namespace

std::string accept_key(std::string_view key) {
  std::string input(key);
  input.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

void check_handshake(const http::Request& req) {
  if (req.method() != "GET" || req.version_minor() < 1) {
    throw http::HttpError(400, "WebSocket handshake needs GET over HTTP/1.1");
  }
  if (!has_token(req.header("upgrade"), "websocket") ||
      !has_token(req.header("connection"), "upgrade")) {
    throw http::HttpError(400, "Expected a WebSocket upgrade (Upgrade: websocket)");
  }
  if (trim(req.header("sec-websocket-version")) != "13") {
    throw http::HttpError(426, "Unsupported WebSocket version (this server speaks 13)");
  }
  if (!is_valid_key(trim(req.header("sec-websocket-key")))) {
    throw http::HttpError(400, "Missing or malformed Sec-WebSocket-Key");
  }
}

std::string choose_protocol(std::string_view offered, const std::vector<std::string>& allowed) {
  std::string chosen;
  any_item(offered, [&](std::string_view item) {
    if (item.empty()) return false;
    for (const std::string& a : allowed) {
      if (a == item) chosen = a;
    }
    if (allowed.empty()) chosen = item;
    return !chosen.empty();
  });
  return chosen;
}

}  // namespace weft::ws::detail
