// Reads CSV records with libcsv and says on which line each one begins. libcsv is a
// streaming parser that reports fields and record ends but no positions, so the input is
// fed to it one physical line at a time (a line ends at LF, CRLF or a lone CR): the line
// being fed when a record's first byte goes in is the line the record begins on, and a
// newline inside a quoted field still advances the count for the records after it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace imgbatch::csv::impl {

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // A complete record beginning on `line`; the sink may move the fields out.
  virtual void on_record(int line, std::vector<std::string>& fields) = 0;
  // A quote in the wrong place (strict RFC 4180) in the record beginning on `line`, in
  // its field number `field_index` (0-based). The rest of that physical line is skipped.
  virtual void on_misplaced_quote(int line, std::size_t field_index) = 0;
  // The input ended inside a quoted field of the record beginning on `line`.
  virtual void on_unterminated_quote(int line, std::size_t field_index) = 0;
  // Physical line `line` holds bytes that are not UTF-8, the first at `byte` (0-based).
  virtual void on_invalid_utf8(int line, std::size_t byte) = 0;
  // Asked between records: true stops the reading.
  virtual bool done() const = 0;
};

// Feeds all of `bytes` (without a BOM) to `sink`. Blank lines between records (only
// spaces, tabs and line ends) are skipped. Returns false when the sink stopped it early.
bool read_records(std::string_view bytes, RecordSink& sink);

}  // namespace imgbatch::csv::impl
