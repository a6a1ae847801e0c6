// The HTTP API (API.md) end to end through a real server on a loopback port, a real
// SQLite file and file storage in a temporary directory; no workers run, so tests move
// requests forward through the Store API themselves.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "core/ids.hpp"
#include "http/server.hpp"
#include "s3_blob_store.hpp"
#include "store/store.hpp"
#include "support/blob_options.hpp"
#include "support/http_client.hpp"
#include "support/silent_server.hpp"
#include "support/temp_dir.hpp"

namespace imgbatch {
namespace {

using test_support::FormField;
using test_support::HttpClient;
using test_support::HttpResponse;

constexpr const char* kPublicUrl = "http://files.example";

const std::string kTwoProducts =
    "S. No.,Product Name,Input Image Urls\n"
    "1,SKU1,\"https://img.example/a.jpg,https://img.example/b.jpg\"\n"
    "2,SKU2,https://img.example/c.jpg\n";

std::string products_csv(int n) {
  std::string csv = "S. No.,Product Name,Input Image Urls\n";
  for (int i = 1; i <= n; ++i)
    csv += std::to_string(i) + ",SKU" + std::to_string(i) + ",https://img.example/" +
           std::to_string(i) + ".jpg\n";
  return csv;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

FormField file_field(std::string csv) {
  return {"file", std::move(csv), "products.csv", "text/csv"};
}

// A problem+json answer with the given status; returns its body.
nlohmann::json expect_problem(const HttpResponse& r, long status) {
  EXPECT_EQ(r.status, status) << r.error << r.body;
  EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json") << r.body;
  nlohmann::json body;
  try {
    body = r.json();
  } catch (const std::exception&) {
    ADD_FAILURE() << "not JSON: " << r.body;
    return body;
  }
  EXPECT_EQ(body.value("type", ""), "about:blank");
  EXPECT_EQ(body.value("status", 0), status);
  EXPECT_FALSE(body.value("title", "").empty());
  EXPECT_FALSE(body.value("detail", "").empty());
  return body;
}

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.listen = "127.0.0.1:0";
    config_.public_url = kPublicUrl;
    config_.max_upload_bytes = 64 * 1024;
    store_ = store::open_store("sqlite:" + (dir_ / "imgbatch.db"));
    blob_ = blob::open_blob_store("file:" + (dir_ / "images"), test_support::blob_options(false));
    watch_ = store_->watch_new_work([this] { ++wakeups_; });
    server_ = std::make_unique<http::Server>(config_, *store_, *blob_);
    server_->start();
    ASSERT_NE(server_->port(), 0);
    client_ = std::make_unique<HttpClient>("http://127.0.0.1:" + std::to_string(server_->port()));
  }

  void TearDown() override { server_->stop(); }

  HttpResponse upload(std::vector<FormField> fields, const test_support::Headers& headers = {}) {
    return client_->post_form("/upload", fields, headers);
  }

  // Uploads `csv` and returns the new request's id.
  std::string upload_ok(const std::string& csv) {
    const auto r = upload({file_field(csv)});
    EXPECT_EQ(r.status, 202) << r.body;
    return r.json().value("request_id", "");
  }

  // The wake-ups so far, once there are `expected` of them or a generous wait has passed:
  // they come on the watch's own thread, soon after the upload's answer.
  int wakeups(int expected) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (wakeups_.load() < expected && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return wakeups_.load();
  }

  nlohmann::json get_json(const std::string& path, long status = 200) {
    const auto r = client_->get(path);
    EXPECT_EQ(r.status, status) << path << ": " << r.body;
    EXPECT_EQ(r.header("content-type").value_or(""), "application/json") << path;
    return r.json();
  }

  test_support::TempDir dir_;
  core::Config config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<blob::BlobStore> blob_;
  std::atomic<int> wakeups_{0};  // the workers' wake-ups, as the service gets them
  std::unique_ptr<store::WorkWatch> watch_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<HttpClient> client_;
};

// --- POST /upload -------------------------------------------------------------------

TEST_F(HttpApiTest, UploadOfTheSampleCsvIsAcceptedAndShownPending) {
  const auto sample = read_file(std::string(IMGBATCH_TESTDATA_DIR) + "/csv/sample.csv");
  ASSERT_FALSE(sample.empty());
  const auto r = upload({file_field(sample)});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.header("content-type").value_or(""), "application/json");
  const auto body = r.json();
  const std::string id = body.value("request_id", "");
  EXPECT_TRUE(core::is_uuid(id)) << id;
  EXPECT_EQ(body.value("message", ""), "Upload successful, processing started.");
  EXPECT_EQ(r.header("location").value_or(""), "/status?request_id=" + id);
  EXPECT_FALSE(r.header("idempotent-replayed").has_value());
  EXPECT_EQ(wakeups(1), 1);

