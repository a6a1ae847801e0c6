// Shared sources and outputs (issue 15; docs/architecture.md, "Shared sources and
// outputs"), on every backend: a task's source key comes back with it when claimed, with
// what is known of the source once a task made its image; a reused outcome names the
// shared image, counts as reused and is found by image_key; a shared image is queued for
// removal only when no task names it any more, and a reuse that comes after that is made
// again instead of naming a removed image. A claim passes over a task whose source another
// owner is downloading, until that one ends or its lease expires.
#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/types.hpp"
#include "unit/store/conformance_requests.hpp"
#include "unit/store/store_conformance.hpp"
#include "unit/store/wake_counter.hpp"

namespace imgbatch::store::testing {

namespace {

// One product whose images have these source keys ("" for an image not shared).
core::NewRequest shared(const std::vector<std::string>& keys, core::TimeMs created_at = kT0) {
  core::NewRequest request = one_product(static_cast<int>(keys.size()));
  request.source_keys = keys;
  request.created_at = created_at;
  request.choices.sizes = {{"thumb", 200, 200}};
  return request;
}

std::string own_key(const core::ClaimedTask& task) {
  return task.request_id + "/0-" + std::to_string(task.image_index) + ".jpg";
}

// The worker made the image itself, from bytes with this hash.
core::TaskOutcome made(const core::ClaimedTask& task, const std::string& sha256) {
  core::TaskOutcome outcome = succeeded(task);
  outcome.blob_key = own_key(task);
  outcome.source_key = task.source_key;
  outcome.sha256 = sha256;
  outcome.etag = "\"" + sha256 + "\"";
  outcome.last_modified = "Sat, 05 Dec 2026 10:00:00 GMT";
  outcome.report = {62, std::nullopt, false};
  outcome.sizes = {"thumb"};
  return outcome;
}

// The worker reused what the claim said is known of the source.
core::TaskOutcome reused(const core::ClaimedTask& task, core::Reuse how) {
  core::TaskOutcome outcome = succeeded(task);
  const core::KnownSource& known = task.known.value();
  outcome.blob_key = known.blob_key;
  outcome.reused = how;
  outcome.source_key = task.source_key;
  outcome.sha256 = known.sha256;
  outcome.bytes_in = known.bytes_in;
  outcome.bytes_out = known.bytes_out;
  outcome.report = known.report;
  outcome.sizes = {"thumb"};
  return outcome;
}

std::vector<core::ClaimedTask> claim_of(Store& store, const std::string& request_id,
                                        core::TimeMs now) {
  std::vector<core::ClaimedTask> mine;
  for (auto& task : store.claim_tasks("w", 50, now, kLease))
    if (task.request_id == request_id) mine.push_back(std::move(task));
  return mine;
}

void purge_all(Store& store) {
  for (int step = 0; step < 20 && store.purge_step(std::nullopt, kT0, 500).more; ++step) {
  }
}

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

bool queued(Store& store, const std::string& key) {
  const auto keys = store.pending_blob_deletions(1000);
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

}  // namespace

TEST_P(StoreConformance, ClaimedTasksComeWithTheirSourceAndWhatIsKnownOfIt) {
  const std::string first = create(store(), shared({"k0", "k1", ""}));
  auto tasks = claim_of(store(), first, kT0);
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].source_key, "k0");
  EXPECT_EQ(tasks[1].source_key, "k1");
  EXPECT_EQ(tasks[2].source_key, std::nullopt);
  for (const auto& task : tasks) {
    EXPECT_FALSE(task.known.has_value());
    EXPECT_EQ(task.request_created_at, kT0);
  }
  store().finish_tasks({made(tasks[0], "aa")}, kT0 + 5 * kSecond);

  const std::string second = create(store(), shared({"k0", "k1"}, kT0 + 10 * kSecond));
  const auto again = claim_of(store(), second, kT0 + 10 * kSecond);
  ASSERT_EQ(again.size(), 2u);
  ASSERT_TRUE(again[0].known.has_value());
  const core::KnownSource& known = *again[0].known;
  EXPECT_EQ(known.sha256, "aa");
  EXPECT_EQ(known.etag, "\"aa\"");
  EXPECT_EQ(known.last_modified, "Sat, 05 Dec 2026 10:00:00 GMT");
  EXPECT_EQ(known.blob_key, own_key(tasks[0]));
  EXPECT_EQ(known.bytes_in, 1000);
  EXPECT_EQ(known.bytes_out, 400);
  EXPECT_EQ(known.report, (core::ImageReport{62, std::nullopt, false}));
  EXPECT_EQ(known.checked_at, kT0 + 5 * kSecond);
  EXPECT_EQ(again[0].request_created_at, kT0 + 10 * kSecond);
  EXPECT_FALSE(again[1].known.has_value()) << "k1 has not been made yet";
}

