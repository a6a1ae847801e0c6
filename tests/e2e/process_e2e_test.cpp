// `imgbatch process FILE.csv --out DIR` through the real binary: images from the local test
// origin land in DIR/images, DIR/output.csv points at them, the summary and exit code say
// what failed, bad input is refused with the file and line named, and running the same
// command again resumes (or, when all is done, downloads nothing).
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <vips/vips8>

#include "csv/csv.hpp"
#include "support/running_server.hpp"
#include "support/test_origin.hpp"

namespace imgbatch::test_support {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct Outcome {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// The binary with stdout and stderr kept apart: ChildProcess sends both to one file, so a
// shell puts stderr into a file of its own first.
class SplitRun {
 public:
  SplitRun(const fs::path& folder, const std::vector<std::string>& args) {
    static int counter = 0;
    const auto tag = std::to_string(++counter);
    out_path_ = folder / ("stdout-" + tag + ".txt");
    err_path_ = folder / ("stderr-" + tag + ".txt");
    std::vector<std::string> shell_args = {"-c", "exec \"$0\" \"$@\" 2>\"$E2E_STDERR\"",
                                           IMGBATCH_EXE};
    shell_args.insert(shell_args.end(), args.begin(), args.end());
    process_ = std::make_unique<ChildProcess>("/bin/sh", shell_args, out_path_.string(),
                                              Environment{{"E2E_STDERR", err_path_.string()}});
  }

  Outcome wait(std::chrono::seconds timeout = 60s) {
    Outcome outcome;
    outcome.exit_code = process_->wait(timeout);
    outcome.out = read_text(out_path_);
    outcome.err = read_text(err_path_);
    return outcome;
  }
  std::string err_so_far() const { return read_text(err_path_); }
  ChildProcess& process() { return *process_; }

 private:
  fs::path out_path_, err_path_;
  std::unique_ptr<ChildProcess> process_;
};

class ProcessCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { VIPS_INIT("e2e_test"); }

