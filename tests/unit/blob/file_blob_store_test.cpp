#include "blob/file_blob_store.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/blob_options.hpp"
#include "support/temp_dir.hpp"

namespace imgbatch::blob {
namespace {
namespace fs = std::filesystem;

using test_support::TempDir;

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

void write_file(const fs::path& p, const std::string& content) {
  std::ofstream(p, std::ios::binary) << content;
}

void set_age(const fs::path& p, std::chrono::seconds age) {
  fs::last_write_time(p, fs::file_time_type::clock::now() - age);
}

class FileBlobStoreTest : public testing::TestWithParam<bool> {
 protected:
  TempDir dir_;
  FileBlobStore store_{dir_.path() / "images", imgbatch::test_support::blob_options(GetParam())};
};

INSTANTIATE_TEST_SUITE_P(Fsync, FileBlobStoreTest, testing::Bool(),
                         [](const auto& info) { return info.param ? "on" : "off"; });

// The rest of the contract is in blob_conformance.cpp; here, what is the file backend's.
TEST_P(FileBlobStoreTest, AnObjectIsAFileNamedByItsKey) {
  const std::string bytes("\xff\xd8\x00jpeg\x00bytes\xff\xd9", 14);
  ASSERT_TRUE(store_.put("req1/0-0.jpg", bytes).ok());
  auto got = store_.get("req1/0-0.jpg");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(got->bytes, bytes);
  EXPECT_TRUE(store_.exists("req1/0-0.jpg"));
  EXPECT_FALSE(store_.exists("req1/0-1.jpg"));
  EXPECT_EQ(names_in(dir_.path() / "images" / "req1"), std::vector<std::string>{"0-0.jpg"});
}

TEST_P(FileBlobStoreTest, TheTagIsADigestStoredWithTheObject) {
  ASSERT_TRUE(store_.put("req/a.jpg", "first bytes").ok());
  const auto tag = store_.stat("req/a.jpg");
  ASSERT_TRUE(tag.ok()) << tag.message();
  EXPECT_EQ(tag->etag.size(), 16u) << tag->etag;
  EXPECT_EQ(store_.get("req/a.jpg")->etag, tag->etag);
  // Recorded on the file itself, so no read has to hash the bytes.
  char value[64];
  const auto path = dir_.path() / "images" / "req" / "a.jpg";
  const ssize_t n = ::getxattr(path.c_str(), kEtagAttribute, value, sizeof value);
  ASSERT_GT(n, 0) << "no " << kEtagAttribute << " attribute";
  EXPECT_EQ(std::string(value, static_cast<std::size_t>(n)), tag->etag);

  // The same bytes again (a task done twice) keep their tag; other bytes get another.
  ASSERT_TRUE(store_.put("req/a.jpg", "first bytes").ok());
  EXPECT_EQ(store_.stat("req/a.jpg")->etag, tag->etag);
  ASSERT_TRUE(store_.put("req/b.jpg", "first bytes").ok());
  EXPECT_EQ(store_.stat("req/b.jpg")->etag, tag->etag);
  ASSERT_TRUE(store_.put("req/a.jpg", "other bytes").ok());
  EXPECT_NE(store_.stat("req/a.jpg")->etag, tag->etag);
}

// A file system without user attributes (or a file of an older version) has no recorded
// digest: the tag then comes from the file's metadata, and still changes with every put.
TEST_P(FileBlobStoreTest, WithoutTheAttributeTheTagComesFromTheFile) {
  const auto path = dir_.path() / "images" / "req" / "a.jpg";
  ASSERT_TRUE(store_.put("req/a.jpg", "bytes").ok());
  const auto digest = store_.stat("req/a.jpg")->etag;
  ASSERT_EQ(::removexattr(path.c_str(), kEtagAttribute), 0);

  const auto tag = store_.stat("req/a.jpg");
  ASSERT_TRUE(tag.ok()) << tag.message();
  EXPECT_NE(tag->etag, digest);
  EXPECT_EQ(tag->etag.rfind("m-", 0), 0u) << tag->etag;
  EXPECT_EQ(store_.stat("req/a.jpg")->etag, tag->etag) << "stable while the file stays";
  const auto got = store_.get("req/a.jpg");
  EXPECT_EQ(got->etag, tag->etag);
  EXPECT_EQ(got->bytes, "bytes");

  // A put renames a new file into place: the metadata, and so the tag, are new.
  ASSERT_TRUE(store_.put("req/a.jpg", "bytes, again").ok());
  ASSERT_EQ(::removexattr(path.c_str(), kEtagAttribute), 0);
  EXPECT_NE(store_.stat("req/a.jpg")->etag, tag->etag);

  // Something else in the attribute never reaches a header: the file's tag is used.
  ASSERT_EQ(::setxattr(path.c_str(), kEtagAttribute, "\"\r\nX: y", 6, 0), 0);
  EXPECT_EQ(store_.stat("req/a.jpg")->etag.rfind("m-", 0), 0u);
}

TEST(FileBlobStore, FilesAreReadableByOthersUnderTheUmask) {
  TempDir dir;
  FileBlobStore store(dir.path());
  mode_t old = ::umask(022);
  auto st = store.put("req/a.jpg", "x");
  ::umask(old);
  ASSERT_TRUE(st.ok());
  auto perms = fs::status(dir.path() / "req" / "a.jpg").permissions();
  EXPECT_EQ(perms, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                       fs::perms::others_read);
}

TEST(FileBlobStore, UnsafeKeysAreRefusedAndTouchNothingOutside) {
  TempDir dir;
  fs::create_directories(dir.path() / "store");
  write_file(dir.path() / "secret", "top secret");
  FileBlobStore store(dir.path() / "store");
  for (const char* key :
       {"../secret", "a/../../secret", "/abs", ".hidden/x", "a//b", "a/b/c", "a/.tmp-1", ".."}) {
    auto put = store.put(key, "overwritten");
    ASSERT_FALSE(put.ok()) << key;
    EXPECT_NE(put.message().find("invalid image key"), std::string::npos) << put.message();
    auto got = store.get(key);
    ASSERT_FALSE(got.ok()) << key;
    EXPECT_NE(got.message().find("invalid image key"), std::string::npos) << got.message();
    EXPECT_FALSE(store.exists(key)) << key;
    EXPECT_FALSE(store.remove(key).ok()) << key;
    const auto tag = store.stat(key);
    ASSERT_FALSE(tag.ok()) << key;
    EXPECT_NE(tag.message().find("invalid image key"), std::string::npos) << tag.message();
  }
  std::ifstream in(dir.path() / "secret");
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "top secret");
  EXPECT_TRUE(names_in(dir.path() / "store").empty());
}

TEST(FileBlobStore, RemovesOnlyStaleTemporaries) {
  TempDir dir;
  FileBlobStore store(dir.path());
  ASSERT_TRUE(store.put("req/a.jpg", "kept").ok());
  set_age(dir.path() / "req" / "a.jpg", std::chrono::hours(5));
  write_file(dir.path() / "req" / ".tmp-old", "half");
  set_age(dir.path() / "req" / ".tmp-old", std::chrono::hours(2));
  write_file(dir.path() / "req" / ".tmp-fresh", "a put in progress");
  fs::create_directories(dir.path() / "other");
  write_file(dir.path() / "other" / ".tmp-old2", "half");
  set_age(dir.path() / "other" / ".tmp-old2", std::chrono::hours(3));
  write_file(dir.path() / ".tmp-root", "half");
  set_age(dir.path() / ".tmp-root", std::chrono::hours(3));

  EXPECT_EQ(store.remove_stale_temporaries(std::chrono::hours(1)), 3);

  EXPECT_FALSE(fs::exists(dir.path() / "req" / ".tmp-old"));
  EXPECT_FALSE(fs::exists(dir.path() / "other" / ".tmp-old2"));
  EXPECT_FALSE(fs::exists(dir.path() / ".tmp-root"));
  EXPECT_TRUE(fs::exists(dir.path() / "req" / ".tmp-fresh"));
  EXPECT_EQ(store.get("req/a.jpg")->bytes, "kept");
  EXPECT_EQ(store.remove_stale_temporaries(std::chrono::hours(1)), 0);
}

// A kill -9 between writing and renaming leaves a young temporary; start-up removes it at
// once when its writer is gone, and keeps those of a live writer or another host.
TEST(FileBlobStore, RemovesTemporariesOfGoneWritersWhateverTheirAge) {
  TempDir dir;
  FileBlobStore store(dir.path());
  const auto host = parse_temporary_name(make_temporary_name())->host;
  const pid_t exited = ::fork();
  if (exited == 0) ::_exit(0);
  ::waitpid(exited, nullptr, 0);
  auto name = [&](const std::string& writer_host, pid_t pid) {
    return std::string(kTemporaryPrefix) + writer_host + "-" + std::to_string(pid) + "-00ff";
  };
  fs::create_directories(dir.path() / "req");
  write_file(dir.path() / "req" / name(host, exited), "killed half-way");
  write_file(dir.path() / "req" / name(host, ::getppid()), "a put in progress");
  write_file(dir.path() / "req" / name(host + "2", exited), "another machine's put");

  EXPECT_EQ(store.remove_stale_temporaries(std::chrono::hours(1)), 1);

  EXPECT_FALSE(fs::exists(dir.path() / "req" / name(host, exited)));
  EXPECT_TRUE(fs::exists(dir.path() / "req" / name(host, ::getppid())));
  EXPECT_TRUE(fs::exists(dir.path() / "req" / name(host + "2", exited)));
}

// Root ignores permission bits, so a regular file where the request directory should be
// is what makes the write fail here.
TEST(FileBlobStore, UnwritableDirectoryIsAnErrorValue) {
  TempDir dir;
  FileBlobStore store(dir.path());
  write_file(dir.path() / "req", "I am a file, not a directory");
  auto st = store.put("req/a.jpg", "bytes");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "could not store image: Not a directory");
  // Something in the storage's way, not in the image: the pipeline waits for it.
  EXPECT_EQ(st.error().kind, BlobError::Kind::unavailable);
  auto got = store.get("req/a.jpg");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.message(), "image req/a.jpg not found");
}

