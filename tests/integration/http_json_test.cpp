// <weft/http/json.hpp>: req.json() (415, 400 with the byte), Response::json(value) (invalid
// UTF-8 replaced, never a 500), and the string overload unchanged.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/http/json.hpp>
#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <string>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

std::optional<HttpResponse> post_json(std::uint16_t port, const std::string& body,
                                      const std::string& type = "application/json") {
  RawClient c = RawClient::tcp(port);
  if (!c.ok()) return std::nullopt;
  if (!c.send(post_request("/notes", body, "Content-Type: " + type + "\r\n"))) return std::nullopt;
  return c.read_response();
}

TEST(HttpJson, RequestBodiesAndErrors) {
  Loop loop;
  {
    http::Server app(loop);
    app.post("/notes", [](Request& req) {
      nlohmann::json note = req.json();
      return Response::json({{"id", 1}, {"text", note.at("text")}}, 201);
    });
    app.on_error([](const Request&, const http::HttpError& e) {
      return Response::json(nlohmann::json{{"error", e.what()}, {"status", e.status()}},
                            e.status());
    });
    ASSERT_FALSE(app.listen(0, "127.0.0.1"));
    const std::uint16_t port = app.port();
    run_with_client(loop, app, [&] {
      auto r = post_json(port, R"({"text":"hi"})");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 201);
      EXPECT_EQ(r->header("Content-Type").value_or(""), "application/json");
      EXPECT_EQ(r->body, R"({"id":1,"text":"hi"})");

      r = post_json(port, R"({"text":"x"})", "application/problem+json; charset=utf-8");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 201);

      r = post_json(port, R"({"text":"hi"})", "text/plain");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 415);
      auto err = nlohmann::json::parse(r->body);
      EXPECT_EQ(err["status"], 415);
      EXPECT_NE(err["error"].get<std::string>().find("application/json"), std::string::npos);

      r = post_json(port, R"({"text": nope})");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 400);
      err = nlohmann::json::parse(r->body);
      EXPECT_NE(err["error"].get<std::string>().find(
                    "invalid JSON at byte 11: parse error at line 1, column 11"),
                std::string::npos)
          << r->body;

      r = post_json(port, "");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 400);

      // A valid document without "text": at() throws a json out_of_range → 500, no detail.
      r = post_json(port, R"({"other":1})");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 500);
    });
  }
  weft::testing::expect_clean_close(loop);
}

TEST(HttpJson, ResponseJsonReplacesInvalidUtf8) {
  const std::string bad = std::string("a\xff") + "b";
  Response r = Response::json(nlohmann::json{{"s", bad}});
  EXPECT_EQ(r.status_code(), 200);
  EXPECT_EQ(r.header_value("Content-Type"), "application/json");
  EXPECT_EQ(r.body(),
            "{\"s\":\"a\xEF\xBF\xBD"
            "b\"}");
  EXPECT_EQ(Response::json(nlohmann::json::array({1, 2}), 202).status_code(), 202);
  // The pre-serialized form is still the string overload.
  Response text = Response::json("{\"raw\":true}");
  EXPECT_EQ(text.body(), "{\"raw\":true}");
  Response braced = Response::json({{"k", "v"}});
  EXPECT_EQ(braced.body(), "{\"k\":\"v\"}");
}

TEST(HttpJson, MediaTypes) {
  using http::detail::is_json_media_type;
  EXPECT_TRUE(is_json_media_type("application/json"));
  EXPECT_TRUE(is_json_media_type("Application/JSON ; charset=utf-8"));
  EXPECT_TRUE(is_json_media_type("application/vnd.api+json"));
  EXPECT_FALSE(is_json_media_type(""));
  EXPECT_FALSE(is_json_media_type("text/plain"));
  EXPECT_FALSE(is_json_media_type("application/jsonp"));
  EXPECT_FALSE(is_json_media_type("application/x-www-form-urlencoded"));
}

}  // namespace
}  // namespace weft::itest
