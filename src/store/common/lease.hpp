// A connection lent by its owner (a pool of connections) for the length of one call and
// given back when the lease ends: `Owner::give_back(std::unique_ptr<Connection>)` takes
// it, or takes nothing when the lease discarded it (the owner then forgets the slot).
#pragma once

#include <memory>
#include <utility>

namespace imgbatch::store::common {

template <class Owner, class Connection>
class Lease {
 public:
  Lease(Owner& owner, std::unique_ptr<Connection> connection)
      : owner_(owner), connection_(std::move(connection)) {}
  ~Lease() { owner_.give_back(std::move(connection_)); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  Connection& operator*() { return *connection_; }
  Connection* operator->() { return connection_.get(); }
  // Closes the connection now instead of giving it back.
  void discard() { connection_.reset(); }

 private:
  Owner& owner_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace imgbatch::store::common
