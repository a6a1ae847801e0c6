#include "process_command.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <system_error>

#include <nlohmann/json.hpp>

#include "blob/blob_store.hpp"
#include "core/ids.hpp"
#include "core/image_links.hpp"
#include "core/status_document.hpp"
#include "csv/csv.hpp"
#include "fetch/fetcher.hpp"
#include "intake/new_request.hpp"
#include "pipeline/pipeline.hpp"
#include "progress_display.hpp"
#include "shutdown_signals.hpp"
#include "store/store.hpp"
#include "worker_setup.hpp"

namespace imgbatch {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// Images in hand when a signal comes get this long to finish before they are handed back.
constexpr std::chrono::seconds kInterruptGrace{2};
// How often the store is asked for progress (and signals are looked for).
constexpr std::chrono::milliseconds kPollInterval{100};
constexpr int kProductPage = 1000;
constexpr std::string_view kImagesFolder = "images";

std::string errno_text(int err) { return std::generic_category().message(err); }

// The whole file, or why it cannot be read ("No such file or directory", "Is a directory").
core::Result<std::string> read_whole_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return core::make_error(errno_text(errno));
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return core::make_error(errno_text(err));
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return bytes;
}

// Writes to a temporary beside `path`, flushes it to disk, then renames it over `path`: a
// crash leaves the old file or the new one.
core::Status write_file_atomically(const fs::path& path, std::string_view bytes) {
  const fs::path temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    return core::make_error("cannot write " + temporary.string() + ": " + errno_text(errno));
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return core::make_error("cannot write " + temporary.string() + ": " + errno_text(err));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_error = errno;
  if (::close(fd) != 0 || !synced)
    return core::make_error("cannot write " + temporary.string() + ": " +
                            errno_text(synced ? errno : sync_error));
  std::error_code error;
  fs::rename(temporary, path, error);
  if (error) return core::make_error("cannot write " + path.string() + ": " + error.message());
  return core::ok_status();
}

void print_problems(const std::string& csv_path, const csv::ParseResult& parsed) {
  for (const auto& problem : parsed.problems) {
    std::cerr << "imgbatch: " << csv_path;
    if (problem.line > 0) std::cerr << ":" << problem.line;
    std::cerr << ": ";
    if (!problem.column.empty()) std::cerr << problem.column << ": ";
    std::cerr << problem.message << "\n";
  }
  if (parsed.problems_truncated)
    std::cerr << "imgbatch: " << csv_path << ": more problems than these " << parsed.problems.size()
              << "; fix them and run again to see the rest\n";
  std::cerr << "imgbatch: nothing was processed; fix the CSV and run again\n";
}

// The pipeline names an image "REQUEST_ID/0-1.jpg". An output folder holds one request,
// so the request part is dropped and the image lands at DIR/images/0-1.jpg, the path
// output.csv gives.
class OutputFolderBlobStore final : public blob::BlobStore {
 public:
  explicit OutputFolderBlobStore(const fs::path& out_dir)
      : files_(blob::open_blob_store("file:" + out_dir.string())) {}

  blob::PutResult put(const std::string& key, std::string_view bytes) override {
    return files_->put(map(key), bytes);
  }
  blob::BlobResult<blob::StoredObject> get(const std::string& key) override {
    return files_->get(map(key));
  }
  blob::BlobResult<blob::ObjectInfo> stat(const std::string& key) override {
    return files_->stat(map(key));
  }
  bool exists(const std::string& key) override { return files_->exists(map(key)); }
  core::Status remove(const std::string& key) override { return files_->remove(map(key)); }
  int remove_stale_temporaries(std::chrono::seconds older_than) override {
    return files_->remove_stale_temporaries(older_than);
  }

 private:
  static std::string map(const std::string& key) {
    const auto slash = key.find('/');
    if (slash == std::string::npos) return key;  // not a pipeline key: refused as unsafe
    return std::string(kImagesFolder) + key.substr(slash);
  }

  std::unique_ptr<blob::BlobStore> files_;
};

// What DIR/.imgbatch/request.json remembers: which request this folder holds, and the
// fingerprint of the CSV and settings that made it.
struct SavedRequest {
  std::string request_id;
  std::string fingerprint;
  std::string csv_path;
};