  const auto status = get_json(*r.header("location"));
  EXPECT_EQ(status["request_id"], id);
  EXPECT_EQ(status["status"], "pending");
  EXPECT_EQ(status["products_total"], 2);
  EXPECT_EQ(status["offset"], 0);
  EXPECT_EQ(status["limit"], 1000);
  EXPECT_EQ(status["progress"]["total"], 6);
  EXPECT_EQ(status["progress"]["remaining"], 6);
  EXPECT_EQ(status["output_csv_url"], std::string(kPublicUrl) + "/requests/" + id + "/output.csv");
  ASSERT_EQ(status["products"].size(), 2u);
  const auto& first = status["products"][0];
  EXPECT_EQ(first["serial_number"], "1");
  EXPECT_EQ(first["product_name"], "SKU1");
  EXPECT_EQ(first["input_image_urls"], nlohmann::json({"https://www.public-image-url1.jpg",
                                                       "https://www.public-image-url2.jpg",
                                                       "https://www.public-image-url3.jpg"}));
  EXPECT_EQ(first["output_image_urls"], nlohmann::json({nullptr, nullptr, nullptr}));
  EXPECT_EQ(first["errors"], nlohmann::json::array());
  EXPECT_EQ(status["products"][1]["product_name"], "SKU2");
}

TEST_F(HttpApiTest, UploadOptionsAreStoredWithTheRequest) {
  const auto r = upload({file_field(kTwoProducts),
                         {"webhook_url", "https://hooks.example/done", std::nullopt, ""},
                         {"quality", "80", std::nullopt, ""},
                         {"format", "webp", std::nullopt, ""},
                         {"comment", "unknown fields are ignored", std::nullopt, ""}});
  ASSERT_EQ(r.status, 202) << r.body;
  const auto record = store_->get_request(r.json()["request_id"]);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->quality, 80);
  EXPECT_EQ(record->format, core::ImageFormat::webp);
  EXPECT_EQ(record->webhook_url.value_or(""), "https://hooks.example/done");

  // Without options, the configuration's defaults apply.
  const auto plain = upload({file_field(kTwoProducts)});
  ASSERT_EQ(plain.status, 202) << plain.body;
  const auto defaults = store_->get_request(plain.json()["request_id"]);
  ASSERT_TRUE(defaults.has_value());
  EXPECT_EQ(defaults->quality, config_.quality);
  EXPECT_EQ(defaults->format, config_.format);
  EXPECT_FALSE(defaults->webhook_url.has_value());
}

TEST_F(HttpApiTest, CsvProblemsAreAllListedAndNothingIsStored) {
  const std::string csv =
      "S. No.,Product Name,Input Image Urls\n"
      "1,SKU1,https://img.example/a.jpg\n"
      "2,,https://img.example/b.jpg\n"
      "3,SKU3,ftp://img.example/c.jpg\n"
      "1,SKU4,https://img.example/d.jpg\n";
  const auto body = expect_problem(upload({file_field(csv)}), 400);
  EXPECT_NE(body.value("detail", "").find("3 problems"), std::string::npos) << body.dump();
  ASSERT_TRUE(body.contains("errors"));
  ASSERT_EQ(body["errors"].size(), 3u) << body.dump();
  EXPECT_EQ(body["errors"][0]["line"], 3);
  EXPECT_EQ(body["errors"][0]["column"], "Product Name");
  EXPECT_EQ(body["errors"][1]["line"], 4);
  EXPECT_EQ(body["errors"][1]["column"], "Input Image Urls");
  EXPECT_EQ(body["errors"][2]["line"], 5);
  EXPECT_EQ(body["errors"][2]["column"], "S. No.");
  for (const auto& e : body["errors"]) EXPECT_FALSE(e.value("message", "").empty());

  EXPECT_EQ(get_json("/requests")["requests"].size(), 0u);
  EXPECT_EQ(wakeups(0), 0);
}

