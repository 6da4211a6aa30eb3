// db::Listener (weft/db/notify.hpp): notifications arrive on the loop in commit order, a
// rolled-back transaction's never do, a payload near NOTIFY's limit arrives whole, and a
// connection killed by the server is replaced (with backoff; connected runs again).
#include "db_test_util.hpp"

#include <weft/db/notify.hpp>
#include <weft/timer.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>

namespace weft::db {
namespace {

using namespace std::chrono_literals;
using testing::wait;
using weft::testing::shared_pg_server;

// Runs the loop until pred() holds or `timeout` passes (a ticking timer keeps the loop
// waiting, as the Listener itself never does).
bool run_until(Loop& loop, const std::function<bool()>& pred,
               std::chrono::milliseconds timeout = 5000ms) {
  Timer tick(loop);
  tick.start([] {}, 5ms, 5ms);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred() && std::chrono::steady_clock::now() < deadline) loop.run(RunMode::once);
  tick.stop();
  return pred();
}

TEST(DbPgListen, DeliversCommittedNotificationsAndReconnects) {
  Loop loop;
  const std::string url = shared_pg_server().fresh_schema_url();
  const std::string channel = "weft_listen_test_" + std::to_string(::getpid());
  auto db = open(loop, url);
  std::vector<std::string> got;
  int connected = 0, lost = 0;
  Listener listener(loop, url, {channel},
                    {.notify =
                         [&](const Notification& n) {
                           EXPECT_EQ(n.channel, channel);
                           got.push_back(n.payload);
                         },
                     .connected = [&] { ++connected; },
                     .disconnected = [&](std::string_view) { ++lost; }},
                    {.connect_timeout = 5000ms, .min_backoff = 20ms, .max_backoff = 200ms});
  EXPECT_EQ(connected, 0) << "no callback inside the constructor";
  ASSERT_TRUE(run_until(loop, [&] { return connected == 1; })) << listener.stats().last_error;

  wait(loop, db->exec("SELECT pg_notify(?, ?)", params(channel, "one")));
  auto tx = wait(loop, db->begin());
  wait(loop, tx->exec("SELECT pg_notify(?, ?)", params(channel, "rolled back")));
  wait(loop, tx->rollback());
  const std::string big(7990, 'b');  // NOTIFY's payload must stay under 8000 bytes
  wait(loop, db->exec("SELECT pg_notify(?, ?)", params(channel, big)));
  ASSERT_TRUE(run_until(loop, [&] { return got.size() == 2; }));
  EXPECT_EQ(got[0], "one");
  EXPECT_EQ(got[1], big);

  // The server ends the listening session: the listener connects again and listens again.
  shared_pg_server().admin_query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN \"" +
      channel + "%'");
  ASSERT_TRUE(run_until(loop, [&] { return connected == 2; })) << listener.stats().last_error;
  EXPECT_EQ(lost, 1);
  wait(loop, db->exec("SELECT pg_notify(?, ?)", params(channel, "after")));
  ASSERT_TRUE(run_until(loop, [&] { return got.size() == 3; }));
  EXPECT_EQ(got[2], "after");
  ListenerStats s = listener.stats();
  EXPECT_TRUE(s.connected);
  EXPECT_EQ(s.connects, 2u);
  EXPECT_GE(s.failures, 1u);
  EXPECT_EQ(s.notifications, 3u);
  EXPECT_EQ(s.backoff.count(), 0);
  listener.close();
  wait(loop, db->close());
  weft::testing::expect_clean_close(loop);
}

TEST(DbPgListen, UnreachableServerIsRetriedWithGrowingBackoff) {
  Loop loop;
  int connected = 0;
  // A port nothing listens on (the shared server's, plus one, is free in practice: checked).
  const int port = shared_pg_server().port() + 1;
  Listener listener(loop, "postgres://postgres@127.0.0.1:" + std::to_string(port) + "/postgres",
                    {"x"}, {.notify = {}, .connected = [&] { ++connected; }, .disconnected = {}},
                    {.connect_timeout = 1000ms, .min_backoff = 10ms, .max_backoff = 40ms});
  ASSERT_TRUE(run_until(loop, [&] { return listener.stats().failures >= 4; }));
  ListenerStats s = listener.stats();
  EXPECT_FALSE(s.connected);
  EXPECT_EQ(s.backoff.count(), 40) << "doubled up to max_backoff";
  EXPECT_FALSE(s.last_error.empty());
  EXPECT_EQ(connected, 0);
  listener.close();
  loop.run();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::db