// DIR and its state folder, locked against a second run in the same DIR at once.
class OutputFolder {
 public:
  explicit OutputFolder(fs::path dir) : dir_(std::move(dir)) {}
  ~OutputFolder() {
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;

  // Creates DIR, DIR/.imgbatch and DIR/images and takes the lock; an error names the cause.
  core::Status prepare() {
    std::error_code error;
    for (const auto& folder : {dir_, state_dir(), images_dir()}) {
      fs::create_directories(folder, error);
      if (error)
        return core::make_error("cannot create the folder " + folder.string() + ": " +
                                error.message());
    }
    const auto lock_path = state_dir() / "lock";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (lock_fd_ < 0)
      return core::make_error("cannot open " + lock_path.string() + ": " + errno_text(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        return core::make_error("another imgbatch process is working in " + dir_.string() +
                                "; wait for it to end, or choose another --out");
      return core::make_error("cannot lock " + lock_path.string() + ": " + errno_text(errno));
    }
    remove_temporaries();
    return core::ok_status();
  }

  std::string db_uri() const { return "sqlite:" + (state_dir() / "state.db").string(); }
  fs::path output_csv() const { return dir_ / "output.csv"; }
  const fs::path& dir() const { return dir_; }

  // nullopt when there is none yet (a fresh folder); throws on a damaged file.
  std::optional<SavedRequest> saved_request() const {
    const auto path = request_file();
    if (!fs::exists(path)) return std::nullopt;
    auto text = read_whole_file(path.string());
    if (!text) throw std::runtime_error("cannot read " + path.string() + ": " + text.message());
    const auto doc = nlohmann::json::parse(*text, nullptr, false);
    if (!doc.is_object() || !doc.contains("request_id") || !doc.contains("fingerprint"))
      throw std::runtime_error(path.string() + " is damaged; delete " + state_dir().string() +
                               " to start this folder over");
    return SavedRequest{doc["request_id"].get<std::string>(), doc["fingerprint"].get<std::string>(),
                        doc.value("csv", "")};
  }

  core::Status save_request(const SavedRequest& saved) const {
    const nlohmann::json doc = {{"request_id", saved.request_id},
                                {"fingerprint", saved.fingerprint},
                                {"csv", saved.csv_path}};
    return write_file_atomically(request_file(), doc.dump(2) + "\n");
  }

 private:
  fs::path state_dir() const { return dir_ / ".imgbatch"; }
  fs::path images_dir() const { return dir_ / kImagesFolder; }
  fs::path request_file() const { return state_dir() / "request.json"; }

  // A run killed while writing output.csv leaves its temporary (images' temporaries are
  // the blob store's, removed when the run starts).
  void remove_temporaries() const {
    std::error_code error;
    fs::remove(output_csv().string() + ".tmp", error);
  }

  fs::path dir_;
  int lock_fd_ = -1;
};

struct FailedImage {
  std::string serial_number;
  std::string product_name;
  int image_number = 0;  // counting from 1, in the order of the CSV cell
  int image_count = 0;
  std::string url;
  std::string reason;
};

struct Results {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::vector<std::string>> output_paths;
  // Per row, the items of the size and report columns (core::extra_csv_items).
  std::vector<std::vector<std::vector<std::string>>> extra_items;
  std::vector<FailedImage> failures;
  std::int64_t bytes_in = 0;  // of the images that succeeded
  std::int64_t bytes_out = 0;
};

// The output CSV's "URLs" are paths relative to DIR: images/NAME.
class FolderPaths final : public core::ImageLinks {
 public:
  std::string image_url(std::string_view, std::string_view output_name) const override {
    return std::string(kImagesFolder) + "/" + std::string(output_name);
  }
};

Results collect_results(store::Store& store, const core::RequestRecord& record) {
  Results results;
  const FolderPaths paths_of;
  for (int offset = 0; offset < record.products_total; offset += kProductPage) {
    const auto page = store.get_products(record.id, offset, kProductPage);
    if (page.empty()) break;
    for (const auto& product : page) {
      std::vector<std::string> paths;
      const int count = static_cast<int>(product.images.size());
      for (const auto& image : product.images) {
        const bool done = image.state == core::TaskState::done && image.output_name;
        paths.push_back(done ? paths_of.image_url(record.id, *image.output_name) : "");
        if (done) {
          results.bytes_in += image.bytes_in;
          results.bytes_out += image.bytes_out;
        } else if (image.state == core::TaskState::failed) {
          results.failures.push_back({product.serial_number, product.product_name, image.index + 1,
                                      count, image.source_url, image.error.value_or("failed")});
        }
      }
      results.rows.push_back(product.fields);
      results.output_paths.push_back(std::move(paths));
      results.extra_items.push_back(core::extra_csv_items(record, product, paths_of));
    }
  }
  return results;
}

std::string megabytes(std::int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

void print_summary(const core::RequestRecord& record, const Results& results, double seconds) {
  const auto& p = record.progress;
  std::cout << "done: " << p.total << " image" << (p.total == 1 ? "" : "s") << ", " << p.succeeded
            << " succeeded, " << p.failed << " failed, " << megabytes(results.bytes_in) << " in, "
            << megabytes(results.bytes_out) << " out";
  if (results.bytes_in > 0) {
    const double change = 100.0 * (1.0 - static_cast<double>(results.bytes_out) /
                                             static_cast<double>(results.bytes_in));
    char text[48];
    std::snprintf(text, sizeof text, " (%.0f%% %s)", std::abs(change),
                  change >= 0 ? "smaller" : "larger");
    std::cout << text;
  }
  char time[32];
  std::snprintf(time, sizeof time, ", %.1f s", seconds);
  std::cout << time << "\n";
  for (const auto& f : results.failures)
    std::cout << "failed: product " << f.serial_number << " (" << f.product_name << ") image "
              << f.image_number << " of " << f.image_count << " " << f.url << ": " << f.reason
              << "\n";
  std::cout.flush();
}

ProgressSample sample_of(const core::RequestRecord& record) {
  return {record.progress.succeeded + record.progress.failed, record.progress.failed,
          record.progress.total};
}

bool ended(const core::RequestRecord& record) { return core::has_ended(record.status); }

core::RequestRecord must_get(store::Store& store, const std::string& id) {
  auto record = store.get_request(id);
  if (!record) throw store::StoreError("request " + id + " vanished from the state database");
  return *record;
}

// `process` sends no webhook: its caller is watching.
intake::UploadSettings settings_of(const ProcessArgs& args) {
  return {std::nullopt, args.config.quality, args.config.format, args.config.output_choices};
}

// The request this folder holds for this CSV and these settings: the saved one, or a new
// one. The id is saved before the request is created, so a crash in between leaves a
// folder that knows which request to create on the next run.
core::Result<std::string> find_or_create_request(OutputFolder& folder, store::Store& store,
                                                 const ProcessArgs& args, csv::ParsedCsv parsed,
                                                 const std::string& fingerprint) {
  auto saved = folder.saved_request();
  if (saved && saved->fingerprint != fingerprint)
    return core::make_error(
        folder.dir().string() + " already holds the results of another CSV or other settings" +
        (saved->csv_path.empty() ? "" : " (made from " + saved->csv_path + ")") +
        "; choose another --out, or delete " + folder.dir().string() + " to start over");
  if (saved && store.get_request(saved->request_id)) return saved->request_id;
  if (!saved && !store.list_requests(1, 0).empty())
    return core::make_error(folder.dir().string() +
                            "/.imgbatch has a state database but no request.json; delete " +
                            folder.dir().string() + "/.imgbatch to start this folder over");

  if (!saved) {
    std::error_code error;
    const auto absolute = fs::absolute(args.csv_path, error);
    saved = SavedRequest{core::new_uuid(), fingerprint,
                         error ? args.csv_path : absolute.lexically_normal().string()};
    if (auto written = folder.save_request(*saved); !written)
      throw std::runtime_error(written.message());
  }
  const auto request = intake::new_request(saved->request_id, std::move(parsed), settings_of(args),
                                           fingerprint, "process:" + fingerprint);
  const auto outcome = store.create_request(request);
  if (outcome.request_id != saved->request_id) {
    saved->request_id = outcome.request_id;
    if (auto written = folder.save_request(*saved); !written)
      throw std::runtime_error(written.message());
  }
  return outcome.request_id;
}

struct Stopped {
  core::RequestRecord record;
  int signal = 0;  // non-zero when interrupted
};

// Runs the pipeline until the request ends or a signal comes, drawing progress.
Stopped run_until_ended(store::Store& store, blob::BlobStore& blobs, const core::Config& config,
                        const std::string& id, Clock::time_point started) {
  // A run killed earlier left its tasks leased to a process that is gone; the folder lock
  // says no one else works here, so they are free now rather than when the lease ends.
  constexpr core::TimeMs kYearMs = 365LL * 24 * 60 * 60 * 1000;
  store.release_expired_leases(core::now_ms() + kYearMs);

  pipeline::Options options = pipeline_options(config);
  // Only this process works on the folder: looking for due retries often costs little.
  options.idle_poll = std::chrono::milliseconds(250);
  // A one-off run must end: a full --out disk fails its images (within their attempts)
  // instead of waiting for space as a service does.
  options.hold_when_storage_unavailable = false;
  Workers workers(config, std::move(options), store, blobs, {});
  workers.start();
  workers.wake();

  ProgressDisplay display(
      std::cerr,
      ::isatty(STDERR_FILENO) ? ProgressDisplay::Mode::bar : ProgressDisplay::Mode::lines, started);
  Stopped stopped{must_get(store, id), 0};
  while (!ended(stopped.record)) {
    display.update(sample_of(stopped.record), Clock::now());
    stopped.signal = wait_for_shutdown_signal(kPollInterval);
    stopped.record = must_get(store, id);
    if (stopped.signal != 0) break;
  }
  display.finish(sample_of(stopped.record), Clock::now());
  workers.stop(kInterruptGrace);
  if (stopped.signal != 0) stopped.record = must_get(store, id);
  return stopped;
}

int finish_completed(OutputFolder& folder, store::Store& store, const core::RequestRecord& record,
                     Clock::time_point started) {
  const auto results = collect_results(store, record);
  const auto csv_text = csv::write_output_csv(record.columns, results.rows, results.output_paths,
                                              core::extra_csv_headers(record), results.extra_items);
  if (auto written = write_file_atomically(folder.output_csv(), csv_text); !written) {
    std::cerr << "imgbatch: " << written.message() << "\n";
    return process_exit::kInternalError;
  }
  print_summary(record, results, std::chrono::duration<double>(Clock::now() - started).count());
  return results.failures.empty() && record.progress.failed == 0 ? process_exit::kAllSucceeded
                                                                 : process_exit::kSomeFailed;
}

int process_folder(const ProcessArgs& args, csv::ParsedCsv parsed, const std::string& fingerprint,
                   Clock::time_point started) {
  OutputFolder folder(args.out_dir);
  if (auto prepared = folder.prepare(); !prepared) {
    std::cerr << "imgbatch: " << prepared.message() << "\n";
    return process_exit::kBadInput;
  }
  auto store = store::open_store(folder.db_uri());
  auto id = find_or_create_request(folder, *store, args, std::move(parsed), fingerprint);
  if (!id) {
    std::cerr << "imgbatch: " << id.message() << "\n";
    return process_exit::kBadInput;
  }
  OutputFolderBlobStore blobs(folder.dir());
  // A run killed in the middle of writing an image leaves a temporary; with the folder's
  // lock held nobody else is writing here, so every one of them is a leftover.
  blobs.remove_stale_temporaries(std::chrono::seconds(0));

  auto record = must_get(*store, *id);
  if (!ended(record)) {
    const auto stopped = run_until_ended(*store, blobs, args.config, *id, started);
    record = stopped.record;
    if (stopped.signal != 0) {
      std::cerr << "imgbatch: interrupted by " << shutdown_signal_name(stopped.signal) << " with "
                << sample_of(record).done << " of " << record.progress.total
                << " images done; run the same command again to carry on from there\n";
      return 128 + stopped.signal;
    }
  }
  if (record.status == core::RequestStatus::failed) {
    std::cerr << "imgbatch: the request could not go on: "
              << record.failure_reason.value_or("no reason recorded") << "\n";
    return process_exit::kInternalError;
  }
  // Another process using the same state database (serve) cancelled it: nothing to write.
  if (record.status == core::RequestStatus::cancelled) {
    std::cerr << "imgbatch: the request was cancelled (DELETE /requests/" << record.id << ") with "
              << sample_of(record).done << " of " << record.progress.total << " images done\n";
    return process_exit::kInternalError;
  }
  return finish_completed(folder, *store, record, started);
}

}  // namespace

int run_process(const ProcessArgs& args) {
  const auto started = Clock::now();
  auto bytes = read_whole_file(args.csv_path);
  if (!bytes) {
    std::cerr << "imgbatch: cannot read " << args.csv_path << ": " << bytes.message() << "\n";
    return process_exit::kBadInput;
  }
  auto parsed = csv::parse_and_validate(*bytes, intake::parse_limits(args.config.max_rows));
  if (!parsed.ok()) {
    print_problems(args.csv_path, parsed);
    return process_exit::kBadInput;
  }
  // The CSV and the settings that change the output: the same command resumes, anything
  // else is another job.
  const auto fingerprint = intake::upload_fingerprint(*bytes, settings_of(args));

  try {
    return process_folder(args, std::move(*parsed.csv), fingerprint, started);
  } catch (const store::StoreError& e) {
    std::cerr << "imgbatch: state database in " << args.out_dir << "/.imgbatch: " << e.what()
              << "\n";
  } catch (const std::exception& e) {
    std::cerr << "imgbatch: " << e.what() << "\n";
  }
  return process_exit::kInternalError;
}

}  // namespace imgbatch