// A write that fails half-way (the file-size limit stands in for a full disk) reports the
// cause, removes its temporary and leaves the previous object untouched.
TEST(FileBlobStore, FailedWriteKeepsThePreviousObjectAndNoTemporary) {
  TempDir dir;
  FileBlobStore store(dir.path());
  ASSERT_TRUE(store.put("req/a.jpg", "previous").ok());

  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 64 * 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto st = store.put("req/a.jpg", std::string(1024 * 1024, 'x'));
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "could not store image: File too large");
  // Too large is this image's own problem: asking again will not help.
  EXPECT_EQ(st.error().kind, BlobError::Kind::refused);
  EXPECT_EQ(store.get("req/a.jpg")->bytes, "previous");
  EXPECT_EQ(names_in(dir.path() / "req"), std::vector<std::string>{"a.jpg"});
}

TEST(OpenBlobStore, FileUriCreatesTheDirectory) {
  TempDir dir;
  auto store = open_blob_store("file:" + (dir.path() / "a" / "b").string());
  EXPECT_TRUE(fs::is_directory(dir.path() / "a" / "b"));
  ASSERT_TRUE(store->put("r/x", "1").ok());
  EXPECT_TRUE(fs::exists(dir.path() / "a" / "b" / "r" / "x"));

  auto triple = open_blob_store("file://" + (dir.path() / "c").string());
  ASSERT_TRUE(triple->put("r/x", "1").ok());
  EXPECT_TRUE(fs::exists(dir.path() / "c" / "r" / "x"));
}

TEST(OpenBlobStore, UnknownSchemeNamesTheAcceptedForm) {
  for (const char* uri : {"data/images", "FILE:x", "file:", "file://host/x", "gs://bucket/x"}) {
    try {
      open_blob_store(uri);
      ADD_FAILURE() << uri << " was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("file:DIR"), std::string::npos) << e.what();
    }
  }
}

TEST(OpenBlobStore, DirectoryThatCannotBeCreatedThrows) {
  TempDir dir;
  write_file(dir.path() / "plain", "x");
  const std::string target = (dir.path() / "plain" / "images").string();
  try {
    open_blob_store("file:" + target);
    ADD_FAILURE() << "accepted a directory under a regular file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(target), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace imgbatch::blob
