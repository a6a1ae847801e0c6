#include "sqlite/checkpointer.hpp"

#include <sqlite3.h>

#include "store/store.hpp"

namespace imgbatch::store::sqlite {

Checkpointer::Checkpointer(const std::string& path) {
  const int rc =
      sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    throw StoreError("sqlite: cannot open database '" + path + "' for checkpoints: " + message);
  }
  // A connection reads the file, and learns that it is in WAL mode, only at its first
  // statement; until then a checkpoint through it does nothing.
  if (sqlite3_exec(db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    std::string message = sqlite3_errmsg(db_);
    sqlite3_close(db_);
    throw StoreError("sqlite: cannot read database '" + path + "' for checkpoints: " + message);
  }
  // No busy_timeout on purpose: a checkpoint that finds the database busy copies what it
  // can and leaves the rest to the next one.
  thread_ = std::thread([this] { run(); });
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  // The last connection to close checkpoints what is left and removes the WAL file.
  sqlite3_close(db_);
}

void Checkpointer::watch(sqlite3* writer) {
  sqlite3_wal_hook(writer, &Checkpointer::on_commit, this);
}

int Checkpointer::on_commit(void* self, sqlite3*, const char*, int wal_pages) {
  if (wal_pages >= kThresholdPages) static_cast<Checkpointer*>(self)->request();
  return SQLITE_OK;
}

void Checkpointer::request() {
  {
    std::lock_guard lock(mutex_);
    requested_ = true;
  }
  wake_.notify_one();
}

void Checkpointer::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return requested_ || stopping_; });
    if (stopping_) return;
    requested_ = false;
    lock.unlock();
    // PASSIVE never blocks readers or writers. Its failures (SQLITE_BUSY, an I/O error)
    // are not worth stopping for: the next commit past the threshold asks again, and
    // the data is safe in the WAL meanwhile.
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
  }
}

}  // namespace imgbatch::store::sqlite
