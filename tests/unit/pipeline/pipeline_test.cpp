#include "pipeline/pipeline.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "core/process_identity.hpp"
#include "imaging/compressor.hpp"
#include "support/blob_options.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_origin.hpp"

namespace imgbatch::pipeline {
namespace {

using test_support::TestOrigin;

// Collects completion callbacks so a test can wait for a request to end.
class Completions {
 public:
  void add(const std::vector<std::string>& ids) {
    std::lock_guard lock(mutex_);
    for (const auto& id : ids) seen_.push_back(id);
    cv_.notify_all();
  }
  bool wait_for(const std::string& id, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout,
                        [&] { return std::find(seen_.begin(), seen_.end(), id) != seen_.end(); });
  }
  int count(const std::string& id) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count(seen_.begin(), seen_.end(), id));
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> seen_;
};

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { imaging::init_vips("pipeline_test"); }

  void SetUp() override {
    store_ = store::open_store("sqlite:" + (dir_.path() / "db.sqlite").string());
    blobs_ = blob::open_blob_store("file:" + (dir_.path() / "images").string(),
                                   test_support::blob_options(false));
  }

  static Options options(int compress_threads, int max_attempts = 4) {
    Options o;
    o.compress_threads = compress_threads;
    o.max_attempts = max_attempts;
    return o;
  }

  std::unique_ptr<Pipeline> make_pipeline(Options options, fetch::Fetcher& fetcher) {
    options.retry_base = std::chrono::milliseconds(50);
    options.idle_poll = std::chrono::milliseconds(50);
    return std::make_unique<Pipeline>(options, *store_, *blobs_, fetcher,
                                      [this](const auto& ids) { completions_.add(ids); });
  }

  std::unique_ptr<fetch::Fetcher> make_fetcher(long timeout_ms = 10'000) {
    fetch::FetchLimits limits;
    limits.allow_private_networks = true;  // the origin is on loopback
    limits.timeout_ms = timeout_ms;
    return fetch::make_curl_fetcher(limits, 8);
  }

  // One product per URL; `source_keys` (one per URL) share their images (issue 15).
  std::string create(const std::vector<std::string>& urls,
                     std::vector<std::string> source_keys = {}) {
    core::NewRequest request;
    request.id = core::new_uuid();
    request.columns = {"S. No.", "Product Name", "Input Image Urls"};
    for (std::size_t i = 0; i < urls.size(); ++i)
      request.products.push_back({std::to_string(i + 1),
                                  "P" + std::to_string(i),
                                  {urls[i]},
                                  {std::to_string(i + 1), "P" + std::to_string(i), urls[i]}});
    request.created_at = core::now_ms();
    request.source_keys = std::move(source_keys);
    const auto outcome = store_->create_request(request);
    EXPECT_EQ(outcome.kind, core::CreateOutcome::Kind::created);
    return request.id;
  }

  core::ImageRecord image(const std::string& id, int product) {
    return store_->get_products(id, product, 1).at(0).images.at(0);
  }

  test_support::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<blob::BlobStore> blobs_;
  Completions completions_;
  TestOrigin origin_;
};

// The nice values of this process's threads, from /proc/self/task/TID/stat (the 19th
// field; the name in parentheses before it may hold spaces, so fields count from ')').
std::vector<int> thread_nice_values() {
  std::vector<int> values;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    for (int i = 3; i <= 19 && fields >> field; ++i)
      if (i == 19) values.push_back(std::stoi(field));
  }
  return values;
}

int threads_with_nice(int nice) {
  const auto values = thread_nice_values();
  return static_cast<int>(std::count(values.begin(), values.end(), nice));
}

TEST_F(PipelineTest, CompressThreadsRunAtTheConfiguredNiceValue) {
  auto fetcher = make_fetcher();
  ASSERT_EQ(threads_with_nice(7), 0);
  auto o = options(3);
  o.compress_nice = 7;
  auto pipeline = make_pipeline(o, *fetcher);
  pipeline->start();
  // Each compress thread lowers its own priority as it starts.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (threads_with_nice(7) < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(threads_with_nice(7), 3);
  pipeline->stop(std::chrono::seconds(5));
}

TEST_F(PipelineTest, CompressNiceZeroLeavesEveryThreadAtTheProcessPriority) {
  auto fetcher = make_fetcher();
  auto o = options(2);
  o.compress_nice = 0;
  auto pipeline = make_pipeline(o, *fetcher);
  pipeline->start();
  const auto id = create({origin_.url("/photos/Garden.jpg")});
  pipeline->wake();
  ASSERT_TRUE(completions_.wait_for(id, std::chrono::seconds(60)));
  const int own = ::getpriority(PRIO_PROCESS, 0);
  for (const int nice : thread_nice_values()) EXPECT_EQ(nice, own);
  pipeline->stop(std::chrono::seconds(5));
}

