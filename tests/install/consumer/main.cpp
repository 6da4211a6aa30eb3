// A program another project would write: a pool job and a coroutine on an installed weft.
#include <weft/weft.hpp>

#include <cstdio>

int main() {
  weft::Loop loop;
  int answer = weft::run_until_complete(loop, []() -> weft::Task<int> {
    co_return co_await weft::blocking([] { return 6 * 7; });
  }());
  std::printf("consumer: %d\n", answer);
  return loop.close() ? 1 : 0;
}
