// PostgresCluster: a PostgreSQL server of the test's own, in a temporary folder, on a free
// loopback port, gone when the test process ends. No system service is used or needed,
// only the server binaries of the Debian package `postgresql` (scripts/install-deps.sh
// installs it); without them the constructor throws, saying so, and the tests fail.
//
// It runs initdb (the newest version under /usr/lib/postgresql/*/bin, or the folder named
// by IMGBATCH_PG_BINDIR) and then the postmaster itself as a child process, not through
// pg_ctl: the child is set to receive SIGQUIT (PostgreSQL's immediate shutdown) when the
// thread that started it dies, so even a test binary that crashes or is killed leaves no
// server running. As root (CI) both run as the `postgres` user, since initdb refuses root.
// The destructor stops the server and removes the folder; folders of dead test processes
// are swept when a new cluster starts. Settings favour speed over durability (fsync off).
//
// initdb takes about a second, so a test binary shares one cluster (shared()) and gives
// each test a database or a schema of its own. Call start() and shared() from the main
// thread (see above). A forked child must leave with _exit(), never exit(): exit() would
// run the cluster's destructor in the child and stop the parent's server.
#pragma once

#include <sys/types.h>
#include <filesystem>
#include <string>
#include <vector>

namespace imgbatch::test_support {

class PostgresCluster {
 public:
  // initdb and start; throws std::runtime_error with what to do when it cannot.
  PostgresCluster();
  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // The cluster of this process, started on first use, stopped at exit.
  static PostgresCluster& shared();

  int port() const { return port_; }
  // postgresql://postgres@127.0.0.1:PORT/DBNAME (trust authentication, no password).
  std::string uri(const std::string& dbname) const;

  // A new, empty database; returns its name.
  std::string create_database();
  // The database that holds the schemas of create_schema(): the cluster's `postgres`.
  static constexpr const char* kSchemasDatabase = "postgres";
  // A new, empty schema in kSchemasDatabase (much cheaper than a database: about a
  // millisecond against a few hundred); returns its name.
  std::string create_schema();
  // A URI whose connections put `schema` first in their search_path.
  std::string schema_uri(const std::string& schema) const;
  void drop_schema(const std::string& schema);

  // Runs SQL as the superuser in `dbname`; throws std::runtime_error when it fails.
  void execute(const std::string& dbname, const std::string& sql) const;
  // The first column of each row of a query, as text ("NULL" for nulls).
  std::vector<std::string> column(const std::string& dbname, const std::string& sql) const;

  // Fast shutdown (clients see their connections end, as in a server restart), and
  // start again on the same port and data.
  void stop();
  void start();
  bool running() const { return postmaster_ > 0; }

 private:
  // Runs `args` as the cluster's owner, output to the log; with `die_with_parent`, the
  // child gets SIGQUIT when the calling thread dies.
  pid_t spawn(const std::vector<std::string>& args, bool die_with_parent);
  void spawn_postmaster();
  void wait_until_ready();
  void stop_postmaster(int signal);
  std::string log_tail() const;

  std::filesystem::path bin_dir_;
  std::filesystem::path dir_;
  std::filesystem::path log_;
  uid_t uid_ = 0;  // the cluster's owner when we are root, else ours
  gid_t gid_ = 0;
  bool switch_user_ = false;
  int port_ = 0;
  pid_t postmaster_ = 0;
  int next_name_ = 0;
};

}  // namespace imgbatch::test_support