TEST_F(PipelineTest, EveryImageIsCompressedStoredAndRecordedAndTheRequestCompletesOnce) {
  std::vector<std::string> urls;
  for (const auto& entry : std::filesystem::directory_iterator(TestOrigin::photos_dir()))
    urls.push_back(origin_.url("/photos/" + entry.path().filename().string()));
  const auto id = create(urls);
  auto fetcher = make_fetcher();
  auto pipeline = make_pipeline(options(2), *fetcher);
  pipeline->start();
  pipeline->wake();
  ASSERT_TRUE(completions_.wait_for(id, std::chrono::seconds(120)));

  const auto request = store_->get_request(id);
  EXPECT_EQ(request->status, core::RequestStatus::completed);
  EXPECT_EQ(request->progress.succeeded, static_cast<int>(urls.size()));
  std::set<std::string> names;
  for (const auto& product : store_->get_products(id, 0, 1000)) {
    const auto& img = product.images.at(0);
    ASSERT_EQ(img.state, core::TaskState::done) << img.error.value_or("");
    EXPECT_EQ(*img.output_name, std::to_string(product.index) + "-0.jpg");
    EXPECT_TRUE(blobs_->exists(id + "/" + *img.output_name));
    EXPECT_GT(img.bytes_in, img.bytes_out);
    EXPECT_EQ(img.attempts, 1);
    names.insert(*img.output_name);
  }
  EXPECT_EQ(names.size(), urls.size());
  pipeline->stop(std::chrono::seconds(5));
  EXPECT_EQ(completions_.count(id), 1);
  EXPECT_EQ(pipeline->metrics().images_succeeded().value(), urls.size());
}

TEST_F(PipelineTest, TransientFailuresAreRetriedAndPermanentOnesFailAtOnce) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  const auto id = create({origin_.url("/flaky/2/" + photo),  // 500, 500, then the file
                          origin_.url("/status/404"),        // permanent
                          origin_.url("/status/503"),        // transient until attempts run out
                          origin_.url("/html")});            // downloads fine, not an image
  auto fetcher = make_fetcher();
  auto pipeline = make_pipeline(options(1, 3), *fetcher);
  pipeline->start();
  ASSERT_TRUE(completions_.wait_for(id, std::chrono::seconds(60)));

  const auto flaky = image(id, 0);
  EXPECT_EQ(flaky.state, core::TaskState::done) << flaky.error.value_or("");
  EXPECT_EQ(flaky.attempts, 3);
  EXPECT_EQ(origin_.request_count("/flaky/2/" + photo), 3u);

  const auto missing = image(id, 1);
  EXPECT_EQ(missing.state, core::TaskState::failed);
  EXPECT_EQ(missing.attempts, 1);
  EXPECT_NE(missing.error->find("HTTP 404"), std::string::npos) << *missing.error;
  EXPECT_EQ(origin_.request_count("/status/404"), 1u);

  const auto unavailable = image(id, 2);
  EXPECT_EQ(unavailable.state, core::TaskState::failed);
  EXPECT_EQ(unavailable.attempts, 3);
  EXPECT_NE(unavailable.error->find("HTTP 503"), std::string::npos) << *unavailable.error;
  EXPECT_NE(unavailable.error->find("gave up after 3 attempts"), std::string::npos);
  EXPECT_EQ(origin_.request_count("/status/503"), 3u);

  const auto html = image(id, 3);
  EXPECT_EQ(html.state, core::TaskState::failed);
  EXPECT_NE(html.error->find("not an image"), std::string::npos) << *html.error;

  EXPECT_EQ(store_->get_request(id)->progress.failed, 3);

  // Counted before the completion callback runs.
  auto& m = pipeline->metrics();
  EXPECT_EQ(m.images_succeeded().value(), 1u);
  EXPECT_EQ(m.images_failed().value(), 3u);
  EXPECT_EQ(m.image_failures(metrics::FailureReason::download_http_status).value(), 2u);
  EXPECT_EQ(m.image_failures(metrics::FailureReason::not_an_image).value(), 1u);
  EXPECT_EQ(m.image_failures(metrics::FailureReason::other).value(), 0u);
  EXPECT_EQ(m.image_retries().value(), 4u);  // flaky twice, 503 twice
  // Every attempt is timed: 3 + 1 + 3 + 1; two downloads reached the compressor.
  EXPECT_EQ(m.download_seconds().snapshot().count, 8u);
  EXPECT_EQ(m.processing_seconds().snapshot().count, 2u);
  EXPECT_GT(m.processing_seconds().snapshot().sum, 0.0);
  EXPECT_EQ(m.bytes_out().value(), static_cast<std::uint64_t>(flaky.bytes_out));
  EXPECT_GT(m.bytes_in().value(), static_cast<std::uint64_t>(flaky.bytes_in))
      << "the HTML page counts as bytes downloaded too";
}

