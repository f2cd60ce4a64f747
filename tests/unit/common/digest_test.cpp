// SPDX-License-Identifier: Apache-2.0
// Digests against published test vectors, streaming equivalence and spec parsing.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "damselfly/common/digest.hpp"
#include "damselfly/common/file_io.hpp"
#include "damselfly/common/secret_file.hpp"
#include "damselfly/test_support/temp_dir.hpp"

using namespace damselfly;

TEST(Digest, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, Md5KnownVector) {
  digest d(digest_algo::md5);
  d.update(std::string_view("abc"));
  EXPECT_EQ(d.finish(), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(Digest, StreamingEqualsOneShotAndRestartsAfterFinish) {
  std::string data(100000, 'x');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  digest d;
  for (std::size_t off = 0; off < data.size(); off += 777)
    d.update(std::string_view(data).substr(off, 777));
  EXPECT_EQ(d.finish(), sha256_hex(data));
  d.update(std::string_view("abc"));
  EXPECT_EQ(d.finish(), sha256_hex("abc"));
}

TEST(Digest, FileDigestMatchesBufferDigest) {
  test::temp_dir dir;
  std::string data(3 << 20, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i ^ (i >> 8));
  std::ofstream(dir / "f", std::ios::binary) << data;
  auto r = file_digest(dir / "f", digest_algo::sha256);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, sha256_hex(data));
  EXPECT_FALSE(file_digest(dir / "missing", digest_algo::sha256));
}

TEST(DigestSpec, ParsesBothAlgorithmsCaseInsensitively) {
  auto s =
      digest_spec::parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->algo, digest_algo::sha256);
  EXPECT_EQ(s->hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto m = digest_spec::parse("md5:900150983cd24fb0d6963f7d28e17f72");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->algo, digest_algo::md5);
  EXPECT_EQ(m->to_string(), "md5:900150983cd24fb0d6963f7d28e17f72");
}

TEST(DigestSpec, RejectsBadSpellings) {
  EXPECT_FALSE(digest_spec::parse("sha256"));
  EXPECT_FALSE(digest_spec::parse("sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709"));
  EXPECT_FALSE(digest_spec::parse("md5:900150983cd24fb0d6963f7d28e17f7"));   // short
  EXPECT_FALSE(digest_spec::parse("md5:900150983cd24fb0d6963f7d28e17f7g"));  // not hex
  EXPECT_EQ(digest_spec::parse("").error(), errc::invalid_argument);
}

TEST(Hmac, MatchesRfc4231TestCase2) {
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(SecretFile, IsCreatedOnceOwnerOnlyAndThenReadBack) {
  test::temp_dir dir;
  auto first = load_or_create_secret(dir / "identity.key");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->size(), 32u);
  EXPECT_EQ(std::filesystem::status(dir / "identity.key").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto again = load_or_create_secret(dir / "identity.key");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *first);
  test::temp_dir other;
  EXPECT_NE(*load_or_create_secret(other / "identity.key"), *first);
}

TEST(SecretFile, AKeyOthersCanReadOrAMalformedOneIsRefused) {
  test::temp_dir dir;
  ASSERT_TRUE(load_or_create_secret(dir / "k"));
  std::filesystem::permissions(dir / "k", std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  std::string why;
  EXPECT_FALSE(load_or_create_secret(dir / "k", &why));
  EXPECT_NE(why.find("chmod 600"), std::string::npos) << why;
  std::filesystem::permissions(
      dir / "k", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::ofstream(dir / "k", std::ios::trunc) << "not a key\n";
  EXPECT_FALSE(load_or_create_secret(dir / "k", &why));
  EXPECT_NE(why.find("64 hex"), std::string::npos) << why;
}

namespace {

std::filesystem::perms mode_of(const std::filesystem::path& p) {
  return std::filesystem::symlink_status(p).permissions() & std::filesystem::perms::all;
}

}  // namespace

TEST(PrivateDir, IsCreatedOwnerOnlyWhateverTheUmaskAndTightenedWhenOurs) {
  test::temp_dir dir;
  auto old = ::umask(0);
  EXPECT_FALSE(make_private_dir(dir / "a" / "b"));
  ::umask(old);
  EXPECT_EQ(mode_of(dir / "a" / "b"), std::filesystem::perms::owner_all);
  std::filesystem::create_directory(dir / "loose");
  std::filesystem::permissions(dir / "loose", std::filesystem::perms::all);
  EXPECT_FALSE(make_private_dir(dir / "loose"));
  EXPECT_EQ(mode_of(dir / "loose"), std::filesystem::perms::owner_all);
}

TEST(PrivateDir, AttackADirectoryPreparedByAnotherUserOrASymlinkIsRefused) {
  // Another user creates /tmp/damselfly-UID first, world-writable, to catch
  // the socket of this user's daemon (and the headers sent to it).
  test::temp_dir dir;
  std::filesystem::create_directory(dir / "theirs");
  std::filesystem::permissions(dir / "theirs", std::filesystem::perms::all);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown((dir / "theirs").c_str(), 65534, 65534), 0);
    std::string why;
    EXPECT_TRUE(make_private_dir(dir / "theirs", &why));
    EXPECT_NE(why.find("another user"), std::string::npos) << why;
  }
  std::filesystem::create_directory_symlink(dir / "theirs", dir / "link");
  std::string why;
  EXPECT_TRUE(make_private_dir(dir / "link", &why));
  EXPECT_NE(why.find("not a directory"), std::string::npos) << why;
}

TEST(PrivateDir, AnOperatorsSymlinkedDataDirIsFollowedWhenAskedFor) {
  // systemd's StateDirectory= for a DynamicUser= service is a symlink into
  // /var/lib/private: the configured data dir must still work.
  test::temp_dir dir;
  std::filesystem::create_directory(dir / "private");
  std::filesystem::create_directory_symlink(dir / "private", dir / "state");
  EXPECT_TRUE(make_private_dir(dir / "state"));
  EXPECT_FALSE(make_private_dir(dir / "state", nullptr, /*follow_symlink=*/true));
  EXPECT_EQ(mode_of(dir / "private"), std::filesystem::perms::owner_all);
}
