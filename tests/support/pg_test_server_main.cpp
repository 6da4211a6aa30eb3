// weft_pg_test_server start|stop <state-file>: the CTest fixture around PostgreSQL tests
// (see pg_server.hpp). `start` replaces a server left behind by an earlier run.
#include "support/pg_server.hpp"

#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "start" && std::string(argv[1]) != "stop")) {
    std::fprintf(stderr, "usage: %s start|stop <state-file>\n", argv[0]);
    return 2;
  }
  const std::string state = argv[2];
  try {
    if (std::string(argv[1]) == "stop") {
      weft::testing::PgServer::stop_recorded(state);
      std::printf("weft_pg_test_server: stopped\n");
      return 0;
    }
    weft::testing::PgServer::stop_recorded(state);
    weft::testing::PgServer server = weft::testing::PgServer::start();
    server.save(state);
    std::printf("weft_pg_test_server: %s (data in %s)\n", server.url().c_str(),
                server.dir().c_str());
    server.release();  // keeps running after this process
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft_pg_test_server: %s\n", e.what());
    return 1;
  }
}
