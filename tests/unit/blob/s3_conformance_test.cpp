// The BlobStore conformance suite on the S3 backend, against a real gateway: Ceph's RADOS
// Gateway of the test binary's own (tests/support/ceph_cluster.hpp), a bucket per test.
// Credentials come from the environment, as they do for imgbatch.
#include <curl/curl.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "blob_conformance.hpp"
#include "support/ceph_cluster.hpp"

namespace imgbatch::blob::testing {
namespace {

using test_support::CephCluster;

constexpr const char* kPrefix = "conformance";

CephCluster& ceph() {
  static CephCluster& cluster = [&]() -> CephCluster& {
    ::setenv("AWS_ACCESS_KEY_ID", CephCluster::kAccessKey, 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", CephCluster::kSecretKey, 1);
    return CephCluster::shared();
  }();
  return cluster;
}

BlobStoreOptions s3_options() {
  BlobStoreOptions options;
  options.s3_endpoint = ceph().endpoint();
  options.s3_region = CephCluster::kRegion;
  return options;
}

// The body of a PUT that stops half-way, as when its process is killed mid-upload.
struct CutBody {
  std::string_view bytes;
  std::size_t sent = 0;
};

std::size_t read_until_cut(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& body = *static_cast<CutBody*>(user);
  const std::size_t cut = body.bytes.size() / 2;
  if (body.sent >= cut) return CURL_READFUNC_ABORT;
  const std::size_t n = std::min(size * count, cut - body.sent);
  std::memcpy(buffer, body.bytes.data() + body.sent, n);
  body.sent += n;
  return n;
}

class S3Harness final : public BlobHarness {
 public:
  S3Harness() : bucket_(ceph().create_bucket()) {}

  std::unique_ptr<BlobStore> open() override {
    return open_blob_store("s3://" + bucket_ + "/" + kPrefix, s3_options());
  }

  // A signed PUT that announces the whole length and then stops sending: S3 stores
  // nothing of a PUT that did not arrive whole.
  void leave_interrupted_put(const std::string& key, std::string_view bytes) override {
    CURL* curl = curl_easy_init();
    if (!curl) throw std::runtime_error("curl_easy_init failed");
    const std::string url = ceph().endpoint() + "/" + bucket_ + "/" + kPrefix + "/" + key;
    const std::string sigv4 = std::string("aws:amz:") + CephCluster::kRegion + ":s3";
    const std::string user = std::string(CephCluster::kAccessKey) + ":" + CephCluster::kSecretKey;
    curl_slist* headers = curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    headers = curl_slist_append(headers, "Content-Type: image/jpeg");
    CutBody body{bytes};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(bytes.size()));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_until_cut);
    curl_easy_setopt(curl, CURLOPT_READDATA, &body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERPWD, user.c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    const CURLcode code = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (code != CURLE_ABORTED_BY_CALLBACK)
      throw std::runtime_error(std::string("the cut PUT was not cut: ") + curl_easy_strerror(code));
  }

  // What S3 can hold that is not a whole object: multipart uploads begun and never
  // completed or aborted. (The backend makes none; a lifecycle rule would have to.)
  int leftovers() override {
    const auto listed = ceph().request("GET", "/" + bucket_ + "?uploads=");
    if (listed.status != 200)
      throw std::runtime_error("listing multipart uploads: HTTP " + std::to_string(listed.status) +
                               " " + listed.body + listed.error);
    int uploads = 0;
    for (auto at = listed.body.find("<Upload>"); at != std::string::npos;
         at = listed.body.find("<Upload>", at + 1))
      ++uploads;
    return uploads;
  }

 private:
  std::string bucket_;
};

INSTANTIATE_TEST_SUITE_P(S3, BlobConformance,
                         ::testing::Values(BlobBackend{
                             "s3", [] { return std::make_unique<S3Harness>(); }}),
                         blob_backend_name);

}  // namespace
}  // namespace imgbatch::blob::testing
