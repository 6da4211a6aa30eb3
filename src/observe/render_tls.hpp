// The "tls" part of the JSON snapshot and its Prometheus families (stats.hpp has both
// shapes). Internal to observe.
#pragma once

#include <weft/tls/stats.hpp>

#include <string>

namespace weft::observe {

std::string tls_json(const tls::Stats& t, const tls::KtlsStatus& k);
std::string tls_prometheus(const tls::Stats& t, const tls::KtlsStatus& k);

}  // namespace weft::observe
