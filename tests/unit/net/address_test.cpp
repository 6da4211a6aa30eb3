#include <weft/net/address.hpp>

#include <gtest/gtest.h>

using weft::net::SocketAddress;

TEST(NetAddress, ParsesIpv4) {
  auto a = SocketAddress::parse("127.0.0.1", 8080);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_ipv4());
  EXPECT_EQ(a->port(), 8080);
  EXPECT_EQ(a->ip(), "127.0.0.1");
  EXPECT_EQ(a->to_string(), "127.0.0.1:8080");
  EXPECT_EQ(*a, SocketAddress::ipv4_loopback(8080));
}

TEST(NetAddress, ParsesIpv6) {
  auto a = SocketAddress::parse("::1", 443);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_ipv6());
  EXPECT_EQ(a->to_string(), "[::1]:443");
  EXPECT_EQ(*a, SocketAddress::ipv6_loopback(443));
  auto b = SocketAddress::parse("[::1]", 443);
  ASSERT_TRUE(b);
  EXPECT_EQ(*a, *b);
}

TEST(NetAddress, ParsesHostPort) {
  auto a = SocketAddress::parse("10.1.2.3:99");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "10.1.2.3:99");
  auto b = SocketAddress::parse("[2001:db8::5]:65535");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->port(), 65535);
  EXPECT_EQ(b->ip(), "2001:db8::5");
  auto u = SocketAddress::parse("unix:/tmp/weft.sock");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->is_unix());
  EXPECT_EQ(u->to_string(), "unix:/tmp/weft.sock");
}

TEST(NetAddress, RejectsNonNumeric) {
  EXPECT_FALSE(SocketAddress::parse("localhost", 80));
  EXPECT_FALSE(SocketAddress::parse("256.1.1.1", 80));
  EXPECT_FALSE(SocketAddress::parse("", 80));
  EXPECT_FALSE(SocketAddress::parse("1.2.3.4:99999"));
  EXPECT_FALSE(SocketAddress::parse("1.2.3.4:"));
  EXPECT_FALSE(SocketAddress::parse("::1:80"));  // an IPv6 address with a port needs brackets
  EXPECT_FALSE(SocketAddress::unix_path(std::string(200, 'x')));
}

TEST(NetAddress, AbstractUnixAndPortChange) {
  auto u = SocketAddress::unix_path("@weft-test");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->ip(), "@weft-test");
  SocketAddress a = SocketAddress::ipv4_any(0);
  a.set_port(1234);
  EXPECT_EQ(a.to_string(), "0.0.0.0:1234");
  EXPECT_FALSE(SocketAddress().is_valid());
}
