// One percent-decoder for the tree (weft/http/uri.hpp), and the decoded accessors of
// Request built on it: params, query(name), query_all(name), and their raw forms.
#include <weft/http/request.hpp>
#include <weft/http/uri.hpp>

#include <gtest/gtest.h>

namespace weft::http {
namespace {

TEST(Uri, StrictDecodingRefusesMalformedEscapes) {
  EXPECT_EQ(decode_component("a%2Fb+c"), "a/b c");
  EXPECT_EQ(decode_component("a+b", Plus::literal), "a+b");
  EXPECT_EQ(decode_component("%e2%82%ac"), "\xe2\x82\xac");
  for (std::string_view bad : {"%", "%4", "%zz", "a%g1", "%%41"}) {
    EXPECT_FALSE(decode_component(bad)) << bad;
  }
}

TEST(Uri, LenientDecodingKeepsMalformedEscapesAsSent) {
  EXPECT_EQ(decode_component_lenient("100%"), "100%");
  EXPECT_EQ(decode_component_lenient("%zz%41"), "%zzA");
  EXPECT_EQ(decode_component_lenient("%4"), "%4");
}

TEST(Uri, EncodingRoundTrips) {
  const std::string id = "x\r\nSet-Cookie: a=1/?#%+&";
  EXPECT_EQ(encode_segment(id), "x%0D%0ASet-Cookie:%20a=1%2F%3F%23%25+&");
  EXPECT_EQ(decode_component(encode_segment(id), Plus::literal), id);
  EXPECT_EQ(encode_query_component("a b&c=d+e"), "a%20b%26c%3Dd%2Be");
  EXPECT_EQ(decode_component(encode_query_component(id)), id);
}

class RequestDecoding : public ::testing::Test {
 protected:
  void set(std::string_view target) {
    RequestHead head;
    head.method = "GET";
    head.target = target;
    detail::RequestAccess::assign(req_, head);
  }
  Request req_;
};

TEST_F(RequestDecoding, QueryValuesAreDecodedAndRepeatedKeysKept) {
  set("/s?q=a+b%2Fc&tag=x&tag=y%20z&empty=&bare&bad=%zz&%6Eame=n");
  EXPECT_EQ(req_.query("q"), "a b/c");
  EXPECT_EQ(req_.query("tag"), "x");
  EXPECT_EQ(req_.query_all("tag"), (std::vector<std::string>{"x", "y z"}));
  EXPECT_EQ(req_.query("empty"), "");
  EXPECT_EQ(req_.query("bare"), "");
  EXPECT_EQ(req_.query("bad"), "%zz");
  EXPECT_EQ(req_.query("name"), "n");  // names compare decoded
  EXPECT_EQ(req_.query("missing"), std::nullopt);
  EXPECT_TRUE(req_.query_all("missing").empty());
  EXPECT_EQ(req_.raw_query(), "q=a+b%2Fc&tag=x&tag=y%20z&empty=&bare&bad=%zz&%6Eame=n");
  EXPECT_EQ(req_.raw_query("q"), "a+b%2Fc");
}

TEST_F(RequestDecoding, ParamsAreDecodedAsPathSegments) {
  set("/files/a%2Fb+c");
  detail::RequestAccess::add_param(req_, "name", "a%2Fb+c");
  detail::RequestAccess::add_param(req_, "bad", "50%");
  EXPECT_EQ(req_.param("name"), "a/b+c");  // '+' is a '+' in a path
  EXPECT_EQ(req_.raw_param("name"), "a%2Fb+c");
  EXPECT_EQ(req_.param("bad"), "50%");
  EXPECT_EQ(req_.param("missing"), "");
}

}  // namespace
}  // namespace weft::http
