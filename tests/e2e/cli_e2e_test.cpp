// The command line of the real binary: version, help, options from flags and environment,
// and clear failures for bad options.
#include <signal.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include "e2e/e2e_support.hpp"

namespace imgbatch::testing {
namespace {

struct Run {
  int exit_code;
  std::string output;
};

Run run(const std::vector<std::string>& args) {
  TempFolder folder;
  ChildProcess process(IMGBATCH_EXE, args, (folder.path() / "out.log").string());
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
  for (const char* option :
       {"--listen", "--db", "--storage", "--public-url", "--workers", "--download-concurrency",
        "--quality", "--format", "--webhook-url", "--webhook-secret", "--allow-private-networks",
        "--max-upload-bytes", "--max-rows", "--max-image-bytes", "--max-pixels",
        "--download-timeout", "--max-attempts", "--log-format"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option << " missing from:\n" << r.output;
  EXPECT_NE(r.output.find("IMGBATCH_MAX_IMAGE_BYTES"), std::string::npos) << r.output;
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
  TempFolder folder;
  const auto r = run({"serve", "--listen", "127.0.0.1:" + std::to_string(free_port()), "--db",
                      "oracle://nowhere", "--storage",
                      "file:" + (folder.path() / "img").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("oracle://"), std::string::npos) << r.output;
}

TEST(Cli, EnvironmentSetsOptionsAndFlagsWin) {
  TempFolder folder;
  const int env_port = free_port();
  const int flag_port = free_port();
  ::setenv("IMGBATCH_LISTEN", ("127.0.0.1:" + std::to_string(env_port)).c_str(), 1);
  ::setenv("IMGBATCH_PUBLIC_URL", "https://images.example.com/", 1);
  const std::vector<std::string> common = {
      "serve", "--db", "sqlite:" + (folder.path() / "db.sqlite").string(), "--storage",
      "file:" + (folder.path() / "img").string(), "--workers", "0"};  // API only: no download of example.com is attempted
  {
    ChildProcess from_env(IMGBATCH_EXE, common, (folder.path() / "env.log").string());
    ASSERT_TRUE(from_env.wait_for_port(env_port, std::chrono::seconds(20))) << from_env.log();
    testutil::HttpClient client("http://127.0.0.1:" + std::to_string(env_port));
    const std::string csv = "S. No.,Product Name,Input Image Urls\n1,A,https://example.com/a.jpg\n";
    auto upload = client.post_form("/upload", {{"file", csv, "p.csv", "text/csv"}});
    ASSERT_EQ(upload.status, 202) << upload.body;
    auto status = client.get("/status?request_id=" + upload.json()["request_id"].get<std::string>());
    EXPECT_EQ(status.json()["output_csv_url"].get<std::string>().rfind("https://images.example.com/requests/", 0), 0u)
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
}  // namespace imgbatch::testing
