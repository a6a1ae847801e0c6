#include "temporary_name.hpp"

#include <unistd.h>
#include <csignal>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <random>
#include <thread>

namespace imgbatch::blob {
namespace {

// Taken during static initialisation, before any put: a temporary with our PID written
// earlier than this belongs to a previous process that had the same PID.
const std::filesystem::file_time_type kProcessStart = std::filesystem::file_time_type::clock::now();

std::string this_host() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "unknown";
  std::string host(buffer);
  // '-' separates the fields of the name, and '/' must never appear in a file name.
  for (char& c : host) {
    const bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.';
    if (!keep) c = '_';
  }
  return host;
}

const std::string& host_name() {
  static const std::string host = this_host();
  return host;
}

std::string random_hex() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   std::hash<std::thread::id>{}(std::this_thread::get_id())};
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(rng()));
  return buffer;
}

bool process_is_dead(pid_t pid) {
  // EPERM means it exists but belongs to someone else: alive.
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

std::string make_temporary_name() {
  return std::string(kTemporaryPrefix) + host_name() + "-" + std::to_string(::getpid()) + "-" +
         random_hex();
}

std::optional<TemporaryWriter> parse_temporary_name(std::string_view name) {
  if (!name.starts_with(kTemporaryPrefix)) return std::nullopt;
  name.remove_prefix(kTemporaryPrefix.size());
  const auto random_at = name.rfind('-');
  if (random_at == std::string_view::npos || random_at == 0) return std::nullopt;
  const auto pid_at = name.rfind('-', random_at - 1);
  if (pid_at == std::string_view::npos || pid_at == 0) return std::nullopt;
  const std::string_view pid_text = name.substr(pid_at + 1, random_at - pid_at - 1);
  TemporaryWriter writer;
  const auto [end, error] =
      std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), writer.pid);
  if (error != std::errc() || end != pid_text.data() + pid_text.size() || writer.pid <= 0)
    return std::nullopt;
  writer.host = std::string(name.substr(0, pid_at));
  return writer;
}

bool writer_is_gone(std::string_view name, std::filesystem::file_time_type modified) {
  const auto writer = parse_temporary_name(name);
  if (!writer || writer->host != host_name()) return false;
  if (writer->pid == ::getpid()) return modified < kProcessStart;
  return process_is_dead(writer->pid);
}

}  // namespace imgbatch::blob
