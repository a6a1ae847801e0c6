// What only the SQLite backend has: the file, its pragmas, the schema migrations, and
// locking between processes.
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "store/common/ended.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/schema.hpp"
#include "store/store.hpp"
#include "support/temp_dir.hpp"

namespace imgbatch::store::testing {
namespace {

using test_support::TempDir;

// A plain SQLite handle, to look at the file from outside the Store.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << sqlite3_errmsg(db_);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (error ? error : "?");
      sqlite3_free(error);
    }
  }
  // The first column of every row, as text.
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> values;
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return values;
    }
    while (sqlite3_step(statement) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(statement, 0);
      values.emplace_back(text ? reinterpret_cast<const char*>(text) : "NULL");
    }
    sqlite3_finalize(statement);
    return values;
  }

 private:
  sqlite3* db_ = nullptr;
};

core::NewRequest small_request() {
  core::NewRequest r;
  r.id = core::new_uuid();
  r.columns = {"S. No.", "Product Name", "Input Image Urls"};
  r.products.push_back({"1", "SKU1", {"https://img.example.com/a.jpg"}, {"1", "SKU1", "x"}});
  r.fingerprint = "f";
  r.created_at = 1'800'000'000'000;
  return r;
}

std::vector<std::string> all_versions() {
  std::vector<std::string> versions;
  for (int v = 1; v <= common::known_version(sqlite::migrations()); ++v)
    versions.push_back(std::to_string(v));
  return versions;
}

