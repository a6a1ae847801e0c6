#include "core/failure.hpp"

#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "core/result.hpp"

namespace imgbatch::core {
namespace {

TEST(Failure, EveryKindHasItsOwnName) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kFailureKindCount; ++i) {
    const auto name = to_string(static_cast<Failure::Kind>(i));
    EXPECT_NE(name, "unknown") << i;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kFailureKindCount);
  std::ostringstream out;
  out << Failure::Kind::storage_error;
  EXPECT_EQ(out.str(), "storage_error");
}

TEST(Failure, ResultCarriesTheKindAndTheMessage) {
  const auto failing = []() -> Result<int, Failure> {
    return make_failure(Failure::Kind::too_large, "image too large");
  };
  auto result = failing();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, Failure::Kind::too_large);
  EXPECT_EQ(result.message(), "image too large");
  const Failure moved = std::move(result).error();
  EXPECT_EQ(moved.message, "image too large");

  const Result<int, Failure> fine = 7;
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(*fine, 7);
}

}  // namespace
}  // namespace imgbatch::core
