// The Store conformance suite, continued: API keys and the tenant (owner key) of each
// request (docs/API.md, "Authentication").
#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.hpp"
#include "core/types.hpp"
#include "unit/store/store_conformance.hpp"

namespace imgbatch::store::testing {

namespace {

using core::CreateOutcome;
using core::NewApiKey;
using core::NewRequest;
using core::TimeMs;

constexpr TimeMs kT0 = 1'800'000'000'000;
constexpr TimeMs kSecond = 1000;

NewApiKey make_key(const std::string& name, TimeMs created_at = kT0) {
  NewApiKey key;
  key.id = "key_" + core::new_uuid();
  key.name = name;
  // Stands for a hash: unique, 64 hex characters as auth::token_hash makes them.
  const std::string uuid = core::new_uuid();
  key.token_hash = uuid + uuid;
  key.token_hash.erase(std::remove(key.token_hash.begin(), key.token_hash.end(), '-'),
                       key.token_hash.end());
  key.created_at = created_at;
  return key;
}

NewRequest owned_request(std::optional<std::string> owner, TimeMs created_at,
                         std::optional<std::string> idempotency_key = std::nullopt,
                         std::string fingerprint = "upload") {
  NewRequest r;
  r.id = core::new_uuid();
  r.columns = {"S. No.", "Product Name", "Input Image Urls"};
  core::ProductInput product;
  product.serial_number = "1";
  product.product_name = "SKU1";
  product.image_urls = {"https://img.example.com/a.jpg"};
  product.fields = {"1", "SKU1", "https://img.example.com/a.jpg"};
  r.products.push_back(product);
  r.fingerprint = std::move(fingerprint);
  r.created_at = created_at;
  r.owner_key = std::move(owner);
  r.idempotency_key = std::move(idempotency_key);
  return r;
}

std::vector<std::string> ids_of(const std::vector<core::RequestRecord>& records) {
  std::vector<std::string> ids;
  for (const auto& r : records) ids.push_back(r.id);
  return ids;
}

}  // namespace

TEST_P(StoreConformance, ApiKeyReadsBackByItsHashWithEverySetting) {
  EXPECT_FALSE(store().any_api_key());
  NewApiKey key = make_key("shop-a");
  key.admin = true;
  key.images_per_day = 50'000;
  key.uploads_per_minute = 30;
  ASSERT_TRUE(store().create_api_key(key));
  EXPECT_TRUE(store().any_api_key());

  const auto found = store().find_api_key(key.token_hash);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, key.id);
  EXPECT_EQ(found->name, "shop-a");
  EXPECT_EQ(found->token_hash, key.token_hash);
  EXPECT_TRUE(found->admin);
  EXPECT_EQ(found->images_per_day, 50'000);
  EXPECT_EQ(found->uploads_per_minute, 30);
  EXPECT_EQ(found->created_at, kT0);
  EXPECT_FALSE(found->revoked_at.has_value());

  const NewApiKey plain = make_key("shop-b", kT0 + kSecond);
  ASSERT_TRUE(store().create_api_key(plain));
  const auto plain_found = store().find_api_key(plain.token_hash);
  ASSERT_TRUE(plain_found.has_value());
  EXPECT_FALSE(plain_found->admin);
  EXPECT_FALSE(plain_found->images_per_day.has_value());
  EXPECT_FALSE(plain_found->uploads_per_minute.has_value());

  EXPECT_FALSE(store().find_api_key(make_key("unknown").token_hash).has_value());
}

TEST_P(StoreConformance, ApiKeyNameIsUniqueAmongKeysNotRevoked) {
  const NewApiKey first = make_key("shop-a");
  ASSERT_TRUE(store().create_api_key(first));
  const NewApiKey same_name = make_key("shop-a", kT0 + kSecond);
  EXPECT_FALSE(store().create_api_key(same_name));
  EXPECT_FALSE(store().find_api_key(same_name.token_hash).has_value());
  EXPECT_EQ(store().list_api_keys().size(), 1u);

  // Once revoked, the name may be used again, by a new key with a new token.
  ASSERT_TRUE(store().revoke_api_key("shop-a", kT0 + 2 * kSecond));
  const NewApiKey reused = make_key("shop-a", kT0 + 3 * kSecond);
  ASSERT_TRUE(store().create_api_key(reused));
  EXPECT_FALSE(store().find_api_key(first.token_hash).has_value());
  EXPECT_TRUE(store().find_api_key(reused.token_hash).has_value());
}

TEST_P(StoreConformance, RevokedKeyIsRefusedAtOnceByEveryStoreInstance) {
  const NewApiKey key = make_key("shop-a");
  ASSERT_TRUE(store().create_api_key(key));
  // A second instance with its own connections, as another process would have.
  const auto other = harness().open();
  ASSERT_TRUE(other->find_api_key(key.token_hash).has_value());

  EXPECT_TRUE(store().revoke_api_key("shop-a", kT0 + kSecond));
  EXPECT_FALSE(other->find_api_key(key.token_hash).has_value());
  EXPECT_FALSE(store().find_api_key(key.token_hash).has_value());
  // Revoking twice, or a name that never was, changes nothing.
  EXPECT_FALSE(other->revoke_api_key("shop-a", kT0 + 2 * kSecond));
  EXPECT_FALSE(store().revoke_api_key("nobody", kT0 + 2 * kSecond));
  // Keys were created: they stay in force although none is left.
  EXPECT_TRUE(other->any_api_key());

  const auto keys = other->list_api_keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].revoked_at, kT0 + kSecond);
}

