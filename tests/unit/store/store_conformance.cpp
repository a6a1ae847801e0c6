#include "unit/store/store_conformance.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.hpp"
#include "core/types.hpp"
#include "unit/store/wake_counter.hpp"

namespace imgbatch::store::testing {

void StoreConformance::SetUp() {
  harness_ = GetParam().make_harness();
  store_ = harness_->open();
}

void StoreConformance::TearDown() {
  store_.reset();  // close before the harness removes the database
  harness_.reset();
}

namespace {

using core::ClaimedTask;
using core::CreateOutcome;
using core::ImageFormat;
using core::NewRequest;
using core::RequestStatus;
using core::TaskOutcome;
using core::TaskState;
using core::TimeMs;

// A fixed clock: the Store takes every time from its caller, so tests choose them.
constexpr TimeMs kT0 = 1'800'000'000'000;
constexpr TimeMs kSecond = 1000;
constexpr TimeMs kHour = 3600 * kSecond;
constexpr TimeMs kLease = 30 * kSecond;

std::string url_of(int product, int image) {
  return "https://img.example.com/p" + std::to_string(product) + "/i" + std::to_string(image) +
         ".jpg";
}

// `images(p)` images for product p.
template <class Images>
NewRequest make_request(int products, Images images, TimeMs created_at = kT0) {
  NewRequest r;
  r.id = core::new_uuid();
  r.columns = {"S. No.", "Product Name", "Input Image Urls", "Notes"};
  for (int p = 0; p < products; ++p) {
    core::ProductInput product;
    product.serial_number = std::to_string(p + 1);
    product.product_name = "SKU" + std::to_string(p + 1);
    std::string joined;
    for (int i = 0; i < images(p); ++i) {
      product.image_urls.push_back(url_of(p, i));
      joined += (i ? "," : "") + url_of(p, i);
    }
    product.fields = {product.serial_number, product.product_name, joined,
                      "note " + std::to_string(p)};
    r.products.push_back(std::move(product));
  }
  r.fingerprint = "fingerprint-" + r.id;
  r.created_at = created_at;
  return r;
}

NewRequest make_request(int products, int images_each, TimeMs created_at = kT0) {
  return make_request(
      products, [images_each](int) { return images_each; }, created_at);
}

std::string create(Store& store, const NewRequest& request) {
  const CreateOutcome outcome = store.create_request(request);
  EXPECT_EQ(outcome.kind, CreateOutcome::Kind::created);
  EXPECT_EQ(outcome.request_id, request.id);
  return outcome.request_id;
}

TaskOutcome succeeded(const ClaimedTask& task, std::int64_t bytes_in = 1000,
                      std::int64_t bytes_out = 400) {
  TaskOutcome o;
  o.task_id = task.task_id;
  o.request_id = task.request_id;
  o.kind = TaskOutcome::Kind::succeeded;
  o.output_name =
      std::to_string(task.product_index) + "-" + std::to_string(task.image_index) + ".jpg";
  o.bytes_in = bytes_in;
  o.bytes_out = bytes_out;
  return o;
}

TaskOutcome failed(const ClaimedTask& task, std::string error) {
  TaskOutcome o;
  o.task_id = task.task_id;
  o.request_id = task.request_id;
  o.kind = TaskOutcome::Kind::failed;
  o.error = std::move(error);
  return o;
}

TaskOutcome retry(const ClaimedTask& task, std::string error, TimeMs at, std::string owner = "w") {
  TaskOutcome o;
  o.owner = std::move(owner);
  o.task_id = task.task_id;
  o.request_id = task.request_id;
  o.kind = TaskOutcome::Kind::retry;
  o.error = std::move(error);
  o.retry_at = at;
  return o;
}

std::vector<std::int64_t> ids_of(const std::vector<ClaimedTask>& tasks) {
  std::vector<std::int64_t> ids;
  for (const auto& t : tasks) ids.push_back(t.task_id);
  return ids;
}

// The one image (product p, image i) of a request, read back through get_products.
core::ImageRecord image_at(Store& store, const std::string& request_id, int p, int i) {
  auto products = store.get_products(request_id, p, 1);
  EXPECT_EQ(products.size(), 1u);
  if (products.empty() || static_cast<int>(products[0].images.size()) <= i) return {};
  return products[0].images[static_cast<std::size_t>(i)];
}

// Creates a request with a webhook URL and ends it at `now`, leaving one delivery due.
std::string completed_with_webhook(Store& store, TimeMs now, const std::string& url) {
  NewRequest request = make_request(1, 1);
  request.webhook_url = url;
  const std::string id = create(store, request);
  auto tasks = store.claim_tasks("w", 1, now, kLease);
  EXPECT_EQ(tasks.size(), 1u);
  EXPECT_EQ(store.finish_tasks({succeeded(tasks.at(0))}, now), std::vector<std::string>{id});
  return id;
}

}  // namespace

// ---- requests and products -------------------------------------------------------------

TEST_P(StoreConformance, CreatedRequestReadsBackWithEverySetting) {
  NewRequest request = make_request(2, [](int p) { return p + 1; });
  request.columns = {"S. No.", "Product Name", "Input Image Urls", "Notes, \"quoted\"", "ünï ✓"};
  request.webhook_url = "https://hooks.example.com/imgbatch?x=1";
  request.quality = 80;
  request.format = ImageFormat::webp;
  const std::string id = create(store(), request);

  const auto record = store().get_request(id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->id, id);
  EXPECT_EQ(record->status, RequestStatus::pending);
  EXPECT_EQ(record->created_at, kT0);
  EXPECT_EQ(record->updated_at, kT0);
  EXPECT_EQ(record->progress.total, 3);
  EXPECT_EQ(record->progress.succeeded, 0);
  EXPECT_EQ(record->progress.failed, 0);
  EXPECT_EQ(record->products_total, 2);
  EXPECT_EQ(record->columns, request.columns);
  EXPECT_EQ(record->webhook_url, request.webhook_url);
  EXPECT_EQ(record->quality, 80);
  EXPECT_EQ(record->format, ImageFormat::webp);
  EXPECT_FALSE(record->failure_reason.has_value());

  NewRequest plain = make_request(1, 1);
  const auto plain_record = store().get_request(create(store(), plain));
  ASSERT_TRUE(plain_record.has_value());
  EXPECT_FALSE(plain_record->webhook_url.has_value());
  EXPECT_EQ(plain_record->format, ImageFormat::jpeg);
  EXPECT_EQ(plain_record->quality, 50);
}

TEST_P(StoreConformance, UnknownRequestIsAbsent) {
  EXPECT_FALSE(store().get_request(core::new_uuid()).has_value());
  EXPECT_TRUE(store().get_products(core::new_uuid(), 0, 10).empty());
  EXPECT_TRUE(harness().deliveries(core::new_uuid()).empty());
}

TEST_P(StoreConformance, ProductsReadBackWithFieldsAndImagesInOrder) {
  NewRequest request = make_request(3, [](int p) { return 3 - p; });
  request.products[1].fields = {"2", "SKU2", "a, \"b\"\nc", "", "ünïcödé ✓"};
  const std::string id = create(store(), request);

  const auto products = store().get_products(id, 0, 100);
  ASSERT_EQ(products.size(), 3u);
  for (int p = 0; p < 3; ++p) {
    const auto& product = products[static_cast<std::size_t>(p)];
    const auto& input = request.products[static_cast<std::size_t>(p)];
    EXPECT_EQ(product.index, p);
    EXPECT_EQ(product.serial_number, input.serial_number);
    EXPECT_EQ(product.product_name, input.product_name);
    EXPECT_EQ(product.fields, input.fields);
    ASSERT_EQ(product.images.size(), input.image_urls.size());
    for (std::size_t i = 0; i < product.images.size(); ++i) {
      const auto& image = product.images[i];
      EXPECT_EQ(image.index, static_cast<int>(i));
      EXPECT_EQ(image.source_url, input.image_urls[i]);
      EXPECT_EQ(image.state, TaskState::pending);
      EXPECT_EQ(image.attempts, 0);
      EXPECT_FALSE(image.output_name.has_value());
      EXPECT_FALSE(image.error.has_value());
      EXPECT_EQ(image.bytes_in, 0);
      EXPECT_EQ(image.bytes_out, 0);
    }
  }
}

TEST_P(StoreConformance, ProductsPageByOffsetAndLimit) {
  const auto images = [](int p) { return p % 3 + 1; };
  const std::string id = create(store(), make_request(25, images));
  // Another request's products must never leak into a page.
  create(store(), make_request(25, 1));

  const auto page = store().get_products(id, 10, 10);
  ASSERT_EQ(page.size(), 10u);
  for (int k = 0; k < 10; ++k) {
    const auto& product = page[static_cast<std::size_t>(k)];
    const int p = 10 + k;
    EXPECT_EQ(product.index, p);
    EXPECT_EQ(product.serial_number, std::to_string(p + 1));
    ASSERT_EQ(static_cast<int>(product.images.size()), images(p)) << "product " << p;
    for (int i = 0; i < images(p); ++i)
      EXPECT_EQ(product.images[static_cast<std::size_t>(i)].source_url, url_of(p, i));
  }
  const auto last = store().get_products(id, 20, 10);
  ASSERT_EQ(last.size(), 5u);
  EXPECT_EQ(last.front().index, 20);
  EXPECT_EQ(last.back().index, 24);
  EXPECT_TRUE(store().get_products(id, 25, 10).empty());
  EXPECT_TRUE(store().get_products(id, 0, 0).empty());
}

TEST_P(StoreConformance, ListsRequestsNewestFirst) {
  const std::string oldest = create(store(), make_request(1, 1, kT0));
  const std::string newest = create(store(), make_request(1, 2, kT0 + 2 * kSecond));
  const std::string middle = create(store(), make_request(1, 1, kT0 + kSecond));
  // Same millisecond as `middle` but created after it: newer.
  const std::string middle_later = create(store(), make_request(1, 1, kT0 + kSecond));

  const auto all = store().list_requests(10, 0);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].id, newest);
  EXPECT_EQ(all[1].id, middle_later);
  EXPECT_EQ(all[2].id, middle);
  EXPECT_EQ(all[3].id, oldest);
  EXPECT_EQ(all[0].progress.total, 2);
  EXPECT_EQ(all[0].products_total, 1);

  const auto first_two = store().list_requests(2, 0);
  ASSERT_EQ(first_two.size(), 2u);
  EXPECT_EQ(first_two[1].id, middle_later);
  const auto rest = store().list_requests(2, 2);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].id, middle);
  EXPECT_TRUE(store().list_requests(10, 4).empty());
}

