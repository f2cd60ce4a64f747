// SPDX-License-Identifier: Apache-2.0
// URL parsing/normalization and task identity.
#include <gtest/gtest.h>

#include "damselfly/common/task_id.hpp"
#include "damselfly/common/url.hpp"

using namespace damselfly;

TEST(Url, ParsesHostPortAndTarget) {
  auto u = http_url::parse("http://example.org:8080/a/b?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "example.org");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/a/b?x=1");
  auto s = http_url::parse("https://[::1]/f");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->https());
  EXPECT_EQ(s->host, "::1");
  EXPECT_EQ(s->port, 443);
  EXPECT_EQ(s->authority(), "[::1]:443");
  EXPECT_EQ(http_url::parse("http://h")->target, "/");
}

TEST(Url, RejectsWhatCannotBeFetched) {
  for (const char* bad : {"", "example.org/x", "ftp://h/x", "http:///x", "http://h:99999/x",
                          "http://user:pw@h/x", "/relative"})
    EXPECT_FALSE(http_url::parse(bad)) << bad;
}

TEST(Url, NormalizationIgnoresSpellingAndFilteredParams) {
  auto a = normalize_url("HTTP://Example.ORG:80/a/%7euser/f?b=2&Expires=1&a=1#frag", {"Expires"});
  auto b = normalize_url("http://example.org/a/~user/f?b=2&a=1", {"Expires"});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*normalize_url("http://h/f?Expires=1", {"Expires"}), "http://h/f");
  EXPECT_NE(*normalize_url("http://h/f?a=1", {}), *normalize_url("http://h/f?a=2", {}));
}

TEST(Url, SplitsFilterLists) {
  EXPECT_EQ(split_filter_list("Expires&Signature"),
            (std::vector<std::string>{"Expires", "Signature"}));
  EXPECT_EQ(split_filter_list("a, b;;c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_filter_list("").empty());
}

TEST(TaskId, SameContentSameIdDifferentInputsDifferentIds) {
  task_identity k{"http://h/f?sig=1", {"sig"}, "", "", "", ""};
  auto id = make_task_id(k);
  ASSERT_TRUE(id);
  EXPECT_TRUE(is_valid_task_id(*id));
  task_identity k2 = k;
  k2.url = "http://H:80/f?sig=2";
  EXPECT_EQ(*make_task_id(k2), *id);
  task_identity tagged = k;
  tagged.tag = "v2";
  EXPECT_NE(*make_task_id(tagged), *id);
  task_identity with_digest = k;
  with_digest.digest = "sha256:00";
  with_digest.identifier = "ignored-when-digest-set";
  task_identity digest_only = k;
  digest_only.digest = "sha256:00";
  EXPECT_EQ(*make_task_id(with_digest), *make_task_id(digest_only));
  task_identity ranged = k;
  ranged.range = "0-99";
  EXPECT_NE(*make_task_id(ranged), *id);
  EXPECT_FALSE(make_task_id({"not a url", {}, "", "", "", ""}));
}

TEST(TaskId, ValidityCheckRejectsPathTricks) {
  EXPECT_FALSE(is_valid_task_id("../../etc/passwd"));
  EXPECT_FALSE(is_valid_task_id(std::string(64, 'A')));
  EXPECT_TRUE(is_valid_task_id(std::string(64, 'a')));
}

TEST(NormalizeUrl, EmptyPathIsSlashAndNormalizingIsIdempotent) {
  // Found by fuzz_url: "http://h" normalized to "http://h/./", another task than "http://h/".
  auto bare = normalize_url("http://h", {});
  auto slash = normalize_url("http://h/", {});
  ASSERT_TRUE(bare && slash);
  EXPECT_EQ(*bare, "http://h/");
  EXPECT_EQ(*bare, *slash);
  for (const char* u : {"http://h", "http://a.com&b", "http://h:80?x=1", "http://h/a/../b/%7e"}) {
    auto once = normalize_url(u, {});
    ASSERT_TRUE(once) << u;
    EXPECT_EQ(normalize_url(*once, {}).value(), *once) << u;
  }
}

TEST(NormalizeUrl, PortsAreDigitsOrTheUrlIsRefused) {
  // Found by fuzz_url: "h:80A/" normalized to "hA/", another host.
  EXPECT_FALSE(normalize_url("http://h:80A/", {}));
  EXPECT_FALSE(http_url::parse("http://h:80A/"));
  EXPECT_FALSE(normalize_url("http://h:0/", {}));
  EXPECT_FALSE(normalize_url("http://h:70000/", {}));
  EXPECT_EQ(normalize_url("http://h:8080/", {}).value(), "http://h:8080/");
}

TEST(NormalizeUrl, FilteringAnEmptyQueryDoesNotCrash) {
  // Found by fuzz_url: Boost.URL's params iterator crashed on this one.
  EXPECT_EQ(normalize_url("http://ee4?#Ag", {"S", ".="}).value(), "http://ee4/");
  EXPECT_EQ(normalize_url("http://h/f?a=1&Sig=2&&b", {"Sig"}).value(), "http://h/f?a=1&b");
  EXPECT_EQ(normalize_url("http://h/f?S%69g=2&a=1", {"Sig"}).value(), "http://h/f?a=1");
}

TEST(TaskId, PrivateIdsDependOnTheCredentialKeyAndAreValidIds) {
  auto pub = *make_task_id({"http://o/f", {}, "", "", "", ""});
  auto a = private_task_id(pub, "key-of-alice");
  EXPECT_TRUE(is_valid_task_id(a));
  EXPECT_NE(a, pub);
  EXPECT_EQ(private_task_id(pub, "key-of-alice"), a);
  EXPECT_NE(private_task_id(pub, "key-of-bob"), a);
}

TEST(UrlFileName, IsTheLastSegmentDecodedAsWgetNamesIt) {
  EXPECT_EQ(url_file_name("http://h/dir/a%20b.tar.gz?x=1#f"), "a b.tar.gz");
  EXPECT_EQ(url_file_name("http://h/pkg.deb"), "pkg.deb");
  EXPECT_EQ(url_file_name("http://h/dir/"), "");
  EXPECT_EQ(url_file_name("http://h"), "");
  // Names that would leave the directory, or cannot be files, are none.
  EXPECT_EQ(url_file_name("http://h/a/%2e%2e"), "");
  EXPECT_EQ(url_file_name("http://h/a/..%2fetc%2fpasswd"), "");
  EXPECT_EQ(url_file_name("http://h/a%00b"), "");
  EXPECT_EQ(url_file_name("not a url"), "");
}

TEST(UrlCredentials, UserinfoLeavesTheUrlAndBecomesBasicAuth) {
  auto c = split_url_credentials("http://al%40ice:p%3Ass@h:81/x?q=1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->url, "http://h:81/x?q=1");
  EXPECT_EQ(c->user, "al@ice");
  EXPECT_EQ(c->password, "p:ss");
  auto plain = split_url_credentials("http://h/x");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->url, "http://h/x");
  EXPECT_TRUE(plain->user.empty());
  EXPECT_EQ(basic_authorization("user", "pass"), "Basic dXNlcjpwYXNz");
  EXPECT_EQ(basic_authorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}
