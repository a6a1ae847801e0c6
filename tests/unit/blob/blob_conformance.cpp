#include "blob_conformance.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace imgbatch::blob::testing {

void BlobConformance::SetUp() {
  harness_ = GetParam().make_harness();
  blobs_ = harness_->open();
}

namespace {

// A tag may be quoted into an ETag header as it is: [0-9a-z-] only, never empty.
bool is_plain_tag(const std::string& tag) {
  if (tag.empty()) return false;
  for (const char c : tag)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-')) return false;
  return true;
}

std::string patterned(std::size_t size, int seed) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<char>((i * 31 + static_cast<std::size_t>(seed) * 7) % 251);
  return bytes;
}

TEST_P(BlobConformance, PutThenGetReturnsTheSameBytesAndTag) {
  const std::string bytes("\xff\xd8\x00jpeg\x00bytes\xff\xd9", 14);
  ASSERT_TRUE(blobs().put("req1/0-0.jpg", bytes).ok());
  auto got = blobs().get("req1/0-0.jpg");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(got->bytes, bytes);
  const auto info = blobs().stat("req1/0-0.jpg");
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_EQ(got->etag, info->etag);
  EXPECT_EQ(info->size, static_cast<std::int64_t>(bytes.size()));
  EXPECT_TRUE(is_plain_tag(info->etag)) << info->etag;
  EXPECT_TRUE(blobs().exists("req1/0-0.jpg"));
  EXPECT_FALSE(blobs().exists("req1/0-1.jpg"));
}

TEST_P(BlobConformance, EmptyAndLargeObjectsRoundTrip) {
  const std::string large = patterned(3 * 1024 * 1024 + 17, 1);
  ASSERT_TRUE(blobs().put("r/empty.jpg", "").ok());
  ASSERT_TRUE(blobs().put("r/large.jpg", large).ok());
  EXPECT_EQ(blobs().get("r/empty.jpg")->bytes, "");
  EXPECT_EQ(blobs().get("r/large.jpg")->bytes, large);
  EXPECT_EQ(blobs().stat("r/empty.jpg")->size, 0);
  EXPECT_EQ(blobs().stat("r/large.jpg")->size, static_cast<std::int64_t>(large.size()));
}

// Another instance (another process) sees what one stored, with the same tag.
TEST_P(BlobConformance, ObjectsAreSharedByEveryInstance) {
  ASSERT_TRUE(blobs().put("req/a.jpg", "shared bytes").ok());
  auto other = harness().open();
  auto got = other->get("req/a.jpg");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(got->bytes, "shared bytes");
  EXPECT_EQ(got->etag, blobs().stat("req/a.jpg")->etag);
}

// A task done twice writes the same bytes again: the tag stays, so clients' caches stay
// valid. Other bytes get another tag.
TEST_P(BlobConformance, TheTagFollowsTheBytes) {
  ASSERT_TRUE(blobs().put("req/a.jpg", "first bytes").ok());
  const auto tag = blobs().stat("req/a.jpg")->etag;
  ASSERT_TRUE(blobs().put("req/a.jpg", "first bytes").ok());
  EXPECT_EQ(blobs().stat("req/a.jpg")->etag, tag);
  ASSERT_TRUE(blobs().put("req/b.jpg", "first bytes").ok());
  EXPECT_EQ(blobs().stat("req/b.jpg")->etag, tag);
  ASSERT_TRUE(blobs().put("req/a.jpg", "other bytes").ok());
  EXPECT_NE(blobs().stat("req/a.jpg")->etag, tag);
}

TEST_P(BlobConformance, SecondPutReplacesTheObjectWhole) {
  ASSERT_TRUE(blobs().put("req/a.jpg", std::string(10000, 'a')).ok());
  ASSERT_TRUE(blobs().put("req/a.jpg", "short").ok());
  EXPECT_EQ(blobs().get("req/a.jpg")->bytes, "short");
  EXPECT_EQ(harness().leftovers(), 0);
}

// "Not found" is its own kind: GET /images answers it 404, and any other failure 503.
TEST_P(BlobConformance, AMissingObjectIsNotFoundAndNamed) {
  const auto got = blobs().get("nope/a.jpg");
  const auto info = blobs().stat("nope/a.jpg");
  for (const auto* error : {&got.error(), &info.error()}) {
    EXPECT_EQ(error->message, "image nope/a.jpg not found");
    EXPECT_EQ(error->kind, BlobError::Kind::not_found);
  }
  EXPECT_FALSE(blobs().exists("nope/a.jpg"));
}

