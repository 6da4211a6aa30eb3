// The TLS figures of a Snapshot, as JSON and as Prometheus text (render_tls.hpp).
#include "observe/render_tls.hpp"

#include <cstdint>
#include <cstdio>
#include <string_view>

namespace weft::observe {
namespace {

std::string escaped(std::string_view v) {
  std::string out;
  json_string(out, v);
  return out;
}

std::string n(std::uint64_t v) { return std::to_string(v); }

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n';
}

}  // namespace

std::string tls_json(const tls::Stats& t, const tls::KtlsStatus& k) {
  return std::string("{\"ktls\":") + (k.in_use ? "true" : "false") +
         ",\"ktls_kernel\":" + (k.kernel ? "true" : "false") + ",\"reason\":" + escaped(k.reason) +
         ",\"handshakes_in_progress\":" + n(t.handshakes_in_progress) +
         ",\"handshakes_done\":" + n(t.handshakes_done) + ",\"resumed\":" + n(t.resumed) +
         ",\"handshakes_failed\":" + n(t.handshakes_failed) +
         ",\"handshakes_refused\":" + n(t.handshakes_refused) +
         ",\"pool_steps\":" + n(t.pool_steps) + ",\"inline_steps\":" + n(t.inline_steps) + "}";
}

std::string tls_prometheus(const tls::Stats& t, const tls::KtlsStatus& k) {
  std::string out;
  family(out, "weft_tls_handshakes_total", "counter", "TLS handshakes ended, by outcome.");
  out += "weft_tls_handshakes_total{outcome=\"done\"} " + n(t.handshakes_done) + '\n';
  out += "weft_tls_handshakes_total{outcome=\"failed\"} " + n(t.handshakes_failed) + '\n';
  family(out, "weft_tls_resumed_total", "counter",
         "Completed TLS handshakes that resumed a session.");
  out += "weft_tls_resumed_total " + n(t.resumed) + '\n';
  family(out, "weft_tls_handshakes_refused_total", "counter",
         "TLS handshakes refused at the in-progress limit (counted in failed too).");
  out += "weft_tls_handshakes_refused_total " + n(t.handshakes_refused) + '\n';
  family(out, "weft_tls_handshakes_in_progress", "gauge", "TLS handshakes in progress.");
  out += "weft_tls_handshakes_in_progress " + n(t.handshakes_in_progress) + '\n';
  family(out, "weft_tls_handshake_steps_total", "counter",
         "TLS handshake steps, by where they ran.");
  out += "weft_tls_handshake_steps_total{where=\"pool\"} " + n(t.pool_steps) + '\n';
  out += "weft_tls_handshake_steps_total{where=\"inline\"} " + n(t.inline_steps) + '\n';
  family(out, "weft_tls_ktls", "gauge", "1 when TLS records go through the kernel (kTLS), else 0.");
  out += std::string("weft_tls_ktls ") + (k.in_use ? "1" : "0") + '\n';
  return out;
}

}  // namespace weft::observe