// A storage that does not take the image (here a file where the request's folder should
// be) is waited for, the image held: no attempt is used up, however long it takes.
TEST_F(PipelineTest, AStorageFailureHoldsTheImageUntilTheStorageTakesIt) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  const auto id = create({origin_.url("/photos/" + photo)});
  const auto in_the_way = dir_.path() / "images" / id;
  std::ofstream(in_the_way) << "in the way";
  auto fetcher = make_fetcher();
  // Two attempts: a failed put that used one up would fail the image on the next. A short
  // lease: the held image outlives several, renewed, never taken back as expired.
  Options short_lease = options(1, 2);
  short_lease.lease = std::chrono::milliseconds(300);
  auto pipeline = make_pipeline(short_lease, *fetcher);
  pipeline->start();
  auto& m = pipeline->metrics();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (m.storage_write_failures().value() < 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GE(m.storage_write_failures().value(), 5u);  // 50 + 100 + 200 + 400 ms of waits
  const auto held = image(id, 0);
  EXPECT_EQ(held.state, core::TaskState::running);
  EXPECT_EQ(held.attempts, 1);
  EXPECT_EQ(pipeline->in_hand(), 1u);

  std::filesystem::remove(in_the_way);
  ASSERT_TRUE(completions_.wait_for(id, std::chrono::seconds(60)));
  const auto img = image(id, 0);
  EXPECT_EQ(img.state, core::TaskState::done);
  EXPECT_EQ(img.attempts, 1);
  EXPECT_EQ(m.image_retries().value(), 0u);
  EXPECT_EQ(m.images_failed().value(), 0u);
  EXPECT_EQ(m.images_succeeded().value(), 1u);
}

// Past the grace period a put still waiting for the storage gives up: the task goes back
// to the queue as it was, for whoever runs next.
TEST_F(PipelineTest, StopDoesNotWaitForTheStorageBeyondTheGrace) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  const auto id = create({origin_.url("/photos/" + photo)});
  std::ofstream(dir_.path() / "images" / id) << "in the way";
  auto fetcher = make_fetcher();
  Options held = options(1, 2);
  held.idle_poll = std::chrono::milliseconds(50);
  held.retry_base = std::chrono::minutes(10);  // the first wait for the storage, too
  auto pipeline = std::make_unique<Pipeline>(held, *store_, *blobs_, *fetcher,
                                             [this](const auto& ids) { completions_.add(ids); });
  pipeline->start();
  auto& m = pipeline->metrics();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (m.storage_write_failures().value() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GE(m.storage_write_failures().value(), 1u);
  // Now waiting ten minutes for the storage: stop() ends the wait (ctest's timeout would
  // end a stop() that did not).
  const auto stopping = std::chrono::steady_clock::now();
  pipeline->stop(std::chrono::milliseconds(100));
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::minutes(5));
  const auto img = image(id, 0);
  EXPECT_EQ(img.state, core::TaskState::pending);
  EXPECT_EQ(img.attempts, 1);
  EXPECT_EQ(m.images_failed().value(), 0u);
}

TEST_F(PipelineTest, RetryAfterIsHonoured) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  const auto id = create({origin_.url("/retry-after/1/" + photo)});
  auto fetcher = make_fetcher();
  auto pipeline = make_pipeline(options(1), *fetcher);
  const auto started = std::chrono::steady_clock::now();
  pipeline->start();
  ASSERT_TRUE(completions_.wait_for(id, std::chrono::seconds(30)));
  // The backoff alone would retry after ~50 ms; the host asked for a second.
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(900));
  EXPECT_EQ(image(id, 0).state, core::TaskState::done);
  EXPECT_EQ(image(id, 0).attempts, 2);
}

