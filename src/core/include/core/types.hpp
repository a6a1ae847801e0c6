// The domain of imgbatch: a request (one uploaded CSV) has products (one per CSV row),
// and each product has image tasks (one per input URL). Records carry what the Store
// keeps; "Input" types carry what a caller hands to the Store. Times are Unix epoch
// milliseconds everywhere inside the program and are formatted only at the edges.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/output_choices.hpp"

namespace imgbatch::core {

using TimeMs = std::int64_t;

TimeMs now_ms();
// "2026-11-29T10:00:00Z" (UTC, seconds precision), as the original system sent.
std::string format_iso8601(TimeMs t);

// cancelled: stopped by DELETE /requests/ID before it ended (Store::cancel_request).
enum class RequestStatus { pending, processing, completed, failed, cancelled };
std::string_view to_string(RequestStatus s);
// completed, failed or cancelled: nothing of the request runs or will run any more.
bool has_ended(RequestStatus s);
std::optional<RequestStatus> parse_request_status(std::string_view s);

// pending: waiting (maybe for a retry time); running: claimed under a lease;
// done / failed: ended for good.
enum class TaskState { pending, running, done, failed };
std::string_view to_string(TaskState s);
std::optional<TaskState> parse_task_state(std::string_view s);

// Output encodings; `keep` re-encodes in the input's own format where it can; `best` (with
// quality=auto only) is the smallest of JPEG, WebP and AVIF that meets the target.
enum class ImageFormat { jpeg, webp, avif, png, keep, best };
std::string_view to_string(ImageFormat f);
std::optional<ImageFormat> parse_image_format(std::string_view s);

// Why an image's output was not made for it (issue 15, docs/architecture.md "Shared
// sources and outputs"): `none`, it was; `not_modified`, its server answered 304 to a
// conditional request; `same_bytes`, it sent the bytes already known (same SHA-256);
// `duplicate`, the same source was made (or checked) for this request or after it was
// uploaded. As stored and shown: "", "304", "same-bytes", "duplicate".
enum class Reuse { none, not_modified, same_bytes, duplicate };
std::string_view to_string(Reuse r);
std::optional<Reuse> parse_reuse(std::string_view s);

// What the store knows of a source (its `sources` row): what its server said, the hash
// of its bytes, and the output made of them, stored under blob_key.
struct KnownSource {
  std::string sha256;  // lower-case hex
  std::optional<std::string> etag;
  std::optional<std::string> last_modified;
  std::string blob_key;  // the full-size output; its sizes follow core::sized_output_name
  std::int64_t bytes_in = 0;
  std::int64_t bytes_out = 0;
  ImageReport report;
  TimeMs checked_at = 0;  // when its server last confirmed these bytes
};

// One CSV row, validated.
struct ProductInput {
  std::string serial_number;
  std::string product_name;
  std::vector<std::string> image_urls;
  std::vector<std::string> fields;  // every field of the row, in header order
};

// The limits of the uploading key (docs/API.md, "Quotas and rate limits"), charged by
// Store::create_request in the transaction that stores the request. None: no limit.
struct UploadQuota {
  std::optional<std::int64_t> images_per_day;
  std::optional<std::int64_t> uploads_per_minute;
};

// What is left of a key's limits after an upload was charged (or, when refused, before).
struct QuotaState {
  std::optional<std::int64_t> images_per_day;  // the limits, copied from UploadQuota
  std::optional<std::int64_t> uploads_per_minute;
  std::int64_t images_left = 0;   // of today's (UTC day's) images
  TimeMs day_ends_in = 0;         // until the UTC day's window ends
  std::int64_t uploads_left = 0;  // whole tokens left in the per-minute bucket
  TimeMs next_upload_in = 0;      // until one token is back (0 while one is left)
  TimeMs bucket_full_in = 0;      // until the bucket is full again
  bool images_exceeded = false;   // why an upload was refused
  bool uploads_exceeded = false;
};

struct NewRequest {
  std::string id;                    // uuid v4, chosen by the caller
  std::vector<std::string> columns;  // the CSV header as uploaded
  std::vector<ProductInput> products;
  std::optional<std::string> webhook_url;
  int quality = 50;  // unused with choices.quality_target (quality=auto)
  ImageFormat format = ImageFormat::jpeg;
  OutputChoices choices;
  // One per image URL, products in order and each product's URLs in order
  // (intake::source_key; "" for one that is not shared); empty: none is (fresh=true,
  // --reuse off).
  std::vector<std::string> source_keys;
  std::optional<std::string> idempotency_key;
  std::string fingerprint;  // hash of the upload; tells a retried upload from a different one
  TimeMs created_at = 0;
  // The API key that uploads it (ApiKeyRecord::id): the request's tenant. None when keys
  // are not in force; such a request is seen by admin keys only once they are.
  std::optional<std::string> owner_key;
  // Set (with owner_key) for a key that has a limit; a replay is not charged.
  std::optional<UploadQuota> quota;
};

struct CreateOutcome {
  // over_quota: the upload would pass a limit of `quota`; nothing was stored or charged.
  enum class Kind { created, replayed, key_conflict, over_quota };
  Kind kind = Kind::created;
  std::string request_id;  // the new id, or the earlier one for `replayed`
  // With NewRequest::quota, for `created` and `over_quota`.
  std::optional<QuotaState> quota;
};

struct Progress {
  int total = 0;
  int succeeded = 0;
  int failed = 0;
  int reused = 0;  // of the succeeded, those whose output was reused (Reuse)
  int remaining() const { return total - succeeded - failed; }
};

struct RequestRecord {
  std::string id;
  RequestStatus status = RequestStatus::pending;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  Progress progress;
  int products_total = 0;
  std::vector<std::string> columns;
  std::optional<std::string> webhook_url;
  int quality = 50;
  ImageFormat format = ImageFormat::jpeg;
  OutputChoices choices;
  std::optional<std::string> failure_reason;  // set when status is `failed`
  std::optional<std::string> owner_key;       // NewRequest::owner_key
};

struct ImageRecord {
  int index = 0;
  std::string source_url;
  TaskState state = TaskState::pending;
  int attempts = 0;
  std::optional<std::string> output_name;  // blob key inside the request, e.g. "0-1.jpg"
  std::optional<std::string> error;        // last error; final when state is failed
  std::int64_t bytes_in = 0;
  std::int64_t bytes_out = 0;
  ImageReport report;  // when done
  // When done: the key of the stored image in the blob store (its own, REQUEST/NAME, or
  // one it shares) and whether it was reused.
  std::optional<std::string> blob_key;
  Reuse reused = Reuse::none;
};

struct ProductRecord {
  int index = 0;
  std::string serial_number;
  std::string product_name;
  std::vector<std::string> fields;
  std::vector<ImageRecord> images;
};

// A task handed to a worker under a lease.
struct ClaimedTask {
  std::int64_t task_id = 0;
  std::string request_id;
  int product_index = 0;
  int image_index = 0;
  std::string source_url;
  int attempt = 1;  // 1 for the first try
  int quality = 50;
  ImageFormat format = ImageFormat::jpeg;
  OutputChoices choices;
  // Reuse (issue 15): the task's source key (none: never shared), what is known of that
  // source, and when its request was uploaded (a source checked since is fresh for it).
  std::optional<std::string> source_key;
  std::optional<KnownSource> known;
  TimeMs request_created_at = 0;
};

// What a worker reports for one claimed task.
struct TaskOutcome {
  std::int64_t task_id = 0;
  std::string request_id;
  enum class Kind { succeeded, failed, retry } kind = Kind::succeeded;
  std::optional<std::string> output_name;  // for succeeded
  std::optional<std::string> error;        // for failed and retry
  TimeMs retry_at = 0;                     // for retry: not claimed before this time
  std::int64_t bytes_in = 0;
  std::int64_t bytes_out = 0;
  ImageReport report;  // for succeeded
  // For succeeded: the names of the sizes stored beside output_name
  // (core::sized_output_name), so that a late outcome of a cancelled request can queue
  // every stored image for removal.
  std::vector<std::string> sizes;
  // For succeeded: the key of the stored full-size image (none: REQUEST/output_name), and
  // whether it was reused (then finish_tasks checks, in its transaction, that the task's
  // source still names blob_key; if not, the task is made again).
  std::optional<std::string> blob_key;
  Reuse reused = Reuse::none;
  // For succeeded with a source key: what the source's row becomes (the bytes' SHA-256,
  // the server's validators). An empty sha256 leaves the row as it is.
  std::optional<std::string> source_key;
  std::string sha256;
  std::optional<std::string> etag;
  std::optional<std::string> last_modified;
  // The lease owner reporting. A retry puts the task back to pending only while this owner
  // still holds it: a worker whose lease expired must not undo the one that took over.
  std::string owner;
};

// A notification to send (or being sent) for a request that ended.
struct Delivery {
  std::int64_t id = 0;
  std::string webhook_id;  // stable across attempts, so receivers can deduplicate
  std::string request_id;
  std::string url;
  int attempts = 0;  // attempts made before this claim
  TimeMs next_attempt_at = 0;
  TimeMs created_at = 0;
  std::optional<TimeMs> delivered_at;
  std::optional<int> last_status;
  std::optional<std::string> last_error;
};

struct DeliveryAttempt {
  std::int64_t delivery_id = 0;
  bool delivered = false;
  std::optional<int> http_status;
  std::optional<std::string> error;
  std::optional<TimeMs> next_attempt_at;  // nullopt and not delivered: give up
};

// An API key (docs/API.md, "Authentication"). The token itself is never stored: only its
// hash, by which a request's bearer token is looked up.
struct NewApiKey {
  std::string id;  // "key_" + uuid: what requests.owner_key names, never shown to clients
  std::string name;
  std::string token_hash;  // lower-case hex SHA-256 of the token
  bool admin = false;
  // Quotas, enforced by POST /upload (core::UploadQuota). None: no limit.
  std::optional<std::int64_t> images_per_day;
  std::optional<std::int64_t> uploads_per_minute;
  TimeMs created_at = 0;
};

struct ApiKeyRecord : NewApiKey {
  std::optional<TimeMs> revoked_at;  // set once revoked; a revoked key opens nothing
};

}  // namespace imgbatch::core
