// The rows both backends read back, in one shape: the column lists they select and the
// mapping of such a row to a core record. `Row` is the backend's view of one result row,
// with text(i), integer(i), int64(i), optional_text(i) and optional_int64(i) by column
// index (sqlite::Query, postgres::Result::Row).
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.hpp"
#include "stored_value.hpp"
#include "string_list_json.hpp"

namespace imgbatch::store::common {

// "SELECT " + columns + tail, the one way statements over these column lists are built.
inline std::string select_sql(std::string_view head, std::string_view columns,
                              std::string_view tail) {
  std::string text(head);
  text.append(columns).append(tail);
  return text;
}

// The columns of a request's output choices (core::OutputChoices), as requests keep them,
// in the order read_output_choices reads them.
inline constexpr std::string_view kOutputChoiceColumns =
    "quality_target, max_bytes, never_larger, sizes, min_quality";

// The choices whose columns (kOutputChoiceColumns) start at `first`. The sizes were
// checked before they were stored; a text that no longer parses is damage.
template <class Row>
core::OutputChoices read_output_choices(const Row& row, int first, std::string_view backend) {
  core::OutputChoices choices;
  choices.quality_target = row.optional_double(first);
  choices.max_bytes = row.int64(first + 1);
  choices.never_larger = row.integer(first + 2) != 0;
  const std::string sizes = row.text(first + 3);
  auto parsed = core::parse_output_sizes(sizes);
  choices.sizes = parse_stored(parsed.ok() ? std::optional(std::move(*parsed)) : std::nullopt,
                               sizes, backend, "list of sizes");
  choices.min_quality = row.integer(first + 4);
  return choices;
}

inline constexpr std::string_view kRequestColumns =
    "id, status, created_at, updated_at, columns, webhook_url, quality, format, "
    "failure_reason, products_total, total, succeeded, failed, reused, owner_key, "
    "quality_target, max_bytes, never_larger, sizes, min_quality";
static_assert(kRequestColumns.ends_with(kOutputChoiceColumns), "read_request reads them last");

template <class Row>
core::RequestRecord read_request(const Row& row, std::string_view backend) {
  core::RequestRecord r;
  r.id = row.text(0);
  const std::string status = row.text(1);
  r.status = parse_stored(core::parse_request_status(status), status, backend, "request status");
  r.created_at = row.int64(2);
  r.updated_at = row.int64(3);
  r.columns = decode_string_list(row.text(4));
  r.webhook_url = row.optional_text(5);
  r.quality = row.integer(6);
  const std::string format = row.text(7);
  r.format = parse_stored(core::parse_image_format(format), format, backend, "image format");
  r.failure_reason = row.optional_text(8);
  r.products_total = row.integer(9);
  r.progress.total = row.integer(10);
  r.progress.succeeded = row.integer(11);
  r.progress.failed = row.integer(12);
  r.progress.reused = row.integer(13);
  r.owner_key = row.optional_text(14);
  r.choices = read_output_choices(row, 15, backend);
  return r;
}

inline constexpr std::string_view kApiKeyColumns =
    "id, name, token_hash, admin, images_per_day, uploads_per_minute, created_at, revoked_at";

template <class Row>
core::ApiKeyRecord read_api_key(const Row& row) {
  core::ApiKeyRecord k;
  k.id = row.text(0);
  k.name = row.text(1);
  k.token_hash = row.text(2);
  k.admin = row.integer(3) != 0;
  k.images_per_day = row.optional_int64(4);
  k.uploads_per_minute = row.optional_int64(5);
  k.created_at = row.int64(6);
  k.revoked_at = row.optional_int64(7);
  return k;
}

inline constexpr std::string_view kDeliveryColumns =
    "id, webhook_id, request_id, url, attempts, next_attempt_at, created_at, delivered_at, "
    "last_status, last_error";

template <class Row>
core::Delivery read_delivery(const Row& row) {
  core::Delivery d;
  d.id = row.int64(0);
  d.webhook_id = row.text(1);
  d.request_id = row.text(2);
  d.url = row.text(3);
  d.attempts = row.integer(4);
  d.next_attempt_at = row.optional_int64(5).value_or(0);
  d.created_at = row.int64(6);
  d.delivered_at = row.optional_int64(7);
  if (auto status = row.optional_int64(8)) d.last_status = static_cast<int>(*status);
  d.last_error = row.optional_text(9);
  return d;
}

// Claimed deliveries go out soonest-due first (RETURNING promises no order).
inline void sort_by_due(std::vector<core::Delivery>& deliveries) {
  std::sort(deliveries.begin(), deliveries.end(), [](const auto& a, const auto& b) {
    return std::pair(a.next_attempt_at, a.id) < std::pair(b.next_attempt_at, b.id);
  });
}

// The columns of a product's row, then those of one of its images, as get_products
// selects them (products p, tasks t).
inline constexpr std::string_view kProductColumns =
    "p.idx, p.serial_number, p.product_name, p.fields";
inline constexpr int kProductColumnCount = 4;
inline constexpr std::string_view kImageColumns =
    "t.image_idx, t.source_url, t.state, t.attempts, t.output_name, t.error, t.bytes_in, "
    "t.bytes_out, t.quality_used, t.score, t.kept, t.blob_key, t.reused";

template <class Row>
core::ProductRecord read_product(const Row& row) {
  core::ProductRecord p;
  p.index = row.integer(0);
  p.serial_number = row.text(1);
  p.product_name = row.text(2);
  p.fields = decode_string_list(row.text(3));
  return p;
}

// The image whose columns (kImageColumns) start at `first`.
template <class Row>
core::ImageRecord read_image(const Row& row, int first, std::string_view backend) {
  core::ImageRecord image;
  image.index = row.integer(first);
  image.source_url = row.text(first + 1);
  const std::string state = row.text(first + 2);
  image.state = parse_stored(core::parse_task_state(state), state, backend, "task state");
  image.attempts = row.integer(first + 3);
  image.output_name = row.optional_text(first + 4);
  image.error = row.optional_text(first + 5);
  image.bytes_in = row.int64(first + 6);
  image.bytes_out = row.int64(first + 7);
  if (const auto quality = row.optional_int64(first + 8))
    image.report.quality = static_cast<int>(*quality);
  image.report.score = row.optional_double(first + 9);
  image.report.kept = row.integer(first + 10) != 0;
  image.blob_key = row.optional_text(first + 11);
  if (const auto reused = row.optional_text(first + 12))
    image.reused = parse_stored(core::parse_reuse(*reused), *reused, backend, "reuse");
  return image;
}

// The columns of a `sources` row (core::KnownSource), in the order read_known_source
// reads them.
inline constexpr std::string_view kSourceColumns =
    "sha256, etag, last_modified, blob_key, bytes_in, bytes_out, quality_used, score, kept, "
    "checked_at";

template <class Row>
core::KnownSource read_known_source(const Row& row, int first) {
  core::KnownSource known;
  known.sha256 = row.text(first);
  known.etag = row.optional_text(first + 1);
  known.last_modified = row.optional_text(first + 2);
  known.blob_key = row.text(first + 3);
  known.bytes_in = row.int64(first + 4);
  known.bytes_out = row.int64(first + 5);
  if (const auto quality = row.optional_int64(first + 6))
    known.report.quality = static_cast<int>(*quality);
  known.report.score = row.optional_double(first + 7);
  known.report.kept = row.integer(first + 8) != 0;
  known.checked_at = row.int64(first + 9);
  return known;
}

// The stored value of a reuse: NULL for none.
inline std::optional<std::string> stored_reuse(core::Reuse reused) {
  if (reused == core::Reuse::none) return std::nullopt;
  return std::string(core::to_string(reused));
}

}  // namespace imgbatch::store::common