TEST_F(HttpApiTest, UploadThatIsNotMultipartIs415) {
  expect_problem(client_->post("/upload", kTwoProducts, "text/csv"), 415);
  expect_problem(client_->post("/upload", "{}", "application/json"), 415);
  expect_problem(client_->request("POST", "/upload", kTwoProducts, {}), 415);
  EXPECT_EQ(get_json("/requests")["requests"].size(), 0u);
}

TEST_F(HttpApiTest, UploadOverTheLimitIs413) {
  const std::string csv =
      products_csv(1) + std::string(static_cast<std::size_t>(config_.max_upload_bytes), 'x');
  const auto body = expect_problem(upload({file_field(csv)}), 413);
  EXPECT_NE(body.value("detail", "").find(std::to_string(config_.max_upload_bytes)),
            std::string::npos);
  EXPECT_EQ(get_json("/requests")["requests"].size(), 0u);

  // Right at the limit the size is not the problem.
  const auto small = upload({file_field(products_csv(3))});
  EXPECT_EQ(small.status, 202) << small.body;
}

TEST_F(HttpApiTest, UploadFarOverTheLimitIs413AndTheServerCarriesOn) {
  // Answered before the body is read (http_edges_test.cpp has the exact bytes), and curl,
  // still sending, reads the answer: no dropped connection.
  const std::string huge(4 * 1024 * 1024, 'x');
  const auto r = upload({file_field(huge)});
  expect_problem(r, 413);
  EXPECT_EQ(get_json("/health")["status"], "ok");
}

TEST_F(HttpApiTest, UploadWithoutTheFileFieldIs400) {
  const auto body = expect_problem(upload({{"quality", "80", std::nullopt, ""}}), 400);
  EXPECT_NE(body.value("detail", "").find("'file'"), std::string::npos) << body.dump();
  expect_problem(upload({file_field(kTwoProducts), file_field(kTwoProducts)}), 400);
  // multipart/form-data that is not a multipart body
  expect_problem(client_->post("/upload", "just text", test_support::form_content_type()), 400);
  expect_problem(client_->post("/upload", "x", "multipart/form-data"), 400);
}

TEST_F(HttpApiTest, BadUploadOptionsAre400) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"webhook_url", "ftp://hooks.example/x"},
      {"webhook_url", "not a url"},
      {"webhook_url", "/relative/path"},
      {"quality", "0"},
      {"quality", "101"},
      {"quality", "abc"},
      {"quality", "50.5"},
      {"quality", "8O"},
      {"format", "gif"},
      {"format", "jpeg2000"}};
  for (const auto& [name, value] : bad) {
    const auto body =
        expect_problem(upload({file_field(kTwoProducts), {name, value, std::nullopt, ""}}), 400);
    EXPECT_NE(body.value("detail", "").find(name), std::string::npos)
        << name << "=" << value << ": " << body.dump();
  }
  EXPECT_EQ(get_json("/requests")["requests"].size(), 0u);
}

TEST_F(HttpApiTest, IdempotencyKeyReplaysTheSameUploadAndRefusesAnother) {
  const test_support::Headers key = {{"Idempotency-Key", "order-42"}};
  const auto first = upload({file_field(kTwoProducts)}, key);
  ASSERT_EQ(first.status, 202) << first.body;
  const std::string id = first.json()["request_id"];

  const auto again = upload({file_field(kTwoProducts)}, key);
  ASSERT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(again.json()["request_id"], id);
  EXPECT_EQ(again.header("idempotent-replayed").value_or(""), "true");
  EXPECT_EQ(again.header("location").value_or(""), "/status?request_id=" + id);
  EXPECT_EQ(wakeups(1), 1);

  const auto body = expect_problem(upload({file_field(products_csv(3))}, key), 422);
  EXPECT_NE(body.value("detail", "").find("Idempotency-Key"), std::string::npos);
  // The same file with other options is another upload too.
  expect_problem(upload({file_field(kTwoProducts), {"quality", "90", std::nullopt, ""}}, key), 422);

  expect_problem(upload({file_field(kTwoProducts)}, {{"Idempotency-Key", std::string(256, 'k')}}),
                 400);
  EXPECT_EQ(get_json("/requests")["requests"].size(), 1u);
}

// --- GET /status and GET /requests ----------------------------------------------------

