// SPDX-License-Identifier: Apache-2.0
// Base64: the RFC 4648 vectors, and one accepted spelling per byte string.
#include <gtest/gtest.h>

#include <string>

#include "damselfly/common/base64.hpp"

namespace damselfly {
namespace {

TEST(Base64, EncodesTheRfcVectorsAndDecodesThemBack) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(to_base64(bytes), text);
    EXPECT_EQ(from_base64(text), bytes) << text;
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(from_base64(to_base64(all)), all);
}

TEST(Base64, RefusesEverySpellingButTheCanonicalOne) {
  EXPECT_FALSE(from_base64("Zg="));    // not a multiple of four
  EXPECT_FALSE(from_base64("Zg"));     // padding left out
  EXPECT_FALSE(from_base64(" Zm9v"));  // whitespace the decoder would skip
  EXPECT_FALSE(from_base64("Zm9v\n"));
  EXPECT_FALSE(from_base64("Zh=="));      // bits set after the last byte
  EXPECT_FALSE(from_base64("Zm9v!A=="));  // not in the alphabet
  EXPECT_FALSE(from_base64("Zm=v"));      // padding in the middle
  EXPECT_FALSE(from_base64("===="));
}

}  // namespace
}  // namespace damselfly
