// The raw rate at which a Store backend hands out and records work, with no download and no
// image: the ceiling the database puts on a deployment, however many workers it has. One
// request of TASKS tasks is stored, then THREADS threads, each with a Store of its own (as
// separate worker processes have), claim batches of BATCH and finish them all as succeeded,
// until nothing is left. Two transactions per batch, as the pipeline does (it claims and
// flushes its outcomes in batches of up to 64).
//
//   store_throughput [--sqlite DIR] [--pg URI [--pg-async]] [--tasks N] [--threads 1,2,4]
//                    [--batch N]
//
// --sqlite DIR: a fresh database file in DIR per run, removed after. --pg URI: a libpq URI of
// a database in which the program may create schemas; each run gets a schema of its own
// (dropped after), chosen with `options=-csearch_path=…` appended to the URI. --pg-async:
// each PostgreSQL run again with synchronous_commit=off for the session, which is what
// SQLite's synchronous=NORMAL in WAL mode gives (a commit does not wait for the disk; a
// crash of the machine may lose the last moment of work, never consistency).
//
// One line per run:
//   store_throughput backend=postgresql commit=sync threads=2 tasks=20000 batch=64
//     create_ms=… seconds=… tasks_per_s=… claims=…
// Exits 1 if a run loses or duplicates work (every task finished once, the request
// completed once), so a wrong figure is never printed as a good one.
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.hpp"
#include "core/types.hpp"
#include "store/store.hpp"

namespace {

using namespace imgbatch;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr core::TimeMs kLeaseMs = 600'000;  // never runs out during a run

struct Settings {
  std::string sqlite_dir;
  std::string pg_uri;
  bool pg_async = false;
  int tasks = 20'000;
  std::vector<int> threads = {1, 2, 4};
  int batch = 64;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "store_throughput: %s\nusage: store_throughput [--sqlite DIR] [--pg URI "
               "[--pg-async]] [--tasks N] [--threads 1,2,4] [--batch N]\n",
               problem.c_str());
  std::exit(2);
}

Settings parse(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--sqlite") {
      settings.sqlite_dir = value();
    } else if (arg == "--pg") {
      settings.pg_uri = value();
    } else if (arg == "--pg-async") {
      settings.pg_async = true;
    } else if (arg == "--tasks") {
      settings.tasks = std::atoi(value().c_str());
    } else if (arg == "--batch") {
      settings.batch = std::atoi(value().c_str());
    } else if (arg == "--threads") {
      settings.threads.clear();
      const std::string list = value();
      for (std::size_t start = 0; start <= list.size();) {
        const auto comma = std::min(list.find(',', start), list.size());
        settings.threads.push_back(std::atoi(list.substr(start, comma - start).c_str()));
        start = comma + 1;
      }
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (settings.sqlite_dir.empty() && settings.pg_uri.empty()) usage("give --sqlite or --pg");
  if (settings.tasks < 1 || settings.batch < 1) usage("--tasks and --batch must be >= 1");
  for (const int n : settings.threads)
    if (n < 1) usage("--threads takes counts >= 1");
  return settings;
}

// One request, one image per product, as an upload of TASKS rows would be.
core::NewRequest make_request(int tasks) {
  core::NewRequest request;
  request.id = core::new_uuid();
  request.columns = {"S. No.", "Product Name", "Input Image Urls"};
  request.products.reserve(tasks);
  for (int p = 0; p < tasks; ++p) {
    core::ProductInput product;
    product.serial_number = std::to_string(p + 1);
    product.product_name = "SKU" + std::to_string(p + 1);
    product.image_urls = {"https://img.example.com/" + std::to_string(p) + ".jpg"};
    product.fields = {product.serial_number, product.product_name, product.image_urls[0]};
    request.products.push_back(std::move(product));
  }
  request.fingerprint = "bench-" + request.id;
  request.created_at = core::now_ms();
  return request;
}

struct Outcome {
  double create_ms = 0;
  double seconds = 0;
  long long claims = 0;
};