TEST_P(StoreConformance, ListsApiKeysOldestFirstWithRevokedOnes) {
  ASSERT_TRUE(store().create_api_key(make_key("b", kT0 + kSecond)));
  ASSERT_TRUE(store().create_api_key(make_key("a", kT0)));
  ASSERT_TRUE(store().create_api_key(make_key("c", kT0 + 2 * kSecond)));
  ASSERT_TRUE(store().revoke_api_key("b", kT0 + 3 * kSecond));
  const auto keys = store().list_api_keys();
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0].name, "a");
  EXPECT_EQ(keys[1].name, "b");
  EXPECT_EQ(keys[2].name, "c");
  EXPECT_FALSE(keys[0].revoked_at.has_value());
  EXPECT_TRUE(keys[1].revoked_at.has_value());
}

TEST_P(StoreConformance, RequestKeepsItsOwnerAndListsPerOwnerNewestFirst) {
  NewRequest r_a1 = owned_request("key_a", kT0);
  NewRequest r_b = owned_request("key_b", kT0 + kSecond);
  NewRequest r_none = owned_request(std::nullopt, kT0 + 2 * kSecond);
  NewRequest r_a2 = owned_request("key_a", kT0 + 3 * kSecond);
  for (const auto* r : {&r_a1, &r_b, &r_none, &r_a2})
    ASSERT_EQ(store().create_request(*r).kind, CreateOutcome::Kind::created);

  EXPECT_EQ(store().get_request(r_a1.id)->owner_key, "key_a");
  EXPECT_EQ(store().get_request(r_b.id)->owner_key, "key_b");
  EXPECT_FALSE(store().get_request(r_none.id)->owner_key.has_value());

  EXPECT_EQ(ids_of(store().list_requests_of("key_a", 10, 0)),
            (std::vector<std::string>{r_a2.id, r_a1.id}));
  EXPECT_EQ(ids_of(store().list_requests_of("key_a", 1, 1)), (std::vector<std::string>{r_a1.id}));
  EXPECT_EQ(ids_of(store().list_requests_of("key_b", 10, 0)), (std::vector<std::string>{r_b.id}));
  EXPECT_TRUE(store().list_requests_of("key_c", 10, 0).empty());
  // Everyone's, for an admin.
  EXPECT_EQ(store().list_requests(10, 0).size(), 4u);
  EXPECT_EQ(store().list_requests(10, 0)[0].owner_key, "key_a");
}

