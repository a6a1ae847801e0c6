// Issue 15 through the real binary: the same source in several rows or in concurrent
// uploads is downloaded once; a re-run asks conditionally and reuses on 304 or on the same
// bytes; changed bytes make a new output while older requests keep theirs; fresh=true and
// --reuse off disable it; deleting one of two requests sharing an image keeps it for the
// other; a kill -9 with a shared download in flight loses nothing; API keys do not share
// unless told to. Downloads are counted at the test origin, stored images in the folder.
#include <signal.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/running_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_origin.hpp"

namespace imgbatch::test_support {
namespace {

namespace fs = std::filesystem;

// A CSV with one product per row, each with these image URLs.
std::string csv_of(const std::vector<std::vector<std::string>>& rows) {
  std::string csv = "S. No.,Product Name,Input Image Urls\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::string urls;
    for (const auto& url : rows[r]) urls += (urls.empty() ? "" : ",") + url;
    csv += std::to_string(r + 1) + ",SKU" + std::to_string(r + 1) + ",\"" + urls + "\"\n";
  }
  return csv;
}

std::string upload(const RunningServer& server, const std::string& csv,
                   std::vector<FormField> fields = {}, const Headers& headers = {}) {
  fields.insert(fields.begin(), {"file", csv, "products.csv", "text/csv"});
  const auto response = server.client().post_form("/upload", fields, headers);
  EXPECT_EQ(response.status, 202) << response.body;
  return response.status == 202 ? response.json()["request_id"].get<std::string>() : "";
}

nlohmann::json ended(RunningServer& server, const std::string& id, const Headers& headers = {}) {
  if (headers.empty()) return server.wait_until_ended(id);
  nlohmann::json doc;
  for (int i = 0; i < 900; ++i) {
    const auto response = server.client().get("/status?request_id=" + id, headers);
    if (response.status == 200) {
      doc = response.json();
      if (doc["status"] == "completed" || doc["status"] == "failed") return doc;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "request " << id << " did not end; last status: " << doc.dump();
  return doc;
}

// Every image's output URL and `reused`, in product then image order.
std::vector<std::string> outputs_of(const nlohmann::json& doc) {
  std::vector<std::string> urls;
  for (const auto& product : doc["products"])
    for (const auto& url : product["output_image_urls"])
      urls.push_back(url.is_string() ? url.get<std::string>() : "");
  return urls;
}
std::vector<std::string> reused_of(const nlohmann::json& doc) {
  std::vector<std::string> reused;
  for (const auto& product : doc["products"])
    for (const auto& report : product["output_image_reports"])
      reused.push_back(report.is_object() && report["reused"].is_string()
                           ? report["reused"].get<std::string>()
                           : "");
  return reused;
}

// The bytes served at an image URL (status 200 expected).
std::string served(const RunningServer& server, const std::string& url,
                   const Headers& headers = {}) {
  const std::string path = url.substr(server.base_url().size());
  const auto response = server.client().get(path, headers);
  EXPECT_EQ(response.status, 200) << url << ": " << response.body;
  return response.body;
}

// Images stored for a request, under its own name (not shared from another request).
std::size_t stored_under(const RunningServer& server, const std::string& id) {
  const fs::path folder = server.folder() / "images" / id;
  if (!fs::exists(folder)) return 0;
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().filename().string().front() != '.') ++n;
  return n;
}

// Every image stored, in all requests.
std::size_t stored_images(const RunningServer& server) {
  std::size_t n = 0;
  const fs::path folder = server.folder() / "images";
  if (!fs::exists(folder)) return 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().filename().string().front() != '.') ++n;
  return n;
}

template <class Condition>
bool eventually(Condition condition, std::chrono::seconds patience = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

std::string status_of(const RunningServer& server, const std::string& id) {
  const auto response = server.client().get("/status?request_id=" + id);
  return response.status == 200 ? response.json()["status"].get<std::string>() : "";
}

TEST(ReuseE2E, DuplicatesInOneCsvAndAcrossConcurrentUploadsAreDownloadedOnce) {
  TestOrigin origin;
  RunningServer server;
  const std::string held = origin.url("/hold/Dune.jpg");
  const std::string other = origin.url("/photos/Blinds.jpg");
  // One photo for every colour of a shirt, and another twice in one row.
  const std::string first = upload(server, csv_of({{held, other}, {held}, {other, held}}));
  ASSERT_TRUE(eventually([&] { return origin.request_count("/hold/Dune.jpg") == 1; }));
  // A second upload while that download is held: it waits for it instead of its own.
  const std::string second = upload(server, csv_of({{held}}));
  ASSERT_TRUE(eventually([&] { return status_of(server, second) == "processing"; }));
  HttpClient(origin.base_url()).get("/release");
  const auto one = ended(server, first);
  const auto two = ended(server, second);
  ASSERT_EQ(one["status"], "completed") << one.dump(2);
  ASSERT_EQ(two["status"], "completed") << two.dump(2);

  EXPECT_EQ(origin.request_count("/hold/Dune.jpg"), 1u);
  EXPECT_EQ(origin.request_count("/photos/Blinds.jpg"), 1u);
  EXPECT_EQ(stored_images(server), 2u) << "one output per source";
  EXPECT_EQ(one["progress"]["succeeded"], 5);
  EXPECT_EQ(one["progress"]["reused"], 3);
  EXPECT_EQ(two["progress"]["reused"], 1);
  EXPECT_EQ(reused_of(two), std::vector<std::string>{"duplicate"});

  // Every entry has its own URL, in its own request, and they all serve the one image.
  const auto urls = outputs_of(one);
  ASSERT_EQ(urls.size(), 5u);
  EXPECT_EQ(std::set<std::string>(urls.begin(), urls.end()).size(), 5u);
  for (const auto& url : urls) EXPECT_NE(url.find("/images/" + first + "/"), std::string::npos);
  const std::string dune = served(server, urls[0]);
  EXPECT_EQ(served(server, urls[2]), dune);
  EXPECT_EQ(served(server, urls[4]), dune);
  EXPECT_EQ(served(server, outputs_of(two)[0]), dune);
  EXPECT_EQ(served(server, urls[3]), served(server, urls[1]));
  EXPECT_NE(served(server, urls[1]), dune);
  // The output CSV names the request's own URLs too.
  const auto csv = server.client().get("/requests/" + second + "/output.csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_NE(csv.body.find(outputs_of(two)[0]), std::string::npos) << csv.body;
}

TEST(ReuseE2E, AReRunIsAnsweredWith304AndServesTheSameOutputsWithoutMakingThemAgain) {
  TestOrigin origin;
  RunningServer server;
  const std::string csv =
      csv_of({{origin.url("/validated/Dune.jpg"), origin.url("/validated/Blinds.jpg")}});
  const auto first = ended(server, upload(server, csv));
  ASSERT_EQ(first["status"], "completed") << first.dump(2);
  EXPECT_EQ(reused_of(first), (std::vector<std::string>{"", ""}));
  const auto second = ended(server, upload(server, csv));
  ASSERT_EQ(second["status"], "completed") << second.dump(2);

  EXPECT_EQ(origin.request_count("/validated/Dune.jpg"), 2u);
  EXPECT_EQ(origin.not_modified_responses(), 2u) << "the re-run downloaded nothing";
  EXPECT_EQ(reused_of(second), (std::vector<std::string>{"304", "304"}));
  EXPECT_EQ(second["progress"]["reused"], 2);
  EXPECT_EQ(stored_under(server, second["request_id"]), 0u) << "nothing made or stored again";
  const auto before = outputs_of(first);
  const auto after = outputs_of(second);
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_NE(after[i], before[i]) << "each request hands out its own URL";
    EXPECT_EQ(served(server, after[i]), served(server, before[i]));
  }
  // The reports are those of the image made the first time.
  EXPECT_EQ(second["products"][0]["output_image_bytes"],
            first["products"][0]["output_image_bytes"]);
}

TEST(ReuseE2E, ChangedBytesMakeANewOutputWhileTheOlderRequestKeepsItsOwn) {
  TestOrigin origin;
  RunningServer server;
  origin.set_alias("shirt.jpg", "Dune.jpg");
  const std::string csv = csv_of({{origin.url("/alias/shirt.jpg")}});
  const auto first = ended(server, upload(server, csv));
  const std::string old_bytes = served(server, outputs_of(first)[0]);

  origin.set_alias("shirt.jpg", "Blinds.jpg");  // the shop replaced the photo
  const auto second = ended(server, upload(server, csv));
  ASSERT_EQ(second["status"], "completed") << second.dump(2);
  EXPECT_EQ(reused_of(second), std::vector<std::string>{""});
  EXPECT_EQ(origin.not_modified_responses(), 0u);
  const std::string new_bytes = served(server, outputs_of(second)[0]);
  EXPECT_NE(new_bytes, old_bytes);
  EXPECT_EQ(served(server, outputs_of(first)[0]), old_bytes) << "the old request keeps its image";

  // The next run reuses the new one.
  const auto third = ended(server, upload(server, csv));
  EXPECT_EQ(reused_of(third), std::vector<std::string>{"304"});
  EXPECT_EQ(served(server, outputs_of(third)[0]), new_bytes);
}

TEST(ReuseE2E, WithoutValidatorsTheBytesAreDownloadedAgainButNotMadeAgain) {
  TestOrigin origin;
  RunningServer server;
  const std::string csv = csv_of({{origin.url("/photos/Dune.jpg")}});
  const auto first = ended(server, upload(server, csv));
  const auto second = ended(server, upload(server, csv));
  ASSERT_EQ(second["status"], "completed") << second.dump(2);
  EXPECT_EQ(origin.request_count("/photos/Dune.jpg"), 2u);
  EXPECT_EQ(reused_of(second), std::vector<std::string>{"same-bytes"});
  EXPECT_EQ(stored_under(server, second["request_id"]), 0u);
  EXPECT_EQ(served(server, outputs_of(second)[0]), served(server, outputs_of(first)[0]));
}

TEST(ReuseE2E, FreshTrueAndReuseOffMakeEveryImageAnew) {
  TestOrigin origin;
  {
    RunningServer server;
    const std::string csv = csv_of({{origin.url("/validated/Dune.jpg")}});
    ended(server, upload(server, csv));
    const auto fresh = ended(server, upload(server, csv, {{"fresh", "true", std::nullopt, ""}}));
    ASSERT_EQ(fresh["status"], "completed") << fresh.dump(2);
    EXPECT_EQ(origin.not_modified_responses(), 0u) << "nothing was asked conditionally";
    EXPECT_EQ(reused_of(fresh), std::vector<std::string>{""});
    EXPECT_EQ(stored_under(server, fresh["request_id"]), 1u);
    const auto bad = server.client().post_form(
        "/upload",
        {{"file", csv, "products.csv", "text/csv"}, {"fresh", "maybe", std::nullopt, ""}});
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("fresh"), std::string::npos) << bad.body;
  }
  origin.reset_stats();
  RunningServer off({"--reuse", "off"});
  const std::string url = origin.url("/photos/Blinds.jpg");
  const auto doc = ended(off, upload(off, csv_of({{url, url}, {url}})));
  ASSERT_EQ(doc["status"], "completed") << doc.dump(2);
  EXPECT_EQ(origin.request_count("/photos/Blinds.jpg"), 3u);
  EXPECT_EQ(doc["progress"]["reused"], 0);
  EXPECT_EQ(stored_under(off, doc["request_id"]), 3u);
}

TEST(ReuseE2E, DeletingOneOfTwoRequestsSharingAnImageKeepsItForTheOther) {
  TestOrigin origin;
  RunningServer server;
  const std::string shared = origin.url("/validated/Dune.jpg");
  const auto first =
      ended(server, upload(server, csv_of({{shared, origin.url("/validated/Blinds.jpg")}})));
  const auto second = ended(server, upload(server, csv_of({{shared}})));
  ASSERT_EQ(reused_of(second), std::vector<std::string>{"304"});
  ASSERT_EQ(stored_images(server), 2u);
  const std::string first_id = first["request_id"];
  const std::string bytes = served(server, outputs_of(second)[0]);

  ASSERT_EQ(server.client().request("DELETE", "/requests/" + first_id, "", {}).status, 204);
  // The sweeper purges it and removes the image only it had; the shared one stays.
  ASSERT_TRUE(eventually([&] { return stored_images(server) == 1; }));
  EXPECT_EQ(served(server, outputs_of(second)[0]), bytes);
  EXPECT_EQ(server.client().get("/status?request_id=" + first_id).status, 404);

  // Its last reference gone, the image goes.
  const std::string second_id = second["request_id"];
  ASSERT_EQ(server.client().request("DELETE", "/requests/" + second_id, "", {}).status, 204);
  EXPECT_TRUE(eventually([&] { return stored_images(server) == 0; }));
  EXPECT_EQ(server.client().get(outputs_of(second)[0].substr(server.base_url().size())).status,
            404);
}

TEST(ReuseE2E, AKillDuringASharedDownloadLosesNothingAndStoresOneOutput) {
  TestOrigin origin;
  TempDir folder;
  const std::string held = origin.url("/hold/Dune.jpg");
  std::string first;
  std::string second;
  {
    RunningServer server({}, &folder.path());
    first = upload(server, csv_of({{held}, {held}}));
    ASSERT_TRUE(eventually([&] { return origin.request_count("/hold/Dune.jpg") == 1; }));
    second = upload(server, csv_of({{held}}));
    ASSERT_TRUE(eventually([&] { return status_of(server, second) == "processing"; }));
    server.process().signal(SIGKILL);
    ASSERT_EQ(server.process().wait(std::chrono::seconds(10)), 128 + SIGKILL);
  }
  HttpClient(origin.base_url()).get("/release");
  RunningServer again({}, &folder.path());
  const auto one = ended(again, first);
  const auto two = ended(again, second);
  ASSERT_EQ(one["status"], "completed") << one.dump(2);
  ASSERT_EQ(two["status"], "completed") << two.dump(2);
  EXPECT_EQ(one["progress"]["succeeded"], 2);
  EXPECT_EQ(two["progress"]["succeeded"], 1);
  EXPECT_EQ(stored_images(again), 1u) << "one output for the one source";
  const std::string bytes = served(again, outputs_of(one)[0]);
  EXPECT_EQ(served(again, outputs_of(one)[1]), bytes);
  EXPECT_EQ(served(again, outputs_of(two)[0]), bytes);
}

// The token that `keys create` printed: the one line starting with ib_.
std::string new_key(const fs::path& db, const std::string& name) {
  TempDir folder;
  ChildProcess process(IMGBATCH_EXE, {"keys", "create", "--name", name, "--db", db.string()},
                       (folder.path() / "out.log").string());
  EXPECT_EQ(process.wait(std::chrono::seconds(30)), 0) << process.log();
  std::istringstream lines(process.log());
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("ib_", 0) == 0) return line;
  return "";
}

