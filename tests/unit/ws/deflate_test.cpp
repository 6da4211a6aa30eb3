// permessage-deflate: offer negotiation (RFC 7692 §7) and the compressor/decompressor pair.
#include <weft/ws/deflate.hpp>

#include <gtest/gtest.h>

#include <random>

namespace weft::ws {
namespace {

CompressionOptions on() {
  CompressionOptions o;
  o.enabled = true;
  return o;
}

std::string answer(std::string_view offers, CompressionOptions o = on()) {
  auto d = negotiate_deflate(offers, o);
  return d ? d->response : "declined";
}

TEST(WsDeflate, Negotiation) {
  EXPECT_EQ(answer("permessage-deflate"), "permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(answer("permessage-deflate; client_max_window_bits"),
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=15");
  EXPECT_EQ(answer("permessage-deflate; client_max_window_bits=10; client_no_context_takeover"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "client_max_window_bits=10");
  EXPECT_EQ(answer("permessage-deflate; server_max_window_bits=12"),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12");
  EXPECT_EQ(answer("permessage-deflate; server_max_window_bits=\"11\""),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11");
  // Declined offers: unknown or repeated parameters, bad values, window 8; the next offer wins.
  EXPECT_EQ(answer("permessage-deflate; foo"), "declined");
  EXPECT_EQ(answer("permessage-deflate; server_max_window_bits=16"), "declined");
  EXPECT_EQ(answer("permessage-deflate; server_max_window_bits"), "declined");
  EXPECT_EQ(answer("permessage-deflate; client_no_context_takeover; client_no_context_takeover"),
            "declined");
  EXPECT_EQ(answer("permessage-deflate; server_max_window_bits=8"), "declined");
  EXPECT_EQ(answer("permessage-deflate; server_max_window_bits=8, permessage-deflate"),
            "permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(answer("x-webkit-deflate-frame"), "declined");
  EXPECT_EQ(answer("permessage-deflate", CompressionOptions{}), "declined") << "off by default";
  // Our memory bound: a smaller client window, which a client must have offered to accept.
  CompressionOptions small = on();
  small.client_max_window_bits = 10;
  EXPECT_EQ(answer("permessage-deflate; client_max_window_bits", small),
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
  EXPECT_EQ(answer("permessage-deflate", small), "declined");
}

TEST(WsDeflate, RoundTripWithAndWithoutContext) {
  std::mt19937 rng(5);
  Deflater d(15);
  Inflater keeps(15);
  for (int i = 0; i < 200; ++i) {
    std::string m(rng() % (i % 20 == 0 ? 300000 : 3000), '\0');
    for (char& c : m) c = static_cast<char>('a' + rng() % (i % 2 ? 4 : 26));
    std::string z;
    d.compress(m, z);
    std::string out;
    ASSERT_EQ(keeps.decompress(z, out, 1 << 20), Inflater::Result::ok);
    ASSERT_EQ(out, m);
    Inflater fresh(15);  // our messages do not depend on earlier ones
    ASSERT_EQ(fresh.decompress(z, out, 1 << 20), Inflater::Result::ok);
    ASSERT_EQ(out, m);
  }
}

TEST(WsDeflate, LimitsAndCorruption) {
  Deflater d(15);
  std::string z;
  d.compress(std::string(100000, 'a'), z);
  EXPECT_LT(z.size(), 1000u);
  Inflater i(15);
  std::string out;
  EXPECT_EQ(i.decompress(z, out, 50000), Inflater::Result::too_big)
      << "a zip bomb stops at the limit";
  Inflater j(15);
  EXPECT_EQ(j.decompress("\xff\xff\xff\xff garbage", out, 1000), Inflater::Result::corrupt);
}

}  // namespace
}  // namespace weft::ws
