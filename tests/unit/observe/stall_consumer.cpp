// A program as a weft user writes it — linked with weft::weft and nothing else (no
// ENABLE_EXPORTS of its own): a timer callback stalls the loop; the watchdog's stack must
// name the function (the -rdynamic that weft::observe's interface adds). Prints the stack.
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>

// External linkage and not inlined: the frame the stack must name.
__attribute__((noinline)) void weft_consumer_stalling_handler() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  volatile unsigned spins = 0;
  while (std::chrono::steady_clock::now() < until) spins = spins + 1;
}

int main() {
  weft::Loop loop;
  weft::observe::WatchdogOptions options;
  options.threshold = std::chrono::milliseconds(50);
  options.log_sink = [](std::string_view) {};
  weft::observe::Watchdog dog(loop, options);
  weft::Timer timer(loop);
  timer.start(
      [&] {
        weft_consumer_stalling_handler();
        timer.close();
      },
      std::chrono::milliseconds(1));
  loop.run();
  for (const weft::observe::StallReport& r : dog.recent()) {
    for (const std::string& frame : r.stack) std::printf("frame: %s\n", frame.c_str());
  }
  return dog.recent().empty() ? 1 : 0;
}
