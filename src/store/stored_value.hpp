// Reading back enum-like values (request status, task state, image format) that a backend
// stored as text. A value this build does not know means a newer imgbatch wrote the
// database: that is the database's problem, not the caller's, so it is a StoreError.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/store.hpp"

namespace imgbatch::store {

// `parsed` is the result of core's parse_*(text); `backend` and `what` name it in the error.
template <class E>
E parse_stored(std::optional<E> parsed, const std::string& text, std::string_view backend,
               std::string_view what) {
  if (!parsed)
    throw StoreError(std::string(backend) + ": unknown " + std::string(what) + " '" + text +
                     "' in the database (written by a newer imgbatch?)");
  return *parsed;
}

}  // namespace imgbatch::store