TEST_P(StoreConformance, RequestWithoutImagesIsCompletedAtOnce) {
  NewRequest request = make_request(2, 0);
  request.webhook_url = "https://hooks.example.com/x";
  const std::string id = create(store(), request);
  const auto record = store().get_request(id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->status, RequestStatus::completed);
  EXPECT_EQ(record->progress.total, 0);
  EXPECT_EQ(harness().deliveries(id).size(), 1u);
}

// ---- idempotency -----------------------------------------------------------------------

TEST_P(StoreConformance, SameKeyAndFingerprintWithin24HoursReplaysTheEarlierRequest) {
  NewRequest first = make_request(2, 2, kT0);
  first.idempotency_key = "key-1";
  first.fingerprint = "upload-a";
  create(store(), first);

  NewRequest again = make_request(2, 2, kT0 + 23 * kHour);
  again.idempotency_key = "key-1";
  again.fingerprint = "upload-a";
  const CreateOutcome outcome = store().create_request(again);
  EXPECT_EQ(outcome.kind, CreateOutcome::Kind::replayed);
  EXPECT_EQ(outcome.request_id, first.id);

  EXPECT_FALSE(store().get_request(again.id).has_value());
  EXPECT_EQ(store().list_requests(10, 0).size(), 1u);
  EXPECT_EQ(store().queue_depth().pending, 4);
}

TEST_P(StoreConformance, SameKeyWithAnotherFingerprintIsAConflict) {
  NewRequest first = make_request(1, 1, kT0);
  first.idempotency_key = "key-1";
  first.fingerprint = "upload-a";
  create(store(), first);

  NewRequest other = make_request(1, 1, kT0 + kHour);
  other.idempotency_key = "key-1";
  other.fingerprint = "upload-b";
  EXPECT_EQ(store().create_request(other).kind, CreateOutcome::Kind::key_conflict);
  EXPECT_FALSE(store().get_request(other.id).has_value());
  EXPECT_EQ(store().list_requests(10, 0).size(), 1u);
  EXPECT_EQ(store().queue_depth().pending, 1);
}

TEST_P(StoreConformance, KeyOlderThan24HoursIsForgotten) {
  NewRequest first = make_request(1, 1, kT0);
  first.idempotency_key = "key-1";
  first.fingerprint = "upload-a";
  create(store(), first);

  NewRequest later = make_request(1, 1, kT0 + 25 * kHour);
  later.idempotency_key = "key-1";
  later.fingerprint = "upload-b";  // even a different upload may take the key now
  create(store(), later);

  // The newest use of the key is the one that counts from now on.
  NewRequest replay = make_request(1, 1, kT0 + 26 * kHour);
  replay.idempotency_key = "key-1";
  replay.fingerprint = "upload-b";
  const CreateOutcome outcome = store().create_request(replay);
  EXPECT_EQ(outcome.kind, CreateOutcome::Kind::replayed);
  EXPECT_EQ(outcome.request_id, later.id);
}

TEST_P(StoreConformance, RequestsWithoutKeyOrWithOtherKeysAreIndependent) {
  NewRequest a = make_request(1, 1);
  a.fingerprint = "same";
  NewRequest b = make_request(1, 1);
  b.fingerprint = "same";
  create(store(), a);
  create(store(), b);
  NewRequest c = make_request(1, 1);
  c.idempotency_key = "key-c";
  c.fingerprint = "same";
  NewRequest d = make_request(1, 1);
  d.idempotency_key = "key-d";
  d.fingerprint = "same";
  create(store(), c);
  create(store(), d);
  EXPECT_EQ(store().list_requests(10, 0).size(), 4u);
}

// ---- claiming and leases ---------------------------------------------------------------

