// Store::cancel_request and what it means for the rest of the Store: claims, leases,
// outcomes that come late, webhook deliveries, deletion (docs/API.md, "Cancelling").
#include <optional>
#include <string>
#include <vector>

#include "core/ids.hpp"
#include "core/types.hpp"
#include "unit/store/conformance_requests.hpp"
#include "unit/store/store_conformance.hpp"

namespace imgbatch::store::testing {

namespace {

using core::ClaimedTask;
using core::NewRequest;
using core::RequestStatus;
using core::TaskOutcome;
using core::TaskState;
using core::TimeMs;

std::vector<core::ImageRecord> images_of(Store& store, const std::string& id) {
  const auto products = store.get_products(id, 0, 10);
  EXPECT_EQ(products.size(), 1u);
  return products.empty() ? std::vector<core::ImageRecord>{} : products[0].images;
}

}  // namespace

TEST_P(StoreConformance, CancellingARequestEndsItsOpenTasksAndQueuesItsWebhook) {
  const std::string id = create(store(), one_product(4, "https://hooks.example/cancel"));
  const auto claimed = store().claim_tasks("w", 2, kT0, kLease);
  ASSERT_EQ(claimed.size(), 2u);
  ASSERT_EQ(claimed[0].request_id, id);
  ASSERT_EQ(claimed[1].request_id, id);
  // Uploaded after the claim, so that fair turns give it none of those two tasks.
  const std::string other = create(store(), one_product(1));
  EXPECT_TRUE(store().finish_tasks({succeeded(claimed[0])}, kT0).empty());
  // Now: image 0 done, image 1 running, images 2 and 3 pending.

  ASSERT_EQ(store().cancel_request(id, kT0 + kSecond), Store::CancelOutcome::cancelled);
  const auto record = store().get_request(id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->status, RequestStatus::cancelled);
  EXPECT_EQ(record->updated_at, kT0 + kSecond);
  EXPECT_EQ(record->progress.succeeded, 1) << "what was done stays counted";
  EXPECT_EQ(record->progress.failed, 0) << "cancelled images are not failures";
  EXPECT_EQ(record->progress.remaining(), 3);

  const auto images = images_of(store(), id);
  ASSERT_EQ(images.size(), 4u);
  EXPECT_EQ(images[0].state, TaskState::done);
  EXPECT_EQ(images[0].output_name, "0-0.jpg");
  for (std::size_t i = 1; i < images.size(); ++i) {
    EXPECT_EQ(images[i].state, TaskState::failed) << i;
    EXPECT_EQ(images[i].error, "cancelled") << i;
  }

  // Nothing of it is claimed again, held, renewed or put back; the other request goes on.
  EXPECT_EQ(store().queue_depth().running, 0);
  EXPECT_EQ(store().queue_depth().pending, 1);
  EXPECT_EQ(store().renew_leases("w", {claimed[1].task_id}, kT0 + kLease), 0);
  EXPECT_EQ(store().release_expired_leases(kT0 + 10 * kLease), 0);
  EXPECT_EQ(store().release_leases("w"), 0);
  const auto later = store().claim_tasks("w2", 10, kT0 + 10 * kLease, kLease);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].request_id, other);
  EXPECT_EQ(store().cancelled_tasks({claimed[0].task_id, claimed[1].task_id, later[0].task_id}),
            (std::vector<std::int64_t>{claimed[0].task_id, claimed[1].task_id}));
  EXPECT_TRUE(store().cancelled_tasks({}).empty());

  // Its webhook is told, once.
  const auto deliveries = harness().deliveries(id);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].url, "https://hooks.example/cancel");
  EXPECT_EQ(deliveries[0].next_attempt_at, kT0 + kSecond);
  const auto due = store().claim_deliveries(kT0 + kSecond, 10, kLease);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].request_id, id);

  // The running image's outcome comes late: it changes nothing, and its stored image is
  // queued for removal. A retry changes nothing either.
  TaskOutcome retry;
  retry.task_id = claimed[1].task_id;
  retry.request_id = id;
  retry.kind = TaskOutcome::Kind::retry;
  retry.retry_at = kT0;
  retry.owner = "w";
  EXPECT_TRUE(store().finish_tasks({retry, succeeded(claimed[1])}, kT0 + 2 * kSecond).empty());
  EXPECT_EQ(store().get_request(id)->status, RequestStatus::cancelled);
  EXPECT_EQ(store().get_request(id)->progress.succeeded, 1);
  EXPECT_EQ(images_of(store(), id)[1].state, TaskState::failed);
  EXPECT_FALSE(images_of(store(), id)[1].output_name.has_value());
  EXPECT_EQ(store().pending_blob_deletions(10), std::vector<std::string>{id + "/0-1.jpg"});
  EXPECT_EQ(harness().deliveries(id).size(), 1u) << "no second notice";

  // A late duplicate of the image that did succeed names a key that must stay.
  EXPECT_TRUE(store().finish_tasks({succeeded(claimed[0], "w3")}, kT0 + 2 * kSecond).empty());
  EXPECT_EQ(store().pending_blob_deletions(10), std::vector<std::string>{id + "/0-1.jpg"});

  // Cancelled is an end: a second cancel changes nothing, a DELETE deletes it.
  EXPECT_EQ(store().cancel_request(id, kT0 + 3 * kSecond), Store::CancelOutcome::already_ended);
  EXPECT_EQ(store().get_request(id)->updated_at, kT0 + kSecond);
  ASSERT_EQ(store().delete_request(id), Store::DeleteOutcome::deleted);
  EXPECT_FALSE(store().get_request(id).has_value());
  EXPECT_EQ(store().cancel_request(id, kT0), Store::CancelOutcome::not_found);
  // Its rows (and so its image keys) go with the purge.
  for (int step = 0; step < 10 && store().purge_step(std::nullopt, kT0, 500).more; ++step) {
  }
  EXPECT_EQ(store().pending_blob_deletions(10),
            (std::vector<std::string>{id + "/0-1.jpg", id + "/0-0.jpg"}));
  EXPECT_EQ(store().cancel_request(id, kT0), Store::CancelOutcome::not_found);
}

