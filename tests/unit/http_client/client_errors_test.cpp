// HttpClientErrors.*: what fetch() says when the exchange fails — each failure with its
// FetchErrc and a message naming what happened.
#include <gtest/gtest.h>
#include <weft/cancel.hpp>
#include <weft/http/client.hpp>
#include <weft/loop.hpp>
#include <weft/net/dns.hpp>
#include <weft/task.hpp>
#include <weft/timer.hpp>
#include <zlib.h>

#include "support/loop_testing.hpp"
#include "unit/http_client/raw_server.hpp"

namespace weft::http::ctest {
namespace {

using namespace std::chrono_literals;

struct Failure {
  FetchErrc kind{};
  std::string message;
};

// Fetches url and reads the body; the failure, or kind == cancelled with "ok" when none.
Failure fetch_failure(Loop& loop, const std::string& url, FetchOptions o = {}) {
  Failure f{FetchErrc::cancelled, "ok"};
  run_until_complete(loop, [&]() -> Task<void> {
    Client client(loop);
    try {
      ClientResponse res = co_await client.fetch(url, o);
      co_await res.text();
    } catch (const FetchError& e) {
      f = {e.kind(), e.what()};
    }
  }());
  return f;
}

void expect_failure(const Failure& f, FetchErrc kind, std::string_view words) {
  EXPECT_EQ(to_string(f.kind), to_string(kind)) << f.message;
  EXPECT_NE(f.message.find(words), std::string::npos) << f.message;
}

TEST(HttpClientErrors, TruncatedBodyAndLyingContentLength) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      c.read_request();
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
    });
    expect_failure(fetch_failure(loop, server.url()), FetchErrc::truncated, "9 bytes received");
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientErrors, BadChunkSizeAndHugeHeadersAreMalformed) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int i) {
      c.read_request();
      if (i == 0)
        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n");
      else
        c.send("HTTP/1.1 200 OK\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n");
    });
    expect_failure(fetch_failure(loop, server.url()), FetchErrc::malformed, "invalid chunk size");
    expect_failure(fetch_failure(loop, server.url()), FetchErrc::malformed,
                   "header section too large");
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientErrors, SlowDripHitsTheIdleTimeoutAndSilenceTheHeadersTimeout) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int i) {
      c.read_request();
      if (i == 0) {
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
        std::this_thread::sleep_for(400ms);
      } else {
        std::this_thread::sleep_for(400ms);
      }
    });
    FetchOptions o;
    o.timeouts.idle = 100ms;
    expect_failure(fetch_failure(loop, server.url(), o), FetchErrc::timeout,
                   "idle timeout (100 ms)");
    FetchOptions h;
    h.timeouts.response_headers = 100ms;
    expect_failure(fetch_failure(loop, server.url(), h), FetchErrc::timeout,
                   "response headers timeout (100 ms)");
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientErrors, TotalTimeoutAndCancelToken) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      c.read_request();
      std::this_thread::sleep_for(300ms);
    });
    FetchOptions o;
    o.timeouts.total = 50ms;
    expect_failure(fetch_failure(loop, server.url(), o), FetchErrc::timeout,
                   "total timeout (50 ms)");
    CancelSource source;
    Timer t(loop);
    t.start([&] { source.cancel(); }, 30ms);
    FetchOptions c;
    c.token = source.token();
    expect_failure(fetch_failure(loop, server.url(), c), FetchErrc::cancelled, "cancelled");
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientErrors, RedirectLoopStopsAtTheLimit) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      while (!c.read_request().empty())
        c.send("HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n");
    });
    FetchOptions o;
    o.max_redirects = 5;
    expect_failure(fetch_failure(loop, server.url(), o), FetchErrc::too_many_redirects,
                   "more than 5 redirects");
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

std::string gzip_zeros(std::size_t n) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string in(n, '\0'), out(deflateBound(&z, n), '\0');
  z.next_in = reinterpret_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(n);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(HttpClientErrors, GzipBombStopsAtMaxResponseSizeAfterDecoding) {
  Loop loop;
  const std::string bomb = gzip_zeros(64 * 1024 * 1024);  // 64 MiB of zeros, ~64 KiB gzipped
  {
    RawServer server([&](RawConn& c, int) {
      c.read_request();
      c.send("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " +
             std::to_string(bomb.size()) + "\r\n\r\n" + bomb);
    });
    FetchOptions o;
    o.max_response_size = 1024 * 1024;
    expect_failure(fetch_failure(loop, server.url(), o), FetchErrc::too_large,
                   "max_response_size (1048576 bytes)");
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientErrors, PlainBodyOverMaxResponseSize) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      c.read_request();
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + std::string(2000, 'b'));
    });
    FetchOptions o;
    o.max_response_size = 1000;
    expect_failure(fetch_failure(loop, server.url(), o), FetchErrc::too_large,
                   "max_response_size (1000 bytes)");
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientErrors, ResetMidResponse) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      c.read_request();
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
      std::this_thread::sleep_for(20ms);
      c.reset();
    });
    const Failure f = fetch_failure(loop, server.url());
    EXPECT_TRUE(f.kind == FetchErrc::io || f.kind == FetchErrc::truncated) << f.message;
    EXPECT_TRUE(f.message.find("reset") != std::string::npos ||
                f.message.find("closed") != std::string::npos)
        << f.message;
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientErrors, ConnectRefusedNamesTheAddress) {
  Loop loop;
  std::uint16_t port = 0;
  {
    RawServer probe([](RawConn&, int) {});
    port = probe.port();
  }  // a port nobody listens on now
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  expect_failure(fetch_failure(loop, url), FetchErrc::connect,
                 "connect to 127.0.0.1:" + std::to_string(port) + " refused");
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientErrors, DnsFailureNamesTheHost) {
  Loop loop;
  net::ResolverOptions ro;  // no real lookup: the test touches no network
  ro.lookup = [](const std::string&,
                 net::AddressFamily) -> Result<std::vector<net::SocketAddress>> {
    return std::error_code(net::dns_errc::host_not_found);
  };
  net::configure_default_resolver(loop, ro);
  expect_failure(fetch_failure(loop, "http://nosuch.invalid/"), FetchErrc::dns,
                 "DNS lookup of nosuch.invalid failed");
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientErrors, HttpsConnectsAndBadUrlsAreRefused) {
  Loop loop;
  expect_failure(fetch_failure(loop, "https://127.0.0.1:1/"), FetchErrc::connect,
                 "connect to 127.0.0.1:1 refused");
  expect_failure(fetch_failure(loop, "ftp://x/"), FetchErrc::bad_url, "unsupported scheme");
  expect_failure(fetch_failure(loop, "http://u:p@h/"), FetchErrc::bad_url, "userinfo");
  expect_failure(fetch_failure(loop, "http://h:99999/"), FetchErrc::bad_url, "invalid port");
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::http::ctest