TEST_F(PipelineTest, StopHandsUnfinishedTasksBackAndAnotherPipelineFinishesThem) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  std::vector<std::string> urls;
  for (int i = 0; i < 4; ++i)
    urls.push_back(origin_.url("/sleep/3000/" + photo + "?v=" + std::to_string(i)));
  const auto id = create(urls);
  {
    // A long timeout, so the silent 3 s of the origin stay under the low-speed cut-off.
    auto fetcher = make_fetcher(30'000);
    auto pipeline = make_pipeline(options(1), *fetcher);
    pipeline->start();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (pipeline->in_hand() < 4 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(pipeline->in_hand(), 4u);
    pipeline->stop(std::chrono::milliseconds(100));  // far shorter than the downloads
  }
  EXPECT_EQ(store_->queue_depth().running, 0);
  EXPECT_EQ(store_->queue_depth().pending, 4);
  EXPECT_EQ(store_->get_request(id)->progress.remaining(), 4);

  auto fetcher = make_fetcher(30'000);
  auto pipeline = make_pipeline(options(1), *fetcher);
  pipeline->start();
  ASSERT_TRUE(completions_.wait_for(id, std::chrono::seconds(60)));
  EXPECT_EQ(store_->get_request(id)->progress.succeeded, 4);
  EXPECT_EQ(completions_.count(id), 1);
}

// The real store with one call changed: a test's wrapper overrides put (or more).
class BlobStoreWrapper : public blob::BlobStore {
 public:
  explicit BlobStoreWrapper(blob::BlobStore& real) : real_(real) {}
  blob::PutResult put(const std::string& key, std::string_view bytes) override {
    return real_.put(key, bytes);
  }
  blob::BlobResult<blob::StoredObject> get(const std::string& key) override {
    return real_.get(key);
  }
  blob::BlobResult<blob::ObjectInfo> stat(const std::string& key) override {
    return real_.stat(key);
  }
  bool exists(const std::string& key) override { return real_.exists(key); }
  core::Status remove(const std::string& key) override { return real_.remove(key); }

 protected:
  blob::BlobStore& real_;
};

// The real file store, except that it refuses every full-size image (as a store refuses
// an object too large for it) and remembers the keys it did store.
class RefusingFullSizeImages : public BlobStoreWrapper {
 public:
  using BlobStoreWrapper::BlobStoreWrapper;
  blob::PutResult put(const std::string& key, std::string_view bytes) override {
    if (key.find("-thumb.") == std::string::npos)
      return blob::BlobError{blob::BlobError::Kind::refused, "too large for this storage"};
    auto stored = real_.put(key, bytes);
    if (stored) {
      std::lock_guard lock(mutex_);
      stored_.push_back(key);
    }
    return stored;
  }
  std::vector<std::string> stored() {
    std::lock_guard lock(mutex_);
    return stored_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> stored_;
};

// Sizes are stored before the full-size image; when that one is refused, the image fails
// and the sizes it left are removed with it: nothing stays that no task references.
TEST_F(PipelineTest, AFullSizeImageRefusedTakesItsStoredSizesWithIt) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  core::NewRequest request;
  request.id = core::new_uuid();
  request.columns = {"S. No.", "Product Name", "Input Image Urls"};
  const std::string url = origin_.url("/photos/" + photo);
  request.products.push_back({"1", "P", {url}, {"1", "P", url}});
  request.choices.sizes = {{"thumb", 64, 64}};
  request.created_at = core::now_ms();
  ASSERT_EQ(store_->create_request(request).kind, core::CreateOutcome::Kind::created);

  RefusingFullSizeImages refusing(*blobs_);
  auto fetcher = make_fetcher();
  Options o = options(1);
  o.retry_base = std::chrono::milliseconds(50);
  o.idle_poll = std::chrono::milliseconds(50);
  Pipeline pipeline(o, *store_, refusing, *fetcher,
                    [this](const auto& ids) { completions_.add(ids); });
  pipeline.start();
  ASSERT_TRUE(completions_.wait_for(request.id, std::chrono::seconds(60)));
  pipeline.stop(std::chrono::milliseconds(1000));

  const auto img = image(request.id, 0);
  EXPECT_EQ(img.state, core::TaskState::failed);
  EXPECT_NE(img.error.value_or("").find("too large for this storage"), std::string::npos)
      << img.error.value_or("");
  const auto stored = refusing.stored();
  ASSERT_FALSE(stored.empty()) << "the thumb was stored before the refusal";
  for (const auto& key : stored) EXPECT_FALSE(blobs_->exists(key)) << key;
}

// A cancel in the middle of a request (Store::cancel_request, as DELETE /requests/ID does):
// the image being downloaded is discarded, the downloads queued behind it never start, the
// images not claimed yet are never claimed, nothing is stored, and the pipeline goes on
// with other work.
TEST_F(PipelineTest, ACancelledRequestStartsNoMoreDownloadsAndStoresNothing) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  const std::string held = "/hold/" + photo;
  std::vector<std::string> urls;
  for (int i = 0; i < 6; ++i) urls.push_back(origin_.url(held + "?v=" + std::to_string(i)));
  const auto id = create(urls);

  fetch::FetchLimits limits;
  limits.allow_private_networks = true;
  limits.timeout_ms = 60'000;
  limits.low_speed_window_seconds = 60;  // a held download sends nothing for a while
  auto fetcher = fetch::make_curl_fetcher(limits, 1);
  Options o = options(1);
  o.download_concurrency = 1;                // holds 3: one downloading, two queued in the fetcher
  o.lease = std::chrono::milliseconds(900);  // renewed, and cancels looked for, every 300 ms
  auto pipeline = make_pipeline(o, *fetcher);
  pipeline->start();
  const auto wait_until = [](const auto& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return done();
  };
  ASSERT_TRUE(
      wait_until([&] { return pipeline->in_hand() == 3 && origin_.request_count(held) == 1; }));

  ASSERT_EQ(store_->cancel_request(id, core::now_ms()), store::Store::CancelOutcome::cancelled);
  ASSERT_TRUE(wait_until([&] { return pipeline->cancels_seen() == 3; }));
  // The held download now ends; the two queued behind it must not start.
  test_support::HttpClient(origin_.base_url()).get("/release");
  ASSERT_TRUE(wait_until([&] { return pipeline->in_hand() == 0; }));

  // Other work goes on meanwhile; by the time it completes, the fetcher's queue has long
  // been passed.
  const auto other = create({origin_.url("/photos/" + photo)});
  ASSERT_TRUE(completions_.wait_for(other, std::chrono::seconds(30)));
  EXPECT_EQ(origin_.request_count(held), 1u) << "no download started after the cancel";
  const auto record = store_->get_request(id);
  EXPECT_EQ(record->status, core::RequestStatus::cancelled);
  EXPECT_EQ(record->progress.succeeded, 0);
  EXPECT_EQ(store_->queue_depth().pending, 0);
  EXPECT_EQ(store_->queue_depth().running, 0);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(image(id, i).state, core::TaskState::failed) << i;
    EXPECT_EQ(image(id, i).error, "cancelled") << i;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "images" / id)) << "nothing stored";
  EXPECT_TRUE(store_->pending_blob_deletions(10).empty()) << "nothing to remove";
  EXPECT_EQ(completions_.count(id), 0);
  pipeline->stop(std::chrono::milliseconds(1000));
}