TEST_P(StoreConformance, ClaimsTakeTurnsAcrossRequestsInProductAndImageOrder) {
  NewRequest older = make_request(2, 2, kT0);
  older.quality = 40;
  older.format = ImageFormat::webp;
  create(store(), older);
  NewRequest newer = make_request(1, 1, kT0 + kSecond);
  create(store(), newer);

  // Fair turns: the older request first, then the newer one, then the older one again.
  const auto first = store().claim_tasks("worker-a", 3, kT0 + 5 * kSecond, kLease);
  ASSERT_EQ(first.size(), 3u);
  std::vector<ClaimedTask> of_older;
  for (const auto& task : first) {
    if (task.request_id == older.id) {
      of_older.push_back(task);
      continue;
    }
    EXPECT_EQ(task.request_id, newer.id);
    EXPECT_EQ(task.quality, 50);
    EXPECT_EQ(task.format, ImageFormat::jpeg);
  }
  ASSERT_EQ(of_older.size(), 2u);
  const int expected[][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  for (std::size_t k = 0; k < of_older.size(); ++k) {
    EXPECT_EQ(of_older[k].product_index, expected[k][0]);
    EXPECT_EQ(of_older[k].image_index, expected[k][1]);
    EXPECT_EQ(of_older[k].source_url, url_of(expected[k][0], expected[k][1]));
    EXPECT_EQ(of_older[k].attempt, 1);
    EXPECT_EQ(of_older[k].quality, 40);
    EXPECT_EQ(of_older[k].format, ImageFormat::webp);
  }

  // Only the older request has tasks left: the rest of them, in order.
  const auto second = store().claim_tasks("worker-a", 10, kT0 + 5 * kSecond, kLease);
  ASSERT_EQ(second.size(), 2u);
  for (std::size_t k = 0; k < second.size(); ++k) {
    EXPECT_EQ(second[k].request_id, older.id);
    EXPECT_EQ(second[k].product_index, expected[k + 2][0]);
    EXPECT_EQ(second[k].image_index, expected[k + 2][1]);
  }

  EXPECT_TRUE(store().claim_tasks("worker-a", 10, kT0 + 5 * kSecond, kLease).empty());
  EXPECT_EQ(store().queue_depth().running, 5);
  EXPECT_EQ(store().queue_depth().pending, 0);
}

// The request each of `count` claims of one task went to.
std::vector<std::string> claim_one_at_a_time(Store& store, int count, TimeMs now) {
  std::vector<std::string> order;
  for (int k = 0; k < count; ++k) {
    const auto tasks = store.claim_tasks("w", 1, now, kLease);
    if (tasks.empty()) break;
    EXPECT_EQ(tasks.size(), 1u);
    order.push_back(tasks[0].request_id);
  }
  return order;
}

TEST_P(StoreConformance, ARequestUploadedWhileAnotherRunsIsServedAtTheNextClaim) {
  const std::string big = create(store(), make_request(50, 1, kT0));
  ASSERT_EQ(store().claim_tasks("w", 5, kT0, kLease).size(), 5u);
  const std::string small = create(store(), make_request(3, 1, kT0 + kSecond));

  // From its first claim on, the small request takes every other task.
  const auto order = claim_one_at_a_time(store(), 8, kT0 + 2 * kSecond);
  const std::vector<std::string> expected = {small, big, small, big, small, big, big, big};
  EXPECT_EQ(order, expected);
  EXPECT_EQ(store().get_request(small)->status, RequestStatus::processing);
}

TEST_P(StoreConformance, TenantsTakeTurnsWhateverTheirNumberOfRequests) {
  // Tenant A uploads two requests, tenant B one: B still gets every other task.
  NewRequest a1 = make_request(6, 1, kT0);
  a1.owner_key = "key_a";
  NewRequest a2 = make_request(6, 1, kT0 + 1);
  a2.owner_key = "key_a";
  NewRequest b = make_request(6, 1, kT0 + 2);
  b.owner_key = "key_b";
  for (const auto* request : {&a1, &a2, &b}) create(store(), *request);

  const auto order = claim_one_at_a_time(store(), 8, kT0 + kSecond);
  const std::vector<std::string> expected = {a1.id, b.id, a2.id, b.id, a1.id, b.id, a2.id, b.id};
  EXPECT_EQ(order, expected);

  // A claim of several tasks shares them the same way.
  const auto batch = store().claim_tasks("w", 4, kT0 + kSecond, kLease);
  std::map<std::string, int> per_request;
  for (const auto& task : batch) ++per_request[task.request_id];
  EXPECT_EQ(per_request[b.id], 2);
  EXPECT_EQ(per_request[a1.id], 1);
  EXPECT_EQ(per_request[a2.id], 1);
}

TEST_P(StoreConformance, ATenantsRequestsInFlightStillCountAsItsTurns) {
  // Tenant A uploads its images as one-image requests, tenant B as one request. Each of A's
  // requests has nothing left to claim once its image is in flight, yet A was served by
  // it: B still gets every other task, not the leftovers of A's whole backlog.
  std::vector<NewRequest> a;
  for (int k = 0; k < 3; ++k) {
    a.push_back(make_request(1, 1, kT0 + k));
    a.back().owner_key = "key_a";
    create(store(), a.back());
  }
  NewRequest b = make_request(3, 1, kT0 + 3);
  b.owner_key = "key_b";
  create(store(), b);

  const auto order = claim_one_at_a_time(store(), 6, kT0 + kSecond);
  const std::vector<std::string> expected = {a[0].id, b.id, a[1].id, b.id, a[2].id, b.id};
  EXPECT_EQ(order, expected);
}

TEST_P(StoreConformance, ATurnIsNeverOlderThanOneGivenBefore) {
  // `solo` is served last of all and then has its one task in flight; `first` and
  // `second` take turns meanwhile. When solo's task comes back for a retry, the two others
  // were served after it and go later: last_turn only goes up, in flight or not.
  const std::string first = create(store(), make_request(4, 1, kT0));
  const std::string second = create(store(), make_request(4, 1, kT0 + 1));
  ASSERT_EQ(claim_one_at_a_time(store(), 2, kT0), (std::vector<std::string>{first, second}));
  const std::string solo = create(store(), make_request(1, 1, kT0 + 2));
  const auto solo_task = store().claim_tasks("w", 1, kT0, kLease);
  ASSERT_EQ(solo_task.size(), 1u);
  ASSERT_EQ(solo_task[0].request_id, solo);
  ASSERT_EQ(claim_one_at_a_time(store(), 2, kT0), (std::vector<std::string>{first, second}));
  store().finish_tasks({retry(solo_task[0], "download failed: HTTP 503", kT0)}, kT0 + 1);
  const auto order = claim_one_at_a_time(store(), 3, kT0 + kSecond);
  const std::vector<std::string> expected = {solo, first, second};
  EXPECT_EQ(order, expected);
}

TEST_P(StoreConformance, ARequestWaitingForARetryLeavesItsTurnToOthers) {
  const std::string first = create(store(), make_request(2, 1, kT0));
  const std::string second = create(store(), make_request(2, 1, kT0 + 1));
  const auto tasks = store().claim_tasks("w", 1, kT0, kLease);
  ASSERT_EQ(tasks.size(), 1u);
  ASSERT_EQ(tasks[0].request_id, first);
  // The task waits 10 s for its retry; the first request's other task and the second
  // request's both go ahead.
  store().finish_tasks({retry(tasks[0], "download failed: HTTP 503", kT0 + 10 * kSecond)},
                       kT0 + kSecond);
  const auto order = claim_one_at_a_time(store(), 5, kT0 + 2 * kSecond);
  const std::vector<std::string> expected = {second, first, second};
  EXPECT_EQ(order, expected);
}

TEST_P(StoreConformance, ClaimMarksRequestsProcessing) {
  const std::string claimed = create(store(), make_request(1, 1, kT0));
  const std::string waiting = create(store(), make_request(1, 1, kT0));
  ASSERT_EQ(store().claim_tasks("w", 1, kT0 + 7 * kSecond, kLease).size(), 1u);

  const auto record = store().get_request(claimed);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->status, RequestStatus::processing);
  EXPECT_EQ(record->updated_at, kT0 + 7 * kSecond);
  EXPECT_EQ(store().get_request(waiting)->status, RequestStatus::pending);
  EXPECT_EQ(image_at(store(), claimed, 0, 0).state, TaskState::running);
  EXPECT_EQ(image_at(store(), claimed, 0, 0).attempts, 1);
}

