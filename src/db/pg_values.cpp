// The PostgreSQL backend's conversions: URL -> libpq keywords, Values -> parameters,
// results -> ResultSets, and errors -> weft.db codes.
//
// Parameters go in text format with the type left to the server (so `?` takes the
// column's type, and `?::jsonb` casts), except integers (int8), reals (float8) and blobs
// (bytea, binary format). Results are requested in text format and decoded by column
// type OID: bool/int2/int4/int8/oid -> integer, float4/float8/numeric -> real (numeric
// loses precision past a double: select it ::text to keep it exact), bytea -> blob,
// everything else (text, varchar, json, jsonb, timestamps, uuid, ...) -> text.
#include "db/pg_backend.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace weft::db::pg {
namespace {

constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26;
constexpr Oid kFloat4 = 700, kFloat8 = 701, kNumeric = 1700;

struct ConninfoOptions {
  PQconninfoOption* opts = nullptr;
  ~ConninfoOptions() {
    if (opts) PQconninfoFree(opts);
  }
};

void set_key(Spec& spec, const std::string& key, std::string value) {
  for (std::size_t i = 0; i < spec.keys.size(); ++i) {
    if (spec.keys[i] == key) {
      spec.values[i] = std::move(value);
      return;
    }
  }
  spec.keys.push_back(key);
  spec.values.push_back(std::move(value));
}

const std::string* find_key(const Spec& spec, const std::string& key) {
  for (std::size_t i = 0; i < spec.keys.size(); ++i) {
    if (spec.keys[i] == key) return &spec.values[i];
  }
  return nullptr;
}

std::string render_double(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);  // shortest exact form
  return std::string(buf, res.ptr);
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Blob decode_bytea(const char* s, std::size_t n) {
  if (n < 2 || s[0] != '\\' || s[1] != 'x') {
    throw Error(errc::format, "postgres: bytea value not in hex format");
  }
  std::vector<std::byte> out;
  out.reserve((n - 2) / 2);
  for (std::size_t i = 2; i + 1 < n; i += 2) {
    int hi = hex_digit(s[i]);
    int lo = hex_digit(s[i + 1]);
    if (hi < 0 || lo < 0) throw Error(errc::format, "postgres: bad hex digit in a bytea value");
    out.push_back(static_cast<std::byte>(hi * 16 + lo));
  }
  return Blob(std::move(out));
}

Value decode(Oid type, const char* s, std::size_t n) {
  switch (type) {
    case kBool:
      return Value(static_cast<std::int64_t>(n > 0 && s[0] == 't'));
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid: {
      std::int64_t v = 0;
      std::from_chars(s, s + n, v);
      return Value(v);
    }
    case kFloat4:
    case kFloat8:
    case kNumeric: {
      double d = 0;
      auto res = std::from_chars(s, s + n, d);
      if (res.ec != std::errc()) d = std::numeric_limits<double>::quiet_NaN();
      return Value(d);
    }
    case kBytea:
      return Value(decode_bytea(s, n));
    default:
      return Value(std::string(s, n));
  }
}

// SQLSTATE class and code -> weft.db code.
errc map_sqlstate(std::string_view st) {
  std::string_view cls = st.substr(0, 2);
  if (st == "40001" || st == "40P01") return errc::busy;
  if (st == "42501") return errc::permission;
  if (st == "25P02") return errc::abort;
  if (st == "53200") return errc::no_memory;
  if (st == "53100") return errc::full;
  if (st == "3D000") return errc::cant_open;
  if (st == "55P03" || st == "55006") return errc::locked;
  if (cls == "23") return errc::constraint;
  if (cls == "42" || cls == "0A" || cls == "34" || cls == "26") return errc::sql_error;
  if (cls == "22") return errc::mismatch;
  if (cls == "40") return errc::abort;
  if (cls == "25") return errc::misuse;
  if (cls == "28") return errc::auth;
  if (cls == "53") return errc::busy;
  if (cls == "54") return errc::too_big;
  if (cls == "57" || cls == "08") return errc::connection_lost;
  if (cls == "58") return errc::io;
  if (cls == "XX") return errc::internal;
  return errc::sql_error;
}

}  // namespace

std::string shorten(std::string_view sql) {
  constexpr std::size_t kMax = 160;
  std::string s(sql.substr(0, kMax));
  if (sql.size() > kMax) s += "...";
  return s;
}

std::string trim_message(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return s;
}

Error canceled_error() {
  return Error(std::make_error_code(std::errc::operation_canceled),
               "the database was destroyed before the statement was sent");
}

