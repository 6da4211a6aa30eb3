// Test driver for weft::http::ResponseParser, the counterpart of parser_driver.hpp: a
// client connection that appends reads to a buffer, parses until it needs more, drops
// consumed bytes, and at the end of input calls finish(). Records a transcript and checks
// the calling contract on every call (consumed <= size, views inside the bytes of their
// call, body pieces non-empty and ending where `consumed` ends). Shared by the unit tests,
// the differential test and the fuzz target.
#pragma once

#include <weft/http/response_parser.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::http::testing {

using RFields = std::vector<std::pair<std::string, std::string>>;

struct RMessage {
  int version_minor = 1;
  int status = 0;
  std::string reason;
  RFields fields;
  ResponseFraming framing = ResponseFraming::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  std::size_t informational = 0;
  std::string body;
  RFields trailers;
  bool complete = false;
  bool operator==(const RMessage&) const = default;
};

struct RTranscript {
  std::vector<RMessage> messages;
  ParseErrc error = ParseErrc::none;
  bool operator==(const RTranscript&) const = default;
};

inline RFields copy_rfields(std::span<const HeaderField> fields) {
  RFields out;
  for (const HeaderField& f : fields) out.emplace_back(f.name, f.value);
  return out;
}

class ResponseDriver {
 public:
  // methods[i] is the request method of response i ("GET" after the list ends).
  explicit ResponseDriver(ParserLimits limits = {}, std::vector<std::string> methods = {})
      : parser_(limits), methods_(std::move(methods)) {
    parser_.start(method_for(0));
  }

  void feed(std::string_view bytes) {
    if (stopped()) return;
    buffer_.append(bytes);
    while (step(false)) {
    }
  }

  // The peer closed the connection.
  void close() {
    if (stopped()) return;
    while (step(true)) {
    }
    closed_ = true;
  }

  const RTranscript& transcript() const { return transcript_; }
  const std::vector<std::string>& violations() const { return violations_; }

 private:
  bool stopped() const { return closed_ || transcript_.error != ParseErrc::none; }
  std::string method_for(std::size_t i) const { return i < methods_.size() ? methods_[i] : "GET"; }

  bool step(bool at_end) {
    if (++calls_ > 4 * (fed_ + buffer_.size() + 16)) return violation("no progress");
    const std::string_view in = buffer_;
    const ParseResult r = at_end ? parser_.finish(in) : parser_.parse(in);
    if (r.consumed > in.size()) return violation("consumed > size");
    const bool again = record(r, in);
    buffer_.erase(0, r.consumed);
    fed_ += r.consumed;
    return again;
  }

  bool record(const ParseResult& r, std::string_view in) {
    switch (r.status) {
      case ParseStatus::need_more:
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
    const ResponseHead& h = parser_.head();
    const std::string_view bytes = in.substr(0, r.consumed);
    bool inside = within(h.reason, bytes);
    for (const HeaderField& f : h.fields)
      inside = inside && within(f.name, bytes) && within(f.value, bytes);
    if (!inside) violation("head view outside the head bytes");
    RMessage m;
    m.version_minor = h.version_minor;
    m.status = h.status;
    m.reason = h.reason;
    m.fields = copy_rfields(h.fields);
    m.framing = h.framing;
    m.content_length = h.content_length;
    m.keep_alive = h.keep_alive;
    m.informational = parser_.informational();
    transcript_.messages.push_back(std::move(m));
    return true;
  }

  bool on_body(const ParseResult& r, std::string_view in) {
    const std::string_view used = in.substr(0, r.consumed);
    if (r.body.empty() || !within(r.body, used) ||
        r.body.data() + r.body.size() != used.data() + used.size())
      return violation("body view misplaced");
    if (transcript_.messages.empty()) return violation("body before head");
    transcript_.messages.back().body.append(r.body);
    return true;
  }

  bool on_complete(std::string_view in) {
    if (transcript_.messages.empty()) return violation("complete before head");
    for (const HeaderField& f : parser_.trailers())
      if (!within(f.name, in) || !within(f.value, in)) violation("trailer view outside input");
    transcript_.messages.back().trailers = copy_rfields(parser_.trailers());
    transcript_.messages.back().complete = true;
    parser_.start(method_for(transcript_.messages.size()));
    return true;
  }

  static bool within(std::string_view v, std::string_view outer) {
    if (v.empty()) return true;
    return v.data() >= outer.data() && v.data() + v.size() <= outer.data() + outer.size();
  }

  bool violation(std::string what) {
    violations_.push_back(std::move(what));
    return false;
  }

  ResponseParser parser_;
  std::vector<std::string> methods_;
  std::string buffer_;
  RTranscript transcript_;
  std::vector<std::string> violations_;
  std::size_t calls_ = 0, fed_ = 0;
  bool closed_ = false;
};

// Feeds `input` in pieces ending at the given cut offsets (ascending), then the rest,
// then closes when `close_at_end`.
inline ResponseDriver run_response(std::string_view input, const std::vector<std::size_t>& cuts,
                                   bool close_at_end = true, ParserLimits limits = {},
                                   std::vector<std::string> methods = {}) {
  ResponseDriver d(limits, std::move(methods));
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    const std::size_t to = std::clamp(cut, from, input.size());
    d.feed(input.substr(from, to - from));
    from = to;
  }
  d.feed(input.substr(from));
  if (close_at_end) d.close();
  return d;
}

inline std::ostream& operator<<(std::ostream& os, const RMessage& m) {
  os << "{HTTP/1." << m.version_minor << " " << m.status << " '" << m.reason << "' fields=[";
  for (const auto& [n, v] : m.fields) os << n << ": " << v << "; ";
  os << "] framing=" << static_cast<int>(m.framing) << " cl=" << m.content_length
     << " keep_alive=" << m.keep_alive << " 1xx=" << m.informational << " body=\"" << m.body
     << "\" trailers=" << m.trailers.size() << " complete=" << m.complete << "}";
  return os;
}

inline std::ostream& operator<<(std::ostream& os, const RTranscript& t) {
  os << "error=" << describe(t.error) << " messages:";
  for (const RMessage& m : t.messages) os << "\n  " << m;
  return os;
}

}  // namespace weft::http::testing
