// MultipartParser: RFC 2046 / RFC 7578 bodies, fed whole, split at every byte (one split
// and two splits), and byte by byte; malformed bodies and every limit.
#include <weft/http/multipart.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

using weft::http::HttpError;
using weft::http::MultipartLimits;
using weft::http::MultipartParser;
using Kind = MultipartParser::Event::Kind;

struct ParsedPart {
  std::string name, filename, type, data;
  bool is_file = false;
  std::size_t data_events = 0;
};

struct Parsed {
  std::vector<ParsedPart> parts;
  bool done = false;
};

// Drains the parser's events into `out`.
void drain(MultipartParser& p, Parsed& out) {
  while (auto ev = p.next()) {
    switch (ev->kind) {
      case Kind::part:
        out.parts.push_back({p.head().name, p.head().filename, p.head().content_type, "",
                             p.head().has_filename, 0});
        break;
      case Kind::data:
        ASSERT_FALSE(out.parts.empty());
        EXPECT_FALSE(ev->data.empty());
        out.parts.back().data.append(ev->data);
        ++out.parts.back().data_events;
        break;
      case Kind::part_end:
        break;
      case Kind::done:
        out.done = true;
        break;
    }
  }
}

// Parses `body` fed in the pieces that `cuts` (ascending offsets) make.
Parsed parse(std::string_view body, const std::vector<std::size_t>& cuts,
             const std::string& boundary = "XyZ", MultipartLimits limits = {}) {
  MultipartParser p(boundary, limits);
  Parsed out;
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    p.feed(body.substr(from, cut - from));
    drain(p, out);
    from = cut;
  }
  p.feed(body.substr(from));
  drain(p, out);
  p.finish();
  return out;
}

int status_of(std::string_view body, MultipartLimits limits = {}, const std::string& b = "XyZ") {
  try {
    (void)parse(body, {}, b, limits);
  } catch (const HttpError& e) {
    return e.status();
  }
  return 0;
}

const std::string kForm =
    "preamble to ignore\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "hello\r\nworld\r\n"
    "--XyZ  \t\r\n"  // transport padding after a delimiter
    "content-disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".txt\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "\r\n--XyNOT a delimiter\r\r\n-\r\n--\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=empty\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n"
    "epilogue, ignored --XyZ\r\n";

void expect_form(const Parsed& r) {
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.parts[0].name, "title");
  EXPECT_FALSE(r.parts[0].is_file);
  EXPECT_EQ(r.parts[0].type, "text/plain");
  EXPECT_EQ(r.parts[0].data, "hello\r\nworld");
  EXPECT_EQ(r.parts[1].name, "file");
  EXPECT_TRUE(r.parts[1].is_file);
  EXPECT_EQ(r.parts[1].filename, "a \"b\".txt");
  EXPECT_EQ(r.parts[1].type, "application/octet-stream");
  EXPECT_EQ(r.parts[1].data, "\r\n--XyNOT a delimiter\r\r\n-\r\n--");
  EXPECT_EQ(r.parts[2].name, "empty");
  EXPECT_EQ(r.parts[2].data, "");
}

TEST(Multipart, WholeBody) { expect_form(parse(kForm, {})); }

TEST(Multipart, SplitAtEveryByte) {
  for (std::size_t i = 0; i <= kForm.size(); ++i) {
    SCOPED_TRACE(i);
    expect_form(parse(kForm, {i}));
  }
}

TEST(Multipart, SplitTwiceAtEveryPairOfBytes) {
  for (std::size_t i = 0; i <= kForm.size(); i += 3) {
    for (std::size_t j = i; j <= kForm.size(); ++j) {
      expect_form(parse(kForm, {i, j}));
      if (HasFailure()) return;  // one report is enough
    }
  }
}

TEST(Multipart, ByteByByte) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < kForm.size(); ++i) cuts.push_back(i);
  expect_form(parse(kForm, cuts));
}