Spec parse_url(std::string_view url, Options options) {
  std::string text(url);
  char* err = nullptr;
  ConninfoOptions parsed{PQconninfoParse(text.c_str(), &err)};
  if (!parsed.opts) {
    std::string why = err ? trim_message(err) : "out of memory";
    if (err) PQfreemem(err);
    throw Error(errc::bad_url, "postgres: bad URL: " + why);
  }
  Spec spec;
  for (PQconninfoOption* o = parsed.opts; o->keyword; ++o) {
    if (o->val && *o->val) set_key(spec, o->keyword, o->val);
  }
  if (!find_key(spec, "client_encoding")) set_key(spec, "client_encoding", "UTF8");
  if (!find_key(spec, "fallback_application_name"))
    set_key(spec, "fallback_application_name", "weft");
  // bytea in hex (decoded above); the query timeout is the server's statement_timeout.
  std::string server_options;
  if (const std::string* given = find_key(spec, "options")) server_options = *given + " ";
  server_options += "-c bytea_output=hex";
  if (options.postgres.query_timeout.count() > 0) {
    server_options +=
        " -c statement_timeout=" + std::to_string(options.postgres.query_timeout.count());
  }
  set_key(spec, "options", server_options);
  const std::string* host = find_key(spec, "host");
  if (host && !find_key(spec, "hostaddr") && host->find_first_of(",/@") == std::string::npos) {
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET, host->c_str(), buf) != 1 &&
        inet_pton(AF_INET6, host->c_str(), buf) != 1) {
      spec.resolve_host = *host;
    }
  }
  const std::string* port = find_key(spec, "port");
  const std::string* db = find_key(spec, "dbname");
  spec.where = (host ? *host : std::string("(default socket)")) + ":" + (port ? *port : "5432") +
               "/" + (db ? *db : "");
  if (options.postgres.pool_size == 0) options.postgres.pool_size = 1;
  if (options.postgres.pipeline_depth == 0) options.postgres.pipeline_depth = 1;
  spec.options = std::move(options);
  return spec;
}

std::string type_signature(const Params& params) {
  std::string sig;
  sig.reserve(params.size());
  for (const Value& v : params) sig += static_cast<char>('0' + static_cast<int>(v.type()));
  return sig;
}

EncodedParams encode_params(const Params& params, std::string_view sql) {
  EncodedParams e;
  const std::size_t n = params.size();
  e.types.resize(n, 0);
  e.values.resize(n, nullptr);
  e.lengths.resize(n, 0);
  e.formats.resize(n, 0);
  e.texts.reserve(n);  // pointers into it stay valid: no reallocation
  for (std::size_t i = 0; i < n; ++i) {
    const Value& v = params[i];
    switch (v.type()) {
      case Type::null:
        break;
      case Type::integer:
        e.types[i] = kInt8;
        e.values[i] = e.texts.emplace_back(std::to_string(v.as_int())).c_str();
        break;
      case Type::real:
        e.types[i] = kFloat8;
        e.values[i] = e.texts.emplace_back(render_double(v.as_double())).c_str();
        break;
      case Type::text: {
        const std::string& s = v.as_text();
        if (s.find('\0') != std::string::npos) {
          throw Error(errc::mismatch, "PostgreSQL text cannot hold NUL bytes (parameter " +
                                          std::to_string(i + 1) +
                                          "; bind a Blob) [in: " + shorten(sql) + "]");
        }
        e.values[i] = s.c_str();
        break;
      }
      case Type::blob: {
        const Blob& b = v.as_blob();
        static const char empty = 0;
        e.types[i] = kBytea;
        e.values[i] = b.empty() ? &empty : reinterpret_cast<const char*>(b.data());
        e.lengths[i] = static_cast<int>(b.size());
        e.formats[i] = 1;
        break;
      }
    }
  }
  return e;
}

ResultSet to_result_set(const PGresult* res) {
  ResultSet rs;
  const int cols = PQnfields(res);
  const int rows = PQntuples(res);
  if (cols > 0) {
    auto names = std::make_shared<std::vector<std::string>>();
    names->reserve(static_cast<std::size_t>(cols));
    for (int c = 0; c < cols; ++c) names->emplace_back(PQfname(res, c));
    rs.columns = std::move(names);
  }
  std::vector<Oid> types(static_cast<std::size_t>(cols));
  for (int c = 0; c < cols; ++c) types[static_cast<std::size_t>(c)] = PQftype(res, c);
  rs.rows.reserve(static_cast<std::size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(cols));
    for (int c = 0; c < cols; ++c) {
      if (PQgetisnull(res, r, c)) {
        values.emplace_back();
        continue;
      }
      values.push_back(decode(types[static_cast<std::size_t>(c)], PQgetvalue(res, r, c),
                              static_cast<std::size_t>(PQgetlength(res, r, c))));
    }
    rs.rows.emplace_back(rs.columns, std::move(values));
  }
  const char* status = PQcmdStatus(const_cast<PGresult*>(res));
  std::string_view verb(status ? status : "");
  if (verb.starts_with("INSERT") || verb.starts_with("UPDATE") || verb.starts_with("DELETE") ||
      verb.starts_with("MERGE")) {
    const char* n = PQcmdTuples(const_cast<PGresult*>(res));
    std::from_chars(n, n + std::strlen(n), rs.rows_affected);
  }
  return rs;
}

Error make_error(const PGresult* res, std::string_view sql) {
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
  std::string msg = primary ? primary : trim_message(PQresultErrorMessage(res));
  if (detail) msg += std::string(" (") + detail + ")";
  std::string_view st = state ? state : "";
  if (!st.empty()) msg += " [SQLSTATE " + std::string(st) + "]";
  if (!sql.empty()) msg += " [in: " + shorten(sql) + "]";
  if (st.empty()) return Error(errc::internal, msg);
  if (st == "57014") {  // canceled: by the statement timeout (or a cancel request)
    return Error(std::make_error_code(std::errc::timed_out), msg, sqlstate_code(st));
  }
  return Error(make_error_code(map_sqlstate(st)), msg, sqlstate_code(st));
}

}  // namespace weft::db::pg
