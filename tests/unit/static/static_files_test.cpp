// static_files: responses, caching, and that nothing outside root is ever served.
#include <weft/http/server.hpp>
#include <weft/http/static_files.hpp>
#include <weft/pool.hpp>

#include "http/static_path.hpp"
#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? "" : it->second;
  }
};

// One request on a fresh connection; reads until the server closes.
Reply fetch(std::uint16_t port, const std::string& target, const std::string& extra = "",
            const std::string& method = "GET") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string req =
      method + " " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + extra + "\r\n";
  EXPECT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string raw;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  Reply r;
  const std::size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return r;
  r.status = std::atoi(raw.substr(9, 3).c_str());
  std::size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    const std::size_t eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const std::size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    pos = eol + 2;
  }
  r.body = raw.substr(head_end + 4);
  return r;
}

void write_file(const fs::path& p, const std::string& content) {
  std::ofstream(p, std::ios::binary) << content;
}

class StaticFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weft-static-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    root_ = base_ / "root";
    fs::create_directories(root_ / "dir");
    fs::create_directories(root_ / "dir2");
    fs::create_directories(root_ / ".git");
    write_file(root_ / "index.html", "<h1>home</h1>");
    write_file(root_ / "a.txt", "hello");
    write_file(root_ / "dir" / "index.html", "dir index");
    write_file(root_ / ".env", "SECRET=1");
    write_file(root_ / ".git" / "config", "[core]");
    write_file(root_ / "app.js", "console.log('plain')");
    write_file(root_ / "app.js.gz", "GZ-BYTES");
    write_file(root_ / "app.js.br", "BR-BYTES");
    write_file(base_ / "outside.txt", "outside root");
    big_.resize(300 * 1024);
    for (std::size_t i = 0; i < big_.size(); ++i) big_[i] = static_cast<char>('a' + i % 26);
    write_file(root_ / "big.bin", big_);
    fs::create_symlink("a.txt", root_ / "inside-link.txt");  // relative: stays inside
    fs::create_symlink(base_ / "outside.txt", root_ / "escape-link.txt");
    fs::create_symlink("/", root_ / "rootfs");
  }
  void TearDown() override {
    stop();
    fs::remove_all(base_);
  }

  void start(weft::http::StaticOptions options = {}) {
    std::promise<std::uint16_t> port;
    thread_ = std::thread([this, options, &port] {
      weft::Loop loop;
      weft::http::Server server(loop);
      server.get("/*", weft::http::static_files(root_.string(), options));
      ASSERT_FALSE(server.listen(0, "127.0.0.1"));
      loop_ = &loop;
      server_ = &server;
      port.set_value(server.port());
      keep_ = weft::Loop::KeepAlive(loop);
      loop.run();
      fs_jobs_ = loop.runtime().stats(weft::WorkClass::fs).completed;
      weft::testing::expect_clean_close(loop);
    });
    port_ = port.get_future().get();
  }
  void stop() {
    if (!thread_.joinable()) return;
    loop_->post([this] {
      server_->close(1s);
      keep_.reset();
    });
    thread_.join();
  }
  std::uint64_t fs_jobs_now() {
    std::promise<std::uint64_t> n;
    loop_->post([&] { n.set_value(loop_->runtime().stats(weft::WorkClass::fs).completed); });
    return n.get_future().get();
  }

  fs::path base_, root_;
  std::string big_;
  std::thread thread_;
  weft::Loop* loop_ = nullptr;
  weft::http::Server* server_ = nullptr;
  weft::Loop::KeepAlive keep_;
  std::uint16_t port_ = 0;
  std::uint64_t fs_jobs_ = 0;
};

}  // namespace