// Stores the request through `stores[0]`, then drains it with one thread per store.
Outcome run(std::vector<std::unique_ptr<store::Store>>& stores, int tasks, int batch) {
  Outcome outcome;
  const auto request = make_request(tasks);
  const auto create_start = Clock::now();
  stores[0]->create_request(request);
  outcome.create_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - create_start).count();

  std::atomic<long long> finished{0};
  std::atomic<long long> claims{0};
  std::atomic<int> completions{0};
  std::atomic<bool> failed{false};
  std::barrier start(static_cast<std::ptrdiff_t>(stores.size()) + 1);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < stores.size(); ++t) {
    threads.emplace_back([&, t] {
      store::Store& store = *stores[t];
      const std::string owner = "bench:" + std::to_string(getpid()) + ":" + std::to_string(t);
      start.arrive_and_wait();
      try {
        for (;;) {
          auto claimed = store.claim_tasks(owner, batch, core::now_ms(), kLeaseMs);
          if (claimed.empty()) break;
          claims.fetch_add(1);
          std::vector<core::TaskOutcome> outcomes;
          outcomes.reserve(claimed.size());
          for (const auto& task : claimed) {
            core::TaskOutcome done;
            done.task_id = task.task_id;
            done.request_id = task.request_id;
            done.kind = core::TaskOutcome::Kind::succeeded;
            done.output_name = std::to_string(task.product_index) + "-0.jpg";
            done.bytes_in = 100'000;
            done.bytes_out = 50'000;
            done.owner = owner;
            outcomes.push_back(std::move(done));
          }
          completions.fetch_add(
              static_cast<int>(store.finish_tasks(outcomes, core::now_ms()).size()));
          finished.fetch_add(static_cast<long long>(claimed.size()));
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "store_throughput: thread %zu: %s\n", t, e.what());
        failed = true;
      }
    });
  }
  start.arrive_and_wait();
  const auto drain_start = Clock::now();
  for (auto& thread : threads) thread.join();
  outcome.seconds = std::chrono::duration<double>(Clock::now() - drain_start).count();
  outcome.claims = claims.load();

  const auto record = stores[0]->get_request(request.id);
  if (failed || finished.load() != tasks || completions.load() != 1 || !record ||
      record->status != core::RequestStatus::completed || record->progress.succeeded != tasks) {
    std::fprintf(stderr,
                 "store_throughput: wrong result: %lld of %d tasks finished, %d completion(s), "
                 "succeeded=%d\n",
                 finished.load(), tasks, completions.load(),
                 record ? record->progress.succeeded : -1);
    std::exit(1);
  }
  return outcome;
}

void print(const std::string& backend, const std::string& commit, int threads,
           const Settings& settings, const Outcome& outcome) {
  std::printf(
      "store_throughput backend=%s commit=%s threads=%d tasks=%d batch=%d create_ms=%.1f "
      "seconds=%.3f tasks_per_s=%.0f claims=%lld\n",
      backend.c_str(), commit.c_str(), threads, settings.tasks, settings.batch, outcome.create_ms,
      outcome.seconds, settings.tasks / outcome.seconds, outcome.claims);
  std::fflush(stdout);
}

void run_sqlite(const Settings& settings) {
  fs::create_directories(settings.sqlite_dir);
  for (const int threads : settings.threads) {
    const fs::path file =
        fs::path(settings.sqlite_dir) / ("store-" + std::to_string(threads) + ".db");
    std::vector<std::unique_ptr<store::Store>> stores;
    for (int t = 0; t < threads; ++t)
      stores.push_back(store::open_store("sqlite:" + file.string()));
    const Outcome outcome = run(stores, settings.tasks, settings.batch);
    stores.clear();
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
    print("sqlite", "wal_normal", threads, settings, outcome);
  }
}

// Runs SQL on the benchmark's database itself (schemas are made and dropped this way).
void execute(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to " + store::redact_uri(uri) + ": " + message);
  }
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  PGresult* result = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  const std::string message = PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
  if (!ok) throw std::runtime_error(sql + ": " + message);
}

void run_postgres(const Settings& settings) {
  const char separator = settings.pg_uri.find('?') == std::string::npos ? '?' : '&';
  std::vector<std::string> commits = {"sync"};
  if (settings.pg_async) commits.push_back("async");
  int next = 0;
  for (const auto& commit : commits) {
    for (const int threads : settings.threads) {
      const std::string schema = "bench_" + std::to_string(getpid()) + "_" + std::to_string(++next);
      execute(settings.pg_uri, "CREATE SCHEMA " + schema);
      std::string uri = settings.pg_uri + separator + "options=-csearch_path%3D" + schema;
      if (commit == "async") uri += "%20-csynchronous_commit%3Doff";
      Outcome outcome;
      {
        std::vector<std::unique_ptr<store::Store>> stores;
        for (int t = 0; t < threads; ++t) stores.push_back(store::open_store(uri));
        outcome = run(stores, settings.tasks, settings.batch);
      }
      execute(settings.pg_uri, "DROP SCHEMA " + schema + " CASCADE");
      print("postgresql", commit, threads, settings, outcome);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Settings settings = parse(argc, argv);
  try {
    if (!settings.sqlite_dir.empty()) run_sqlite(settings);
    if (!settings.pg_uri.empty()) run_postgres(settings);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_throughput: %s\n", e.what());
    return 1;
  }
  return 0;
}