  fs::path write_csv(const std::string& name, const std::string& text) {
    const auto path = folder_.path() / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  fs::path out_dir() const { return folder_.path() / "out"; }

  std::vector<std::string> args_for(const fs::path& csv) const {
    return {"process",
            csv.string(),
            "--out",
            out_dir().string(),
            "--workers",
            "2",
            "--allow-private-networks"};
  }

  Outcome run(const std::vector<std::string>& args) {
    return SplitRun(folder_.path(), args).wait();
  }

  std::string photo(const std::string& name) const { return origin_.url("/photos/" + name); }

  TempDir folder_;
  TestOrigin origin_;
};

// output.csv parses back as a CSV with the input's columns plus "Output Image Urls".
csv::ParsedCsv read_output_csv(const fs::path& path) {
  auto parsed = csv::parse_and_validate(read_text(path));
  EXPECT_TRUE(parsed.ok()) << read_text(path);
  if (!parsed.ok()) return {};
  return *parsed.csv;
}

TEST_F(ProcessCommand, SomeImagesFailingExitsOneWithImagesOutputCsvAndTheFailureNamed) {
  const auto broken = origin_.url("/status/404");
  const auto csv = write_csv("products.csv",
                             "S. No.,Product Name,Input Image Urls\n"
                             "1,Flowers,\"" +
                                 photo("FreshFlower.jpg") + "," + photo("Aqua.jpg") +
                                 "\"\n"
                                 "2,Broken,\"" +
                                 photo("GreenMeadow.jpg") + " " + broken +
                                 "\"\n"
                                 "3,Garden," +
                                 photo("Garden.jpg") + "\n");
  const auto r = run(args_for(csv));
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;

  // The summary names the totals and the one failed image with its reason.
  EXPECT_TRUE(contains(r.out, "done: 5 images, 4 succeeded, 1 failed")) << r.out;
  EXPECT_TRUE(contains(r.out, "% smaller")) << r.out;
  EXPECT_TRUE(contains(
      r.out, "failed: product 2 (Broken) image 2 of 2 " + broken + ": download failed: HTTP 404"))
      << r.out;
  // Not a terminal: plain progress lines on stderr, and nothing but the summary on stdout.
  EXPECT_TRUE(contains(r.err, "progress: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "5/5 (100%)")) << r.err;
  EXPECT_FALSE(contains(r.out, "progress: ")) << r.out;
  EXPECT_FALSE(contains(r.err, "\r")) << "no terminal codes when stderr is a file";

  // The images are JPEGs that libvips decodes, named PRODUCT-IMAGE.jpg from 0.
  for (const char* name : {"0-0.jpg", "0-1.jpg", "1-0.jpg", "2-0.jpg"}) {
    const auto path = out_dir() / "images" / name;
    ASSERT_TRUE(fs::exists(path)) << path;
    const char* loader = vips_foreign_find_load(path.c_str());
    ASSERT_NE(loader, nullptr) << path;
    EXPECT_TRUE(contains(loader, "Jpeg")) << loader;
    auto image =
        vips::VImage::new_from_file(path.c_str(), vips::VImage::option()->set("fail", true));
    EXPECT_GT(image.width(), 0);
    EXPECT_GT(image.avg(), 0.0);  // decodes all the way
  }
  EXPECT_FALSE(fs::exists(out_dir() / "images" / "1-1.jpg"));

  // output.csv: the input columns plus Output Image Urls, paths relative to DIR, an empty
  // item where the image failed.
  const auto output = read_output_csv(out_dir() / "output.csv");
  ASSERT_EQ(output.columns.size(), 4u);
  EXPECT_EQ(output.columns[3], "Output Image Urls");
  ASSERT_EQ(output.products.size(), 3u);
  EXPECT_EQ(output.products[0].product_name, "Flowers");
  EXPECT_EQ(output.products[0].fields[3], "images/0-0.jpg,images/0-1.jpg");
  EXPECT_EQ(output.products[1].fields[3], "images/1-0.jpg,");
  EXPECT_EQ(output.products[2].fields[3], "images/2-0.jpg");
}

TEST_F(ProcessCommand, AllGoodExitsZeroAndTheSameCommandAgainDownloadsNothing) {
  const auto csv = write_csv("good.csv",
                             "S. No.,Product Name,Input Image Urls\n"
                             "1,Aqua," +
                                 photo("Aqua.jpg") +
                                 "\n"
                                 "2,Flowers," +
                                 photo("flowers.jpeg") + "\n");
  const auto first = run(args_for(csv));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_TRUE(contains(first.out, "done: 2 images, 2 succeeded, 0 failed")) << first.out;
  EXPECT_FALSE(contains(first.out, "failed: ")) << first.out;
  const auto downloads = origin_.total_requests();
  EXPECT_EQ(downloads, 2u);
  const auto image = out_dir() / "images" / "0-0.jpg";
  const auto written_at = fs::last_write_time(image);
  const auto first_csv = read_text(out_dir() / "output.csv");

  const auto again = run(args_for(csv));
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(contains(again.out, "done: 2 images, 2 succeeded, 0 failed")) << again.out;
  EXPECT_EQ(origin_.total_requests(), downloads) << "a finished run was redone";
  EXPECT_EQ(fs::last_write_time(image), written_at);
  EXPECT_EQ(read_text(out_dir() / "output.csv"), first_csv);
}

TEST_F(ProcessCommand, SizesAndQualityAutoGoIntoTheFolderAndTheirColumns) {
  const auto csv = write_csv("sizes.csv", "S. No.,Product Name,Input Image Urls\n1,Flowers," +
                                              photo("FreshFlower.jpg") + "\n");
  auto args = args_for(csv);
  args.insert(args.end(), {"--quality", "auto", "--sizes", "thumb:64x64,card:300x300"});
  const auto outcome = run(args);
  ASSERT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  const auto parsed = read_output_csv(out_dir() / "output.csv");
  const std::vector<std::string> columns = {
      "S. No.",           "Product Name",    "Input Image Urls",   "Output Image Urls",
      "thumb Image Urls", "card Image Urls", "Output Image Report"};
  EXPECT_EQ(parsed.columns, columns);
  ASSERT_EQ(parsed.products.size(), 1u);
  const auto& fields = parsed.products[0].fields;
  EXPECT_EQ(fields[3], "images/0-0.jpg");
  EXPECT_EQ(fields[4], "images/0-0-thumb.jpg");
  EXPECT_EQ(fields[5], "images/0-0-card.jpg");
  EXPECT_TRUE(contains(fields[6], ";ssim=")) << fields[6];
  const auto thumb = vips::VImage::new_from_file((out_dir() / fields[4]).c_str());
  EXPECT_EQ(std::max(thumb.width(), thumb.height()), 64);
  const auto card = vips::VImage::new_from_file((out_dir() / fields[5]).c_str());
  EXPECT_EQ(std::max(card.width(), card.height()), 300);
  EXPECT_EQ(origin_.total_requests(), 1u) << "one download for every output";
}

TEST_F(ProcessCommand, AnotherCsvInTheSameFolderIsRefused) {
  const auto csv = write_csv("a.csv",
                             "S. No.,Product Name,Input Image Urls\n"
                             "1,Aqua," +
                                 photo("Aqua.jpg") + "\n");
  ASSERT_EQ(run(args_for(csv)).exit_code, 0);
  const auto other = write_csv("b.csv",
                               "S. No.,Product Name,Input Image Urls\n"
                               "1,Wood," +
                                   photo("Wood.jpg") + "\n");
  const auto r = run(args_for(other));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "another CSV")) << r.err;
  EXPECT_TRUE(contains(r.err, "a.csv")) << r.err;
  EXPECT_EQ(origin_.request_count("/photos/Wood.jpg"), 0u);
  // The same CSV with another quality would give other images: refused as well.
  auto with_quality = args_for(csv);
  with_quality.insert(with_quality.end(), {"--quality", "80"});
  EXPECT_EQ(run(with_quality).exit_code, 2);
}

TEST_F(ProcessCommand, AnInvalidCsvExitsTwoNamingTheFileAndLineAndProcessesNothing) {
  const auto csv = write_csv("bad.csv",
                             "S. No.,Product Name,Input Image Urls\n"
                             "1,Aqua," +
                                 photo("Aqua.jpg") +
                                 "\n"
                                 "2,Ftp,ftp://example.com/a.jpg\n");
  auto r = run(args_for(csv));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "imgbatch: " + csv.string() + ":3: Input Image Urls: ")) << r.err;
  EXPECT_FALSE(fs::exists(out_dir() / "images")) << "nothing is written for a rejected CSV";
  EXPECT_EQ(origin_.total_requests(), 0u);

