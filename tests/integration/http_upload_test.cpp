// multipart/form-data uploads (req.multipart, Part::save_to) driven by curl -F and a raw
// client: the saved bytes, the limits (413), malformed bodies (400), and no file left
// behind by a part that failed.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/http/multipart.hpp>
#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;
namespace stdfs = std::filesystem;

void serve(const std::function<void(http::Server&)>& setup,
           const std::function<void(std::uint16_t)>& client, RunOptions run = {}) {
  Loop loop;
  {
    http::Server server(loop);
    setup(server);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(
        loop, server, [&] { client(port); }, run);
  }
  weft::testing::expect_clean_close(loop);
}

// A fresh directory under the temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (stdfs::temp_directory_path() / "weft-upload-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) stdfs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The names in `dir`, sorted, each followed by a space.
std::string files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : stdfs::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  std::string all;
  for (const std::string& n : names) all += n + " ";
  return all;
}

void write_all(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// Bytes a delimiter search can trip on: CR, LF, '-' and everything else.
std::string binary_data(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  for (std::size_t i = 0; i + 6 < n; i += 997) s.replace(i, 6, "\r\n--\r\n");
  return s;
}

// The route under test: saves file parts as <dir>/<part name>, gathers fields, and
// answers "name=value;" / "name=file:<filename>:<type>:<bytes>;" per part.
http::Handler upload_route(std::string dir, http::MultipartLimits limits = {}) {
  return [dir, limits](Request& req) -> Task<Response> {
    std::string out;
    co_await req.multipart(
        [&](http::Part& part) -> Task<void> {
          if (part.is_file()) {
            const std::uint64_t n = co_await part.save_to(dir + "/" + part.name());
            out += part.name() + "=file:" + part.filename() + ":" + part.content_type() + ":" +
                   std::to_string(n) + ";";
          } else {
            std::string value = co_await part.text();
            out += part.name() + "=" + value + ";";
          }
        },
        limits);
    co_return Response::text(out);
  };
}

std::string multipart_request(std::string_view path, const std::string& body) {
  return "POST " + std::string(path) +
         " HTTP/1.1\r\nHost: t\r\n"
         "Content-Type: multipart/form-data; boundary=B0und\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string file_part(std::string_view name, std::string_view data) {
  return "--B0und\r\nContent-Disposition: form-data; name=\"" + std::string(name) +
         "\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
         std::string(data) + "\r\n";
}

TEST(HttpMultipart, CurlUploadsFilesAndFieldsStreamedToDisk) {
  TempDir in, out, out_buffered;
  ASSERT_FALSE(in.path().empty());
  const std::string big = binary_data(700 * 1024, 1);  // many reads of the socket
  const std::string small = "plain text\r\n--not the boundary\r\n";
  write_all(in.path() + "/big.bin", big);
  write_all(in.path() + "/small.txt", small);
  serve(
      [&](http::Server& s) {
        s.route("POST", "/upload", upload_route(out.path()),
                {.stream_body = true, .max_body = 4 * 1024 * 1024});
        s.route("POST", "/buffered", upload_route(out_buffered.path()),
                {.stream_body = false, .max_body = 4 * 1024 * 1024});
      },
      [&](std::uint16_t port) {
        for (const char* route : {"/upload", "/buffered"}) {
          SCOPED_TRACE(route);
          CurlResult r = run_curl({"-i", "-F", "title=hello world", "-F",
                                   "big=@" + in.path() + "/big.bin;type=application/octet-stream",
                                   "-F", "doc=@" + in.path() + "/small.txt;filename=renamed.txt",
                                   "-F", "empty=", base_url(port) + route});
          ASSERT_EQ(r.exit_code, 0) << r.err;
          auto res = parse_curl_output(r.out);
          ASSERT_TRUE(res);
          EXPECT_EQ(res->status, 200);
          EXPECT_EQ(res->body, "title=hello world;big=file:big.bin:application/octet-stream:" +
                                   std::to_string(big.size()) +
                                   ";doc=file:renamed.txt:text/plain:" +
                                   std::to_string(small.size()) + ";empty=;");
        }
        for (const TempDir* dir : {&out, &out_buffered}) {
          EXPECT_TRUE(read_all(dir->path() + "/big") == big) << "the saved bytes differ";
          EXPECT_EQ(read_all(dir->path() + "/doc"), small);
          EXPECT_EQ(files_in(dir->path()), "big doc ");  // renamed into place, no temporary
        }
      });
}

TEST(HttpMultipart, LimitsAnswer413AndLeaveNoFileBehind) {
  TempDir out;
  http::MultipartLimits limits;
  limits.max_part_size = 64 * 1024;
  limits.max_parts = 3;
  serve(
      [&](http::Server& s) {
        s.route("POST", "/upload", upload_route(out.path(), limits), {.stream_body = true});
      },
      [&](std::uint16_t port) {
        // The control: at the limit, saved.
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.send(multipart_request(
            "/upload", file_part("ok", std::string(64 * 1024, 'a')) + "--B0und--")));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_TRUE(stdfs::exists(out.path() + "/ok"));
        // One byte over: 413 naming the part and the limit; its file is gone.
        c = RawClient::tcp(port);
        ASSERT_TRUE(c.send(multipart_request(
            "/upload", file_part("over", std::string(64 * 1024 + 1, 'a')) + "--B0und--")));
        r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413);
        EXPECT_NE(r->body.find("multipart part 'over' larger than 65536 bytes"), std::string::npos)
            << r->body;
        EXPECT_FALSE(stdfs::exists(out.path() + "/over"));
        // A failed part leaves a file already at its path as it was, and no temporary.
        write_all(out.path() + "/keep", "old content");
        c = RawClient::tcp(port);
        ASSERT_TRUE(c.send(multipart_request(
            "/upload", file_part("keep", std::string(64 * 1024 + 1, 'n')) + "--B0und--")));
        r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413);
        EXPECT_EQ(read_all(out.path() + "/keep"), "old content");
        EXPECT_EQ(files_in(out.path()), "keep ok ");
        // Too many parts.
        c = RawClient::tcp(port);
        ASSERT_TRUE(c.send(multipart_request("/upload", file_part("a", "1") + file_part("b", "2") +
                                                            file_part("c", "3") +
                                                            file_part("d", "4") + "--B0und--")));
        r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413);
        EXPECT_NE(r->body.find("more than 3 parts"), std::string::npos) << r->body;
      });
}