TEST_P(StoreConformance, AReusedImageIsTheSharedOneAndCountsAsReused) {
  const std::string first = create(store(), shared({"k0"}));
  const auto made_tasks = claim_of(store(), first, kT0);
  store().finish_tasks({made(made_tasks[0], "aa")}, kT0 + kSecond);
  const std::string shared_key = own_key(made_tasks[0]);

  const std::string second = create(store(), shared({"k0"}, kT0 + 2 * kSecond));
  const auto tasks = claim_of(store(), second, kT0 + 2 * kSecond);
  ASSERT_EQ(tasks.size(), 1u);
  core::TaskOutcome outcome = reused(tasks[0], core::Reuse::not_modified);
  outcome.etag = "\"new-tag\"";
  EXPECT_EQ(store().finish_tasks({outcome}, kT0 + 3 * kSecond), std::vector<std::string>{second});

  const auto record = store().get_request(second);
  EXPECT_EQ(record->progress.succeeded, 1);
  EXPECT_EQ(record->progress.reused, 1);
  EXPECT_EQ(store().get_request(first)->progress.reused, 0);
  const auto image = store().get_products(second, 0, 1).at(0).images.at(0);
  EXPECT_EQ(image.blob_key, shared_key);
  EXPECT_EQ(image.reused, core::Reuse::not_modified);
  EXPECT_EQ(image.output_name, "0-0.jpg") << "its own name in its request, as before";
  EXPECT_EQ(store().get_products(first, 0, 1).at(0).images.at(0).reused, core::Reuse::none);
  EXPECT_EQ(store().image_key(second, 0, 0), shared_key);
  EXPECT_EQ(store().image_key(first, 0, 0), shared_key);
  EXPECT_EQ(store().image_key(second, 0, 1), std::nullopt);

  // The 304 confirmed the source: its new tag and time are what the next claim is told.
  const std::string third = create(store(), shared({"k0"}, kT0 + 4 * kSecond));
  const auto known = claim_of(store(), third, kT0 + 4 * kSecond).at(0).known;
  ASSERT_TRUE(known.has_value());
  EXPECT_EQ(known->etag, "\"new-tag\"");
  EXPECT_EQ(known->checked_at, kT0 + 3 * kSecond);
  EXPECT_EQ(known->blob_key, shared_key);
}

TEST_P(StoreConformance, ASharedImageIsRemovedOnlyWithItsLastReference) {
  const std::string first = create(store(), shared({"k0", ""}));
  const auto made_tasks = claim_of(store(), first, kT0);
  store().finish_tasks({made(made_tasks[0], "aa"), made(made_tasks[1], "bb")}, kT0 + kSecond);
  const std::string shared_key = own_key(made_tasks[0]);
  const std::string second = create(store(), shared({"k0"}, kT0 + 2 * kSecond));
  store().finish_tasks(
      {reused(claim_of(store(), second, kT0 + 2 * kSecond).at(0), core::Reuse::same_bytes)},
      kT0 + 3 * kSecond);

  // The request that made it goes first: only its unshared image leaves.
  ASSERT_EQ(store().delete_request(first), Store::DeleteOutcome::deleted);
  purge_all(store());
  EXPECT_EQ(harness().rows_of(first), 0);
  EXPECT_EQ(sorted(store().pending_blob_deletions(100)),
            sorted({own_key(made_tasks[1]), first + "/0-1-thumb.jpg"}));
  EXPECT_EQ(store().image_key(second, 0, 0), shared_key);
  // Still known: a new request reuses it.
  const std::string third = create(store(), shared({"k0"}, kT0 + 4 * kSecond));
  const auto known = claim_of(store(), third, kT0 + 4 * kSecond).at(0).known;
  ASSERT_TRUE(known.has_value());
  EXPECT_EQ(known->blob_key, shared_key);
  store().cancel_request(third, kT0 + 5 * kSecond);
  store().forget_blob_deletions(store().pending_blob_deletions(100));

  // Its last reference goes: the image and its size leave, and nothing knows it any more.
  ASSERT_EQ(store().delete_request(second), Store::DeleteOutcome::deleted);
  ASSERT_EQ(store().delete_request(third), Store::DeleteOutcome::deleted);
  purge_all(store());
  EXPECT_EQ(sorted(store().pending_blob_deletions(100)),
            sorted({shared_key, first + "/0-0-thumb.jpg"}));
  const std::string fourth = create(store(), shared({"k0"}, kT0 + 6 * kSecond));
  EXPECT_FALSE(claim_of(store(), fourth, kT0 + 6 * kSecond).at(0).known.has_value());
}

