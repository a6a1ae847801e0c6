// Process identities against real processes: this one, a child that runs, and a child
// that has exited and been reaped.
#include "core/process_identity.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace imgbatch::core {
namespace {

// A child that waits to be killed; reaped by the destructor.
class Child {
 public:
  Child() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::pause();
      ::_exit(0);
    }
  }
  ~Child() { end(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  void end() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

TEST(ProcessIdentity, ThisProcessIsNamedAndReadBack) {
  const ProcessIdentity& self = this_process();
  EXPECT_EQ(self.pid, ::getpid());
  EXPECT_FALSE(self.host.empty());
  EXPECT_GT(self.start_ticks, 0u) << "/proc/self/stat was not read";
  EXPECT_GT(self.pid_namespace, 0u) << "/proc/self/ns/pid was not read";
  EXPECT_EQ(self.boot.size(), 16u) << "/proc/sys/kernel/random/boot_id was not read";
  const auto parsed = parse_process_identity(to_string(self));
  ASSERT_TRUE(parsed.has_value()) << to_string(self);
  EXPECT_EQ(*parsed, self);
  EXPECT_EQ(process_identity_of(::getpid()), self);
}

TEST(ProcessIdentity, MalformedTextIsRefused) {
  for (const char* text :
       {"", "host", "host:b:1:2", "host:b:1:2:3:4", ":b:1:2:3", "host:b:x:2:3", "host:b:1:-2:3",
        "host:b:1:0:3", "host:b:1:2:", "host:b:1:2:3x", "host:1:2:3", "w", "owner-a"})
    EXPECT_FALSE(parse_process_identity(text).has_value()) << text;
}

TEST(ProcessIdentity, ARunningProcessIsNotGoneAndAReapedOneIs) {
  Child child;
  ASSERT_GT(child.pid(), 0);
  const auto identity = process_identity_of(child.pid());
  ASSERT_TRUE(identity.has_value());
  EXPECT_EQ(identity->host, this_process().host);
  EXPECT_NE(identity->start_ticks, 0u);
  EXPECT_FALSE(certainly_gone(*identity));
  child.end();
  EXPECT_TRUE(certainly_gone(*identity));
  EXPECT_FALSE(process_identity_of(identity->pid).has_value());
}

TEST(ProcessIdentity, ALivePidWithAnotherStartTimeIsAReusedPidSoGone) {
  Child child;
  auto identity = process_identity_of(child.pid());
  ASSERT_TRUE(identity.has_value());
  identity->start_ticks += 1;  // an earlier process that had this PID
  EXPECT_TRUE(certainly_gone(*identity));
  auto self = this_process();
  self.start_ticks -= 1;  // a previous process with our PID
  EXPECT_TRUE(certainly_gone(self));
  EXPECT_FALSE(certainly_gone(this_process()));
}

TEST(ProcessIdentity, NothingIsSaidOfAnotherMachineBootOrNamespace) {
  Child child;
  auto identity = process_identity_of(child.pid());
  ASSERT_TRUE(identity.has_value());
  child.end();
  ASSERT_TRUE(certainly_gone(*identity));
  // Another machine (or boot) with the same host name and the same first namespace.
  auto elsewhere = *identity;
  elsewhere.boot = "0123456789abcdef";
  EXPECT_FALSE(certainly_gone(elsewhere));
  // The host name is only for people: the boot decides.
  auto renamed = *identity;
  renamed.host += "-renamed";
  EXPECT_TRUE(certainly_gone(renamed));
  auto other_namespace = *identity;
  other_namespace.pid_namespace += 1;
  EXPECT_FALSE(certainly_gone(other_namespace));
}

}  // namespace
}  // namespace imgbatch::core