TEST_P(StoreConformance, IdempotencyKeysAreSeparatePerOwner) {
  const NewRequest first = owned_request("key_a", kT0, "order-1", "upload-a");
  ASSERT_EQ(store().create_request(first).kind, CreateOutcome::Kind::created);

  // Another tenant using the same Idempotency-Key neither replays nor conflicts with the
  // first one's request: it learns nothing about it.
  const NewRequest other_tenant = owned_request("key_b", kT0 + kSecond, "order-1", "upload-b");
  const auto outcome = store().create_request(other_tenant);
  EXPECT_EQ(outcome.kind, CreateOutcome::Kind::created);
  EXPECT_EQ(outcome.request_id, other_tenant.id);
  const NewRequest no_tenant = owned_request(std::nullopt, kT0 + kSecond, "order-1", "upload-a");
  EXPECT_EQ(store().create_request(no_tenant).kind, CreateOutcome::Kind::created);

  // The same tenant again: replayed as before.
  const NewRequest again = owned_request("key_a", kT0 + 2 * kSecond, "order-1", "upload-a");
  const auto replay = store().create_request(again);
  EXPECT_EQ(replay.kind, CreateOutcome::Kind::replayed);
  EXPECT_EQ(replay.request_id, first.id);
  const NewRequest again_none =
      owned_request(std::nullopt, kT0 + 2 * kSecond, "order-1", "upload-a");
  EXPECT_EQ(store().create_request(again_none).request_id, no_tenant.id);
}

// Quotas and rate limits (docs/API.md): charged by create_request, per key, in the
// transaction that stores the request.

NewRequest limited_request(const std::string& key, TimeMs created_at, std::size_t images,
                           core::UploadQuota quota,
                           std::optional<std::string> idempotency_key = std::nullopt) {
  NewRequest r = owned_request(key, created_at, std::move(idempotency_key));
  r.products[0].image_urls.clear();
  for (std::size_t i = 0; i < images; ++i)
    r.products[0].image_urls.push_back("https://img.example.com/" + std::to_string(i) + ".jpg");
  r.quota = quota;
  return r;
}

constexpr TimeMs kDay = 86'400'000;
// The start of a UTC day.
constexpr TimeMs kDayStart = (kT0 / kDay + 1) * kDay;

TEST_P(StoreConformance, ImagesPerDayAreChargedUntilTheQuotaAndAgainNextDay) {
  const core::UploadQuota quota{10, std::nullopt};
  const auto first = store().create_request(limited_request("key_a", kDayStart + 10, 6, quota));
  ASSERT_EQ(first.kind, CreateOutcome::Kind::created);
  ASSERT_TRUE(first.quota);
  EXPECT_EQ(first.quota->images_left, 4);
  EXPECT_EQ(first.quota->day_ends_in, kDay - 10);

  // 5 more would pass the quota: refused, nothing stored, nothing charged.
  const NewRequest too_many = limited_request("key_a", kDayStart + 20, 5, quota);
  const auto refused = store().create_request(too_many);
  EXPECT_EQ(refused.kind, CreateOutcome::Kind::over_quota);
  ASSERT_TRUE(refused.quota);
  EXPECT_TRUE(refused.quota->images_exceeded);
  EXPECT_FALSE(refused.quota->uploads_exceeded);
  EXPECT_EQ(refused.quota->images_left, 4);
  EXPECT_EQ(refused.quota->day_ends_in, kDay - 20);
  EXPECT_FALSE(store().get_request(too_many.id));

  // Another key has a quota of its own.
  EXPECT_EQ(store().create_request(limited_request("key_b", kDayStart + 30, 10, quota)).kind,
            CreateOutcome::Kind::created);
  // Exactly what is left still fits.
  const auto rest = store().create_request(limited_request("key_a", kDayStart + 40, 4, quota));
  EXPECT_EQ(rest.kind, CreateOutcome::Kind::created);
  EXPECT_EQ(rest.quota->images_left, 0);
  EXPECT_EQ(store().create_request(limited_request("key_a", kDayStart + 50, 1, quota)).kind,
            CreateOutcome::Kind::over_quota);

  // The next UTC day starts from zero.
  const auto next_day =
      store().create_request(limited_request("key_a", kDayStart + kDay, 10, quota));
  EXPECT_EQ(next_day.kind, CreateOutcome::Kind::created);
  EXPECT_EQ(next_day.quota->images_left, 0);
  EXPECT_EQ(next_day.quota->day_ends_in, kDay);
}

