// The dashboard and the OpenAPI description through the real binary. The two Node
// programs in tests/e2e/web_node do the work that needs a browser or a JSON Schema
// validator: dashboard.test.js drives Debian's headless Chromium with playwright-core,
// openapi_check.js checks real answers against docs/openapi.yaml. The ctest fixture
// web_node_setup installs their locked npm dependencies into the build tree. This file
// starts imgbatch and the local image origin, hands them the URLs, and fails with their
// output when they do.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "http/routes.hpp"
#include "http/webhook_receiver.hpp"
#include "metrics/registry.hpp"
#include "metrics/service_metrics.hpp"
#include "store/store.hpp"
#include "support/running_server.hpp"
#include "support/test_origin.hpp"

namespace imgbatch::test_support {
namespace {

using namespace std::chrono_literals;

const std::filesystem::path kNodeDir = IMGBATCH_WEB_NODE_DIR;
const std::filesystem::path kSourceDir = IMGBATCH_SOURCE_DIR;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// `node SCRIPT args…` from the folder the fixture installed; its exit status (-1 when it
// outlived `timeout`, and was killed) and everything it printed.
struct NodeRun {
  int status = -1;
  std::string output;
};

NodeRun run_node(const std::string& script, const std::vector<std::string>& args,
                 const std::filesystem::path& log, std::chrono::seconds timeout) {
  std::vector<std::string> argv = {(kNodeDir / script).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess node(IMGBATCH_NODE, argv, log.string());
  NodeRun run;
  run.status = node.wait(timeout);
  run.output = node.log();
  return run;
}

bool node_modules_installed() {
  for (const char* package :
       {"playwright-core", "ajv", "yaml", "@seriousme/openapi-schema-validator"})
    if (!std::filesystem::exists(kNodeDir / "node_modules" / package / "package.json")) {
      ADD_FAILURE() << package << " is not installed in " << kNodeDir
                    << ": run these tests through ctest, whose fixture web_node_setup runs npm "
                       "ci there (ctest -R web)";
      return false;
    }
  return true;
}

// Every route the server mounts, "METHOD /path/:param" a line, from the same route groups
// as http::Server::start (metrics given, as `imgbatch serve` always does).
std::string mounted_routes(const std::filesystem::path& folder) {
  core::Config config;
  auto store = store::open_store("sqlite:" + (folder / "routes.sqlite").string());
  auto blob = blob::open_blob_store("file:" + (folder / "routes-images").string());
  metrics::Registry registry;
  metrics::ServiceMetrics service_metrics(registry);
  const core::ProxyImageLinks links(config.effective_public_url());
  http::Deps deps{config, *store, *blob, links, &service_metrics};
  http::WebhookReceiver receiver;
  std::string lines;
  for (const auto& group :
       {http::upload_routes(deps), http::status_routes(deps), http::image_routes(deps),
        http::webhook_routes(receiver), http::metrics_routes(deps), http::web_routes()})
    for (const auto& route : group)
      lines += std::string(route.method.c_str()) + " " + route.path + "\n";
  return lines;
}

// The shared photos, sorted, so the CSVs are the same on every run.
std::vector<std::string> photo_names() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(TestOrigin::photos_dir()))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The binary serves the web/ files and docs/openapi.yaml of the tree it was built from,
// whatever its working directory, with types and revalidation a browser needs.
TEST(WebE2E, ServesTheDashboardAndTheDescriptionFromTheBinary) {
  RunningServer server;
  const auto client = server.client();
  struct Expected {
    std::string path;
    std::filesystem::path file;
    std::string type;
  };
  for (const auto& expected : std::vector<Expected>{
           {"/", kSourceDir / "web/index.html", "text/html; charset=utf-8"},
           {"/web/app.js", kSourceDir / "web/app.js", "text/javascript; charset=utf-8"},
           {"/web/style.css", kSourceDir / "web/style.css", "text/css; charset=utf-8"},
           {"/openapi.yaml", kSourceDir / "docs/openapi.yaml", "application/yaml"}}) {
    SCOPED_TRACE(expected.path);
    const auto response = client.get(expected.path);
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.body, read_file(expected.file));
    EXPECT_EQ(response.header("Content-Type"), expected.type);
    EXPECT_EQ(response.header("Cache-Control"), "no-cache");
    const auto etag = response.header("ETag");
    ASSERT_TRUE(etag.has_value());
    const auto again = client.get(expected.path, {{"If-None-Match", "W/" + *etag}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(client.get(expected.path, {{"If-None-Match", "\"other\""}}).status, 200);
  }
  const auto page = client.get("/");
  EXPECT_NE(page.header("Content-Security-Policy").value_or("").find("script-src 'self'"),
            std::string::npos);
  EXPECT_EQ(client.get("/web/index.html").status, 404) << "the page is served at / only";
  EXPECT_EQ(client.get("/web/../docs/openapi.yaml").status, 404);
}

// Issue: a browser test that uploads a CSV, waits for the thumbnails and checks the
// numbers on the page against GET /status, at desktop and phone widths, with screenshots.
TEST(WebE2E, DashboardInChromium) {
  if (!node_modules_installed()) return;
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromium") || std::getenv("IMGBATCH_CHROMIUM"))
      << "/usr/bin/chromium is missing: the dashboard test drives Debian's Chromium; run "
         "scripts/install-deps.sh";
  TestOrigin origin;
  RunningServer server;
  TempDir folder;
  // One image is held back by the origin until the browser test has seen the page half
  // way through (it then requests /release): a fixed delay raced slow sanitizer builds.
  const auto photos = photo_names();
  ASSERT_GE(photos.size(), 8u);
  const auto photo = [&](std::size_t i) { return origin.url("/photos/" + photos.at(i)); };
  write_file(folder.path() / "products.csv",
             "S. No.,Product Name,Input Image Urls\n"
             "1,Linen shirt,\"" +
                 photo(1) + "," + photo(4) +
                 "\"\n"
                 "2,Canvas shoe,\"" +
                 photo(5) + "," + origin.url("/status/404") +
                 "\"\n"
                 "3,Straw hat,\"" +
                 photo(6) + "," + origin.url("/hold/" + photos.at(7)) + "\"\n");
  write_file(folder.path() / "broken.csv",
             "S. No.,Product Name,Input Image Urls\n"
             "1,Linen shirt," +
                 photo(1) +
                 "\n"
                 "2,,ftp://shop.example/b.jpg\n"
                 "2,Canvas shoe," +
                 photo(2) + "\n");
  const auto screenshots = std::filesystem::path(IMGBATCH_BINARY_DIR) / "test-artifacts";

  const auto run = run_node(
      "dashboard.test.js",
      {server.base_url(), (folder.path() / "products.csv").string(),
       (folder.path() / "broken.csv").string(), screenshots.string(), origin.url("/release")},
      folder.path() / "dashboard.log", 120s);
  EXPECT_EQ(run.status, 0) << run.output << "\nimgbatch log:\n" << server.process().log();
  std::cout << run.output;
  EXPECT_TRUE(std::filesystem::exists(screenshots / "dashboard.png"));
  EXPECT_TRUE(std::filesystem::exists(screenshots / "dashboard-375.png"));
}

// Issue: docs/openapi.yaml documents every route, and real answers (status, content type,
// required fields and their types) match it.
// Issue 13, item 8: with keys in force the dashboard asks for one on a 401, keeps it for
// the tab's session, sends it, and shows that key's requests only.
TEST(WebE2E, DashboardAsksForAKeyAndShowsThatKeysRequests) {
  if (!node_modules_installed()) return;
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromium") || std::getenv("IMGBATCH_CHROMIUM"))
      << "/usr/bin/chromium is missing: run scripts/install-deps.sh";
  TestOrigin origin;
  TempDir data;
  // Two keys in the database the server will use, made by the real command.
  std::vector<std::string> tokens;
  for (const char* name : {"shop-a", "shop-b"}) {
    ChildProcess keys(IMGBATCH_EXE,
                      {"keys", "create", "--name", name, "--db",
                       "sqlite:" + (data.path() / "db.sqlite").string()},
                      (data.path() / (std::string(name) + ".log")).string());
    ASSERT_EQ(keys.wait(30s), 0) << keys.log();
    std::istringstream lines(keys.log());
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("ib_", 0) == 0) tokens.push_back(line);
  }
  ASSERT_EQ(tokens.size(), 2u);
  RunningServer server({}, &data.path());
  const auto photos = photo_names();
  ASSERT_GE(photos.size(), 2u);
  write_file(data.path() / "products.csv", "S. No.,Product Name,Input Image Urls\n1,Linen shirt," +
                                               origin.url("/photos/" + photos.at(1)) + "\n");
  const auto screenshots = std::filesystem::path(IMGBATCH_BINARY_DIR) / "test-artifacts";
  const auto run = run_node("dashboard_keys.test.js",
                            {server.base_url(), tokens[0], tokens[1],
                             (data.path() / "products.csv").string(), screenshots.string()},
                            data.path() / "dashboard_keys.log", 120s);
  EXPECT_EQ(run.status, 0) << run.output << "\nimgbatch log:\n" << server.process().log();
  std::cout << run.output;
  EXPECT_TRUE(std::filesystem::exists(screenshots / "dashboard-keys.png"));
  // The page never put a key where the server logs it.
  for (const auto& token : tokens)
    EXPECT_EQ(server.process().log().find(token.substr(3)), std::string::npos);
}

TEST(WebE2E, OpenApiDescribesRealAnswers) {
  if (!node_modules_installed()) return;
  TestOrigin origin;
  RunningServer server({"--max-upload-bytes", "65536"});
  TempDir folder;
  write_file(folder.path() / "routes.txt", mounted_routes(folder.path()));

  const auto run =
      run_node("openapi_check.js",
               {server.base_url(), origin.base_url(), (kSourceDir / "docs/openapi.yaml").string(),
                (folder.path() / "routes.txt").string()},
               folder.path() / "openapi.log", 120s);
  EXPECT_EQ(run.status, 0) << run.output << "\nimgbatch log:\n" << server.process().log();
  std::cout << run.output;
}

}  // namespace
}  // namespace imgbatch::test_support