// Removing is for good, touches nothing else, and may run again (a deletion cut short).
TEST_P(BlobConformance, RemoveDeletesOneObjectAndMayRunAgain) {
  ASSERT_TRUE(blobs().put("req/a.jpg", "a").ok());
  ASSERT_TRUE(blobs().put("req/b.jpg", "b").ok());
  const auto removed = blobs().remove("req/a.jpg");
  ASSERT_TRUE(removed.ok()) << removed.message();
  EXPECT_FALSE(blobs().exists("req/a.jpg"));
  const auto got = blobs().get("req/a.jpg");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, BlobError::Kind::not_found);
  EXPECT_FALSE(harness().open()->exists("req/a.jpg")) << "gone for every instance";
  EXPECT_EQ(blobs().get("req/b.jpg")->bytes, "b");
  EXPECT_TRUE(blobs().remove("req/a.jpg").ok()) << "again: nothing to do, no error";
  EXPECT_TRUE(blobs().remove("nope/never.jpg").ok());

  // The request's last object gone, a new put to it works as before.
  ASSERT_TRUE(blobs().remove("req/b.jpg").ok());
  ASSERT_TRUE(blobs().put("req/c.jpg", "c").ok());
  EXPECT_EQ(blobs().get("req/c.jpg")->bytes, "c");
  EXPECT_EQ(harness().leftovers(), 0);
}

// HTTP paths become keys, so every backend refuses what is_safe_key refuses.
TEST_P(BlobConformance, UnsafeKeysAreRefused) {
  for (const char* key :
       {"../secret", "a/../../secret", "/abs", ".hidden/x", "a//b", "a/b/c", "a/.tmp-1", ".."}) {
    const auto put = blobs().put(key, "bytes");
    ASSERT_FALSE(put.ok()) << key;
    EXPECT_NE(put.message().find("invalid image key"), std::string::npos) << put.message();
    const auto got = blobs().get(key);
    ASSERT_FALSE(got.ok()) << key;
    EXPECT_NE(got.message().find("invalid image key"), std::string::npos) << got.message();
    EXPECT_EQ(got.error().kind, BlobError::Kind::not_found) << key;
    EXPECT_FALSE(blobs().exists(key)) << key;
    const auto info = blobs().stat(key);
    ASSERT_FALSE(info.ok()) << key;
    EXPECT_EQ(info.error().kind, BlobError::Kind::not_found) << key;
    const auto removed = blobs().remove(key);
    ASSERT_FALSE(removed.ok()) << key;
    EXPECT_NE(removed.message().find("invalid image key"), std::string::npos) << removed.message();
  }
}

// Writers race on one key while a reader watches: every read sees one writer's whole
// object with that object's tag, and the end state is one writer's whole object.
TEST_P(BlobConformance, ConcurrentPutsOfOneKeyLeaveOneWholeObject) {
  constexpr std::size_t kSize = 256 * 1024;
  constexpr int kThreads = 4;
  constexpr int kPutsEach = 4;
  std::vector<std::string> tags;  // of each writer's bytes, learnt from a key of its own
  for (int t = 0; t < kThreads; ++t) {
    const std::string key = "ref/" + std::to_string(t) + ".jpg";
    ASSERT_TRUE(blobs().put(key, std::string(kSize, static_cast<char>('A' + t))).ok());
    tags.push_back(blobs().stat(key)->etag);
  }
  auto whole = [&tags](const StoredObject& object) {
    const std::string& s = object.bytes;
    return s.size() == kSize && s.find_first_not_of(s.front()) == std::string::npos &&
           object.etag == tags.at(static_cast<std::size_t>(s.front() - 'A'));
  };
  std::atomic<bool> done{false};
  std::atomic<int> torn_reads{0}, reads{0}, failures{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto got = blobs().get("req/same.jpg");
      if (!got.ok()) continue;  // not written yet
      ++reads;
      if (!whole(*got)) ++torn_reads;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t)
    writers.emplace_back([&, t] {
      const std::string bytes(kSize, static_cast<char>('A' + t));
      for (int i = 0; i < kPutsEach; ++i)
        if (!blobs().put("req/same.jpg", bytes).ok()) ++failures;
    });
  for (auto& w : writers) w.join();
  done = true;
  reader.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(torn_reads.load(), 0) << "of " << reads.load() << " reads";
  const auto final_object = blobs().get("req/same.jpg");
  ASSERT_TRUE(final_object.ok()) << final_object.message();
  EXPECT_TRUE(whole(*final_object));
  EXPECT_EQ(harness().leftovers(), 0);
}

// A writer killed half-way leaves no object under the key (nothing half-written is ever
// served), and what it left is gone once a process starts and cleans up.
TEST_P(BlobConformance, AnInterruptedPutIsNeverVisibleAndIsCleanedUp) {
  ASSERT_TRUE(blobs().put("req/kept.jpg", "whole").ok());
  harness().leave_interrupted_put("req/cut.jpg", patterned(512 * 1024, 2));
  EXPECT_FALSE(blobs().exists("req/cut.jpg"));
  EXPECT_FALSE(blobs().get("req/cut.jpg").ok());

  auto restarted = harness().open();
  restarted->remove_stale_temporaries(std::chrono::minutes(10));
  EXPECT_EQ(harness().leftovers(), 0);
  EXPECT_FALSE(restarted->exists("req/cut.jpg"));
  EXPECT_EQ(restarted->get("req/kept.jpg")->bytes, "whole");
  // The key is as usable as any other afterwards.
  ASSERT_TRUE(restarted->put("req/cut.jpg", "now whole").ok());
  EXPECT_EQ(blobs().get("req/cut.jpg")->bytes, "now whole");
}

}  // namespace
}  // namespace imgbatch::blob::testing
