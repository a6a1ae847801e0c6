// What a request chose for its outputs (core::OutputChoices) and what became of each image
// (core::ImageReport), on every backend: stored with the request, handed to the worker with
// each claimed task, read back with the images; and every size of a stored image queued
// for removal with it (docs/API.md, "Output choices").
#include <algorithm>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "unit/store/conformance_requests.hpp"
#include "unit/store/store_conformance.hpp"

namespace imgbatch::store::testing {

namespace {

core::OutputChoices all_chosen() {
  core::OutputChoices choices;
  choices.quality_target = 0.9312345678901234;  // every digit must come back
  choices.max_bytes = 150'000;
  choices.never_larger = false;
  choices.sizes = {{"thumb", 200, 200}, {"card_2", 600, 400}};
  return choices;
}

core::TaskOutcome succeeded_with_sizes(const core::ClaimedTask& task, core::ImageReport report) {
  core::TaskOutcome outcome = succeeded(task);
  outcome.report = report;
  for (const auto& size : task.choices.sizes) outcome.sizes.push_back(size.name);
  return outcome;
}

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_P(StoreConformance, OutputChoicesReadBackAndComeWithEachClaimedTask) {
  core::NewRequest chosen = one_product(2);
  chosen.quality = 70;
  chosen.choices = all_chosen();
  const std::string id = create(store(), chosen);
  const std::string plain = create(store(), one_product(1));

  const auto record = store().get_request(id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->choices, all_chosen());
  EXPECT_EQ(record->quality, 70);
  EXPECT_EQ(store().get_request(plain)->choices, core::OutputChoices{});
  for (const auto& listed : store().list_requests(10, 0))
    EXPECT_EQ(listed.choices, listed.id == id ? all_chosen() : core::OutputChoices{});

  const auto tasks = store().claim_tasks("w", 10, kT0, kLease);
  ASSERT_EQ(tasks.size(), 3u);
  for (const auto& task : tasks)
    EXPECT_EQ(task.choices, task.request_id == id ? all_chosen() : core::OutputChoices{})
        << task.request_id;
}

TEST_P(StoreConformance, EachImagesReportReadsBack) {
  const std::string id = create(store(), one_product(2));
  const auto tasks = store().claim_tasks("w", 2, kT0, kLease);
  ASSERT_EQ(tasks.size(), 2u);
  const core::ImageReport searched{41, 0.92134567890123, false};
  const core::ImageReport kept{std::nullopt, std::nullopt, true};
  store().finish_tasks(
      {succeeded_with_sizes(tasks[0], searched), succeeded_with_sizes(tasks[1], kept)},
      kT0 + kSecond);

  const auto products = store().get_products(id, 0, 1);
  ASSERT_EQ(products.size(), 1u);
  ASSERT_EQ(products[0].images.size(), 2u);
  EXPECT_EQ(products[0].images[0].report, searched);
  EXPECT_EQ(products[0].images[1].report, kept);
  // Reopened, as another process reads them.
  EXPECT_EQ(harness().open()->get_products(id, 0, 1)[0].images[0].report, searched);
}

TEST_P(StoreConformance, DeletingARequestQueuesEverySizeOfItsImages) {
  core::NewRequest request = one_product(2);
  request.choices = all_chosen();
  const std::string id = create(store(), request);
  const auto tasks = store().claim_tasks("w", 2, kT0, kLease);
  ASSERT_EQ(tasks.size(), 2u);
  ASSERT_EQ(store().finish_tasks({succeeded_with_sizes(tasks[0], {50, std::nullopt, false}),
                                  succeeded_with_sizes(tasks[1], {50, std::nullopt, false})},
                                 kT0),
            std::vector<std::string>{id});

  ASSERT_EQ(store().delete_request(id), Store::DeleteOutcome::deleted);
  for (int step = 0; step < 10 && store().purge_step(std::nullopt, kT0, 500).more; ++step) {
  }
  EXPECT_EQ(harness().rows_of(id), 0);
  const std::vector<std::string> expected = {
      id + "/0-0.jpg", id + "/0-0-thumb.jpg", id + "/0-0-card_2.jpg",
      id + "/0-1.jpg", id + "/0-1-thumb.jpg", id + "/0-1-card_2.jpg",
  };
  EXPECT_EQ(sorted(store().pending_blob_deletions(100)), sorted(expected));
}

TEST_P(StoreConformance, ALateSuccessOfACancelledRequestQueuesItsSizesToo) {
  core::NewRequest request = one_product(1);
  request.choices = all_chosen();
  const std::string id = create(store(), request);
  const auto tasks = store().claim_tasks("w", 1, kT0, kLease);
  ASSERT_EQ(tasks.size(), 1u);
  ASSERT_EQ(store().cancel_request(id, kT0), Store::CancelOutcome::cancelled);
  store().finish_tasks({succeeded_with_sizes(tasks[0], {50, std::nullopt, false})}, kT0);
  EXPECT_EQ(sorted(store().pending_blob_deletions(100)),
            sorted({id + "/0-0.jpg", id + "/0-0-thumb.jpg", id + "/0-0-card_2.jpg"}));
}

}  // namespace imgbatch::store::testing
