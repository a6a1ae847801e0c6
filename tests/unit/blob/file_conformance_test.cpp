// The BlobStore conformance suite on the file backend, in a fresh folder per test.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "blob/temporary_name.hpp"
#include "blob_conformance.hpp"
#include "support/temp_dir.hpp"

namespace imgbatch::blob::testing {
namespace {
namespace fs = std::filesystem;

class FileHarness final : public BlobHarness {
 public:
  std::unique_ptr<BlobStore> open() override {
    return open_blob_store("file:" + dir_.path().string());
  }

  // A put writes a temporary and renames it into place; kill -9 in between leaves the
  // temporary, named after its writer, here a process that has exited.
  void leave_interrupted_put(const std::string& key, std::string_view bytes) override {
    const pid_t writer = ::fork();
    if (writer == 0) ::_exit(0);
    ::waitpid(writer, nullptr, 0);
    const auto host = parse_temporary_name(make_temporary_name())->host;
    const auto folder = dir_.path() / key.substr(0, key.find('/'));
    fs::create_directories(folder);
    std::ofstream(
        folder / (std::string(kTemporaryPrefix) + host + "-" + std::to_string(writer) + "-00ff"),
        std::ios::binary)
        << bytes.substr(0, bytes.size() / 2);
  }

  int leftovers() override {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_.path()))
      if (e.path().filename().string().rfind(kTemporaryPrefix, 0) == 0) ++n;
    return n;
  }

 private:
  test_support::TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(File, BlobConformance,
                         ::testing::Values(BlobBackend{
                             "file", [] { return std::make_unique<FileHarness>(); }}),
                         blob_backend_name);

}  // namespace
}  // namespace imgbatch::blob::testing