// A shared download (issue 15) whose task belongs to a request that is cancelled: the
// tasks waiting for it go back to the queue at once and download it themselves (one of
// them, the other waiting for it); nothing of the cancelled request is stored or shared.
TEST_F(PipelineTest, TasksWaitingForTheDownloadOfACancelledRequestDownloadItThemselves) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  const std::string held = "/hold/" + photo;
  fetch::FetchLimits limits;
  limits.allow_private_networks = true;
  limits.timeout_ms = 60'000;
  limits.low_speed_window_seconds = 60;  // a held download sends nothing for a while
  auto fetcher = fetch::make_curl_fetcher(limits, 4);
  Options o = options(1);
  o.lease = std::chrono::milliseconds(900);  // renewed, and cancels looked for, every 300 ms
  auto pipeline = make_pipeline(o, *fetcher);
  const auto wait_until = [](const auto& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return done();
  };
  const auto cancelled = create({origin_.url(held)}, {"shared-source"});
  pipeline->start();
  ASSERT_TRUE(
      wait_until([&] { return pipeline->in_hand() == 1 && origin_.request_count(held) == 1; }));
  const auto waiting =
      create({origin_.url(held), origin_.url(held)}, {"shared-source", "shared-source"});
  ASSERT_TRUE(wait_until([&] { return pipeline->in_hand() == 3; }));
  EXPECT_EQ(origin_.request_count(held), 1u) << "the two wait for the download in hand";

  ASSERT_EQ(store_->cancel_request(cancelled, core::now_ms()),
            store::Store::CancelOutcome::cancelled);
  ASSERT_TRUE(wait_until([&] { return pipeline->cancels_seen() == 1; }));
  test_support::HttpClient(origin_.base_url()).get("/release");
  ASSERT_TRUE(completions_.wait_for(waiting, std::chrono::seconds(30)));

  EXPECT_EQ(origin_.request_count(held), 2u) << "downloaded again once, for both";
  const auto record = store_->get_request(waiting);
  EXPECT_EQ(record->progress.succeeded, 2);
  EXPECT_EQ(record->progress.reused, 1);
  const auto first = image(waiting, 0);
  const auto second = image(waiting, 1);
  ASSERT_TRUE(first.blob_key.has_value());
  EXPECT_EQ(first.blob_key, second.blob_key) << "one image for both";
  EXPECT_EQ(first.blob_key->rfind(waiting + "/", 0), 0u) << *first.blob_key;
  EXPECT_NE(first.reused == core::Reuse::none, second.reused == core::Reuse::none);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "images" / *first.blob_key));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "images" / cancelled)) << "nothing stored";
  EXPECT_TRUE(store_->pending_blob_deletions(10).empty());
  pipeline->stop(std::chrono::milliseconds(1000));
}