  const auto header =
      write_csv("header.csv", "Serial,Name,Pictures\n1,A,https://x.example/a.jpg\n");
  r = run(args_for(header));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "imgbatch: " + header.string() + ":1: ")) << r.err;
}

TEST_F(ProcessCommand, AMissingFileOrNoOutIsExitTwo) {
  const auto missing = folder_.path() / "nowhere.csv";
  auto r = run(args_for(missing));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "imgbatch: cannot read " + missing.string() + ": No such file"))
      << r.err;

  const auto csv = write_csv("p.csv",
                             "S. No.,Product Name,Input Image Urls\n"
                             "1,Aqua," +
                                 photo("Aqua.jpg") + "\n");
  r = run({"process", csv.string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "--out")) << r.err;
}

TEST_F(ProcessCommand, HelpDocumentsTheExitCodes) {
  const auto r = run({"process", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* part : {"--out", "--workers", "--max-attempts", "--allow-private-networks",
                           "Exit codes", "130/143"})
    EXPECT_TRUE(contains(r.out, part)) << part << " missing from:\n" << r.out;
}

// Waits until the run has printed a progress line and the origin has seen the download
// of `path` begin: the run is in the middle of its work.
void wait_until_downloading(SplitRun& run, const TestOrigin& origin, const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((!contains(run.err_so_far(), "progress: ") || origin.request_count(path) == 0) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(contains(run.err_so_far(), "progress: ")) << run.err_so_far();
  ASSERT_EQ(origin.request_count(path), 1u) << run.err_so_far();
}

TEST_F(ProcessCommand, InterruptedRunSaysHowToResumeAndTheSameCommandFinishesIt) {
  // The slow image is held at the origin until the run is over, so it is still
  // downloading when SIGINT comes and past the grace period however late that is; the
  // quick one, its download begun before SIGINT, ends within it. (A download that merely
  // took 3 s could end within the grace on a loaded machine, and the run completed.)
  const std::string slow = "/hold/Wood.jpg";
  const std::string quick = "/photos/Aqua.jpg";
  const auto csv = write_csv("slow.csv",
                             "S. No.,Product Name,Input Image Urls\n"
                             "1,Aqua," +
                                 origin_.url(quick) +
                                 "\n"
                                 "2,Slow," +
                                 origin_.url(slow) + "\n");
  SplitRun interrupted(folder_.path(), args_for(csv));
  wait_until_downloading(interrupted, origin_, slow);
  wait_until_downloading(interrupted, origin_, quick);
  interrupted.process().signal(SIGINT);
  const auto stopped = interrupted.wait(30s);
  EXPECT_EQ(stopped.exit_code, 130) << stopped.out << stopped.err;
  EXPECT_TRUE(contains(stopped.err, "interrupted by SIGINT with 1 of 2 images done"))
      << stopped.err;
  EXPECT_TRUE(contains(stopped.err, "run the same command again")) << stopped.err;
  EXPECT_FALSE(fs::exists(out_dir() / "output.csv"));

  HttpClient(origin_.base_url()).get("/release");
  const auto resumed = run(args_for(csv));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_TRUE(contains(resumed.out, "done: 2 images, 2 succeeded, 0 failed")) << resumed.out;
  EXPECT_TRUE(fs::exists(out_dir() / "images" / "1-0.jpg"));
  EXPECT_EQ(origin_.request_count(quick), 1u) << "finished work was redone";
  EXPECT_EQ(origin_.request_count(slow), 2u);
}

TEST_F(ProcessCommand, AKilledRunResumesAtOnceNotAfterItsLeases) {
  // Held at the origin until the run is killed, so that the killed run cannot have
  // finished it however late the kill comes (a 1 s download could end first on a loaded
  // machine, and there was then nothing to resume).
  const std::string slow = "/hold/Aqua.jpg";
  const auto csv = write_csv("killed.csv",
                             "S. No.,Product Name,Input Image Urls\n"
                             "1,Slow," +
                                 origin_.url(slow) + "\n");
  {
    SplitRun killed(folder_.path(), args_for(csv));
    wait_until_downloading(killed, origin_, slow);  // claimed, under a 60 s lease
    killed.process().signal(SIGKILL);
    EXPECT_EQ(killed.wait(10s).exit_code, 128 + SIGKILL);
  }
  HttpClient(origin_.base_url()).get("/release");
  const auto started = std::chrono::steady_clock::now();
  const auto resumed = run(args_for(csv));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  // Generous: waiting for the dead run's lease to end would take 60 s.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  EXPECT_EQ(origin_.request_count(slow), 2u);
  EXPECT_TRUE(fs::exists(out_dir() / "images" / "0-0.jpg"));
}

}  // namespace
}  // namespace imgbatch::test_support
