// Source keys (docs/architecture.md, "Shared sources and outputs"): the name under which
// the store knows one source made into one kind of output, so that the same picture in
// several rows, in concurrent uploads or in tomorrow's upload is downloaded and made once.
#pragma once

#include <string>
#include <string_view>

#include "core/types.hpp"

namespace imgbatch::intake {

// The URL as one source is named however it was written: scheme and host in lower case,
// no default port, no fragment (libcurl's URL API). A URL libcurl cannot parse is returned
// as given (it was checked at upload; it then only matches itself).
std::string normalised_url(std::string_view url);

// Hex SHA-256 over the scope (an API key's id, or "" for the one shared scope), the
// normalised URL and everything of the request that decides the output (quality, format,
// quality target, max_bytes, never_larger, sizes, min_quality), each framed by its length.
std::string source_key(std::string_view scope, std::string_view url,
                       const core::NewRequest& request);

// Fills request.source_keys, one per image, in `scope`: the request's images may reuse and
// be reused by those of the same scope.
void share_sources(core::NewRequest& request, std::string_view scope);

}  // namespace imgbatch::intake
