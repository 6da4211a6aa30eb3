// File: open, pread/pwrite, fstat, fsync, close, and the descriptor's lifetime.
#include "fs_test_util.hpp"

#include <future>

namespace weft::fs::testing {
namespace {

using std::errc;

class FsFile : public FsTest {};

TEST_F(FsFile, WriteReadStatSyncClose) {
  run([&]() -> Task<void> {
    File f = co_await open(*loop, p("f"), OpenFlags::read_write | OpenFlags::create, 0600);
    EXPECT_TRUE(f.is_open());
    EXPECT_GE(f.fd(), 0);
    EXPECT_EQ(f.path(), p("f"));
    EXPECT_EQ(co_await f.write(0, "hello world"), 11u);
    EXPECT_EQ(co_await f.write(6, "WORLD"), 5u);
    co_await f.sync();
    EXPECT_EQ(co_await f.read(0, 100), "hello WORLD");  // short read at end of file
    EXPECT_EQ(co_await f.read(6, 3), "WOR");
    EXPECT_EQ(co_await f.read(11, 10), "");  // at and past the end: empty
    EXPECT_EQ(co_await f.read(1000, 10), "");
    Stat s = co_await f.stat();
    EXPECT_EQ(s.size, 11u);
    EXPECT_EQ(s.permissions(), 0600u);
    co_await f.close();
    EXPECT_FALSE(f.is_open());
    EXPECT_EQ(f.fd(), -1);
  }());
  EXPECT_EQ(slurp(p("f")), "hello WORLD");
}

TEST_F(FsFile, WritePastTheEndLeavesAHoleOfZeros) {
  run([&]() -> Task<void> {
    File f = co_await open(*loop, p("f"), OpenFlags::write | OpenFlags::create);
    co_await f.write(4, "x");
    co_await f.close();
  }());
  EXPECT_EQ(slurp(p("f")), std::string("\0\0\0\0x", 5));
}

TEST_F(FsFile, OpenFlags) {
  put(p("f"), "abc");
  run([&]() -> Task<void> {
    File a = co_await open(*loop, p("f"), OpenFlags::append);
    co_await a.write(0, "def");  // O_APPEND: Linux appends whatever the offset
    co_await a.close();
    File t = co_await open(p("f"), OpenFlags::write | OpenFlags::truncate);  // current loop
    EXPECT_EQ((co_await t.stat()).size, 0u);
  }());
  EXPECT_EQ(slurp(p("f")), "");
}

TEST_F(FsFile, OpenErrors) {
  put(p("file"), "x");
  ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
  expect_error([&] { return open(*loop, p("missing")); }, errc::no_such_file_or_directory,
               p("missing"), "open");
  expect_error(
      [&] {
        return open(*loop, p("file"), OpenFlags::write | OpenFlags::create | OpenFlags::exclusive);
      },
      errc::file_exists, p("file"), "open");
  expect_error([&] { return open(*loop, p("d"), OpenFlags::write); }, errc::is_a_directory, p("d"),
               "open");
  expect_error([&] { return open(*loop, p("file/x")); }, errc::not_a_directory, p("file/x"),
               "open");
}

TEST_F(FsFile, OperationsOnAClosedFileFailWithEbadf) {
  put(p("f"), "x");
  run([&]() -> Task<void> {
    File f = co_await open(*loop, p("f"));
    co_await f.close();
    co_await f.close();  // idempotent
    try {
      co_await f.read(0, 1);
      ADD_FAILURE() << "read on a closed file succeeded";
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == errc::bad_file_descriptor) << e.what();
      EXPECT_EQ(e.path(), p("f"));
    }
    File moved_from = std::move(f);
    EXPECT_FALSE(moved_from.is_open());
  }());
}

TEST_F(FsFile, ReadOnAWriteOnlyFileReportsTheErrno) {
  expect_error(
      [&]() -> Task<void> {
        File f = co_await open(*loop, p("w"), OpenFlags::write | OpenFlags::create);
        co_await f.read(0, 1);
      },
      errc::bad_file_descriptor, p("w"), "read");
}

TEST_F(FsFile, CallbackForms) {
  put(p("f"), "0123456789");
  std::vector<std::string> events;
  std::optional<File> file;
  open(*loop, p("f"), OpenFlags::read_write, 0, [&](Outcome<File>& r) {
    ASSERT_TRUE(r.ok()) << r.error().message();
    file.emplace(std::move(r).value());
    file->read(2, 3, [&](Outcome<std::string>& data) {
      events.push_back("read " + data.value());
      file->write(0, "ab", [&](Outcome<std::size_t>& n) {
        events.push_back("wrote " + std::to_string(n.value()));
        file->stat([&](Outcome<Stat>& s) {
          events.push_back("size " + std::to_string(s->size));
          file->sync([&](Outcome<void>& synced) {
            EXPECT_TRUE(synced.ok());
            file->close([&](Outcome<void>& closed) {
              EXPECT_TRUE(closed.ok());
              events.push_back("closed");
            });
          });
        });
      });
    });
  });
  loop->run();
  EXPECT_EQ(events, (std::vector<std::string>{"read 234", "wrote 2", "size 10", "closed"}));
  EXPECT_EQ(slurp(p("f")), "ab23456789");
}

TEST_F(FsFile, AdoptsADescriptor) {
  put(p("f"), "xyz");
  int fd = ::open(p("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  File f(loop.get(), fd, p("f"));
  EXPECT_EQ(run(f.read(0, 3)), "xyz");
  run(f.close());
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // closed
}

// An operation in flight shares the descriptor: destroying the File does not close it
// under the operation, and the number is not reused meanwhile.
TEST_F(FsFile, DestroyingAFileWithAnOperationInFlightKeepsTheDescriptor) {
  auto rt = std::make_shared<Runtime>(PoolOptions{.io_threads = 1});
  loop = std::make_unique<Loop>(LoopOptions{.runtime = rt});
  put(p("f"), "content");
  std::promise<void> release;
  auto released = release.get_future().share();
  ASSERT_FALSE(queue_work(
      *loop, WorkClass::fs, [released] { released.wait(); }, [](Result<void>&) {}));
  std::optional<File> f;
  f.emplace(File(loop.get(), ::open(p("f").c_str(), O_RDONLY | O_CLOEXEC), p("f")));
  int old_fd = f->fd();
  std::optional<Outcome<std::string>> got;
  f->read(0, 100, [&](Outcome<std::string>& r) { got.emplace(std::move(r)); });
  f.reset();  // the read is queued behind the blocker
  int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_NE(probe, old_fd);  // still owned by the queued read
  ::close(probe);
  release.set_value();
  loop->run();
  ASSERT_TRUE(got && got->ok()) << got->error().message();
  EXPECT_EQ(got->value(), "content");
  EXPECT_EQ(::fcntl(old_fd, F_GETFD), -1);  // closed by the read's job when it ended
}

// close() while another operation is in flight: the File is closed at once; the
// descriptor is closed when the operation ends.
TEST_F(FsFile, CloseWaitsForOperationsInFlight) {
  auto rt = std::make_shared<Runtime>(PoolOptions{.io_threads = 1});
  loop = std::make_unique<Loop>(LoopOptions{.runtime = rt});
  put(p("f"), "abc");
  File f(loop.get(), ::open(p("f").c_str(), O_RDONLY | O_CLOEXEC), p("f"));
  int fd = f.fd();
  std::string data;
  bool closed = false;
  f.read(0, 3, [&](Outcome<std::string>& r) { data = r.value(); });
  f.close([&](Outcome<void>& r) {
    EXPECT_TRUE(r.ok());
    closed = true;
  });
  EXPECT_FALSE(f.is_open());
  loop->run();
  EXPECT_EQ(data, "abc");
  EXPECT_TRUE(closed);
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
}

}  // namespace
}  // namespace weft::fs::testing