TEST_F(HttpApiTest, StatusPagesThroughProducts) {
  const auto id = upload_ok(products_csv(5));
  const auto page = get_json("/status?request_id=" + id + "&offset=1&limit=2");
  EXPECT_EQ(page["products_total"], 5);
  EXPECT_EQ(page["offset"], 1);
  EXPECT_EQ(page["limit"], 2);
  ASSERT_EQ(page["products"].size(), 2u);
  EXPECT_EQ(page["products"][0]["product_name"], "SKU2");
  EXPECT_EQ(page["products"][1]["product_name"], "SKU3");

  const auto past_end = get_json("/status?request_id=" + id + "&offset=10");
  EXPECT_EQ(past_end["products"].size(), 0u);
  EXPECT_EQ(past_end["products_total"], 5);

  EXPECT_EQ(get_json("/status?request_id=" + id + "&limit=5000")["limit"], 1000);
  for (const char* bad : {"&limit=-1", "&limit=abc", "&offset=-3", "&offset=1.5"})
    expect_problem(client_->get("/status?request_id=" + id + bad), 400);
}

TEST_F(HttpApiTest, StatusRejectsMissingMalformedAndUnknownIds) {
  expect_problem(client_->get("/status"), 400);
  expect_problem(client_->get("/status?request_id="), 400);
  expect_problem(client_->get("/status?request_id=123"), 400);
  expect_problem(client_->get("/status?request_id=../../etc/passwd"), 400);
  const auto body = expect_problem(client_->get("/status?request_id=" + core::new_uuid()), 404);
  EXPECT_NE(body.value("detail", "").find("no request"), std::string::npos);
}

TEST_F(HttpApiTest, RequestsListsRecentRequestsWithPaging) {
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.insert(upload_ok(products_csv(i + 1)));

  const auto all = get_json("/requests");
  EXPECT_EQ(all["limit"], 50);
  EXPECT_EQ(all["offset"], 0);
  ASSERT_EQ(all["requests"].size(), 3u);
  std::set<std::string> listed;
  for (const auto& r : all["requests"]) {
    listed.insert(r["request_id"].get<std::string>());
    EXPECT_EQ(r["status"], "pending");
    EXPECT_FALSE(r.contains("products"));
  }
  EXPECT_EQ(listed, ids);

  const auto first_two = get_json("/requests?limit=2");
  ASSERT_EQ(first_two["requests"].size(), 2u);
  const auto rest = get_json("/requests?limit=2&offset=2");
  ASSERT_EQ(rest["requests"].size(), 1u);
  EXPECT_EQ(rest["offset"], 2);
  EXPECT_EQ(get_json("/requests?limit=100000")["limit"], 500);
  expect_problem(client_->get("/requests?limit=x"), 400);
}

// --- finished requests: output.csv and images ------------------------------------------

