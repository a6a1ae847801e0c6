// The original system end to end through the real binary: upload a CSV whose URLs point
// at a local origin serving real photos, wait for `completed`, fetch every output image
// and the output CSV, and receive the completion webhook.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <vips/vips8>

#include "csv/csv.hpp"
#include "support/csv_items.hpp"
#include "support/running_server.hpp"
#include "support/test_origin.hpp"

namespace imgbatch::test_support {
namespace {

std::vector<std::string> photo_names() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(TestOrigin::photos_dir()))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class EndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { VIPS_INIT("e2e_test"); }
};

TEST_F(EndToEnd, UploadCompletesWithImagesOutputCsvAndOneWebhook) {
  TestOrigin origin;
  RunningServer server;
  auto client = server.client();
  const auto photos = photo_names();
  ASSERT_GE(photos.size(), 10u);

  // Product 1 and 2 take every photo between them; product 3 mixes a 404 and an HTML page
  // with a good image, so failures sit beside successes; an extra column rides along.
  std::string csv = "S. No.,Product Name,Input Image Urls,Colour\n";
  std::vector<std::string> first, second;
  for (std::size_t i = 0; i < photos.size(); ++i)
    (i % 2 ? second : first).push_back(origin.url("/photos/" + photos[i]));
  const auto join = [](const std::vector<std::string>& urls) {
    std::string s;
    for (const auto& u : urls) s += (s.empty() ? "" : ",") + u;
    return s;
  };
  csv += "1,\"Shirt, blue\",\"" + join(first) + "\",blue\n";
  csv += "2,SKU2,\"" + join(second) + "\",red\n";
  csv += "3,SKU3,\"" + origin.url("/status/404") + " " + origin.url("/html") + " " +
         origin.url("/photos/" + photos[0] + "?v=3") + "\",green\n";
  const std::size_t total = photos.size() + 3;

  auto upload = client.post_form(
      "/upload", {{"file", csv, "products.csv", "text/csv"},
                  {"webhook_url", server.base_url() + "/webhook", std::nullopt, ""}});
  ASSERT_EQ(upload.status, 202) << upload.body;
  const std::string id = upload.json()["request_id"];
  EXPECT_EQ(upload.json()["message"], "Upload successful, processing started.");
  EXPECT_EQ(upload.header("location"), "/status?request_id=" + id);

  const auto doc = server.wait_until_ended(id);
  ASSERT_EQ(doc["status"], "completed") << doc.dump(2);
  EXPECT_EQ(doc["progress"]["total"], total);
  EXPECT_EQ(doc["progress"]["succeeded"], total - 2);
  EXPECT_EQ(doc["progress"]["failed"], 2);
  EXPECT_EQ(doc["progress"]["remaining"], 0);
  ASSERT_EQ(doc["products"].size(), 3u);
  EXPECT_EQ(doc["products"][0]["product_name"], "Shirt, blue");

  // Every output exists, is a JPEG that libvips decodes, keeps the input's dimensions and
  // is smaller than the input.
  std::set<std::string> seen;
  for (const auto& product : doc["products"]) {
    const auto& inputs = product["input_image_urls"];
    const auto& outputs = product["output_image_urls"];
    ASSERT_EQ(inputs.size(), outputs.size());
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      if (outputs[i].is_null()) continue;
      const std::string url = outputs[i];
      EXPECT_TRUE(seen.insert(url).second) << "output URL used twice: " << url;
      auto image = client.request("GET", url, "", {});
      ASSERT_EQ(image.status, 200) << url;
      EXPECT_EQ(image.header("content-type"), "image/jpeg");
      ASSERT_GE(image.body.size(), 3u);
      EXPECT_EQ(static_cast<unsigned char>(image.body[0]), 0xFF);
      EXPECT_EQ(static_cast<unsigned char>(image.body[1]), 0xD8);
      const std::string input_url = inputs[i];
      const auto name = input_url.substr(input_url.find("/photos/") + 8);
      const auto input_path = TestOrigin::photos_dir() / name.substr(0, name.find('?'));
      auto decoded = vips::VImage::new_from_buffer(image.body.data(), image.body.size(), "");
      auto original = vips::VImage::new_from_file(input_path.c_str());
      EXPECT_EQ(decoded.width(), original.width()) << url;
      EXPECT_EQ(decoded.height(), original.height()) << url;
      EXPECT_LT(image.body.size(), std::filesystem::file_size(input_path)) << url;
    }
  }
  EXPECT_EQ(seen.size(), total - 2);
  const auto& third = doc["products"][2];
  EXPECT_TRUE(third["output_image_urls"][0].is_null());
  EXPECT_TRUE(third["output_image_urls"][1].is_null());
  EXPECT_FALSE(third["output_image_urls"][2].is_null());
  ASSERT_EQ(third["errors"].size(), 2u);
  EXPECT_EQ(third["errors"][0]["index"], 0);
  EXPECT_NE(third["errors"][0]["message"].get<std::string>().find("404"), std::string::npos);
  EXPECT_EQ(third["errors"][1]["index"], 1);
  EXPECT_NE(third["errors"][1]["message"].get<std::string>().find("not an image"),
            std::string::npos)
      << third["errors"][1]["message"];

  // The output CSV: input columns + Output Image Urls, rows in input order, an empty item
  // where an image failed.
  auto output_csv = client.get("/requests/" + id + "/output.csv");
  ASSERT_EQ(output_csv.status, 200) << output_csv.body;
  auto parsed = csv::parse_and_validate(output_csv.body);
  ASSERT_TRUE(parsed.ok()) << output_csv.body;
  const std::vector<std::string> columns = {"S. No.", "Product Name", "Input Image Urls", "Colour",
                                            "Output Image Urls"};
  EXPECT_EQ(parsed.csv->columns, columns);
  ASSERT_EQ(parsed.csv->products.size(), 3u);
  for (std::size_t p = 0; p < 3; ++p) {
    const auto& row = parsed.csv->products[p];
    EXPECT_EQ(row.fields[3], (std::vector<std::string>{"blue", "red", "green"}[p]));
    const auto items = split_items(row.fields[4]);
    const auto& outputs = doc["products"][p]["output_image_urls"];
    ASSERT_EQ(items.size(), outputs.size()) << row.fields[4];
    for (std::size_t i = 0; i < items.size(); ++i)
      EXPECT_EQ(items[i], outputs[i].is_null() ? "" : outputs[i].get<std::string>());
  }

  // The webhook (imgbatch's own receiver) gets the final document, once.
  nlohmann::json events;
  for (int i = 0; i < 300; ++i) {  // up to 30 s: a delivery ends the wait at once
    events = client.get("/webhook/events").json()["events"];
    if (!events.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a duplicate would show now
  events = client.get("/webhook/events").json()["events"];
  ASSERT_EQ(events.size(), 1u) << events.dump(2);
  const auto& payload = events[0]["body"];
  EXPECT_EQ(payload["request_id"], id);
  EXPECT_EQ(payload["status"], "completed");
  EXPECT_EQ(payload["progress"], doc["progress"]);
  EXPECT_EQ(payload["products"], doc["products"]);

  // No temporary file is left in storage.
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(server.folder() / "images"))
    EXPECT_NE(entry.path().filename().string().rfind(".tmp-", 0), 0u) << entry.path();

  // SIGTERM: a clean stop with exit code 0.
  server.process().signal(SIGTERM);
  EXPECT_EQ(server.process().wait(std::chrono::seconds(20)), 0) << server.process().log();
}