// The quality floor of max_bytes is the request's (--min-quality of the node that took the
// upload, stored with it), not the worker's: an image that cannot fit fails naming the
// smallest size at that floor.
TEST_F(PipelineTest, MaxBytesSearchesDownToTheRequestsFloor) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  std::vector<std::string> ids;
  for (const int floor : {37, core::kDefaultMinQuality}) {
    core::NewRequest request;
    request.id = core::new_uuid();
    request.columns = {"S. No.", "Product Name", "Input Image Urls"};
    const std::string url = origin_.url("/photos/" + photo);
    request.products.push_back({"1", "P", {url}, {"1", "P", url}});
    request.choices.max_bytes = 200;  // no photo fits
    request.choices.min_quality = floor;
    request.created_at = core::now_ms();
    ASSERT_EQ(store_->create_request(request).kind, core::CreateOutcome::Kind::created);
    ids.push_back(request.id);
  }
  auto fetcher = make_fetcher();
  auto pipeline = make_pipeline(options(1), *fetcher);
  pipeline->start();
  for (const auto& id : ids) ASSERT_TRUE(completions_.wait_for(id, std::chrono::seconds(60)));
  pipeline->stop(std::chrono::milliseconds(1000));
  const auto high = image(ids[0], 0);
  const auto low = image(ids[1], 0);
  ASSERT_EQ(high.state, core::TaskState::failed);
  ASSERT_EQ(low.state, core::TaskState::failed);
  EXPECT_NE(high.error.value_or("").find("at quality 37,"), std::string::npos)
      << high.error.value_or("");
  EXPECT_NE(low.error.value_or("").find("at quality 10,"), std::string::npos)
      << low.error.value_or("");
}

// ---- the moment between an outcome recorded and its write (issue 15) -------------------

// The real file store, except that the puts of one request wait until released. It says
// when the first of them has started, and how many puts of that request have begun.
class HeldPuts : public BlobStoreWrapper {
 public:
  using BlobStoreWrapper::BlobStoreWrapper;
  void hold(std::string request_id) {
    std::lock_guard lock(mutex_);
    held_request_ = std::move(request_id) + "/";
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  // The key of the first held put, once it has started; "" after a long wait.
  std::string wait_for_first() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(30), [&] { return !first_.empty(); });
    return first_;
  }
  // True once `n` puts of the held request have begun.
  bool wait_for_puts(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [&] { return puts_ >= n; });
  }
  blob::PutResult put(const std::string& key, std::string_view bytes) override {
    {
      std::unique_lock lock(mutex_);
      if (!held_request_.empty() && key.rfind(held_request_, 0) == 0) {
        ++puts_;
        if (first_.empty()) first_ = key;
        changed_.notify_all();
        changed_.wait(lock, [&] { return released_; });
      }
    }
    return real_.put(key, bytes);
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string held_request_;
  std::string first_;
  int puts_ = 0;
  bool released_ = false;
};

// The real store, except that the first claim that takes a task `which` picks runs
// `before_return` between the claim's commit and its return to the pipeline.
class HookedClaims : public store::Store {
 public:
  using Pick = std::function<bool(const core::ClaimedTask&)>;
  explicit HookedClaims(store::Store& real) : real_(real) {}
  void on_claim(Pick which, std::function<void()> before_return) {
    std::lock_guard lock(mutex_);
    which_ = std::move(which);
    before_return_ = std::move(before_return);
  }
  std::vector<core::ClaimedTask> claim_tasks(const std::string& owner, int max, core::TimeMs now,
                                             core::TimeMs lease_ms) override {
    auto tasks = real_.claim_tasks(owner, max, now, lease_ms);
    std::function<void()> hook;
    {
      std::lock_guard lock(mutex_);
      for (const auto& task : tasks)
        if (before_return_ && which_(task)) hook = std::exchange(before_return_, nullptr);
    }
    if (hook) hook();
    return tasks;
  }