TEST_F(StaticFiles, ServesAFileWithTypeLengthAndValidators) {
  start();
  Reply r = fetch(port_, "/a.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.header("content-length"), "5");
  EXPECT_FALSE(r.header("etag").empty());
  EXPECT_FALSE(r.header("last-modified").empty());
  EXPECT_EQ(r.header("accept-ranges"), "bytes");
  Reply head = fetch(port_, "/a.txt", "", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "5");
  EXPECT_EQ(head.body, "");
}

TEST_F(StaticFiles, LargeFileArrivesWhole) {
  start();
  Reply r = fetch(port_, "/big.bin");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/octet-stream");
  EXPECT_TRUE(r.body == big_) << "got " << r.body.size() << " bytes";
}

TEST_F(StaticFiles, DirectoriesServeIndexAndRedirectWithoutSlash) {
  start();
  EXPECT_EQ(fetch(port_, "/").body, "<h1>home</h1>");
  Reply redirect = fetch(port_, "/dir?x=1");
  EXPECT_EQ(redirect.status, 301);
  EXPECT_EQ(redirect.header("location"), "/dir/?x=1");
  EXPECT_EQ(fetch(port_, "/dir/").body, "dir index");
  EXPECT_EQ(fetch(port_, "/dir2/").status, 404);  // no index, listings off
  EXPECT_EQ(fetch(port_, "/missing.txt").status, 404);
}

TEST_F(StaticFiles, DirectoryListingWhenEnabled) {
  start({.directory_listing = true});
  Reply r = fetch(port_, "/dir2/");
  EXPECT_EQ(r.status, 200);
  Reply top = fetch(port_, "/dir2/../");
  EXPECT_EQ(top.status, 400);
  write_file(root_ / "dir2" / "<x>.txt", "x");
  Reply listing = fetch(port_, "/dir2/");  // cached for revalidate_after: maybe stale
  std::this_thread::sleep_for(1100ms);
  listing = fetch(port_, "/dir2/");
  EXPECT_NE(listing.body.find("&lt;x&gt;.txt"), std::string::npos) << listing.body;
  EXPECT_EQ(listing.body.find(".env"), std::string::npos);
}

TEST_F(StaticFiles, ConditionalRequestsGet304) {
  start();
  Reply first = fetch(port_, "/a.txt");
  Reply inm = fetch(port_, "/a.txt", "If-None-Match: " + first.header("etag") + "\r\n");
  EXPECT_EQ(inm.status, 304);
  EXPECT_EQ(inm.body, "");
  EXPECT_EQ(inm.header("etag"), first.header("etag"));
  EXPECT_EQ(fetch(port_, "/a.txt", "If-None-Match: \"other\"\r\n").status, 200);
  Reply ims =
      fetch(port_, "/a.txt", "If-Modified-Since: " + first.header("last-modified") + "\r\n");
  EXPECT_EQ(ims.status, 304);
  EXPECT_EQ(fetch(port_, "/a.txt", "If-Modified-Since: Mon, 01 Jan 1990 00:00:00 GMT\r\n").status,
            200);
}

TEST_F(StaticFiles, SingleByteRanges) {
  start();
  Reply r = fetch(port_, "/a.txt", "Range: bytes=1-3\r\n");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "ell");
  EXPECT_EQ(r.header("content-range"), "bytes 1-3/5");
  EXPECT_EQ(fetch(port_, "/a.txt", "Range: bytes=-2\r\n").body, "lo");
  EXPECT_EQ(fetch(port_, "/a.txt", "Range: bytes=3-\r\n").body, "lo");
  Reply big = fetch(port_, "/big.bin", "Range: bytes=100000-100009\r\n");
  EXPECT_EQ(big.body, big_.substr(100000, 10));
  Reply bad = fetch(port_, "/a.txt", "Range: bytes=10-\r\n");
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.header("content-range"), "bytes */5");
  EXPECT_EQ(fetch(port_, "/a.txt", "Range: bytes=0-1,3-4\r\n").status, 200);  // multi: whole
  Reply stale = fetch(port_, "/a.txt", "Range: bytes=0-1\r\nIf-Range: \"stale\"\r\n");
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(stale.body, "hello");
  const std::string etag = fetch(port_, "/a.txt").header("etag");
  EXPECT_EQ(fetch(port_, "/a.txt", "Range: bytes=0-1\r\nIf-Range: " + etag + "\r\n").status, 206);
}

