// The command line of the real binary: version, help, options from flags and environment,
// and clear failures for bad options.
#include <signal.h>
#include <stdlib.h>

#include <sstream>

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
                             "--auth",
                             "--metrics-token",
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
                             "--retention",
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

// --retention takes a whole number with a unit, or 0; anything else stops `serve` before it
// opens anything, since a typo could delete requests sooner than meant. `worker` has none:
// only the API decides how long requests are kept.
TEST(Cli, RetentionIsAPeriodWithAUnitOrZero) {
  for (const char* bad : {"30", "1.5d", "1w", "-1d", "30 d", "36501d", "soon"}) {
    auto r = run({"serve", "--retention", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("--retention"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("is not a retention period"), std::string::npos) << r.output;
    r = run({"serve"}, {{"IMGBATCH_RETENTION", bad}});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.output.find("is not a retention period"), std::string::npos) << r.output;
  }
  EXPECT_EQ(run({"worker", "--retention", "30d"}).exit_code, 2);
  const auto r = run({"serve", "--help"});
  EXPECT_NE(r.output.find("--retention DURATION=30d"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("IMGBATCH_RETENTION"), std::string::npos) << r.output;
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

// ---- API keys (docs/API.md, "Authentication") -------------------------------------------

// The token that `keys create` printed: the one line starting with ib_.
std::string token_in(const std::string& output) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("ib_", 0) == 0) return line;
  return "";
}

TEST(Cli, KeysAreCreatedListedAndRevokedWithTheTokenShownOnce) {
  TempDir folder;
  const std::string db = "sqlite:" + (folder.path() / "db.sqlite").string();
  const auto created = run({"keys", "create", "--name", "shop-a", "--images-per-day", "5000",
                            "--uploads-per-minute", "30", "--db", db});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const std::string token = token_in(created.output);
  ASSERT_EQ(token.size(), 3u + 43u) << created.output;  // ib_ + 256 bits in base64url
  EXPECT_NE(created.output.find("shown once"), std::string::npos) << created.output;
  const auto admin = run({"keys", "create", "--name", "ops", "--admin", "--db", db});
  ASSERT_EQ(admin.exit_code, 0) << admin.output;
  EXPECT_NE(token_in(admin.output), token);

  // A name in use: refused, nothing stored.
  const auto again = run({"keys", "create", "--name", "shop-a", "--db", db});
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("exists already"), std::string::npos) << again.output;
  EXPECT_EQ(token_in(again.output), "");
  EXPECT_EQ(run({"keys", "create", "--name", "bad name", "--db", db}).exit_code, 2);
  EXPECT_EQ(run({"keys", "create", "--db", db}).exit_code, 2);  // --name is required

  const auto listed = run({"keys", "list", "--db", db});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("shop-a"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("5000"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("30"), std::string::npos) << listed.output;
  EXPECT_EQ(listed.output.find("ib_"), std::string::npos) << listed.output;
  EXPECT_EQ(listed.output.find(token.substr(3)), std::string::npos);

  EXPECT_EQ(run({"keys", "revoke", "shop-a", "--db", db}).exit_code, 0);
  const auto twice = run({"keys", "revoke", "shop-a", "--db", db});
  EXPECT_EQ(twice.exit_code, 2) << twice.output;
  EXPECT_EQ(run({"keys", "revoke", "nobody", "--db", db}).exit_code, 2);
  // The name is free again once its key is revoked.
  EXPECT_EQ(run({"keys", "create", "--name", "shop-a", "--db", db}).exit_code, 0);
}

TEST(Cli, ServeOnAPublicAddressWithoutKeysRefusesToStart) {
  TempDir folder;
  const std::string db = "sqlite:" + (folder.path() / "db.sqlite").string();
  const std::vector<std::string> common = {
      "serve",     "--db", db, "--storage", "file:" + (folder.path() / "images").string(),
      "--workers", "0"};
  const int port = free_port();
  auto args = common;
  args.insert(args.end(), {"--listen", "0.0.0.0:" + std::to_string(port)});
  const auto refused = run(args);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("without API keys"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--auth off"), std::string::npos) << refused.output;
  // --auth required does not open anything, but there is still no key to use it with.
  auto required = args;
  required.insert(required.end(), {"--auth", "required"});
  EXPECT_EQ(run(required).exit_code, 2);

  // Open on purpose with --auth off; and, once a key exists, without it.
  for (const bool with_key : {false, true}) {
    if (with_key) {
      ASSERT_EQ(run({"keys", "create", "--name", "shop-a", "--db", db}).exit_code, 0);
    }
    auto started = args;
    if (!with_key) started.insert(started.end(), {"--auth", "off"});
    ChildProcess server(IMGBATCH_EXE, started,
                        (folder.path() / ("serve" + std::to_string(with_key) + ".log")).string());
    ASSERT_TRUE(server.wait_for_port(port, std::chrono::seconds(20))) << server.log();
    HttpClient client("http://127.0.0.1:" + std::to_string(port));
    EXPECT_EQ(client.get("/requests").status, with_key ? 401 : 200);
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait(std::chrono::seconds(20)), 0) << server.log();
  }
}

TEST(Cli, TokensNeverAppearInTheLogsOfAServer) {
  TempDir folder;
  const std::string db = "sqlite:" + (folder.path() / "db.sqlite").string();
  const auto created = run({"keys", "create", "--name", "shop-a", "--db", db});
  const std::string token = token_in(created.output);
  ASSERT_FALSE(token.empty()) << created.output;
  // The most talkative level, JSON lines and text lines alike.
  for (const char* format : {"text", "json"}) {
    const int port = free_port();
    const auto log_path = folder.path() / (std::string("serve-") + format + ".log");
    ChildProcess server(
        IMGBATCH_EXE,
        {"serve", "--db", db, "--storage", "file:" + (folder.path() / "images").string(),
         "--workers", "0", "--listen", "127.0.0.1:" + std::to_string(port), "--log-level", "trace",
         "--log-format", format, "--metrics-token", "metrics-secret-42"},
        log_path.string());
    ASSERT_TRUE(server.wait_for_port(port, std::chrono::seconds(20))) << server.log();
    HttpClient client("http://127.0.0.1:" + std::to_string(port));
    const Headers key = {{"Authorization", "Bearer " + token}};
    const std::string csv = "S. No.,Product Name,Input Image Urls\n1,A,https://example.com/a.jpg\n";
    const auto upload = client.post_form("/upload", {{"file", csv, "p.csv", "text/csv"}}, key);
    ASSERT_EQ(upload.status, 202) << upload.body;
    EXPECT_EQ(client.get("/requests", key).status, 200);
    EXPECT_EQ(client.get("/requests", {{"Authorization", "Bearer " + token + "x"}}).status, 401);
    EXPECT_EQ(client.get("/metrics", {{"Authorization", "Bearer metrics-secret-42"}}).status, 200);
    EXPECT_EQ(client.get("/metrics", key).status, 403);
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait(std::chrono::seconds(20)), 0);
    const std::string log = server.log();
    // It did log the request, and whose it is, by the key's name.
    EXPECT_NE(log.find("request created: 1 products, 1 images (key shop-a)"), std::string::npos)
        << log;
    EXPECT_EQ(log.find(token.substr(3)), std::string::npos) << log;
    EXPECT_EQ(log.find("ib_"), std::string::npos) << log;
    EXPECT_EQ(log.find("metrics-secret-42"), std::string::npos) << log;
  }
}

}  // namespace
}  // namespace imgbatch::test_support