  core::CreateOutcome create_request(const core::NewRequest& r) override {
    return real_.create_request(r);
  }
  std::optional<core::RequestRecord> get_request(const std::string& id) override {
    return real_.get_request(id);
  }
  std::vector<core::ProductRecord> get_products(const std::string& id, int offset,
                                                int limit) override {
    return real_.get_products(id, offset, limit);
  }
  std::optional<std::string> image_key(const std::string& id, int product, int image) override {
    return real_.image_key(id, product, image);
  }
  std::vector<core::RequestRecord> list_requests(int limit, int offset) override {
    return real_.list_requests(limit, offset);
  }
  std::vector<core::RequestRecord> list_requests_of(const std::string& owner_key, int limit,
                                                    int offset) override {
    return real_.list_requests_of(owner_key, limit, offset);
  }
  DeleteOutcome delete_request(const std::string& id) override { return real_.delete_request(id); }
  CancelOutcome cancel_request(const std::string& id, core::TimeMs now) override {
    return real_.cancel_request(id, now);
  }
  std::vector<std::int64_t> cancelled_tasks(const std::vector<std::int64_t>& ids) override {
    return real_.cancelled_tasks(ids);
  }
  PurgeStep purge_step(std::optional<core::TimeMs> ended_before, core::TimeMs now,
                       int chunk) override {
    return real_.purge_step(ended_before, now, chunk);
  }
  std::vector<std::string> pending_blob_deletions(int limit) override {
    return real_.pending_blob_deletions(limit);
  }
  void forget_blob_deletions(const std::vector<std::string>& keys) override {
    real_.forget_blob_deletions(keys);
  }
  bool create_api_key(const core::NewApiKey& key) override { return real_.create_api_key(key); }
  std::vector<core::ApiKeyRecord> list_api_keys() override { return real_.list_api_keys(); }
  bool revoke_api_key(const std::string& name, core::TimeMs now) override {
    return real_.revoke_api_key(name, now);
  }
  std::optional<core::ApiKeyRecord> find_api_key(const std::string& hash) override {
    return real_.find_api_key(hash);
  }
  bool any_api_key() override { return real_.any_api_key(); }
  int renew_leases(const std::string& owner, const std::vector<std::int64_t>& ids,
                   core::TimeMs until) override {
    return real_.renew_leases(owner, ids, until);
  }
  int release_expired_leases(core::TimeMs now) override {
    return real_.release_expired_leases(now);
  }
  int release_leases(const std::string& owner) override { return real_.release_leases(owner); }
  std::vector<std::string> lease_owners() override { return real_.lease_owners(); }
  std::unique_ptr<store::ProcessPresence> announce_process(const std::string& owner) override {
    return real_.announce_process(owner);
  }
  int release_departed_owners(const std::string& self, core::TimeMs now) override {
    return real_.release_departed_owners(self, now);
  }
  std::vector<std::string> finish_tasks(const std::vector<core::TaskOutcome>& outcomes,
                                        core::TimeMs now) override {
    return real_.finish_tasks(outcomes, now);
  }
  std::vector<core::Delivery> claim_deliveries(core::TimeMs now, int max,
                                               core::TimeMs lease_ms) override {
    return real_.claim_deliveries(now, max, lease_ms);
  }
  void record_delivery_attempt(const core::DeliveryAttempt& attempt, core::TimeMs now) override {
    real_.record_delivery_attempt(attempt, now);
  }
  QueueDepth queue_depth() override { return real_.queue_depth(); }
  bool ping() override { return real_.ping(); }
  std::unique_ptr<store::WorkWatch> watch_new_work(std::function<void()> on_new_work) override {
    return real_.watch_new_work(std::move(on_new_work));
  }

 private:
  store::Store& real_;
  std::mutex mutex_;
  Pick which_;
  std::function<void()> before_return_;
};