TEST(Multipart, NoPreambleAndNoEpilogue) {
  const std::string body = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--";
  const Parsed r = parse(body, {}, "b");
  ASSERT_EQ(r.parts.size(), 1u);
  EXPECT_EQ(r.parts[0].data, "1");
}

TEST(Multipart, DataIsHandedOutBeforeThePartEnds) {
  MultipartParser p("XyZ");
  p.feed("--XyZ\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n");
  Parsed out;
  drain(p, out);
  p.feed(std::string(1000, 'a'));
  drain(p, out);
  ASSERT_EQ(out.parts.size(), 1u);
  // Everything but what could begin a delimiter (nothing here: no CR) is out already.
  EXPECT_EQ(out.parts[0].data.size(), 1000u);
  p.feed("bb\r\n--X");
  drain(p, out);
  EXPECT_EQ(out.parts[0].data.size(), 1002u);  // the CR may begin the delimiter: kept
  p.feed("yZ--");
  drain(p, out);
  EXPECT_TRUE(out.done);
  EXPECT_NO_THROW(p.finish());
}

TEST(Multipart, FilenameStarAndHeaders) {
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"plain.txt\"; "
      "filename*=UTF-8''na%C3%AFve.txt\r\nX-Extra: 1\r\n\r\nz\r\n--b--";
  MultipartParser p("b");
  p.feed(body);
  auto ev = p.next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->kind, Kind::part);
  EXPECT_EQ(p.head().filename, "na\xC3\xAFve.txt");
  ASSERT_EQ(p.head().headers.size(), 2u);
  EXPECT_EQ(p.head().headers[1].first, "X-Extra");
}

TEST(Multipart, BoundaryFromContentType) {
  using weft::http::multipart_boundary;
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\"; charset=x"), "a b:c");
  EXPECT_EQ(multipart_boundary("application/json"), std::nullopt);
  for (const char* bad :
       {"multipart/form-data",
        "multipart/form-data; boundary=", "multipart/form-data; boundary=\"ends \"",
        "multipart/form-data; boundary=\"a;b\"", "multipart/form-data; boundary=\"unterminated"}) {
    SCOPED_TRACE(bad);
    try {
      (void)multipart_boundary(bad);
      ADD_FAILURE() << "accepted";
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status(), 400);
    }
  }
  EXPECT_THROW((void)multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')),
               HttpError);
}

TEST(Multipart, MalformedBodiesAre400) {
  const std::string part = "Content-Disposition: form-data; name=a\r\n\r\nx\r\n";
  EXPECT_EQ(status_of(""), 400);  // no delimiter at all
  EXPECT_EQ(status_of("just text"), 400);
  EXPECT_EQ(status_of("--XyZ\r\n" + part), 400);                  // no closing delimiter
  EXPECT_EQ(status_of("--XyZ\r\n" + part + "--XyZ"), 400);        // ends after a delimiter
  EXPECT_EQ(status_of("--XyZjunk\r\n" + part + "--XyZ--"), 400);  // text after a delimiter
  EXPECT_EQ(status_of("--XyZ-x\r\n" + part + "--XyZ--"), 400);
  EXPECT_EQ(status_of("--XyZ\r\nNo colon here\r\n\r\nx\r\n--XyZ--"), 400);
  EXPECT_EQ(status_of("--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--"), 400);
  EXPECT_EQ(status_of("--XyZ\r\n\r\nx\r\n--XyZ--"), 400);  // no Content-Disposition
  EXPECT_EQ(status_of("--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--XyZ--"), 400);
  EXPECT_EQ(status_of("--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--"), 400);
  EXPECT_EQ(status_of("--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ--"),
            400);
  EXPECT_EQ(status_of("--XyZ\r\nContent-Disposition: form-data; name=a\r\n"
                      " folded\r\n\r\nx\r\n--XyZ--"),
            400);
  EXPECT_EQ(status_of("--XyZ\r\n" + part + "--XyZ--"), 0);  // the control: well formed
}