// curl still sending a large file when the part passes its limit: the 413 reaches it at
// once, and the connection is not left waiting for a body nobody reads.
TEST(HttpMultipart, CurlGets413MidUpload) {
  TempDir in, out;
  write_all(in.path() + "/big.bin", binary_data(2 * 1024 * 1024, 2));
  http::MultipartLimits limits;
  limits.max_part_size = 64 * 1024;
  const auto began = Clock::now();
  serve(
      [&](http::Server& s) {
        s.route("POST", "/upload", upload_route(out.path(), limits),
                {.stream_body = true, .max_body = 8 * 1024 * 1024});
      },
      [&](std::uint16_t port) {
        const auto start = Clock::now();
        CurlResult r =
            run_curl({"-i", "-F", "big=@" + in.path() + "/big.bin", base_url(port) + "/upload"});
        auto res = parse_curl_output(r.out);
        ASSERT_TRUE(res) << r.exit_code << " " << r.err;
        EXPECT_EQ(res->status, 413);
        EXPECT_LT(Clock::now() - start, 5s);
        EXPECT_FALSE(stdfs::exists(out.path() + "/big"));
      },
      {.close_deadline = std::chrono::seconds(20), .limit = Ms(30000)});
  // The server read on after its answer, saw curl close, and had nothing left to wait for
  // (a connection paused on the unread body would have held the close until its deadline).
  EXPECT_LT(Clock::now() - began, 10s);
}

TEST(HttpMultipart, MalformedBodiesAnswer400AndLeaveNoFileBehind) {
  TempDir out;
  serve(
      [&](http::Server& s) {
        s.route("POST", "/upload", upload_route(out.path()), {.stream_body = true});
      },
      [&](std::uint16_t port) {
        // A body that ends inside a file part, after 200 KiB were written to disk.
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.send(multipart_request("/upload",
                                             "--B0und\r\nContent-Disposition: form-data; "
                                             "name=\"cut\"; filename=\"x\"\r\n\r\n" +
                                                 std::string(200 * 1024, 'z'))));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400);
        EXPECT_NE(r->body.find("ended before the closing delimiter"), std::string::npos) << r->body;
        EXPECT_FALSE(stdfs::exists(out.path() + "/cut"));
        EXPECT_EQ(files_in(out.path()), "");  // no temporary left either
        // A part without a name.
        c = RawClient::tcp(port);
        ASSERT_TRUE(c.send(multipart_request(
            "/upload", "--B0und\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B0und--")));
        r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400);
        EXPECT_NE(r->body.find("no name parameter"), std::string::npos) << r->body;
        // No boundary; not multipart at all.
        c = RawClient::tcp(port);
        ASSERT_TRUE(
            c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data\r\n"
                   "Content-Length: 1\r\n\r\nx"));
        r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400);
        c = RawClient::tcp(port);
        ASSERT_TRUE(c.send(
            post_request("/upload", "a=1", "Content-Type: application/x-www-form-urlencoded\r\n")));
        r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 415);
        // The connection still serves a request after a good upload (the epilogue was read).
        c = RawClient::tcp(port);
        ASSERT_TRUE(
            c.send(multipart_request("/upload", file_part("f", "data") + "--B0und--\r\nepilogue") +
                   multipart_request("/upload", file_part("g", "more") + "--B0und--")));
        r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "f=file:f.bin:application/octet-stream:4;");
        r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "g=file:f.bin:application/octet-stream:4;");
      });
}

}  // namespace
}  // namespace weft::itest
