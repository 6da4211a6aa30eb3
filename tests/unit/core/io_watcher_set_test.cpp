// IoWatcherSet: many descriptors behind one handle (io_watcher.hpp).
#include <weft/weft.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <vector>

using weft::testing::expect_clean_close;
using weft::testing::Pipe;

TEST(IoWatcherSet, TellsWhichDescriptorIsReadyAndKeepsTheLoopAliveWhileNotEmpty) {
  weft::Loop loop;
  Pipe a, b;
  std::vector<int> ready;
  weft::IoWatcherSet set(loop, [&](int fd, unsigned events) {
    EXPECT_TRUE(events & weft::io_event::readable);
    ready.push_back(fd);
    (fd == a.fds[0] ? a : b).read_byte();
    set.remove(fd);  // the loop ends once both are out
  });
  ASSERT_FALSE(set.add(a.fds[0], weft::io_event::readable));
  ASSERT_FALSE(set.add(b.fds[0], weft::io_event::readable));
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.is_active());
  b.write_byte();
  EXPECT_TRUE(loop.run(weft::RunMode::once));
  EXPECT_EQ(ready, std::vector<int>{b.fds[0]});
  a.write_byte();
  EXPECT_FALSE(loop.run());  // a came, and with the set empty nothing is left
  EXPECT_EQ(ready, (std::vector<int>{b.fds[0], a.fds[0]}));
  EXPECT_FALSE(set.is_active());
  set.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(IoWatcherSet, ADescriptorWatchedElsewhereIsRefused) {
  weft::Loop loop;
  Pipe p;
  weft::IoWatcher watcher(loop, p.fds[0]);
  ASSERT_FALSE(watcher.start(weft::io_event::readable, [](unsigned) {}));
  weft::IoWatcherSet set(loop, [](int, unsigned) {});
  EXPECT_EQ(set.add(p.fds[0], weft::io_event::readable), std::errc::file_exists);
  EXPECT_EQ(set.add(-1, weft::io_event::readable), std::errc::bad_file_descriptor);
  EXPECT_EQ(set.size(), 0u);
  watcher.stop();
  ASSERT_FALSE(set.add(p.fds[0], weft::io_event::readable));
  weft::IoWatcher second(loop, p.fds[0]);  // now the set has it
  EXPECT_TRUE(second.start(weft::io_event::readable, [](unsigned) {}));
  set.remove(p.fds[1]);  // not in the set: nothing happens
  EXPECT_EQ(set.size(), 1u);
  watcher.close();
  second.close();
  set.close();
  loop.run();
  expect_clean_close(loop);
}

// What a server does when a parked socket wakes: the set lets go of the descriptor and a
// watcher of its own takes it over inside the same callback.
TEST(IoWatcherSet, AWatcherTakesADescriptorOverInsideTheSetsCallback) {
  weft::Loop loop;
  Pipe p;
  int own_calls = 0;
  weft::IoWatcher own(loop, p.fds[0]);
  weft::IoWatcherSet set(loop, [&](int fd, unsigned) {
    set.remove(fd);
    ASSERT_FALSE(own.start(weft::io_event::readable, [&](unsigned) {
      ++own_calls;
      p.read_byte();
      own.stop();
    }));
  });
  ASSERT_FALSE(set.add(p.fds[0], weft::io_event::readable));
  p.write_byte();
  loop.run();
  EXPECT_EQ(own_calls, 1);
  own.close();
  set.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(IoWatcherSet, ADescriptorRemovedEarlierInTheSameBatchIsNotDelivered) {
  weft::Loop loop;
  Pipe a, b;
  int calls = 0;
  weft::IoWatcherSet set(loop, [&](int, unsigned) {
    ++calls;
    set.remove(a.fds[0]);
    set.remove(b.fds[0]);
  });
  ASSERT_FALSE(set.add(a.fds[0], weft::io_event::readable));
  ASSERT_FALSE(set.add(b.fds[0], weft::io_event::readable));
  a.write_byte();
  b.write_byte();  // both ready before the loop polls: one batch
  loop.run();
  EXPECT_EQ(calls, 1);
  set.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(IoWatcherSet, ClosingStopsEveryDescriptorAndFreesThemForOthers) {
  weft::Loop loop;
  std::vector<Pipe> pipes(5);
  weft::IoWatcherSet set(loop, [](int, unsigned) { ADD_FAILURE() << "closed set called"; });
  for (Pipe& p : pipes) ASSERT_FALSE(set.add(p.fds[0], weft::io_event::readable));
  set.close();
  EXPECT_EQ(set.size(), 0u);
  EXPECT_EQ(set.add(pipes[0].fds[0], weft::io_event::readable), std::errc::bad_file_descriptor);
  pipes[3].write_byte();
  int calls = 0;
  weft::IoWatcher w(loop, pipes[3].fds[0]);
  ASSERT_FALSE(w.start(weft::io_event::readable, [&](unsigned) {
    ++calls;
    w.close();
  }));
  loop.run();
  EXPECT_EQ(calls, 1);
  expect_clean_close(loop);
}