TEST_P(StoreConformance, RetriedTaskWaitsForItsTimeAndCountsTheAttempt) {
  const std::string id = create(store(), make_request(1, 2));
  const auto tasks = store().claim_tasks("w", 2, kT0, kLease);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_TRUE(store()
                  .finish_tasks({retry(tasks[0], "download failed: HTTP 503", kT0 + 10 * kSecond),
                                 succeeded(tasks[1])},
                                kT0 + kSecond)
                  .empty());

  const auto waiting = image_at(store(), id, 0, 0);
  EXPECT_EQ(waiting.state, TaskState::pending);
  EXPECT_EQ(waiting.error, "download failed: HTTP 503");
  EXPECT_EQ(waiting.attempts, 1);
  EXPECT_EQ(store().queue_depth().pending, 1);
  EXPECT_EQ(store().get_request(id)->progress.remaining(), 1);

  EXPECT_TRUE(store().claim_tasks("w", 5, kT0 + 10 * kSecond - 1, kLease).empty());
  const auto again = store().claim_tasks("w", 5, kT0 + 10 * kSecond, kLease);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task_id, tasks[0].task_id);
  EXPECT_EQ(again[0].attempt, 2);
}

TEST_P(StoreConformance, NothingIsClaimedForZeroMax) {
  create(store(), make_request(1, 1));
  EXPECT_TRUE(store().claim_tasks("w", 0, kT0, kLease).empty());
  EXPECT_EQ(store().queue_depth().pending, 1);
}

TEST_P(StoreConformance, OnlyTheOwnerRenewsALease) {
  create(store(), make_request(1, 3));
  const auto tasks = store().claim_tasks("owner-a", 2, kT0, kLease);
  ASSERT_EQ(tasks.size(), 2u);
  const auto ids = ids_of(tasks);

  EXPECT_EQ(store().renew_leases("owner-b", ids, kT0 + 100 * kSecond), 0);
  EXPECT_EQ(store().renew_leases("owner-a", ids, kT0 + 100 * kSecond), 2);
  // The renewal holds past the first lease's end…
  EXPECT_EQ(store().release_expired_leases(kT0 + kLease + 1), 0);
  // …and ends when it says.
  EXPECT_EQ(store().release_expired_leases(kT0 + 100 * kSecond + 1), 2);
  // A released lease is no longer held, so it cannot be renewed.
  EXPECT_EQ(store().renew_leases("owner-a", ids, kT0 + 200 * kSecond), 0);
}

TEST_P(StoreConformance, RenewingAnEndedTaskDoesNothing) {
  create(store(), make_request(1, 1));
  const auto tasks = store().claim_tasks("owner-a", 1, kT0, kLease);
  ASSERT_EQ(tasks.size(), 1u);
  store().finish_tasks({succeeded(tasks[0])}, kT0 + 1);
  EXPECT_EQ(store().renew_leases("owner-a", ids_of(tasks), kT0 + 100 * kSecond), 0);
  EXPECT_EQ(store().queue_depth().running, 0);
}

TEST_P(StoreConformance, ExpiredLeaseIsReleasedAndClaimedAgain) {
  const std::string id = create(store(), make_request(1, 3));
  const auto tasks = store().claim_tasks("crashed", 3, kT0, 1000);
  ASSERT_EQ(tasks.size(), 3u);

  EXPECT_EQ(store().release_expired_leases(kT0 + 1000), 0);  // ends at kT0 + 1000, not before
  EXPECT_TRUE(store().claim_tasks("rescuer", 3, kT0 + 1000, kLease).empty());
  EXPECT_EQ(store().release_expired_leases(kT0 + 1001), 3);
  EXPECT_EQ(store().queue_depth().pending, 3);
  EXPECT_EQ(store().queue_depth().running, 0);
  // Attempts are not given back: a task that kills its worker still runs out of them.
  EXPECT_EQ(image_at(store(), id, 0, 0).attempts, 1);

  const auto again = store().claim_tasks("rescuer", 10, kT0 + 2000, kLease);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(ids_of(again), ids_of(tasks));
  for (const auto& t : again) EXPECT_EQ(t.attempt, 2);
  // The new holder owns the lease now; the old one does not.
  EXPECT_EQ(store().renew_leases("crashed", ids_of(again), kT0 + kHour), 0);
  EXPECT_EQ(store().renew_leases("rescuer", ids_of(again), kT0 + kHour), 3);
}

TEST_P(StoreConformance, ReleasingAnOwnersLeasesLeavesOthersAlone) {
  create(store(), make_request(1, 5));
  const auto a = store().claim_tasks("owner-a", 2, kT0, kLease);
  const auto b = store().claim_tasks("owner-b", 2, kT0, kLease);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);

  EXPECT_EQ(store().release_leases("owner-a"), 2);
  EXPECT_EQ(store().release_leases("owner-a"), 0);
  EXPECT_EQ(store().queue_depth().pending, 3);
  EXPECT_EQ(store().queue_depth().running, 2);
  EXPECT_EQ(store().renew_leases("owner-b", ids_of(b), kT0 + kHour), 2);

  const auto c = store().claim_tasks("owner-c", 10, kT0 + 1, kLease);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].task_id, a[0].task_id);
  EXPECT_EQ(c[1].task_id, a[1].task_id);
  EXPECT_EQ(c[0].attempt, 2);
  EXPECT_EQ(c[2].attempt, 1);
}

TEST_P(StoreConformance, LeaseOwnersAreTheOwnersOfRunningTasksEachOnce) {
  EXPECT_TRUE(store().lease_owners().empty());
  create(store(), make_request(1, 6));
  const auto a = store().claim_tasks("owner-a", 2, kT0, kLease);
  const auto b = store().claim_tasks("owner-b", 1, kT0, kLease);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 1u);
  auto owners = store().lease_owners();
  std::sort(owners.begin(), owners.end());
  EXPECT_EQ(owners, (std::vector<std::string>{"owner-a", "owner-b"}));

  // An ended task, or a released one, has no owner any more.
  ASSERT_EQ(store().finish_tasks({succeeded(b[0])}, kT0 + 1).size(), 0u);
  EXPECT_EQ(store().lease_owners(), std::vector<std::string>{"owner-a"});
  EXPECT_EQ(store().release_leases("owner-a"), 2);
  EXPECT_TRUE(store().lease_owners().empty());
}

TEST_P(StoreConformance, AnOwnerPresentOrGoneWithAGoodbyeIsNotDeparted) {
  create(store(), make_request(1, 3));
  ASSERT_EQ(store().claim_tasks("owner-a", 3, kT0, kLease).size(), 3u);
  EXPECT_EQ(store().release_departed_owners("checker", kT0), 0) << "nobody announced";
  {
    const auto presence = store().announce_process("owner-a");
    ASSERT_NE(presence, nullptr);
    EXPECT_TRUE(presence->present());
    EXPECT_EQ(store().release_departed_owners("checker", kT0 + 1), 0);
    EXPECT_EQ(store().queue_depth().running, 3);
  }
  // A goodbye is not a death: the owner left on purpose (and released its leases itself
  // first, in the pipeline); nothing here takes them.
  EXPECT_EQ(store().release_departed_owners("checker", kT0 + 2), 0);
  EXPECT_EQ(store().queue_depth().running, 3);
}

