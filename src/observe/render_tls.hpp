// The "tls" part of the JSON snapshot and its Prometheus families (stats.hpp has both
// shapes). Internal to observe.
#pragma once

#include <weft/tls/stats.hpp>

#include <string>
#include <string_view>

namespace weft::observe {

std::string tls_json(const tls::Stats& t, const tls::KtlsStatus& k);
// Appends `v` as a JSON string (quoted, escaped); render.cpp's, shared.
void json_string(std::string& out, std::string_view v);
std::string tls_prometheus(const tls::Stats& t, const tls::KtlsStatus& k);

}  // namespace weft::observe