std::string error_of(const std::string& uri) {
  try {
    open_store(uri);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "no error";
}

TEST(SqliteStore, OpeningCreatesTheFolderTheSchemaAndWalMode) {
  TempDir dir;
  const auto file = dir.path() / "a" / "b" / "imgbatch.db";
  auto store = open_store("sqlite:" + file.string());
  ASSERT_TRUE(std::filesystem::exists(file));

  RawDb raw(file);
  EXPECT_EQ(raw.column("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  EXPECT_EQ(raw.column("SELECT version FROM schema_migrations ORDER BY version"), all_versions());
  EXPECT_EQ(
      raw.column("SELECT name FROM sqlite_master WHERE type = 'table'"
                 " AND name IN ('requests', 'products', 'tasks', 'deliveries') ORDER BY name"),
      (std::vector<std::string>{"deliveries", "products", "requests", "tasks"}));
}

TEST(SqliteStore, ReopeningKeepsTheDataAndAppliesNoMigrationTwice) {
  TempDir dir;
  const std::string uri = "sqlite:" + (dir.path() / "imgbatch.db").string();
  const auto request = small_request();
  std::vector<std::string> applied;
  {
    auto store = open_store(uri);
    store->create_request(request);
    applied =
        RawDb(dir.path() / "imgbatch.db")
            .column("SELECT version || ':' || applied_at FROM schema_migrations ORDER BY version");
  }
  auto store = open_store(uri);
  const auto record = store->get_request(request.id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->progress.total, 1);
  EXPECT_EQ(store->get_products(request.id, 0, 10).at(0).images.at(0).source_url,
            "https://img.example.com/a.jpg");
  EXPECT_EQ(
      RawDb(dir.path() / "imgbatch.db")
          .column("SELECT version || ':' || applied_at FROM schema_migrations ORDER BY version"),
      applied);
}

TEST(SqliteStore, UnknownUriNamesTheAcceptedForm) {
  for (const std::string uri : {"data/imgbatch.db", ""}) {
    const std::string message = error_of(uri);
    EXPECT_NE(message.find("'" + uri + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("sqlite:PATH"), std::string::npos) << message;
  }
  // Of a URL only the scheme is echoed: the rest may hold a password.
  const std::string url = error_of("mysql://root:s3cret@localhost/imgbatch");
  EXPECT_NE(url.find("'mysql://...'"), std::string::npos) << url;
  EXPECT_NE(url.find("sqlite:PATH"), std::string::npos) << url;
  EXPECT_NE(url.find("postgresql://"), std::string::npos) << url;
  EXPECT_EQ(url.find("s3cret"), std::string::npos) << url;
  EXPECT_NE(error_of("sqlite:").find("names no file"), std::string::npos) << error_of("sqlite:");
  EXPECT_NE(error_of("sqlite::memory:").find("in-memory"), std::string::npos)
      << error_of("sqlite::memory:");
}

TEST(SqliteStore, FileThatIsNotADatabaseIsReportedWithSqlitesMessage) {
  TempDir dir;
  const auto file = dir.path() / "garbage.db";
  std::ofstream(file) << std::string(4096, 'x');
  const std::string message = error_of("sqlite:" + file.string());
  EXPECT_NE(message.find("not a database"), std::string::npos) << message;
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
}

TEST(SqliteStore, FolderThatCannotBeCreatedIsReported) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  const auto file = dir.path() / "file" / "imgbatch.db";
  const std::string message = error_of("sqlite:" + file.string());
  EXPECT_NE(message.find((dir.path() / "file").string()), std::string::npos) << message;
}

TEST(SqliteStore, DatabaseFromANewerBuildIsRefused) {
  TempDir dir;
  const auto file = dir.path() / "imgbatch.db";
  open_store("sqlite:" + file.string());
  const int newer = common::known_version(sqlite::migrations()) + 1;
  RawDb(file).exec("INSERT INTO schema_migrations VALUES (" + std::to_string(newer) + ", 0)");
  const std::string message = error_of("sqlite:" + file.string());
  EXPECT_NE(message.find("schema version " + std::to_string(newer)), std::string::npos) << message;
}

// Files written before the version table was named as PostgreSQL's: the table is carried
// over, with the versions it recorded, and the file opens with its data.
TEST(SqliteStore, DatabaseWithTheOldVersionTableOpensAndKeepsItsHistory) {
  TempDir dir;
  const auto file = dir.path() / "imgbatch.db";
  const auto request = small_request();
  open_store("sqlite:" + file.string())->create_request(request);
  {
    RawDb raw(file);
    raw.exec(
        "ALTER TABLE schema_migrations RENAME TO schema_version;"
        " UPDATE schema_version SET applied_at = 42");
  }
  auto store = open_store("sqlite:" + file.string());
  ASSERT_TRUE(store->get_request(request.id).has_value());
  EXPECT_TRUE(store->ping());
  RawDb raw(file);
  EXPECT_EQ(raw.column("SELECT name FROM sqlite_master WHERE name LIKE 'schema_%'"),
            std::vector<std::string>{"schema_migrations"});
  std::vector<std::string> recorded;
  for (const auto& version : all_versions()) recorded.push_back(version + ":42");
  EXPECT_EQ(raw.column("SELECT version || ':' || applied_at FROM schema_migrations"
                       " ORDER BY version"),
            recorded);
}

TEST(SqliteStore, FailedMigrationIsRolledBackWhole) {
  TempDir dir;
  const auto file = dir.path() / "m.db";
  sqlite::Connection connection(file.string(), sqlite::Connection::Role::writer);
  const sqlite::Migration broken[] = {
      {1, "CREATE TABLE a (x INTEGER)"},
      {2, "CREATE TABLE b (x INTEGER); INSERT INTO missing VALUES (1)"},
  };
  EXPECT_THROW(sqlite::migrate(connection, broken), StoreError);
  // The missing steps are applied together or not at all, as on PostgreSQL.
  RawDb raw(file);
  EXPECT_EQ(raw.column("SELECT name FROM sqlite_master WHERE name IN ('a', 'b',"
                       " 'schema_migrations')"),
            std::vector<std::string>{});

  const sqlite::Migration fixed[] = {
      {1, "CREATE TABLE a (x INTEGER)"},
      {2, "CREATE TABLE b (x INTEGER)"},
  };
  sqlite::migrate(connection, fixed);
  EXPECT_EQ(raw.column("SELECT version FROM schema_migrations ORDER BY version"),
            (std::vector<std::string>{"1", "2"}));
}

// The SQL list of final statuses says what core::has_ended says, for every status.
TEST(EndedStatuses, TheSqlListAgreesWithCore) {
  for (const auto status : {core::RequestStatus::pending, core::RequestStatus::processing,
                            core::RequestStatus::completed, core::RequestStatus::failed,
                            core::RequestStatus::cancelled}) {
    const std::string quoted = "'" + std::string(core::to_string(status)) + "'";
    EXPECT_EQ(common::kEndedStatuses.find(quoted) != std::string_view::npos,
              core::has_ended(status))
        << quoted;
    EXPECT_EQ(common::has_ended(core::to_string(status)), core::has_ended(status)) << quoted;
  }
  EXPECT_FALSE(common::has_ended("deleted"));
}

// Version 5 rebuilds `requests` to allow `cancelled`: a file written at version 4 keeps
// its requests, their products, tasks and deliveries, and its foreign keys hold after.
TEST(SqliteStore, AFileAtVersion4KeepsItsRequestsAndCanCancelThem) {
  TempDir dir;
  const auto file = dir.path() / "v4.db";
  const auto steps = sqlite::migrations();
  ASSERT_GE(steps.size(), 5u);
  {
    sqlite::Connection connection(file.string(), sqlite::Connection::Role::writer);
    sqlite::migrate(connection, steps.first(4));
  }
  const std::string id = core::new_uuid();
  {
    RawDb raw(file);
    raw.exec(
        "INSERT INTO requests (seq, id, status, created_at, updated_at, columns, quality, format,"
        " fingerprint, products_total, total, webhook_url, owner_key) VALUES (7, '" +
        id +
        "', 'processing', 1, 2, '[\"a\"]', 50, 'jpeg', 'f', 1, 2, 'https://hooks.example/v4',"
        " 'key_1');"
        "INSERT INTO products VALUES (7, 0, '1', 'SKU1', '[\"x\"]');"
        "INSERT INTO tasks (request_seq, product_idx, image_idx, source_url, updated_at)"
        " VALUES (7, 0, 0, 'https://img.example.com/a.jpg', 1),"
        " (7, 0, 1, 'https://img.example.com/b.jpg', 1);");
  }
  {
    sqlite::Connection connection(file.string(), sqlite::Connection::Role::writer);
    sqlite::migrate(connection, steps);
    // Turned off to rebuild the table, on again after.
    sqlite::Query pragma(connection, "PRAGMA foreign_keys", "reading foreign_keys");
    ASSERT_TRUE(pragma.step());
    EXPECT_EQ(pragma.integer(0), 1);
  }
  auto store = open_store("sqlite:" + file.string());
  RawDb raw(file);
  EXPECT_EQ(raw.column("SELECT version FROM schema_migrations ORDER BY version"), all_versions());
  EXPECT_EQ(raw.column("SELECT count(*) FROM pragma_foreign_key_check"),
            std::vector<std::string>{"0"});
  EXPECT_EQ(raw.column("SELECT name FROM sqlite_master WHERE tbl_name = 'requests'"
                       " AND type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name"),
            (std::vector<std::string>{"requests_by_created_at", "requests_by_idempotency_key",
                                      "requests_by_owner", "requests_deleted", "requests_ended",
                                      "requests_unfinished"}));
  const auto record = store->get_request(id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->status, core::RequestStatus::processing);
  EXPECT_EQ(record->owner_key, "key_1");
  EXPECT_EQ(record->progress.total, 2);
  EXPECT_EQ(store->get_products(id, 0, 10).at(0).images.size(), 2u);
  ASSERT_EQ(store->cancel_request(id, 3), Store::CancelOutcome::cancelled);
  EXPECT_EQ(store->get_request(id)->status, core::RequestStatus::cancelled);
}

// Version 9 (shared outputs): an image stored before it is its own task's, so that it is
// served, counted as a reference and removed with its request as before.
TEST(SqliteStore, ImagesStoredBeforeVersion9AreTheirOwnTasks) {
  TempDir dir;
  const auto file = dir.path() / "v8.db";
  const auto steps = sqlite::migrations();
  ASSERT_GE(steps.size(), 9u);
  {
    sqlite::Connection connection(file.string(), sqlite::Connection::Role::writer);
    sqlite::migrate(connection, steps.first(8));
  }
  const std::string id = core::new_uuid();
  {
    RawDb raw(file);
    raw.exec(
        "INSERT INTO requests (seq, id, status, created_at, updated_at, columns, quality, format,"
        " fingerprint, products_total, total, succeeded, failed) VALUES (3, '" +
        id +
        "', 'completed', 1, 2, '[\"a\"]', 50, 'jpeg', 'f', 1, 2, 1, 1);"
        "INSERT INTO products VALUES (3, 0, '1', 'SKU1', '[\"x\"]');"
        "INSERT INTO tasks (request_seq, product_idx, image_idx, source_url, updated_at, state,"
        " output_name) VALUES (3, 0, 0, 'https://img.example.com/a.jpg', 1, 'done', '0-0.jpg'),"
        " (3, 0, 1, 'https://img.example.com/b.jpg', 1, 'failed', NULL);");
  }
  auto store = open_store("sqlite:" + file.string());
  EXPECT_EQ(store->image_key(id, 0, 0), id + "/0-0.jpg");
  EXPECT_EQ(store->image_key(id, 0, 1), std::nullopt);
  const auto image = store->get_products(id, 0, 1).at(0).images.at(0);
  EXPECT_EQ(image.blob_key, id + "/0-0.jpg");
  EXPECT_EQ(image.reused, core::Reuse::none);
  EXPECT_EQ(store->get_request(id)->progress.reused, 0);
  ASSERT_EQ(store->delete_request(id), Store::DeleteOutcome::deleted);
  while (store->purge_step(std::nullopt, 3, 500).more) {
  }
  EXPECT_EQ(store->pending_blob_deletions(10), std::vector<std::string>{id + "/0-0.jpg"});
}

// Version 10: a request stored before it has the default quality floor, and a task it
// left running (by a process of the old build) holds its source as any other does.
TEST(SqliteStore, RequestsStoredBeforeVersion10HaveTheDefaultQualityFloor) {
  TempDir dir;
  const auto file = dir.path() / "v9.db";
  const auto steps = sqlite::migrations();
  ASSERT_GE(steps.size(), 10u);
  {
    sqlite::Connection connection(file.string(), sqlite::Connection::Role::writer);
    sqlite::migrate(connection, steps.first(9));
  }
  const std::string id = core::new_uuid();
  {
    RawDb raw(file);
    raw.exec(
        "INSERT INTO requests (seq, id, status, created_at, updated_at, columns, quality, format,"
        " fingerprint, products_total, total, max_bytes) VALUES (4, '" +
        id +
        "', 'processing', 1, 2, '[\"a\"]', 50, 'jpeg', 'f', 1, 2, 5000);"
        "INSERT INTO products VALUES (4, 0, '1', 'SKU1', '[\"x\"]');"
        "INSERT INTO tasks (request_seq, product_idx, image_idx, source_url, updated_at, state,"
        " lease_owner, lease_expires, source_key) VALUES"
        " (4, 0, 0, 'https://img.example.com/a.jpg', 1, 'running', 'old', 9000000000000, 'k'),"
        " (4, 0, 1, 'https://img.example.com/a.jpg', 1, 'pending', NULL, NULL, 'k');");
  }
  auto store = open_store("sqlite:" + file.string());
  const auto record = store->get_request(id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->choices.min_quality, core::kDefaultMinQuality);
  EXPECT_EQ(record->choices.max_bytes, 5000);
  EXPECT_TRUE(store->claim_tasks("new", 10, 1'800'000'000'000, 1000).empty())
      << "the old process's live lease holds the source";
  EXPECT_EQ(store->claim_tasks("old", 10, 1'800'000'000'000, 1000).size(), 1u);
}

TEST(SqliteStore, AnotherProcessesWriteLockIsWaitedFor) {
  TempDir dir;
  const auto file = dir.path() / "imgbatch.db";
  auto store = open_store("sqlite:" + file.string());
  store->create_request(small_request());

  RawDb other(file);
  other.exec("BEGIN IMMEDIATE");
  std::thread unlock([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    other.exec("COMMIT");
  });
  // Without busy_timeout this would fail at once with "database is locked".
  EXPECT_EQ(store->claim_tasks("w", 10, 1'800'000'000'000, 30'000).size(), 1u);
  // Reads never wait for a writer in WAL mode.
  EXPECT_TRUE(store->ping());
  unlock.join();
}

TEST(SqliteStore, WalIsCheckpointedWhileOpenAndRemovedOnClose) {
  TempDir dir;
  const auto file = dir.path() / "imgbatch.db";
  const auto wal = dir.path() / "imgbatch.db-wal";
  auto store = open_store("sqlite:" + file.string());
  const auto empty_size = std::filesystem::file_size(file);

  // Well past the checkpoint threshold: about 2,000 pages of WAL.
  core::NewRequest request = small_request();
  request.products.clear();
  for (int p = 0; p < 30000; ++p) {
    const std::string n = std::to_string(p);
    request.products.push_back(
        {n,
         "SKU" + n,
         {"https://img.example.com/" + n + "/a.jpg", "https://img.example.com/" + n + "/b.jpg"},
         {n, "SKU" + n, "a, b"}});
  }
  store->create_request(request);

  // Only a checkpoint writes pages into the database file itself. The writer's commits
  // leave that to the store's checkpoint thread, so without it the file stays empty.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(file) < empty_size + 2'000'000 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GT(std::filesystem::file_size(file), empty_size + 2'000'000);

  store.reset();
  EXPECT_FALSE(std::filesystem::exists(wal));
  EXPECT_EQ(open_store("sqlite:" + file.string())->get_request(request.id)->products_total, 30000);
}

}  // namespace
}  // namespace imgbatch::store::testing
