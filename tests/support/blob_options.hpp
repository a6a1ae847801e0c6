// BlobStoreOptions for tests: only whether puts are fsynced varies (off, for speed, where
// power loss is not what is tested); the rest keeps its defaults.
#pragma once

#include "blob/blob_store.hpp"

namespace imgbatch::test_support {

inline blob::BlobStoreOptions blob_options(bool fsync) {
  blob::BlobStoreOptions options;
  options.fsync = fsync;
  return options;
}

}  // namespace imgbatch::test_support