class FinishedRequestTest : public HttpApiTest {
 protected:
  // Uploads kTwoProducts, then records, as a worker would, the image of product 0 and of
  // product 1 as done (putting their bytes) and the second image of product 0 as failed.
  void finish_request() {
    id_ = upload_ok(kTwoProducts);
    ASSERT_FALSE(id_.empty());
    const auto csv = client_->get("/requests/" + id_ + "/output.csv");
    const auto pending = expect_problem(csv, 409);
    EXPECT_NE(pending.value("detail", "").find("try again when status is completed"),
              std::string::npos);

    const auto now = core::now_ms();
    const auto tasks = store_->claim_tasks("http-test", 10, now, 60'000);
    ASSERT_EQ(tasks.size(), 3u);
    std::vector<core::TaskOutcome> outcomes;
    for (const auto& task : tasks) {
      core::TaskOutcome outcome;
      outcome.task_id = task.task_id;
      outcome.request_id = task.request_id;
      if (task.product_index == 0 && task.image_index == 1) {
        outcome.kind = core::TaskOutcome::Kind::failed;
        outcome.error = "download failed: HTTP 404";
      } else {
        const std::string name =
            std::to_string(task.product_index) + "-" + std::to_string(task.image_index) + ".jpg";
        const std::string bytes = "\xff\xd8\xff image " + name;
        ASSERT_TRUE(blob_->put(id_ + "/" + name, bytes).ok());
        images_[name] = bytes;
        outcome.kind = core::TaskOutcome::Kind::succeeded;
        outcome.output_name = name;
        outcome.bytes_out = static_cast<std::int64_t>(bytes.size());
      }
      outcomes.push_back(outcome);
    }
    const auto completed = store_->finish_tasks(outcomes, core::now_ms());
    ASSERT_EQ(completed, std::vector<std::string>{id_});
  }

  std::string image_url(const std::string& name) const {
    return std::string(kPublicUrl) + "/images/" + id_ + "/" + name;
  }

  std::string id_;
  std::map<std::string, std::string> images_;
};

TEST_F(FinishedRequestTest, StatusShowsOutputsAndErrors) {
  ASSERT_NO_FATAL_FAILURE(finish_request());
  const auto status = get_json("/status?request_id=" + id_);
  EXPECT_EQ(status["status"], "completed");
  EXPECT_EQ(status["progress"]["succeeded"], 2);
  EXPECT_EQ(status["progress"]["failed"], 1);
  EXPECT_EQ(status["products"][0]["output_image_urls"],
            nlohmann::json({image_url("0-0.jpg"), nullptr}));
  EXPECT_EQ(status["products"][0]["errors"][0]["url"], "https://img.example/b.jpg");
  EXPECT_EQ(status["products"][1]["output_image_urls"], nlohmann::json({image_url("1-0.jpg")}));
}

TEST_F(FinishedRequestTest, OutputCsvHasTheInputRowsAndOutputUrls) {
  ASSERT_NO_FATAL_FAILURE(finish_request());
  const auto r = client_->get("/requests/" + id_ + "/output.csv");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type").value_or(""), "text/csv; charset=utf-8");
  EXPECT_EQ(r.header("content-disposition").value_or(""),
            "attachment; filename=\"output-" + id_ + ".csv\"");
  const std::string expected =
      "S. No.,Product Name,Input Image Urls,Output Image Urls\r\n"
      "1,SKU1,\"https://img.example/a.jpg,https://img.example/b.jpg\",\"" +
      image_url("0-0.jpg") + ",\"\r\n" + "2,SKU2,https://img.example/c.jpg," +
      image_url("1-0.jpg") + "\r\n";
  EXPECT_EQ(r.body, expected);

  expect_problem(client_->get("/requests/" + core::new_uuid() + "/output.csv"), 404);
  expect_problem(client_->get("/requests/not-an-id/output.csv"), 404);
}

// --image-urls public: status and output CSV hand out the CDN's URLs for images; the CSV's
// own URL stays on this service.
TEST_F(FinishedRequestTest, ChosenImageLinksAreWhatStatusAndOutputCsvHandOut) {
  ASSERT_NO_FATAL_FAILURE(finish_request());
  server_->stop();
  http::ServerOptions options;
  options.image_links = std::make_shared<core::BaseUrlImageLinks>("https://cdn.test/shop/");
  server_ = std::make_unique<http::Server>(config_, *store_, *blob_, std::move(options));
  server_->start();
  client_ = std::make_unique<HttpClient>("http://127.0.0.1:" + std::to_string(server_->port()));

  const std::string cdn = "https://cdn.test/shop/" + id_ + "/";
  const auto status = get_json("/status?request_id=" + id_);
  EXPECT_EQ(status["products"][0]["output_image_urls"], nlohmann::json({cdn + "0-0.jpg", nullptr}));
  EXPECT_EQ(status["products"][1]["output_image_urls"], nlohmann::json({cdn + "1-0.jpg"}));
  EXPECT_EQ(status["output_csv_url"], std::string(kPublicUrl) + "/requests/" + id_ + "/output.csv");
  const auto csv = client_->get("/requests/" + id_ + "/output.csv");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_NE(csv.body.find("\"" + cdn + "0-0.jpg,\""), std::string::npos) << csv.body;
  EXPECT_NE(csv.body.find("," + cdn + "1-0.jpg\r\n"), std::string::npos) << csv.body;
  EXPECT_EQ(csv.body.find("/images/"), std::string::npos) << csv.body;
}

TEST_F(FinishedRequestTest, ImagesAreServedWithCachingHeaders) {
  ASSERT_NO_FATAL_FAILURE(finish_request());
  const std::string path = "/images/" + id_ + "/0-0.jpg";
  const auto r = client_->get(path);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, images_["0-0.jpg"]);
  EXPECT_EQ(r.header("content-type").value_or(""), "image/jpeg");
  EXPECT_EQ(r.header("cache-control").value_or(""), "public, max-age=31536000, immutable");
  const auto etag = r.header("etag").value_or("");
  ASSERT_GE(etag.size(), 3u);
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag.back(), '"');
  EXPECT_EQ(client_->get(path).header("etag").value_or(""), etag) << "ETag must be stable";
  EXPECT_NE(client_->get("/images/" + id_ + "/1-0.jpg").header("etag").value_or(""), etag);

  for (const std::string& match : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    const auto cached = client_->get(path, {{"If-None-Match", match}});
    EXPECT_EQ(cached.status, 304) << match;
    EXPECT_TRUE(cached.body.empty());
    EXPECT_EQ(cached.header("etag").value_or(""), etag);
  }
  const auto changed = client_->get(path, {{"If-None-Match", "\"something-else\""}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body, images_["0-0.jpg"]);
}