TEST_F(EndToEnd, StatusShowsPendingThenProgressForALargeRequest) {
  TestOrigin origin;
  RunningServer server({"--workers", "1"});
  auto client = server.client();
  const auto photos = photo_names();
  std::string csv = "S. No.,Product Name,Input Image Urls\n";
  for (int row = 0; row < 20; ++row)
    csv += std::to_string(row + 1) + ",P" + std::to_string(row) + "," +
           origin.url("/photos/" + photos[row % photos.size()] + "?v=" + std::to_string(row)) +
           "\n";
  auto upload = client.post_form("/upload", {{"file", csv, "p.csv", "text/csv"}});
  ASSERT_EQ(upload.status, 202) << upload.body;
  const std::string id = upload.json()["request_id"];

  // The answer does not wait for the work: right after the upload most images remain.
  auto early = client.get("/status?request_id=" + id).json();
  EXPECT_GT(early["progress"]["remaining"].get<int>(), 0);
  EXPECT_TRUE(early["status"] == "pending" || early["status"] == "processing");

  const auto doc = server.wait_until_ended(id);
  EXPECT_EQ(doc["status"], "completed");
  EXPECT_EQ(doc["progress"]["succeeded"], 20);

  // Paging through products.
  auto page = client.get("/status?request_id=" + id + "&offset=5&limit=3").json();
  EXPECT_EQ(page["products_total"], 20);
  ASSERT_EQ(page["products"].size(), 3u);
  EXPECT_EQ(page["products"][0]["serial_number"], "6");

  // The request is listed.
  auto list = client.get("/requests").json();
  ASSERT_FALSE(list["requests"].empty());
  EXPECT_EQ(list["requests"][0]["request_id"], id);
}