TEST_F(StaticFiles, PrecompressedSiblingsFollowAcceptEncoding) {
  start();
  Reply br = fetch(port_, "/app.js", "Accept-Encoding: gzip, deflate, br\r\n");
  EXPECT_EQ(br.body, "BR-BYTES");
  EXPECT_EQ(br.header("content-encoding"), "br");
  EXPECT_EQ(br.header("vary"), "Accept-Encoding");
  EXPECT_EQ(br.header("content-type"), "text/javascript; charset=utf-8");
  Reply gz = fetch(port_, "/app.js", "Accept-Encoding: gzip\r\n");
  EXPECT_EQ(gz.body, "GZ-BYTES");
  EXPECT_EQ(gz.header("content-encoding"), "gzip");
  Reply no_br = fetch(port_, "/app.js", "Accept-Encoding: br;q=0, gzip\r\n");
  EXPECT_EQ(no_br.header("content-encoding"), "gzip");
  Reply plain = fetch(port_, "/app.js");
  EXPECT_EQ(plain.body, "console.log('plain')");
  EXPECT_EQ(plain.header("content-encoding"), "");
  EXPECT_EQ(plain.header("vary"), "Accept-Encoding");
}

TEST_F(StaticFiles, TraversalAndEncodingTricksNeverLeaveRoot) {
  start();
  for (const char* target :
       {"/../outside.txt", "/%2e%2e/outside.txt", "/%2E%2E/outside.txt", "/..%2foutside.txt",
        "/..%2Foutside.txt", "/..%5coutside.txt", "/..\\outside.txt", "/a.txt%00.html",
        "/%c0%ae%c0%ae/outside.txt", "/%e0%80%ae%e0%80%ae/outside.txt", "/./a.txt", "/dir/../a.txt",
        "/%zz", "/%"}) {
    Reply r = fetch(port_, target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.body.find("outside root"), std::string::npos) << target;
  }
  // Double encoding decodes once: "%2e%2e" is then a (missing) literal name, not "..".
  EXPECT_EQ(fetch(port_, "/%252e%252e/outside.txt").status, 404);
}

TEST_F(StaticFiles, DotfilesAndEscapingSymlinksAreNotServed) {
  start();
  EXPECT_EQ(fetch(port_, "/.env").status, 404);
  EXPECT_EQ(fetch(port_, "/.git/config").status, 404);
  EXPECT_EQ(fetch(port_, "/%2eenv").status, 404);
  Reply escape = fetch(port_, "/escape-link.txt");
  EXPECT_EQ(escape.status, 404);
  EXPECT_EQ(escape.body.find("outside root"), std::string::npos);
  EXPECT_EQ(fetch(port_, "/rootfs/etc/passwd").status, 404);
  EXPECT_EQ(fetch(port_, "/inside-link.txt").body, "hello");  // stays inside: fine
}

TEST_F(StaticFiles, DotfilesServedWhenAllowed) {
  start({.dotfiles = true});
  EXPECT_EQ(fetch(port_, "/.env").body, "SECRET=1");
}

TEST_F(StaticFiles, HotFileNeedsNoPoolRoundTripAndChangesAreNoticed) {
  start({.revalidate_after = 200ms});
  EXPECT_EQ(fetch(port_, "/a.txt").body, "hello");
  const std::uint64_t jobs = fs_jobs_now();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(fetch(port_, "/a.txt").body, "hello");
  EXPECT_EQ(fs_jobs_now(), jobs);  // served from the cache on the loop thread
  write_file(root_ / "a.txt", "changed!");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(fetch(port_, "/a.txt").body, "changed!");
  EXPECT_GT(fs_jobs_now(), jobs);
}

// Security findings (#16): each failed before its fix.
TEST_F(StaticFiles, RedirectNeverNamesAnotherHost) {
  fs::create_directories(root_ / "evil.com");
  start();
  Reply r = fetch(port_, "//evil.com");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/evil.com/");  // not "//evil.com/": another host
  EXPECT_EQ(fetch(port_, "///evil.com?q=1").header("location"), "/evil.com/?q=1");
}