TEST_P(StoreConformance, UploadsPerMinuteAreATokenBucket) {
  const core::UploadQuota quota{std::nullopt, 3};
  for (int i = 0; i < 3; ++i) {
    const auto outcome = store().create_request(limited_request("key_a", kT0, 1, quota));
    ASSERT_EQ(outcome.kind, CreateOutcome::Kind::created) << i;
    EXPECT_EQ(outcome.quota->uploads_left, 2 - i);
  }
  const NewRequest fourth = limited_request("key_a", kT0 + kSecond, 1, quota);
  const auto refused = store().create_request(fourth);
  EXPECT_EQ(refused.kind, CreateOutcome::Kind::over_quota);
  EXPECT_TRUE(refused.quota->uploads_exceeded);
  EXPECT_EQ(refused.quota->uploads_left, 0);
  // 3 a minute: one token every 20 s; 1 s of it has passed.
  EXPECT_EQ(refused.quota->next_upload_in, 19 * kSecond);
  EXPECT_FALSE(store().get_request(fourth.id));

  // 20 s after the bucket emptied, one upload again, and only one.
  EXPECT_EQ(store().create_request(limited_request("key_a", kT0 + 20 * kSecond, 1, quota)).kind,
            CreateOutcome::Kind::created);
  EXPECT_EQ(store().create_request(limited_request("key_a", kT0 + 21 * kSecond, 1, quota)).kind,
            CreateOutcome::Kind::over_quota);
  // A long pause fills the bucket to its capacity, no more.
  const auto later = store().create_request(limited_request("key_a", kT0 + kDay, 1, quota));
  EXPECT_EQ(later.kind, CreateOutcome::Kind::created);
  EXPECT_EQ(later.quota->uploads_left, 2);
}

TEST_P(StoreConformance, AReplayedUploadIsNotChargedAgain) {
  const core::UploadQuota quota{5, 2};
  const NewRequest first = limited_request("key_a", kDayStart, 3, quota, "order-1");
  ASSERT_EQ(store().create_request(first).kind, CreateOutcome::Kind::created);
  for (int i = 0; i < 3; ++i) {
    const auto replay =
        store().create_request(limited_request("key_a", kDayStart + i, 3, quota, "order-1"));
    EXPECT_EQ(replay.kind, CreateOutcome::Kind::replayed);
    EXPECT_EQ(replay.request_id, first.id);
  }
  // Still 2 images and 1 upload left.
  const auto next = store().create_request(limited_request("key_a", kDayStart + 5, 2, quota));
  EXPECT_EQ(next.kind, CreateOutcome::Kind::created);
  EXPECT_EQ(next.quota->images_left, 0);
  EXPECT_EQ(next.quota->uploads_left, 0);
}

TEST_P(StoreConformance, ConcurrentUploadsFromTwoProcessesNeverPassTheQuota) {
  constexpr int kThreads = 4;
  constexpr int kUploadsEach = 10;
  const core::UploadQuota quota{25, std::nullopt};
  auto second = harness().open();  // another node on the same database
  std::atomic<int> created{0};
  std::atomic<int> refused{0};
  std::atomic<int> errors{0};
  auto upload = [&](Store& s) {
    for (int i = 0; i < kUploadsEach; ++i) {
      try {
        const auto outcome = s.create_request(limited_request("key_a", kDayStart + i, 1, quota));
        if (outcome.kind == CreateOutcome::Kind::created) ++created;
        if (outcome.kind == CreateOutcome::Kind::over_quota) ++refused;
      } catch (const std::exception&) {
        ++errors;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back(upload, std::ref(t % 2 == 0 ? store() : *second));
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(created.load(), 25);
  EXPECT_EQ(refused.load(), kThreads * kUploadsEach - 25);
  EXPECT_EQ(store().list_requests_of("key_a", 100, 0).size(), 25u);
}

}  // namespace imgbatch::store::testing