TEST_P(StoreConformance, CancellingAPendingRequestWithoutWebhookQueuesNothing) {
  const std::string id = create(store(), one_product(2));
  ASSERT_EQ(store().cancel_request(id, kT0), Store::CancelOutcome::cancelled);
  EXPECT_EQ(store().get_request(id)->status, RequestStatus::cancelled);
  EXPECT_TRUE(harness().deliveries(id).empty());
  EXPECT_TRUE(store().claim_tasks("w", 10, kT0, kLease).empty());
  EXPECT_EQ(store().queue_depth().pending, 0);
  EXPECT_TRUE(store().pending_blob_deletions(10).empty());
  // Listed with its status, as any request.
  const auto listed = store().list_requests(10, 0);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].status, RequestStatus::cancelled);
  EXPECT_EQ(store().cancel_request(core::new_uuid(), kT0), Store::CancelOutcome::not_found);
}

TEST_P(StoreConformance, AnEndedRequestIsNotCancelled) {
  const std::string id = create(store(), one_product(1, "https://hooks.example/done"));
  const auto claimed = store().claim_tasks("w", 1, kT0, kLease);
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_EQ(store().finish_tasks({succeeded(claimed[0])}, kT0), std::vector<std::string>{id});
  EXPECT_EQ(store().cancel_request(id, kT0 + kSecond), Store::CancelOutcome::already_ended);
  EXPECT_EQ(store().get_request(id)->status, RequestStatus::completed);
  EXPECT_EQ(harness().deliveries(id).size(), 1u) << "only the completion notice";
  EXPECT_TRUE(store().cancelled_tasks({claimed[0].task_id}).empty());
}

TEST_P(StoreConformance, ACancelSurvivesReopening) {
  const std::string id = create(store(), one_product(1));
  ASSERT_EQ(store().cancel_request(id, kT0), Store::CancelOutcome::cancelled);
  close_store();
  reopen_store();
  EXPECT_EQ(store().get_request(id)->status, RequestStatus::cancelled);
}

}  // namespace imgbatch::store::testing