TEST_F(StaticFiles, FileNameWithTrailingSlashIs404) {
  start();
  EXPECT_EQ(fetch(port_, "/index.html/").status, 404);
  EXPECT_EQ(fetch(port_, "/a.txt/").status, 404);
  EXPECT_EQ(fetch(port_, "/a.txt").status, 200);
}

TEST_F(StaticFiles, InvalidRangeIsIgnored) {
  start();
  for (const char* bad : {"bytes=0x0-1", "bytes=1-2x", "bytes=+1-2", "bytes=1 -2", "bytes=-1x"}) {
    Reply r = fetch(port_, "/a.txt", std::string("Range: ") + bad + "\r\n");
    EXPECT_EQ(r.status, 200) << bad;
    EXPECT_EQ(r.body, "hello") << bad;
    EXPECT_EQ(r.header("content-range"), "") << bad;
  }
  EXPECT_EQ(fetch(port_, "/a.txt", "Range: bytes=-2\r\n").body, "lo");
  EXPECT_EQ(fetch(port_, "/a.txt", "Range: bytes=1-\r\n").body, "ello");
}

TEST_F(StaticFiles, FailedIfMatchOrIfUnmodifiedSinceGets412) {
  start();
  const Reply first = fetch(port_, "/a.txt");
  const std::string etag = first.header("etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(fetch(port_, "/a.txt", "If-Match: \"other\"\r\n").status, 412);
  EXPECT_EQ(fetch(port_, "/a.txt", "If-Match: W/" + etag + "\r\n").status, 412);  // strong only
  EXPECT_EQ(fetch(port_, "/a.txt", "If-Match: \"x\", " + etag + "\r\n").status, 200);
  EXPECT_EQ(fetch(port_, "/a.txt", "If-Match: *\r\n").status, 200);
  const std::string past = "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
  EXPECT_EQ(fetch(port_, "/a.txt", past).status, 412);
  const std::string now = "If-Unmodified-Since: " + first.header("last-modified") + "\r\n";
  EXPECT_EQ(fetch(port_, "/a.txt", now).status, 200);
  EXPECT_EQ(fetch(port_, "/a.txt", "If-Unmodified-Since: not a date\r\n").status, 200);
  // If-Match is evaluated before If-Unmodified-Since (RFC 9110 §13.2.2).
  EXPECT_EQ(fetch(port_, "/a.txt", "If-Match: " + etag + "\r\n" + past).status, 200);
}

TEST_F(StaticFiles, OtherMethodsGet405) {
  start();
  Reply r = fetch(port_, "/a.txt", "Content-Length: 0\r\n", "POST");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
}

TEST(StaticPath, SanitizeRules) {
  using weft::http::detail::PathVerdict;
  using weft::http::detail::sanitize_path;
  EXPECT_EQ(sanitize_path("/a/b.txt", false).relative, "a/b.txt");
  EXPECT_EQ(sanitize_path("//a///b", false).relative, "a/b");
  EXPECT_TRUE(sanitize_path("/dir/", false).trailing_slash);
  EXPECT_EQ(sanitize_path("/caf%C3%A9.txt", false).relative, "caf\xC3\xA9.txt");
  EXPECT_EQ(sanitize_path("/%ED%A0%80", false).verdict, PathVerdict::bad_request);  // surrogate
  EXPECT_EQ(sanitize_path("/.well-known/x", false).verdict, PathVerdict::ok);
  EXPECT_EQ(sanitize_path("/a/.hidden", false).verdict, PathVerdict::not_found);
  EXPECT_EQ(sanitize_path("relative", false).verdict, PathVerdict::bad_request);
}

TEST(StaticPath, HttpDatesRoundTrip) {
  using namespace weft::http::detail;
  EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
}

TEST(Mime, CommonTypes) {
  EXPECT_EQ(weft::http::mime_type("x.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(weft::http::mime_type("a/b.woff2"), "font/woff2");
  EXPECT_EQ(weft::http::mime_type("dir.d/noext"), "application/octet-stream");
}