// Leaving without a goodbye is what the kernel (SQLite's lock file) or the server (the
// PostgreSQL session) sees of a process killed with kill -9.
TEST_P(StoreConformance, AnOwnerGoneWithoutAGoodbyeIsDepartedAndForgotten) {
  create(store(), make_request(1, 5));
  ASSERT_EQ(store().claim_tasks("owner-a", 2, kT0, kLease).size(), 2u);
  ASSERT_EQ(store().claim_tasks("owner-b", 3, kT0, kLease).size(), 3u);
  const auto alive = store().announce_process("owner-a");
  auto doomed = store().announce_process("owner-b");
  // Its own presence never makes an owner judge itself departed.
  EXPECT_EQ(store().release_departed_owners("owner-b", kT0 + 1), 0);
  doomed->leave_without_goodbye();
  doomed.reset();

  int released = 0;
  for (int i = 0; i < 500 && released == 0; ++i) {  // PostgreSQL ends the session a moment later
    released = store().release_departed_owners("checker", kT0 + 2);
    if (released == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(released, 3) << "the departed owner's leases, and only those";
  EXPECT_EQ(store().lease_owners(), std::vector<std::string>{"owner-a"});
  EXPECT_EQ(store().release_departed_owners("checker", kT0 + 3), 0) << "forgotten: once only";
  const auto again = store().claim_tasks("rescuer", 10, kT0 + 4, kLease);
  ASSERT_EQ(again.size(), 3u);
  for (const auto& task : again) EXPECT_EQ(task.attempt, 2);
}

// ---- finishing -------------------------------------------------------------------------

TEST_P(StoreConformance, SucceededTaskKeepsItsOutputAndSizes) {
  const std::string id = create(store(), make_request(1, 2));
  const auto tasks = store().claim_tasks("w", 2, kT0, kLease);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_TRUE(store().finish_tasks({succeeded(tasks[0], 5000, 1200)}, kT0 + kSecond).empty());

  const auto image = image_at(store(), id, 0, 0);
  EXPECT_EQ(image.state, TaskState::done);
  EXPECT_EQ(image.output_name, "0-0.jpg");
  EXPECT_EQ(image.bytes_in, 5000);
  EXPECT_EQ(image.bytes_out, 1200);
  EXPECT_EQ(image.attempts, 1);
  const auto record = store().get_request(id);
  EXPECT_EQ(record->progress.succeeded, 1);
  EXPECT_EQ(record->progress.failed, 0);
  EXPECT_EQ(record->status, RequestStatus::processing);
  EXPECT_EQ(record->updated_at, kT0 + kSecond);
  EXPECT_EQ(store().queue_depth().running, 1);
}

TEST_P(StoreConformance, FailedTaskKeepsItsError) {
  const std::string id = create(store(), make_request(1, 2));
  const auto tasks = store().claim_tasks("w", 2, kT0, kLease);
  ASSERT_EQ(tasks.size(), 2u);
  store().finish_tasks({failed(tasks[1], "download failed: HTTP 404")}, kT0 + kSecond);

  const auto image = image_at(store(), id, 0, 1);
  EXPECT_EQ(image.state, TaskState::failed);
  EXPECT_EQ(image.error, "download failed: HTTP 404");
  EXPECT_FALSE(image.output_name.has_value());
  EXPECT_EQ(store().get_request(id)->progress.failed, 1);
  EXPECT_EQ(store().get_request(id)->progress.succeeded, 0);
}

TEST_P(StoreConformance, LastTaskCompletesTheRequestExactlyOnce) {
  const std::string id = create(store(), make_request(1, 2));
  const auto tasks = store().claim_tasks("w", 2, kT0, kLease);
  ASSERT_EQ(tasks.size(), 2u);

  EXPECT_TRUE(store().finish_tasks({succeeded(tasks[0])}, kT0 + 1).empty());
  EXPECT_EQ(store().finish_tasks({failed(tasks[1], "not an image")}, kT0 + 2),
            std::vector<std::string>{id});
  auto record = store().get_request(id);
  EXPECT_EQ(record->status, RequestStatus::completed);
  EXPECT_EQ(record->updated_at, kT0 + 2);
  EXPECT_EQ(record->progress.succeeded, 1);
  EXPECT_EQ(record->progress.failed, 1);
  EXPECT_EQ(record->progress.remaining(), 0);

  // Every outcome again, in every kind: nothing changes and nothing completes twice.
  EXPECT_TRUE(store()
                  .finish_tasks({succeeded(tasks[0]), succeeded(tasks[1]), failed(tasks[0], "late"),
                                 retry(tasks[1], "late", kT0)},
                                kT0 + 3)
                  .empty());
  record = store().get_request(id);
  EXPECT_EQ(record->progress.succeeded, 1);
  EXPECT_EQ(record->progress.failed, 1);
  EXPECT_EQ(record->updated_at, kT0 + 2);
  EXPECT_EQ(image_at(store(), id, 0, 1).state, TaskState::failed);
  EXPECT_EQ(image_at(store(), id, 0, 1).error, "not an image");
  EXPECT_EQ(store().queue_depth().pending, 0);
}

TEST_P(StoreConformance, DuplicateOutcomeInOneCallCountsOnce) {
  const std::string id = create(store(), make_request(1, 2));
  const auto tasks = store().claim_tasks("w", 2, kT0, kLease);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_TRUE(store().finish_tasks({succeeded(tasks[0]), succeeded(tasks[0])}, kT0 + 1).empty());
  EXPECT_EQ(store().get_request(id)->progress.succeeded, 1);
  EXPECT_EQ(store().get_request(id)->status, RequestStatus::processing);
  EXPECT_EQ(store().finish_tasks({succeeded(tasks[1])}, kT0 + 2), std::vector<std::string>{id});
}

TEST_P(StoreConformance, LateOutcomeOfARedoneTaskIsIgnored) {
  const std::string id = create(store(), make_request(1, 1));
  const auto slow = store().claim_tasks("slow", 1, kT0, 1000);
  ASSERT_EQ(slow.size(), 1u);
  EXPECT_EQ(store().release_expired_leases(kT0 + 2000), 1);
  const auto fast = store().claim_tasks("fast", 1, kT0 + 2000, kLease);
  ASSERT_EQ(fast.size(), 1u);
  EXPECT_EQ(store().finish_tasks({succeeded(fast[0])}, kT0 + 3000), std::vector<std::string>{id});

  EXPECT_TRUE(store().finish_tasks({failed(slow[0], "timed out")}, kT0 + 4000).empty());
  const auto record = store().get_request(id);
  EXPECT_EQ(record->progress.succeeded, 1);
  EXPECT_EQ(record->progress.failed, 0);
  EXPECT_EQ(image_at(store(), id, 0, 0).state, TaskState::done);
}

TEST_P(StoreConformance, LateRetryFromAWorkerThatLostItsLeaseChangesNothing) {
  const std::string id = create(store(), make_request(1, 1));
  const auto slow = store().claim_tasks("slow", 1, kT0, 1000);
  ASSERT_EQ(slow.size(), 1u);
  EXPECT_EQ(store().release_expired_leases(kT0 + 2000), 1);
  const auto fast = store().claim_tasks("fast", 1, kT0 + 2000, kLease);
  ASSERT_EQ(fast.size(), 1u);

  // The first worker's retry must not take the task from the one now running it.
  EXPECT_TRUE(
      store().finish_tasks({retry(slow[0], "timed out", kT0 + 9000, "slow")}, kT0 + 3000).empty());
  EXPECT_EQ(image_at(store(), id, 0, 0).state, TaskState::running);
  EXPECT_EQ(store().queue_depth().running, 1);
  EXPECT_TRUE(store().claim_tasks("third", 1, kT0 + 10'000, kLease).empty());
  EXPECT_EQ(store().finish_tasks({succeeded(fast[0])}, kT0 + 4000), std::vector<std::string>{id});
}

TEST_P(StoreConformance, OutcomeAfterTheLeaseExpiredStillCountsIfTheTaskIsOpen) {
  const std::string id = create(store(), make_request(1, 1));
  const auto tasks = store().claim_tasks("slow", 1, kT0, 1000);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(store().release_expired_leases(kT0 + 2000), 1);
  EXPECT_EQ(store().finish_tasks({succeeded(tasks[0])}, kT0 + 3000), std::vector<std::string>{id});
  EXPECT_EQ(image_at(store(), id, 0, 0).state, TaskState::done);
  EXPECT_TRUE(store().claim_tasks("other", 1, kT0 + 4000, kLease).empty());
}

TEST_P(StoreConformance, ConcurrentFinishersCompleteTheRequestOnce) {
  const std::string id = create(store(), make_request(50, 4));
  const auto tasks = store().claim_tasks("w", 1000, kT0, kLease);
  ASSERT_EQ(tasks.size(), 200u);
  auto second = harness().open();  // another process on the same database
  std::atomic<int> completions{0};
  std::atomic<int> errors{0};
  auto finish_half = [&](Store& s, std::size_t parity) {
    try {
      for (std::size_t k = parity; k < tasks.size(); k += 2)
        completions += static_cast<int>(s.finish_tasks({succeeded(tasks[k])}, kT0 + 1).size());
    } catch (const std::exception&) {
      ++errors;
    }
  };
  std::thread a(finish_half, std::ref(store()), 0);
  std::thread b(finish_half, std::ref(*second), 1);
  a.join();
  b.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(completions.load(), 1);
  const auto record = store().get_request(id);
  EXPECT_EQ(record->status, RequestStatus::completed);
  EXPECT_EQ(record->progress.succeeded, 200);
}

// ---- webhook deliveries ----------------------------------------------------------------

TEST_P(StoreConformance, DeliveryIsQueuedAtCompletionOnlyWithAWebhookUrl) {
  const std::string with = completed_with_webhook(store(), kT0 + 7, "https://hooks.example.com/a");
  const std::string without = create(store(), make_request(1, 1));
  const auto tasks = store().claim_tasks("w", 1, kT0, kLease);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(store().finish_tasks({succeeded(tasks[0])}, kT0 + 8),
            std::vector<std::string>{without});
  EXPECT_TRUE(harness().deliveries(without).empty());

  const auto deliveries = harness().deliveries(with);
  ASSERT_EQ(deliveries.size(), 1u);
  const auto& d = deliveries[0];
  EXPECT_GT(d.id, 0);
  EXPECT_EQ(d.webhook_id.rfind("msg_", 0), 0u) << d.webhook_id;
  EXPECT_TRUE(core::is_uuid(d.webhook_id.substr(4))) << d.webhook_id;
  EXPECT_EQ(d.request_id, with);
  EXPECT_EQ(d.url, "https://hooks.example.com/a");
  EXPECT_EQ(d.attempts, 0);
  EXPECT_EQ(d.next_attempt_at, kT0 + 7);
  EXPECT_EQ(d.created_at, kT0 + 7);
  EXPECT_FALSE(d.delivered_at.has_value());
  EXPECT_FALSE(d.last_status.has_value());
  EXPECT_FALSE(d.last_error.has_value());

  const auto claimed = store().claim_deliveries(kT0 + 10, 10, kLease);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].webhook_id, d.webhook_id);
}

TEST_P(StoreConformance, DeliveryIsLeasedRetriedAndDeliveredOnce) {
  const std::string id = completed_with_webhook(store(), kT0, "https://hooks.example.com/a");
  EXPECT_TRUE(store().claim_deliveries(kT0 - 1, 10, 1000).empty());  // not due yet

  const auto first = store().claim_deliveries(kT0, 10, 1000);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempts, 0);
  EXPECT_TRUE(store().claim_deliveries(kT0 + 500, 10, 1000).empty());  // leased
  // The dispatcher died without recording anything: the lease runs out.
  const auto second = store().claim_deliveries(kT0 + 1001, 10, 1000);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].webhook_id, first[0].webhook_id);

  store().record_delivery_attempt({second[0].id, false, 500, "HTTP 500", kT0 + 5000}, kT0 + 1100);
  auto d = harness().deliveries(id).at(0);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_status, 500);
  EXPECT_EQ(d.last_error, "HTTP 500");
  EXPECT_EQ(d.next_attempt_at, kT0 + 5000);
  EXPECT_FALSE(d.delivered_at.has_value());

  EXPECT_TRUE(store().claim_deliveries(kT0 + 4999, 10, 1000).empty());
  const auto third = store().claim_deliveries(kT0 + 5000, 10, 1000);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].attempts, 1);
  store().record_delivery_attempt({third[0].id, true, 204, std::nullopt, std::nullopt}, kT0 + 5100);
  d = harness().deliveries(id).at(0);
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(d.delivered_at, kT0 + 5100);
  EXPECT_EQ(d.last_status, 204);
  EXPECT_TRUE(store().claim_deliveries(kT0 + kHour, 10, 1000).empty());

  // A dispatcher whose lease had run out reports a failure afterwards: too late to matter.
  store().record_delivery_attempt({third[0].id, false, std::nullopt, "timeout", kT0 + 9000},
                                  kT0 + 6000);
  d = harness().deliveries(id).at(0);
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(d.delivered_at, kT0 + 5100);
  EXPECT_TRUE(store().claim_deliveries(kT0 + kHour, 10, 1000).empty());
}

