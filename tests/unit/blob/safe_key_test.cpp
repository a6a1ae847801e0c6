#include <gtest/gtest.h>

#include <string>

#include "blob/blob_store.hpp"

namespace imgbatch::blob {
namespace {

TEST(SafeKey, AcceptsRequestAndName) {
  EXPECT_TRUE(is_safe_key("123e4567-e89b-12d3-a456-426614174000/0-1.jpg"));
  EXPECT_TRUE(is_safe_key("abc/output.csv"));
  EXPECT_TRUE(is_safe_key("A_b-9/x.y.z"));
}

TEST(SafeKey, RefusesTraversalAndOddShapes) {
  for (const char* key :
       {"../x",   "a/../../b",  "/abs",   "/abs/x", ".hidden/x", "a/.hidden", "a//b",
        "a/b/c",  "a/",         "/a",     "a",      "",          "a/..",      "../..",
        "a/b..c", "a/.tmp-123", "a\\b/c", "a/b c",  "a/b\n",     "a/b%2f",    "a/\xc3\xa9"}) {
    EXPECT_FALSE(is_safe_key(key)) << '"' << key << '"';
  }
  EXPECT_FALSE(is_safe_key(std::string("a/b\0c", 5)));
}

TEST(SafeKey, RefusesSegmentsLongerThanAFileName) {
  EXPECT_TRUE(is_safe_key("a/" + std::string(255, 'x')));
  EXPECT_FALSE(is_safe_key("a/" + std::string(256, 'x')));
}

}  // namespace
}  // namespace imgbatch::blob
