#include "file_blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace imgbatch::blob {
namespace fs = std::filesystem;
namespace {

std::string errno_text(int err) { return std::generic_category().message(err); }

// A file too large for the file system, or a name it cannot hold, is this image's own
// problem; anything else (ENOSPC, EIO, EROFS, a folder in the way…) is the storage's.
BlobError store_error(int err) {
  const bool refused = err == EFBIG || err == ENAMETOOLONG || err == EINVAL;
  return {refused ? BlobError::Kind::refused : BlobError::Kind::unavailable,
          "could not store image: " + errno_text(err)};
}

core::Error bad_key(const std::string& key) {
  return core::make_error("invalid image key \"" + key +
                          "\": expected REQUEST_ID/NAME made of letters, digits, '.', '_' or '-'");
}

// No key that is unsafe names an object, so reading one is a plain "not found".
BlobError unreadable_key(const std::string& key) {
  return {BlobError::Kind::not_found, bad_key(key).message};
}

BlobError not_found(const std::string& key) {
  return {BlobError::Kind::not_found, "image " + key + " not found"};
}

BlobError read_error(const std::string& key, int err) {
  return {BlobError::Kind::unavailable, "could not read image " + key + ": " + errno_text(err)};
}

BlobError open_error(const std::string& key, int err) {
  if (err == ENOENT || err == ENOTDIR) return not_found(key);
  return read_error(key, err);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // close() can report a deferred write error (NFS, quota), so put checks it.
  int release_and_close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// Creates a fresh temporary in `dir`; O_EXCL makes the name ours even if another process
// shares the directory. Mode 0666 lets the umask decide, like any other file we write.
int create_temporary(const std::string& dir, std::string& path_out) {
  for (int tries = 0; tries < 16; ++tries) {
    path_out = dir + "/" + make_temporary_name();
    int fd = ::open(path_out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

int write_all(int fd, std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return 0;
}

// Makes a rename or a new entry in `dir` durable.
int fsync_directory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return errno;
  if (::fsync(fd.get()) != 0) return errno;
  return 0;
}

bool starts_with_temporary_prefix(const std::string& name) {
  return name.rfind(kTemporaryPrefix, 0) == 0;
}

// FNV-1a, 64 bits: stable across builds and machines (unlike std::hash) and cheap. The tag
// only has to change when the bytes do, not resist forgery. (The same digest GET /images
// computed per request before tags were stored, so clients' cached tags stay valid.)
class Fnv1a {
 public:
  Fnv1a& add(std::string_view bytes) {
    for (const unsigned char c : bytes) {
      hash_ ^= c;
      hash_ *= 0x100000001b3ULL;
    }
    return *this;
  }
  Fnv1a& add(std::uint64_t n) { return add(std::to_string(n)).add("|"); }
  std::string hex() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    for (int shift = 60; shift >= 0; shift -= 4) text.push_back(kDigits[(hash_ >> shift) & 0xf]);
    return text;
  }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

// The tag of an object whose file carries none (a file system without user extended
// attributes, or a file written by an older version): from what identifies this version
// of the file. A put renames a new file into place, so the inode and the modification
// time change with every put; the prefix keeps these tags apart from digests.
std::string metadata_etag(const struct stat& st) {
  const auto mtime_ns = static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000ULL +
                        static_cast<std::uint64_t>(st.st_mtim.tv_nsec);
  return "m-" + Fnv1a()
                    .add(static_cast<std::uint64_t>(st.st_size))
                    .add(mtime_ns)
                    .add(static_cast<std::uint64_t>(st.st_ino))
                    .add(static_cast<std::uint64_t>(st.st_dev))
                    .hex();
}

bool is_digest(std::string_view text) {
  if (text.size() != 16) return false;
  for (const char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The digest recorded on the open file, or the metadata tag when there is none (or the
// attribute holds something else: it must never put arbitrary bytes into a header).
std::string etag_of(int fd, const struct stat& st) {
  char value[64];
  const ssize_t n = ::fgetxattr(fd, kEtagAttribute, value, sizeof value);
  if (n > 0 && is_digest(std::string_view(value, static_cast<std::size_t>(n))))
    return std::string(value, static_cast<std::size_t>(n));
  return metadata_etag(st);
}

}  // namespace

FileBlobStore::FileBlobStore(const fs::path& root, BlobStoreOptions options)
    : options_(std::move(options)) {
  std::error_code ec;
  root_ = fs::absolute(root, ec);
  if (ec) throw std::runtime_error("storage directory " + root.string() + ": " + ec.message());
  fs::create_directories(root_, ec);
  if (ec || !fs::is_directory(root_)) {
    throw std::runtime_error("could not create storage directory " + root_.string() + ": " +
                             (ec ? ec.message() : std::string("a file of that name exists")) +
                             " (check --storage and the directory's permissions)");
  }
  // Fail at start-up, not on the first image, when the directory cannot be written.
  std::string probe;
  int fd = create_temporary(root_.string(), probe);
  if (fd < 0) {
    throw std::runtime_error("storage directory " + root_.string() +
                             " is not writable: " + errno_text(errno) +
                             " (check --storage and the directory's permissions)");
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

PutResult FileBlobStore::put(const std::string& key, std::string_view bytes) {
  if (!is_safe_key(key)) return BlobError{BlobError::Kind::refused, bad_key(key).message};
  const std::string dir = (root_ / key.substr(0, key.find('/'))).string();
  const std::string final_path = (root_ / key).string();

  if (::mkdir(dir.c_str(), 0777) == 0) {
    if (options_.fsync) {
      if (int err = fsync_directory(root_.string())) return store_error(err);
    }
  } else if (errno != EEXIST) {
    return store_error(errno);
  }

  std::string tmp;
  Fd fd(create_temporary(dir, tmp));
  if (fd.get() < 0) return store_error(errno);

  auto fail = [&tmp](int err) -> PutResult {
    ::unlink(tmp.c_str());
    return store_error(err);
  };
  if (int err = write_all(fd.get(), bytes)) return fail(err);
  // Set on the temporary, so the object and its tag appear together with the rename. A
  // file system that refuses user attributes (ENOTSUP) is no error: get falls back to a
  // tag from the file's metadata.
  const std::string tag = Fnv1a().add(bytes).hex();
  (void)::fsetxattr(fd.get(), kEtagAttribute, tag.data(), tag.size(), 0);
  if (options_.fsync && ::fsync(fd.get()) != 0) return fail(errno);
  if (fd.release_and_close() != 0) return fail(errno);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) return fail(errno);
  if (options_.fsync) {
    if (int err = fsync_directory(dir)) return store_error(err);
  }
  return core::Ok{};
}

namespace {

// An object opened for reading, with what fstat says of it: the tag and the bytes are
// then taken from the same version even when a put renames another file over the name.
struct OpenObject {
  Fd fd;
  struct stat st;
};

BlobResult<OpenObject> open_object(const fs::path& root, const std::string& key) {
  if (!is_safe_key(key)) return unreadable_key(key);
  const std::string path = (root / key).string();
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return open_error(key, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return read_error(key, errno);
  if (!S_ISREG(st.st_mode)) return not_found(key);
  return OpenObject{std::move(fd), st};
}

}  // namespace

BlobResult<StoredObject> FileBlobStore::get(const std::string& key) {
  auto opened = open_object(root_, key);
  if (!opened) return opened.error();
  const Fd& fd = opened->fd;
  StoredObject object;
  object.etag = etag_of(fd.get(), opened->st);
  const auto& st = opened->st;
  std::string& out = object.bytes;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  for (;;) {
    if (got == out.size()) out.resize(out.size() + 4096);  // the file grew; keep reading
    ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return read_error(key, errno);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return object;
}

BlobResult<ObjectInfo> FileBlobStore::stat(const std::string& key) {
  auto opened = open_object(root_, key);
  if (!opened) return opened.error();
  return ObjectInfo{etag_of(opened->fd.get(), opened->st),
                    static_cast<std::int64_t>(opened->st.st_size)};
}

bool FileBlobStore::exists(const std::string& key) {
  if (!is_safe_key(key)) return false;
  struct stat st {};
  return ::stat((root_ / key).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

core::Status FileBlobStore::remove(const std::string& key) {
  if (!is_safe_key(key)) return bad_key(key);
  if (::unlink((root_ / key).c_str()) != 0 && errno != ENOENT && errno != ENOTDIR)
    return core::make_error("could not remove image " + key + ": " + errno_text(errno));
  // The request's folder goes with its last image; while others remain, rmdir refuses.
  (void)::rmdir((root_ / key.substr(0, key.find('/'))).c_str());
  return core::Ok{};
}

int FileBlobStore::remove_stale_temporaries(std::chrono::seconds older_than) {
  const auto cutoff = fs::file_time_type::clock::now() - older_than;
  int removed = 0;
  auto consider = [&](const fs::directory_entry& e) {
    std::error_code ec;
    if (!starts_with_temporary_prefix(e.path().filename().string())) return;
    if (!e.is_regular_file(ec) || ec) return;
    auto mtime = e.last_write_time(ec);
    if (ec) return;
    if (mtime >= cutoff && !writer_is_gone(e.path().filename().string(), mtime)) return;
    if (fs::remove(e.path(), ec) && !ec) ++removed;
  };

  std::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (starts_with_temporary_prefix(name)) {
      consider(*it);
      continue;
    }
    std::error_code ec2;
    if (name.front() == '.' || !it->is_directory(ec2) || it->is_symlink(ec2)) continue;
    for (fs::directory_iterator sub(it->path(), ec2), send; !ec2 && sub != send;
         sub.increment(ec2)) {
      consider(*sub);
    }
  }
  return removed;
}

}  // namespace imgbatch::blob