// HEAD answers from the tag and size the store keeps, without the bytes: same headers and
// Content-Length as the GET, no body.
TEST_F(FinishedRequestTest, HeadOfAnImageHasTheGetsHeadersAndNoBody) {
  ASSERT_NO_FATAL_FAILURE(finish_request());
  const std::string path = "/images/" + id_ + "/0-0.jpg";
  const auto got = client_->get(path);
  const auto head = client_->request("HEAD", path, "", {});
  ASSERT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  for (const char* name : {"etag", "cache-control", "content-type", "x-content-type-options"})
    EXPECT_EQ(head.header(name), got.header(name)) << name;
  EXPECT_EQ(head.header("content-length").value_or(""), std::to_string(images_["0-0.jpg"].size()));
  const auto tag = got.header("etag").value_or("");
  EXPECT_EQ(client_->request("HEAD", path, "", {{"If-None-Match", tag}}).status, 304);
  EXPECT_EQ(client_->request("HEAD", "/images/" + id_ + "/0-1.jpg", "", {}).status, 404);
}

// Images from an object store that has hung: the two threads that answer every request
// never wait on it (GET /images runs on its own pool); the images are answered 503 with
// Retry-After, not 404, once the store fails them: they may well exist. And stopping the
// server does not wait for a read hung on the store.
TEST_F(FinishedRequestTest, AHungImageStorageHoldsUpNothingButImages) {
  ASSERT_NO_FATAL_FAILURE(finish_request());
  test_support::SilentServer gateway;
  blob::S3ClientOptions options;
  options.stall_timeout = std::chrono::seconds(60);  // only the gateway or a stop ends a read
  options.read_timeout = std::chrono::minutes(2);
  options.read_attempts = 1;
  const auto location = blob::parse_s3_location("s3://bucket", gateway.url(), "us-east-1");
  ASSERT_TRUE(location.ok()) << location.message();
  blob::S3BlobStore hung(*location, blob::S3Credentials{"AKID", "SECRET", ""}, "us-east-1",
                         options);
  server_->stop();
  server_ = std::make_unique<http::Server>(config_, *store_, hung);
  server_->start();
  client_ = std::make_unique<HttpClient>("http://127.0.0.1:" + std::to_string(server_->port()));

  // More image requests than the server has threads, all waiting on the gateway.
  constexpr int kWaiting = 3;
  std::atomic<int> answered{0};
  std::vector<HttpResponse> images(kWaiting);
  std::vector<std::thread> readers;
  for (int i = 0; i < kWaiting; ++i)
    readers.emplace_back([&, i] {
      images[i] = client_->get("/images/" + id_ + "/0-0.jpg");
      ++answered;
    });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (gateway.connections() < kWaiting && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(gateway.connections(), kWaiting);

  // The rest of the API answers meanwhile.
  EXPECT_EQ(get_json("/health")["status"], "ok");
  EXPECT_EQ(get_json("/status?request_id=" + id_)["status"], "completed");
  EXPECT_EQ(answered.load(), 0) << "the image requests should still be waiting";

  // The gateway gives up on them without an answer.
  gateway.close_all();
  for (auto& reader : readers) reader.join();
  for (const auto& image : images) {
    const auto body = expect_problem(image, 503);
    EXPECT_EQ(image.header("retry-after").value_or(""), "5");
    EXPECT_NE(body.value("detail", "").find("storage"), std::string::npos) << image.body;
  }

  // One more read hangs; stopping the server cuts it instead of waiting a minute for it.
  std::thread last([&] { (void)client_->get("/images/" + id_ + "/0-0.jpg"); });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (gateway.connections() < kWaiting + 1 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(gateway.connections(), kWaiting + 1);
  const auto stopping = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(30));
  last.join();
}

// DELETE /requests/ID: an ended request is gone at once (204, then 404 everywhere); its
// rows are purged, and its stored images queued, by the deletion sweeper of the service
// (retention/), which this server alone does not run: the test runs its purge steps.
TEST_F(FinishedRequestTest, DeletingAnEndedRequestRemovesItAndQueuesItsImages) {
  ASSERT_NO_FATAL_FAILURE(finish_request());
  const auto deleted = client_->request("DELETE", "/requests/" + id_, "", {});
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.body.empty());
  EXPECT_FALSE(deleted.header("content-type").has_value());
  expect_problem(client_->get("/status?request_id=" + id_), 404);
  expect_problem(client_->get("/requests/" + id_ + "/output.csv"), 404);
  expect_problem(client_->request("DELETE", "/requests/" + id_, "", {}), 404);
  EXPECT_EQ(get_json("/requests")["requests"].size(), 0u);
  EXPECT_TRUE(store_->pending_blob_deletions(10).empty()) << "not purged yet";
  while (store_->purge_step(std::nullopt, core::now_ms(), 500).more) {
  }
  EXPECT_EQ(store_->pending_blob_deletions(10),
            (std::vector<std::string>{id_ + "/0-0.jpg", id_ + "/1-0.jpg"}));
  expect_problem(client_->request("DELETE", "/requests/not-an-id", "", {}), 404);
}

