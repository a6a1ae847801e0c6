// The PostgreSQL backend's text handling: what it sends (storable text, array literals,
// COPY fields) and how it names a server without its password.
#include <gtest/gtest.h>

#include "store/postgres/conninfo.hpp"
#include "store/postgres/text.hpp"
#include "store/store.hpp"

namespace imgbatch::store::postgres {
namespace {

TEST(PostgresText, ValidTextIsKeptAndTheRestReplaced) {
  EXPECT_EQ(storable_text("plain ascii"), "plain ascii");
  EXPECT_EQ(storable_text("ünïcödé ✓ 🙂"), "ünïcödé ✓ 🙂");
  EXPECT_EQ(storable_text(std::string("a\0b", 3)),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(storable_text("\xff\xfe"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(storable_text("\xc3"), "\xEF\xBF\xBD");  // truncated sequence
  EXPECT_EQ(storable_text("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(storable_text("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_TRUE(is_storable_text("ok ✓"));
  EXPECT_FALSE(is_storable_text(std::string("\0", 1)));
}

TEST(PostgresText, ArrayLiteralsQuoteEveryElement) {
  EXPECT_EQ(array_literal(std::vector<std::int64_t>{}), "{}");
  EXPECT_EQ(array_literal(std::vector<std::int64_t>{1, -2, 9'000'000'000}), "{1,-2,9000000000}");
  EXPECT_EQ(array_literal(std::vector<std::optional<std::string>>{"a", std::nullopt, "NULL",
                                                                  "q\"b\\", "", "x,y}{"}),
            R"({"a",NULL,"NULL","q\"b\\","","x,y}{"})");
  EXPECT_EQ(array_literal(std::vector<std::optional<std::string>>{std::string("\0", 1)}),
            "{\"\xEF\xBF\xBD\"}");
}

TEST(PostgresText, CopyFieldsEscapeSeparatorsAndBackslashes) {
  std::string row;
  append_copy_field(row, "a\tb\nc\rd\\e \"f\" ✓");
  EXPECT_EQ(row, "a\\tb\\nc\\rd\\\\e \"f\" ✓");
  row.clear();
  append_copy_field(row, std::int64_t{-42});
  EXPECT_EQ(row, "-42");
}

TEST(PostgresConninfo, TargetNamesUserHostPortAndDatabaseButNotThePassword) {
  EXPECT_EQ(describe_target("postgresql://app:s3cret@db.example.com:6543/imgbatch"),
            "postgresql://app@db.example.com:6543/imgbatch");
  EXPECT_EQ(describe_target("postgresql://db.example.com/imgbatch?password=s3cret"),
            "postgresql://db.example.com/imgbatch");
  EXPECT_THROW(describe_target("postgresql://app:s3cret@[::1/imgbatch"), StoreError);
}

TEST(PostgresConninfo, PasswordIsScrubbedFromMessages) {
  EXPECT_EQ(scrub_password("failed for s3cret and s3cret", "postgresql://app:s3cret@h/db"),
            "failed for *** and ***");
  EXPECT_EQ(scrub_password("bad token s3cret", "postgresql://h/db?password=s3cret"),
            "bad token ***");
  // Found by text even where libpq cannot parse the URI.
  EXPECT_EQ(scrub_password("in [::1 with s3cret", "postgresql://app:s3cret@[::1/db"),
            "in [::1 with ***");
  EXPECT_EQ(scrub_password("nothing secret", "postgresql://app@h/db"), "nothing secret");
  EXPECT_EQ(scrub_password("localhost", "postgresql://app:lo@h/db"), "localhost");
}

TEST(StoreUri, PasswordsAreRedactedForLogs) {
  EXPECT_EQ(redact_uri("postgresql://app:s3cret@db:5432/imgbatch?sslmode=require"),
            "postgresql://app:***@db:5432/imgbatch?sslmode=require");
  EXPECT_EQ(redact_uri("postgres://db/imgbatch?sslmode=require&password=s3cret&x=1"),
            "postgres://db/imgbatch?sslmode=require&password=***&x=1");
  EXPECT_EQ(redact_uri("postgresql://app@db/imgbatch"), "postgresql://app@db/imgbatch");
  EXPECT_EQ(redact_uri("postgresql://app:p@ss@db/imgbatch"), "postgresql://app:***@db/imgbatch");
  EXPECT_EQ(redact_uri("sqlite:data/password=x.db"), "sqlite:data/password=x.db");
}

}  // namespace
}  // namespace imgbatch::store::postgres