TEST_P(StoreConformance, AReuseOfAnImageRemovedMeanwhileIsMadeAgain) {
  const std::string first = create(store(), shared({"k0"}));
  store().finish_tasks({made(claim_of(store(), first, kT0).at(0), "aa")}, kT0 + kSecond);
  const std::string second = create(store(), shared({"k0"}, kT0 + 2 * kSecond));
  const auto tasks = claim_of(store(), second, kT0 + 2 * kSecond);
  ASSERT_TRUE(tasks.at(0).known.has_value());

  // Between the claim and the outcome, the only request that named the image is purged.
  ASSERT_EQ(store().delete_request(first), Store::DeleteOutcome::deleted);
  purge_all(store());
  ASSERT_TRUE(queued(store(), tasks[0].known->blob_key));

  EXPECT_TRUE(store()
                  .finish_tasks({reused(tasks[0], core::Reuse::not_modified)}, kT0 + 3 * kSecond)
                  .empty());
  const auto record = store().get_request(second);
  EXPECT_EQ(record->progress.succeeded, 0);
  EXPECT_EQ(record->progress.reused, 0);
  EXPECT_EQ(store().image_key(second, 0, 0), std::nullopt);
  // Back in the queue at once, with nothing known: it is downloaded and made anew.
  const auto redo = claim_of(store(), second, kT0 + 3 * kSecond);
  ASSERT_EQ(redo.size(), 1u);
  EXPECT_FALSE(redo[0].known.has_value());
  store().finish_tasks({made(redo[0], "aa")}, kT0 + 4 * kSecond);
  EXPECT_EQ(store().image_key(second, 0, 0), own_key(redo[0]));
  EXPECT_EQ(store().get_request(second)->status, core::RequestStatus::completed);
}

TEST_P(StoreConformance, ChangedBytesMoveTheSourceWhileOlderRequestsKeepTheirImage) {
  const std::string first = create(store(), shared({"k0"}));
  const auto old_task = claim_of(store(), first, kT0).at(0);
  store().finish_tasks({made(old_task, "aa")}, kT0 + kSecond);
  const std::string second = create(store(), shared({"k0"}, kT0 + 2 * kSecond));
  const auto new_task = claim_of(store(), second, kT0 + 2 * kSecond).at(0);
  store().finish_tasks({made(new_task, "bb")}, kT0 + 3 * kSecond);

  EXPECT_EQ(store().image_key(first, 0, 0), own_key(old_task));
  EXPECT_EQ(store().image_key(second, 0, 0), own_key(new_task));
  const std::string third = create(store(), shared({"k0"}, kT0 + 4 * kSecond));
  const auto known = claim_of(store(), third, kT0 + 4 * kSecond).at(0).known;
  ASSERT_TRUE(known.has_value());
  EXPECT_EQ(known->sha256, "bb");
  EXPECT_EQ(known->blob_key, own_key(new_task));

  // The old image has no other reference: it leaves with its request; the new one stays.
  ASSERT_EQ(store().delete_request(first), Store::DeleteOutcome::deleted);
  purge_all(store());
  EXPECT_TRUE(queued(store(), own_key(old_task)));
  EXPECT_FALSE(queued(store(), own_key(new_task)));
}

TEST_P(StoreConformance, ALateReuseOfACancelledRequestQueuesNothing) {
  const std::string first = create(store(), shared({"k0"}));
  store().finish_tasks({made(claim_of(store(), first, kT0).at(0), "aa")}, kT0 + kSecond);
  const std::string second = create(store(), shared({"k0"}, kT0 + 2 * kSecond));
  const auto tasks = claim_of(store(), second, kT0 + 2 * kSecond);
  ASSERT_EQ(store().cancel_request(second, kT0 + 3 * kSecond), Store::CancelOutcome::cancelled);
  store().finish_tasks({reused(tasks.at(0), core::Reuse::duplicate)}, kT0 + 4 * kSecond);
  EXPECT_TRUE(store().pending_blob_deletions(100).empty());
  EXPECT_EQ(store().image_key(first, 0, 0), tasks[0].known->blob_key);
}

// ---- a source another process is downloading ------------------------------------------

namespace {

// The source keys of claimed tasks ("" for none), in task order.
std::vector<std::string> keys_of(const std::vector<core::ClaimedTask>& tasks) {
  std::vector<std::string> keys;
  for (const auto& task : tasks) keys.push_back(task.source_key.value_or(""));
  return keys;
}

}  // namespace

