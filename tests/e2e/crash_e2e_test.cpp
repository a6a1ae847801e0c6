// Nothing lost, nothing duplicated: the real binary is killed with SIGKILL again and
// again in the middle of a request and restarted on the same database and storage. The
// request must still complete with every image done once, under its deterministic name,
// no temporary file left behind, and its completion notified once.
#include <signal.h>

#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "support/running_server.hpp"
#include "support/test_origin.hpp"

namespace imgbatch::test_support {
namespace {

int succeeded(HttpClient& client, const std::string& id) {
  auto r = client.get("/status?request_id=" + id + "&limit=1");
  return r.status == 200 ? r.json()["progress"]["succeeded"].get<int>() : -1;
}

TEST(Crash, RepeatedKill9LosesNothingAndDuplicatesNothing) {
  TestOrigin origin;
  TempDir folder;
  // A separate API-only imgbatch receives the webhook, so it outlives every crash.
  TempDir receiver_folder;
  RunningServer receiver({"--workers", "0"}, &receiver_folder.path());

  const std::vector<std::string> args = {"--workers",       "1", "--download-concurrency", "3",
                                         "--lease-seconds", "2"};
  std::vector<std::string> photos;
  for (const auto& entry : std::filesystem::directory_iterator(TestOrigin::photos_dir()))
    photos.push_back(entry.path().filename().string());
  constexpr int kImages = 36;
  std::string csv = "S. No.,Product Name,Input Image Urls\n";
  for (int i = 0; i < kImages; ++i)  // slow downloads spread the work over several seconds
    csv += std::to_string(i + 1) + ",P" + std::to_string(i) + "," +
           origin.url("/sleep/150/" + photos[i % photos.size()] + "?v=" + std::to_string(i)) + "\n";

  std::string id;
  {
    RunningServer first(args, &folder.path());
    auto client = first.client();
    auto upload = client.post_form(
        "/upload", {{"file", csv, "p.csv", "text/csv"},
                    {"webhook_url", receiver.base_url() + "/webhook", std::nullopt, ""}});
    ASSERT_EQ(upload.status, 202) << upload.body;
    id = upload.json()["request_id"];
    // Killed as soon as some images are done and others are in hand.
    for (int i = 0; i < 400 && succeeded(client, id) < 4; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    first.process().signal(SIGKILL);
    EXPECT_EQ(first.process().wait(std::chrono::seconds(10)), 128 + SIGKILL);
  }
  for (int round = 0; round < 3; ++round) {
    RunningServer again(args, &folder.path());
    auto client = again.client();
    const int before = succeeded(client, id);
    for (int i = 0; i < 400 && succeeded(client, id) < before + 5; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    again.process().signal(SIGKILL);
    again.process().wait(std::chrono::seconds(10));
  }

  RunningServer last(args, &folder.path());
  const auto doc = last.wait_until_ended(id, std::chrono::seconds(120));
  ASSERT_EQ(doc["status"], "completed") << doc.dump(2);
  EXPECT_EQ(doc["progress"]["succeeded"], kImages);
  EXPECT_EQ(doc["progress"]["failed"], 0);

  // One file per image, under its deterministic name, and no temporary left.
  std::set<std::string> files;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(folder.path() / "images")) {
    if (!entry.is_regular_file()) continue;
    const auto name = entry.path().filename().string();
    EXPECT_NE(name.rfind(".tmp-", 0), 0u) << "temporary left behind: " << entry.path();
    files.insert(name);
  }
  std::set<std::string> expected;
  for (int i = 0; i < kImages; ++i) expected.insert(std::to_string(i) + "-0.jpg");
  EXPECT_EQ(files, expected);
  for (const auto& product : doc["products"])
    EXPECT_FALSE(product["output_image_urls"][0].is_null()) << product.dump();

  // The completion was notified once, however many processes took part.
  auto receiver_client = receiver.client();
  nlohmann::json events;
  for (int i = 0; i < 100; ++i) {
    events = receiver_client.get("/webhook/events").json()["events"];
    if (!events.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  events = receiver_client.get("/webhook/events").json()["events"];
  ASSERT_EQ(events.size(), 1u) << events.dump(2);
  EXPECT_EQ(events[0]["body"]["request_id"], id);
  EXPECT_EQ(events[0]["body"]["progress"]["succeeded"], kImages);
}

}  // namespace
}  // namespace imgbatch::test_support