TEST_P(StoreConformance, GivenUpDeliveryIsNeverClaimedAgain) {
  const std::string id = completed_with_webhook(store(), kT0, "https://hooks.example.com/a");
  const auto claimed = store().claim_deliveries(kT0, 10, 1000);
  ASSERT_EQ(claimed.size(), 1u);
  store().record_delivery_attempt(
      {claimed[0].id, false, std::nullopt, "connection refused", std::nullopt}, kT0 + 100);
  const auto d = harness().deliveries(id).at(0);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_error, "connection refused");
  EXPECT_FALSE(d.last_status.has_value());
  EXPECT_FALSE(d.delivered_at.has_value());
  EXPECT_TRUE(store().claim_deliveries(kT0 + 24 * kHour, 10, 1000).empty());
}

TEST_P(StoreConformance, DeliveriesAreClaimedEarliestFirstUpToMax) {
  const std::string early = completed_with_webhook(store(), kT0, "https://hooks.example.com/1");
  const std::string late = completed_with_webhook(store(), kT0 + 10, "https://hooks.example.com/2");
  const auto one = store().claim_deliveries(kT0 + 20, 1, 1000);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].request_id, early);
  const auto next = store().claim_deliveries(kT0 + 20, 5, 1000);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].request_id, late);
}

// ---- waking the workers ----------------------------------------------------------------

// A watch on a store hears of the work that store makes claimable (PostgreSQL: through
// LISTEN/NOTIFY; SQLite: in-process), and stops once destroyed.
TEST_P(StoreConformance, WatchIsWokenByWorkThisStoreMakesClaimable) {
  WakeCounter wakes;
  auto watch = store().watch_new_work(wakes.callback());
  ASSERT_NE(watch, nullptr);

  create(store(), make_request(1, 2));
  ASSERT_TRUE(wakes.wait_above(0)) << "no wake-up for a new request";

  int seen = wakes.count();
  const auto tasks = store().claim_tasks("w", 2, kT0, kLease);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(store().release_expired_leases(kT0 + kLease + 1), 2);
  EXPECT_TRUE(wakes.wait_above(seen)) << "no wake-up for expired leases";

  seen = wakes.count();
  ASSERT_EQ(store().claim_tasks("w", 2, kT0 + kLease + 2, kLease).size(), 2u);
  EXPECT_EQ(store().release_leases("w"), 2);
  EXPECT_TRUE(wakes.wait_above(seen)) << "no wake-up for released leases";

  seen = wakes.count();
  const auto again = store().claim_tasks("w", 1, kT0 + 2 * kLease, kLease);
  ASSERT_EQ(again.size(), 1u);
  TaskOutcome retry;
  retry.task_id = again[0].task_id;
  retry.request_id = again[0].request_id;
  retry.kind = TaskOutcome::Kind::retry;
  retry.retry_at = kT0 + 3 * kLease;
  retry.owner = "w";
  store().finish_tasks({retry}, kT0 + 2 * kLease + 1);
  EXPECT_TRUE(wakes.wait_above(seen)) << "no wake-up for a scheduled retry";

  const auto stopping = std::chrono::steady_clock::now();
  watch.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(5));
  const int after_stop = wakes.count();
  create(store(), make_request(1, 1));
  EXPECT_FALSE(wakes.wait_above(after_stop, std::chrono::seconds(1)))
      << "a destroyed watch was called";
}