// Fair turns (issue 13): a small request uploaded while a big one runs is served at once,
// turn about with it, instead of after every image of the big one. With the old order
// (oldest request first) the big request had at most the worker's capacity (4 downloads
// + 2 queued) left when the small one ended; with turns it has nearly all of it left.
TEST_F(EndToEnd, ASmallRequestUploadedDuringABigOneEndsLongBeforeIt) {
  TestOrigin origin;
  RunningServer server({"--workers", "1", "--download-concurrency", "4"});
  auto client = server.client();
  const auto photos = photo_names();
  const auto csv_of = [&](const std::string& tag, int rows) {
    std::string csv = "S. No.,Product Name,Input Image Urls\n";
    for (int row = 0; row < rows; ++row)
      csv += std::to_string(row + 1) + ",P" + std::to_string(row) + "," +
             origin.url("/photos/" + photos[row % photos.size()] + "?" + tag + "=" +
                        std::to_string(row)) +
             "\n";
    return csv;
  };
  constexpr int kBig = 300;
  auto big = client.post_form("/upload", {{"file", csv_of("big", kBig), "big.csv", "text/csv"}});
  ASSERT_EQ(big.status, 202) << big.body;
  const std::string big_id = big.json()["request_id"];
  // Wait until the big request is under way.
  for (int i = 0; i < 600; ++i) {
    const auto doc = client.get("/status?request_id=" + big_id + "&limit=1").json();
    if (doc["progress"]["succeeded"].get<int>() >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  auto small = client.post_form("/upload", {{"file", csv_of("small", 3), "small.csv", "text/csv"}});
  ASSERT_EQ(small.status, 202) << small.body;
  const auto small_doc = server.wait_until_ended(small.json()["request_id"]);
  EXPECT_EQ(small_doc["status"], "completed");
  EXPECT_EQ(small_doc["progress"]["succeeded"], 3);

  const auto big_doc = client.get("/status?request_id=" + big_id + "&limit=1").json();
  EXPECT_EQ(big_doc["status"], "processing");
  EXPECT_GT(big_doc["progress"]["remaining"].get<int>(), kBig / 2)
      << "the small request waited for most of the big one: " << big_doc["progress"].dump();
}

// `worker --metrics-listen`: a process without the API can be scraped. An API-only node
// takes the upload; the worker, on the same database, does the images, and its own
// GET /metrics counts them, its GET /health (and HEAD) answers, and nothing of the API is
// served.
TEST_F(EndToEnd, AWorkerServesItsMetricsAndHealth) {
  TestOrigin origin;
  RunningServer api({"--workers", "0"});
  const int metrics_port = free_port();
  ChildProcess worker(IMGBATCH_EXE,
                      {"worker", "--workers", "1", "--allow-private-networks", "--db",
                       "sqlite:" + (api.folder() / "db.sqlite").string(), "--storage",
                       "file:" + (api.folder() / "images").string(), "--metrics-listen",
                       "127.0.0.1:" + std::to_string(metrics_port)},
                      (api.folder() / "worker.log").string());
  ASSERT_TRUE(worker.wait_for_port(metrics_port, std::chrono::seconds(20))) << worker.log();
  const HttpClient monitoring("http://127.0.0.1:" + std::to_string(metrics_port));

  const auto photos = photo_names();
  const auto upload = api.client().post_form(
      "/upload",
      {{"file",
        "S. No.,Product Name,Input Image Urls\n1,SKU1," + origin.url("/photos/" + photos.at(0)) +
            "\n2,SKU2," + origin.url("/photos/" + photos.at(1)) + "\n",
        "p.csv", "text/csv"}});
  ASSERT_EQ(upload.status, 202) << upload.body;
  const auto doc = api.wait_until_ended(upload.json()["request_id"].get<std::string>());
  EXPECT_EQ(doc["progress"]["succeeded"], 2) << doc.dump();

  const auto health = monitoring.get("/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json()["status"], "ok");
  const auto scrape = monitoring.get("/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.body.find("\nimgbatch_images_total{outcome=\"succeeded\"} 2\n"),
            std::string::npos)
      << scrape.body;
  // HEAD answers as on the API (docs/API.md#http): the GET's headers, no body.
  const auto head = monitoring.request("HEAD", "/health", "", {});
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(monitoring.get("/status?request_id=x").status, 404);
  EXPECT_EQ(monitoring.get("/").status, 404);
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait(std::chrono::seconds(20)), 0) << worker.log();
}

// `serve --retention`: a request that ended longer ago than that goes by itself, its
// status, output CSV and images answering 404 and its stored files removed.
TEST_F(EndToEnd, RetentionDeletesAnEndedRequestWithItsImages) {
  TestOrigin origin;
  RunningServer server({"--retention", "1s", "--workers", "1"});
  auto client = server.client();
  const auto photos = photo_names();
  ASSERT_GE(photos.size(), 2u);
  const std::string csv = "S. No.,Product Name,Input Image Urls\n1,SKU1,\"" +
                          origin.url("/photos/" + photos[0]) + "," +
                          origin.url("/photos/" + photos[1]) + "\"\n";
  auto upload = client.post_form("/upload", {{"file", csv, "products.csv", "text/csv"}});
  ASSERT_EQ(upload.status, 202) << upload.body;
  const std::string id = upload.json()["request_id"];
  ASSERT_EQ(server.wait_until_ended(id)["status"], "completed");
  // Gone for clients at once when marked, files gone after the purge and the sweep.
  const auto folder = server.folder() / "images" / id;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (
      (client.get("/status?request_id=" + id).status != 404 || std::filesystem::exists(folder)) &&
      std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(client.get("/status?request_id=" + id).status, 404);
  EXPECT_EQ(client.get("/requests/" + id + "/output.csv").status, 404);
  EXPECT_EQ(client.get("/images/" + id + "/0-0.jpg").status, 404);
  EXPECT_FALSE(std::filesystem::exists(folder)) << "its images were removed";
  EXPECT_NE(server.process().log().find("retention: 1 request(s)"), std::string::npos)
      << server.process().log();
}

TEST_F(EndToEnd, AnInvalidCsvIsRefusedWhole) {
  RunningServer server;
  auto client = server.client();
  const std::string csv =
      "S. No.,Product Name,Input Image Urls\n"
      "1,A,https://example.com/a.jpg\n"
      "1,B,ftp://example.com/b.jpg\n"
      ",C,https://example.com/c.jpg\n";
  auto upload = client.post_form("/upload", {{"file", csv, "p.csv", "text/csv"}});
  ASSERT_EQ(upload.status, 400) << upload.body;
  EXPECT_EQ(upload.header("content-type"), "application/problem+json");
  const auto problem = upload.json();
  ASSERT_GE(problem["errors"].size(), 3u) << problem.dump(2);
  std::set<int> lines;
  for (const auto& e : problem["errors"]) lines.insert(e["line"].get<int>());
  EXPECT_EQ(lines, (std::set<int>{3, 4}));
  EXPECT_TRUE(client.get("/requests").json()["requests"].empty());
}

// --log-format json: every line on stderr is one JSON object, and every line about the
// upload (its creation, its images, its completion, its webhook, the HTTP calls that name
// it) carries its id in "request_id". GET /metrics is served by the real binary too.
TEST_F(EndToEnd, JsonLogsCarryTheRequestIdOnEveryLineAboutIt) {
  TestOrigin origin;
  RunningServer server({"--log-format", "json"}, nullptr, {{"IMGBATCH_LOG_LEVEL", "debug"}});
  auto client = server.client();
  const auto photo = photo_names().at(0);
  const std::string csv = "S. No.,Product Name,Input Image Urls\n1,Good," +
                          origin.url("/photos/" + photo) + "\n2,\"Quote \"\"q\"\"\"," +
                          origin.url("/status/404") + "\n";
  auto upload = client.post_form(
      "/upload", {{"file", csv, "products.csv", "text/csv"},
                  {"webhook_url", server.base_url() + "/webhook", std::nullopt, ""}});
  ASSERT_EQ(upload.status, 202) << upload.body;
  const std::string id = upload.json()["request_id"];
  ASSERT_EQ(server.wait_until_ended(id)["status"], "completed");
  EXPECT_EQ(client.get("/requests/" + id + "/output.csv").status, 200);
  EXPECT_EQ(client.get("/images/" + id + "/0-0.jpg").status, 200);
  // Until the dispatcher has logged the delivery, not merely until the receiver holds
  // it: the answer to the dispatcher comes after that, and a SIGTERM in between could cut
  // it off, the attempt then logged as failed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server.process().log().find("delivered to ") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

  const auto metrics = client.get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("imgbatch_images_total{outcome=\"succeeded\"} 1\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("imgbatch_image_failures_total{reason=\"download_http_status\"} 1\n"),
            std::string::npos)
      << metrics.body;

  server.process().signal(SIGTERM);
  ASSERT_EQ(server.process().wait(std::chrono::seconds(20)), 0);

  const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  std::vector<std::string> about_request;
  std::istringstream log(server.process().log());
  int lines = 0;
  for (std::string line; std::getline(log, line);) {
    ++lines;
    nlohmann::json entry;
    try {
      entry = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      ADD_FAILURE() << "not a JSON object: " << line;
      continue;
    }
    ASSERT_TRUE(entry.is_object()) << line;
    EXPECT_TRUE(std::regex_match(entry.value("time", ""), rfc3339)) << line;
    EXPECT_FALSE(entry.value("level", "").empty()) << line;
    const std::string message = entry.value("message", "");
    EXPECT_FALSE(message.empty()) << line;
    if (message.find(id) != std::string::npos) {
      EXPECT_EQ(entry.value("request_id", ""), id) << "names the request without its id: " << line;
    }
    if (entry.value("request_id", "") == id) about_request.push_back(message);
  }
  EXPECT_GT(lines, 5);
  const auto has = [&](const std::string& part) {
    return std::any_of(about_request.begin(), about_request.end(),
                       [&](const std::string& m) { return m.find(part) != std::string::npos; });
  };
  EXPECT_TRUE(has("request created")) << ::testing::PrintToString(about_request);
  EXPECT_TRUE(has("POST /upload 202"));
  EXPECT_TRUE(has("GET /status?request_id=" + id + " 200"));
  EXPECT_TRUE(has("failed (download_http_status): download failed: HTTP 404"));
  EXPECT_TRUE(has("request completed"));
  EXPECT_TRUE(has("GET /requests/" + id + "/output.csv 200"));
  EXPECT_TRUE(has("GET /images/" + id + "/0-0.jpg 200"));
  EXPECT_TRUE(has("delivered to " + server.base_url() + "/webhook"));
}

}  // namespace
}  // namespace imgbatch::test_support
