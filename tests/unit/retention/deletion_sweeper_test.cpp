// The deletion sweeper against a real SQLite file and real file storage: a deleted
// request's images leave the storage, nobody else's do, and a sweep cut short is finished
// by the next one (here, or in another process).
#include "retention/deletion_sweeper.hpp"
#include "retention/retention_period.hpp"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "support/blob_options.hpp"
#include "support/temp_dir.hpp"

namespace imgbatch::retention {
namespace {

class DeletionSweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::open_store("sqlite:" + (dir_ / "imgbatch.db"));
    blobs_ = blob::open_blob_store("file:" + (dir_ / "images"), test_support::blob_options(false));
  }

  // A completed request of `images` images, each stored as "ID/0-I.jpg".
  std::string completed_request(int images) {
    core::NewRequest request;
    request.id = core::new_uuid();
    request.columns = {"S. No.", "Product Name", "Input Image Urls"};
    core::ProductInput product{"1", "Shoe", {}, {}};
    for (int i = 0; i < images; ++i)
      product.image_urls.push_back("https://img.example/" + std::to_string(i) + ".jpg");
    request.products = {product};
    request.created_at = core::now_ms();
    store_->create_request(request);
    std::vector<core::TaskOutcome> outcomes;
    for (const auto& task : store_->claim_tasks("w", images, core::now_ms(), 60'000)) {
      core::TaskOutcome outcome;
      outcome.task_id = task.task_id;
      outcome.request_id = task.request_id;
      outcome.output_name = "0-" + std::to_string(task.image_index) + ".jpg";
      EXPECT_TRUE(blobs_->put(request.id + "/" + *outcome.output_name, "jpeg bytes").ok());
      outcomes.push_back(outcome);
    }
    store_->finish_tasks(outcomes, core::now_ms());
    return request.id;
  }

  // Runs purge steps until nothing is left to purge.
  static void purge(DeletionSweeper& sweeper, core::TimeMs now) {
    for (int i = 0; i < 100; ++i)
      if (!sweeper.purge_once(now).more) return;
    ADD_FAILURE() << "the purge did not end";
  }

  test_support::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<blob::BlobStore> blobs_;
};

TEST_F(DeletionSweeperTest, RemovesTheImagesOfDeletedRequestsOnly) {
  const std::string gone = completed_request(3);
  const std::string kept = completed_request(2);
  ASSERT_EQ(store_->delete_request(gone), store::Store::DeleteOutcome::deleted);

  DeletionSweeper sweeper(*store_, *blobs_);
  EXPECT_EQ(sweeper.sweep_once(), 0) << "images are queued by the purge of the rows";
  purge(sweeper, core::now_ms());
  EXPECT_EQ(sweeper.sweep_once(), 3);
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(blobs_->exists(gone + "/0-" + std::to_string(i) + ".jpg"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "images" / gone)) << "the folder went too";
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(blobs_->exists(kept + "/0-" + std::to_string(i) + ".jpg"));
  EXPECT_TRUE(store_->pending_blob_deletions(10).empty());
  EXPECT_EQ(sweeper.sweep_once(), 0);
}

// A sweep cut short (here: one image per batch) leaves the rest queued; another process's
// sweeper, on its own connections, finishes them.
TEST_F(DeletionSweeperTest, ASweepCutShortIsFinishedByTheNext) {
  const std::string gone = completed_request(3);
  ASSERT_EQ(store_->delete_request(gone), store::Store::DeleteOutcome::deleted);
  DeletionSweeper first(*store_, *blobs_);
  purge(first, core::now_ms());
  EXPECT_EQ(first.sweep_once(1), 1);
  EXPECT_EQ(store_->pending_blob_deletions(10).size(), 2u);

  auto other_store = store::open_store("sqlite:" + (dir_ / "imgbatch.db"));
  auto other_blobs =
      blob::open_blob_store("file:" + (dir_ / "images"), test_support::blob_options(false));
  DeletionSweeper next(*other_store, *other_blobs,
                       DeletionSweeper::Options{.interval = std::chrono::milliseconds(20)});
  next.start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!store_->pending_blob_deletions(10).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  next.stop();
  EXPECT_TRUE(store_->pending_blob_deletions(10).empty());
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(blobs_->exists(gone + "/0-" + std::to_string(i) + ".jpg"));
}

TEST_F(DeletionSweeperTest, RetentionDeletesRequestsThatEndedLongerAgoWithTheirImages) {
  const std::string id = completed_request(2);
  const core::TimeMs ended = store_->get_request(id)->updated_at;

  // Retention 0 keeps everything, however late it is.
  DeletionSweeper keep_all(*store_, *blobs_);
  EXPECT_EQ(keep_all.purge_once(ended + 1000LL * 86'400'000).marked, 0);
  EXPECT_TRUE(store_->get_request(id).has_value());

  DeletionSweeper hourly(*store_, *blobs_,
                         DeletionSweeper::Options{.retention = std::chrono::hours(1)});
  EXPECT_EQ(hourly.purge_once(ended + 30 * 60'000).marked, 0) << "ended 30 min ago: kept";
  EXPECT_TRUE(store_->get_request(id).has_value());
  EXPECT_EQ(hourly.purge_once(ended + 61 * 60'000).marked, 1) << "ended 61 min ago: deleted";
  EXPECT_FALSE(store_->get_request(id).has_value());
  purge(hourly, ended + 61 * 60'000);
  EXPECT_EQ(hourly.sweep_once(), 2);
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(blobs_->exists(id + "/0-" + std::to_string(i) + ".jpg"));
}

// The sweeper's own thread, as `serve` runs it: an expired request goes with its images.
TEST_F(DeletionSweeperTest, ARunningSweeperAppliesRetention) {
  const std::string id = completed_request(3);
  DeletionSweeper sweeper(*store_, *blobs_,
                          DeletionSweeper::Options{.interval = std::chrono::milliseconds(20),
                                                   .retention = std::chrono::milliseconds(1),
                                                   .chunk = 2});
  sweeper.start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto image_left = [&] {
    for (int i = 0; i < 3; ++i)
      if (blobs_->exists(id + "/0-" + std::to_string(i) + ".jpg")) return true;
    return false;
  };
  while ((image_left() || !store_->pending_blob_deletions(10).empty()) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  sweeper.stop();
  EXPECT_FALSE(image_left());
  EXPECT_FALSE(store_->get_request(id).has_value());
  EXPECT_TRUE(store_->pending_blob_deletions(10).empty());
}

TEST(RetentionPeriod, ParsesWholeNumbersWithAUnitAndZero) {
  using std::chrono::milliseconds;
  EXPECT_EQ(parse_retention("0"), milliseconds(0));
  EXPECT_EQ(parse_retention("30d"), std::chrono::days(30));
  EXPECT_EQ(parse_retention("12h"), std::chrono::hours(12));
  EXPECT_EQ(parse_retention("90m"), std::chrono::minutes(90));
  EXPECT_EQ(parse_retention("3600s"), std::chrono::seconds(3600));
  EXPECT_EQ(parse_retention("36500d"), std::chrono::days(36'500));
}

TEST(RetentionPeriod, RejectsAnythingElse) {
  for (const char* bad : {"", "d", "30", "-1d", "+1d", "1.5d", "30 d", " 30d", "30D", "30x", "1w",
                          "36501d", "99999999999999999999d", "0d5"})
    EXPECT_FALSE(parse_retention(bad).has_value()) << bad;
}

}  // namespace
}  // namespace imgbatch::retention
