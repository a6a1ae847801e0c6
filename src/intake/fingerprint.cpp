#include "intake/new_request.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>

namespace imgbatch::intake {

namespace {

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
  }

  // A tag, an 8-byte big-endian length, then the bytes.
  void field(char tag, std::string_view bytes) {
    std::array<unsigned char, 9> head{};
    head[0] = static_cast<unsigned char>(tag);
    auto size = static_cast<std::uint64_t>(bytes.size());
    for (int i = 8; i >= 1; --i, size >>= 8) head[i] = static_cast<unsigned char>(size & 0xff);
    update(std::string_view(reinterpret_cast<const char*>(head.data()), head.size()));
    update(bytes);
  }

  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length) != 1)
      throw std::runtime_error("OpenSSL: SHA-256 failed");
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(std::size_t{length} * 2);
    for (unsigned int i = 0; i < length; ++i) {
      out.push_back(kDigits[digest[i] >> 4]);
      out.push_back(kDigits[digest[i] & 0xf]);
    }
    return out;
  }

 private:
  void update(std::string_view bytes) {
    if (EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()) != 1)
      throw std::runtime_error("OpenSSL: SHA-256 failed");
  }

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

}  // namespace

std::string upload_fingerprint(std::string_view csv_bytes, const UploadSettings& settings) {
  Sha256 sha;
  sha.field('v', "imgbatch-upload-1");
  sha.field('f', csv_bytes);
  if (settings.webhook_url)
    sha.field('w', *settings.webhook_url);
  else
    sha.field('n', "");
  const auto& choices = settings.choices;
  sha.field('q', choices.quality_target ? "auto" : std::to_string(settings.quality));
  sha.field('o', core::to_string(settings.format));
  // Only when they differ from the defaults: an upload that chooses none of them keeps
  // the fingerprint it had before they existed, so a retry across an upgrade replays.
  if (choices != core::OutputChoices{}) {
    sha.field('t', choices.quality_target ? std::to_string(*choices.quality_target) : "");
    sha.field('m', std::to_string(choices.max_bytes));
    sha.field('l', choices.never_larger ? "1" : "0");
    sha.field('s', core::format_output_sizes(choices.sizes));
    if (choices.min_quality != core::kDefaultMinQuality)
      sha.field('p', std::to_string(choices.min_quality));
  }
  return sha.hex();
}

}  // namespace imgbatch::intake