// ---- health and scale ------------------------------------------------------------------

TEST_P(StoreConformance, PingsAndCountsTheQueue) {
  EXPECT_TRUE(store().ping());
  EXPECT_EQ(store().queue_depth().pending, 0);
  create(store(), make_request(2, 3));
  ASSERT_EQ(store().claim_tasks("w", 2, kT0, kLease).size(), 2u);
  EXPECT_EQ(store().queue_depth().pending, 4);
  EXPECT_EQ(store().queue_depth().running, 2);
}

TEST_P(StoreConformance, ConcurrentClaimersNeverShareATaskAndTakeThemAll) {
  const std::string id = create(store(), make_request(250, 4));
  auto second = harness().open();  // threads 2 and 3 act as another process
  std::vector<std::vector<ClaimedTask>> claimed(4);
  std::atomic<int> errors{0};
  std::atomic<bool> claiming{true};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    Store* s = t < 2 ? &store() : second.get();
    threads.emplace_back([&, t, s] {
      try {
        const std::string owner = "owner-" + std::to_string(t);
        while (true) {
          auto batch = s->claim_tasks(owner, 7, kT0, kLease);
          if (batch.empty()) break;
          for (auto& task : batch) claimed[static_cast<std::size_t>(t)].push_back(task);
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++errors;
      }
    });
  }
  // Reads go on while the claimers write, as the HTTP threads do.
  int reads = 0;
  std::thread reader([&] {
    try {
      while (claiming) {
        EXPECT_TRUE(store().get_request(id).has_value());
        EXPECT_EQ(store().get_products(id, 100, 10).size(), 10u);
        store().queue_depth();
        ++reads;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
      ++errors;
    }
  });
  for (auto& t : threads) t.join();
  claiming = false;
  reader.join();

  EXPECT_EQ(errors.load(), 0);
  std::set<std::int64_t> unique;
  std::size_t total = 0;
  for (const auto& list : claimed) {
    total += list.size();
    for (const auto& task : list) {
      unique.insert(task.task_id);
      EXPECT_EQ(task.attempt, 1);
    }
  }
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(unique.size(), 1000u);
  EXPECT_EQ(store().queue_depth().running, 1000);
  EXPECT_GT(reads, 0);
}

// Claimers in separate processes, each with its own Store, as several imgbatch workers
// sharing one database are.
TEST_P(StoreConformance, ClaimersInSeveralProcessesNeverShareATask) {
  create(store(), make_request(100, 4));
  close_store();  // no thread of ours may be running across fork()
  constexpr int kProcesses = 3;
  std::vector<pid_t> children;
  std::vector<int> readers;
  for (int p = 0; p < kProcesses; ++p) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // The child: claims until nothing is left and writes the task ids to the pipe. It
      // leaves with _exit: exit() would run the parent's destructors here too.
      close(fds[0]);
      int code = 0;
      try {
        auto own = harness().open();
        const std::string owner = "process-" + std::to_string(p);
        while (code == 0) {
          const auto batch = own->claim_tasks(owner, 5, kT0, kLease);
          if (batch.empty()) break;
          for (const auto& task : batch)
            if (write(fds[1], &task.task_id, sizeof task.task_id) != sizeof task.task_id) code = 2;
        }
      } catch (...) {
        code = 1;
      }
      _exit(code);
    }
    close(fds[1]);
    children.push_back(pid);
    readers.push_back(fds[0]);
  }
  std::vector<std::int64_t> ids;
  for (int fd : readers) {
    std::int64_t id = 0;
    while (read(fd, &id, sizeof id) == sizeof id) ids.push_back(id);
    close(fd);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "claimer exit status " << status;
  }
  reopen_store();
  EXPECT_EQ(ids.size(), 400u);
  EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()).size(), 400u);
  EXPECT_EQ(store().queue_depth().running, 400);
  EXPECT_EQ(store().queue_depth().pending, 0);
}

