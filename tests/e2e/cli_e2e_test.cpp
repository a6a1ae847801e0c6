// The command line of the real binary: version, help, options from flags and environment,
// and clear failures for bad options.
#include <signal.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include "support/running_server.hpp"

namespace imgbatch::test_support {
namespace {

struct Run {
  int exit_code;
  std::string output;
};

Run run(const std::vector<std::string>& args, const Environment& env = {}) {
  TempDir folder;
  ChildProcess process(IMGBATCH_EXE, args, (folder.path() / "out.log").string(), env);
  const int code = process.wait(std::chrono::seconds(30));
  return {code, process.log()};
}

TEST(Cli, VersionNamesTheLibraries) {
  const auto r = run({"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("imgbatch "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("libvips 8."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("SQLite 3."), std::string::npos) << r.output;
}

TEST(Cli, HelpExplainsEveryOptionOfTheContract) {
  const auto r = run({"serve", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option : {"--listen",
                             "--db",
                             "--storage",
                             "--public-url",
                             "--workers",
                             "--download-concurrency",
                             "--quality",
                             "--format",
                             "--webhook-url",
                             "--webhook-secret",
                             "--allow-private-networks",
                             "--max-upload-bytes",
                             "--max-rows",
                             "--max-image-bytes",
                             "--max-pixels",
                             "--download-timeout",
                             "--max-attempts",
                             "--lease-seconds",
                             "--pg-statement-timeout",
                             "--pg-lock-timeout",
                             "--log-format",
                             "--log-level",
                             "--webhook-retry-base"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option << " missing from:\n" << r.output;
  for (const char* variable :
       {"IMGBATCH_MAX_IMAGE_BYTES", "IMGBATCH_LOG_LEVEL", "IMGBATCH_WEBHOOK_RETRY_BASE"})
    EXPECT_NE(r.output.find(variable), std::string::npos) << variable << " missing from:\n"
                                                          << r.output;
}

// The log level and the webhook retry base are options like the others: from a flag or
// their environment variable, checked at start-up.
TEST(Cli, LogLevelAndRetryBaseAreCheckedLikeEveryOption) {
  auto r = run({"serve", "--log-level", "loud"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--log-level"), std::string::npos) << r.output;
  r = run({"worker"}, {{"IMGBATCH_LOG_LEVEL", "loud"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--log-level"), std::string::npos) << r.output;
  r = run({"process", "in.csv", "--out", "out"}, {{"IMGBATCH_LOG_LEVEL", "loud"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--log-level"), std::string::npos) << r.output;
  for (const char* bad : {"soon", "0", "-1", "inf", "nan"}) {
    r = run({"serve"}, {{"IMGBATCH_WEBHOOK_RETRY_BASE", bad}});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("--webhook-retry-base"), std::string::npos) << r.output;
  }
  r = run({"process", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--log-level"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("{trace,debug,info,warn,error,critical,off}=warn"), std::string::npos)
      << "process logs warnings and errors only unless told otherwise:\n"
      << r.output;
}

// The PostgreSQL timeouts are seconds from 0 (no limit) to a day, fractions allowed, as a
// flag or an environment variable; anything else is refused at start-up.
TEST(Cli, PostgresTimeoutsAreSecondsFromZeroToADay) {
  for (const char* bad : {"-1", "soon", "inf", "nan", "86401"}) {
    auto r = run({"serve", "--pg-lock-timeout", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("--pg-lock-timeout"), std::string::npos) << r.output;
    r = run({"worker"}, {{"IMGBATCH_PG_STATEMENT_TIMEOUT", bad}});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("--pg-statement-timeout"), std::string::npos) << r.output;
  }
  const auto r = run({"serve", "--help"});
  EXPECT_NE(r.output.find("--pg-statement-timeout FLOAT:SECONDS=60"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("--pg-lock-timeout FLOAT:SECONDS=10"), std::string::npos) << r.output;
}

// --compress-nice takes 0 (off) to 19, as a flag or IMGBATCH_COMPRESS_NICE, for every
// command that compresses.
TEST(Cli, CompressNiceIsANiceValue) {
  for (const char* bad : {"-1", "20", "high"}) {
    auto r = run({"serve", "--compress-nice", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("--compress-nice"), std::string::npos) << r.output;
    r = run({"worker"}, {{"IMGBATCH_COMPRESS_NICE", bad}});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("--compress-nice"), std::string::npos) << r.output;
  }
  for (const char* command : {"serve", "worker", "process"}) {
    const auto r = run({command, "--help"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.output.find("--compress-nice"), std::string::npos) << command << ":\n" << r.output;
    EXPECT_NE(r.output.find("IMGBATCH_COMPRESS_NICE"), std::string::npos) << r.output;
  }
}

// --image-urls: each kind needs what it names, and a combination that cannot work is a
// usage error before anything starts.
TEST(Cli, ImageUrlKindsAreCheckedWithWhatTheyNeed) {
  TempDir folder;
  const std::string storage = "file:" + (folder.path() / "img").string();
  auto r = run({"serve", "--image-urls", "signed"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--image-urls"), std::string::npos) << r.output;
  r = run({"serve", "--storage", storage, "--image-urls", "public"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--image-base-url"), std::string::npos) << r.output;
  r = run({"serve", "--storage", storage, "--image-urls", "public", "--image-base-url",
           "cdn.example.com"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("http:// or https://"), std::string::npos) << r.output;
  r = run({"worker", "--storage", storage, "--image-base-url", "https://cdn.example.com"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("only with --image-urls public"), std::string::npos) << r.output;
  r = run({"serve", "--storage", storage}, {{"IMGBATCH_IMAGE_URLS", "presigned"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("needs s3:// storage"), std::string::npos) << r.output;
  for (const char* bad : {"0", "8d", "604801", "-5", "1w"}) {
    r = run({"serve", "--presign-ttl", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("--presign-ttl"), std::string::npos) << r.output;
  }
  r = run({"serve", "--help"});
  for (const char* option : {"--s3-endpoint", "--s3-region", "--image-urls", "--image-base-url",
                             "--presign-ttl", "IMGBATCH_PRESIGN_TTL", "s3://BUCKET"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option << "\n" << r.output;
}

TEST(Cli, NoCommandOrABadValueIsAClearError) {
  auto r = run({});
  EXPECT_NE(r.exit_code, 0);
  r = run({"serve", "--quality", "0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--quality"), std::string::npos) << r.output;
  r = run({"serve", "--format", "bmp"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--format"), std::string::npos) << r.output;
}

TEST(Cli, AnUnknownDatabaseUriFailsAtStartUpNamingIt) {
  TempDir folder;
  const auto r = run({"serve", "--listen", "127.0.0.1:" + std::to_string(free_port()), "--db",
                      "oracle://nowhere", "--storage", "file:" + (folder.path() / "img").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("oracle://"), std::string::npos) << r.output;
}

TEST(Cli, EnvironmentSetsOptionsAndFlagsWin) {
  TempDir folder;
  const int env_port = free_port();
  const int flag_port = free_port();
  ::setenv("IMGBATCH_LISTEN", ("127.0.0.1:" + std::to_string(env_port)).c_str(), 1);
  ::setenv("IMGBATCH_PUBLIC_URL", "https://images.example.com/", 1);
  const std::vector<std::string> common = {
      "serve",
      "--db",
      "sqlite:" + (folder.path() / "db.sqlite").string(),
      "--storage",
      "file:" + (folder.path() / "img").string(),
      "--workers",
      "0"};  // API only: no download of example.com is attempted
  {
    ChildProcess from_env(IMGBATCH_EXE, common, (folder.path() / "env.log").string());
    ASSERT_TRUE(from_env.wait_for_port(env_port, std::chrono::seconds(20))) << from_env.log();
    HttpClient client("http://127.0.0.1:" + std::to_string(env_port));
    const std::string csv = "S. No.,Product Name,Input Image Urls\n1,A,https://example.com/a.jpg\n";
    auto upload = client.post_form("/upload", {{"file", csv, "p.csv", "text/csv"}});
    ASSERT_EQ(upload.status, 202) << upload.body;
    auto status =
        client.get("/status?request_id=" + upload.json()["request_id"].get<std::string>());
    EXPECT_EQ(status.json()["output_csv_url"].get<std::string>().rfind(
                  "https://images.example.com/requests/", 0),
              0u)
        << status.body;
    from_env.signal(SIGTERM);
    EXPECT_EQ(from_env.wait(std::chrono::seconds(20)), 0) << from_env.log();
  }
  {
    auto args = common;
    args.insert(args.end(), {"--listen", "127.0.0.1:" + std::to_string(flag_port)});
    ChildProcess from_flag(IMGBATCH_EXE, args, (folder.path() / "flag.log").string());
    EXPECT_TRUE(from_flag.wait_for_port(flag_port, std::chrono::seconds(20))) << from_flag.log();
    from_flag.signal(SIGINT);
    EXPECT_EQ(from_flag.wait(std::chrono::seconds(20)), 0) << from_flag.log();
  }
  ::unsetenv("IMGBATCH_LISTEN");
  ::unsetenv("IMGBATCH_PUBLIC_URL");
}

}  // namespace
}  // namespace imgbatch::test_support
