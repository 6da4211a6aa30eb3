// bench_json: the JSON work weft-serve does per request, with the two maintained JSON
// libraries Debian ships — nlohmann-json (a DOM that parses, builds, merges and prints)
// and simdjson (a validating parser; no building or printing). What weft-serve needs:
//  * POST/PUT/PATCH: parse the body (reporting the failing byte), check it is an object,
//    read/set "id", print it back (PATCH also merges: RFC 7396);
//  * GET: nothing — stored documents are sent as they are.
// Inputs: a typical 150-byte item and a 64 KiB array of items.
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <string>

namespace {

std::string item() {
  return R"({"title":"Item 4711","category":"c17","price":12.5,"stock":3,)"
         R"("body":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod."})";
}

std::string items_64k() {
  std::string out = "[";
  for (int i = 0; out.size() < 64 * 1024; ++i) out += (i ? "," : "") + item();
  return out + "]";
}

template <class Json>
void nlohmann_parse(benchmark::State& state, const std::string& text) {
  for (auto _ : state) {
    Json doc = Json::parse(text);
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

// What a POST costs weft-serve: parse, check, add an id, print.
template <class Json>
void nlohmann_post(benchmark::State& state, const std::string& text) {
  for (auto _ : state) {
    Json doc = Json::parse(text);
    if (!doc.is_object()) state.SkipWithError("not an object");
    doc["id"] = 4711;
    std::string out = doc.dump();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

void simdjson_parse(benchmark::State& state, const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  for (auto _ : state) {
    auto doc = parser.parse(padded);
    if (doc.error()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

// simdjson cannot build or print a modified document: the closest it comes to a POST is
// validating and splicing the id into the text by hand.
void simdjson_post_splice(benchmark::State& state, const std::string& text) {
  simdjson::dom::parser parser;
  for (auto _ : state) {
    simdjson::padded_string padded(text);
    auto doc = parser.parse(padded);
    if (doc.error() || !doc.is_object()) state.SkipWithError("not an object");
    std::string out = text;
    out.insert(out.size() - 1, R"(,"id":4711)");
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

const std::string small = item();
const std::string large = items_64k();

}  // namespace

void nlohmann_json_parse(benchmark::State& s, const std::string& t) {
  nlohmann_parse<nlohmann::json>(s, t);
}
void nlohmann_ordered_parse(benchmark::State& s, const std::string& t) {
  nlohmann_parse<nlohmann::ordered_json>(s, t);
}
void nlohmann_ordered_post(benchmark::State& s, const std::string& t) {
  nlohmann_post<nlohmann::ordered_json>(s, t);
}

BENCHMARK_CAPTURE(nlohmann_json_parse, item, small);
BENCHMARK_CAPTURE(nlohmann_ordered_parse, item, small);
BENCHMARK_CAPTURE(simdjson_parse, item, small);
BENCHMARK_CAPTURE(nlohmann_ordered_post, item, small);
BENCHMARK_CAPTURE(simdjson_post_splice, item, small);
BENCHMARK_CAPTURE(nlohmann_ordered_parse, array_64k, large);
BENCHMARK_CAPTURE(simdjson_parse, array_64k, large);

BENCHMARK_MAIN();