TEST_P(StoreConformance, StoresALargeRequest) {
  const NewRequest request = make_request(10'000, 3);
  const auto start = std::chrono::steady_clock::now();
  create(store(), request);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  RecordProperty(
      "create_10000x3_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));

  const auto record = store().get_request(request.id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->products_total, 10'000);
  EXPECT_EQ(record->progress.total, 30'000);
  const auto tail = store().get_products(request.id, 9'990, 100);
  ASSERT_EQ(tail.size(), 10u);
  EXPECT_EQ(tail.back().index, 9'999);
  ASSERT_EQ(tail.back().images.size(), 3u);
  EXPECT_EQ(tail.back().images[2].source_url, url_of(9'999, 2));
  EXPECT_EQ(store().queue_depth().pending, 30'000);
}

}  // namespace imgbatch::store::testing

// ---- deleting requests -----------------------------------------------------------------

namespace imgbatch::store::testing {
namespace {

// A request of `images` images, all claimed and ended: the first `failures` failed, the
// rest succeeded (outputs "P-I.jpg").
std::string ended_request(Store& store, int images, int failures, TimeMs now) {
  const std::string id = create(store, make_request(1, images));
  const auto tasks = store.claim_tasks("w", images, now, kLease);
  EXPECT_EQ(tasks.size(), static_cast<std::size_t>(images));
  std::vector<TaskOutcome> outcomes;
  for (std::size_t i = 0; i < tasks.size(); ++i)
    outcomes.push_back(static_cast<int>(i) < failures ? failed(tasks[i], "HTTP 404")
                                                      : succeeded(tasks[i]));
  EXPECT_EQ(store.finish_tasks(outcomes, now), std::vector<std::string>{id});
  return id;
}

// Runs purge steps until there is nothing left to do; returns how many it took.
int purge_all(Store& store, std::optional<TimeMs> ended_before, TimeMs now, int chunk = 500) {
  for (int steps = 1; steps <= 1000; ++steps) {
    const Store::PurgeStep step = store.purge_step(ended_before, now, chunk);
    EXPECT_FALSE(step.busy) << "no other process runs steps here";
    if (!step.more) return steps;
  }
  ADD_FAILURE() << "purge_step still had more after 1000 steps";
  return 1000;
}

}  // namespace

TEST_P(StoreConformance, DeletingAnEndedRequestRemovesItsRowsAndQueuesItsImages) {
  const std::string with_hook = completed_with_webhook(store(), kT0, "https://hooks.example/x");
  const std::string mixed = ended_request(store(), 3, 1, kT0 + kSecond);
  const std::string running = create(store(), make_request(1, 2));
  ASSERT_EQ(store().claim_tasks("w", 1, kT0 + 2 * kSecond, kLease).size(), 1u);
  const std::string pending = create(store(), make_request(1, 1));

  // Only an ended request goes; the others are untouched.
  EXPECT_EQ(store().delete_request(running), Store::DeleteOutcome::not_ended);
  EXPECT_EQ(store().delete_request(pending), Store::DeleteOutcome::not_ended);
  EXPECT_EQ(store().delete_request(core::new_uuid()), Store::DeleteOutcome::not_found);
  EXPECT_TRUE(store().pending_blob_deletions(10).empty());

  // Gone for readers at once; its rows go with the purge, which queues its images.
  ASSERT_EQ(store().delete_request(with_hook), Store::DeleteOutcome::deleted);
  EXPECT_FALSE(store().get_request(with_hook).has_value());
  EXPECT_TRUE(store().get_products(with_hook, 0, 10).empty());
  EXPECT_TRUE(harness().deliveries(with_hook).empty());
  EXPECT_EQ(store().delete_request(with_hook), Store::DeleteOutcome::not_found);
  EXPECT_EQ(harness().rows_of(with_hook), 3) << "request, product, task: not purged yet";
  EXPECT_TRUE(store().pending_blob_deletions(10).empty());
  purge_all(store(), std::nullopt, kT0 + 3 * kSecond);
  EXPECT_EQ(harness().rows_of(with_hook), 0);
  EXPECT_EQ(store().pending_blob_deletions(10), std::vector<std::string>{with_hook + "/0-0.jpg"});

  // The failed image has no output to remove; the others are queued in task order.
  ASSERT_EQ(store().delete_request(mixed), Store::DeleteOutcome::deleted);
  purge_all(store(), std::nullopt, kT0 + 3 * kSecond);
  EXPECT_EQ(harness().rows_of(mixed), 0);
  EXPECT_GT(harness().rows_of(running), 0);
  const std::vector<std::string> queued = {with_hook + "/0-0.jpg", mixed + "/0-1.jpg",
                                           mixed + "/0-2.jpg"};
  EXPECT_EQ(store().pending_blob_deletions(10), queued);
  EXPECT_EQ(harness().open()->pending_blob_deletions(10), queued) << "one queue for all";
  EXPECT_EQ(store().pending_blob_deletions(2),
            std::vector<std::string>(queued.begin(), queued.begin() + 2));

  std::vector<std::string> listed;
  for (const auto& r : store().list_requests(10, 0)) listed.push_back(r.id);
  std::sort(listed.begin(), listed.end());
  std::vector<std::string> remaining = {pending, running};
  std::sort(remaining.begin(), remaining.end());
  EXPECT_EQ(listed, remaining);
  EXPECT_EQ(store().get_request(running)->status, core::RequestStatus::processing);
  EXPECT_EQ(store().get_products(pending, 0, 10).size(), 1u);

  // Forgetting is by key, and forgetting what is not queued is no error.
  store().forget_blob_deletions({mixed + "/0-1.jpg", "nope/0-0.jpg"});
  store().forget_blob_deletions({});
  EXPECT_EQ(store().pending_blob_deletions(10),
            (std::vector<std::string>{with_hook + "/0-0.jpg", mixed + "/0-2.jpg"}));
}

// ---- retention ---------------------------------------------------------------------------

TEST_P(StoreConformance, RetentionDeletesRequestsThatEndedBeforeTheCutoffOnly) {
  // Ended at kT0 + 1 s, with an idempotency key and a webhook delivery.
  NewRequest old_request = make_request(2, 2);
  old_request.idempotency_key = "nightly";
  old_request.webhook_url = "https://hooks.example/old";
  const std::string old_id = create(store(), old_request);
  {
    std::vector<TaskOutcome> outcomes;
    for (const auto& task : store().claim_tasks("w", 4, kT0 + kSecond, kLease))
      outcomes.push_back(succeeded(task));
    ASSERT_EQ(store().finish_tasks(outcomes, kT0 + kSecond), std::vector<std::string>{old_id});
  }
  ASSERT_EQ(harness().deliveries(old_id).size(), 1u);
  const std::string failed_early = ended_request(store(), 2, 2, kT0 + 2 * kSecond);
  const std::string recent = ended_request(store(), 2, 0, kT0 + 20 * kSecond);
  // Created long ago but not ended: never expired, however old.
  const std::string running = create(store(), make_request(1, 2));
  ASSERT_EQ(store().claim_tasks("w", 1, kT0 + 3 * kSecond, kLease).size(), 1u);
  const std::string pending = create(store(), make_request(1, 1));
  const std::int64_t recent_rows = harness().rows_of(recent);

  // Kept for 10 s, looked at 25 s after kT0: what ended before kT0 + 15 s goes.
  const TimeMs now = kT0 + 25 * kSecond;
  const Store::PurgeStep first = store().purge_step(now - 10 * kSecond, now, 500);
  EXPECT_EQ(first.marked, 2);
  EXPECT_FALSE(first.busy);
  purge_all(store(), now - 10 * kSecond, now);

  for (const auto& id : {old_id, failed_early}) {
    EXPECT_FALSE(store().get_request(id).has_value());
    EXPECT_EQ(harness().rows_of(id), 0);
  }
  EXPECT_TRUE(harness().deliveries(old_id).empty());
  EXPECT_EQ(store().pending_blob_deletions(10),
            (std::vector<std::string>{old_id + "/0-0.jpg", old_id + "/0-1.jpg", old_id + "/1-0.jpg",
                                      old_id + "/1-1.jpg"}))
      << "the failed request had no image stored";

  EXPECT_EQ(harness().rows_of(recent), recent_rows);
  EXPECT_EQ(store().get_request(recent)->status, core::RequestStatus::completed);
  EXPECT_EQ(store().get_products(recent, 0, 10).size(), 1u);
  EXPECT_EQ(store().get_request(running)->status, core::RequestStatus::processing);
  EXPECT_EQ(store().get_request(pending)->status, core::RequestStatus::pending);
  EXPECT_EQ(store().list_requests(10, 0).size(), 3u);

  // The idempotency key went with its request: the same upload is a new request now.
  NewRequest again = make_request(2, 2, now);
  again.idempotency_key = "nightly";
  again.fingerprint = old_request.fingerprint;
  EXPECT_EQ(store().create_request(again).kind, CreateOutcome::Kind::created);

  // Without a cutoff (retention 0) nothing more is deleted, however late.
  const Store::PurgeStep kept = store().purge_step(std::nullopt, now + 1000 * kHour, 500);
  EXPECT_EQ(kept.marked, 0);
  EXPECT_EQ(kept.removed, 0);
  EXPECT_FALSE(kept.more);
  EXPECT_EQ(store().list_requests(10, 0).size(), 4u);
}

TEST_P(StoreConformance, APurgeGoesInChunksAndOneCutShortIsFinishedByAnotherProcess) {
  // 7 images of which the first 2 failed: 1 request row, 1 product, 7 tasks.
  const std::string id = ended_request(store(), 7, 2, kT0);
  const std::string other = ended_request(store(), 1, 0, kT0);
  ASSERT_EQ(store().delete_request(id), Store::DeleteOutcome::deleted);
  EXPECT_FALSE(store().get_request(id).has_value());
  for (const auto& r : store().list_requests(10, 0)) EXPECT_NE(r.id, id);

  // A chunk of 3 rows: the first 3 tasks go, with the key of the one that had an image.
  Store::PurgeStep step = store().purge_step(std::nullopt, kT0 + kSecond, 3);
  EXPECT_EQ(step.removed, 3);
  EXPECT_TRUE(step.more);
  EXPECT_EQ(harness().rows_of(id), 6);
  EXPECT_EQ(store().pending_blob_deletions(10), std::vector<std::string>{id + "/0-2.jpg"});

  // The process stops here (as if killed between two steps); the request stays invisible
  // and another process finishes the purge.
  close_store();
  auto next = harness().open();
  EXPECT_FALSE(next->get_request(id).has_value());
  EXPECT_EQ(next->delete_request(id), Store::DeleteOutcome::not_found);
  EXPECT_EQ(purge_all(*next, std::nullopt, kT0 + 2 * kSecond, 3), 2)
      << "3 tasks, then 1 task, the product and the request row";
  EXPECT_EQ(harness().rows_of(id), 0);
  EXPECT_EQ(next->pending_blob_deletions(10),
            (std::vector<std::string>{id + "/0-2.jpg", id + "/0-3.jpg", id + "/0-4.jpg",
                                      id + "/0-5.jpg", id + "/0-6.jpg"}));
  EXPECT_EQ(next->get_request(other)->status, core::RequestStatus::completed);
  EXPECT_EQ(harness().rows_of(other), 3);
}

}  // namespace imgbatch::store::testing
