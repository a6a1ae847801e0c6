// A process's presence next to a SQLite database (Store::announce_process): a file in the
// folder DB.owners/ that holds the owner's name and an exclusive flock(2), kept open for the
// process's life. The kernel drops the lock when the process ends, however it ends, so
// another process that can take it knows the owner is gone, even where the PID check of
// core/process_identity cannot tell (a restarted container has a new PID namespace). Every
// process that uses the database file shares its kernel (or its NFS lock manager), which is
// what SQLite itself needs too. Destruction removes the file, then closes it.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

#include "store/store.hpp"

namespace imgbatch::store::sqlite {

class SqlitePresence final : public ProcessPresence {
 public:
  // Throws StoreError when the folder or the file cannot be made.
  SqlitePresence(const std::filesystem::path& folder, const std::string& owner);
  ~SqlitePresence() override;
  SqlitePresence(const SqlitePresence&) = delete;
  SqlitePresence& operator=(const SqlitePresence&) = delete;

  void leave_without_goodbye() override { goodbye_ = false; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::atomic<bool> goodbye_{true};
};

// The folder of the presence files of the database at `database_path`.
std::filesystem::path presence_folder(const std::string& database_path);

// Calls `release(owner)` for every owner but `self` whose presence file's lock is free (its
// process is gone), then removes that file. Returns the sum of what `release` returned.
int release_departed(const std::filesystem::path& folder, const std::string& self,
                     const std::function<int(const std::string& owner)>& release);

}  // namespace imgbatch::store::sqlite
