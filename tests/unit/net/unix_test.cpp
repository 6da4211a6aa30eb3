// Unix-domain sockets: the same Listener/Stream API over AF_UNIX.
#include "unit/net/net_test_util.hpp"

#include <sys/stat.h>

#include <cstdlib>

using namespace weft;
using namespace weft::net;
using namespace weft::net::test;

namespace {

std::string temp_socket_path() {
  std::string dir = "/tmp/weft-net-XXXXXX";
  EXPECT_NE(::mkdtemp(dir.data()), nullptr);
  return dir + "/s.sock";
}

void unix_echo(const SocketAddress& addr) {
  Loop loop;
  EchoServer server(loop, addr);
  ASSERT_TRUE(server.listener().is_listening());
  Stream client(loop);
  std::string got;
  bool ended = false;
  client.connect(addr, [](std::error_code ec) { EXPECT_FALSE(ec) << ec.message(); });
  client.read_start([&](std::span<char> d) {
    got += to_string(d);
    return d.size();
  });
  client.on_end([&] { ended = true; });
  const std::string big(300000, 'u');
  client.write("unix:");
  client.write(big);
  client.shutdown(WriteCallback{});
  run_until(loop, [&] { return ended; });
  EXPECT_EQ(got, "unix:" + big);
  client.close();
  server.close_all();
  finish(loop);
}

}  // namespace

TEST(NetUnix, EchoOverFilesystemPath) {
  const std::string path = temp_socket_path();
  unix_echo(*SocketAddress::unix_path(path));
  struct stat st {};
  EXPECT_NE(::stat(path.c_str(), &st), 0) << "the socket file is removed on close";
  ::rmdir(path.substr(0, path.rfind('/')).c_str());
}

TEST(NetUnix, EchoOverAbstractName) {
  unix_echo(*SocketAddress::unix_path("@weft-net-test-" + std::to_string(::getpid())));
}

TEST(NetUnix, StaleSocketFile) {
  const std::string path = temp_socket_path();
  auto addr = *SocketAddress::unix_path(path);
  Loop loop;
  {
    ListenOptions keep;
    keep.unlink_on_close = false;
    Listener first(loop);
    ASSERT_FALSE(first.listen(
        addr, [](Socket) {}, keep));
  }
  Listener second(loop);
  EXPECT_EQ(second.listen(addr, [](Socket) {}), std::errc::address_in_use);
  ListenOptions replace;
  replace.unlink_existing = true;
  EXPECT_FALSE(second.listen(
      addr, [](Socket) {}, replace));
  second.close();
  finish(loop);
  ::rmdir(path.substr(0, path.rfind('/')).c_str());
}

TEST(NetUnix, ConnectToMissingPathFailsLater) {
  Loop loop;
  Stream client(loop);
  std::error_code result;
  client.connect(*SocketAddress::unix_path("/nonexistent/weft.sock"),
                 [&](std::error_code ec) { result = ec; });
  EXPECT_FALSE(result);
  run_until(loop, [&] { return bool(result); });
  EXPECT_EQ(result, std::errc::no_such_file_or_directory);
  client.close();
  finish(loop);
}
