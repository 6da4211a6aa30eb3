// The /_weft/ pages of weft-serve beyond observe::mount()'s endpoints: the dashboard (a
// static page reading /_weft/stats/stream) and, with --demo, two routes that burn the
// same CPU time — on the loop, or through offload() — so a visitor sees the difference.
//   GET /_weft/demo/block?ms=N     burns N ms on the loop (1..5000): a stall report
//   GET /_weft/demo/offload?ms=N   the same work on the cpu pool: the loop stays free
// The demo routes follow the observation endpoints' access rule (loopback unless opened).
#pragma once

#include <weft/http/server.hpp>
#include <weft/observe/mount.hpp>

#include <string>

namespace weft::serve {

void mount_demo(http::Server& server, const observe::Mount& access);
// The dashboard page and its script and style under /_weft/, from `dashboard_dir`.
void mount_dashboard(http::Server& server, const std::string& dashboard_dir);

// share/weft-serve/dashboard next to the binary's bin/ directory.
std::string bundled_dashboard_dir();

}  // namespace weft::serve
