// Copies the write-ahead log back into the database file on a thread of its own. SQLite
// would otherwise do it inside the COMMIT that crosses the WAL's size threshold, which
// adds two fsyncs and several megabytes of copying to whichever write happened to be
// last (often storing a large upload), while every other writer of the process waits.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace imgbatch::store::sqlite {

class Checkpointer {
 public:
  // WAL size, in pages, past which a commit asks for a checkpoint (SQLite's own default).
  static constexpr int kThresholdPages = 1000;

  explicit Checkpointer(const std::string& path);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Takes over `writer`'s WAL hook, which also turns off its automatic checkpoints.
  void watch(sqlite3* writer);

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void request();
  void run();

  sqlite3* db_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace imgbatch::store::sqlite
