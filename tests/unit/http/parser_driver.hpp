// Test driver for weft::http::RequestParser: plays the role of a connection that appends
// reads to a buffer, calls parse() until it needs more, drops consumed bytes and records
// everything the parser reported as a Transcript. Shared by the unit tests, the
// differential test and the fuzz target.
//
// It also checks the calling contract on every call and records violations: consumed never
// exceeds the input; every view lies inside the bytes passed to that call; a body piece is
// non-empty and ends exactly where `consumed` ends; a head in progress consumes nothing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/http/parser.hpp"

namespace weft::http::testing {

using Fields = std::vector<std::pair<std::string, std::string>>;

// One request as the parser reported it, copied out of the buffer.
struct Message {
  std::string method;
  std::string target;
  int version_minor = 1;
  Fields fields;
  std::string host;
  BodyFraming framing = BodyFraming::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  bool expect_continue = false;
  bool upgrade = false;
  std::string body;
  Fields trailers;
  bool complete = true;  // message_complete was reported

  bool operator==(const Message&) const = default;
};

struct Transcript {
  std::vector<Message> messages;  // the last one may be incomplete
  ParseErrc error = ParseErrc::none;

  bool operator==(const Transcript&) const = default;
};

inline Fields copy_fields(std::span<const HeaderField> fields) {
  Fields out;
  for (const HeaderField& f : fields) out.emplace_back(f.name, f.value);
  return out;
}

inline Message copy_head(const RequestHead& h) {
  Message m;
  m.method = h.method;
  m.target = h.target;
  m.version_minor = h.version_minor;
  m.fields = copy_fields(h.fields);
  m.host = h.host;
  m.framing = h.framing;
  m.content_length = h.content_length;
  m.keep_alive = h.keep_alive;
  m.expect_continue = h.expect_continue;
  m.upgrade = h.upgrade;
  m.complete = false;
  return m;
}

class Driver {
 public:
  explicit Driver(ParserLimits limits = {}) : parser_(limits) {}

  // Appends bytes as if read from the socket and parses as far as possible.
  void feed(std::string_view bytes) {
    if (transcript_.error != ParseErrc::none) return;
    buffer_.append(bytes);
    while (step()) {
    }
  }

  const Transcript& transcript() const { return transcript_; }
  const std::vector<std::string>& violations() const { return violations_; }
  RequestParser& parser() { return parser_; }
  std::size_t buffered() const { return buffer_.size(); }

 private:
  // One parse() call; returns true when the caller should call again.
  bool step() {
    if (++calls_ > kMaxCallsPerByte * (total_fed() + 16)) return violation("no progress");
    const std::string_view in = buffer_;
    const ParseResult r = parser_.parse(in);
    if (r.consumed > in.size()) return violation("consumed > size");
    const bool again = record(r, in);
    buffer_.erase(0, r.consumed);
    consumed_total_ += r.consumed;
    return again;
  }

  bool record(const ParseResult& r, std::string_view in) {
    switch (r.status) {
      case ParseStatus::need_more:
        if (in_head_ && r.consumed != 0) violation("head in progress consumed bytes");
        return false;
      case ParseStatus::head_complete:
        return on_head(r, in);
      case ParseStatus::body_data:
        return on_body(r, in);
      case ParseStatus::message_complete:
        return on_complete(in);
      case ParseStatus::error:
        transcript_.error = r.error;
        if (r.error == ParseErrc::none || r.consumed != 0) violation("bad error result");
        return false;
    }
    return violation("unknown status");
  }

  bool on_head(const ParseResult& r, std::string_view in) {
    const RequestHead& h = parser_.head();
    const std::string_view head_bytes = in.substr(0, r.consumed);
    bool inside =
        within(h.method, head_bytes) && within(h.target, head_bytes) && within(h.host, head_bytes);
    for (const HeaderField& f : h.fields) {
      inside = inside && within(f.name, head_bytes) && within(f.value, head_bytes);
    }
    if (!inside) violation("head view outside the head bytes");
    if (r.consumed == 0) violation("empty head");
    transcript_.messages.push_back(copy_head(h));
    in_head_ = false;
    return true;
  }

  bool on_body(const ParseResult& r, std::string_view in) {
    const std::string_view used = in.substr(0, r.consumed);
    if (r.body.empty() || !within(r.body, used) ||
        r.body.data() + r.body.size() != used.data() + used.size()) {
      return violation("body view misplaced");
    }
    if (transcript_.messages.empty()) return violation("body before head");
    transcript_.messages.back().body.append(r.body);
    return true;
  }

  bool on_complete(std::string_view in) {
    if (transcript_.messages.empty() || in_head_) return violation("complete before head");
    for (const HeaderField& f : parser_.trailers()) {
      if (!within(f.name, in) || !within(f.value, in)) violation("trailer view outside input");
    }
    transcript_.messages.back().trailers = copy_fields(parser_.trailers());
    transcript_.messages.back().complete = true;
    in_head_ = true;
    return true;
  }

  // An empty view may sit anywhere; a non-empty one must lie inside `outer`.
  static bool within(std::string_view v, std::string_view outer) {
    if (v.empty()) return true;
    return v.data() >= outer.data() && v.data() + v.size() <= outer.data() + outer.size();
  }

  bool violation(std::string what) {
    violations_.push_back(std::move(what));
    return false;
  }

  std::size_t total_fed() const { return consumed_total_ + buffer_.size(); }

  static constexpr std::size_t kMaxCallsPerByte = 4;

  RequestParser parser_;
  std::string buffer_;
  Transcript transcript_;
  std::vector<std::string> violations_;
  std::size_t calls_ = 0;
  std::size_t consumed_total_ = 0;
  bool in_head_ = true;
};

// Feeds `input` in pieces ending at the given cut offsets (ascending), then the rest.
inline Driver run_in_pieces(std::string_view input, const std::vector<std::size_t>& cuts,
                            ParserLimits limits = {}) {
  Driver d(limits);
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    const std::size_t to = std::clamp(cut, from, input.size());
    d.feed(input.substr(from, to - from));
    from = to;
  }
  d.feed(input.substr(from));
  return d;
}

inline Driver run_whole(std::string_view input, ParserLimits limits = {}) {
  return run_in_pieces(input, {}, limits);
}

inline Driver run_bytewise(std::string_view input, ParserLimits limits = {}) {
  Driver d(limits);
  for (char c : input) d.feed(std::string_view(&c, 1));
  return d;
}

inline std::ostream& operator<<(std::ostream& os, const Message& m) {
  os << "{" << m.method << " " << m.target << " HTTP/1." << m.version_minor << " fields=[";
  for (const auto& [name, value] : m.fields) os << name << ": " << value << "; ";
  os << "] framing=" << static_cast<int>(m.framing) << " cl=" << m.content_length
     << " keep_alive=" << m.keep_alive << " expect=" << m.expect_continue
     << " upgrade=" << m.upgrade << " body=\"" << m.body << "\" trailers=" << m.trailers.size()
     << " complete=" << m.complete << "}";
  return os;
}

inline std::ostream& operator<<(std::ostream& os, const Transcript& t) {
  os << "error=" << describe(t.error) << " messages:";
  for (const Message& m : t.messages) os << "\n  " << m;
  return os;
}

}  // namespace weft::http::testing
