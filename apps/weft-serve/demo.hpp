// The /_weft/ pages of weft-serve beyond observe::mount()'s endpoints: the dashboard (a
// static page reading /_weft/stats/stream) and, with --demo, two routes that burn the
// same CPU time — on the loop, or through offload() — so a visitor sees the difference.
//   POST /_weft/demo/block?ms=N     burns N ms on the loop (1..5000): a stall report
//   POST /_weft/demo/offload?ms=N   the same work on the cpu pool: the loop stays free
// GET on them is 405 (Allow: POST): any page can make a browser GET a URL (<img>), and
// blocking the loop must take more than that. Every page here is under /_weft/, so
// observe::mount()'s middleware applies its access rule (Host, Origin, loopback or token)
// to them as to the data endpoints: mount them only on a server with that Mount.
#pragma once

#include <weft/http/server.hpp>

#include <string>

namespace weft::serve {

void mount_demo(http::Server& server);
// The dashboard page and its script and style under /_weft/, from `dashboard_dir`.
void mount_dashboard(http::Server& server, const std::string& dashboard_dir);

// share/weft-serve/dashboard next to the binary's bin/ directory.
std::string bundled_dashboard_dir();

}  // namespace weft::serve