// DELETE /requests/ID on a request that has not ended cancels it (docs/API.md,
// "Cancelling a request"): 200 with its summary, its open images dropped, its webhook
// queued; it is then an ended request like any other, which a second DELETE deletes.
TEST_F(HttpApiTest, DeletingARequestThatHasNotEndedCancelsIt) {
  const auto accepted = upload({file_field(kTwoProducts),
                                {"webhook_url", "https://hooks.example/cancel", std::nullopt, ""}});
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  const std::string id = accepted.json().value("request_id", "");
  const auto cancelled = client_->request("DELETE", "/requests/" + id, "", {});
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.header("content-type").value_or(""), "application/json");
  const auto summary = cancelled.json();
  EXPECT_EQ(summary["request_id"], id);
  EXPECT_EQ(summary["status"], "cancelled");
  EXPECT_EQ(summary["progress"]["remaining"], 3);

  const auto doc = get_json("/status?request_id=" + id);
  EXPECT_EQ(doc["status"], "cancelled");
  ASSERT_EQ(doc["products"].size(), 2u);
  EXPECT_EQ(doc["products"][0]["errors"][0]["message"], "cancelled");
  EXPECT_EQ(get_json("/requests")["requests"][0]["status"], "cancelled");
  const auto csv = client_->get("/requests/" + id + "/output.csv");
  EXPECT_EQ(csv.status, 200) << "a cancelled request has ended";
  EXPECT_EQ(store_->queue_depth().pending, 0);
  EXPECT_TRUE(store_->claim_tasks("w", 10, core::now_ms(), 30'000).empty());
  const auto deliveries = store_->claim_deliveries(core::now_ms(), 10, 30'000);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].request_id, id);
  EXPECT_EQ(deliveries[0].url, "https://hooks.example/cancel");

  EXPECT_EQ(client_->request("DELETE", "/requests/" + id, "", {}).status, 204);
  expect_problem(client_->get("/status?request_id=" + id), 404);
  expect_problem(client_->request("DELETE", "/requests/" + id, "", {}), 404);
  EXPECT_TRUE(store_->pending_blob_deletions(10).empty()) << "nothing was stored";
}

TEST_F(FinishedRequestTest, MissingImagesAndTraversalAttemptsAre404) {
  ASSERT_NO_FATAL_FAILURE(finish_request());
  for (const std::string& path : std::vector<std::string>{
           "/images/" + id_ + "/0-1.jpg",               // the failed image
           "/images/" + core::new_uuid() + "/0-0.jpg",  // another request
           "/images/" + id_ + "/0-0.png",               // another extension
           "/images/" + id_ + "/0-0.jpg.txt", "/images/" + id_ + "/..",
           "/images/" + id_ + "/%2e%2e", "/images/" + id_ + "/..%2f..%2fimgbatch.db",
           std::string("/images/../imgbatch.db"), std::string("/images/%2e%2e/imgbatch.db"),
           std::string("/images/%2e%2e/%2e%2e/imgbatch.db"), "/images/" + id_ + "%2f0-0.jpg/x",
           "/images/" + id_}) {
    const auto r = client_->get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.header("content-type").value_or(""), "application/problem+json") << path;
    EXPECT_EQ(r.body.find("\xff\xd8\xff"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("SQLite"), std::string::npos) << path;
  }
}

// --- health, webhook receiver, routing -------------------------------------------------

TEST_F(HttpApiTest, HealthIsOkWhenTheDatabaseAnswers) {
  EXPECT_EQ(get_json("/health"), nlohmann::json({{"status", "ok"}}));
}

TEST_F(HttpApiTest, WebhookReceiverKeepsJsonNotifications) {
  const auto r = client_->post("/webhook", R"({"request_id":"r1","status":"completed"})",
                               "application/json", {{"webhook-id", "msg_1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type").value_or(""), "application/json");
  EXPECT_EQ(r.json(), nlohmann::json({{"message", "Webhook received successfully."}}));
  ASSERT_EQ(client_->post("/webhook", R"({"n":2})", "application/json").status, 200);

  expect_problem(client_->post("/webhook", "not json", "application/json"), 400);
  expect_problem(client_->post("/webhook", "", "application/json"), 400);

  const auto events = get_json("/webhook/events")["events"];
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["body"], nlohmann::json({{"n", 2}}));
  EXPECT_TRUE(events[0]["id"].is_null());
  EXPECT_EQ(events[1]["id"], "msg_1");
  EXPECT_EQ(events[1]["body"]["request_id"], "r1");
  EXPECT_TRUE(events[1]["received_at"].is_string());
}

TEST_F(HttpApiTest, WebhookReceiverKeepsOnlyTheLatestEvents) {
  for (int i = 0; i < 105; ++i)
    ASSERT_EQ(
        client_->post("/webhook", "{\"n\":" + std::to_string(i) + "}", "application/json").status,
        200);
  const auto events = get_json("/webhook/events")["events"];
  ASSERT_EQ(events.size(), 100u);
  EXPECT_EQ(events.front()["body"]["n"], 104);
  EXPECT_EQ(events.back()["body"]["n"], 5);
}

TEST_F(HttpApiTest, WebhookVerifierRefusalIs401) {
  core::Config config = config_;
  http::ServerOptions options;
  options.webhook_verifier = [](const http::HeaderLookup& header,
                                std::string_view body) -> std::optional<std::string> {
    if (header("Webhook-Signature") != std::optional<std::string>("v1,good:" + std::string(body)))
      return "the signature does not match";
    return std::nullopt;
  };
  http::Server guarded(config, *store_, *blob_, std::move(options));
  guarded.start();
  HttpClient client("http://127.0.0.1:" + std::to_string(guarded.port()));

  const auto refused = expect_problem(
      client.post("/webhook", "{}", "application/json", {{"webhook-signature", "v1,bad"}}), 401);
  EXPECT_EQ(refused.value("detail", ""), "the signature does not match");
  EXPECT_EQ(client.post("/webhook", "{}", "application/json", {{"webhook-signature", "v1,good:{}"}})
                .status,
            200);
  EXPECT_EQ(client.get("/webhook/events").json()["events"].size(), 1u);
  guarded.stop();
}

TEST_F(HttpApiTest, UnknownRoutesAre404Problems) {
  // "/" is the dashboard (routes_web.cpp); the page is not served under other names.
  for (const char* path : {"/index.html", "/nope", "/status/extra", "/requests/x/y", "/images"}) {
    const auto body = expect_problem(client_->get(path), 404);
    EXPECT_NE(body.value("detail", "").find(path), std::string::npos) << body.dump();
  }
  expect_problem(client_->request("POST", "/nope", "x", {}), 404);
  // /requests/ID is there for DELETE only.
  const auto get = client_->get("/requests/" + core::new_uuid());
  expect_problem(get, 405);
  EXPECT_EQ(get.header("allow").value_or(""), "DELETE");
}

TEST_F(HttpApiTest, WrongMethodsAre405WithAllow) {
  const struct {
    const char* method;
    const char* path;
    const char* allow;
  } cases[] = {{"GET", "/upload", "POST"},         {"PUT", "/upload", "POST"},
               {"DELETE", "/status", "GET, HEAD"}, {"POST", "/health", "GET, HEAD"},
               {"GET", "/webhook", "POST"},        {"POST", "/images/x/0-0.jpg", "GET, HEAD"}};
  for (const auto& c : cases) {
    const auto r = client_->request(c.method, c.path, {}, {});
    expect_problem(r, 405);
    EXPECT_EQ(r.header("allow").value_or(""), c.allow) << c.method << " " << c.path;
  }
}

TEST_F(HttpApiTest, MalformedPercentEscapesAre400) {
  expect_problem(client_->get("/images/%zz/0-0.jpg"), 400);
}

}  // namespace
}  // namespace imgbatch