TEST(Multipart, LimitsAre413) {
  const std::string one =
      "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n" + std::string(100, 'x') + "\r\n";
  const std::string body = one + one + one + "--XyZ--";
  EXPECT_EQ(status_of(body), 0);
  MultipartLimits l;
  l.max_part_size = 99;
  EXPECT_EQ(status_of(body, l), 413);
  l = {};
  l.max_part_size = 100;
  EXPECT_EQ(status_of(body, l), 0);
  l = {};
  l.max_parts = 2;
  EXPECT_EQ(status_of(body, l), 413);
  l.max_parts = 3;
  EXPECT_EQ(status_of(body, l), 0);
  l = {};
  l.max_total_size = body.size() - 1;
  EXPECT_EQ(status_of(body, l), 413);
  l.max_total_size = body.size();
  EXPECT_EQ(status_of(body, l), 0);
  l = {};
  l.max_header_size = 10;
  EXPECT_EQ(status_of(body, l), 413);
  // A header block never ended is 413 once it passes the limit, not a wait for more.
  MultipartParser p("XyZ", l);
  p.feed("--XyZ\r\n" + std::string(50, 'h'));
  EXPECT_THROW((void)p.next(), HttpError);
}

TEST(Multipart, MessagesNameTheLimit) {
  MultipartLimits l;
  l.max_part_size = 5;
  try {
    (void)parse("--XyZ\r\nContent-Disposition: form-data; name=big\r\n\r\n123456\r\n--XyZ--", {},
                "XyZ", l);
    ADD_FAILURE();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 413);
    EXPECT_STREQ(e.what(), "multipart part 'big' larger than 5 bytes");
  }
}

// Random forms: binary data full of CR, LF and '-' (and near-misses of the delimiter),
// random boundaries, fed in random pieces: every part comes back byte for byte.
TEST(Multipart, RandomFormsInRandomPieces) {
  std::mt19937 rng(17);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  for (int round = 0; round < 300; ++round) {
    const std::string boundary =
        "b" + std::to_string(rng() % 100000) + (round % 2 ? "'()+_,-./:=?" : "");
    const std::string near_miss[] = {"\r\n--" + boundary.substr(0, boundary.size() - 1),
                                     "\r\n-",
                                     "\r",
                                     "--" + boundary,
                                     "\n--" + boundary,
                                     "\r\r\n--"};
    std::vector<std::string> datas;
    std::string body = pick(2) ? "" : "preamble\r\n";
    const std::size_t parts = 1 + pick(4);
    for (std::size_t i = 0; i < parts; ++i) {
      std::string data;
      do {  // data never holds the delimiter (RFC 2046: the sender picks the boundary so)
        data.clear();
        const std::size_t len = pick(300);
        while (data.size() < len) {
          if (pick(8) == 0) {
            data += near_miss[pick(std::size(near_miss))];
          } else {
            data += static_cast<char>("\r\n-ab\0\xff"[pick(7)]);
          }
        }
      } while (("\r\n" + data).find("\r\n--" + boundary) != std::string::npos);
      datas.push_back(data);
      body += "--" + boundary + (pick(3) == 0 ? " \t" : "") +
              "\r\nContent-Disposition: form-data; name=\"p" + std::to_string(i) + "\"\r\n\r\n" +
              data + "\r\n";
    }
    body += "--" + boundary + "--" + (pick(2) ? "\r\nepilogue" : "");
    std::vector<std::size_t> cuts;
    for (std::size_t at = pick(64); at < body.size(); at += 1 + pick(64)) cuts.push_back(at);
    const Parsed r = parse(body, cuts, boundary);
    ASSERT_EQ(r.parts.size(), parts) << "round " << round;
    for (std::size_t i = 0; i < parts; ++i) {
      ASSERT_EQ(r.parts[i].data, datas[i]) << "round " << round << " part " << i;
    }
  }
}

}  // namespace
