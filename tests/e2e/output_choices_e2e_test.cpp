// Issue 14 through the real binary: an upload's output choices (quality=auto, sizes,
// max_bytes, never_larger) reach every image, every size is stored and served, and the
// status, the output CSV and the webhook tell what became of each image (docs/API.md,
// "Output choices"). The image-level behaviour is tested in detail by
// tests/unit/imaging/process_test.cpp; these check the wiring, end to end.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <vips/vips8>

#include "csv/csv.hpp"
#include "support/csv_items.hpp"
#include "support/running_server.hpp"
#include "support/temp_dir.hpp"
#include "support/test_origin.hpp"

namespace imgbatch::test_support {
namespace {

using vips::VImage;

VImage decode(const std::string& bytes) {
  return VImage::new_from_buffer(bytes.data(), bytes.size(), "");
}

std::filesystem::path edge_dir() { return TestOrigin::photos_dir().parent_path() / "edge"; }

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string saved(VipsBlob* blob) {
  std::size_t length = 0;
  const void* data = vips_blob_get(blob, &length);
  std::string bytes(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

class OutputChoicesE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { VIPS_INIT("output_choices_e2e_test"); }
};

TEST_F(OutputChoicesE2E, AutoQualityAndSizesReachEveryImageStatusCsvAndWebhook) {
  TestOrigin origin(edge_dir());  // Landscape_6 and _8 are stored on their side (EXIF)
  TestOrigin photos;
  RunningServer server;
  auto client = server.client();
  const std::vector<std::string> urls = {
      origin.url("/photos/Landscape_1.jpg"), origin.url("/photos/Landscape_6.jpg"),
      origin.url("/photos/Landscape_8.jpg"), photos.url("/photos/FreshFlower.jpg")};
  const std::string csv = "S. No.,Product Name,Input Image Urls\n1,SKU1,\"" + urls[0] + "," +
                          urls[1] + "\"\n2,SKU2,\"" + urls[2] + "," + urls[3] + "\"\n";
  auto upload = client.post_form(
      "/upload", {{"file", csv, "products.csv", "text/csv"},
                  {"quality", "auto", std::nullopt, ""},
                  {"sizes", "thumb:64x64,card:300x300,huge:5000x5000", std::nullopt, ""},
                  {"webhook_url", server.base_url() + "/webhook", std::nullopt, ""}});
  ASSERT_EQ(upload.status, 202) << upload.body;
  const std::string id = upload.json()["request_id"];
  const auto doc = server.wait_until_ended(id);
  ASSERT_EQ(doc["status"], "completed") << doc.dump(2);
  ASSERT_EQ(doc["progress"]["succeeded"], 4) << doc.dump(2);

  const auto& settings = doc["output_settings"];
  EXPECT_EQ(settings["quality"], "auto");
  EXPECT_DOUBLE_EQ(settings["target"].get<double>(), 0.92);
  EXPECT_EQ(settings["never_larger"], true);
  EXPECT_FALSE(settings.contains("max_bytes"));
  EXPECT_EQ(settings["min_quality"], 10) << "the default --min-quality";
  ASSERT_EQ(settings["sizes"].size(), 3u);
  EXPECT_EQ(settings["sizes"][1],
            (nlohmann::json{{"name", "card"}, {"width", 300}, {"height", 300}}));

  // One download per source, however many outputs it gave.
  for (const char* name :
       {"/photos/Landscape_1.jpg", "/photos/Landscape_6.jpg", "/photos/Landscape_8.jpg"})
    EXPECT_EQ(origin.request_count(name), 1u) << name;
  EXPECT_EQ(photos.request_count("/photos/FreshFlower.jpg"), 1u);

  const std::vector<std::pair<std::string, int>> boxes = {
      {"thumb", 64}, {"card", 300}, {"huge", 5000}};
  for (const auto& product : doc["products"]) {
    for (std::size_t i = 0; i < product["input_image_urls"].size(); ++i) {
      const std::string at = product["input_image_urls"][i];
      const auto& report = product["output_image_reports"][i];
      ASSERT_TRUE(report.is_object()) << at << product.dump(2);
      auto full = client.request("GET", product["output_image_urls"][i].get<std::string>(), "", {});
      ASSERT_EQ(full.status, 200) << at;
      EXPECT_EQ(report["bytes_out"], full.body.size()) << at;
      EXPECT_EQ(report["bytes_out"], product["output_image_bytes"][i]);
      EXPECT_EQ(report["bytes_in"], product["input_image_bytes"][i]);
      ASSERT_FALSE(report["kept"].get<bool>()) << at << ": photos this size shrink";
      EXPECT_EQ(report["format"], "jpeg") << at;
      const int quality = report["quality"];
      EXPECT_GE(quality, 10) << at;
      EXPECT_LE(quality, 95) << at;
      ASSERT_TRUE(report["score"].is_number()) << at;
      EXPECT_GE(report["score"].get<double>(), 0.92) << at;
      const VImage full_image = decode(full.body);
      // Upright: every Landscape_N is 600x450 once its EXIF orientation is applied.
      if (at.find("Landscape") != std::string::npos) {
        EXPECT_EQ(full_image.width(), 600) << at;
        EXPECT_EQ(full_image.height(), 450) << at;
      }
      const double aspect = static_cast<double>(full_image.width()) / full_image.height();
      for (const auto& [name, side] : boxes) {
        const auto& url = product["sizes"][name][i];
        ASSERT_TRUE(url.is_string()) << at << " " << name;
        auto sized = client.request("GET", url.get<std::string>(), "", {});
        ASSERT_EQ(sized.status, 200) << url;
        EXPECT_EQ(sized.header("content-type"), "image/jpeg") << url;
        const VImage image = decode(sized.body);
        // Fits the box, touches it on one side, keeps the shape and is never enlarged.
        const int long_side = std::min(side, std::max(full_image.width(), full_image.height()));
        EXPECT_EQ(std::max(image.width(), image.height()), long_side) << url;
        EXPECT_NEAR(static_cast<double>(image.width()) / image.height(), aspect, 0.05) << url;
        EXPECT_GT(image.width(), image.height()) << url << ": upright in every size";
      }
    }
  }

  // The output CSV: a column per size, then the report, each aligned with the images.
  auto output = client.get("/requests/" + id + "/output.csv");
  ASSERT_EQ(output.status, 200) << output.body;
  auto parsed = csv::parse_and_validate(output.body);
  ASSERT_TRUE(parsed.ok()) << output.body;
  const std::vector<std::string> columns = {
      "S. No.",           "Product Name",    "Input Image Urls", "Output Image Urls",
      "thumb Image Urls", "card Image Urls", "huge Image Urls",  "Output Image Report"};
  EXPECT_EQ(parsed.csv->columns, columns);
  ASSERT_EQ(parsed.csv->products.size(), 2u);
  for (std::size_t p = 0; p < 2; ++p) {
    const auto& fields = parsed.csv->products[p].fields;
    const auto& product = doc["products"][p];
    for (std::size_t s = 0; s < boxes.size(); ++s) {
      const auto items = split_items(fields[4 + s]);
      ASSERT_EQ(items.size(), 2u) << fields[4 + s];
      for (std::size_t i = 0; i < 2; ++i)
        EXPECT_EQ(items[i], product["sizes"][boxes[s].first][i].get<std::string>());
    }
    const auto reports = split_items(fields[7]);
    ASSERT_EQ(reports.size(), 2u) << fields[7];
    for (std::size_t i = 0; i < 2; ++i) {
      const auto& report = product["output_image_reports"][i];
      EXPECT_EQ(reports[i].rfind("q=" + std::to_string(report["quality"].get<int>()) + ";ssim=", 0),
                0u)
          << reports[i];
      EXPECT_NE(reports[i].find(";out=" + std::to_string(report["bytes_out"].get<long>())),
                std::string::npos)
          << reports[i];
    }
  }

  // The webhook carries the same document.
  nlohmann::json events;
  for (int i = 0; i < 300 && events.empty(); ++i) {  // up to 30 s; ends at the delivery
    events = client.get("/webhook/events").json()["events"];
    if (events.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["body"]["products"], doc["products"]);
  EXPECT_EQ(events[0]["body"]["output_settings"], doc["output_settings"]);

  // Deleted: every size goes with its image (the folder is removed once empty).
  EXPECT_EQ(client.request("DELETE", "/requests/" + id, "", {}).status, 204);
  const auto folder = server.folder() / "images" / id;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::filesystem::exists(folder) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(std::filesystem::exists(folder)) << "every image and size removed";
}

TEST_F(OutputChoicesE2E, BadFieldsAreRefusedNamingTheFieldAndNothingIsStored) {
  TestOrigin origin;
  RunningServer server({"--workers", "1"});
  auto client = server.client();
  const std::string csv =
      "S. No.,Product Name,Input Image Urls\n1,SKU1," + origin.url("/photos/Garden.jpg") + "\n";
  std::string nine;
  for (int i = 0; i < 9; ++i) nine += (i ? "," : "") + ("s" + std::to_string(i)) + ":10x10";
  const std::vector<std::vector<std::pair<std::string, std::string>>> uploads = {
      {{"quality", "auto7"}},
      {{"sizes", "thumb:0x10"}},
      {{"sizes", "thumb:10x10,thumb:20x20"}},
      {{"sizes", nine}},
      {{"max_bytes", "-1"}},
      {{"quality", "auto"}, {"target", "1.5"}},
      {{"quality", "60"}, {"target", "0.9"}},
      {{"never_larger", "perhaps"}},
      {{"quality", "50"}, {"format", "best"}},
  };
  for (const auto& fields : uploads) {
    std::vector<FormField> form = {{"file", csv, "products.csv", "text/csv"}};
    for (const auto& [name, value] : fields) form.push_back({name, value, std::nullopt, ""});
    const auto answer = client.post_form("/upload", form);
    const std::string& field = fields.back().first;
    ASSERT_EQ(answer.status, 400) << field << ": " << answer.body;
    EXPECT_EQ(answer.header("content-type"), "application/problem+json");
    const std::string detail = answer.json()["detail"];
    EXPECT_EQ(detail.rfind(field + ": ", 0), 0u) << detail;
  }
  EXPECT_TRUE(client.get("/requests").json()["requests"].empty()) << "nothing was stored";
  EXPECT_EQ(origin.total_requests(), 0u);
}

TEST_F(OutputChoicesE2E, TheSourceIsKeptWhenNothingSmallerComesAndMaxBytesIsMetOrNamed) {
  TempDir files;
  // A small, low-quality JPEG that carries EXIF: at quality 90 a re-encode only grows it.
  const VImage landscape = VImage::new_from_file((edge_dir() / "Landscape_1.jpg").c_str());
  const std::string tiny =
      saved(landscape.jpegsave_buffer(VImage::option()->set("Q", 20)->set("strip", false)));
  write_file(files.path() / "tiny.jpg", tiny);
  write_file(files.path() / "small.png", saved(landscape.pngsave_buffer()));
  write_file(files.path() / "Garden.jpg", read_file(TestOrigin::photos_dir() / "Garden.jpg"));
  TestOrigin origin(files.path());
  RunningServer server;
  auto client = server.client();
  const auto upload = [&](const std::string& urls, std::vector<FormField> fields) {
    fields.insert(fields.begin(),
                  {"file", "S. No.,Product Name,Input Image Urls\n1,SKU1,\"" + urls + "\"\n",
                   "products.csv", "text/csv"});
    auto answer = client.post_form("/upload", fields);
    EXPECT_EQ(answer.status, 202) << answer.body;
    return server.wait_until_ended(answer.json()["request_id"]);
  };

  // Never larger (the default): the tiny JPEG is kept, its metadata gone and its pixels
  // those of the source; the PNG asked as JPEG is re-encoded, never kept.
  auto kept = upload(origin.url("/photos/tiny.jpg") + "," + origin.url("/photos/small.png"),
                     {{"quality", "90", std::nullopt, ""}});
  ASSERT_EQ(kept["progress"]["succeeded"], 2) << kept.dump(2);
  const auto& reports = kept["products"][0]["output_image_reports"];
  EXPECT_EQ(reports[0]["kept"], true);
  EXPECT_TRUE(reports[0]["quality"].is_null());
  EXPECT_LT(reports[0]["bytes_out"].get<std::size_t>(), tiny.size());
  auto served =
      client.request("GET", kept["products"][0]["output_image_urls"][0].get<std::string>(), "", {});
  ASSERT_EQ(served.status, 200);
  const VImage kept_image = decode(served.body);
  EXPECT_EQ(vips_image_get_typeof(kept_image.get_image(), VIPS_META_EXIF_NAME), 0u)
      << "EXIF stripped";
  EXPECT_EQ((kept_image - decode(tiny)).abs().max(), 0.0) << "the source's own pixels";
  EXPECT_EQ(reports[1]["kept"], false);
  EXPECT_EQ(reports[1]["quality"], 90);

  // max_bytes: every output (the full size and its size) fits the cap.
  constexpr long kCap = 60'000;
  auto capped =
      upload(origin.url("/photos/Garden.jpg"), {{"quality", "90", std::nullopt, ""},
                                                {"max_bytes", "60000", std::nullopt, ""},
                                                {"sizes", "thumb:100x100", std::nullopt, ""}});
  ASSERT_EQ(capped["progress"]["succeeded"], 1) << capped.dump(2);
  EXPECT_EQ(capped["output_settings"]["max_bytes"], kCap);
  const auto& product = capped["products"][0];
  EXPECT_LT(product["output_image_reports"][0]["quality"].get<int>(), 90);
  for (const auto& url : {product["output_image_urls"][0], product["sizes"]["thumb"][0]}) {
    auto image = client.request("GET", url.get<std::string>(), "", {});
    ASSERT_EQ(image.status, 200) << url;
    EXPECT_LE(static_cast<long>(image.body.size()), kCap) << url;
  }

  // A cap nothing reaches fails the image, naming the smallest size reached.
  auto unreachable =
      upload(origin.url("/photos/Garden.jpg"), {{"max_bytes", "500", std::nullopt, ""}});
  ASSERT_EQ(unreachable["progress"]["failed"], 1) << unreachable.dump(2);
  const std::string error = unreachable["products"][0]["errors"][0]["message"];
  EXPECT_NE(error.find("cannot fit 500 bytes"), std::string::npos) << error;
  EXPECT_NE(error.find("the smallest output, at quality 10, is "), std::string::npos) << error;
}

}  // namespace
}  // namespace imgbatch::test_support
