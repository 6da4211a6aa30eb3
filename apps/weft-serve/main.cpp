// weft-serve: a durable REST API over collections of JSON documents, plus static files.
// `weft-serve --help` lists the flags; README.md and the bundled site explain the API.
#include "app.hpp"
#include "options.hpp"

#include <weft/loop.hpp>
#include <weft/pool.hpp>
#include <weft/task.hpp>

#include <memory>

int main(int argc, char** argv) {
  weft::serve::ParsedArgs parsed = weft::serve::parse_args(argc, argv);
  if (!parsed.options) return parsed.exit_status;
  weft::Loop loop(
      weft::LoopOptions{.runtime = std::make_shared<weft::Runtime>(parsed.options->pools)});
  weft::serve::App app(loop, std::move(*parsed.options));
  int status = weft::run_until_complete(loop, app.start());
  if (status != 0) app.stop();
  loop.run();  // serves until SIGINT/SIGTERM, then until everything is closed
  return status;
}
