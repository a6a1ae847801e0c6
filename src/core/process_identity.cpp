#include "core/process_identity.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace imgbatch::core {
namespace {

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "unknown";
  std::string host(buffer);
  // ':' separates the fields of the text form; '/' separates what callers append to it.
  for (char& c : host)
    if (c == ':' || c == '/') c = '_';
  return host;
}

// The first 16 hex digits of this boot's random id: 64 bits tell boots apart well enough.
std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!(in >> id)) return "";
  std::string digits;
  for (const char c : id)
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) digits += c;
  return digits.size() >= 16 ? digits.substr(0, 16) : "";
}

// The inode in the link /proc/self/ns/pid -> "pid:[4026531836]".
std::uint64_t pid_namespace() {
  char target[64] = {};
  const auto length = ::readlink("/proc/self/ns/pid", target, sizeof target - 1);
  if (length <= 0) return 0;
  const std::string_view text(target, static_cast<std::size_t>(length));
  const auto open = text.find('[');
  const auto close = text.find(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return 0;
  std::uint64_t inode = 0;
  const auto [end, error] = std::from_chars(text.data() + open + 1, text.data() + close, inode);
  return error == std::errc() && end == text.data() + close ? inode : 0;
}

// Field 22 of /proc/PID/stat; nullopt when it cannot be read. The second field (the
// command name, in parentheses) may itself contain spaces and parentheses, so the fields
// are counted from the last ')'.
std::optional<std::uint64_t> start_ticks_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  const std::string line((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto name_end = line.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(name_end + 1));
  std::string field;
  // After ')' come field 3 (state) onwards: field 22 is the 20th of them.
  for (int i = 3; i <= 22; ++i)
    if (!(fields >> field)) return std::nullopt;
  std::uint64_t ticks = 0;
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), ticks);
  if (error != std::errc() || end != field.data() + field.size()) return std::nullopt;
  return ticks;
}

template <class Number>
bool parse_number(std::string_view text, Number& out) {
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

const ProcessIdentity& this_process() {
  static const ProcessIdentity self = [] {
    ProcessIdentity p;
    p.host = host_name();
    p.boot = boot_id();
    p.pid_namespace = pid_namespace();
    p.pid = ::getpid();
    p.start_ticks = start_ticks_of(p.pid).value_or(0);
    return p;
  }();
  return self;
}

std::optional<ProcessIdentity> process_identity_of(pid_t pid) {
  const auto started = start_ticks_of(pid);
  if (!started) return std::nullopt;
  ProcessIdentity p = this_process();
  p.pid = pid;
  p.start_ticks = *started;
  return p;
}

std::string to_string(const ProcessIdentity& process) {
  return process.host + ":" + process.boot + ":" + std::to_string(process.pid_namespace) + ":" +
         std::to_string(process.pid) + ":" + std::to_string(process.start_ticks);
}

std::optional<ProcessIdentity> parse_process_identity(std::string_view text) {
  std::vector<std::string_view> fields;
  for (std::size_t from = 0;;) {
    const auto colon = text.find(':', from);
    fields.push_back(text.substr(from, colon == std::string_view::npos ? colon : colon - from));
    if (colon == std::string_view::npos) break;
    from = colon + 1;
  }
  ProcessIdentity p;
  if (fields.size() != 5 || fields[0].empty()) return std::nullopt;
  p.host = std::string(fields[0]);
  p.boot = std::string(fields[1]);
  if (!parse_number(fields[2], p.pid_namespace) || !parse_number(fields[3], p.pid) ||
      !parse_number(fields[4], p.start_ticks) || p.pid <= 0)
    return std::nullopt;
  return p;
}

bool certainly_gone(const ProcessIdentity& process) {
  const ProcessIdentity& self = this_process();
  if (process.boot != self.boot || self.boot.empty() ||
      process.pid_namespace != self.pid_namespace || self.pid_namespace == 0)
    return false;
  if (process.pid == self.pid) return process.start_ticks != self.start_ticks;
  // kill(pid, 0) sees every process of the namespace, even where /proc hides other
  // users' (hidepid): ESRCH is certain. EPERM means it exists under another user.
  if (::kill(process.pid, 0) != 0 && errno == ESRCH) return true;
  const auto started = start_ticks_of(process.pid);
  // Readable and different: the PID now belongs to a newer process.
  return started.has_value() && process.start_ticks != 0 && *started != process.start_ticks;
}

}  // namespace imgbatch::core
