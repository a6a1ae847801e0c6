// The Store conformance suite, continued: API keys and the tenant (owner key) of each
// request (docs/API.md, "Authentication").
#include <algorithm>
#include <string>
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

}  // namespace imgbatch::store::testing