// A task claimed while the outcome of its source is recorded in the worker but not yet
// written (the store had no `sources` row when it was claimed, and the download is no
// longer in hand) takes that outcome: no second download. The moment is made to happen:
// the first request's images are held at their put; a second request with the same source
// is claimed then, and the claim returns only once the held outcome has been recorded, which
// the next put of the one put thread shows (it starts only after the outcome before it was
// recorded). No outcome is written meanwhile: the scheduler that would write it is the one
// waiting in that claim.
TEST_F(PipelineTest, ATaskClaimedWhileItsSourcesOutcomeIsNotYetWrittenTakesThatOutcome) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  const std::string made_url = origin_.url("/photos/" + photo + "?made");
  // Held at the origin until the claim: its put comes after the shared source's.
  const std::string later_url = origin_.url("/hold/" + photo);
  const auto first = create({made_url, later_url}, {"shared-source", "later-source"});

  HeldPuts puts(*blobs_);
  puts.hold(first);
  HookedClaims store(*store_);
  fetch::FetchLimits limits;
  limits.allow_private_networks = true;
  limits.timeout_ms = 60'000;
  limits.low_speed_window_seconds = 60;  // the held download sends nothing for a while
  auto fetcher = fetch::make_curl_fetcher(limits, 4);
  Options o = options(1);  // one compress thread and one put thread
  o.idle_poll = std::chrono::milliseconds(50);
  Pipeline pipeline(o, store, puts, *fetcher, [this](const auto& ids) { completions_.add(ids); });
  pipeline.start();
  ASSERT_EQ(puts.wait_for_first().rfind(first + "/0-0.", 0), 0u)
      << "the shared source's image is held";

  std::atomic<bool> recorded{false};
  std::atomic<bool> known{true};
  store.on_claim(
      [&](const core::ClaimedTask& task) {
        return task.request_id != first && task.source_key == "shared-source";
      },
      [&] {
        // Claimed while the store knew nothing of the source. Now its outcome is recorded.
        puts.release();
        test_support::HttpClient(origin_.base_url()).get("/release");
        recorded = puts.wait_for_puts(2);
        known = store_->get_request(first)->progress.succeeded > 0;
      });
  const auto second = create({made_url}, {"shared-source"});
  pipeline.wake();
  ASSERT_TRUE(completions_.wait_for(second, std::chrono::seconds(60)));
  ASSERT_TRUE(completions_.wait_for(first, std::chrono::seconds(60)));
  pipeline.stop(std::chrono::milliseconds(1000));
  ASSERT_TRUE(recorded) << "the held outcome was recorded before the claim returned";
  ASSERT_FALSE(known) << "and not yet written";

  EXPECT_EQ(origin_.request_count("/photos/" + photo), 1u) << "downloaded once";
  const auto made = image(first, 0);
  const auto reused = image(second, 0);
  ASSERT_EQ(made.state, core::TaskState::done) << made.error.value_or("");
  ASSERT_EQ(reused.state, core::TaskState::done) << reused.error.value_or("");
  EXPECT_EQ(made.reused, core::Reuse::none);
  EXPECT_EQ(reused.reused, core::Reuse::duplicate);
  EXPECT_EQ(reused.blob_key, made.blob_key) << "one image for both";
  EXPECT_EQ(made.blob_key, first + "/" + made.output_name.value_or(""));
  EXPECT_EQ(store_->get_request(second)->progress.reused, 1);
}

TEST_F(PipelineTest, ExpiredLeasesOfADeadProcessAreTakenBack) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  const auto id = create({origin_.url("/photos/" + photo)});
  // A process that claimed the task and died: its lease ran out a moment ago.
  ASSERT_EQ(store_->claim_tasks("dead-process", 10, core::now_ms() - 2000, 1000).size(), 1u);
  auto fetcher = make_fetcher();
  auto pipeline = make_pipeline(options(1), *fetcher);
  pipeline->start();
  ASSERT_TRUE(completions_.wait_for(id, std::chrono::seconds(30)));
  EXPECT_EQ(image(id, 0).state, core::TaskState::done);
  EXPECT_EQ(image(id, 0).attempts, 2);
}

// The lease owner name of a pipeline in a process that has run and is gone: a child that
// exits at once, named while it exists (a zombie keeps its identity), then reaped.
std::string owner_of_a_dead_process() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  const auto identity = core::process_identity_of(child);
  ::waitpid(child, nullptr, 0);
  if (!identity) return "";
  return core::to_string(*identity) + "/1";
}

TEST_F(PipelineTest, TheLeasesOfADeadProcessOfThisHostAreTakenBackWithoutWaitingForExpiry) {
  const auto photo =
      std::filesystem::directory_iterator(TestOrigin::photos_dir())->path().filename().string();
  const auto dead_id = create({origin_.url("/photos/" + photo + "?dead")});
  const auto dead_owner = owner_of_a_dead_process();
  ASSERT_FALSE(dead_owner.empty());
  // Leases of an hour: only knowing that the owner is dead can free them in time.
  constexpr core::TimeMs kHour = 3'600'000;
  ASSERT_EQ(store_->claim_tasks(dead_owner, 10, core::now_ms(), kHour).size(), 1u);
  // A live owner: this very process, as another pipeline would name itself.
  const auto live_id = create({origin_.url("/photos/" + photo + "?live")});
  const auto live_owner = core::to_string(core::this_process()) + "/999";
  ASSERT_EQ(store_->claim_tasks(live_owner, 10, core::now_ms(), kHour).size(), 1u);

  auto fetcher = make_fetcher();
  auto o = options(1);
  o.dead_owner_check = std::chrono::milliseconds(50);
  auto pipeline = make_pipeline(o, *fetcher);
  pipeline->start();
  ASSERT_TRUE(completions_.wait_for(dead_id, std::chrono::seconds(30)));
  EXPECT_EQ(image(dead_id, 0).state, core::TaskState::done);
  EXPECT_EQ(image(dead_id, 0).attempts, 2);

  // Many checks later, the live owner still holds its lease.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(image(live_id, 0).state, core::TaskState::running);
  EXPECT_EQ(store_->lease_owners(), std::vector<std::string>{live_owner});
  EXPECT_EQ(completions_.count(live_id), 0);
}

}  // namespace
}  // namespace imgbatch::pipeline