// A claim passes over a task whose source another owner holds under a live lease: it waits
// for that download instead of starting its own. Tasks of other sources, and tasks without
// one, are claimed as ever; two waiting tasks of one source go to one claimer together;
// the owner that holds the source takes its other tasks (it shares the download itself).
TEST_P(StoreConformance, AClaimPassesOverASourceAnotherOwnerIsDownloading) {
  create(store(), shared({"k0"}));
  const auto held = store().claim_tasks("a", 1, kT0, kLease);
  ASSERT_EQ(keys_of(held), std::vector<std::string>{"k0"});
  const std::string second = create(store(), shared({"k0", "k1", "", "k2", "k2"}));

  const auto other = store().claim_tasks("b", 50, kT0 + 1, kLease);
  EXPECT_EQ(keys_of(other), (std::vector<std::string>{"k1", "", "k2", "k2"}));
  EXPECT_TRUE(store().claim_tasks("b", 50, kT0 + 2, kLease).empty()) << "k0 waits for a";
  EXPECT_TRUE(harness().open()->claim_tasks("c", 50, kT0 + 2, kLease).empty())
      << "nor through another instance, as another process";

  const auto own = store().claim_tasks("a", 50, kT0 + 3, kLease);
  ASSERT_EQ(keys_of(own), std::vector<std::string>{"k0"});
  EXPECT_EQ(own[0].request_id, second);
}

// Once the owner that held the source has written its outcome, the waiting task is
// claimed with what is now known of the source, and the workers are woken for it.
TEST_P(StoreConformance, ATaskWaitingForASourceIsClaimableAndWokenOnceItsTaskEnds) {
  WakeCounter wakes;
  auto watch = store().watch_new_work(wakes.callback());
  create(store(), shared({"k0"}));
  const auto held = store().claim_tasks("a", 1, kT0, kLease);
  ASSERT_EQ(held.size(), 1u);
  const std::string waiting = create(store(), shared({"k0"}, kT0 + kSecond));
  ASSERT_TRUE(store().claim_tasks("b", 50, kT0 + 2 * kSecond, kLease).empty());
  // The wake-ups of the uploads are behind us (they may come late, and merged).
  ASSERT_TRUE(wakes.wait_above(0));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int seen = wakes.count();

  store().finish_tasks({made(held[0], "aa")}, kT0 + 3 * kSecond);
  EXPECT_TRUE(wakes.wait_above(seen, std::chrono::seconds(10)))
      << "no wake-up for the task that waited for the source";
  const auto now_free = store().claim_tasks("b", 50, kT0 + 4 * kSecond, kLease);
  ASSERT_EQ(now_free.size(), 1u);
  EXPECT_EQ(now_free[0].request_id, waiting);
  ASSERT_TRUE(now_free[0].known.has_value()) << "with what the first one made";
  EXPECT_EQ(now_free[0].known->blob_key, own_key(held[0]));
}

// A lease that has expired holds nothing, even before it is put back: its owner may be
// dead. A task that failed ends the wait as well.
TEST_P(StoreConformance, AnExpiredLeaseOrAFailedTaskDoesNotHoldItsSource) {
  create(store(), shared({"k0", "k1"}));
  const auto held = store().claim_tasks("a", 2, kT0, kLease);
  ASSERT_EQ(held.size(), 2u);
  const std::string waiting = create(store(), shared({"k0", "k1"}, kT0 + kSecond));
  ASSERT_TRUE(store().claim_tasks("b", 50, kT0 + kLease - 1, kLease).empty());

  core::TaskOutcome failed = succeeded(held[1], "a");
  failed.kind = core::TaskOutcome::Kind::failed;
  failed.error = "HTTP 404";
  store().finish_tasks({failed}, kT0 + 2 * kSecond);
  EXPECT_EQ(keys_of(store().claim_tasks("b", 50, kT0 + 3 * kSecond, kLease)),
            std::vector<std::string>{"k1"});

  const auto after_expiry = store().claim_tasks("b", 50, kT0 + kLease + 1, kLease);
  ASSERT_EQ(keys_of(after_expiry), std::vector<std::string>{"k0"});
  EXPECT_EQ(after_expiry[0].request_id, waiting);
}

TEST_P(StoreConformance, TasksWithoutSourceKeysAreNeverShared) {
  const std::string plain = create(store(), one_product(1));
  const auto claimed = claim_of(store(), plain, kT0);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].source_key, std::nullopt);
  store().finish_tasks({succeeded(claimed[0])}, kT0 + kSecond);
  // An outcome without a key names the task's own image.
  EXPECT_EQ(store().image_key(plain, 0, 0), plain + "/0-0.jpg");
}

}  // namespace imgbatch::store::testing
