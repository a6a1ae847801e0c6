#include "sqlite/presence.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <system_error>

namespace imgbatch::store::sqlite {

namespace {

constexpr std::string_view kSuffix = ".owner";

std::string system_error_text(int error) { return std::generic_category().message(error); }

// The owner's name as a file name: '/' (which owner names contain) is the one character
// a file name cannot hold.
std::string file_name_of(const std::string& owner) {
  std::string name = owner;
  for (char& c : name)
    if (c == '/') c = '#';
  return name + std::string(kSuffix);
}

std::string read_all(int fd) {
  std::string text;
  char buffer[512];
  ssize_t n;
  while ((n = ::pread(fd, buffer, sizeof buffer, static_cast<off_t>(text.size()))) > 0)
    text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

}  // namespace

std::filesystem::path presence_folder(const std::string& database_path) {
  return database_path + ".owners";
}

SqlitePresence::SqlitePresence(const std::filesystem::path& folder, const std::string& owner)
    : path_(folder / file_name_of(owner)) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error)
    throw StoreError("sqlite: cannot create the folder " + folder.string() + ": " +
                     error.message());
  // Made and locked under a temporary name, then renamed into place: nobody ever sees the
  // file without its lock while the owner lives.
  const auto temporary =
      folder / (".tmp-" + std::to_string(std::random_device{}()) + file_name_of(owner));
  fd_ = ::open(temporary.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw StoreError("sqlite: cannot create " + temporary.string() + ": " +
                     system_error_text(errno));
  const bool ok = ::flock(fd_, LOCK_EX | LOCK_NB) == 0 &&
                  ::write(fd_, owner.data(), owner.size()) == static_cast<ssize_t>(owner.size()) &&
                  ::rename(temporary.c_str(), path_.c_str()) == 0;
  if (!ok) {
    const int saved = errno;
    ::unlink(temporary.c_str());
    ::close(fd_);
    throw StoreError("sqlite: cannot make the presence file " + path_.string() + ": " +
                     system_error_text(saved));
  }
}

SqlitePresence::~SqlitePresence() {
  if (goodbye_) ::unlink(path_.c_str());
  ::close(fd_);  // drops the lock
}

int release_departed(const std::filesystem::path& folder, const std::string& self,
                     const std::function<int(const std::string& owner)>& release) {
  std::error_code error;
  std::filesystem::directory_iterator entries(folder, error);
  if (error) return 0;  // no folder yet: nobody announced
  int released = 0;
  for (const auto& entry : entries) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(kSuffix) || name.starts_with(".tmp-")) continue;
    const int fd = ::open(entry.path().c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;  // removed meanwhile
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      const std::string owner = read_all(fd);
      if (!owner.empty() && owner != self) {
        try {
          released += release(owner);
        } catch (...) {
          ::close(fd);  // kept: the next check tries again
          throw;
        }
        ::unlink(entry.path().c_str());
      }
    }
    ::close(fd);
  }
  return released;
}

}  // namespace imgbatch::store::sqlite