TEST(ReuseE2E, KeysShareNothingUnlessReuseAcrossKeys) {
  TestOrigin origin;
  TempDir folder;
  const fs::path db = "sqlite:" + (folder.path() / "db.sqlite").string();
  const Headers shop_a = {{"Authorization", "Bearer " + new_key(db, "shop-a")}};
  const Headers shop_b = {{"Authorization", "Bearer " + new_key(db, "shop-b")}};
  const std::string csv = csv_of({{origin.url("/validated/Dune.jpg")}});
  {
    RunningServer server({}, &folder.path());
    ended(server, upload(server, csv, {}, shop_a), shop_a);
    const auto b = ended(server, upload(server, csv, {}, shop_b), shop_b);
    EXPECT_EQ(reused_of(b), std::vector<std::string>{""}) << "another key's download";
    EXPECT_EQ(origin.not_modified_responses(), 0u);
    const auto a = ended(server, upload(server, csv, {}, shop_a), shop_a);
    EXPECT_EQ(reused_of(a), std::vector<std::string>{"304"}) << "its own";
  }
  RunningServer shared({"--reuse-across-keys"}, &folder.path());
  const auto first = ended(shared, upload(shared, csv, {}, shop_a), shop_a);
  const auto b = ended(shared, upload(shared, csv, {}, shop_b), shop_b);
  EXPECT_EQ(reused_of(b), std::vector<std::string>{"304"});
  EXPECT_EQ(served(shared, outputs_of(b)[0], shop_b), served(shared, outputs_of(first)[0], shop_a));
}

}  // namespace
}  // namespace imgbatch::test_support
