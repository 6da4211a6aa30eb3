// The BIO between an SSL object and its tls::Stream (engine.hpp): one BIO for both
// directions over the Engine's fields, instead of two memory BIOs.
//
// Why not BIO_s_mem: a memory BIO copies every byte in (BIO_write) and out (BIO_read
// into a string for the inner stream), and keeps the largest buffer it ever held, which
// an idle connection would carry (OpenSSL has no call to shrink one; weft used to replace
// idle BIOs). Here OpenSSL reads the inner stream's read buffer directly (lend(); what it
// leaves is copied into `in`), and writes records straight into `out`, a std::string that
// take_output() moves into the inner stream's write queue. Nothing stays allocated
// between requests. Keep-alive HTTPS: one memcpy and a BIO's bookkeeping less per
// direction per request (docs/BENCHMARKS.md, "TLS" of 2026-12-03 evening).
//
// Threading: the same as the SSL object (engine.hpp): the thread that owns the Engine.
#include "tls/engine.hpp"

#include <openssl/bio.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace weft::tls::detail {
namespace {

Engine& engine_of(BIO* b) { return *static_cast<Engine*>(BIO_get_data(b)); }

int bio_write(BIO* b, const char* data, std::size_t len, std::size_t* written) {
  BIO_clear_retry_flags(b);
  try {
    engine_of(b).out.append(data, len);
  } catch (const std::bad_alloc&) {
    return 0;  // OpenSSL reports the write as failed
  }
  *written = len;
  return 1;
}

// Reads `in` first (older bytes), then the lent window; nothing there: "retry".
int bio_read(BIO* b, char* into, std::size_t len, std::size_t* got) {
  BIO_clear_retry_flags(b);
  Engine& e = engine_of(b);
  std::size_t n = 0;
  if (e.in_pos < e.in.size()) {
    n = std::min(len, e.in.size() - e.in_pos);
    std::memcpy(into, e.in.data() + e.in_pos, n);
    e.in_pos += n;
    if (e.in_pos == e.in.size()) {  // all read: hold nothing
      std::string().swap(e.in);
      e.in_pos = 0;
    }
  } else if (e.window_len > 0) {
    n = std::min(len, e.window_len);
    std::memcpy(into, e.window, n);
    e.window += n;
    e.window_len -= n;
  }
  if (n == 0) {
    BIO_set_retry_read(b);
    return 0;
  }
  *got = n;
  return 1;
}

long bio_ctrl(BIO* b, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // the Stream moves `out` on
    case BIO_CTRL_PENDING:
      return static_cast<long>(unread(engine_of(b)));
    case BIO_CTRL_WPENDING:
      return static_cast<long>(engine_of(b).out.size());
    default:
      return 0;  // not supported (kTLS, push/pop, ...)
  }
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* method() {
  static const BIO_METHOD* const m = [] {
    const int index = BIO_get_new_index();  // -1: none left; the type is only a label
    BIO_METHOD* bm =
        BIO_meth_new((index > 0 ? index : 0) | BIO_TYPE_SOURCE_SINK, "weft tls stream");
    if (!bm) return static_cast<BIO_METHOD*>(nullptr);
    BIO_meth_set_write_ex(bm, bio_write);
    BIO_meth_set_read_ex(bm, bio_read);
    BIO_meth_set_ctrl(bm, bio_ctrl);
    BIO_meth_set_create(bm, bio_create);
    return bm;
  }();
  return m;
}

}  // namespace

BIO* new_engine_bio(Engine& e) {
  const BIO_METHOD* m = method();
  BIO* b = m ? BIO_new(m) : nullptr;
  if (b) BIO_set_data(b, &e);
  return b;
}

void feed(Engine& e, const char* data, std::size_t len) {
  if (e.in_pos > 0 && e.in_pos == e.in.size()) {
    e.in.clear();
    e.in_pos = 0;
  }
  e.in.append(data, len);
}

std::string take_output(Engine& e) {
  std::string out = std::move(e.out);
  e.out.clear();  // moved-from: valid, make it empty
  return out;
}

void lend(Engine& e, const char* data, std::size_t len) noexcept {
  e.window = data;
  e.window_len = len;
}

void keep_unread(Engine& e) {
  if (e.window_len > 0) feed(e, e.window, e.window_len);
  e.window = nullptr;
  e.window_len = 0;
}

std::size_t unread(const Engine& e) noexcept { return e.in.size() - e.in_pos + e.window_len; }

void release_idle_memory(Engine& e) {
  if (e.ssl && SSL_pending(e.ssl) == 0) SSL_free_buffers(e.ssl);  // refuses while they hold data
}

}  // namespace weft::tls::detail
